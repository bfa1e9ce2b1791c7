"""Settings: every value comes from the environment, read here and nowhere else.

DJANGO_ENV selects the profile: development (default), test, production. Production refuses to
start without a real SECRET_KEY, ALLOWED_HOSTS, DATABASE_URL and REDIS_URL, and turns on every
protection `manage.py check --deploy` asks for. Bad values fail at start-up with a message
naming the variable, never later at request time.
"""

import os
import zoneinfo
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
ENV = os.environ


def env_str(name: str, default: str | None = None) -> str:
    value = ENV.get(name, "").strip()
    if value:
        return value
    if default is None:
        raise ImproperlyConfigured(f"{name} must be set when DJANGO_ENV={DJANGO_ENV}")
    return default


def env_bool(name: str, default: bool) -> bool:
    raw = ENV.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = ENV.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {raw!r}") from None


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in ENV.get(name, default).split(",") if item.strip()]


DJANGO_ENV = ENV.get("DJANGO_ENV", "development").strip() or "development"
if DJANGO_ENV not in {"development", "test", "production"}:
    raise ImproperlyConfigured(f"DJANGO_ENV must be development, test or production, not {DJANGO_ENV!r}")
PRODUCTION = DJANGO_ENV == "production"
TESTING = DJANGO_ENV == "test"

if PRODUCTION:
    SECRET_KEY = env_str("SECRET_KEY")
    if len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5 or SECRET_KEY.startswith("django-insecure"):
        raise ImproperlyConfigured("SECRET_KEY must be a random string of at least 50 characters")
    ALLOWED_HOSTS = env_list("ALLOWED_HOSTS")
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("ALLOWED_HOSTS must list the site's host names when DJANGO_ENV=production")
else:
    SECRET_KEY = ENV.get("SECRET_KEY") or "django-insecure-development-key-not-for-production-use-0123456789"
    ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
DEBUG = env_bool("DEBUG", default=DJANGO_ENV == "development")
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DEBUG must be off when DJANGO_ENV=production")

SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django_htmx",
    "tutoring",
    "sessions.apps.SessionsConfig",
    "creators",
    "notes",
    "messaging",
    "analytics",
    "telegram_bot",
    "room",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

if PRODUCTION:
    # gunicorn serves the collected static files itself; runserver and tests use staticfiles
    MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")

ROOT_URLCONF = "tutoring.urls"
WSGI_APPLICATION = "tutoring.wsgi.application"
# HTTP and WebSockets (the session room's signaling) alike: uvicorn serves tutoring.asgi:application
ASGI_APPLICATION = "tutoring.asgi.application"
AUTH_USER_MODEL = "tutoring.User"
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

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

# --- database -------------------------------------------------------------------------------
if "DATABASE_URL" not in ENV and PRODUCTION:
    raise ImproperlyConfigured("DATABASE_URL must be set when DJANGO_ENV=production")
if "DATABASE_URL" not in ENV:
    raise ImproperlyConfigured(
        "DATABASE_URL is not set. `make run` and `make test` start an embedded PostgreSQL and set it; "
        "to run manage.py by hand, export DATABASE_URL=postgresql://USER@HOST/DB"
    )
try:
    _db = dj_database_url.parse(ENV["DATABASE_URL"], conn_max_age=env_int("DB_CONN_MAX_AGE", 60))
except ValueError as exc:
    raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {exc}") from None
if _db.get("ENGINE") != "django.db.backends.postgresql":
    raise ImproperlyConfigured("DATABASE_URL must point at PostgreSQL (postgresql://...)")
_db["CONN_HEALTH_CHECKS"] = True
_db.setdefault("OPTIONS", {})
_db["TEST"] = {"NAME": f"test_{_db['NAME']}"}
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- redis: cache and Celery broker ---------------------------------------------------------
if "REDIS_URL" not in ENV:
    raise ImproperlyConfigured("REDIS_URL is not set (redis://HOST:6379/0 or unix:///path/redis.sock)")
REDIS_URL = ENV["REDIS_URL"].strip()
_redis = urlsplit(REDIS_URL)
if _redis.scheme not in {"redis", "rediss", "unix"}:
    raise ImproperlyConfigured("REDIS_URL must start with redis://, rediss:// or unix://")
# Celery/kombu spell a unix socket redis+socket://
CELERY_BROKER_URL = f"redis+socket://{_redis.path}" if _redis.scheme == "unix" else REDIS_URL
# The cache may live on a Redis of its own (CACHE_URL), one that may evict (allkeys-lru), apart
# from the broker's, which must never evict a queued task. Default: the broker's Redis.
CACHE_URL = ENV.get("CACHE_URL", "").strip() or REDIS_URL
if urlsplit(CACHE_URL).scheme not in {"redis", "rediss", "unix"}:
    raise ImproperlyConfigured("CACHE_URL must start with redis://, rediss:// or unix://")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": CACHE_URL,
        "KEY_PREFIX": "tutoring",
        # a hung cache fails a page's cache call within a second (pages then build without it)
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }
}
CELERY_TASK_IGNORE_RESULT = True  # tasks write to the database; a caller may still ask for a result
CELERY_RESULT_BACKEND = CELERY_BROKER_URL
CELERY_RESULT_EXPIRES = 3600
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
# Unit tests run tasks eagerly; the Celery integration tests start a real worker instead.
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", default=TESTING)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BEAT_SCHEDULE = {
    "expire-reschedule-threads": {"task": "sessions.tasks.expire_reschedules", "schedule": crontab()},
    "mark-no-shows": {"task": "sessions.tasks.mark_no_shows", "schedule": crontab()},
    "requeue-stalled-summaries": {"task": "notes.tasks.requeue_stalled_summaries",
                                  "schedule": crontab(minute="*/10")},
}

# --- the session room (spec 002): signaling and presence over Channels on the same Redis ---------
# The channel layer carries the room's WebRTC signaling between the two participants' sockets;
# presence (who is connected, refreshed by heartbeats) is kept in Redis keys that expire.
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            # a unix:// REDIS_URL works as is (redis-py's from_url). The layer waits on the Redis
            # with BZPOPMIN for 5 s at a time; redis-py 8's default 5 s socket timeout would cut
            # that wait short and kill the socket, so reads may take longer here.
            # redis-py's pool refuses (not waits) past max_connections: room for bursts of relays
            "hosts": [{"address": REDIS_URL, "socket_timeout": 15, "socket_connect_timeout": 5,
                       "max_connections": env_int("ROOM_LAYER_MAX_CONNECTIONS", 1000)}],
            "prefix": env_str("ROOM_CHANNEL_PREFIX", "tutoring-room"),
            # a message nobody read within 10 s is stale signaling: drop it
            "expiry": 10,
            # every socket of one process shares one inbox key on the layer ("specific.<process>!"):
            # its capacity is the backlog of the whole process, not of one socket
            "capacity": env_int("ROOM_LAYER_CAPACITY", 10000),
        },
    }
}
ROOM_OPENS_BEFORE = timedelta(minutes=env_int("ROOM_OPENS_BEFORE_MINUTES", 15))
# No Show: the other participant has not joined this long after the scheduled start
ROOM_NO_SHOW_GRACE = timedelta(minutes=env_int("ROOM_NO_SHOW_GRACE_MINUTES", 15))
ROOM_HEARTBEAT_SECONDS = env_int("ROOM_HEARTBEAT_SECONDS", 10)
# a connection whose heartbeats stop is absent after this long
ROOM_PRESENCE_TTL_SECONDS = env_int("ROOM_PRESENCE_TTL_SECONDS", 30)
if not 1 <= ROOM_HEARTBEAT_SECONDS < ROOM_PRESENCE_TTL_SECONDS:
    raise ImproperlyConfigured("ROOM_HEARTBEAT_SECONDS must be at least 1 and below ROOM_PRESENCE_TTL_SECONDS")
# ICE servers for the built-in peer-to-peer room. On one machine or one LAN none is needed; across
# NATs give STUN, and TURN (coturn in docker-compose.yml) for networks where peer-to-peer fails.
# TURN credentials: a static user and password, or coturn's shared secret (use-auth-secret), from
# which each participant gets a username and password valid ROOM_TURN_TTL_SECONDS.
ROOM_STUN_URLS = env_list("ROOM_STUN_URLS")
ROOM_TURN_URLS = env_list("ROOM_TURN_URLS")
ROOM_TURN_USERNAME = ENV.get("ROOM_TURN_USERNAME", "").strip()
ROOM_TURN_PASSWORD = ENV.get("ROOM_TURN_PASSWORD", "").strip()
ROOM_TURN_SECRET = ENV.get("ROOM_TURN_SECRET", "").strip()
ROOM_TURN_TTL_SECONDS = env_int("ROOM_TURN_TTL_SECONDS", 6 * 3600)
for _url in ROOM_STUN_URLS:
    if not _url.startswith(("stun:", "stuns:")):
        raise ImproperlyConfigured(f"ROOM_STUN_URLS entries must start with stun: or stuns:, not {_url!r}")
for _url in ROOM_TURN_URLS:
    if not _url.startswith(("turn:", "turns:")):
        raise ImproperlyConfigured(f"ROOM_TURN_URLS entries must start with turn: or turns:, not {_url!r}")
if ROOM_TURN_URLS and not (ROOM_TURN_SECRET or (ROOM_TURN_USERNAME and ROOM_TURN_PASSWORD)):
    raise ImproperlyConfigured("ROOM_TURN_URLS needs ROOM_TURN_SECRET, or ROOM_TURN_USERNAME and ROOM_TURN_PASSWORD")

# --- time -----------------------------------------------------------------------------------
USE_TZ = True
TIME_ZONE = env_str("TIME_ZONE", "UTC")
if TIME_ZONE not in zoneinfo.available_timezones():
    raise ImproperlyConfigured(f"TIME_ZONE {TIME_ZONE!r} is not an IANA time zone")
LANGUAGE_CODE = "en-us"
USE_I18N = True

# --- static files ---------------------------------------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "var" / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "var" / "media")))

# --- notes: attachments on object storage ---------------------------------------------------
# With R2_BUCKET set, attachments go to a private Cloudflare R2 (or any S3-compatible) bucket and
# every read is a presigned URL. Without it they go to a local folder under var/, served only by a
# view through signed, expiring links. Either way no attachment is ever public.
NOTES_MAX_UPLOAD_BYTES = env_int("NOTES_MAX_UPLOAD_MB", 10) * 1024 * 1024
NOTES_MAX_FILES = env_int("NOTES_MAX_FILES", 20)
NOTES_LINK_SECONDS = env_int("NOTES_LINK_SECONDS", 300)
if not 1 <= NOTES_LINK_SECONDS <= 300:
    raise ImproperlyConfigured("NOTES_LINK_SECONDS must be between 1 and 300 (links live at most 5 minutes)")
R2_BUCKET = ENV.get("R2_BUCKET", "").strip()


def s3_notes_storage(*, bucket: str, endpoint_url: str, access_key: str, secret_key: str,
                     region: str = "auto", link_seconds: int = NOTES_LINK_SECONDS) -> dict:
    """The STORAGES entry for attachments on R2 or another S3-compatible store (the tests and the
    upload benchmark use it for their SeaweedFS server too)."""
    from boto3.s3.transfer import TransferConfig
    from botocore.config import Config

    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": endpoint_url,
            "access_key": access_key,
            "secret_key": secret_key,
            "region_name": region,
            "client_config": Config(
                s3={"addressing_style": "path"}, signature_version="s3v4",
                # R2 rejects botocore's default CRC32 trailers on some calls, and computing them
                # holds two 1 MB chunks per upload: checksums only where S3 requires them
                request_checksum_calculation="when_required", response_checksum_validation="when_required"),
            "default_acl": None,
            "querystring_auth": True,
            "querystring_expire": link_seconds,
            "file_overwrite": False,
            # one streamed PUT per file (R2 takes up to 5 GB that way): no 8 MB parts held in memory
            "transfer_config": TransferConfig(multipart_threshold=64 * 1024 * 1024, use_threads=False),
        },
    }


if R2_BUCKET:
    NOTES_STORAGE = s3_notes_storage(bucket=R2_BUCKET, endpoint_url=env_str("R2_ENDPOINT_URL"),
                                     access_key=env_str("R2_ACCESS_KEY_ID"),
                                     secret_key=env_str("R2_SECRET_ACCESS_KEY"), region=env_str("R2_REGION", "auto"))
else:
    NOTES_STORAGE = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        # base_url is never used: files are served by notes.views.signed_file only
        "OPTIONS": {"location": str(Path(env_str("NOTES_ROOT", str(BASE_DIR / "var" / "notes"))))},
    }
STORAGES["notes"] = NOTES_STORAGE
# Every upload streams through the size-limiting handler to a temporary file: a file over the
# limit is refused while it streams, and no upload is ever held whole in memory.
FILE_UPLOAD_HANDLERS = ["notes.uploads.LimitedUploadHandler"]

# --- AI summaries and transcription ---------------------------------------------------------
# Without OPENAI_API_KEY, a local extractive summarizer runs instead (plainly labelled) and voice
# memos are kept without a transcript.
OPENAI_API_KEY = ENV.get("OPENAI_API_KEY", "").strip()
OPENAI_BASE_URL = ENV.get("OPENAI_BASE_URL", "").strip() or None
OPENAI_SUMMARY_MODEL = env_str("OPENAI_SUMMARY_MODEL", "gpt-4.1-mini")
OPENAI_TRANSCRIBE_MODEL = env_str("OPENAI_TRANSCRIBE_MODEL", "gpt-4o-mini-transcribe")
OPENAI_TIMEOUT_SECONDS = env_int("OPENAI_TIMEOUT_SECONDS", 60)

# --- email ----------------------------------------------------------------------------------
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Tutoring <no-reply@localhost>")
SMTP_EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
_mailer = {
    "BACKEND": env_str(
        "EMAIL_BACKEND",
        "django.core.mail.backends.locmem.EmailBackend"
        if TESTING
        else SMTP_EMAIL_BACKEND
        if PRODUCTION
        else "django.core.mail.backends.console.EmailBackend",
    )
}
if _mailer["BACKEND"] == SMTP_EMAIL_BACKEND:
    # Resend (or any provider) over SMTP: smtp.resend.com, user "resend", the API key as password
    _mailer["OPTIONS"] = {
        "host": env_str("EMAIL_HOST", "localhost"),
        "port": env_int("EMAIL_PORT", 587),
        "username": ENV.get("EMAIL_HOST_USER", ""),
        "password": ENV.get("EMAIL_HOST_PASSWORD", ""),
        "use_tls": env_bool("EMAIL_USE_TLS", True),
        "timeout": 30,
    }
MAILERS = {"default": _mailer}

# --- security -------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

LOG_LEVEL = env_str("LOG_LEVEL", "WARNING" if TESTING else "INFO").upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured(f"LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, not {LOG_LEVEL!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
}

# --- product rules that operations may tune -------------------------------------------------
COORDINATOR_WAIVER_REMINDER = env_str(
    "COORDINATOR_WAIVER_REMINDER",
    "A coordinator can waive this penalty for emergencies or illness: contact your coordinator "
    "before or right after you cancel.",
)
ADHOC_MAX_AGE = timedelta(days=env_int("ADHOC_MAX_AGE_DAYS", 30))
