"""Exercises as notebooks: nbgrader (schema v3) and otter assign v1, without Django.

Public API::

    parse_exercise(*, data) -> Exercise           # raises ExerciseInvalid(problems)
    student_notebook(*, exercise) -> NotebookNode
    submitted_answers(submission) -> {grade id: source}
    answer_notebook(answers) -> dict                # answer cells only, by grade id
    merge_submission(*, exercise, submission) -> Exercise
"""

from .model import (
    Check,
    Exercise,
    ExerciseCell,
    ExerciseInvalid,
    Problem,
    Role,
)
from .reader import parse_exercise
from .student import answer_notebook, merge_submission, student_notebook, submitted_answers

__all__ = [
    "Check",
    "Exercise",
    "ExerciseCell",
    "ExerciseInvalid",
    "Problem",
    "Role",
    "answer_notebook",
    "merge_submission",
    "parse_exercise",
    "student_notebook",
    "submitted_answers",
]
