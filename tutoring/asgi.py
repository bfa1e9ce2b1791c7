"""The ASGI application: uvicorn serves it in development (`make run`) and in production (gunicorn
with uvicorn workers). WebSockets (the session room's signaling, /ws/session/<id>/) go to
Channels, signed in with the Django session cookie and only from this site's own pages (the Origin
must be one of ALLOWED_HOSTS); the routes are those the apps added to tutoring.sockets while
Django set up (the room's, from RoomConfig.ready).

HTTP goes to Django's WSGI handler, run by a2wsgi in a pool of HTTP_THREADS threads: each request
runs its middleware, view and response in one thread, in one hop from the event loop. Every view
and middleware of the project is synchronous, and Django's ASGI handler moves such a request
between the loop and a thread several times (an async-capable middleware calls each of its
process_request/process_response through sync_to_async, a sync-only one calls the rest of the
chain back through async_to_sync) and starts two threads per request; that costs about half
again the CPU of the page itself (measured with bench/dashboard.py's wrk row: see
docs/operations.md). It also consumed a streamed response (the CSV exports) whole before sending
a byte; here it streams.

Outside production static files are served by Django's StaticFilesHandler; in production
WhiteNoise does (settings.MIDDLEWARE)."""

import os

from a2wsgi import WSGIMiddleware
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tutoring.settings")
django_wsgi = get_wsgi_application()  # sets Django up (each app's ready adds its socket routes)

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402

from tutoring.sockets import websocket_urlpatterns  # noqa: E402

if not settings.PRODUCTION:
    # production serves static files with WhiteNoise (a middleware); development and the tests'
    # ASGI server serve them from the static folders, as runserver does
    from django.contrib.staticfiles.handlers import StaticFilesHandler

    django_wsgi = StaticFilesHandler(django_wsgi)
django_http = WSGIMiddleware(django_wsgi, workers=settings.HTTP_THREADS)

application = ProtocolTypeRouter({
    "http": django_http,
    "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
})
