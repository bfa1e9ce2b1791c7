from datetime import timedelta

from sessions import lifecycle, rules
from sessions.models import Session, Status
from tests.conftest import NOW

SPEC_STATUSES = ["scheduled", "checked_in", "awaiting_approval_parent", "approved", "disputed",
                 "cancelled_by_tutor", "cancelled_by_parent", "not_completed"]


def test_the_backend_statuses_are_the_specs_plus_the_no_show_extension():
    """L01: lowercase backend statuses; no_show is the documented extension (DESIGN.md)."""
    assert Status.values == SPEC_STATUSES + ["no_show"]
    assert all(value == value.lower() for value in Status.values)


def test_every_edge_starts_from_a_known_status_and_cancel_only_from_scheduled():
    assert {a for a, _ in rules.EDGES} | {b for _, b in rules.EDGES} <= set(Status.values)
    assert {a for a, b in rules.EDGES if b.startswith("cancelled")} == {Status.SCHEDULED}


def test_a_new_session_starts_scheduled(coordinator, tutor, student, course):
    """L03: scheduled is the initial status (the system creates it on match acceptance)."""
    s = lifecycle.create_session(by=coordinator, tutor_id=tutor.id, student_id=student.id,
                                 start=NOW + timedelta(days=1), end=NOW + timedelta(days=1, hours=1),
                                 course_id=course.id, now=NOW)
    assert s.status == Status.SCHEDULED == Session._meta.get_field("status").default
    assert (s.created_at, s.events.get().kind) == (NOW, "created")
