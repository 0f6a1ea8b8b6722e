"""Live progress of submissions: each change of state is published on the submission's
channel, and its page follows the channel over Server-Sent Events (courses.sse). A page
that connects late reads the current state from the database first: the database, not the
channel, is the source of truth."""

from typing import Any

from courses import sse


def channel_name(submission_id: int) -> str:
    return f"submission:{submission_id}:events"


def publish(submission_id: int, event: dict[str, Any]) -> None:
    """Best effort: a lost progress message must never fail a grading."""
    sse.publish(channel_name(submission_id), event)
