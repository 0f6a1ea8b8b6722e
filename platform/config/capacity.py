"""How many processes run on one host, and how many database connections each may hold.

Read by the settings (each process sizes its connection pool) and by the launcher (how many
web workers and grading processes to start), so both always agree on the same figures.
"""

import os
from pathlib import Path

from config.env import env_int, env_str

# Processes on a host besides web, grading and interactive workers: beat and the gateway.
OTHER_PROCESSES = 2
# Memory an interactive worker is given room for by default: its zygote (the pre-imported
# data-science stack, ~250 MiB) and the sessions it will hold.
INTERACTIVE_WORKER_GIB = 4
# Database connections a process of each kind may hold (DATABASE_ROLE, set per process by
# the launcher and the deploy units): a grading process runs one task and its heartbeat
# thread; an interactive worker's threads each hold one briefly; beat runs one job at a
# time. The web processes share the rest: at a deadline they take a class's submits.
ROLE_CONNECTIONS = {"grading": 2, "interactive": 4, "beat": 1, "gateway": 2}


def cores() -> int:
    return len(os.sched_getaffinity(0)) or 1


def memory_gib(meminfo: Path = Path("/proc/meminfo")) -> float:
    for line in meminfo.read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / (1024 * 1024)
    return 0.0


def interactive_workers() -> int:
    """Interactive worker processes of a host (INTERACTIVE_WORKERS): by default one per core,
    as memory allows (INTERACTIVE_WORKER_GIB each). A worker runs its sessions' messages in
    one process (one GIL): a second one puts the second core to work for a class."""
    explicit = env_int("INTERACTIVE_WORKERS", 0)
    if explicit > 0:
        return explicit
    return max(1, min(cores(), int(memory_gib() // INTERACTIVE_WORKER_GIB)))


def web_workers() -> int:
    """Web processes: one per core, so synchronous views use every core, not one GIL."""
    return max(1, env_int("WEB_WORKERS", cores()))


def web_threads() -> int:
    """Threads of a web process that run synchronous pages (config.handler): a few, so a
    page waiting on the database or Redis lets another run; 0 is Django's own handler (a
    thread per request)."""
    return max(0, env_int("WEB_THREADS", 4))


def grading_concurrency() -> int:
    return max(1, env_int("GRADING_CONCURRENCY", 2))


def database_processes() -> int:
    """Processes of one host that open database connections (the launcher's services)."""
    default = web_workers() + grading_concurrency() + interactive_workers() + OTHER_PROCESSES
    return max(1, env_int("DATABASE_PROCESSES", default))


def database_pool_max_size() -> int:
    """Connections one process may hold: its share of the host's budget.

    DATABASE_CONNECTION_BUDGET is the most this host opens, whatever the concurrency
    (PostgreSQL allows 100 by default: 40 leaves room for a second host and for psql). A
    process of a known DATABASE_ROLE other than the web holds ROLE_CONNECTIONS; the web
    processes share what the others may not hold; a process of no role gets an even share.
    """
    explicit = env_int("DATABASE_POOL_MAX_SIZE", 0)
    if explicit > 0:
        return explicit
    budget = env_int("DATABASE_CONNECTION_BUDGET", 40)
    role = env_str("DATABASE_ROLE", "")
    if role in ROLE_CONNECTIONS:
        return ROLE_CONNECTIONS[role]
    if role == "web":
        return max(1, (budget - reserved_connections()) // web_workers())
    return max(1, budget // database_processes())


def reserved_connections() -> int:
    """What a host's processes other than the web may hold: the grading worker's (its
    pool's processes and the parent that hands them work), interactive workers, beat and
    the gateway."""
    return (
        (grading_concurrency() + 1) * ROLE_CONNECTIONS["grading"]
        + interactive_workers() * ROLE_CONNECTIONS["interactive"]
        + ROLE_CONNECTIONS["beat"]
        + ROLE_CONNECTIONS["gateway"]
    )
