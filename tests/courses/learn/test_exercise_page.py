"""The exercise page: the student version with its controls and words, its state (late,
closed, attempts left), dates, long cells, and a new version of the notebook at once."""

import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone, translation

from courses.exercises.services import exercise_create, exercise_replace_notebook
from courses.learn.views import page_strings
from courses.models import CohortExercise
from tests.support.exercises import add_exercise, as_json
from tests.support.factories import ModuleFactory, UserFactory

pytestmark = pytest.mark.django_db


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


def test_a_stranger_gets_a_404_for_the_page_and_its_kernel(setup) -> None:
    _, _, base, _ = setup
    stranger = Client()
    stranger.force_login(UserFactory())
    assert stranger.get(base).status_code == 404
    assert (
        stranger.post(base + "kernel/run", "{}", content_type="application/json").status_code == 404
    )


def test_a_late_exercise_shows_its_late_state(setup) -> None:
    _enrollment, exercise, base, client = setup
    exercise.due_at = timezone.now() - timezone.timedelta(days=2, hours=1)
    exercise.late_policy = "penalty"
    exercise.late_penalty_percent_per_day = Decimal(10)
    exercise.save()
    page = client.get(base).content.decode()
    assert "Late by 3 days" in page and "penalty 30%" in page


def test_attempts_left_follow_the_cohorts_attempt_limit_that_submitting_enforces(
    setup, graded
) -> None:
    # given: the exercise allows 5 attempts, the learner's cohort only 2, and one is used
    enrollment, exercise, base, client = setup
    exercise.max_attempts = 5
    exercise.save(update_fields=["max_attempts"])
    CohortExercise.objects.create(cohort=enrollment.cohort, exercise=exercise, max_attempts=2)
    graded(enrollment, exercise, score="3")
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
    # the script enables Submit on an open exercise only; this one is served for good
    assert re.search(r'data-action="submit"[^>]* disabled aria-describedby="submit-closed"', page)
    assert "This exercise is closed" in page


def test_an_exercise_without_attempts_left_shows_submit_disabled(setup, graded) -> None:
    enrollment, exercise, base, client = setup
    exercise.max_attempts = 1
    exercise.save(update_fields=["max_attempts"])
    graded(enrollment, exercise, score="2")
    page = client.get(base).content.decode()
    # the script enables Submit on an open exercise only; this one is served for good
    assert re.search(r'data-action="submit"[^>]* disabled aria-describedby="submit-closed"', page)
    assert "You have used every attempt" in page


def test_dates_name_the_day_before_the_month_and_their_time_zone(setup) -> None:
    _, exercise, base, client = setup
    exercise.due_at = datetime(2026, 12, 6, 14, 0, tzinfo=UTC)
    exercise.save(update_fields=["due_at"])
    page = client.get(base).content.decode()
    # the server's text (the page's script rewrites it in the viewer's locale and zone)
    assert '<time datetime="2026-12-06T14:00:00+00:00">6 December 2026, 14:00 UTC</time>' in page
    assert "static/js/when.js" in page


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
