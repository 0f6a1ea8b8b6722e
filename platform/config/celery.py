"""The Celery application. Workers run `celery -A config worker`; tasks live in the apps."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.task(name="config.ping")
def ping() -> str:
    """Answered by any live worker; /healthz sends it to prove the queue round trip works."""
    return "pong"
