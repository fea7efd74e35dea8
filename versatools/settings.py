"""Django settings for VersaTools.

All configuration comes from the environment (and an optional ``.env`` file
beside ``manage.py``); README.md lists every variable. Readers in
``versatools.config`` raise ``ImproperlyConfigured`` naming the variable.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from versatools.config import (
    database_from_url,
    email_from_url,
    env,
    env_bool,
    env_choice,
    env_int,
    env_list,
    env_str,
    oauth_app,
)

BASE_DIR = Path(__file__).resolve().parent.parent
if (BASE_DIR / ".env").is_file():
    env.read_env(str(BASE_DIR / ".env"))

DJANGO_ENV = env_choice("DJANGO_ENV", "development", ("development", "production"))
PRODUCTION = DJANGO_ENV == "production"

DEBUG = env_bool("DEBUG", not PRODUCTION)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DEBUG must be off when DJANGO_ENV=production.")
_DEV_SECRET_KEY = "dev-insecure-key-not-for-production"
SECRET_KEY = env_str("SECRET_KEY", None if PRODUCTION else _DEV_SECRET_KEY, required=PRODUCTION)
# Keys anyone can read (this repository's, an old docker-compose default,
# Django's startproject marker) sign sessions anyone can forge.
_PUBLISHED_SECRET_KEYS = {_DEV_SECRET_KEY, "compose-dev-secret-change-me"}
if PRODUCTION and SECRET_KEY is not None:
    if SECRET_KEY in _PUBLISHED_SECRET_KEYS or SECRET_KEY.startswith("django-insecure-"):
        raise ImproperlyConfigured("SECRET_KEY is a published development key; set a secret of your own in production.")
    if len(SECRET_KEY) < 32:
        raise ImproperlyConfigured("SECRET_KEY must be at least 32 characters in production.")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [] if PRODUCTION else ["localhost", "127.0.0.1", "[::1]", "testserver"])
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("Set the ALLOWED_HOSTS environment variable (comma-separated) in production.")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # Sign-up, email verification, sign-in, password reset and change, and
    # OAuth sign-in (README "Accounts"); no django.contrib.sites: the OAuth
    # clients come from settings (SOCIALACCOUNT_PROVIDERS "APPS" below). Before
    # accounts, whose admin module replaces allauth's admin pages.
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.github",
    "allauth.socialaccount.providers.google",
    "versatools",
    "accounts",
    "billing",
    "history",
    "stats",
    "files",
    "tools",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files (hub.css, tool.js, the admin's) straight from gunicorn, before any session or database work.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # First: a NUL byte in a URL or header would reach PostgreSQL (a 500); 400 instead.
    "versatools.middleware.NulByteGuardMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After authentication (it needs the session's user; neither reads the
    # body) and before anything reads the body: refuses anonymous and
    # oversized uploads unread. CsrfViewMiddleware above reads it only in its
    # process_view, which runs after every __call__ here.
    "versatools.middleware.UploadBodyLimitMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # allauth's request context and its redirects of a bare /accounts/; it reads no body.
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "versatools.urls"
WSGI_APPLICATION = "versatools.wsgi.application"
ASGI_APPLICATION = "versatools.asgi.application"

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

# --- Database -------------------------------------------------------------
# DATABASE_URL is what the app uses (Supabase: the pooled URL on port 6543
# with ?pgbouncer=true). DIRECT_URL, when set, is what `migrate` uses (the
# session-mode URL on 5432), like Prisma's directUrl. Unset: a SQLite file so
# that a first run needs no server.
CONN_MAX_AGE = env_int("DB_CONN_MAX_AGE", 60, minimum=0)
_database_url = env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
assert _database_url is not None
DATABASES = {"default": database_from_url("DATABASE_URL", _database_url, conn_max_age=CONN_MAX_AGE)}
_direct_url = env_str("DIRECT_URL")
DIRECT_DATABASE = database_from_url("DIRECT_URL", _direct_url, conn_max_age=0) if _direct_url else None
# Daily backups (versatools/backups.py): where they go (s3://bucket/prefix, with
# the S3 settings below, or a folder; unset: none), how long copies are kept,
# and the URL pg_dump reads (a session, never the pooler).
BACKUP_STORAGE = env_str("BACKUP_STORAGE", "") or ""
BACKUP_RETENTION_DAYS = env_int("BACKUP_RETENTION_DAYS", 7, minimum=1)
BACKUP_DATABASE_URL = env_str("BACKUP_DATABASE_URL", "") or _direct_url or _database_url
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
# ModelBackend for the operator admin's own login form; allauth's for the
# site's sign-in (email, rate limits).
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

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# WhiteNoise serves STATIC_ROOT (collectstatic, the image does it); while developing, the apps' own folders.
WHITENOISE_USE_FINDERS = DEBUG
if DEBUG:
    # Nothing is collected while developing (the finders serve the files): the missing folder is expected.
    warnings.filterwarnings("ignore", message="No directory at: ", category=UserWarning)
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))  # type: ignore[arg-type]
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "media")))  # type: ignore[arg-type]
MEDIA_URL = "media/"

# --- Object storage -------------------------------------------------------
# Local filesystem by default; an S3-compatible bucket (Supabase Storage's S3
# endpoint, MinIO, AWS) when S3_BUCKET is set.
S3_BUCKET = env_str("S3_BUCKET")
_storage_default: dict[str, Any]
if S3_BUCKET:
    _storage_default = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": S3_BUCKET,
            "endpoint_url": env_str("S3_ENDPOINT_URL"),
            "region_name": env_str("S3_REGION", "us-east-1"),
            "access_key": env_str("S3_ACCESS_KEY_ID"),
            "secret_key": env_str("S3_SECRET_ACCESS_KEY"),
            # Supabase and MinIO want path-style addressing.
            "addressing_style": env_choice("S3_ADDRESSING_STYLE", "path", ("path", "virtual", "auto")),
            "signature_version": "s3v4",
            "default_acl": None,
            "querystring_auth": True,
            "querystring_expire": env_int("S3_SIGNED_URL_SECONDS", 300, minimum=1),
            # Keys carry a UUID, so an existing key is a bug, never a rename.
            "file_overwrite": False,
        },
    }
else:
    _storage_default = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(MEDIA_ROOT), "base_url": "/" + MEDIA_URL},
    }
# Subscriptions (billing/subscriptions.py): a trial's length when none is
# given, and how long a past_due subscription keeps its plan before it expires.
TRIAL_DAYS = env_int("TRIAL_DAYS", 14, minimum=1)
# POST /api/webhooks/billing (billing/webhooks.py): the shared secret the
# provider signs with (unset: the endpoint answers 503), and how old a
# signature may be.
BILLING_WEBHOOK_SECRET = env_str("BILLING_WEBHOOK_SECRET", "") or ""
BILLING_WEBHOOK_TOLERANCE_SECONDS = env_int("BILLING_WEBHOOK_TOLERANCE_SECONDS", 300, minimum=1)
SUBSCRIPTION_GRACE_DAYS = env_int("SUBSCRIPTION_GRACE_DAYS", 7, minimum=0)
# Direct uploads (POST /api/uploads): the client sends the bytes straight to
# the S3 bucket with a signed target that lives DIRECT_UPLOAD_SECONDS; the
# upload id stays valid a few minutes longer, for a start after a late upload.
# "post": an S3 presigned POST whose policy pins the exact size and type (AWS,
# MinIO). "put": a presigned PUT with both signed in (Supabase Storage's S3
# endpoint presigns query-string URLs only).
DIRECT_UPLOAD_SECONDS = env_int("DIRECT_UPLOAD_SECONDS", 600, minimum=30)
DIRECT_UPLOAD_METHOD = env_choice("DIRECT_UPLOAD_METHOD", "post", ("post", "put"))
# The bucket's address as browsers reach it, for the URLs signed for them
# (downloads, direct upload targets), when it differs from S3_ENDPOINT_URL,
# the app's own (docker-compose: http://minio:9000 inside, localhost:9000 outside).
S3_PUBLIC_ENDPOINT_URL = env_str("S3_PUBLIC_ENDPOINT_URL")
# Every object key starts with this folder (default none, so that keys begin
# with the user id, which per-user bucket folder policies key on); reconcile lists only
# under it, so a shared bucket's other contents are never touched.
STORAGE_KEY_PREFIX = (env_str("STORAGE_KEY_PREFIX", "") or "").strip("/")
if STORAGE_KEY_PREFIX and (".." in STORAGE_KEY_PREFIX.split("/") or "\\" in STORAGE_KEY_PREFIX):
    raise ImproperlyConfigured(f"STORAGE_KEY_PREFIX must be a plain folder path, got {STORAGE_KEY_PREFIX!r}.")
STORAGES = {
    "default": _storage_default,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# The Supabase Storage bucket (its id) that the files migrations create where
# the storage schema exists, with the upload rules' size limit and types, and
# that the per-user folder policies on storage.objects name (README "Deploying
# on Supabase: storage"). Supabase's S3 endpoint serves it as S3_BUCKET.
SUPABASE_STORAGE_BUCKET = env_str("SUPABASE_STORAGE_BUCKET") or S3_BUCKET or "versatools"
if not (
    SUPABASE_STORAGE_BUCKET.isascii()
    and SUPABASE_STORAGE_BUCKET.replace("-", "").replace("_", "").replace(".", "").isalnum()
    and len(SUPABASE_STORAGE_BUCKET) <= 100
):
    raise ImproperlyConfigured(
        f"SUPABASE_STORAGE_BUCKET must be a bucket id (letters, digits, . - _), got {SUPABASE_STORAGE_BUCKET!r}."
    )

# --- Product rules --------------------------------------------------------
# Hours a run and its files live before cleanup removes them (plans may override).
RUN_RETENTION_HOURS = env_int("RUN_RETENTION_HOURS", 24, minimum=1)
# A new user's credits are no setting: they start on the default plan with its
# credits (billing.services.account_open; README "Runs, credits and quotas").
# A run PROCESSING for longer than this is failed and refunded by the reaper.
STUCK_RUN_TIMEOUT_MINUTES = env_int("STUCK_RUN_TIMEOUT_MINUTES", 30, minimum=1)
# The largest image (width x height) the image tools decode. It bounds a
# worker's memory: README "Tools" gives the measured peak per process at it.
IMAGE_MAX_PIXELS = env_int("IMAGE_MAX_PIXELS", 16_000_000, minimum=1)
# Upload limits: default maximum size; plans may override.
UPLOAD_MAX_BYTES = env_int("UPLOAD_MAX_BYTES", 50 * 1024 * 1024, minimum=1)
# Expired-storage cleanup period: often, so that files go close to their expiry.
CLEANUP_INTERVAL_MINUTES = env_int("CLEANUP_INTERVAL_MINUTES", 15, minimum=1)
# How often beat rolls the runs' tool usage events into the global per-tool
# counters (stats_tool_events_roll). The figures are exact either way (reads
# add the tail); this bounds how long the tail grows.
STATS_ROLL_SECONDS = env_int("STATS_ROLL_SECONDS", 10, minimum=1)
# Rows claimed per cleanup transaction; one S3 DeleteObjects request takes 1,000 keys.
CLEANUP_BATCH_SIZE = env_int("CLEANUP_BATCH_SIZE", 1000, minimum=1)
# Reconcile leaves alone objects without a row, and rows without an object,
# younger than this: they may be an upload or a delete in flight.
RECONCILE_GRACE_HOURS = env_int("RECONCILE_GRACE_HOURS", 24, minimum=0)

# --- Accounts (django-allauth; README "Accounts") ---------------------------
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "account_login"
# The email is the username: accounts.User has no username field.
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
# "optional": an unverified person may sign in (and look around), but not
# start a run while REQUIRE_VERIFIED_EMAIL_FOR_RUNS is on. "mandatory" would
# keep them out entirely, and a lost mail would lock them out of their account.
ACCOUNT_EMAIL_VERIFICATION = "optional"
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[VersaTools] "
# Links in mails (verification, password reset) use the request's host and this scheme.
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https" if PRODUCTION else "http"
# Unverified people may not start runs (history.processing.run_submit): an
# account with an address nobody owns costs us compute and storage for free.
REQUIRE_VERIFIED_EMAIL_FOR_RUNS = env_bool("REQUIRE_VERIFIED_EMAIL_FOR_RUNS", True)

# OAuth sign-in: a provider is offered only when both of its variables are set.
# Its clients live here, not in SocialApp rows (which would need django.contrib.sites).
SOCIALACCOUNT_PROVIDERS: dict[str, dict[str, Any]] = {
    "github": {"SCOPE": ["user:email"]},
    "google": {"SCOPE": ["profile", "email"], "AUTH_PARAMS": {"access_type": "online"}, "OAUTH_PKCE_ENABLED": True},
}
for _provider, _app in (
    ("github", oauth_app("GitHub", "GITHUB_CLIENT_ID", "GITHUB_CLIENT_SECRET")),
    ("google", oauth_app("Google", "GOOGLE_CLIENT_ID", "GOOGLE_CLIENT_SECRET")),
):
    if _app is not None:
        SOCIALACCOUNT_PROVIDERS[_provider]["APPS"] = [_app]
# A provider's address that the provider itself says is verified (GitHub's
# /user/emails "verified", Google's email_verified) signs in to the local
# account with that address and connects the two. An unverified provider
# address never does: anyone can put any address on a GitHub profile. If the
# local address was never verified (someone may have registered it first,
# waiting for its owner to arrive), allauth wipes the local password, which
# locks out whoever chose it; accounts.signals then marks the address
# verified, since the provider has just vouched for it.
SOCIALACCOUNT_EMAIL_AUTHENTICATION = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT = True
# We never call the providers' APIs on a user's behalf: no tokens to keep.
SOCIALACCOUNT_STORE_TOKENS = False
SOCIALACCOUNT_ADAPTER = "accounts.adapters.SocialAccountAdapter"

# --- Mail -------------------------------------------------------------------
# Verification and password-reset mail. Unset: printed to the console (make
# run); production needs a real one (the deploy check warns, versatools.W002).
EMAIL_URL = env_str("EMAIL_URL")
_mail = email_from_url("EMAIL_URL", EMAIL_URL) if EMAIL_URL else {}
EMAIL_BACKEND = _mail.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = _mail.get("EMAIL_HOST") or "localhost"
EMAIL_PORT = _mail.get("EMAIL_PORT", 25)
EMAIL_HOST_USER = _mail.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = _mail.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = _mail.get("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = _mail.get("EMAIL_USE_SSL", False)
if _mail.get("EMAIL_FILE_PATH"):  # filemail:///var/mail/versatools
    EMAIL_FILE_PATH = _mail["EMAIL_FILE_PATH"]
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "VersaTools <no-reply@versatools.local>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- API authentication ----------------------------------------------------
# Supabase's JWT secret (Project Settings > API). Unset: bearer tokens are
# refused and only Django sessions authenticate.
SUPABASE_JWT_SECRET = env_str("SUPABASE_JWT_SECRET", "")
JWT_AUDIENCE = env_str("JWT_AUDIENCE", "authenticated")
JWT_LEEWAY_SECONDS = env_int("JWT_LEEWAY_SECONDS", 0, minimum=0)

# Queries slower than this are logged with their duration and SQL text (never
# parameter values). 0 turns the log off.
SLOW_QUERY_MS = env_int("SLOW_QUERY_MS", 500, minimum=0)

# --- Celery ---------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
# Without a broker, tasks run in-process so that a first run needs no Redis;
# versatools.celery logs one line saying so.
CELERY_TASK_ALWAYS_EAGER = REDIS_URL is None
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"

# --- Security (production) ------------------------------------------------
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

# --- Logging --------------------------------------------------------------
LOG_LEVEL = env_choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR"))
# plain: "... level=INFO logger=history.services pid=7 run started run_id=..."
# (grep run_id=<id>); json: one object per line, the message's key=value
# pairs as fields (versatools/logformat.py).
LOG_FORMAT = env_choice("LOG_FORMAT", "plain", ("plain", "json"))
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s level=%(levelname)s logger=%(name)s pid=%(process)d %(message)s"},
        "json": {"()": "versatools.logformat.JSONFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO", "propagate": True},
    },
}
logging.captureWarnings(True)
