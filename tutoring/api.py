"""The project's one JSON API (OpenAPI at /api/openapi.json): the NinjaAPI object, who may call
it (a signed-in Django session, CSRF-checked) and its error handlers. Every error is
{"detail": "<user-facing message>", "code": "<stable code>"}.

Each app owns its routes (a ninja Router in its api.py) and mounts them itself from its
AppConfig.ready (`mount`), so the project package imports no app (docs/architecture.md)."""

import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.db import InterfaceError, OperationalError
from django.http import Http404
from django.http.multipartparser import MultiPartParserError
from ninja import NinjaAPI, Router
from ninja.parser import Parser
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.security import SessionAuth

from .errors import FORBIDDEN, Refused

log = logging.getLogger("django.request")


class SignedIn(SessionAuth):
    """The Django session, CSRF-checked, but the caller is asked to sign in (401) before the CSRF
    token is looked at: an anonymous POST is "sign in first", not "CSRF check failed"."""

    def __call__(self, request):
        if not request.user.is_authenticated:
            return None
        json_or_none = request.content_type in ("", "application/json")
        if request.method == "POST" and json_or_none and not request.body.strip():
            # an empty body is an empty JSON object: the 422 then names each required field
            request._body = b"{}"
        try:
            return super().__call__(request)
        except HttpError:  # ninja's "CSRF check Failed"
            raise Refused("CSRF check failed: send the X-CSRFToken header with the value of the csrftoken "
                          "cookie.", code="csrf_failed", status=FORBIDDEN) from None


class ObjectBodies(Parser):
    """JSON bodies are objects. Ninja's schemas also read attributes off any other value, so a body
    of "x", [] or null would pass as an empty object and reach the role and state checks; here it
    is unreadable input instead (ninja answers 400 "Cannot parse request body")."""

    def parse_body(self, request):
        body = super().parse_body(request)
        if not isinstance(body, dict):
            raise ValueError("The body must be a JSON object.")
        return body


api = NinjaAPI(title="Tutoring platform API", version="1", auth=SignedIn(), urls_namespace="api",
               parser=ObjectBodies())


# --- errors -----------------------------------------------------------------------------------


def _error(request, status: int, detail: str, code: str, **extra):
    return api.create_response(request, {"detail": detail, "code": code, **extra}, status=status)


SERVER_ERROR = {"detail": "Something went wrong on our side and nothing was changed. It has been logged; "
                          "please try again.", "code": "server_error"}
# The database is out of reach (restarting, no free connection within DB_POOL_TIMEOUT, a statement
# cancelled): not a bug but a moment's outage, answered 503 with Retry-After on pages and API alike.
UNAVAILABLE = {"detail": "The service is unavailable for a moment. Please try again shortly.",
               "code": "service_unavailable"}
RETRY_AFTER_SECONDS = "5"


def database_unavailable(exc: BaseException | None) -> bool:
    """PostgreSQL could not be reached or dropped the connection (django.db's OperationalError,
    which includes psycopg_pool's PoolTimeout, and InterfaceError for a connection already closed)."""
    return isinstance(exc, (OperationalError, InterfaceError))


@api.exception_handler(Exception)
def on_unexpected(request, exc: Exception):
    """A bug: logged like Django logs an unhandled exception (with the request, for the admins'
    email and the error tracker), answered in the API's error shape. In development the debug page
    shows the traceback instead (with every credential masked: tutoring.debug). The database out of
    reach is no bug: 503, logged as a warning."""
    if database_unavailable(exc):
        log.warning("Service Unavailable (database): %s", request.path, exc_info=exc,
                    extra={"status_code": 503, "request": request})
        response = api.create_response(request, UNAVAILABLE, status=503)
        response["Retry-After"] = RETRY_AFTER_SECONDS
        return response
    if settings.DEBUG:
        raise exc
    log.error("Internal Server Error: %s", request.path, exc_info=exc,
              extra={"status_code": 500, "request": request})
    return api.create_response(request, SERVER_ERROR, status=500)


@api.exception_handler(Refused)
def on_refused(request, exc: Refused):
    return api.create_response(request, exc.as_dict(), status=exc.status)


@api.exception_handler(Http404)
def on_not_found(request, exc):
    return _error(request, 404, "Session not found.", "not_found")


@api.exception_handler(AuthenticationError)
def on_unauthenticated(request, exc):
    return _error(request, 401, "Sign in first.", "not_authenticated")


def _field(error: dict) -> str:
    """"reason_id" for ("body", "payload", "reason_id"), "from" for ("query", "filters", "from")."""
    parts = [str(p) for p in error.get("loc", [])[1:]]
    if parts and parts[0] in ("payload", "filters", "page"):
        parts = parts[1:]
    return ".".join(parts)


@api.exception_handler(ValidationError)
def on_invalid(request, exc: ValidationError):
    """422 naming every field that is wrong, in `detail` (all of them) and in `errors`."""
    errors = [{"field": _field(e), "detail": e.get("msg", "invalid").removeprefix("Value error, ")}
              for e in exc.errors]
    if not errors:
        errors = [{"field": "", "detail": "invalid input"}]
    detail = "; ".join(f"{e['field']}: {e['detail']}" if e["field"] else e["detail"] for e in errors[:5])
    return _error(request, 422, detail, "invalid", errors=errors)


@api.exception_handler(MultiPartParserError)
def on_bad_multipart(request, exc):
    return _error(request, 400, f"The multipart body could not be read: {exc}", "malformed")


@api.exception_handler(RequestDataTooBig)
def on_too_big(request, exc):
    return _error(request, 413, "The request is too large: send files of at most 10 MB each and text of at "
                                "most 2.5 MB.", "too_large")


@api.exception_handler(TooManyFieldsSent)
def on_too_many_fields(request, exc):
    return _error(request, 400, "The request has too many fields.", "malformed")


@api.exception_handler(TooManyFilesSent)
def on_too_many_files(request, exc):
    return _error(request, 400, "The request has too many files: at most 20 per note.", "malformed")


@api.exception_handler(HttpError)
def on_http_error(request, exc: HttpError):
    code = "malformed" if exc.status_code == 400 else "error"
    return _error(request, exc.status_code, str(exc), code)


# --- each app's routes ------------------------------------------------------------------------

MOUNTED: list[tuple[str, Router]] = []  # (prefix, router), in the order the apps mounted them


def mount(prefix: str, router: Router) -> None:
    """Put an app's router on the API under `prefix` ("/sessions" serves /api/sessions/...); each
    app calls this from its AppConfig.ready, before the URLconf is read. Several apps share a
    prefix (sessions, notes, video and the creators' recording under "/sessions"), and no two
    routers serve one path (tests/tutoring/test_api_routes.py), so the order the apps are ready in
    changes no answer. Mounting the same router again changes nothing."""
    if any(mounted is router for _, mounted in MOUNTED):
        return
    api.add_router(prefix, router)
    MOUNTED.append((prefix, router))
