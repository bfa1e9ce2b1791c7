"""Conflicting actions on one session from many threads: exactly one winner per round, one event
per change, never two deductions (each transition locks the row and re-reads it)."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connection

from sessions import lifecycle
from sessions.errors import Refused
from sessions.models import PackageDeduction, Session, SessionEvent, Status
from tests.conftest import NOW

ROUNDS = 150


def racer(barrier):
    """Runs one attempt once every thread is at the barrier; True when it went through."""
    def run(fn):
        barrier.wait()
        try:
            fn()
            return True
        except Refused:
            return False

    return run


def close_connections(pool, barrier):
    """Each worker thread closes its own connection, so the test database can be dropped."""
    def close(_):
        barrier.wait()
        connection.close()

    list(pool.map(close, range(barrier.parties)))


@pytest.mark.django_db(transaction=True)
def test_acknowledge_dispute_cancel_verify_race(make_session, parent, coordinator, tutor, reasons, package):
    def attempts(s):
        return [
            ("acknowledge", lambda: lifecycle.acknowledge(s.pk, by=parent, now=NOW)),
            ("acknowledge", lambda: lifecycle.acknowledge(s.pk, by=parent, now=NOW)),
            ("dispute", lambda: lifecycle.dispute(s.pk, by=parent, reason="wrong: no lesson", now=NOW)),
            ("dispute", lambda: lifecycle.dispute(s.pk, by=parent, reason="wrong: no lesson", now=NOW)),
            ("cancel", lambda: lifecycle.cancel(s.pk, by=tutor, reason_id=reasons[("tutor", "cancel")].id, now=NOW)),
            ("verify", lambda: lifecycle.verify(s.pk, by=coordinator, reason="override", now=NOW)),
        ]

    package.credits = ROUNDS
    package.save()
    barrier = threading.Barrier(6)
    run = racer(barrier)

    with ThreadPoolExecutor(max_workers=6) as pool:
        for i in range(ROUNDS):
            start = NOW - timedelta(days=30) + timedelta(hours=2 * i)
            s = make_session(start=start, status=Status.AWAITING_APPROVAL_PARENT, checked_in_at=start,
                             checked_out_at=start + timedelta(hours=1))
            tries = attempts(s)
            won = [name for (name, _), ok in zip(tries, pool.map(lambda t: run(t[1]), tries)) if ok]
            s.refresh_from_db()
            events = list(SessionEvent.objects.filter(session=s).order_by("id"))
            parent_wins = [w for w in won if w in ("acknowledge", "dispute")]
            # acknowledge and dispute exclude each other; verify may still follow a dispute
            assert len(parent_wins) <= 1 and "cancel" not in won, won
            assert len(won) == len(events) >= 1, (won, [e.kind for e in events])
            chain = [Status.AWAITING_APPROVAL_PARENT] + [e.to_status for e in events]
            assert [e.from_status for e in events] == chain[:-1] and chain[-1] == s.status
            deducted = PackageDeduction.objects.filter(session=s).count()
            assert deducted == (1 if s.status == Status.APPROVED else 0)
        close_connections(pool, barrier)
    assert PackageDeduction.objects.count() == Session.objects.filter(status=Status.APPROVED).count()


@pytest.mark.django_db(transaction=True)
def test_accept_and_cancel_race_on_a_reschedule(make_session, parent, tutor, reasons):
    """Accepting a proposal and cancelling the session: one wins, the thread ends consistent."""
    barrier = threading.Barrier(3)
    run = racer(barrier)

    with ThreadPoolExecutor(max_workers=3) as pool:
        for i in range(60):
            s = make_session(start=NOW + timedelta(days=3, hours=2 * i))
            p = lifecycle.propose_reschedule(s, by=tutor, proposed_start=NOW + timedelta(days=40, hours=2 * i),
                                             reason_id=reasons[("tutor", "reschedule")].id, now=NOW)
            fns = [lambda: lifecycle.accept_reschedule(s.pk, p.pk, by=parent, now=NOW),
                   lambda: lifecycle.reject_reschedule(s.pk, p.pk, by=parent, reason="no", now=NOW),
                   lambda: lifecycle.cancel(s.pk, by=tutor, reason_id=reasons[("tutor", "cancel")].id, now=NOW)]
            results = list(pool.map(run, fns))
            accept_or_reject = results[0] + results[1]
            assert accept_or_reject <= 1
            s.refresh_from_db()
            p.refresh_from_db()
            assert p.status != "open" and p.thread.status != "open"
            assert SessionEvent.objects.filter(session=s).count() == 1 + sum(results)
        close_connections(pool, barrier)


@pytest.mark.django_db(transaction=True)
def test_adhoc_batches_across_two_creators_in_opposite_orders(tutor, student):
    """Two tutors batch-log sessions in two creators' courses, in opposite orders, at the same
    moment: both batches go through. Each batch is one INSERT, so the per-statement triggers take
    their locks (the creators' change stamps, then the rollup rows) once and in key order; written
    a row at a time, the two batches deadlocked on each other's stamps."""
    from tests.conftest import make_user
    from tutoring.models import Course, Enrollment, Match, Role

    other_tutor = make_user("tom", Role.TUTOR)
    Match.objects.create(tutor=other_tutor, student=student)
    courses = [Course.objects.create(creator=make_user(name, Role.CREATOR), title=name) for name in ("ann", "bob")]
    for course in courses:
        Enrollment.objects.create(course=course, student=student)
        for who in (tutor, other_tutor):
            Match.objects.create(tutor=who, student=student, course=course)
    barrier = threading.Barrier(2)
    run = racer(barrier)

    def batch(who, order, i):
        rows = [{"student_id": student.id, "course_id": course.id,
                 "start": NOW - timedelta(hours=4 * i + 2 * k + (1 if who == tutor else 0) + 2),
                 "end": NOW - timedelta(hours=4 * i + 2 * k + (1 if who == tutor else 0) + 1.5)}
                for k, course in enumerate(order)]
        return lambda: lifecycle.log_adhoc_sessions(by=who, rows=rows, now=NOW)

    with ThreadPoolExecutor(max_workers=2) as pool:
        for i in range(40):
            fns = [batch(tutor, courses, i), batch(other_tutor, courses[::-1], i)]
            assert list(pool.map(run, fns)) == [True, True]
        close_connections(pool, barrier)
    assert Session.objects.filter(billed_as_addon=True).count() == 160
