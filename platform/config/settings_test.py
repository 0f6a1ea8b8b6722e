"""Test overrides: a throwaway Redis per test process unless REDIS_URL is given."""

import atexit
import os
import tempfile
from pathlib import Path

# Each test process gets its own Redis: xdist workers inherit the controller's environment,
# and sharing one server would mix their pub/sub channels (ids repeat across test databases).
# A REDIS_URL given from outside is used as it is.
_AUTO = "OSTP_TEST_REDIS_PID"
if not os.environ.get("REDIS_URL") or os.environ.get(_AUTO, str(os.getpid())) != str(os.getpid()):
    from config.embedded_redis import start_redis

    _redis = start_redis(data_dir=Path(tempfile.mkdtemp(prefix="ostp-redis-")), persist=False)
    atexit.register(_redis.stop)
    os.environ["REDIS_URL"] = _redis.url
    os.environ[_AUTO] = str(os.getpid())

if "VAR_DIR" not in os.environ:
    os.environ["VAR_DIR"] = tempfile.mkdtemp(prefix="ostp-var-")
# The gateway's socket folder too, one per test process (same reasoning); sandboxed kernels
# (other uids) bind it, so it is made reachable: /tmp lets everyone through.
_OWN_GATEWAY = "OSTP_TEST_GATEWAY_PID"
_parent_gateway = os.environ.get(_OWN_GATEWAY, str(os.getpid())) != str(os.getpid())
if not os.environ.get("GATEWAY_SOCKET_DIR") or _parent_gateway:
    _gateway_dir = Path(tempfile.mkdtemp(prefix="ostp-gateway-"))
    _gateway_dir.chmod(0o755)
    os.environ["GATEWAY_SOCKET_DIR"] = str(_gateway_dir)
    os.environ[_OWN_GATEWAY] = str(os.getpid())

from config.settings import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
HTTPS = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SECURE_SSL_REDIRECT = False
SECURE_HSTS_SECONDS = 0
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}  # noqa: F405
WHITENOISE_USE_FINDERS = True
HEALTH_CELERY_TIMEOUT_S = 10
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    # A file, not memory: integration tests share the test database with a real worker.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}  # noqa: F405
