"""The outbox: SessionEvent carries when it was notified; the relay claims each event once; the
commit hook only speeds it up; nothing recorded is ever lost or told twice."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.db import DatabaseError, transaction

from notifications import outbox
from notifications.models import Delivery, Notification
from sessions import lifecycle
from sessions.models import SessionEvent
from tests.conftest import NOW, at_once

from .conftest import inbox, sweep


@pytest.fixture(autouse=True)
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


def test_an_event_waits_in_the_outbox_until_the_relay_claims_it(awaiting, parent, coordinator):
    lifecycle.dispute(awaiting, by=parent, reason="The tutor left early.", now=NOW)  # no commit hook runs in this test
    event = SessionEvent.objects.get(kind="dispute")
    assert event.notified_at is None and not Notification.objects.exists()
    made = outbox.relay(now=NOW)
    event.refresh_from_db()
    assert event.notified_at == NOW and len(made) == 6  # coordinator, creator and tutor, in the app and by email
    assert outbox.relay(now=NOW) == []  # claimed once


def test_the_commit_hook_relays_at_once(awaiting, parent, coordinator, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as hooks:
        lifecycle.dispute(awaiting, by=parent, reason="The tutor left early.", now=NOW)
    assert len(hooks) == 1
    assert SessionEvent.objects.get(kind="dispute").notified_at == NOW
    assert len(inbox(coordinator)) == 1 and len(mail.outbox) == 3  # the coordinator, the creator, the tutor


def test_a_relay_asked_for_some_events_takes_only_those(session, make_session, tutor, reasons):
    other = make_session(start=NOW + timedelta(days=3))
    for s in (session, other):
        lifecycle.propose_reschedule(s, by=tutor, proposed_start=NOW + timedelta(days=6),
                                     reason_id=reasons[("tutor", "reschedule")].id, now=NOW)
    first, second = SessionEvent.objects.order_by("id")
    outbox.relay(ids=[second.id], now=NOW)
    first.refresh_from_db(), second.refresh_from_db()
    assert first.notified_at is None and second.notified_at == NOW


def test_the_append_only_trigger_allows_only_stamping_notified_at_once(awaiting, parent):
    lifecycle.dispute(awaiting, by=parent, reason="The tutor left early.", now=NOW)
    event = SessionEvent.objects.get(kind="dispute")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        SessionEvent.objects.filter(pk=event.pk).update(notified_at=NOW, reason="edited")
    SessionEvent.objects.filter(pk=event.pk).update(notified_at=NOW)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        SessionEvent.objects.filter(pk=event.pk).update(notified_at=NOW + timedelta(hours=1))
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        SessionEvent.objects.filter(pk=event.pk).update(notified_at=None)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        SessionEvent.objects.filter(pk=event.pk).delete()


def test_replayed_history_is_recorded_as_already_told(session, tutor, reasons):
    with lifecycle.silenced():
        lifecycle.propose_reschedule(session, by=tutor, proposed_start=NOW + timedelta(days=6),
                                     reason_id=reasons[("tutor", "reschedule")].id, now=NOW)
    assert SessionEvent.objects.get().notified_at == NOW
    assert outbox.relay(now=NOW) == [] and not Delivery.objects.exists()


def test_an_event_that_cannot_be_relayed_stays_in_the_outbox_and_holds_up_no_other(session, make_session, tutor,
                                                                                 reasons):
    """A malformed event (its data a list, where every kind expects an object) makes its fan-out
    fail: that is logged, the event stays unnotified (the admin and the next run still see it), and
    the events beside it go out."""
    later = make_session(start=NOW + timedelta(days=3))
    lifecycle.propose_reschedule(later, by=tutor, proposed_start=NOW + timedelta(days=6),
                                 reason_id=reasons[("tutor", "reschedule")].id, now=NOW)
    broken = SessionEvent.objects.create(session=session, actor=None, channel="system", kind="no_show",
                                         from_status="scheduled", to_status="no_show", created_at=NOW,
                                         data=["party", "tutor"])
    good = SessionEvent.objects.get(kind="reschedule_proposed")
    made = outbox.relay(now=NOW)
    broken.refresh_from_db(), good.refresh_from_db()
    assert good.notified_at == NOW and len(made) == 2
    assert broken.notified_at is None
    assert outbox.relay(now=NOW) == []  # tried again, still failing, still kept


def test_an_event_stuck_in_the_outbox_is_counted_on_the_desk_and_listed_in_the_admin(
        client, time_machine, session, make_session, tutor, coordinator, reasons):
    """Issue 14: a fan-out that keeps failing is not only in the logs. Once an event has waited
    more than five minutes (five relay runs), the coordinator's desk counts it under "Notifications
    stuck" and links to the event admin filtered to exactly the stuck events; a fresh unnotified
    event and a told one are not there."""
    from desk.queues import queues

    broken = SessionEvent.objects.create(session=session, actor=None, channel="system", kind="no_show",
                                         from_status="scheduled", to_status="no_show", created_at=NOW,
                                         data=["party", "tutor"])
    told = make_session(start=NOW + timedelta(days=3))
    lifecycle.propose_reschedule(told, by=tutor, proposed_start=NOW + timedelta(days=6),
                                 reason_id=reasons[("tutor", "reschedule")].id, now=NOW)
    outbox.relay(now=NOW)
    later = NOW + timedelta(minutes=5, seconds=1)
    time_machine.move_to(later, tick=False)
    fresh = SessionEvent.objects.create(session=session, actor=None, channel="system", kind="no_show",
                                        from_status="scheduled", to_status="no_show", created_at=later,
                                        data=["party", "tutor"])
    assert {q.key: q.count for q in queues(coordinator, NOW + timedelta(minutes=5))}["notifications_stuck"] == 0
    stuck = {q.key: q for q in queues(coordinator, later)}["notifications_stuck"]
    assert stuck.count == 1
    client.force_login(coordinator)
    home = client.get("/").content.decode()
    assert re.search(r'data-queue="notifications_stuck">\s*<a href="[^"]+"><span class="desk__count">1</span>', home)
    page = client.get(stuck.url).content.decode()
    listed = {int(i) for i in re.findall(r'href="/admin/tutoring_sessions/sessionevent/(\d+)/change/', page)}
    assert listed == {broken.pk}
    everything = client.get("/admin/tutoring_sessions/sessionevent/?notified=no").content.decode()
    listed = {int(i) for i in re.findall(r'href="/admin/tutoring_sessions/sessionevent/(\d+)/change/', everything)}
    assert listed == {broken.pk, fresh.pk}
    assert SessionEvent.objects.get(kind="reschedule_proposed").notified_at == NOW


def test_a_message_that_cannot_be_written_is_recorded_as_failed_not_dropped(session, tutor, parent):
    """A proposal event without its proposed time: each of its deliveries fails with the reason,
    where coordinators see it (the admin lists failed deliveries)."""
    SessionEvent.objects.create(session=session, actor=tutor, channel="web", kind="reschedule_proposed",
                                from_status="scheduled", to_status="scheduled", created_at=NOW,
                                data={"proposed_by_role": "tutor"})
    sweep(NOW)
    failed = list(Delivery.objects.filter(recipient=parent))
    assert {d.status for d in failed} == {"failed"}
    assert {d.last_error for d in failed} == {"the message could not be written: KeyError('proposed_start')"}


@pytest.mark.django_db(transaction=True)
def test_two_relays_at_once_claim_each_event_once(make_session, tutor, parent, coordinator, reasons):
    # recorded without the lifecycle's commit hook (as after a crash before it ran): only relays tell them
    sessions = [make_session(start=NOW - timedelta(days=2, hours=2 * i)) for i in range(20)]
    SessionEvent.objects.bulk_create(
        SessionEvent(session=s, actor=tutor, channel="web", kind="check_out", from_status="checked_in",
                     to_status="awaiting_approval_parent", created_at=NOW) for s in sessions)
    made = at_once(lambda: outbox.relay(now=NOW, batch=3))
    assert sum(len(m) for m in made) == Delivery.objects.count() == 2 * 20  # the parent, in the app and by email
    assert not SessionEvent.objects.filter(notified_at__isnull=True).exists()


def test_a_relayed_event_is_never_relayed_again_even_if_its_deliveries_are_gone(awaiting, parent, coordinator):
    lifecycle.dispute(awaiting, by=parent, reason="The tutor left early.", now=NOW)
    sweep(NOW)
    Delivery.objects.all().delete()
    assert sweep(NOW) == []
