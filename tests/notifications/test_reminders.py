"""Reminders 24 h, 1 h and 15 min before each scheduled session (R16), to the tutor, the student
and the student's parents, each in their own zone, leading straight into the room (R02)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail

from notifications import dispatch, planning
from notifications.models import Delivery, DeliveryStatus, Notification
from sessions import lifecycle
from sessions.models import Status
from tests.conftest import NOW, at_once, make_user
from tutoring.models import Role

from .conftest import deliveries, emails_to, inbox, sweep

START = NOW + timedelta(days=2)  # Wed 18 Nov 2026 10:00 UTC


@pytest.fixture
def lesson(make_session):
    return make_session(start=START)


def at(clock, moment):
    clock.at(moment)
    return sweep(moment)


def test_each_reminder_goes_at_its_threshold_to_tutor_student_and_parents_once(clock, lesson, tutor, student,
                                                                             parent, settings):
    """R16 R02: 24 h, 1 h and 15 min before, by email through Resend's API and in the app; nothing a
    minute early; a second sweep sends nothing; the tutor's and student's reminders link straight
    into the room, the email's too."""
    settings.SITE_URL = "https://tutoring.example.com"
    people = [tutor, student, parent]
    expected = {}
    for kind, lead in (("reminder_24h", timedelta(hours=24)), ("reminder_1h", timedelta(hours=1)),
                       ("reminder_15m", timedelta(minutes=15))):
        assert at(clock, START - lead - timedelta(minutes=1)) == [], f"{kind} a minute early"
        made = at(clock, START - lead)
        assert len(made) == 6, kind  # three people, in the app and by email
        assert at(clock, START - lead + timedelta(minutes=1)) == [], "the next sweep sends nothing again"
        expected[kind] = made
    assert at(clock, START) == []  # started: nothing more
    for person in people:
        assert [n.kind for n in inbox(person)] == ["reminder_24h", "reminder_1h", "reminder_15m"]
        assert len(emails_to(person)) == 3
    assert Delivery.objects.exclude(status=DeliveryStatus.SENT).count() == 0
    # texts: each in the reader's zone, a link into the room for those who join, the card for parents
    pat_24h = inbox(parent)[0]
    assert pat_24h.title == "Reminder: Sam's session starts in 24 hours"
    assert "Sam's session with Tia (Algebra I) starts Wed 18 Nov 10:00 (Europe/London), in 24 hours." in pat_24h.text
    assert pat_24h.url == f"/sessions/{lesson.id}/"
    tia_15m = inbox(tutor)[2]
    assert tia_15m.title == "Reminder: your session with Sam starts in 15 minutes"
    assert tia_15m.url == inbox(student)[2].url == f"/session/{lesson.id}/"
    email = emails_to(tutor)[1]
    assert email.subject == "Reminder: your session with Sam starts in 1 hour"
    assert f"https://tutoring.example.com/session/{lesson.id}/" in email.body
    html = email.alternatives[0][0]
    assert f'href="https://tutoring.example.com/session/{lesson.id}/"' in html


def test_reminders_read_right_across_a_dst_change_in_two_zones(clock, make_session, tutor, student, parent):
    """R16: the 24 h reminder goes 24 real hours ahead, and each reader sees the start in their own
    zone as it will be on the day: Berlin springs forward between the reminder and the session,
    New York already did."""
    tutor.time_zone, parent.time_zone = "Europe/Berlin", "America/New_York"
    tutor.save(), parent.save()
    start = datetime(2026, 3, 29, 9, 0, tzinfo=UTC)  # Berlin moves to summer time at 01:00 UTC that day
    lesson = make_session(start=start)
    assert at(clock, start - timedelta(hours=24, minutes=1)) == []
    assert len(at(clock, start - timedelta(hours=24))) == 6
    assert "starts Sun 29 Mar 11:00 (Europe/Berlin), in 24 hours" in inbox(tutor)[0].text  # CEST, UTC+2
    assert "starts Sun 29 Mar 05:00 (America/New_York), in 24 hours" in inbox(parent)[0].text  # EDT, UTC-4
    assert "starts Sun 29 Mar 09:00 (UTC)" in inbox(student)[0].text
    at(clock, start - timedelta(hours=1))
    assert "starts Sun 29 Mar 11:00 (Europe/Berlin), in 1 hour" in inbox(tutor)[1].text
    assert lesson.id and len(emails_to(parent)) == 2


def test_a_sweep_run_twice_sends_once(clock, lesson):
    clock.at(START - timedelta(hours=1))
    first = planning.plan(now=START - timedelta(hours=1))
    again = planning.plan(now=START - timedelta(hours=1))
    assert len(first) == 6 and again == []
    dispatch.dispatch(now=START - timedelta(hours=1))
    dispatch.dispatch(now=START - timedelta(hours=1))
    assert len(mail.outbox) == 3 and Notification.objects.count() == 3


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_send_exactly_one_of_each(make_session, tutor, student, parent, time_machine):
    """Two workers run the whole sweep at the same moment on their own connections: each
    (session, reminder, person, channel) is written and sent once."""
    moment = START - timedelta(minutes=15)
    time_machine.move_to(moment, tick=False)
    make_session(start=START)  # its 15 min reminder is due
    for i in range(3):  # and the 1 h reminders of three more, with other tutors
        make_session(start=START + timedelta(minutes=5), tutor=make_user(f"tutor{i}", Role.TUTOR))
    at_once(lambda: sweep(moment))
    people = 4 * 3  # four sessions: tutor, student, parent each
    assert Delivery.objects.filter(status=DeliveryStatus.SENT).count() == Delivery.objects.count() == 2 * people
    assert Notification.objects.count() == people
    assert len(mail.outbox) == people


def test_a_cancelled_session_gets_no_further_reminder(clock, lesson, tutor, reasons, policies):
    """R16: cancelled after the 24 h reminder: no 1 h or 15 min reminder."""
    at(clock, START - timedelta(hours=24))
    lifecycle.cancel(lesson, by=tutor, reason_id=reasons[("tutor", "cancel")].id,
                     policy_id=policies["tutor_late"].id, now=START - timedelta(hours=23))
    before = Delivery.objects.filter(kind__startswith="reminder").count()
    at(clock, START - timedelta(hours=1))
    at(clock, START - timedelta(minutes=15))
    assert Delivery.objects.filter(kind__startswith="reminder").count() == before


def test_a_planned_reminder_of_a_session_cancelled_before_it_went_is_not_sent(clock, lesson, tutor, reasons,
                                                                             policies):
    moment = clock.at(START - timedelta(hours=24))
    planning.plan(now=moment)  # written, not yet sent (the worker is behind)
    lifecycle.cancel(lesson, by=tutor, reason_id=reasons[("tutor", "cancel")].id,
                     policy_id=policies["tutor_late"].id, now=moment)
    dispatch.dispatch(now=moment)
    reminders = deliveries(kind="reminder_24h")
    assert {d.status for d in reminders} == {DeliveryStatus.SKIPPED}
    assert {d.last_error for d in reminders} == {"the session is no longer scheduled"}
    assert not any(m.subject.startswith("Reminder") for m in mail.outbox)


def test_a_moved_session_gets_reminders_for_its_new_time_only(clock, lesson, tutor, parent, reasons):
    """R16: after the 24 h reminder the session moves two days later: the old 1 h reminder never
    goes, and the new time gets its own 24 h, 1 h and 15 min reminders."""
    at(clock, START - timedelta(hours=24))
    new_start = START + timedelta(days=2)
    proposal = lifecycle.propose_reschedule(lesson, by=parent, proposed_start=new_start,
                                            reason_id=reasons[("parent", "reschedule")].id,
                                            now=START - timedelta(hours=20))
    lifecycle.accept_reschedule(lesson, proposal.id, by=tutor, now=START - timedelta(hours=19))
    at(clock, START - timedelta(hours=1))
    assert not Delivery.objects.filter(kind="reminder_1h").exists()
    at(clock, new_start - timedelta(hours=24))
    at(clock, new_start - timedelta(hours=1))
    titles = [n.title for n in inbox(tutor) if n.kind.startswith("reminder")]
    assert titles == ["Reminder: your session with Sam starts in 24 hours"] * 2 + [
        "Reminder: your session with Sam starts in 1 hour"]
    assert "starts Fri 20 Nov 10:00 (UTC)" in inbox(tutor)[-1].text


def test_a_reminder_planned_for_the_old_time_is_dropped_when_the_session_moves(clock, lesson, tutor, parent,
                                                                              reasons):
    moment = clock.at(START - timedelta(hours=1))
    planning.plan(now=moment)
    proposal = lifecycle.propose_reschedule(lesson, by=tutor, proposed_start=START + timedelta(days=3),
                                            reason_id=reasons[("tutor", "reschedule")].id,
                                            now=moment - timedelta(hours=10))
    lifecycle.accept_reschedule(lesson, proposal.id, by=parent, now=moment - timedelta(hours=9))
    dispatch.dispatch(now=moment)
    assert {d.last_error for d in deliveries(kind="reminder_1h")} == {
        "the session moved (the new time gets its own reminders)"}


def test_a_started_session_gets_no_15_minute_reminder(clock, lesson, tutor):
    """The tutor checked in 20 minutes early: the session is under way, no reminder."""
    at(clock, START - timedelta(hours=1))
    lifecycle.check_in(lesson, by=tutor, now=START - timedelta(minutes=20))
    assert at(clock, START - timedelta(minutes=15)) == []
    assert lesson.__class__.objects.get(pk=lesson.pk).status == Status.CHECKED_IN


def test_after_an_outage_only_the_latest_reminder_goes(clock, lesson, tutor):
    """The sweep was down from the day before until 30 minutes before the start: the 1 h reminder
    goes (it says how long is really left), the 24 h one is not sent late."""
    made = at(clock, START - timedelta(minutes=30))
    assert {d.kind for d in Delivery.objects.filter(pk__in=made)} == {"reminder_1h"}
    assert inbox(tutor)[0].title == "Reminder: your session with Sam starts in 30 minutes"


def test_a_24h_reminder_still_waiting_when_the_1h_one_is_due_is_dropped(clock, lesson):
    moment = clock.at(START - timedelta(hours=24))
    planning.plan(now=moment)
    late = clock.at(START - timedelta(minutes=50))  # the worker was stuck all day
    dispatch.dispatch(now=late)
    assert {d.last_error for d in deliveries(kind="reminder_24h")} == {"a later reminder replaces it"}


def test_no_reminders_for_other_statuses_or_inactive_people(clock, make_session, tutor, student, parent):
    cancelled = make_session(start=START, status=Status.CANCELLED_BY_PARENT)
    parent.is_active = False
    parent.save()
    lesson = make_session(start=START + timedelta(hours=2))
    at(clock, START - timedelta(hours=1))
    assert not Delivery.objects.filter(session=cancelled).exists()
    at(clock, lesson.scheduled_start - timedelta(hours=1))
    assert {d.recipient_id for d in deliveries(session=lesson)} == {tutor.id, student.id}
