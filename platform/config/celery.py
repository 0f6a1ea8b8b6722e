"""The Celery application. Workers run `celery -A config worker`; tasks live in the apps."""

import logging
import os
from typing import Any

from celery import Celery
from celery.signals import after_setup_logger, worker_init
from django.db import connections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

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


@worker_init.connect
def _keep_sqlite_connections(**_: Any) -> None:
    """A worker runs its tasks one after another on one thread: it keeps its SQLite
    connection from task to task instead of opening one per task (Celery's Django fixup
    closes, after each task, connections older than CONN_MAX_AGE; 0 for the web). Set in
    the main process, before the pool forks its children. PostgreSQL's pool keeps its
    connections already."""
    for alias in connections:
        database = connections.settings[alias]
        if database["ENGINE"] == "django.db.backends.sqlite3":
            database["CONN_MAX_AGE"] = None


@app.task(name="config.ping")
def ping() -> str:
    """Answered by any live worker; /healthz sends it to prove the queue round trip works."""
    return "pong"
