"""Deadlines, late penalties and attempt limits as pure functions (no ORM, no clock).

How late work is and what penalty it earns is decided here; applying the penalty to a
score is grading's (courses.grading.scoring.late_scores).
"""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Deadline:
    due_at: datetime | None
    hard_deadline: datetime | None
    policy: str  # "accept" | "penalty" | "refuse"
    penalty_percent_per_day: Decimal


@dataclass(frozen=True)
class LateState:
    accepted: bool
    days_late: int
    penalty_percent: Decimal
    reason: str  # why a submission is refused; empty when accepted


def late_state(*, deadline: Deadline, at: datetime) -> LateState:
    """Whether a submission made `at` is accepted, and how late it is in started days."""
    if deadline.hard_deadline is not None and at > deadline.hard_deadline:
        return LateState(False, _days_late(deadline.due_at, at), Decimal(0), "hard_deadline")
    days = _days_late(deadline.due_at, at)
    if days == 0 or deadline.policy == "accept":
        return LateState(True, days, Decimal(0), "")
    if deadline.policy == "refuse":
        return LateState(False, days, Decimal(0), "past_due")
    penalty = min(Decimal(100), deadline.penalty_percent_per_day * days)
    return LateState(True, days, penalty, "")


def _days_late(due_at: datetime | None, at: datetime) -> int:
    if due_at is None or at <= due_at:
        return 0
    return math.ceil((at - due_at) / ONE_DAY)


def attempts_left(*, max_attempts: int | None, used: int) -> int | None:
    """None means unlimited."""
    if max_attempts is None:
        return None
    return max(0, max_attempts - used)
