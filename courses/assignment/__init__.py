"""Exercises as notebooks: nbgrader (schema v3) and otter assign v1, without Django.

Public API::

    parse_exercise(*, data) -> Exercise           # raises ExerciseInvalid(problems)
    student_notebook(*, exercise) -> NotebookNode
    submitted_answers(submission) -> {grade id: source}
    merge_submission(*, exercise, submission, as_placed) -> Exercise  # answers, added cells
    submitted_notebook(*, exercise, submission) -> NotebookNode  # what the learner handed in
    learner_cells(*, exercise, submission) -> [LearnerCell]  # what grading keeps
    stored_notebook(cells, missing) -> dict         # a submission's stored notebook
    missing_tests(*, exercise, submission) -> [grade id]  # tests an upload lacks (nbgrader)
    noted_missing_tests(stored) -> frozenset[grade id]     # those a stored notebook noted
    with_test_files(notebook, files) -> (notebook, problems)  # otter's tests folder, folded in
"""

from .added import (
    MISSING_TESTS,
    LearnerCell,
    learner_cells,
    missing_tests,
    noted_missing_tests,
    stored_notebook,
)
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
    "MISSING_TESTS",
    "Check",
    "Exercise",
    "ExerciseCell",
    "ExerciseInvalid",
    "LearnerCell",
    "Problem",
    "Role",
    "learner_cells",
    "merge_submission",
    "missing_tests",
    "noted_missing_tests",
    "parse_exercise",
    "stored_notebook",
    "student_notebook",
    "submitted_answers",
    "submitted_notebook",
    "with_test_files",
]
