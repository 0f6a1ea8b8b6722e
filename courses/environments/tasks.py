"""Celery tasks of course environments: thin; ids in, one service call."""

from celery import shared_task

from courses import queues
from courses.environments import services


@shared_task(name=queues.BUILD_ENVIRONMENT, acks_late=True, reject_on_worker_lost=True)
def build_environment(environment_id: int) -> None:
    """Resolve and build a course environment (minutes); a redelivered message builds
    again, which is safe: a build completes by an atomic rename, or reuses what exists."""
    services.environment_build(environment_id=environment_id)


@shared_task(name=queues.COLLECT_ENVIRONMENTS)
def collect_environments() -> dict[str, object]:
    """Remove this host's course runtimes no course uses any more (beat, daily)."""
    collected = services.environments_collect()
    return {"removed": collected.removed, "freed_bytes": collected.freed_bytes}
