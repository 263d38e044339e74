"""Quorum settings, read from the environment only.

Defaults are for one person on a laptop: SQLite in ./data, Celery tasks run inline, media on
local disk, DEBUG on. Production opts in explicitly (see README, "Configuration").
"""

import os
import secrets
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off", ""}


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    if raw.strip().lower() in _TRUE:
        return True
    if raw.strip().lower() in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None


def env_str(name: str, default: str) -> str:
    """An empty value counts as unset, so a copied .env.example changes nothing."""
    return os.environ.get(name) or default


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [part.strip() for part in raw.split(",") if part.strip()]


def prepare_threshold() -> int | None:
    """psycopg's prepare_threshold from DATABASE_PREPARE_THRESHOLD: 5 by default, ``off`` for
    a pooler that hands one session's transactions to different server connections without
    tracking prepared statements (PgBouncer before 1.21 in transaction mode; README,
    "Behind a connection pooler")."""
    raw = os.environ.get("DATABASE_PREPARE_THRESHOLD", "").strip().lower()
    if raw in {"off", "none"}:
        return None
    threshold = env_int("DATABASE_PREPARE_THRESHOLD", 5)
    if threshold < 0:
        raise ImproperlyConfigured(
            f"DATABASE_PREPARE_THRESHOLD must be a count of 0 or more, or off; got {raw!r}"
        )
    return threshold


def database_from_url(url: str) -> dict:
    """Turn sqlite:///path or postgres://user:pass@host:port/name?opt=v into a DATABASES entry."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": unquote(parts.path[1:]) or ":memory:",
        }
    if parts.scheme not in {"postgres", "postgresql"}:
        raise ImproperlyConfigured(
            f"DATABASE_URL scheme {parts.scheme!r} is not supported; use postgres:// or sqlite://"
        )
    options = dict(parse_qsl(parts.query))
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parts.path.lstrip("/")),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
        # Django's psycopg pool: one pool per process; connections are health-checked on
        # checkout. CONN_MAX_AGE must stay 0 with a pool.
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": {
            # Bind parameters on the server, and prepare a statement once a connection has run
            # it five times (Django's defaults: bound on the client, never prepared). The pool
            # keeps connections, so the hot queries (token, claim, lease, submit) are planned
            # once per connection, not per request: a third less database CPU per claim
            # request (benchmarks/README.md). The fast claim's raw cursors need it as well.
            "server_side_binding": True,
            "prepare_threshold": prepare_threshold(),
            **options,
            "pool": {
                "min_size": env_int("DATABASE_POOL_MIN_SIZE", 1),
                "max_size": env_int("DATABASE_POOL_MAX_SIZE", 8),
                "timeout": env_int("DATABASE_POOL_TIMEOUT", 10),
            },
        },
    }


DATA_DIR = Path(env_str("QUORUM_DATA_DIR", str(BASE_DIR / "data")))
DEBUG = env_bool("DJANGO_DEBUG", True)

_PLACEHOLDER_SECRETS = {"", "change-me", "changeme", "replace-me"}
SECRET_KEY = env_str("DJANGO_SECRET_KEY", "")
if SECRET_KEY in _PLACEHOLDER_SECRETS:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY must be set to a long random value when DJANGO_DEBUG is off"
        )
    # Development only: a generated secret kept in the data folder so sessions survive restarts.
    _secret_file = DATA_DIR / ".secret_key"
    if not _secret_file.exists():
        _secret_file.parent.mkdir(parents=True, exist_ok=True)
        _secret_file.write_text(secrets.token_urlsafe(50))
    SECRET_KEY = _secret_file.read_text().strip()

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "allauth",
    "allauth.account",
    "crowd.common",
    "crowd.accounts",
    "workflows.projects",
    "crowd.qualifications",
    "crowd.assignment",
    "crowd.labeling",
    "workflows.golden",
    "workflows.webhooks",
    "crowd.pay",
    "workflows.pipeline",
    "workflows.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "crowd.urls"
WSGI_APPLICATION = "crowd.wsgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASE_URL = env_str("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": database_from_url(DATABASE_URL)}
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "quorum.sqlite3",
            # Writers wait for the lock instead of failing at once.
            "OPTIONS": {"timeout": 20},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

# django-allauth: username + email sign-up; email verification is optional because a local
# install has no mail server (mail goes to the console unless EMAIL_URL-style settings are added).
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "username*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = env_str("ACCOUNT_EMAIL_VERIFICATION", "optional")
ACCOUNT_ADAPTER = "crowd.accounts.adapter.AccountAdapter"
ACCOUNT_LOGOUT_ON_GET = False
EMAIL_BACKEND = env_str("DJANGO_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DJANGO_DEFAULT_FROM_EMAIL", "quorum@localhost")

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("DJANGO_STATIC_ROOT", str(DATA_DIR / "static")))
STATICFILES_DIRS = [BASE_DIR / "templates" / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(DATA_DIR / "media")))

# Upload limits: an image above QUORUM_MAX_IMAGE_BYTES or QUORUM_MAX_IMAGE_PIXELS is refused
# with a 4xx; a zip import is bounded by member count and total uncompressed size (zip bombs).
QUORUM_MAX_IMAGE_BYTES = env_int("QUORUM_MAX_IMAGE_BYTES", 25 * 1024 * 1024)
QUORUM_MAX_IMAGE_PIXELS = env_int("QUORUM_MAX_IMAGE_PIXELS", 100_000_000)
QUORUM_MAX_ARCHIVE_BYTES = env_int("QUORUM_MAX_ARCHIVE_BYTES", 2 * 1024 * 1024 * 1024)
QUORUM_MAX_ARCHIVE_MEMBERS = env_int("QUORUM_MAX_ARCHIVE_MEMBERS", 100_000)
# Server-side folder imports read only below this root; unset disables folder imports.
QUORUM_IMPORT_ROOT = env_str("QUORUM_IMPORT_ROOT", "")
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DJANGO_DATA_UPLOAD_MAX_MEMORY_SIZE", 10 * 1024 * 1024)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "crowd.accounts.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "crowd.common.pagination.Pagination",
    "DEFAULT_FILTER_BACKENDS": [
        "crowd.common.query_params.KnownQueryParams",  # first: an unknown parameter is a 400
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
        "rest_framework.filters.SearchFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "crowd.common.exceptions.api_exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Quorum API",
    "DESCRIPTION": "Crowdsourced image annotation: projects, items, assignments, consensus.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "ProjectStatusEnum": "workflows.projects.models.ProjectStatus",
        "AssignmentStatusEnum": "crowd.assignment.models.AssignmentStatus",
        "ItemStateEnum": "workflows.projects.models.ItemState",
        "PayoutBatchStatusEnum": "crowd.pay.models.PayoutBatchStatus",
    },
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Celery. The rule is configuration, never a runtime fallback: with no CELERY_BROKER_URL,
# tasks run inline in the calling process (eager); with one, they go to the broker.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND") or None
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_TASK_DEFAULT_QUEUE", "celery")
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# Tasks are idempotent, so they are acknowledged after they run and requeued if the worker dies.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# max_retries 0: a web process that finds the broker down gives up on the send at once (the
# follow-up stays in the outbox for the sweep) instead of sleeping 6 s in kombu's retry loop
# while holding a request. Workers reconnect by their own broker_connection_* settings.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 6 * 3600, "max_retries": 0}
CELERY_BEAT_SCHEDULE = {
    # Free the slots of leases whose deadline passed (lease + 2 x this interval at worst).
    "expire-overdue-leases": {
        "task": "crowd.assignment_expire_overdue",
        "schedule": env_int("QUORUM_LEASE_REAPER_SECONDS", 30),
    },
    # Send follow-ups (consensus jobs, automatic reviews, export builds) that their
    # transaction's commit hook could not: the broker was down (crowd/common/followups.py).
    "followups-send-due": {"task": "crowd.followups_send_due", "schedule": 5.0},
    # Re-queue consensus for items whose job message was lost (at-least-once delivery).
    "sweep-stale-consensus": {"task": "workflows.consensus_sweep", "schedule": 120},
    # Re-send webhook deliveries whose queue message was lost (broker restart, killed worker).
    "webhooks-retry-due": {"task": "workflows.webhook_retry_due", "schedule": 60.0},
    # Approve submitted work past its project's auto_approve_seconds (replays pay nothing twice).
    "pay-auto-approve-due": {"task": "crowd.pay_auto_approve_due", "schedule": 300},
    # Fund label slots ahead of the claims (crowd/pay/funding.py): a claim that finds no funded
    # slot funds them too; this keeps new, raised or repriced items from waiting for that.
    "pay-slots-fund": {"task": "crowd.pay_slots_fund", "schedule": 60.0},
    # Checkpoint busy ledger balances: a balance read sums the entries since the checkpoint.
    "pay-balances-checkpoint": {"task": "crowd.pay_balances_checkpoint", "schedule": 60.0},
    # Automatic bonuses for the last complete UTC day or week; hourly, so that a budget top-up
    # pays the rest (idempotent by key).
    "bonus-rules-apply": {"task": "crowd.pay_bonus_rules_apply", "schedule": crontab(minute=15)},
    # Weekly payout: one batch per currency with anything owed.
    "payout-batches-close": {
        "task": "crowd.pay_payout_batches_close",
        "schedule": crontab(minute=0, hour=2, day_of_week="mon"),
    },
}
# At least the number of connections that may claim at once (all web processes x pool size):
# the budget's lock-free path keeps this many rewards in hand (crowd/pay/budget/reservations.py).
QUORUM_BUDGET_CONCURRENT_CLAIMS = env_int("QUORUM_BUDGET_CONCURRENT_CLAIMS", 100)
# Webhooks may target private or loopback addresses (the SSRF guard off). Defaults to DEBUG.
QUORUM_WEBHOOKS_ALLOW_PRIVATE = env_bool("QUORUM_WEBHOOKS_ALLOW_PRIVATE", DEBUG)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("DJANGO_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

if not DEBUG:
    # Production: HTTPS everywhere. Behind a TLS-terminating proxy set DJANGO_SECURE_PROXY_SSL=1.
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", True)
    SECURE_CONTENT_TYPE_NOSNIFF = True
    # Stateless web processes serve their own static files (collected at build time).
    MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")
    STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    if env_bool("DJANGO_SECURE_PROXY_SSL", False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
