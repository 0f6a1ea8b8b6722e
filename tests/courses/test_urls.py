"""Every teaching URL, walked by every wrong role: 403, 404 or the login page, never data."""

from dataclasses import dataclass

import pytest
from django.test import Client
from django.urls import URLPattern

from courses.models import Lesson, ManualGrade, Module
from courses.urls import teach_patterns
from tests.support.world import World, make_world

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Url:
    name: str
    path: str
    edit: bool  # POST changes the course: TAs may not
    post: dict[str, str]
    ta_may_read: bool = True  # GET shows the page read-only to TAs

    @property
    def post_only(self) -> bool:
        return self.name in POST_ONLY


# Actions, not pages: a GET is answered 405 before anything else, whoever asks.
POST_ONLY = {
    "publish", "markdown_preview", "module_create", "module", "item_order", "exercise_notebook",
    "exercise_validate", "cohort_settings", "extension", "exercise_regrade", "manual_grade",
    "submission_regrade", "environment",
}  # fmt: skip


def _urls(w: World) -> list[Url]:
    base = f"/courses/teach/{w.course.organization.slug}/{w.course.slug}/"
    ex = f"{base}exercises/{w.exercise.pk}/"
    mod = f"{base}modules/{w.module.pk}/"
    sub = f"{base}submissions/{w.submission.pk}/"
    return [
        Url(
            "course",
            base,
            True,
            {"title": "Hacked", "summary": "", "language": "en", "grade_rule": "last"},
        ),
        Url("publish", base + "publish", True, {"published": "1"}),
        Url("environment", base + "environment", True, {"requirements": "six==1.17.0"}),
        Url("environment_status", base + "environment/status", False, {}),
        Url("preview_course", base + "preview/", False, {}),
        Url("course_export", base + "export.zip", True, {}, False),  # hidden tests inside
        Url("markdown_preview", base + "markdown-preview", True, {"body": "# secret"}),
        Url("module_create", base + "modules/new", True, {"title": "Hacked"}),
        Url("module", mod, True, {"title": "Hacked"}),
        Url(
            "item_order", mod + "order", True, {"key": f"lesson-{w.lesson.pk}", "direction": "down"}
        ),
        Url("lesson_create", mod + "lessons/new", True, {"title": "Hacked", "body": ""}, False),
        Url("exercise_upload", mod + "exercises/new", True, {"title": "Hacked"}, False),
        Url(
            "lesson", f"{base}lessons/{w.lesson.pk}/", True, {"title": "Hacked", "body": "x"}, False
        ),
        Url(
            "exercise",
            ex,
            True,
            {"title": "Hacked", "late_policy": "accept", "late_penalty_percent_per_day": "0"},
        ),
        Url("preview_exercise", ex + "preview", False, {}),
        Url("exercise_notebook", ex + "notebook", True, {}),
        Url("exercise_validate", ex + "validate", True, {}),
        Url("cohort_settings", f"{ex}cohorts/{w.cohort.pk}", True, {}),
        Url(
            "extension",
            ex + "extensions",
            False,
            {"learner": w.student.email, "due_at": "2030-01-01T10:00"},
        ),
        Url("exercise_regrade", ex + "regrade", False, {}),
        Url("gradebook", base + "gradebook/", False, {}),
        Url("gradebook_csv", f"{base}gradebook/{w.cohort.pk}.csv", False, {}),
        Url("analytics", base + "analytics/", False, {}),
        Url("submission", sub, False, {}),
        Url(
            "manual_grade",
            sub + "grade",
            False,
            {"grade_id": "essay", "essay-grade_id": "essay", "essay-points": "2"},
        ),
        Url("submission_regrade", sub + "regrade", False, {}),
    ]


SECRETS = ("Basics", "Welcome", "test_add_hidden", "return a + b")


def _assert_refused(response, *, who: str, url: str, method_not_allowed: bool = False) -> None:
    """Refused: the login page, 403 or 404; 405 only for a GET of a POST-only action (the
    refusal itself is then checked by the POST)."""
    status = response.status_code
    if method_not_allowed:
        assert status == 405, (who, url, status)
    elif status == 302:
        assert response["Location"].startswith("/accounts/login/"), (who, url)
    else:
        assert status in (403, 404), (who, url, status)
    body = response.content.decode(errors="replace")
    for secret in SECRETS:
        assert secret not in body, (who, url, secret)


def _wrong_people(w: World, url: Url) -> dict[str, object]:
    people: dict[str, object] = {
        "anonymous": None,
        "student": w.student,
        "instructor of another course": w.other_instructor,
        "admin of another university": w.other_admin,
    }
    if url.edit:
        people["teaching assistant"] = w.ta
    return people


def test_every_teaching_url_is_walked_by_this_test() -> None:
    names = {p.name for p in teach_patterns if isinstance(p, URLPattern)}
    walked = {u.name for u in _urls(make_world())} | {"home", "course_create", "operations"}
    # Not of one course: the import page checks the university, and the workers' cards
    # are the operations page's (both tested in their own modules).
    walked |= {"course_import", "operations_workers"}
    assert names == walked


def test_wrong_roles_get_403_404_or_the_login_page_and_change_nothing() -> None:
    # given
    w = make_world()
    before = (w.course.published, Module.objects.count(), Lesson.objects.count())
    # when / then
    for url in _urls(w):
        for who, person in _wrong_people(w, url).items():
            client = Client()
            if person is not None:
                client.force_login(person)
            if not (person is w.ta and url.ta_may_read):
                response = client.get(url.path)
                # anonymous visitors are sent to log in before the method is looked at
                not_allowed = url.post_only and person is not None
                _assert_refused(response, who=who, url=url.path, method_not_allowed=not_allowed)
            _assert_refused(client.post(url.path, url.post), who=who, url=url.path)
    # and nothing changed
    w.course.refresh_from_db()
    assert (w.course.published, Module.objects.count(), Lesson.objects.count()) == before
    assert w.course.title != "Hacked"
    assert not ManualGrade.objects.exists()


def test_only_superusers_see_the_operations_page() -> None:
    w = make_world()
    for person in (w.instructor, w.org_admin, w.student, w.ta):
        client = Client()
        client.force_login(person)
        assert client.get("/courses/teach/operations/").status_code == 403
    assert Client().get("/courses/teach/operations/").status_code == 302


def test_the_right_people_see_every_page_and_may_use_every_action() -> None:
    w = make_world()
    for person in (w.instructor, w.org_admin):
        client = Client()
        client.force_login(person)
        for url in _urls(w):
            _assert_served(client, url)
    ta = Client()
    ta.force_login(w.ta)
    for url in _urls(w):
        if (url.post_only and not url.edit) or (not url.post_only and url.ta_may_read):
            _assert_served(ta, url)


def _assert_served(client: Client, url: Url) -> None:
    """A page answers a GET; an action answers its POST (done, or the form again)."""
    if not url.post_only:
        assert client.get(url.path).status_code == 200, url.path
        return
    assert client.get(url.path).status_code == 405, url.path
    response = client.post(url.path, url.post)
    assert response.status_code in (200, 302), (url.path, response.status_code)
    if response.status_code == 302:
        assert not response["Location"].startswith("/accounts/login/"), url.path


def test_a_ta_may_grade_but_not_edit() -> None:
    w = make_world()
    client = Client()
    client.force_login(w.ta)
    base = f"/courses/teach/{w.course.organization.slug}/{w.course.slug}/"
    response = client.post(
        f"{base}submissions/{w.submission.pk}/grade",
        {
            "grade_id": "essay",
            "essay-grade_id": "essay",
            "essay-points": "1.5",
            "essay-comment": "Clear",
        },
    )
    assert response.status_code == 302
    assert ManualGrade.objects.get().points == 1.5
    assert client.post(f"{base}publish", {"published": "1"}).status_code == 403
