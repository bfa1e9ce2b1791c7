"""The desk's routes of the JSON API: accepting a match schedules its sessions (issue 17 item 2).
Thin: parse, call desk/patterns.py, serialize. Coordinators only (403 for everyone else)."""

from datetime import datetime, time

from ninja import Field, Router, Schema
from ninja.responses import Status as Reply

from sessions.models import Channel
from sessions.schemas import ErrorOut
from tutoring.input import Day

from . import patterns

router = Router(tags=["matches"])


class AcceptIn(Schema):
    weekdays: list[int] = Field(..., min_length=1, max_length=7, description="0 = Monday … 6 = Sunday.")
    start_time: time = Field(..., description="Local start time in the tutor's time zone, e.g. 16:30.")
    minutes: int = Field(..., description="Length of each session.")
    starts_on: Day
    weeks: int | None = Field(None, description="Weeks to plan; omit to plan until the package's credits are used.")
    confirm: bool = Field(False, description="Schedule the dates without conflicts even if some have one.")


class SlotOut(Schema):
    id: int
    start: datetime
    end: datetime


class ConflictOut(Schema):
    start: datetime
    end: datetime
    session_id: int
    whose: str
    detail: str


class AcceptOut(Schema):
    match_id: int
    pattern_id: int
    time_zone: str
    sessions: list[SlotOut]
    skipped: list[ConflictOut]


class ConflictsOut(ErrorOut):
    errors: list[ConflictOut] = []


ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ConflictsOut, 422: ErrorOut}


@router.post("/{match_id}/accept", response={201: AcceptOut, **ERRORS})
def accept_match(request, match_id: int, payload: AcceptIn):
    """Accept a match with a weekly pattern and create its sessions (status scheduled). Conflicts
    with the tutor's or the student's other sessions answer 409 with each of them in `errors`, and
    nothing is written, unless `confirm` is true: then only the free dates are scheduled."""
    spec = patterns.PatternInput(weekdays=tuple(payload.weekdays), start_time=payload.start_time,
                                 minutes=payload.minutes, starts_on=payload.starts_on, weeks=payload.weeks)
    pattern, created, plan = patterns.accept_match(match_id, by=request.user, spec=spec, confirm=payload.confirm,
                                                   channel=Channel.API)
    return Reply(201, {
        "match_id": pattern.match_id, "pattern_id": pattern.pk, "time_zone": pattern.time_zone,
        "sessions": [{"id": s.pk, "start": s.scheduled_start, "end": s.scheduled_end} for s in created],
        "skipped": [c.as_dict() for c in plan.conflicts],
    })
