"""Written (Markdown) answers, graded by hand: a labelled editor, kept in the draft,
previewed sanitised, and submitted to wait for a person."""

import json

import nbformat
import pytest

from courses.grading import services as grading_services
from courses.models import Draft
from tests.support.exercises import add_exercise, as_json

pytestmark = pytest.mark.django_db


@pytest.fixture
def written(setup):
    """The exercise with a written (Markdown) answer, graded by hand."""
    enrollment, exercise, base, client = setup
    notebook = add_exercise()
    notebook["cells"].append(
        nbformat.v4.new_markdown_cell(
            "YOUR ANSWER HERE",
            metadata={
                "nbgrader": {
                    "grade_id": "explain",
                    "solution": True,
                    "grade": True,
                    "locked": False,
                    "points": 2,
                    "schema_version": 3,
                }
            },
        )
    )
    exercise.source = as_json(notebook)
    exercise.save(update_fields=["source"])
    return enrollment, exercise, base, client


def test_a_written_answer_has_a_labelled_editor_and_a_preview_button(written) -> None:
    _, _, base, client = written
    page = client.get(base).content.decode()
    assert 'class="source written-source"' in page
    assert ">Preview</button>" in page
    assert "your written answer" in page
    assert "<script>" not in page and " onclick=" not in page


def test_a_written_answer_is_kept_in_the_draft_and_previewed_sanitised(written) -> None:
    enrollment, _, base, client = written
    answer = "The sum is $a + b$.\n\n<script>alert(1)</script>"
    client.post(
        base + "draft",
        json.dumps({"cells": {"id:explain": answer}}),
        content_type="application/json",
    )
    assert Draft.objects.get(learner=enrollment.user).notebook == {"cells": {"id:explain": answer}}
    assert "The sum is" in client.get(base).content.decode()
    preview = client.post(base + "written-preview", {"body": answer}).content.decode()
    assert 'class="math inline"' in preview
    assert "<script>" not in preview


def test_a_submitted_written_answer_waits_for_a_person(written, monkeypatch) -> None:
    enrollment, exercise, _base, _client = written
    monkeypatch.setattr("courses.queues.enqueue_on_commit", lambda *a, **k: None)
    notebook = as_json(add_exercise())
    notebook["cells"].append(
        {
            "cell_type": "markdown",
            "metadata": {"nbgrader": {"grade_id": "explain"}},
            "source": "Because addition commutes.",
        }
    )
    submission = grading_services.submission_create(
        learner=enrollment.user, exercise=exercise, notebook=notebook
    )
    kept = [c for c in submission.notebook["cells"] if c["cell_type"] == "markdown"]
    assert [c["source"] for c in kept] == ["Because addition commutes."]
