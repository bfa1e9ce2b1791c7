"""The sessions' routes of the JSON API (the API object and its error handlers: tutoring/api.py).
Thin: parse, find the session the caller may see (else 404), call the lifecycle, serialize."""

import inspect
from datetime import datetime
from typing import Literal

from django.utils import timezone
from ninja import Field, Query, Router, Schema
from ninja.responses import Status as Reply
from pydantic import ValidationError as PydanticValidationError
from pydantic import ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from tutoring.input import Moment, Text

from . import lifecycle, projections, rules, selectors
from .access import PARTICIPANTS, Relation, Viewer, get_session_for
from .actions import ACTIONS, Action, allowed_in
from .errors import CONFLICT, FORBIDDEN, Refused
from .models import Channel, Session
from .paging import Cursor
from .schemas import ERRORS, CourseOut, ErrorOut, Note, PersonOut, person

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


class ConflictOut(ErrorOut):
    """An action refused by the session's state (409): the refusal and the session as it is now,
    so a client that lost a race sees who won without another request."""
    session: SessionOut


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
    cost: str | None = Field(description="The sheet's charge for cancelling now, e.g. \"Penalty "
                                         "guidance: cancelling now is charged 0.5 of a credit (€20.00) of the "
                                         "10-lesson package, invoiced separately, no credit deducted from the "
                                         "package.\" (null: nothing). Guidance only: nothing is deducted.")
    cost_credits: str | None = Field(description="The credits it costs, as a decimal string (\"0.5\").")
    cost_amount: str | None = Field(description="The amount, where the package has a price (\"€20.00\").")
    waiver_reminder: str
    hours_before_start: float


class CreateIn(Schema):
    tutor_id: int
    student_id: int
    start: Moment
    end: Moment
    course_id: int | None = None
    is_trial: bool = False

    @field_validator("end")
    @classmethod
    def ends_after_start(cls, value, info: ValidationInfo):
        """The slot's own rules (lifecycle's too) with the rest of the input: a 422 naming `end`
        before who asks is looked at."""
        start = info.data.get("start")
        if start is not None and value <= start:
            raise PydanticCustomError("range", "The end must be after the start.")
        if start is not None and value - start > rules.MAX_SESSION_LENGTH:
            hours = int(rules.MAX_SESSION_LENGTH.total_seconds() // 3600)
            raise PydanticCustomError("range", "A session can last at most {hours} hours.", {"hours": hours})
        return value


class AdhocRow(Schema):
    student_id: int
    start: Moment
    end: Moment
    course_id: int | None = None
    note: Note = ""


class AdhocIn(Schema):
    sessions: list[AdhocRow] = Field(..., min_length=1, max_length=lifecycle.MAX_ADHOC_ROWS)


class ListFilters(Schema):
    status: Text(400, what="status list") | None = None
    from_: Moment | None = Field(None, alias="from")
    to: Moment | None = None
    cursor: Cursor | None = None
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
        "allowed_actions": allowed_in(ctx),
        "reschedule": _thread(ctx.open_thread),
    }


def _fresh(request, session_id: int) -> dict:
    viewer = Viewer.of(request.user)
    session = get_session_for(viewer, session_id, queryset=selectors.detail_queryset())
    return serialize(session, viewer, timezone.now())


def _visible(request, session_id: int) -> Session:
    return get_session_for(Viewer.of(request.user), session_id)


# --- me ---------------------------------------------------------------------------------------


@root_router.get("/me", response={200: MeOut, 401: ErrorOut}, tags=["me"])
def me(request):
    user = request.user
    return {"id": user.id, "name": user.name, "roles": user.roles, "time_zone": user.time_zone,
            "children": [{"id": c.id, "name": c.name} for c in selectors.guardians_children(user)]}


@root_router.get("/cancellation-reasons", response={200: list[ReasonOut], **ERRORS}, tags=["sessions"])
def cancellation_reasons(request, role: Literal["parent", "tutor"],
                         kind: Literal["cancel", "reschedule"] = "cancel"):
    """The role-specific reason picker (kind=cancel by default; kind=reschedule for requests)."""
    return selectors.change_reasons(role, kind)


# --- sessions ---------------------------------------------------------------------------------


@router.get("", response={200: SessionPage, **ERRORS})
def list_sessions(request, filters: Query[ListFilters]):
    """The caller's sessions in every role they hold, by start time (keyset-paged with cursor)."""
    viewer = Viewer.of(request.user)
    rows, cursor = selectors.api_sessions(viewer, status=filters.status, start_from=filters.from_,
                                          start_to=filters.to, cursor=filters.cursor, limit=filters.limit)
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
    return [
        {"id": e.id, "kind": e.kind, "actor": person(e.actor) if e.actor else None, "channel": e.channel,
         "from_status": e.from_status, "to_status": e.to_status, "reason": e.reason, "data": e.data,
         "created_at": e.created_at}
        for e in selectors.events_of(session)
    ]


@router.get("/{session_id}/cancellation-guidance", response={200: GuidanceOut, **ERRORS})
def cancellation_guidance(request, session_id: int, as_role: Literal["parent", "tutor"] | None = None):
    """The penalty band and the coordinator-waiver reminder to show before confirming a cancel;
    pass its policy_id back to /cancel to confirm."""
    session = _visible(request, session_id)
    return lifecycle.cancellation_guidance(session, by=request.user, as_role=as_role)


# --- the session actions: one route per entry of the action registry with an Api part -----------


def _act(request, session_id: int, action: Action, data: dict):
    session = _visible(request, session_id)
    try:
        action.perform(session, by=request.user, channel=Channel.API, data=data)
    except Refused as refusal:
        if refusal.status == CONFLICT:  # the state refused it: say what the state is now
            refusal.extra["session"] = SessionOut.model_validate(_fresh(request, session_id)).model_dump()
        raise
    return _fresh(request, session_id)


def _optional_body(request, action: Action) -> dict:
    """A body that may be left out, sent as a form, or as JSON (check-out's student_absent)."""
    schema = action.api.body
    if request.content_type != "application/json":
        return {name: request.POST.get(name, "").lower() in ("1", "true", "on") if field.annotation is bool
                else request.POST.get(name, "") for name, field in schema.model_fields.items()}
    if not request.body.strip():
        return schema().model_dump()
    try:
        if not request.body.lstrip().startswith(b"{"):
            # ninja's Schema reads attributes from any value: [] or 1 would pass as "no fields"
            raise PydanticValidationError.from_exception_data(schema.__name__, [
                {"type": "model_type", "loc": (), "input": None, "ctx": {"class_name": schema.__name__}}])
        return schema.model_validate_json(request.body).model_dump()
    except PydanticValidationError as exc:
        raise Refused(f"The body must be JSON like {action.api.optional_body}.", code="invalid",
                      status=422, errors=[{"field": ".".join(map(str, e["loc"])), "detail": e["msg"]}
                                          for e in exc.errors()]) from None


def _route(action: Action):
    """The route of one registry entry: POST /api/sessions/{session_id}<path>, its body the entry's
    schema, its answer the session as it is now (201 where the action creates a proposal)."""
    api = action.api
    arg = inspect.Parameter.POSITIONAL_OR_KEYWORD
    params = [inspect.Parameter("request", arg), inspect.Parameter("session_id", arg, annotation=int)]
    if action.proposal:
        params.append(inspect.Parameter("proposal_id", arg, annotation=int))
    takes_payload = api.body is not None and not api.optional_body
    if takes_payload:
        params.append(inspect.Parameter("payload", arg, annotation=api.body))

    def view(request, session_id: int, proposal_id: int | None = None, payload=None):
        if takes_payload:
            data = payload.model_dump()
        elif api.optional_body:
            data = _optional_body(request, action)
        else:
            data = {}
        body = _act(request, session_id, action, data | {"proposal_id": proposal_id})
        return Reply(api.status, body) if api.status != 200 else body

    # django-ninja reads the parameters (path, body) from the signature
    view.__signature__ = inspect.Signature(params)
    view.__annotations__ = {p.name: p.annotation for p in params if p.annotation is not inspect.Parameter.empty}
    view.__name__ = view.__qualname__ = action.name
    view.__module__ = __name__
    view.__doc__ = api.doc or None
    extra = {}
    if api.optional_body:
        extra["openapi_extra"] = {"requestBody": {
            "required": False, "content": {"application/json": {"schema": api.body.model_json_schema()}}}}
    router.post(f"/{{session_id}}{api.path}", response={api.status: SessionOut, **ERRORS, 409: ConflictOut},
                **extra)(view)
    return view


ROUTES = {action.name: _route(action) for action in ACTIONS if action.api}
