"""The exercise page, drafts, status per item and downloads (no kernel involved)."""

import json
import re
from datetime import UTC, datetime
from decimal import Decimal

import nbformat
import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from courses.cohorts.quotas import QuotaKind, quota_consume
from courses.exercises.services import exercise_create, exercise_replace_notebook
from courses.grading import services as grading_services
from courses.learn import services, sessions
from courses.learn.views import page_strings
from courses.models import CohortExercise, CohortQuota, Draft, Submission, SubmissionStatus
from tests.support.exercises import add_exercise, as_json
from tests.support.factories import EnrollmentFactory, ModuleFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup():
    enrollment = EnrollmentFactory()
    course = enrollment.cohort.course
    exercise = exercise_create(
        module=ModuleFactory(course=course),
        title="Add",
        slug="add",
        notebook=as_json(add_exercise()),
    )
    base = f"/courses/{course.organization.slug}/{course.slug}/exercises/add/"
    client = Client()
    client.force_login(enrollment.user)
    return enrollment, exercise, base, client


def _graded(enrollment, exercise, *, score: str, answer: str = "return a + b") -> Submission:
    return Submission.objects.create(
        learner=enrollment.user,
        exercise=exercise,
        cohort=enrollment.cohort,
        status=SubmissionStatus.GRADED,
        score=Decimal(score),
        max_score=Decimal(3),
        notebook={
            "cells": [
                {
                    "cell_type": "code",
                    "metadata": {"nbgrader": {"grade_id": "add"}},
                    "source": f"def add(a, b):\n    {answer}\n",
                }
            ]
        },
        result={
            "score": float(score),
            "max_score": 3.0,
            "pending_points": 0.0,
            "notes": [],
            "tests": [
                {"grade_id": "test_add", "points": 2.0, "max_points": 2.0, "passed": True,
                 "status": "passed", "message": "Passed", "detail": "SECRET DETAIL",
                 "hidden": False},
                {"grade_id": "test_add_hidden", "points": 0.0, "max_points": 1.0,
                 "passed": False, "status": "failed", "message": "A hidden test failed",
                 "detail": "assert add(-5, 5) == 0", "hidden": True},
            ],
        },
    )  # fmt: skip


def test_the_exercise_page_shows_the_student_version_with_named_controls(setup) -> None:
    _, _, base, client = setup
    page = client.get(base).content.decode()
    assert "raise NotImplementedError" in page  # the stub, not the solution
    assert "return a + b" not in page
    assert "add(-5, 5)" not in page  # hidden tests never reach the browser
    assert "assert add(1, 2) == 3" in page  # visible tests do, read-only
    for name in ("Run cell", "Run all", "Submit", "Restart kernel", "Interrupt"):
        assert f">{name}</button>" in page
    assert 'aria-label="Code cell 2"' in page
    assert (
        'id="cell-3-source" aria-label="Code cell 3" aria-describedby="keyboard-help" readonly'
        in page
    )


def test_the_exercise_page_is_translated_into_french(setup) -> None:
    _, _, base, client = setup
    page = client.get(base, headers={"accept-language": "fr"}).content.decode()
    assert "Tout exécuter" in page
    assert "Redémarrer le noyau" in page


@pytest.mark.parametrize(
    ("limit", "language", "expected"),
    [
        (1, "en", "at most %(limit)s live kernel per learner"),
        (2, "en", "at most %(limit)s live kernels per learner"),
        (1, "fr", "au plus %(limit)s noyau actif par apprenant"),
        (2, "fr", "au plus %(limit)s noyaux actifs par apprenant"),
    ],
)
def test_the_closed_kernel_message_agrees_with_the_per_learner_limit(
    setup, settings, limit, language, expected
) -> None:
    settings.INTERACTIVE_SESSIONS_PER_LEARNER = limit
    with translation.override(language):
        assert expected in page_strings()["kernel_evicted"]


def test_a_draft_is_saved_and_comes_back_on_the_next_visit(setup) -> None:
    enrollment, _exercise, base, client = setup
    # when the page saves the learner's answer, and a read-only test cell it must not keep
    answer = "def add(a, b):\n    return b + a  # mine\n"
    response = client.post(
        base + "draft",
        json.dumps({"cells": {"id:add": answer, "id:test_add": "assert True"}}),
        content_type="application/json",
    )
    assert response.status_code == 200
    # then the answer is there on reload, from another device too, and the test is intact
    other_device = Client()
    other_device.force_login(enrollment.user)
    page = other_device.get(base).content.decode()
    assert "return b + a  # mine" in page
    assert "assert add(1, 2) == 3" in page
    assert Draft.objects.get(learner=enrollment.user).notebook == {"cells": {"id:add": answer}}


def test_a_draft_of_someone_else_is_never_shown(setup) -> None:
    enrollment, exercise, base, _client = setup
    services.draft_save(learner=enrollment.user, exercise=exercise, sources={"id:add": "# theirs"})
    classmate = EnrollmentFactory(cohort=enrollment.cohort).user
    other = Client()
    other.force_login(classmate)
    assert "# theirs" not in other.get(base).content.decode()


def test_a_stranger_gets_a_404_for_the_page_and_its_kernel(setup) -> None:
    _, _, base, _ = setup
    stranger = Client()
    stranger.force_login(UserFactory())
    assert stranger.get(base).status_code == 404
    assert (
        stranger.post(base + "kernel/run", "{}", content_type="application/json").status_code == 404
    )


def test_a_run_request_without_cells_is_refused(setup) -> None:
    _, _, base, client = setup
    response = client.post(base + "kernel/run", json.dumps({"cells": []}), "application/json")
    assert response.status_code == 400


def test_a_learner_over_the_daily_cpu_quota_cannot_run_cells_either(setup) -> None:
    # given a cohort allowing 5 CPU-seconds a day, all used
    enrollment, exercise, base, client = setup
    CohortQuota.objects.create(cohort=enrollment.cohort, cpu_seconds_per_day=5)
    quota_consume(user=enrollment.user, cohort=enrollment.cohort, kind=QuotaKind.CPU_SECONDS,
                  amount=5, enforce=False)  # fmt: skip
    # when they run a cell
    body = json.dumps({"cells": [{"key": "a", "code": "while True: pass"}]})
    response = client.post(base + "kernel/run", body, "application/json")
    # then it is refused with the message submitting gives, and no run is sent
    assert response.status_code == 429
    assert "5 of your 5 sandbox CPU-seconds" in response.json()["error"]
    with pytest.raises(grading_services.SubmissionRefused) as refused:
        grading_services.submission_create(learner=enrollment.user, exercise=exercise,
                                           notebook=nbformat.v4.new_notebook())  # fmt: skip
    assert response.json()["error"] == str(refused.value)


def test_run_requests_read_todays_use_every_time_and_the_cohort_once(setup, monkeypatch) -> None:
    # given a cohort allowing 5 CPU-seconds a day, and a learner who ran a cell (none sent)
    enrollment, _exercise, base, client = setup
    CohortQuota.objects.create(cohort=enrollment.cohort, cpu_seconds_per_day=5)
    monkeypatch.setattr(sessions, "send", lambda *args, **kwargs: None)
    body = json.dumps({"cells": [{"key": "a", "code": "1"}]})
    assert client.post(base + "kernel/run", body, "application/json").status_code == 202
    # when they run another cell, neither their cohort nor its limit is read again
    with CaptureQueriesContext(connection) as queries:
        assert client.post(base + "kernel/run", body, "application/json").status_code == 202
    read = " ".join(query["sql"] for query in queries.captured_queries)
    assert "courses_enrollment" not in read and "courses_cohortquota" not in read
    # and once the day's CPU-seconds are used up, the next run is refused at once
    quota_consume(user=enrollment.user, cohort=enrollment.cohort, kind=QuotaKind.CPU_SECONDS,
                  amount=5, enforce=False)  # fmt: skip
    assert client.post(base + "kernel/run", body, "application/json").status_code == 429


def test_the_outline_shows_each_exercises_status_and_my_courses_the_progress(setup) -> None:
    enrollment, exercise, _, client = setup
    course = enrollment.cohort.course
    outline_url = f"/courses/{course.organization.slug}/{course.slug}/"
    assert "Not started" in client.get(outline_url).content.decode()
    services.draft_save(learner=enrollment.user, exercise=exercise, sources={"id:add": "x"})
    assert "Draft" in client.get(outline_url).content.decode()
    _graded(enrollment, exercise, score="2")
    _graded(enrollment, exercise, score="3")
    assert "Score 3 / 3" in client.get(outline_url).content.decode()
    assert "1 of 1 exercise graded" in client.get("/courses/").content.decode()


def test_the_outline_runs_a_fixed_number_of_queries(setup, django_assert_max_num_queries) -> None:
    enrollment, exercise, _, client = setup
    for n in range(5):
        exercise_create(
            module=exercise.module, title=f"E{n}", slug=f"e{n}", notebook=as_json(add_exercise())
        )
    course = enrollment.cohort.course
    with django_assert_max_num_queries(12):
        client.get(f"/courses/{course.organization.slug}/{course.slug}/")


def test_the_history_lists_attempts_with_scores_and_downloads(setup) -> None:
    enrollment, exercise, base, client = setup
    submission = _graded(enrollment, exercise, score="2")
    body = client.get(base + "submissions").json()
    assert body["submissions"][0]["score"] == "2.00"
    assert "SECRET DETAIL" not in json.dumps(body)
    fragment = client.get(base + "submissions?format=html").content.decode()
    assert f"/courses/submissions/{submission.pk}/notebook.ipynb" in fragment


def test_the_graded_notebook_has_my_answers_and_no_hidden_test(setup) -> None:
    enrollment, exercise, _, client = setup
    submission = _graded(enrollment, exercise, score="2", answer="return 42")
    response = client.get(f"/courses/submissions/{submission.pk}/notebook.ipynb")
    assert response["Content-Disposition"].startswith("attachment;")
    notebook = nbformat.reads(response.content.decode(), as_version=4)
    nbformat.validate(notebook)
    sources = "\n".join(cell.source for cell in notebook.cells)
    assert "return 42" in sources
    assert "add(-5, 5)" not in sources and "return a + b" not in sources


def test_the_graded_notebook_holds_the_score_and_every_test_result(setup) -> None:
    enrollment, exercise, _, client = setup
    submission = _graded(enrollment, exercise, score="2", answer="return 42")
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


def test_the_feedback_page_is_standalone_sanitised_and_shows_points(setup) -> None:
    enrollment, exercise, _, client = setup
    submission = _graded(enrollment, exercise, score="2", answer="return '<script>x()</script>'")
    response = client.get(f"/courses/submissions/{submission.pk}/feedback?download=1")
    page = response.content.decode()
    assert "default-src 'none'" in response["Content-Security-Policy"]
    assert "<script" not in page
    assert "A hidden test failed" in page and "SECRET DETAIL" not in page
    assert "add(-5, 5)" not in page
    assert "2 / 3" in page


def test_a_classmate_cannot_download_my_graded_notebook(setup) -> None:
    enrollment, exercise, _, _ = setup
    submission = _graded(enrollment, exercise, score="2")
    classmate = Client()
    classmate.force_login(EnrollmentFactory(cohort=enrollment.cohort).user)
    assert classmate.get(f"/courses/submissions/{submission.pk}/notebook.ipynb").status_code == 404


def test_a_late_exercise_shows_its_late_state(setup) -> None:
    _enrollment, exercise, base, client = setup
    exercise.due_at = timezone.now() - timezone.timedelta(days=2, hours=1)
    exercise.late_policy = "penalty"
    exercise.late_penalty_percent_per_day = Decimal(10)
    exercise.save()
    page = client.get(base).content.decode()
    assert "Late by 3 days" in page and "penalty 30%" in page


def test_attempts_left_follow_the_cohorts_attempt_limit_that_submitting_enforces(setup) -> None:
    # given: the exercise allows 5 attempts, the learner's cohort only 2, and one is used
    enrollment, exercise, base, client = setup
    exercise.max_attempts = 5
    exercise.save(update_fields=["max_attempts"])
    CohortExercise.objects.create(cohort=enrollment.cohort, exercise=exercise, max_attempts=2)
    _graded(enrollment, exercise, score="3")
    # when
    page = client.get(base).content.decode()
    # then: the page counts against the cohort's limit, as submitting does
    left = re.search(r"Attempts left</dt><dd>([^<]*)</dd>", page)
    assert left is not None and left[1] == "1"


def test_a_closed_exercise_shows_submit_disabled_and_says_why(setup) -> None:
    _, exercise, base, client = setup
    exercise.hard_deadline = timezone.now() - timezone.timedelta(days=1)
    exercise.due_at = exercise.hard_deadline
    exercise.save(update_fields=["hard_deadline", "due_at"])
    page = client.get(base).content.decode()
    assert re.search(r'<button type="button" data-action="submit"[^>]* disabled', page)
    assert "This exercise is closed" in page


def test_an_exercise_without_attempts_left_shows_submit_disabled(setup) -> None:
    enrollment, exercise, base, client = setup
    exercise.max_attempts = 1
    exercise.save(update_fields=["max_attempts"])
    _graded(enrollment, exercise, score="2")
    page = client.get(base).content.decode()
    assert re.search(r'<button type="button" data-action="submit"[^>]* disabled', page)
    assert "You have used every attempt" in page


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


def test_dates_name_the_day_before_the_month_and_their_time_zone(setup) -> None:
    _, exercise, base, client = setup
    exercise.due_at = datetime(2026, 12, 6, 14, 0, tzinfo=UTC)
    exercise.save(update_fields=["due_at"])
    page = client.get(base).content.decode()
    # the server's text (the page's script rewrites it in the viewer's locale and zone)
    assert '<time datetime="2026-12-06T14:00:00+00:00">6 December 2026, 14:00 UTC</time>' in page
    assert "static/js/when.js" in page


def test_the_feedback_page_links_back_to_the_exercise_but_its_download_does_not(setup) -> None:
    enrollment, exercise, base, client = setup
    submission = _graded(enrollment, exercise, score="2")
    page = client.get(f"/courses/submissions/{submission.pk}/feedback").content.decode()
    assert f'<a href="{base}">Back to Add</a>' in page
    download = client.get(f"/courses/submissions/{submission.pk}/feedback?download=1")
    assert "Back to Add" not in download.content.decode()


def test_a_long_cell_can_be_collapsed_and_a_short_one_has_no_such_button(setup) -> None:
    enrollment, _, _, client = setup
    notebook = as_json(add_exercise())
    setup_code = "".join(f"x{i} = {i}\n" for i in range(40))
    notebook["cells"].insert(0, {"cell_type": "code", "metadata": {}, "source": setup_code,
                                 "outputs": [], "execution_count": None})  # fmt: skip
    exercise_create(
        module=ModuleFactory(course=enrollment.cohort.course),
        title="Long",
        slug="long",
        notebook=notebook,
    )
    course = enrollment.cohort.course
    page = client.get(f"/courses/{course.organization.slug}/{course.slug}/exercises/long/")
    html = page.content.decode()
    assert html.count('data-action="toggle-cell"') == 1
    assert 'aria-expanded="true" aria-controls="cell-1-body"' in html
    assert 'data-expand="Expand (40 lines)"' in html


def test_a_new_version_of_the_notebook_shows_at_once_on_the_exercise_page(setup) -> None:
    # given: the page seen once (its student version is kept for the next views)
    _, exercise, base, client = setup
    assert "for integers" not in client.get(base).content.decode()
    # when: the instructor replaces the notebook
    notebook = add_exercise()
    notebook["cells"][0]["source"] = "Write `add(a, b)` for integers."
    exercise_replace_notebook(exercise=exercise, notebook=as_json(notebook))
    # then: the next view shows the new version
    page = client.get(base).content.decode()
    assert "for integers" in page
