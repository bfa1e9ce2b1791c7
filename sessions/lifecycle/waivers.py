"""A coordinator's waiver of a cancellation penalty: the cancel event recorded the band's charge (the
sheet's guidance for the coordinator, nothing was deducted); a `penalty_waived` event with the
coordinator as actor and their reason says it is not to be charged. The status does not change."""

from datetime import datetime

from django.db import transaction

from tutoring.models import User

from .. import projections, rules
from ..access import Relation
from ..errors import Refused
from ..models import CANCELLED, Channel, SessionEvent
from .core import _ctx, _lock, _now, _record


@transaction.atomic
def waive_penalty(session, *, by: User, reason: str, now: datetime | None = None,
                  channel: str = Channel.ADMIN) -> SessionEvent:
    """Waive the penalty the session's cancellation carried (e.g. an emergency or illness).
    Who acts (403), the reason (422), then the state (409): a cancelled session whose cancel
    recorded a charge, not waived before."""
    now = _now(now)
    session = _lock(session)
    ctx = _ctx(session, by, now)
    rules.require(ctx.rels, Relation.COORDINATOR, "Only a coordinator can waive a penalty.")
    reason = rules.require_text(reason, "reason for the waiver")
    rules.require_status(session, CANCELLED, "Only a cancelled session's penalty can be waived.")
    cancel_event = session.events.filter(kind="cancel").order_by("-id").first()
    if cancel_event is None or not projections.penalty_charged(cancel_event.data):
        raise Refused("No penalty applied to this cancellation: there is nothing to waive.", code="no_penalty")
    waived = session.events.filter(kind="penalty_waived").select_related("actor").first()
    if waived is not None:
        who = waived.actor.name if waived.actor else "someone"
        raise Refused(f"{who} already waived this penalty. Nothing was changed.", code="already_waived")
    data = cancel_event.data
    return _record(session, by=by, channel=channel, kind="penalty_waived", from_status=session.status, now=now,
                   reason=reason, data={"cancel_event_id": cancel_event.id, "role": data.get("role"),
                                        "penalty": data.get("penalty"), "cost_credits": data.get("cost_credits"),
                                        "cost_amount": data.get("cost_amount")})
