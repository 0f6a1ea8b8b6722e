"""How many live sessions this worker may hold: derived from memory unless configured.

INTERACTIVE_MAX_SESSIONS, when set, is the limit. Otherwise the worker's budget is what
fits in the memory available when it first holds a session (INTERACTIVE_SESSION_MIB each,
INTERACTIVE_MEMORY_RESERVE_MIB kept for everything else), and a new session also needs
that much memory to be available right now: several workers on one host share it.

Spare kernels (the warm pool a learner's first cell takes from) follow the budget too,
unless INTERACTIVE_POOL_SIZE is set.
"""

from django.conf import settings

from sandbox import memory_available_mib, raise_open_files_limit, sessions_that_fit

# One spare kernel per this many sessions the worker may hold, between the two bounds: a
# class arriving at 10 learners a second finds kernels ready while more start.
SESSIONS_PER_SPARE = 8
SPARES_MIN, SPARES_MAX = 2, 48
# Descriptors the worker keeps per live kernel, with room to spare (measured: about ten).
FILES_PER_SESSION = 16
FILES_BASE = 1024

_budget: list[int] = []


def _fit() -> int:
    return sessions_that_fit(
        available_mib=memory_available_mib(),
        session_mib=settings.INTERACTIVE_SESSION_MIB,
        reserve_mib=settings.INTERACTIVE_MEMORY_RESERVE_MIB,
    )


def session_budget() -> int:
    """The most sessions this worker will hold, fixed on first use (the memory its own
    sessions take must not shrink it); the open-files limit is raised to match."""
    if not _budget:
        configured = settings.INTERACTIVE_MAX_SESSIONS
        budget = configured if configured > 0 else _fit()
        raise_open_files_limit(wanted=FILES_BASE + FILES_PER_SESSION * budget)
        _budget.append(budget)
    return _budget[0]


def session_capacity(*, held: int) -> int:
    """How many sessions this worker can hold now that it holds `held`."""
    budget = session_budget()
    if settings.INTERACTIVE_MAX_SESSIONS > 0:
        return budget
    return min(budget, held + _fit())


def spare_kernels() -> int:
    """Warm kernels this worker keeps ready for new sessions (INTERACTIVE_POOL_SIZE, or
    derived from its session budget)."""
    configured = settings.INTERACTIVE_POOL_SIZE
    if configured > 0:
        return configured
    return max(SPARES_MIN, min(SPARES_MAX, session_budget() // SESSIONS_PER_SPARE))
