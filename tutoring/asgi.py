"""The ASGI application: uvicorn serves it in development (`make run`) and in production (gunicorn
with uvicorn workers). HTTP goes to Django, WebSockets (the session room's signaling,
/ws/session/<id>/) to Channels, signed in with the Django session cookie and only from this site's
own pages (the Origin must be one of ALLOWED_HOSTS); the routes are those the apps added to
tutoring.sockets while Django set up (the room's, from RoomConfig.ready). Outside production
static files are served by Django's ASGIStaticFilesHandler; in production WhiteNoise does
(settings.MIDDLEWARE)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tutoring.settings")
django_http = get_asgi_application()  # sets Django up (each app's ready adds its socket routes)

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402

from tutoring.sockets import websocket_urlpatterns  # noqa: E402

if not settings.PRODUCTION:
    # production serves static files with WhiteNoise (a middleware); development and the tests'
    # ASGI server serve them from the static folders, as runserver does
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    django_http = ASGIStaticFilesHandler(django_http)

application = ProtocolTypeRouter({
    "http": django_http,
    "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
})
