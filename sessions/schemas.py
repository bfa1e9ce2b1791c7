"""Pieces of the JSON API shared by the session and creator endpoints, and the bodies of the
session actions' routes (named by the action registry, sessions/actions.py)."""

from typing import Literal

from ninja import Field, Schema
from pydantic import BaseModel, ConfigDict, model_validator
from pydantic import ValidationError as PydanticValidationError
from pydantic_core import PydanticCustomError

from tutoring.input import Moment, Text
from tutoring.models import User

from . import rules
from .models import Status


class Out(BaseModel):
    """An answer's schema that pydantic validates alone, from a dict or an object's attributes.
    ninja's Schema first wraps each object it validates in a DjangoGetter (a call in Python per
    field, to turn managers, querysets, callables and files into values): for the creator's stats
    and their ~500 per-ST rows that was two thirds of the request's CPU (28.8 -> 19.4 ms on the
    bench). A schema whose fields need those conversions, or a resolve_ method, stays a Schema."""

    model_config = ConfigDict(from_attributes=True)


class PersonOut(Out):
    id: int
    name: str
    avatar_url: str


class CourseOut(Out):
    id: int
    title: str


class ErrorOut(Schema):
    detail: str
    code: str


# every error status a session endpoint may answer with, all in the {"detail", "code"} shape
ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


def person(user: User) -> dict:
    return {"id": user.id, "name": user.name, "avatar_url": user.avatar_url}


# --- the actions' bodies ------------------------------------------------------------------------


class CheckOutIn(Schema):
    student_absent: bool = False


# Every text is tutoring.input's Text and every time its Moment: the same checks as the web forms,
# so malformed input is a 422 naming the field before any state is looked at.
Note = Text(rules.MAX_TEXT, what="note")


class ReasonIn(Schema):
    reason: Text(rules.MAX_TEXT, min_length=1, what="reason")


# what the coordinator's page showed: a session that changed since is refused (rules.require_unchanged)
SEEN_STATUS = ("The session's status as you saw it when you decided (its `status`): if it changed since (the "
               "parent disputed it meanwhile), the action is refused with 409 `changed` and nothing changes.")


class VerifyIn(ReasonIn):
    seen_status: Status | None = Field(None, description=SEEN_STATUS)


class MoveIn(Schema):
    start: Moment = Field(..., description="The new start; the session keeps its length.")
    reason: Text(rules.MAX_TEXT, min_length=1, what="reason for the move")


class OnBehalfIn(Schema):
    """A coordinator answers for the side that must (accept, withdraw): on_behalf with a reason."""

    on_behalf: bool = False
    reason: Text(rules.MAX_TEXT, what="reason") = ""


class RejectIn(ReasonIn):
    on_behalf: bool = Field(False, description="A coordinator rejects for the side that must answer.")


class DisputeIn(Schema):
    reason: Text(rules.MAX_TEXT, min_length=rules.MIN_DISPUTE_REASON, what="reason for the dispute",
                 too_short=rules.DISPUTE_TOO_SHORT)


class ResolveIn(Schema):
    decision: Literal["approve", "void"]
    reason: Text(rules.MAX_TEXT, min_length=1, what="reason")
    seen_status: Status | None = Field(None, description=SEEN_STATUS)


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
