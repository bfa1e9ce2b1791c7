"""Django's Content-Security-Policy middleware, plus the notes' object store: attachments and
recordings are read through presigned URLs on the bucket's host (settings.STORAGES["notes"]), so
that origin is allowed for pictures and media wherever the storage points (R2 in production, the
SeaweedFS of the tests), with no second place to configure it."""

from urllib.parse import urlsplit

from django.conf import settings
from django.middleware import csp

MEDIA_DIRECTIVES = ("img-src", "media-src")


def object_store_origin() -> str | None:
    options = settings.STORAGES.get("notes", {}).get("OPTIONS", {})
    endpoint = options.get("endpoint_url") or ""
    parts = urlsplit(endpoint)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


class ContentSecurityPolicyMiddleware(csp.ContentSecurityPolicyMiddleware):
    def process_response(self, request, response):
        origin = object_store_origin()
        if origin and not hasattr(response, "_csp_config") and settings.SECURE_CSP:
            response._csp_config = {
                directive: [*values, origin] if directive in MEDIA_DIRECTIVES else values
                for directive, values in settings.SECURE_CSP.items()
            }
        return super().process_response(request, response)
