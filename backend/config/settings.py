"""The one settings module, driven by the environment (see .env.example).

With no environment at all it runs the embedded mode: SQLite and a filesystem Celery broker
under var/. DJANGO_ENV=production removes every default for secrets and turns on the
deploy checks' security settings.
"""

from __future__ import annotations

from pathlib import Path

from backend.config.env import (
    env_bool,
    env_choice,
    env_int,
    env_list,
    env_str,
    parse_database_url,
)

BASE_DIR = Path(__file__).resolve().parents[2]
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

ENVIRONMENT = env_choice("DJANGO_ENV", "development", ("development", "production", "test"))
PRODUCTION = ENVIRONMENT == "production"

if PRODUCTION:
    SECRET_KEY = env_str("SECRET_KEY")  # no default: a missing secret stops the boot
    ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [])
    if not ALLOWED_HOSTS:
        from backend.config.env import ImproperlyConfiguredEnv

        raise ImproperlyConfiguredEnv("ALLOWED_HOSTS is required in production")
else:
    SECRET_KEY = env_str("SECRET_KEY", "dev-only-insecure-key-never-use-in-production")
    ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])

DEBUG = env_bool("DEBUG", not PRODUCTION)

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
    "backend.common",
    "backend.accounts",
    "backend.therapy",
    "backend.catalogue",
    "backend.recommendations",
    "backend.reports",
    "frontend",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "backend.config.urls"
WSGI_APPLICATION = "backend.config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

DATABASES = {
    "default": parse_database_url(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
        base_dir=BASE_DIR,
        # the web server sets it (deploy/serve.py); see env.parse_database_url
        pool_size=env_int("DATABASE_POOL_SIZE", 0, minimum=0),
    )
}
if str(DATABASES["default"]["ENGINE"]).endswith("sqlite3"):
    # Tests on SQLite use a file, not Django's shared in-memory database: the browser tests'
    # live server answers from several threads at once, and one in-memory connection shared
    # between them (and the test) can deadlock; with a file each thread has its own.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# The ASGI app serves static files itself (make serve); in production the proxy does.
SERVE_STATIC = env_bool("SERVE_STATIC", not PRODUCTION)
STATIC_ROOT = VAR_DIR / "static"
MEDIA_URL = "media/"  # never served publicly: frames are health data
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))

LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"

# --- Uploads (a frame is health data and an attack surface) ---
FRAME_MAX_BYTES = env_int("FRAME_MAX_BYTES", 2 * 1024 * 1024, minimum=1024)
FRAME_MAX_PIXELS = env_int("FRAME_MAX_PIXELS", 4096 * 4096, minimum=64 * 64)
FRAME_MAX_SIDE = env_int("FRAME_MAX_SIDE", 8192, minimum=64)
# keep raw frames after analysis? default no: only derived readings are kept
FRAME_RETENTION = env_choice("FRAME_RETENTION", "delete", ("delete", "keep"))
# with FRAME_RETENTION=keep, `manage.py purge_frames` deletes raw frames older than this
FRAME_RETENTION_DAYS = env_int("FRAME_RETENTION_DAYS", 30, minimum=1)
# request body cap a little above the frame cap (multipart overhead)
DATA_UPLOAD_MAX_MEMORY_SIZE = FRAME_MAX_BYTES + 256 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = FRAME_MAX_BYTES + 256 * 1024
CONSENT_NOTICE_VERSION = env_str("CONSENT_NOTICE_VERSION", "2026-11")
# Login brute-force lockout (backend/accounts/lockout.py): failures per username+address
# within the window; an address gets 4x over all usernames, a username 10x over all addresses.
LOGIN_LOCKOUT_FAILURES = env_int("LOGIN_LOCKOUT_FAILURES", 5, minimum=1)
LOGIN_LOCKOUT_MINUTES = env_int("LOGIN_LOCKOUT_MINUTES", 15, minimum=1)
# API tokens expire this long after they were issued (sign-in again for a new one); they are
# also revoked on sign-out and on any password change.
API_TOKEN_TTL_HOURS = env_int("API_TOKEN_TTL_HOURS", 24, minimum=1)

# Catalogue CSV imports (backend/catalogue/services.py): size and row caps.
CATALOGUE_IMPORT_MAX_BYTES = env_int("CATALOGUE_IMPORT_MAX_BYTES", 32 * 1024 * 1024, minimum=1024)
CATALOGUE_IMPORT_MAX_ROWS = env_int("CATALOGUE_IMPORT_MAX_ROWS", 200_000, minimum=1)
# Live events (server-sent events, backend/therapy/live.py): how long one stream stays open
# under the ASGI server before the browser reconnects, and how many one user may hold at once.
LIVE_STREAM_SECONDS = env_int("LIVE_STREAM_SECONDS", 300, minimum=1)
LIVE_MAX_STREAMS_PER_USER = env_int("LIVE_MAX_STREAMS_PER_USER", 5, minimum=1)
# Crash points for the fault tests only (backend/common/faults.py); never set in production.
FAULT_POINTS = frozenset(env_list("FAULT_POINTS", []))
# A queued frame whose message was sent this long ago without being claimed is sent again (the
# broker may have lost it); the claim makes a duplicate harmless.
FRAME_RESEND_AFTER_SECONDS = env_int("FRAME_RESEND_AFTER_SECONDS", 300, minimum=10)
# Files under MEDIA_ROOT that no row names are removed after this grace period.
ORPHAN_GRACE_MINUTES = env_int("ORPHAN_GRACE_MINUTES", 60, minimum=1)

# --- Celery (producer side here; workers/ configures the consumer from these too) ---
REDIS_URL = env_str("REDIS_URL", "")
# Throttles (DRF) live in the cache: with Redis they are shared by every web process and host.
CACHES: dict[str, dict[str, object]] = {
    "default": {
        "BACKEND": "backend.common.cache.FailOpenRedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "moodtune-cache",
    }
    if REDIS_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL or "filesystem://")
BROKER_DIR = VAR_DIR / "broker"
if CELERY_BROKER_URL.startswith("filesystem"):
    for _folder in ("out", "processed", "control"):
        (BROKER_DIR / _folder).mkdir(parents=True, exist_ok=True)
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = (
    {
        "data_folder_in": str(BROKER_DIR / "out"),
        "data_folder_out": str(BROKER_DIR / "out"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
    if CELERY_BROKER_URL.startswith("filesystem")
    else {"visibility_timeout": 3600}
)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_FRAMES_QUEUE = env_str("CELERY_FRAMES_QUEUE", "frames")
CELERY_LIGHT_QUEUE = env_str("CELERY_LIGHT_QUEUE", "light")

# --- ML (read by workers) ---
ML_DEVICE = env_choice("ML_DEVICE", "auto", ("auto", "cpu", "cuda"))
ML_CHECKPOINT = env_str("ML_CHECKPOINT", str(BASE_DIR / "ml" / "weights" / "emotion.pt"))

# --- REST framework ---
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "backend.accounts.authentication.ExpiringTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "backend.common.errors.api_exception_handler",
    "DEFAULT_THROTTLE_RATES": {"uploads": env_str("UPLOAD_RATE", "600/min")},
    # reverse proxies in front of the web server (1 behind deploy/proxy); 0 = trust no
    # X-Forwarded-For: throttles and the login lockout then key on REMOTE_ADDR
    "NUM_PROXIES": env_int("NUM_PROXIES", 0, minimum=0),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "MoodTune API",
    "DESCRIPTION": "Music therapy driven by facial emotion recognition.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # several "kind" fields with different choices: each enum gets its own name
    "ENUM_NAME_OVERRIDES": {
        "PlaybackKindEnum": "backend.recommendations.models.PlaybackKind",
        "FeedbackKindEnum": "backend.recommendations.models.FeedbackKind",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}

if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SESSION_COOKIE_HTTPONLY = True
    X_FRAME_OPTIONS = "DENY"
    CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
