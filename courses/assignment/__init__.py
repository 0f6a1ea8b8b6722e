"""Exercises as notebooks: nbgrader (schema v3) and otter assign v1, without Django.

Public API::

    parse_exercise(*, data) -> Exercise           # raises ExerciseInvalid(problems)
    student_notebook(*, exercise) -> NotebookNode
    submitted_answers(submission) -> {grade id: source}
    merge_submission(*, exercise, submission, as_placed) -> Exercise  # answers, added cells
    submitted_notebook(*, exercise, submission) -> NotebookNode  # what the learner handed in
    learner_cells(*, exercise, submission) -> [LearnerCell]  # what grading keeps
    stored_notebook(cells) -> dict                  # a submission's stored notebook
    with_test_files(notebook, files) -> (notebook, problems)  # otter's tests folder, folded in
"""

from .added import LearnerCell, learner_cells, stored_notebook
from .model import (
    ANSWER_ROLES,
    Check,
    Exercise,
    ExerciseCell,
    ExerciseInvalid,
    Problem,
    Role,
)
from .otter_output import with_test_files
from .reader import parse_exercise
from .student import merge_submission, student_notebook, submitted_answers, submitted_notebook

__all__ = [
    "ANSWER_ROLES",
    "Check",
    "Exercise",
    "ExerciseCell",
    "ExerciseInvalid",
    "LearnerCell",
    "Problem",
    "Role",
    "learner_cells",
    "merge_submission",
    "parse_exercise",
    "stored_notebook",
    "student_notebook",
    "submitted_answers",
    "submitted_notebook",
    "with_test_files",
]
