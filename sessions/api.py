"""The sessions' routes of the JSON API (the API object and its error handlers: tutoring/api.py).
Thin: parse, find the session the caller may see (else 404), call the lifecycle, serialize."""

from datetime import datetime
from typing import Literal

from django.utils import timezone
from ninja import Field, Query, Router, Schema
from ninja.responses import Status as Reply
from pydantic import ValidationError as PydanticValidationError
from pydantic import model_validator
from pydantic_core import PydanticCustomError

from tutoring.input import Moment, Text
from tutoring.models import Guardianship, User

from . import lifecycle, paging, projections, rules
from .access import PARTICIPANTS, Relation, Viewer, get_session_for, visible_sessions
from .errors import FORBIDDEN, Refused
from .models import ChangeReason, Channel, Session, SessionEvent, Status
from .schemas import ERRORS, CourseOut, PersonOut, person


router = Router(tags=["sessions"])
# /api/me and /api/cancellation-reasons (mounted at the API's root by tutoring/api.py)
root_router = Router()


# --- schemas ----------------------------------------------------------------------------------


class ChildOut(Schema):
    id: int
    name: str


class MeOut(Schema):
    id: int
    name: str
    roles: list[str]
    time_zone: str
    children: list[ChildOut]


class ReasonOut(Schema):
    id: int
    role: str
    kind: str
    code: str
    label: str
    requires_note: bool


class ProposalOut(Schema):
    id: int
    version: int
    proposed_by_role: str
    proposed_start: datetime
    proposed_end: datetime
    note: str
    status: str
    created_at: datetime
    answered_at: datetime | None
    answer_note: str


class ThreadOut(Schema):
    id: int
    status: str
    opened_by_role: str
    reason: str
    note: str
    created_at: datetime
    proposals: list[ProposalOut]


class SessionOut(Schema):
    id: int
    tutor: PersonOut
    student: PersonOut
    course: CourseOut | None
    scheduled_start: datetime
    scheduled_end: datetime
    duration_minutes: int
    status: str
    label: str
    checked_in_at: datetime | None
    checked_out_at: datetime | None
    no_show_party: str
    is_trial: bool
    billed_as_addon: bool
    source: str
    cancelled_at: datetime | None
    cancellation_reason: str | None
    video_provider: str
    video_room_id: str
    meeting_url: str
    created_at: datetime
    updated_at: datetime
    allowed_actions: list[str]
    reschedule: ThreadOut | None


class SessionPage(Schema):
    items: list[SessionOut]
    next_cursor: str | None


class EventOut(Schema):
    id: int
    kind: str
    actor: PersonOut | None
    channel: str
    from_status: str
    to_status: str
    reason: str
    data: dict
    created_at: datetime


class GuidanceOut(Schema):
    role: str
    allowed: bool
    refusal: str | None
    policy_id: int | None
    penalty: str
    guidance: str
    charged: bool = Field(description="Whether a penalty applies: show waiver_reminder only then.")
    charge_percent: int = Field(description="Share of one lesson charged to the student's package, 0–100.")
    cost: str | None = Field(description="What cancelling now costs, e.g. \"Cancelling now costs 0.5 of a "
                                         "credit (€20.00) from the 10-lesson package.\" (null: nothing).")
    cost_credits: str | None = Field(description="The credits it costs, as a decimal string (\"0.5\").")
    cost_amount: str | None = Field(description="The amount, where the package has a price (\"€20.00\").")
    waiver_reminder: str
    hours_before_start: float


class CheckOutIn(Schema):
    student_absent: bool = False


# Every text is tutoring.input's Text and every time its Moment: the same checks as the web forms,
# so malformed input is a 422 naming the field before any state is looked at.
Note = Text(rules.MAX_TEXT, what="note")


class ReasonIn(Schema):
    reason: Text(rules.MAX_TEXT, min_length=1, what="reason")


class DisputeIn(Schema):
    reason: Text(rules.MAX_TEXT, min_length=rules.MIN_DISPUTE_REASON, what="reason for the dispute",
                 too_short=rules.DISPUTE_TOO_SHORT)


class ResolveIn(Schema):
    decision: Literal["approve", "void"]
    reason: Text(rules.MAX_TEXT, min_length=1, what="reason")


POLICY_MISSING = ("Confirm the terms you were shown: send the policy_id of /cancellation-guidance (null when "
                  "no penalty applies).")


class CancelIn(Schema):
    reason_id: int = Field(..., description="One of GET /api/cancellation-reasons?role=...")
    note: Note = ""
    policy_id: int | None = Field(None, description="The policy_id that GET .../cancellation-guidance showed "
                                                    "(null when no penalty applies); required unless "
                                                    "on_behalf_of is given")
    as_role: Literal["parent", "tutor"] | None = None
    on_behalf_of: Literal["parent", "tutor"] | None = None

    @model_validator(mode="wrap")
    @classmethod
    def policy_shown(cls, data, handler):
        """policy_id confirms the terms the caller was shown: required (null allowed) unless a
        coordinator cancels on_behalf_of; reported beside any other missing field."""
        errors, model = [], None
        try:
            model = handler(data)
        except PydanticValidationError as exc:
            errors = [{"type": PydanticCustomError(e["type"], e["msg"]), "loc": e["loc"], "input": e["input"]}
                      for e in exc.errors()]
        if isinstance(data, dict) and data.get("on_behalf_of") is None and "policy_id" not in data:
            errors.append({"type": PydanticCustomError("missing", POLICY_MISSING), "loc": ("policy_id",),
                           "input": data})
        if errors:
            raise PydanticValidationError.from_exception_data(cls.__name__, errors)
        return model


class ProposeIn(Schema):
    proposed_start: Moment
    reason_id: int = Field(..., description="One of GET /api/cancellation-reasons?role=...&kind=reschedule")
    note: Note = ""
    as_role: Literal["parent", "tutor"] | None = None


class CounterIn(Schema):
    proposed_start: Moment
    note: Note = ""


class CreateIn(Schema):
    tutor_id: int
    student_id: int
    start: Moment
    end: Moment
    course_id: int | None = None
    is_trial: bool = False


class AdhocRow(Schema):
    student_id: int
    start: Moment
    end: Moment
    course_id: int | None = None
    note: Note = ""


class AdhocIn(Schema):
    sessions: list[AdhocRow]


class ListFilters(Schema):
    status: Text(400, what="status list") | None = None
    from_: Moment | None = Field(None, alias="from")
    to: Moment | None = None
    cursor: Text(100, what="cursor") | None = None
    limit: int = Field(50, ge=1, le=100)




# --- serialization ----------------------------------------------------------------------------


def _thread(thread) -> dict | None:
    if thread is None:
        return None
    return {
        "id": thread.id, "status": thread.status, "opened_by_role": thread.opened_by_role,
        "reason": thread.reason.label, "note": thread.note, "created_at": thread.created_at,
        "proposals": thread.all_proposals,
    }


def serialize(session: Session, viewer: Viewer, now: datetime) -> dict:
    ctx = projections.context(session, viewer, now)
    return {
        "id": session.id,
        "tutor": person(session.tutor),
        "student": person(session.student),
        "course": {"id": session.course.id, "title": session.course.title} if session.course else None,
        "scheduled_start": session.scheduled_start,
        "scheduled_end": session.scheduled_end,
        "duration_minutes": int(session.duration.total_seconds() // 60),
        "status": session.status,
        "label": projections.status_label(session, ctx.rels),
        "checked_in_at": session.checked_in_at,
        "checked_out_at": session.checked_out_at,
        "no_show_party": session.no_show_party,
        "is_trial": session.is_trial,
        "billed_as_addon": session.billed_as_addon,
        "source": session.source,
        "cancelled_at": session.cancelled_at,
        "cancellation_reason": session.cancellation_reason.label if session.cancellation_reason else None,
        "video_provider": session.video_provider,
        "video_room_id": session.video_room_id,
        "meeting_url": session.meeting_url,
        "created_at": session.created_at,
        "updated_at": session.updated_at,
        "allowed_actions": projections.allowed_in(ctx),
        "reschedule": _thread(ctx.open_thread),
    }


def _detail_qs():
    qs = Session.objects.select_related("tutor", "student", "course", "cancellation_reason")
    return projections.with_open_thread(qs).prefetch_related("open_threads__reason")


def _fresh(request, session_id: int) -> dict:
    viewer = Viewer.of(request.user)
    session = get_session_for(viewer, session_id, queryset=_detail_qs())
    return serialize(session, viewer, timezone.now())


def _visible(request, session_id: int) -> Session:
    return get_session_for(Viewer.of(request.user), session_id)


# --- me ---------------------------------------------------------------------------------------


@root_router.get("/me", response=MeOut, tags=["me"])
def me(request):
    user = request.user
    children = User.objects.filter(pk__in=Guardianship.objects.filter(parent=user).values("student_id"))
    return {"id": user.id, "name": user.name, "roles": user.roles, "time_zone": user.time_zone,
            "children": [{"id": c.id, "name": c.name} for c in children.order_by("name")]}


@root_router.get("/cancellation-reasons", response={200: list[ReasonOut], **ERRORS}, tags=["sessions"])
def cancellation_reasons(request, role: Literal["parent", "tutor"],
                         kind: Literal["cancel", "reschedule"] = "cancel"):
    """The role-specific reason picker (kind=cancel by default; kind=reschedule for requests)."""
    return ChangeReason.objects.filter(role=role, kind=kind, active=True).order_by("position", "id")


# --- sessions ---------------------------------------------------------------------------------


@router.get("", response={200: SessionPage, **ERRORS})
def list_sessions(request, filters: Query[ListFilters]):
    """The caller's sessions in every role they hold, by start time (keyset-paged with cursor)."""
    viewer = Viewer.of(request.user)
    qs = visible_sessions(viewer).select_related("tutor", "student", "course", "cancellation_reason")
    if filters.status:
        wanted = [s.strip() for s in filters.status.split(",") if s.strip()]
        unknown = [s for s in wanted if s not in Status.values]
        if unknown:
            raise Refused(f"Unknown status: {', '.join(unknown)}.", code="invalid", status=422)
        qs = qs.filter(status__in=wanted)
    if filters.from_:
        qs = qs.filter(scheduled_start__gte=filters.from_)
    if filters.to:
        qs = qs.filter(scheduled_start__lt=filters.to)
    qs = paging.after_cursor(qs, filters.cursor, newest_first=False)
    rows = list(projections.with_open_thread(paging.order(qs, newest_first=False))
                .prefetch_related("open_threads__reason")[: filters.limit + 1])
    rows, cursor = paging.cut(rows, filters.limit)
    now = timezone.now()
    return {"items": [serialize(s, viewer, now) for s in rows], "next_cursor": cursor}


@router.post("", response={201: SessionOut, **ERRORS})
def create_session(request, payload: CreateIn):
    """A coordinator schedules a session."""
    session = lifecycle.create_session(by=request.user, tutor_id=payload.tutor_id, student_id=payload.student_id,
                                       start=payload.start, end=payload.end, course_id=payload.course_id,
                                       is_trial=payload.is_trial, channel=Channel.API)
    return Reply(201, _fresh(request, session.id))


@router.post("/adhoc", response={201: list[SessionOut], **ERRORS})
def log_adhoc(request, payload: AdhocIn):
    """A tutor batch-logs ad-hoc add-on sessions (all or none; per-row errors in `errors`)."""
    rows = [row.dict() for row in payload.sessions]
    created = lifecycle.log_adhoc_sessions(by=request.user, rows=rows, channel=Channel.API)
    return Reply(201, [_fresh(request, s.id) for s in created])


@router.get("/{session_id}", response={200: SessionOut, **ERRORS})
def get_session(request, session_id: int):
    return _fresh(request, session_id)


@router.get("/{session_id}/events", response={200: list[EventOut], **ERRORS})
def session_events(request, session_id: int):
    """The audit trail, to the session's participants and coordinators."""
    viewer = Viewer.of(request.user)
    session = _visible(request, session_id)
    if not (viewer.relations(session) & (PARTICIPANTS | {Relation.COORDINATOR})):
        raise Refused("Only the session's participants and coordinators can read its history.",
                      code="not_allowed", status=FORBIDDEN)
    events = SessionEvent.objects.filter(session=session).select_related("actor").order_by("id")
    return [
        {"id": e.id, "kind": e.kind, "actor": person(e.actor) if e.actor else None, "channel": e.channel,
         "from_status": e.from_status, "to_status": e.to_status, "reason": e.reason, "data": e.data,
         "created_at": e.created_at}
        for e in events
    ]


@router.get("/{session_id}/cancellation-guidance", response={200: GuidanceOut, **ERRORS})
def cancellation_guidance(request, session_id: int, as_role: Literal["parent", "tutor"] | None = None):
    """The penalty band and the coordinator-waiver reminder to show before confirming a cancel;
    pass its policy_id back to /cancel to confirm."""
    session = _visible(request, session_id)
    return lifecycle.cancellation_guidance(session, by=request.user, as_role=as_role)


def _act(request, session_id: int, fn, *args, **kwargs):
    session = _visible(request, session_id)
    fn(session, *args, by=request.user, channel=Channel.API, **kwargs)
    return _fresh(request, session_id)


@router.post("/{session_id}/check-in", response={200: SessionOut, **ERRORS})
def check_in(request, session_id: int):
    return _act(request, session_id, lifecycle.check_in)


@router.post("/{session_id}/check-out", response={200: SessionOut, **ERRORS}, openapi_extra={
    "requestBody": {"required": False,
                    "content": {"application/json": {"schema": CheckOutIn.model_json_schema()}}}})
def check_out(request, session_id: int):
    """The body is optional: `{"student_absent": true}` records a no-show by the student."""
    payload = CheckOutIn()
    if request.content_type != "application/json":
        payload.student_absent = request.POST.get("student_absent", "").lower() in ("1", "true", "on")
    elif request.body.strip():
        try:
            payload = CheckOutIn.model_validate_json(request.body)
        except PydanticValidationError as exc:
            raise Refused("The body must be JSON like {\"student_absent\": true}.", code="invalid",
                          status=422, errors=[{"field": ".".join(map(str, e["loc"])), "detail": e["msg"]}
                                              for e in exc.errors()]) from None
    return _act(request, session_id, lifecycle.check_out, student_absent=payload.student_absent)


@router.post("/{session_id}/acknowledge", response={200: SessionOut, **ERRORS})
def acknowledge(request, session_id: int):
    return _act(request, session_id, lifecycle.acknowledge)


@router.post("/{session_id}/dispute", response={200: SessionOut, **ERRORS})
def dispute(request, session_id: int, payload: DisputeIn):
    return _act(request, session_id, lifecycle.dispute, reason=payload.reason)


@router.post("/{session_id}/verify", response={200: SessionOut, **ERRORS})
def verify(request, session_id: int, payload: ReasonIn):
    return _act(request, session_id, lifecycle.verify, reason=payload.reason)


@router.post("/{session_id}/resolve-dispute", response={200: SessionOut, **ERRORS})
def resolve_dispute(request, session_id: int, payload: ResolveIn):
    return _act(request, session_id, lifecycle.resolve_dispute, decision=payload.decision, reason=payload.reason)


@router.post("/{session_id}/cancel", response={200: SessionOut, **ERRORS})
def cancel(request, session_id: int, payload: CancelIn):
    return _act(request, session_id, lifecycle.cancel, reason_id=payload.reason_id, note=payload.note,
                policy_id=payload.policy_id, as_role=payload.as_role, on_behalf_of=payload.on_behalf_of)


@router.post("/{session_id}/reschedule", response={201: SessionOut, **ERRORS})
def reschedule(request, session_id: int, payload: ProposeIn):
    body = _act(request, session_id, lifecycle.propose_reschedule, proposed_start=payload.proposed_start,
                reason_id=payload.reason_id, note=payload.note, as_role=payload.as_role)
    return Reply(201, body)


@router.post("/{session_id}/reschedule/{proposal_id}/accept", response={200: SessionOut, **ERRORS})
def accept_reschedule(request, session_id: int, proposal_id: int):
    return _act(request, session_id, lifecycle.accept_reschedule, proposal_id)


@router.post("/{session_id}/reschedule/{proposal_id}/reject", response={200: SessionOut, **ERRORS})
def reject_reschedule(request, session_id: int, proposal_id: int, payload: ReasonIn):
    return _act(request, session_id, lifecycle.reject_reschedule, proposal_id, reason=payload.reason)


@router.post("/{session_id}/reschedule/{proposal_id}/counter", response={201: SessionOut, **ERRORS})
def counter_reschedule(request, session_id: int, proposal_id: int, payload: CounterIn):
    body = _act(request, session_id, lifecycle.counter_reschedule, proposal_id,
                proposed_start=payload.proposed_start, note=payload.note)
    return Reply(201, body)


@router.post("/{session_id}/reschedule/{proposal_id}/withdraw", response={200: SessionOut, **ERRORS})
def withdraw_reschedule(request, session_id: int, proposal_id: int):
    return _act(request, session_id, lifecycle.withdraw_reschedule, proposal_id)
