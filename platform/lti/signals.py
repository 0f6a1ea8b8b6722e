"""Every new grade (automatic, regrade, by hand) in a cohort linked to an LMS column, and
every change of a course's grade rule, may change what an LMS gradebook shows: once it is
committed, a task works out and sends the scores (lti.grades)."""

from typing import Any

from django.db.models.signals import post_save
from django.dispatch import receiver

from courses.models import Course, GradeRecord
from courses.queues import enqueue_on_commit
from lti import grades, queues


@receiver(post_save, sender=GradeRecord, dispatch_uid="lti-scores-after-grade")
def _grade_recorded(
    sender: type[GradeRecord], instance: GradeRecord, created: bool, **_: Any
) -> None:
    if created and grades.scores_wanted(submission_id=instance.submission_id):
        enqueue_on_commit(queues.SCORES_SYNC_SUBMISSION, instance.submission_id)


@receiver(post_save, sender=Course, dispatch_uid="lti-scores-after-grade-rule")
def _grade_rule_changed(
    sender: type[Course], instance: Course, update_fields: frozenset[str] | None, **_: Any
) -> None:
    # courses.catalog.services.course_update names grade_rule only when it changed.
    if update_fields and "grade_rule" in update_fields:
        enqueue_on_commit(queues.SCORES_SYNC_COURSE, instance.pk)
