import json
from datetime import timedelta

import pytest

from sessions import lifecycle
from sessions.errors import Refused
from sessions.models import PackageDeduction, Session, Status
from tests.conftest import NOW


def row(student, hours_ago, minutes=60, **extra):
    start = NOW - timedelta(hours=hours_ago)
    return {"student_id": student.id, "start": start, "end": start + timedelta(minutes=minutes), **extra}


def test_a_tutor_batch_logs_addon_sessions_for_parent_approval(tutor, student, parent, package):
    """L30: billed_as_addon, the same approval flow, no package deduction."""
    made = lifecycle.log_adhoc_sessions(by=tutor, rows=[row(student, 30, note="Exam prep"), row(student, 5)], now=NOW)
    assert [s.status for s in made] == [Status.AWAITING_APPROVAL_PARENT] * 2
    assert all(s.billed_as_addon and s.checked_in_at and s.checked_out_at for s in made)
    lifecycle.acknowledge(made[0], by=parent, now=NOW)
    assert not PackageDeduction.objects.exists()
    assert made[0].events.first().kind == "adhoc_logged"


def test_bad_rows_are_reported_each_and_nothing_is_saved(tutor, student, outsider, make_session):
    """Per-row errors so a form keeps the valid rows' input; all or none."""
    make_session(start=NOW - timedelta(hours=10))
    rows = [
        row(student, 30),                       # fine
        row(student, 10, minutes=30),           # overlaps the existing session
        {"student_id": outsider.id, "start": NOW - timedelta(hours=50), "end": NOW - timedelta(hours=49)},
        row(student, 1, minutes=120),           # not ended yet
        row(student, 24 * 40),                  # too old
        row(student, 70, minutes=-30),          # ends before it starts
        row(student, 30, minutes=30),           # overlaps row 0
    ]
    with pytest.raises(Refused) as exc:
        lifecycle.log_adhoc_sessions(by=tutor, rows=rows, now=NOW)
    assert exc.value.status == 422
    assert [(e["row"], e["code"]) for e in exc.value.errors] == [
        (1, "slot_taken"), (2, "not_matched"), (3, "not_ended"), (4, "too_old"), (5, "end_before_start"),
        (6, "slot_taken")]
    assert Session.objects.count() == 1


def test_only_tutors_log_adhoc_sessions(parent, student):
    with pytest.raises(Refused) as exc:
        lifecycle.log_adhoc_sessions(by=parent, rows=[row(student, 5)], now=NOW)
    assert exc.value.status == 403


def test_adhoc_through_the_api_reports_rows(client, tutor, student, time_machine):
    time_machine.move_to(NOW, tick=False)
    client.force_login(tutor)
    good = {"student_id": student.id, "start": (NOW - timedelta(hours=3)).isoformat(),
            "end": (NOW - timedelta(hours=2)).isoformat()}
    bad = good | {"start": (NOW - timedelta(hours=2, minutes=30)).isoformat()}
    r = client.post("/api/sessions/adhoc", json.dumps({"sessions": [good, bad]}), content_type="application/json")
    assert r.status_code == 422 and r.json()["errors"] == [
        {"row": 1, "detail": "Overlaps another session in this batch.", "code": "slot_taken"}]
    r = client.post("/api/sessions/adhoc", json.dumps({"sessions": [good]}), content_type="application/json")
    assert r.status_code == 201 and r.json()[0]["billed_as_addon"]
