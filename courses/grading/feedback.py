"""What a learner gets back: the graded notebook they can download (the student version
with their answers: never a hidden test or a solution), and their feedback as one
standalone HTML page (that notebook rendered and sanitised, with the per-test results in
their language). No script, no CDN: the page opens offline, years later."""

from typing import Any

import nbformat
from django.conf import settings
from django.template.loader import render_to_string
from django.utils.translation import gettext

from courses.assignment import student_notebook, submitted_answers
from courses.exercises.selectors import parsed_exercise
from courses.grading.scoring import MESSAGES
from courses.html import render_notebook
from courses.models import Submission


def graded_notebook(*, submission: Submission) -> nbformat.NotebookNode:
    """The student version with the learner's submitted answers: what they handed in,
    never a hidden test or a solution."""
    notebook = student_notebook(exercise=parsed_exercise(submission.exercise))
    answers = submitted_answers(submission.notebook or {})
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and meta.get("grade_id") in answers:
            cell.source = answers[meta["grade_id"]]
    notebook.metadata["platform"] = {
        "exercise": submission.exercise.title,
        "attempt": submission.attempt,
        "submitted_at": submission.created_at.isoformat(),
    }
    return notebook


def learner_tests(submission: Submission) -> list[dict[str, Any]]:
    """Per-test results a learner may see, in their language: never the instructor-only
    detail."""
    tests = (submission.result or {}).get("tests", [])
    return [
        {**{k: v for k, v in t.items() if k != "detail"}, "message": translated_message(t)}
        for t in tests
    ]


def translated_message(test: dict[str, Any]) -> str:
    """The grader's message in the active language (it keeps a key and arguments)."""
    key = test.get("message_key")
    if key in MESSAGES:
        try:
            return gettext(MESSAGES[key]) % dict(test.get("message_args") or {})
        except (KeyError, TypeError, ValueError):
            pass
    return str(test.get("message", ""))


def feedback_html(*, submission: Submission) -> str:
    notebook = graded_notebook(submission=submission)
    pygments_css = (settings.BASE_DIR / "static" / "css" / "pygments.css").read_text()
    return render_to_string(
        "courses/grading/feedback.html",
        {
            "submission": submission,
            "exercise": submission.exercise,
            "tests": learner_tests(submission),
            "notes": (submission.result or {}).get("notes", []),
            "notebook_html": render_notebook(notebook),
            "pygments_css": pygments_css,
        },
    )
