"""Settings: every value comes from the environment, read here and nowhere else.

DJANGO_ENV selects the profile: development (default), test, production. Production refuses to
start without a real SECRET_KEY, ALLOWED_HOSTS, DATABASE_URL and REDIS_URL, and turns on every
protection `manage.py check --deploy` asks for. Bad values fail at start-up with a message
naming the variable, never later at request time.
"""

import os
import re
import zoneinfo
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

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

# The one base of every absolute link (in emails, Telegram messages, unsubscribe headers): scheme
# and host, no path. `make run` sets it from PORT; production defaults to https:// and the first
# of ALLOWED_HOSTS.
SITE_URL = env_str("SITE_URL", f"https://{ALLOWED_HOSTS[0].lstrip('.')}" if PRODUCTION
                   else "http://127.0.0.1:8000").rstrip("/")
if urlsplit(SITE_URL).scheme not in {"http", "https"} or not urlsplit(SITE_URL).netloc or urlsplit(SITE_URL).path:
    raise ImproperlyConfigured(f"SITE_URL must be a base URL such as https://tutoring.example.com, not {SITE_URL!r}")
if PRODUCTION and not SITE_URL.startswith("https://"):
    raise ImproperlyConfigured("SITE_URL must start with https:// when DJANGO_ENV=production")
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
    "ninja",  # the API docs from its own static files (no CDN: works offline and under the CSP)
    "axes",
    "tutoring",
    "sessions.apps.SessionsConfig",
    "creators",
    "notes",
    "messaging",
    "analytics",
    "telegram_bot",
    "video",
    "notifications",
    "room",
    "calendars",
    "desk",
    "demo",  # the demo world (manage.py seed_demo), above every app it composes
    "import_export",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "tutoring.csp.ContentSecurityPolicyMiddleware",  # Django's, plus the notes' object store
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "tutoring.limits.UploadLimitMiddleware",  # a user's uploads per minute, counted before the body is read
    "tutoring.middleware.ViewerTimeZoneMiddleware",  # every request in the signed-in viewer's zone
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "tutoring.middleware.UnreadableQueryMiddleware",  # a NUL in a page's query: a 400 that says so
    # last: turns a locked-out sign-in into the page that says when it lifts (tutoring/signin.py)
    "axes.middleware.AxesMiddleware",
]

if PRODUCTION:
    # production serves the collected static files from the app server (WhiteNoise); in development
    # tutoring.asgi wraps the app in Django's ASGIStaticFilesHandler, and tests use staticfiles
    MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")

ROOT_URLCONF = "tutoring.urls"
WSGI_APPLICATION = "tutoring.wsgi.application"
# HTTP and WebSockets (the session room's signaling) alike: uvicorn serves tutoring.asgi:application
ASGI_APPLICATION = "tutoring.asgi.application"
AUTH_USER_MODEL = "tutoring.User"
# Django's database sessions, the row read by a query built once per process (tutoring/session_store.py)
SESSION_ENGINE = "tutoring.session_store"
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
                "django.template.context_processors.csp",  # {{ csp_nonce }}
                "notifications.context_processors.inbox",
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
    # CONN_MAX_AGE 0: a request runs in one of up to 64 threads of its process (tutoring.asgi),
    # and a connection kept per thread would hold that many. Connections come from
    # psycopg's pool instead, per process, bounded by DB_POOL_MAX_SIZE (a request waits up to
    # DB_POOL_TIMEOUT seconds for one).
    _db = dj_database_url.parse(ENV["DATABASE_URL"], conn_max_age=0)
except ValueError as exc:
    raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {exc}") from None
if _db.get("ENGINE") != "django.db.backends.postgresql":
    raise ImproperlyConfigured("DATABASE_URL must point at PostgreSQL (postgresql://...)")
_db["CONN_HEALTH_CHECKS"] = True
_db.setdefault("OPTIONS", {})
DB_POOL_MIN_SIZE = env_int("DB_POOL_MIN_SIZE", 2)
DB_POOL_MAX_SIZE = env_int("DB_POOL_MAX_SIZE", 10)
DB_POOL_TIMEOUT = env_int("DB_POOL_TIMEOUT", 10)
if not 0 <= DB_POOL_MIN_SIZE <= DB_POOL_MAX_SIZE or DB_POOL_MAX_SIZE < 1:
    raise ImproperlyConfigured("DB_POOL_MIN_SIZE and DB_POOL_MAX_SIZE must satisfy 0 <= min <= max, max >= 1")
if DB_POOL_TIMEOUT < 1:
    raise ImproperlyConfigured("DB_POOL_TIMEOUT must be at least 1 (seconds)")
_db["OPTIONS"]["pool"] = {"min_size": DB_POOL_MIN_SIZE, "max_size": DB_POOL_MAX_SIZE, "timeout": DB_POOL_TIMEOUT,
                          "name": "tutoring"}
# Parameters are bound by PostgreSQL (psycopg's server-side binding, the extended protocol)
# rather than spliced into the SQL text by psycopg, and a statement a connection has run
# DB_PREPARE_THRESHOLD times is prepared on it, so PostgreSQL parses it (and, once it settles on a
# generic plan, plans it) once per connection. "off" never prepares (for a pooler that does not
# keep prepared statements: PgBouncer before 1.21, or without max_prepared_statements, in
# transaction mode); DB_SERVER_SIDE_BINDING=false goes back to Django's default, client-side
# binding, which never prepares.
DB_SERVER_SIDE_BINDING = env_bool("DB_SERVER_SIDE_BINDING", True)
_prepare_threshold = ENV.get("DB_PREPARE_THRESHOLD", "").strip().lower()
if _prepare_threshold == "off":
    DB_PREPARE_THRESHOLD = None
else:
    DB_PREPARE_THRESHOLD = env_int("DB_PREPARE_THRESHOLD", 5)
    if DB_PREPARE_THRESHOLD < 0:
        raise ImproperlyConfigured("DB_PREPARE_THRESHOLD must be 0 or more (executions), or off")
if DB_SERVER_SIDE_BINDING:
    _db["OPTIONS"]["server_side_binding"] = True
    _db["OPTIONS"]["prepare_threshold"] = DB_PREPARE_THRESHOLD
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
        "BACKEND": "tutoring.cache.RedisCache",  # one client per process (tutoring/cache.py)
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
# A request never waits on the broker for long: tutoring.celery.publish sends from the request path
# over a connection of its own that gives up after BROKER_PUBLISH_TIMEOUT seconds (dead or frozen
# Redis alike) without retrying, and never fails the request; the outbox relay (beat) delivers
# what it could not. Other publishes (beat, workers) do not retry either: the next run catches up.
BROKER_PUBLISH_TIMEOUT = env_int("BROKER_PUBLISH_TIMEOUT_SECONDS", 1)
if not 1 <= BROKER_PUBLISH_TIMEOUT <= 10:
    raise ImproperlyConfigured("BROKER_PUBLISH_TIMEOUT_SECONDS must be between 1 and 10")
CELERY_TASK_PUBLISH_RETRY = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
# Unit tests run tasks eagerly; the Celery integration tests start a real worker instead.
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", default=TESTING)
CELERY_TASK_EAGER_PROPAGATES = True
# The queue the web and beat publish to and the workers read (several deployments may share a
# Redis; the HTTP race test gives its server and worker a queue of their own).
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "celery")
CELERY_BEAT_SCHEDULE = {
    "expire-reschedule-threads": {"task": "sessions.tasks.expire_reschedules", "schedule": crontab()},
    "mark-no-shows": {"task": "sessions.tasks.mark_no_shows", "schedule": crontab()},
    "requeue-stalled-summaries": {"task": "notes.tasks.requeue_stalled_summaries",
                                  "schedule": crontab(minute="*/10")},
    # recordings a webhook never announced, and copies whose worker died mid-transfer
    "sweep-video-recordings": {"task": "video.tasks.sweep_recordings", "schedule": crontab(minute="*/15")},
    # the outbox: session events not yet told to anyone (the commit hook usually beat it to them)
    "relay-session-events": {"task": "notifications.tasks.relay", "schedule": crontab()},
    # reminders 24 h / 1 h / 15 min before each session and acknowledgement nudges, set-based
    "plan-reminders": {"task": "notifications.tasks.plan", "schedule": crontab()},
    # deliveries that are due: retries after a transient error, deferred ones, lost claims
    "dispatch-due-deliveries": {"task": "notifications.tasks.dispatch_due", "schedule": crontab()},
    # Telegram keeps an unanswered update for 24 hours: older update ids need not be remembered
    "prune-telegram-updates": {"task": "telegram_bot.tasks.prune_updates", "schedule": crontab(minute=17, hour=3)},
    # low-balance alerts an approval's publish did not reach (desk/billing.py sends each once)
    "sweep-low-balances": {"task": "desk.tasks.sweep_low_balances", "schedule": crontab(minute="*/15")},
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
    # WhiteNoise's and Django's, each remembering a file's URL once worked out (tutoring/static_storage.py)
    "staticfiles": {"BACKEND": "tutoring.static_storage." + ("Production" if PRODUCTION else "Development")},
}
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "var" / "media")))

# --- notes: attachments on object storage ---------------------------------------------------
# With R2_BUCKET set, attachments go to a private Cloudflare R2 (or any S3-compatible) bucket and
# every read is a presigned URL. Without it they go to a local folder under var/, served only by a
# view through signed, expiring links. Either way no attachment is ever public.
NOTES_MAX_UPLOAD_BYTES = env_int("NOTES_MAX_UPLOAD_MB", 10) * 1024 * 1024
NOTES_MAX_FILES = env_int("NOTES_MAX_FILES", 20)
# Fixed safety limits, not read from the environment (tests override them with override_settings):
# an office document (docx, xlsx, odt...) whose zip end record announces more entries or a larger
# central directory than this is refused before zipfile lists it (notes.uploads).
NOTES_ZIP_MAX_ENTRIES = 10_000  # a real office document has tens to a few thousand entries
NOTES_ZIP_MAX_DIRECTORY_BYTES = 2 * 1024 * 1024  # ... and a central directory of kilobytes
NOTES_LINK_SECONDS = env_int("NOTES_LINK_SECONDS", 300)
if not 1 <= NOTES_LINK_SECONDS <= 300:
    raise ImproperlyConfigured("NOTES_LINK_SECONDS must be between 1 and 300 (links live at most 5 minutes)")
R2_BUCKET = ENV.get("R2_BUCKET", "").strip()


def s3_notes_storage(*, bucket: str, endpoint_url: str, access_key: str, secret_key: str,
                     region: str = "auto", link_seconds: int = NOTES_LINK_SECONDS, timeout: int = 10) -> dict:
    """The STORAGES entry for attachments on R2 or another S3-compatible store (the tests and the
    upload benchmark use it for their SeaweedFS server too). A store that does not answer costs each
    call at most two tries of `timeout` seconds (botocore's defaults, 60 s and up to five tries per
    call, held a tutor's notes upload for minutes when the store hung: tests/reliability)."""
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
                request_checksum_calculation="when_required", response_checksum_validation="when_required",
                connect_timeout=min(timeout, 5), read_timeout=timeout,
                retries={"mode": "standard", "total_max_attempts": 2}),
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

# --- video providers (spec 002: PlugNmeet selected, BigBlueButton supported) ----------------
# VIDEO_PROVIDER picks the deployment's provider: builtin (the default: the built-in 1-on-1 P2P
# room), plugnmeet or bbb. A course may override it (video.CourseVideo, in the admin) with any
# provider whose credentials are set here. Credentials come in complete sets or not at all.
_PROVIDER_NAMES = {"builtin": "p2p", "p2p": "p2p", "plugnmeet": "plugnmeet", "bbb": "bbb"}
_video_provider = ENV.get("VIDEO_PROVIDER", "").strip().lower() or "builtin"
if _video_provider not in _PROVIDER_NAMES:
    raise ImproperlyConfigured(f"VIDEO_PROVIDER must be builtin, plugnmeet or bbb, not {_video_provider!r}")
VIDEO_PROVIDER = _PROVIDER_NAMES[_video_provider]


def _video_credentials(provider: str, read: dict[str, tuple[str, str]]) -> dict[str, str] | None:
    """All of a provider's variables ({key: (variable, value)}), or None when none is set; a
    partial set fails at start-up."""
    values = {key: value.strip() for key, (_, value) in read.items()}
    names = {key: var for key, (var, _) in read.items()}
    if not any(values.values()):
        if VIDEO_PROVIDER == provider:
            raise ImproperlyConfigured(f"VIDEO_PROVIDER={_video_provider} needs {', '.join(names.values())}")
        return None
    if missing := [var for key, var in names.items() if not values[key]]:
        raise ImproperlyConfigured(f"{', '.join(missing)} must be set with the other {provider} settings")
    url = urlsplit(values["url"])
    if url.scheme not in {"http", "https"} or not url.netloc:
        raise ImproperlyConfigured(f"{names['url']} must be an http(s):// URL, not {values['url']!r}")
    if PRODUCTION and url.scheme != "https":
        raise ImproperlyConfigured(f"{names['url']} must use https:// when DJANGO_ENV=production")
    values["url"] = values["url"].rstrip("/")
    return values


PLUGNMEET = _video_credentials("plugnmeet", {
    "url": ("PLUGNMEET_URL", ENV.get("PLUGNMEET_URL", "")),
    "api_key": ("PLUGNMEET_API_KEY", ENV.get("PLUGNMEET_API_KEY", "")),
    "secret": ("PLUGNMEET_API_SECRET", ENV.get("PLUGNMEET_API_SECRET", "")),
})
BBB = _video_credentials("bbb", {
    "url": ("BBB_URL", ENV.get("BBB_URL", "")),
    "secret": ("BBB_SECRET", ENV.get("BBB_SECRET", "")),
})
if BBB is not None:
    BBB["checksum"] = env_str("BBB_CHECKSUM", "sha256").lower()
    if BBB["checksum"] not in {"sha1", "sha256"}:
        raise ImproperlyConfigured(f"BBB_CHECKSUM must be sha1 or sha256, not {BBB['checksum']!r}")
    if not BBB["url"].endswith("/api"):
        raise ImproperlyConfigured("BBB_URL must be the API endpoint, ending in /bigbluebutton/api")
# Seconds a provider call may take before the room says "Video service unavailable. Try again."
VIDEO_HTTP_TIMEOUT_SECONDS = env_int("VIDEO_HTTP_TIMEOUT_SECONDS", 10)
if not 1 <= VIDEO_HTTP_TIMEOUT_SECONDS <= 120:
    raise ImproperlyConfigured("VIDEO_HTTP_TIMEOUT_SECONDS must be between 1 and 120")
# Room ids at the provider are VIDEO_ROOM_PREFIX-<session id>: two deployments sharing a provider
# server must use different prefixes.
VIDEO_ROOM_PREFIX = env_str("VIDEO_ROOM_PREFIX", "tutoring")
if not re.fullmatch(r"[A-Za-z0-9_-]{1,40}", VIDEO_ROOM_PREFIX):
    raise ImproperlyConfigured("VIDEO_ROOM_PREFIX must be 1-40 letters, digits, - or _")
# Presence from the providers (video.attendance): beat asks each PlugNmeet / BigBlueButton room in
# use who is in it every VIDEO_PRESENCE_POLL_SECONDS (PlugNmeet's webhooks tell joins and leaves at
# once); a provider connection nobody has confirmed for VIDEO_PRESENCE_TTL_SECONDS is gone.
VIDEO_PRESENCE_POLL_SECONDS = env_int("VIDEO_PRESENCE_POLL_SECONDS", 30)
VIDEO_PRESENCE_TTL_SECONDS = env_int("VIDEO_PRESENCE_TTL_SECONDS", 90)
if not 5 <= VIDEO_PRESENCE_POLL_SECONDS < VIDEO_PRESENCE_TTL_SECONDS:
    raise ImproperlyConfigured("VIDEO_PRESENCE_POLL_SECONDS must be at least 5 and below VIDEO_PRESENCE_TTL_SECONDS")
CELERY_BEAT_SCHEDULE["poll-video-presence"] = {
    "task": "video.tasks.poll_presence", "schedule": timedelta(seconds=VIDEO_PRESENCE_POLL_SECONDS),
    "options": {"expires": VIDEO_PRESENCE_POLL_SECONDS}}
# Whether provider rooms record unless a course says otherwise (video.CourseVideo.record).
VIDEO_RECORD_DEFAULT = env_bool("VIDEO_RECORD_DEFAULT", False)
# Recordings are copied into the notes storage (the private R2 bucket, or NOTES_ROOT) under
# recordings/, in multipart parts of this size (R2 wants equal parts of at least 5 MB).
RECORDING_PART_MB = env_int("RECORDING_PART_MB", 8)
if not 5 <= RECORDING_PART_MB <= 512:
    raise ImproperlyConfigured("RECORDING_PART_MB must be between 5 and 512")
RECORDING_PART_BYTES = RECORDING_PART_MB * 1024 * 1024
# The built-in room records in the tutor's browser where the course records (video.browser_recordings):
# uploaded in RECORDING_PART_MB parts, at most RECORDING_BROWSER_MAX_MB per recording; an upload
# with no part for RECORDING_BROWSER_IDLE_MINUTES (the tab closed) is completed with what arrived.
RECORDING_BROWSER_MAX_MB = env_int("RECORDING_BROWSER_MAX_MB", 2048)
if not RECORDING_PART_MB <= RECORDING_BROWSER_MAX_MB <= 50_000:
    raise ImproperlyConfigured("RECORDING_BROWSER_MAX_MB must be between RECORDING_PART_MB and 50000")
RECORDING_BROWSER_IDLE_MINUTES = env_int("RECORDING_BROWSER_IDLE_MINUTES", 60)
if not 5 <= RECORDING_BROWSER_IDLE_MINUTES <= 24 * 60:
    raise ImproperlyConfigured("RECORDING_BROWSER_IDLE_MINUTES must be between 5 and 1440")

# --- Telegram bot (telegram_bot/) -----------------------------------------------------------
# Without TELEGRAM_BOT_TOKEN the bot is off: `runbot` says so and exits, `make run` does not start
# it, the webhook answers 404 and nobody is told on Telegram. TELEGRAM_BOT_USERNAME builds the
# t.me deep link of the settings page; TELEGRAM_WEBHOOK_SECRET is the secret_token given to
# setWebhook (Telegram sends it back in X-Telegram-Bot-Api-Secret-Token). The base URLs point
# the client at another Bot API server (tests use a fake one on 127.0.0.1).
TELEGRAM_BOT_TOKEN = ENV.get("TELEGRAM_BOT_TOKEN", "").strip()
TELEGRAM_BOT_USERNAME = ENV.get("TELEGRAM_BOT_USERNAME", "").strip().lstrip("@")
TELEGRAM_WEBHOOK_SECRET = ENV.get("TELEGRAM_WEBHOOK_SECRET", "").strip()
TELEGRAM_API_BASE_URL = env_str("TELEGRAM_API_BASE_URL", "https://api.telegram.org/bot")
TELEGRAM_FILE_BASE_URL = env_str("TELEGRAM_FILE_BASE_URL", "https://api.telegram.org/file/bot")
if TELEGRAM_BOT_TOKEN and not TELEGRAM_BOT_USERNAME:
    raise ImproperlyConfigured("TELEGRAM_BOT_USERNAME must be set with TELEGRAM_BOT_TOKEN (the deep link needs it)")

# --- email ----------------------------------------------------------------------------------
# With RESEND_API_KEY, mail goes through Resend's HTTP API (notifications.backends.ResendBackend,
# on the `resend` SDK; RESEND_API_URL points it elsewhere, e.g. a test server). Without a key,
# development keeps every email in the database (notifications.backends.KeepLocallyBackend) and
# shows it at /dev/outbox/; production falls back to SMTP (EMAIL_HOST...); tests use locmem.
# EMAIL_BACKEND overrides the choice.
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", f"Tutoring <no-reply@{urlsplit(SITE_URL).hostname}>"
                             if PRODUCTION else "Tutoring <no-reply@localhost>")
RESEND_API_KEY = ENV.get("RESEND_API_KEY", "").strip()
RESEND_API_URL = env_str("RESEND_API_URL", "https://api.resend.com").rstrip("/")
RESEND_TIMEOUT_SECONDS = env_int("RESEND_TIMEOUT_SECONDS", 10)
# The signing secret of the Resend webhook (whsec_...): bounces and complaints stop email to an
# address. Without it the webhook endpoint answers 404.
RESEND_WEBHOOK_SECRET = ENV.get("RESEND_WEBHOOK_SECRET", "").strip()
if RESEND_WEBHOOK_SECRET and not RESEND_WEBHOOK_SECRET.startswith("whsec_"):
    raise ImproperlyConfigured("RESEND_WEBHOOK_SECRET must be the webhook's signing secret (whsec_...)")
SMTP_EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
RESEND_EMAIL_BACKEND = "notifications.backends.ResendBackend"
LOCAL_EMAIL_BACKEND = "notifications.backends.KeepLocallyBackend"
_mailer = {
    "BACKEND": env_str(
        "EMAIL_BACKEND",
        RESEND_EMAIL_BACKEND
        if RESEND_API_KEY
        else "django.core.mail.backends.locmem.EmailBackend"
        if TESTING
        else SMTP_EMAIL_BACKEND
        if PRODUCTION
        else LOCAL_EMAIL_BACKEND,
    )
}
if _mailer["BACKEND"] == SMTP_EMAIL_BACKEND:
    # any provider over SMTP (Resend too: smtp.resend.com, user "resend", the API key as password)
    _mailer["OPTIONS"] = {
        "host": env_str("EMAIL_HOST", "localhost"),
        "port": env_int("EMAIL_PORT", 587),
        "username": ENV.get("EMAIL_HOST_USER", ""),
        "password": ENV.get("EMAIL_HOST_PASSWORD", ""),
        "use_tls": env_bool("EMAIL_USE_TLS", True),
        "timeout": 30,
    }
elif _mailer["BACKEND"] == RESEND_EMAIL_BACKEND:
    if not RESEND_API_KEY:
        raise ImproperlyConfigured("EMAIL_BACKEND is the Resend backend but RESEND_API_KEY is not set")
    _mailer["OPTIONS"] = {"api_key": RESEND_API_KEY, "api_url": RESEND_API_URL,
                          "timeout": RESEND_TIMEOUT_SECONDS}
MAILERS = {"default": _mailer}
# The development-only page that shows locally kept mail (404 in production).
DEV_OUTBOX = not PRODUCTION

# --- notifications --------------------------------------------------------------------------
# Delivery retries after a transient error (a Resend 5xx or rate limit, a network error): the
# wait doubles from NOTIFY_RETRY_FIRST_MINUTES up to NOTIFY_RETRY_MAX_MINUTES; after
# NOTIFY_MAX_ATTEMPTS attempts the delivery is failed for good (the admin lists it).
NOTIFY_MAX_ATTEMPTS = env_int("NOTIFY_MAX_ATTEMPTS", 8)
NOTIFY_RETRY_FIRST_MINUTES = env_int("NOTIFY_RETRY_FIRST_MINUTES", 1)
NOTIFY_RETRY_MAX_MINUTES = env_int("NOTIFY_RETRY_MAX_MINUTES", 60)
if NOTIFY_MAX_ATTEMPTS < 1 or not 1 <= NOTIFY_RETRY_FIRST_MINUTES <= NOTIFY_RETRY_MAX_MINUTES:
    raise ImproperlyConfigured("NOTIFY_MAX_ATTEMPTS must be at least 1 and NOTIFY_RETRY_FIRST_MINUTES at most "
                               "NOTIFY_RETRY_MAX_MINUTES")

# --- security -------------------------------------------------------------------------------
# Content-Security-Policy on every response (Django's built-in CSP): scripts and styles only from
# this site or carrying the request's nonce ({{ csp_nonce }}; no inline script without it, no
# 'unsafe-inline'), no plugins, no framing, forms post here only. Pictures may come from any https
# host (avatars); attachments and recordings redirect to the object store, whose origin
# tutoring.csp adds from STORAGES["notes"].
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "img-src": [CSP.SELF, "data:", "https:"],
    "media-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "font-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
# the debug page (development) and error emails mask every URL's credentials (tutoring/debug.py)
DEFAULT_EXCEPTION_REPORTER_FILTER = "tutoring.debug.CredentialsFilter"
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

# Brute force (tutoring/signin.py): django-axes locks an account and a client address after
# SIGNIN_FAILURE_LIMIT failed sign-ins, until SIGNIN_LOCKOUT_MINUTES after the last one. Behind the
# reverse proxy the client address is X-Forwarded-For's, which the app server takes from the proxy.
# tutoring.signin.NoDemoLoginsBackend: in production the demo password ('demo') signs nobody in.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "tutoring.signin.NoDemoLoginsBackend",
                           "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env_int("SIGNIN_FAILURE_LIMIT", 10)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("SIGNIN_LOCKOUT_MINUTES", 15))
if AXES_FAILURE_LIMIT < 1 or AXES_COOLOFF_TIME <= timedelta(0):
    raise ImproperlyConfigured("SIGNIN_FAILURE_LIMIT and SIGNIN_LOCKOUT_MINUTES must be at least 1")
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # each on its own: an account, and an address
AXES_RESET_ON_SUCCESS = True
# attempts while locked do not push the end back: the lock lifts when the page said it would
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_DISABLE_ACCESS_LOG = True  # failures only; the audit trail of what people do is the sessions'
AXES_LOCKOUT_CALLABLE = "tutoring.signin.locked_out"

# Abuse limits (tutoring/limits.py), each per minute, counted in the cache; over one, HTTP answers
# 429 with Retry-After and the room's socket closes with 4429.
# The analytics beacon (analytics/views.py): events per user.
ANALYTICS_BEACON_PER_MINUTE = env_int("ANALYTICS_BEACON_PER_MINUTE", 120)
# Uploads per user: multipart requests (notes' attachments, the room's resources, the notes API),
# and parts of a browser recording (one every few seconds at most while recording).
UPLOADS_PER_MINUTE = env_int("UPLOADS_PER_MINUTE", 20)
RECORDING_PARTS_PER_MINUTE = env_int("RECORDING_PARTS_PER_MINUTE", 60)
# The Telegram webhook: updates per Telegram user (the rest are acknowledged and dropped, the
# sender told once), and requests with a wrong secret token per client address.
TELEGRAM_UPDATES_PER_MINUTE = env_int("TELEGRAM_UPDATES_PER_MINUTE", 30)
TELEGRAM_BAD_SECRET_PER_MINUTE = env_int("TELEGRAM_BAD_SECRET_PER_MINUTE", 10)
# The room's socket: connection attempts per user (messages per connection: room/consumers.py).
ROOM_CONNECTS_PER_MINUTE = env_int("ROOM_CONNECTS_PER_MINUTE", 30)
for _name in ("ANALYTICS_BEACON_PER_MINUTE", "UPLOADS_PER_MINUTE", "RECORDING_PARTS_PER_MINUTE",
              "TELEGRAM_UPDATES_PER_MINUTE", "TELEGRAM_BAD_SECRET_PER_MINUTE", "ROOM_CONNECTS_PER_MINUTE"):
    if globals()[_name] < 1:
        raise ImproperlyConfigured(f"{_name} must be at least 1")

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
# a package with this many credits left, or fewer, sends its low-balance alert (once)
LOW_BALANCE_CREDITS = env_int("LOW_BALANCE_CREDITS", 2)

# --- the sessions admin: fixed limits, not read from the environment ------------------------
# A lifecycle action locks and writes each session in its own transaction: a batch of more
# sessions than this is refused, so it finishes within one request (sessions.admin).
SESSIONS_ADMIN_MAX_ACTION_SESSIONS = 100
# A search term matching more people than this is broad: the changelist filters the sessions by a
# subquery while walking the start index, instead of by an id list.
SESSIONS_ADMIN_MAX_SEARCH_PEOPLE = 500
