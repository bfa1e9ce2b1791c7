"""The desk's routes of the JSON API: accepting a match schedules its sessions from a weekly
pattern; changing or ending the pattern moves or withdraws its untouched ones (issue 17 item 2).
Thin: parse, call desk/patterns.py, serialize. Coordinators only (403 for everyone else)."""

from datetime import datetime, time
from typing import Annotated

from ninja import Field, Router, Schema
from ninja.responses import Status as Reply

from sessions.errors import Refused
from sessions.models import Channel
from sessions.rules import MAX_SESSION_LENGTH
from sessions.schemas import ErrorOut
from tutoring.input import Day
from tutoring.models import Match, MatchState

from . import patterns
from .models import WeeklyPattern

router = Router(tags=["matches"])


# the pattern's limits in the schema: malformed input is a 422 naming the field before the
# caller's role or the match is looked at (patterns.PatternInput.check says the same for the web)
LONGEST = int(MAX_SESSION_LENGTH.total_seconds() // 60)


class AcceptIn(Schema):
    weekdays: list[Annotated[int, Field(ge=0, le=6)]] = Field(..., min_length=1, max_length=7,
                                                              description="0 = Monday … 6 = Sunday.")
    start_time: time = Field(..., description="Local start time in the tutor's time zone, e.g. 16:30.")
    minutes: int = Field(..., ge=patterns.MIN_MINUTES, le=LONGEST, description="Length of each session.")
    starts_on: Day
    weeks: int | None = Field(None, ge=1, le=patterns.MAX_WEEKS,
                              description="Weeks to plan; omit to plan until the package's credits are used.")
    confirm: bool = Field(False, description="Schedule the dates without conflicts even if some have one.")


class SlotOut(Schema):
    id: int
    start: datetime
    end: datetime


class SlotConflictOut(Schema):
    """A date the pattern skips and the session it clashes with. Named apart from the session
    actions' ConflictOut: the OpenAPI document keys schemas by class name, and one would replace
    the other there."""

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
    skipped: list[SlotConflictOut]


class ConflictsOut(ErrorOut):
    errors: list[SlotConflictOut] = []


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


class ChangeOut(Schema):
    pattern_id: int
    moved: list[SlotOut]
    created: list[SlotOut]
    withdrawn: list[int]
    skipped: list[SlotConflictOut]


class EndIn(Schema):
    end_match: bool = Field(False, description="End the match too (no more ad-hoc sessions for it).")


def _pattern_of(match_id: int, by) -> int:
    patterns.require_coordinator(by)
    pattern = WeeklyPattern.objects.filter(match_id=match_id).values_list("pk", flat=True).first()
    if pattern is None:
        raise Refused("This match has no weekly pattern.", code="not_found", status=404)
    return pattern


def _slots(sessions) -> list[dict]:
    return [{"id": s.pk, "start": s.scheduled_start, "end": s.scheduled_end} for s in sessions]


@router.put("/{match_id}/pattern", response={200: ChangeOut, **ERRORS})
def change_pattern(request, match_id: int, payload: AcceptIn):
    """Change the match's weekly pattern: its untouched future sessions move to the new dates, extra
    dates get sessions, surplus ones are withdrawn; sessions somebody acted on stay. Conflicts: 409
    unless `confirm`. An accepted match without a pattern gets its first one here (accepting it
    again is refused)."""
    spec = patterns.PatternInput(weekdays=tuple(payload.weekdays), start_time=payload.start_time,
                                 minutes=payload.minutes, starts_on=payload.starts_on, weeks=payload.weeks)
    patterns.require_coordinator(request.user)
    if (Match.objects.filter(pk=match_id, state=MatchState.ACCEPTED).exists()
            and not WeeklyPattern.objects.filter(match_id=match_id).exists()):
        # an accepted match without a pattern (made before patterns) gets its first one
        pattern, created, plan = patterns.set_pattern(match_id, by=request.user, spec=spec,
                                                      confirm=payload.confirm, channel=Channel.API)
        return {"pattern_id": pattern.pk, "moved": [], "created": _slots(created), "withdrawn": [],
                "skipped": [c.as_dict() for c in plan.conflicts]}
    pattern_id = _pattern_of(match_id, request.user)
    outcome = patterns.change_pattern(pattern_id, by=request.user, spec=spec, confirm=payload.confirm,
                                      channel=Channel.API)
    return {"pattern_id": pattern_id, "moved": _slots(outcome.moved), "created": _slots(outcome.created),
            "withdrawn": [s.pk for s in outcome.withdrawn], "skipped": [c.as_dict() for c in outcome.skipped]}


@router.post("/{match_id}/pattern/end", response={200: ChangeOut, **ERRORS})
def end_pattern(request, match_id: int, payload: EndIn):
    """End the weekly pattern: its untouched future sessions are withdrawn (not completed)."""
    pattern_id = _pattern_of(match_id, request.user)
    outcome = patterns.end_pattern(pattern_id, by=request.user, end_match=payload.end_match, channel=Channel.API)
    return {"pattern_id": pattern_id, "moved": [], "created": [], "withdrawn": [s.pk for s in outcome.withdrawn],
            "skipped": []}
