"""The LTI tool's Celery task names: services send by name (courses.queues.enqueue_on_commit),
so nothing imports lti.tasks but the workers (settings.CELERY_IMPORTS)."""

SCORES_SYNC_SUBMISSION = "lti.tasks.scores_sync_submission"
SCORE_SEND = "lti.tasks.score_send"
SCORES_RETRY_FAILED = "lti.tasks.scores_retry_failed"
ROSTER_SYNC = "lti.tasks.roster_sync"
SCORES_SYNC_COURSE = "lti.tasks.scores_sync_course"
