"""The history of attempts and what it links to: the graded notebook and the feedback
page, with the learner's answers and never a hidden test or another learner's work."""

import json

import nbformat
import pytest
from django.test import Client

from courses.grading.views.submissions import submission_state
from courses.learn import selectors
from courses.models import Submission, SubmissionStatus
from tests.support.factories import EnrollmentFactory

pytestmark = pytest.mark.django_db


def test_the_history_lists_attempts_with_scores_and_downloads(setup, graded) -> None:
    enrollment, exercise, base, client = setup
    submission = graded(enrollment, exercise, score="2")
    body = client.get(base + "submissions").json()
    assert body["submissions"][0]["score"] == "2.00"
    assert "SECRET DETAIL" not in json.dumps(body)
    fragment = client.get(base + "submissions?format=html").content.decode()
    assert f"/courses/submissions/{submission.pk}/notebook.ipynb" in fragment


def test_the_graded_notebook_has_my_answers_and_no_hidden_test(setup, graded) -> None:
    enrollment, exercise, _, client = setup
    submission = graded(enrollment, exercise, score="2", answer="return 42")
    response = client.get(f"/courses/submissions/{submission.pk}/notebook.ipynb")
    assert response["Content-Disposition"].startswith("attachment;")
    notebook = nbformat.reads(response.content.decode(), as_version=4)
    nbformat.validate(notebook)
    sources = "\n".join(cell.source for cell in notebook.cells)
    assert "return 42" in sources
    assert "add(-5, 5)" not in sources and "return a + b" not in sources


def test_the_graded_notebook_holds_the_score_and_every_test_result(setup, graded) -> None:
    enrollment, exercise, _, client = setup
    submission = graded(enrollment, exercise, score="2", answer="return 42")
    response = client.get(f"/courses/submissions/{submission.pk}/notebook.ipynb")
    notebook = nbformat.reads(response.content.decode(), as_version=4)
    summary = notebook.cells[0].source
    assert "**Score: 2 / 3**" in summary
    assert "| test_add | Passed · 2 / 2 · Passed |" in summary
    assert "test_add_hidden (hidden test) | Failed · 0 / 1 · A hidden test failed" in summary
    (test_cell,) = [c for c in notebook.cells if "assert add(1, 2) == 3" in c.source]
    assert test_cell.outputs[0].text.startswith("Passed · 2 / 2")
    assert notebook.metadata.platform.score == 2.0
    assert "SECRET DETAIL" not in response.content.decode()


def test_the_feedback_page_is_standalone_sanitised_and_shows_points(setup, graded) -> None:
    enrollment, exercise, _, client = setup
    submission = graded(enrollment, exercise, score="2", answer="return '<script>x()</script>'")
    response = client.get(f"/courses/submissions/{submission.pk}/feedback?download=1")
    page = response.content.decode()
    assert "default-src 'none'" in response["Content-Security-Policy"]
    assert "<script" not in page
    assert "A hidden test failed" in page and "SECRET DETAIL" not in page
    assert "add(-5, 5)" not in page
    assert "2 / 3" in page


def test_the_feedback_page_links_back_to_the_exercise_but_its_download_does_not(
    setup, graded
) -> None:
    enrollment, exercise, base, client = setup
    submission = graded(enrollment, exercise, score="2")
    page = client.get(f"/courses/submissions/{submission.pk}/feedback").content.decode()
    assert f'<a href="{base}">Back to Add</a>' in page
    download = client.get(f"/courses/submissions/{submission.pk}/feedback?download=1")
    assert "Back to Add" not in download.content.decode()


def test_a_classmate_cannot_download_my_graded_notebook(setup, graded) -> None:
    enrollment, exercise, _, _ = setup
    submission = graded(enrollment, exercise, score="2")
    classmate = Client()
    classmate.force_login(EnrollmentFactory(cohort=enrollment.cohort).user)
    assert classmate.get(f"/courses/submissions/{submission.pk}/notebook.ipynb").status_code == 404


def test_attempts_used_are_counted_from_the_history_or_asked_for_when_it_is_cut(
    setup, monkeypatch, django_assert_num_queries
) -> None:
    # given: three submissions, one of them our failure (it costs the learner nothing)
    enrollment, exercise, _, _ = setup
    for status in (SubmissionStatus.GRADED, SubmissionStatus.ERROR, SubmissionStatus.FAILED):
        Submission.objects.create(
            exercise=exercise, learner=enrollment.user, cohort=enrollment.cohort, status=status
        )
    learner = enrollment.user
    # when the history holds them all: counted from it, no query
    history = selectors.submission_history(exercise=exercise, learner=learner)
    with django_assert_num_queries(0):
        assert selectors.attempts_used_in(history, exercise=exercise, learner=learner) == 2
    # when the history is cut: the database counts
    monkeypatch.setattr(selectors, "HISTORY_SHOWN", 2)
    history = selectors.submission_history(exercise=exercise, learner=learner)
    assert len(history) == 2
    with django_assert_num_queries(1):
        assert selectors.attempts_used_in(history, exercise=exercise, learner=learner) == 2


def test_the_history_reads_no_notebook(setup, graded, django_assert_num_queries) -> None:
    enrollment, exercise, _, _ = setup
    graded(enrollment, exercise, score="2")
    (submission,) = selectors.submission_history(exercise=exercise, learner=enrollment.user)
    assert "notebook" in submission.get_deferred_fields()
    with django_assert_num_queries(0):  # what the page shows of it is all there
        assert submission_state(submission)["score"] == "2.00"
