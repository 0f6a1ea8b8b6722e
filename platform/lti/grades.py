"""Assignment and Grade Services: the score that counts (the course's rule, best or last
attempt, after late penalty and marking by hand) goes to the LMS column of every link to
the exercise.

One ScorePost row per (link, learner) says what the LMS should have and whether it has it.
Recording is idempotent: the same kept attempt with the same grade sends nothing again; a
regrade or a mark by hand makes a new timestamp, and the score is sent again.
"""

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Max, Q
from django.utils import timezone

from courses.grading.gradebook import kept_submission
from courses.models import GradeRecord, Submission, SubmissionStatus
from courses.queues import enqueue_on_commit
from lti import claims, outbound, queues, tokens
from lti.models import PlatformAccount, ResourceLink, ScorePost, ScoreStatus

SCORE_CONTENT_TYPE = "application/vnd.ims.lis.v1.score+json"
# After this many sends, the beat job stops retrying a score; an instructor can resend it.
RETRY_LIMIT = 20


def scores_record_for_submission(*, submission_id: int) -> list[int]:
    """Decide the score the LMS should have for this submission's learner on each LMS column
    of its exercise, and send the ones that changed (after commit). Returns their ids."""
    submission = Submission.objects.select_related("exercise", "cohort__course").get(
        pk=submission_id
    )
    return _scores_record(submission=submission, decided_at=None)


def scores_wanted(*, submission_id: int) -> bool:
    """Whether an LMS column takes this submission's scores. Most cohorts are linked to no
    LMS: their grades need no sync task (one query instead, in the grade's transaction)."""
    return (
        ResourceLink.objects.filter(
            exercise__submissions__pk=submission_id,
            context__cohorts__cohort__submissions__pk=submission_id,
        )
        .exclude(lineitem_url="")
        .exists()
    )


def scores_record_for_course(*, course_id: int) -> list[int]:
    """The course's grade rule changed: recount every learner's score in the LMS columns of
    its exercises, and send those that changed, stamped now."""
    now = timezone.now()
    latest = (
        Submission.objects.filter(
            exercise__module__course_id=course_id, cohort__lti_context__isnull=False
        )
        .values("cohort_id", "learner_id", "exercise_id")
        .annotate(last=Max("id"))
        .values_list("last", flat=True)
    )
    changed = []
    for submission in Submission.objects.filter(pk__in=list(latest)).select_related(
        "exercise", "cohort__course"
    ):
        changed += _scores_record(submission=submission, decided_at=now)
    return changed


def _scores_record(*, submission: Submission, decided_at: datetime | None) -> list[int]:
    links = (
        ResourceLink.objects.filter(
            exercise_id=submission.exercise_id, context__cohorts__cohort_id=submission.cohort_id
        )
        .exclude(lineitem_url="")
        .select_related("context__deployment__registration")
    )
    changed = []
    for link in links:
        registration = link.context.deployment.registration
        # The learner's own LMS identity at this LMS: never anyone else's.
        account = PlatformAccount.objects.filter(
            user_id=submission.learner_id, issuer=registration.issuer
        ).first()
        if account is None:
            continue
        post = _score_record(
            link=link, account=account, submission=submission, decided_at=decided_at
        )
        if post is not None:
            changed.append(post.pk)
            enqueue_on_commit(queues.SCORE_SEND, post.pk)
    return changed


def _score_record(
    *,
    link: ResourceLink,
    account: PlatformAccount,
    submission: Submission,
    decided_at: datetime | None,
) -> ScorePost | None:
    cell = kept_submission(
        cohort_id=submission.cohort_id,
        learner_id=submission.learner_id,
        exercise_id=submission.exercise_id,
        rule=submission.cohort.course.grade_rule,
    )
    if cell is None or cell.score is None or cell.status != SubmissionStatus.GRADED:
        return None
    values: dict[str, Any] = {
        "submission_id": cell.submission_id,
        "score": cell.score,
        "max_score": cell.max_score or submission.exercise.points or Decimal(0),
        "pending_manual": cell.needs_grading,
    }
    post = ScorePost.objects.filter(link=link, account=account).first()
    if post is not None and all(getattr(post, k) == v for k, v in values.items()):
        return None
    values["timestamp"] = _decided_at(submission=submission, given=decided_at, post=post)
    if post is None:
        return ScorePost.objects.create(link=link, account=account, **values)
    for name, value in values.items():
        setattr(post, name, value)
    post.status, post.attempts, post.error = ScoreStatus.PENDING, 0, ""
    post.save(update_fields=[*values, "status", "attempts", "error", "updated_at"])
    return post


def _decided_at(
    *, submission: Submission, given: datetime | None, post: ScorePost | None
) -> datetime:
    """When the score that counts was decided: the newest grade of any of the learner's
    attempts here (a regrade or a mark by hand on one attempt can hand the count to another),
    and always after the score the LMS has, since an LMS ignores older scores."""
    decided = given or (
        GradeRecord.objects.filter(
            submission__cohort_id=submission.cohort_id,
            submission__learner_id=submission.learner_id,
            submission__exercise_id=submission.exercise_id,
        ).aggregate(at=Max("created_at"))["at"]
        or timezone.now()
    )
    if post is not None and decided <= post.timestamp:
        decided = post.timestamp + timedelta(milliseconds=1)
    return decided


def _scores_url(lineitem_url: str) -> str:
    path, sep, query = lineitem_url.partition("?")
    return f"{path.rstrip('/')}/scores{sep}{query}"


def score_send(*, score_post_id: int) -> bool:
    """Post one score to its LMS column. True when the LMS has it (now or already).

    Raises outbound.PlatformError when the LMS could not take it; the task decides whether
    to retry. A score changed while this one was on its way is left for its own send.
    """
    post = ScorePost.objects.select_related(
        "link__context__deployment__registration", "account"
    ).get(pk=score_post_id)
    if post.status == ScoreStatus.SENT:
        return True
    registration = post.link.context.deployment.registration
    if not registration.active:
        raise outbound.PlatformError("the LMS registration was revoked", retry=False)
    token = tokens.service_token(registration=registration, scopes=[claims.SCOPE_SCORE])
    payload = {
        "userId": post.account.sub,
        "scoreGiven": float(post.score),
        "scoreMaximum": float(post.max_score),
        "activityProgress": "Completed",
        "gradingProgress": "PendingManual" if post.pending_manual else "FullyGraded",
        "timestamp": post.timestamp.isoformat(),
    }
    outbound.post_json(
        _scores_url(post.link.lineitem_url), payload, token=token, content_type=SCORE_CONTENT_TYPE
    )
    ScorePost.objects.filter(pk=post.pk, timestamp=post.timestamp, score=post.score).update(
        status=ScoreStatus.SENT, sent_at=timezone.now(), error="", attempts=post.attempts + 1
    )
    return True


def score_mark_failure(*, score_post_id: int, error: str, final: bool) -> None:
    """Record a failed send: RETRYING while the task will try again, FAILED after."""
    post = ScorePost.objects.get(pk=score_post_id)
    ScorePost.objects.filter(pk=post.pk).exclude(status=ScoreStatus.SENT).update(
        status=ScoreStatus.FAILED if final else ScoreStatus.RETRYING,
        error=error[:500],
        attempts=post.attempts + 1,
        updated_at=timezone.now(),
    )


def scores_retry_failed(*, older_than: timedelta, now: datetime | None = None) -> list[int]:
    """The beat job: send again the scores that failed, and those whose send was lost (still
    pending long after they were recorded)."""
    now = now or timezone.now()
    stale = Q(status=ScoreStatus.FAILED) | Q(status__in=[ScoreStatus.PENDING, ScoreStatus.RETRYING])
    ids = list(
        ScorePost.objects.filter(stale, updated_at__lt=now - older_than, attempts__lt=RETRY_LIMIT)
        .filter(link__context__deployment__registration__active=True)
        .values_list("pk", flat=True)[:500]
    )
    for pk in ids:
        ScorePost.objects.filter(pk=pk).update(status=ScoreStatus.RETRYING, updated_at=now)
        enqueue_on_commit(queues.SCORE_SEND, pk)
    return ids


def score_resend(*, score_post: ScorePost) -> None:
    """An instructor's "send again"."""
    ScorePost.objects.filter(pk=score_post.pk).update(
        status=ScoreStatus.PENDING, error="", attempts=0, updated_at=timezone.now()
    )
    enqueue_on_commit(queues.SCORE_SEND, score_post.pk)
