"""Django's database for DATABASE_URL: SQLite under var/ unless it names another
(PostgreSQL), and how each process connects to it."""

from dj_database_url import DBConfig, parse

from config import capacity
from config.env import env_int, env_str


def database_settings(url: str) -> DBConfig:
    """DATABASES["default"] for `url`: a shared pool on PostgreSQL, WAL and queued writers
    on SQLite."""
    database = parse(url)
    if database["ENGINE"] == "django.db.backends.postgresql":
        # One shared pool per process (psycopg_pool, Django's native support) instead of a
        # connection per thread: a host never opens more than DATABASE_CONNECTION_BUDGET, and a
        # request that waits DATABASE_POOL_TIMEOUT_S for one gets a 503 (config.views).
        database["CONN_MAX_AGE"] = 0  # the pool keeps them; Django must not
        database["CONN_HEALTH_CHECKS"] = True
        database.setdefault("OPTIONS", {})["pool"] = {
            "min_size": 1,
            "max_size": capacity.database_pool_max_size(),
            "timeout": float(env_str("DATABASE_POOL_TIMEOUT_S", "10")),
            # A connection idle this long is closed: a quiet process gives its share back.
            "max_idle": 300.0,
        }
    elif database["ENGINE"] == "django.db.backends.sqlite3":
        database["CONN_MAX_AGE"] = 0
        database["OPTIONS"] = {
            # Web, worker and beat share the file: WAL lets readers run beside one writer, and
            # IMMEDIATE transactions queue writers instead of failing with "database is locked".
            # A writer waits DATABASE_BUSY_TIMEOUT_S for the lock (then 503, config.unavailable):
            # at a deadline, on a loaded host, a learner's submit waits rather than fails.
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": env_int("DATABASE_BUSY_TIMEOUT_S", 60),
        }
    return database
