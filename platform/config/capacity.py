"""How many processes run on one host, and how many database connections each may hold.

Read by the settings (each process sizes its connection pool) and by the launcher (how many
web workers and grading processes to start), so both always agree on the same figures.
"""

import os

from config.env import env_int

# Processes on a host besides web and grading workers: the interactive worker, beat, and
# the model gateway.
OTHER_PROCESSES = 3


def cores() -> int:
    return len(os.sched_getaffinity(0)) or 1


def web_workers() -> int:
    """Web processes: one per core, so synchronous views use every core, not one GIL."""
    return max(1, env_int("WEB_WORKERS", cores()))


def grading_concurrency() -> int:
    return max(1, env_int("GRADING_CONCURRENCY", 2))


def database_processes() -> int:
    """Processes of one host that open database connections (the launcher's services)."""
    default = web_workers() + grading_concurrency() + OTHER_PROCESSES
    return max(1, env_int("DATABASE_PROCESSES", default))


def database_pool_max_size() -> int:
    """Connections one process may hold: the host's budget shared by its processes.

    DATABASE_CONNECTION_BUDGET is the most this host opens, whatever the concurrency
    (PostgreSQL allows 100 by default: 40 leaves room for a second host and for psql).
    """
    explicit = env_int("DATABASE_POOL_MAX_SIZE", 0)
    if explicit > 0:
        return explicit
    budget = env_int("DATABASE_CONNECTION_BUDGET", 40)
    return max(1, budget // database_processes())
