"""Writes of the learner's pages: drafts, saved as the learner types."""

import json
from typing import Any

from django.conf import settings

from campus.models import User
from courses.learn.selectors import exercise_cells
from courses.models import Draft, Exercise


class DraftRefused(ValueError):
    """The draft is not saved; the message is for the learner."""


def draft_save(*, learner: User, exercise: Exercise, sources: dict[str, Any]) -> Draft:
    """Keep the learner's editable code cells and written answers (by key); anything else
    is ignored. Raises DraftRefused when the draft is too large."""
    editable = {
        c.key
        for c in exercise_cells(exercise=exercise)
        if c.editable and (c.cell_type == "code" or c.written)
    }
    kept = {k: v for k, v in sources.items() if k in editable and isinstance(v, str)}
    if len(json.dumps(kept)) > settings.SUBMISSION_MAX_BYTES:
        raise DraftRefused("too large")
    draft, _ = Draft.objects.update_or_create(
        learner=learner, exercise=exercise, defaults={"notebook": {"cells": kept}}
    )
    return draft
