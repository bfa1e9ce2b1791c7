"""Django's Content-Security-Policy middleware, plus two per-response additions:

- The notes' object store: attachments and recordings are read through presigned URLs on the
  bucket's host (settings.STORAGES["notes"]), so that origin is allowed for pictures and media
  wherever the storage points (R2 in production, the SeaweedFS of the tests), with no second place
  to configure it.
- Frames: no page may frame anything (default-src 'self' and no frame-src) except where a view
  names the origins it frames with allow_frames(response, origin): the session room framing its
  video provider's client gets `frame-src <that origin>` and nothing else."""

from urllib.parse import urlsplit

from django.conf import settings
from django.middleware import csp

MEDIA_DIRECTIVES = ("img-src", "media-src")


def origin_of(url: str) -> str | None:
    parts = urlsplit(url or "")
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else None


def object_store_origin() -> str | None:
    options = settings.STORAGES.get("notes", {}).get("OPTIONS", {})
    return origin_of(options.get("endpoint_url") or "")


def allow_frames(response, *origins: str):
    """This response's page may frame these origins (and only these)."""
    response.csp_frame_src = [o for o in origins if o]
    return response


class ContentSecurityPolicyMiddleware(csp.ContentSecurityPolicyMiddleware):
    def process_response(self, request, response):
        origin = object_store_origin()
        frames = getattr(response, "csp_frame_src", None)
        if (origin or frames) and not hasattr(response, "_csp_config") and settings.SECURE_CSP:
            config = {directive: [*values, origin] if origin and directive in MEDIA_DIRECTIVES else values
                      for directive, values in settings.SECURE_CSP.items()}
            if frames:
                config["frame-src"] = frames
            response._csp_config = config
        return super().process_response(request, response)
