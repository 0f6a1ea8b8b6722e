"""What a learner gets back: the graded notebook they can download (the student version
with their answers: never a hidden test or a solution), and their feedback as one
standalone HTML page (that notebook rendered and sanitised, with the per-test results in
their language). No script, no CDN: the page opens offline, years later."""

from typing import Any

import nbformat
from django.conf import settings
from django.template.loader import render_to_string
from django.utils.translation import gettext

from courses.assignment import submitted_notebook
from courses.exercises.selectors import parsed_exercise
from courses.grading.scoring import MESSAGES
from courses.html import render_notebook
from courses.models import Submission, SubmissionOutputs


def graded_notebook(*, submission: Submission, summary: bool = True) -> nbformat.NotebookNode:
    """The student version with the learner's submitted answers: what they handed in,
    never a hidden test or a solution. Each answer cell holds what it printed and drew when
    it was graded; each visible test cell's output says how it went; with `summary`, a
    first cell holds the score and every test's result (hidden ones included, by name
    only), as the learner's page shows them."""
    notebook = submitted_notebook(
        exercise=parsed_exercise(submission.exercise), submission=submission.notebook or {}
    )
    outputs = _answer_outputs(submission)
    tests = learner_tests(submission)
    by_id = {test["grade_id"]: test for test in tests}
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        grade_id = meta.get("grade_id")
        if meta.get("solution") and cell.cell_type == "code" and grade_id in outputs:
            cell.outputs = _outputs_of(outputs[grade_id])
        elif cell.cell_type == "code" and grade_id in by_id and not meta.get("solution"):
            cell.outputs = [
                nbformat.v4.new_output(
                    "stream", name="stdout", text=_result_line(by_id[meta["grade_id"]]) + "\n"
                )
            ]
    if summary:
        notebook.cells.insert(0, nbformat.v4.new_markdown_cell(_summary(submission, tests)))
    notebook.metadata["platform"] = {
        "exercise": submission.exercise.title,
        "attempt": submission.attempt,
        "submitted_at": submission.created_at.isoformat(),
        "status": submission.status,
        "score": None if submission.score is None else float(submission.score),
        "max_score": float(submission.max_score or 0),
        "tests": [
            {k: test.get(k) for k in ("grade_id", "status", "points", "max_points", "message")}
            for test in tests
        ],
    }
    return notebook


def _answer_outputs(submission: Submission) -> dict[str, Any]:
    stored = SubmissionOutputs.objects.filter(submission=submission).first()
    return stored.cells if stored is not None and isinstance(stored.cells, dict) else {}


def _outputs_of(stored: Any) -> list[nbformat.NotebookNode]:
    """One answer cell's outputs as grading kept them; a note when they were withheld."""
    if stored is None:
        note = gettext(
            "The outputs of this cell are not kept: it ran after a hidden test, and they "
            "could show what the hidden test gave your code."
        )
        return [nbformat.v4.new_output("stream", name="stderr", text=note + "\n")]
    outputs = []
    for output in stored if isinstance(stored, list) else []:
        try:
            node = nbformat.from_dict(output)
            nbformat.validate(node, ref="output", version=4, version_minor=5)
        except (nbformat.ValidationError, TypeError, AttributeError, KeyError):
            continue  # grading keeps only well-formed outputs: this is a safety net
        outputs.append(node)
    return outputs


def _status_word(status: str) -> str:
    return {
        "passed": gettext("Passed"),
        "partial": gettext("Partial credit"),
        "pending": gettext("Waiting for a person"),
    }.get(status, gettext("Failed"))


def _result_line(test: dict[str, Any]) -> str:
    points = f"{_number(test.get('points'))} / {_number(test.get('max_points'))}"
    line = f"{_status_word(str(test.get('status')))} · {points}"
    return f"{line} · {test['message']}" if test.get("message") else line


def _number(value: Any) -> str:
    return f"{float(value or 0):.2f}".rstrip("0").rstrip(".")


def _summary(submission: Submission, tests: list[dict[str, Any]]) -> str:
    """The first cell of the downloaded notebook, in Markdown."""
    if submission.score is None:
        score = submission.get_status_display()
    else:
        score = f"{_number(submission.score)} / {_number(submission.max_score)}"
    lines = [
        f"# {submission.exercise.title}",
        "",
        gettext("Attempt %(attempt)s, submitted %(when)s (UTC).")
        % {"attempt": submission.attempt, "when": f"{submission.created_at:%Y-%m-%d %H:%M}"},
        "",
        f"**{gettext('Score')}: {score}**",
    ]
    if tests:
        lines += ["", f"| {gettext('Test')} | {gettext('Result')} |", "| --- | --- |"]
        for test in tests:
            name = str(test["grade_id"])
            if test.get("hidden"):
                name += f" ({gettext('hidden test')})"
            result = _result_line(test).replace("|", "\\|").replace("\n", " ")
            lines.append(f"| {name} | {result} |")
    lines += [f"\n{note}" for note in (submission.result or {}).get("notes", [])]
    return "\n".join(lines)


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


def feedback_html(*, submission: Submission, back_url: str = "") -> str:
    """`back_url`: the page to go back to (none in a downloaded copy: it must open offline)."""
    notebook = graded_notebook(submission=submission, summary=False)
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
            "back_url": back_url,
        },
    )
