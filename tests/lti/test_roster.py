"""Names and Role Provisioning: the LMS roster kept in the cohort, on demand and after a
launch; each change audited."""

from typing import Any

import pytest
from django.test import Client

from campus.models import AuditLog
from courses import queues as course_queues
from courses.models import Enrollment, EnrollmentRole
from lti import queues, roster
from lti.models import Context, ContextCohort
from tests.lti.conftest import Campus, launch
from tests.support.factories import EnrollmentFactory
from tests.support.lti_platform import INSTRUCTOR, LEARNER, MEMBERSHIP, Member, Platform

pytestmark = pytest.mark.django_db
TA = [MEMBERSHIP[:-1] + "/Instructor#TeachingAssistant"]


def roles_in_cohort(cohort_id: int) -> dict[str, str]:
    return {
        e.user.lti_accounts.get().sub if e.user.lti_accounts.exists() else e.user.email: e.role
        for e in Enrollment.objects.filter(cohort_id=cohort_id).select_related("user")
    }


def test_the_instructor_syncs_the_roster_and_it_follows_the_lms(
    platform: Platform, campus: Campus, client: Client
) -> None:
    # given: the instructor has launched; the LMS course has more people
    launch(platform, client, user_id="teacher", roles=INSTRUCTOR, target=campus.exercise_url())
    for member in (
        Member("learner-1", LEARNER, name="Ada"),
        Member("helper", TA, name="Grace"),
        Member("gone", LEARNER, status="Inactive"),
    ):
        platform.add_member("ctx-1", member)
    cohort = ContextCohort.objects.get().cohort
    local = EnrollmentFactory.create(cohort=cohort).user  # enrolled here, not by the LMS
    context = Context.objects.get()
    sync_url = (
        f"/lti/teach/{campus.organization.slug}/{campus.course.slug}/roster/{context.pk}/sync/"
    )
    # when
    response = client.post(sync_url, follow=True)
    # then
    assert "1 added" not in response.content.decode()
    assert "2 added" in response.content.decode()
    assert roles_in_cohort(cohort.pk) == {
        "teacher": EnrollmentRole.INSTRUCTOR,
        "learner-1": EnrollmentRole.STUDENT,
        "helper": EnrollmentRole.TA,
        local.email: EnrollmentRole.STUDENT,
    }
    # when: the LMS drops a learner and promotes the TA
    del platform.courses["ctx-1"].members["learner-1"]
    platform.courses["ctx-1"].members["helper"].roles = INSTRUCTOR
    changes = roster.roster_sync(context_id=context.pk)
    # then
    assert (len(changes.added), len(changes.changed), len(changes.removed)) == (0, 1, 1)
    assert roles_in_cohort(cohort.pk) == {
        "teacher": EnrollmentRole.INSTRUCTOR,
        "helper": EnrollmentRole.INSTRUCTOR,
        local.email: EnrollmentRole.STUDENT,
    }
    actions = list(AuditLog.objects.values_list("action", flat=True))
    assert actions.count("lti_roster_synced") == 2
    assert "enrollment_removed" in actions
    assert "enrollment_role_changed" in actions


def test_a_launch_asks_for_a_roster_sync_once_in_a_while(
    platform: Platform,
    campus: Campus,
    client: Client,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    sent: list[tuple[str, tuple[Any, ...]]] = []
    monkeypatch.setattr(course_queues, "send", lambda name, *args, **kw: sent.append((name, args)))
    with django_capture_on_commit_callbacks(execute=True):
        launch(platform, client, user_id="teacher", roles=INSTRUCTOR, target=campus.exercise_url())
    context = Context.objects.get()
    assert (queues.ROSTER_SYNC, (context.pk,)) in sent
    roster.roster_sync(context_id=context.pk)
    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        launch(platform, Client(), user_id="learner-1", target=campus.exercise_url())
    assert [name for name, _args in sent if name == queues.ROSTER_SYNC] == []


def test_a_learner_cannot_sync_the_roster(
    platform: Platform, campus: Campus, client: Client
) -> None:
    launch(platform, client, user_id="learner-1", target=campus.exercise_url())
    context = Context.objects.get()
    url = f"/lti/teach/{campus.organization.slug}/{campus.course.slug}/roster/{context.pk}/sync/"
    assert client.post(url).status_code in (403, 404)
