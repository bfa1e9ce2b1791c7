"""The ASGI application: uvicorn serves it in development (`make run`) and in production (gunicorn
with uvicorn workers). HTTP goes to Django; the Session Room adds its WebSocket routes around
`django_app` here. In development (DEBUG) static files are served by Django's
ASGIStaticFilesHandler; in production WhiteNoise does (settings.MIDDLEWARE)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tutoring.settings")
django_app = get_asgi_application()  # sets Django up before anything below imports models

from django.conf import settings  # noqa: E402

if settings.DEBUG:
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    django_app = ASGIStaticFilesHandler(django_app)

application = django_app
