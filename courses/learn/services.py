"""Writes of the learner's pages: drafts, saved as the learner types."""

import json
from typing import Any

from django.conf import settings

from campus.models import User
from courses.learn.selectors import added_cells_clean, exercise_cells
from courses.models import Draft, Exercise

MAX_ADDED_CELLS = 200


class DraftRefused(ValueError):
    """The draft is not saved; the message is for the learner."""


def draft_save(
    *, learner: User, exercise: Exercise, sources: dict[str, Any], added: Any = None
) -> Draft:
    """Keep the learner's editable code cells and written answers (by key), and the cells
    they added (see `selectors.added_cells_clean`); anything else is ignored, so no draft
    can change, move or delete an instructor's cell. Raises DraftRefused when too large."""
    cells = exercise_cells(exercise=exercise)
    editable = {c.key for c in cells if c.editable and (c.cell_type == "code" or c.written)}
    kept = {k: v for k, v in sources.items() if k in editable and isinstance(v, str)}
    notebook: dict[str, Any] = {"cells": kept}
    mine = added_cells_clean(added, keys=[c.key for c in cells])
    if mine:
        notebook["added"] = mine
    if len(json.dumps(notebook)) > settings.SUBMISSION_MAX_BYTES or len(mine) > MAX_ADDED_CELLS:
        raise DraftRefused("too large")
    draft, _ = Draft.objects.update_or_create(
        learner=learner, exercise=exercise, defaults={"notebook": notebook}
    )
    return draft
