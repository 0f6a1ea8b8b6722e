"""The Celery application. Workers run `celery -A config worker`; tasks live in the apps."""

import logging
import os
from typing import Any

from celery import Celery
from celery.signals import after_setup_logger, task_postrun, task_prerun, worker_init
from django.db import close_old_connections, connections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Celery's Django fixup closes every connection before and after each task, and in a
# prefork worker PostgreSQL's whole pool with them (celery/fixups/django.py): each grading
# opened a PostgreSQL session of its own, each SQLite one ran its PRAGMAs again. It does so
# only every 2 x CELERY_DB_REUSE_MAX tasks when that is set: never, here. A task ends as a
# request does instead (_connections_as_after_a_request).
app.conf.update(CELERY_DB_REUSE_MAX=2**62)

# Sent every few seconds by beat: their "received" and "succeeded" lines would bury the log.
QUIET_TASKS = ("sweep_submissions", "sweep-submissions")


class QuietRoutineTasks(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.INFO:
            return True
        message = record.getMessage()
        return not any(name in message for name in QUIET_TASKS)


@after_setup_logger.connect
def _quiet_routine_tasks(logger: logging.Logger, **_: Any) -> None:
    for handler in logger.handlers:
        handler.addFilter(QuietRoutineTasks())


@task_prerun.connect
@task_postrun.connect
def _connections_as_after_a_request(sender: Any = None, **_: Any) -> None:
    """Django's own rule between two requests: a connection past CONN_MAX_AGE (0 on
    PostgreSQL: back to the pool, whose check runs before the next use) or left broken by
    an error is closed; the rest stay. Not for a task run eagerly, inside its caller."""
    if not getattr(getattr(sender, "request", None), "is_eager", False):
        close_old_connections()


@worker_init.connect
def _keep_sqlite_connections(sender: Any = None, **_: Any) -> None:
    """A worker that runs its tasks one after another on one thread (prefork, solo) keeps
    its SQLite connection from task to task instead of opening one per task (after each
    task, connections older than CONN_MAX_AGE are closed; 0 for the web). Set in the main
    process, before the pool forks its children. Not in a pool of threads: each of its
    many threads would keep a connection. On PostgreSQL the pool keeps them."""
    pool = getattr(sender, "pool_cls", "")
    if "thread" in (pool if isinstance(pool, str) else pool.__module__):
        return
    for alias in connections:
        database = connections.settings[alias]
        if database["ENGINE"] == "django.db.backends.sqlite3":
            database["CONN_MAX_AGE"] = None


@app.task(name="config.ping")
def ping() -> str:
    """Answered by any live worker; /healthz sends it to prove the queue round trip works."""
    return "pong"
