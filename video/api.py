"""JSON API for entering a session's video room (mounted under /api/sessions by tutoring/api.py)."""

from ninja import Router, Schema

from sessions.access import Viewer, get_session_for
from sessions.schemas import ERRORS, ErrorOut

from . import services

router = Router(tags=["video"])


class JoinOut(Schema):
    provider: str  # p2p, plugnmeet or bbb
    kind: str  # "builtin": the room page's own P2P call; "url": open url (the provider's client)
    url: str
    token: str


@router.post("/{session_id}/video/join", response={200: JoinOut, 503: ErrorOut, **ERRORS})
def join(request, session_id: int):
    """A way into the session's video room for its tutor (host) or student (guest): 404 to anyone
    who may not see the session, 403 "You're not part of this session." to the others who may,
    409 before the room opens or after the session, 503 "Video service unavailable. Try again." when
    the provider fails. The URL and token are the caller's own credentials: use them at once."""
    session = get_session_for(Viewer.of(request.user), session_id)
    return services.join(session, user=request.user)
