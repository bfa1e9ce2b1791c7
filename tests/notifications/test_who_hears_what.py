"""Who hears about which session event, in the app and by email, each in their own zone with a
link to the action; never the person who acted; once."""

from datetime import timedelta

import pytest
from django.core import mail

from notes import services as notes_services
from notifications.kinds import NOTES_SETTLE
from notifications.models import Delivery, DeliveryStatus, Notification
from sessions import lifecycle
from sessions.models import Status
from tests.conftest import NOW, make_user
from tutoring.models import Guardianship, Role

from .conftest import deliveries, emails_to, inbox, sweep


@pytest.fixture(autouse=True)
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


def heard() -> dict[str, set[str]]:
    """Who got which kind, in the app; everyone who got one in the app also got it by email."""
    sweep(NOW)
    got = {}
    for n in Notification.objects.select_related("recipient"):
        got.setdefault(n.kind, set()).add(n.recipient.username)
    emailed = sorted(tuple(m.to) for m in mail.outbox)
    in_app = sorted((f"{n.recipient.username}@example.test",) for n in Notification.objects.select_related("recipient"))
    assert emailed == in_app
    return got


@pytest.fixture
def finished(make_session):
    start = NOW - timedelta(hours=1)
    return make_session(start=start, status=Status.CHECKED_IN, checked_in_at=start)


def test_check_out_asks_the_parents(finished, tutor, parent, sibling):
    """L07: the session waits for the parent: the parents are asked to acknowledge or dispute."""
    lifecycle.check_out(finished, by=tutor, now=NOW)
    assert heard() == {"check_out": {"pat"}}
    note = inbox(parent)[0]
    assert note.title == "Please confirm Sam's session on Mon 16 Nov"
    assert note.text == ("Tia checked out of Sam's session with Tia on Mon 16 Nov 09:00 (Europe/London). Please "
                         "acknowledge that it took place, or dispute it if something was wrong.")
    assert note.url == f"/sessions/{finished.id}/"


def test_the_tutor_hears_the_acknowledgement(awaiting, parent, tutor):
    lifecycle.acknowledge(awaiting, by=parent, now=NOW)
    assert heard() == {"acknowledge": {"tia"}}
    assert inbox(tutor)[0].title == "Pat confirmed your session with Sam on Sun 15 Nov"


def test_a_dispute_goes_to_coordinators_and_the_creator_with_links_to_decide(awaiting, parent, coordinator,
                                                                           creator):
    """L07 L27: disputes to coordinators (who must review) and the course's creator (and the
    session's tutor: the next test)."""
    lifecycle.dispute(awaiting, by=parent, reason="The tutor left after 20 minutes.", now=NOW)
    assert heard() == {"dispute": {"coco", "cleo", "tia"}}
    coco, cleo = inbox(coordinator)[0], inbox(creator)[0]
    assert coco.url == f"/admin/tutoring_sessions/session/{awaiting.id}/change/"
    assert cleo.url == f"/dashboard/teaching/sessions/{awaiting.id}/"
    assert coco.title == "Dispute: Sam's session with Tia on Sun 15 Nov"
    assert coco.text.endswith("Their reason: “The tutor left after 20 minutes.”")


def test_the_tutor_is_told_of_a_dispute_on_their_session_in_their_zone(awaiting, parent, tutor, coordinator):
    """L27 with issue 15: the tutor hears what the parent disputed and what happens next, in their
    own zone, with a link to the session's card (never the coordinators' admin)."""
    tutor.time_zone = "America/New_York"
    tutor.save()
    lifecycle.dispute(awaiting, by=parent, reason="The tutor left after 20 minutes.", now=NOW)
    assert "tia" in heard()["dispute"]
    [note] = inbox(tutor)
    assert note.title == "Disputed: your session with Sam on Sun 15 Nov"
    assert note.text == ("Pat disputed your session with Sam on Sun 15 Nov 05:00 (America/New_York). A coordinator "
                         "will review it and decide whether it counts as taught; you will be told the decision. "
                         "Nothing is needed from you unless the coordinator asks.\n\n"
                         "Their reason: “The tutor left after 20 minutes.”")
    assert note.url == f"/sessions/{awaiting.id}/"
    [email] = emails_to(tutor)
    assert email.subject == note.title and "/admin/" not in email.body


@pytest.mark.parametrize(("decision", "words"), [("approve", "counts"), ("void", "does not count")])
def test_a_dispute_decision_goes_to_the_parent_and_the_tutor(awaiting, parent, tutor, coordinator, decision,
                                                           words, package):
    lifecycle.dispute(awaiting, by=parent, reason="The tutor left early.", now=NOW - timedelta(hours=1))
    sweep(NOW)
    Notification.objects.all().delete()
    mail.outbox.clear()
    lifecycle.resolve_dispute(awaiting, by=coordinator, decision=decision, reason="Checked the room log.", now=NOW)
    assert heard() == {"resolve_dispute": {"pat", "tia"}}
    assert inbox(parent)[0].title == f"Dispute decided: Sam's session on Sun 15 Nov {words}"
    assert "Their reason: “Checked the room log.”" in inbox(tutor)[0].text


def test_a_coordinator_override_goes_to_the_parent_and_the_tutor(awaiting, coordinator, parent, package):
    """L28: the override's reason reaches the family and the tutor."""
    lifecycle.verify(awaiting, by=coordinator, reason="Parent confirmed by phone.", now=NOW)
    assert heard() == {"verify": {"pat", "tia"}}
    assert inbox(parent)[0].text.endswith("Their reason: “Parent confirmed by phone.”")


def test_a_student_no_show_marked_by_the_tutor(finished, tutor, coordinator):
    lifecycle.check_out(finished, by=tutor, student_absent=True, now=NOW)
    assert heard() == {"no_show": {"pat", "coco"}}
    assert inbox(coordinator)[0].title == "No-show: Sam missed the session on Mon 16 Nov"


def test_a_tutor_no_show_marked_by_the_sweep_tells_the_tutor_too(make_session, coordinator):
    make_session(start=NOW - timedelta(days=2))
    assert lifecycle.mark_due_no_shows(now=NOW) == 1
    assert heard() == {"no_show": {"tia", "pat", "coco"}}


@pytest.mark.parametrize(("by", "expected"), [("tutor", {"pat", "sam"}), ("parent", {"tia", "sam"})])
def test_a_cancellation_goes_to_the_other_side_and_the_student(session, tutor, parent, reasons, policies, by,
                                                              expected):
    actor = {"tutor": tutor, "parent": parent}[by]
    terms = lifecycle.cancellation_guidance(session, by=actor, now=NOW)
    lifecycle.cancel(session, by=actor, reason_id=reasons[(by, "cancel")].id, policy_id=terms["policy_id"], now=NOW)
    assert heard() == {"cancel": expected}


def test_a_coordinator_cancelling_for_one_side_tells_both(session, coordinator, reasons):
    lifecycle.cancel(session, by=coordinator, reason_id=reasons[("parent", "cancel")].id, on_behalf_of="parent",
                     now=NOW)
    assert heard() == {"cancel": {"tia", "pat", "sam"}}
    assert inbox(tutor_of(session))[0].text.startswith("Coco, a coordinator, for the parent, cancelled")


def tutor_of(session):
    return session.tutor


def test_a_reschedule_thread_is_told_to_the_side_that_must_answer(session, tutor, parent, reasons):
    """L14-L22: proposals and counters to the other side, answers to the proposer's side, the
    student hears where the session moved."""
    proposal = lifecycle.propose_reschedule(session, by=parent, proposed_start=NOW + timedelta(days=4),
                                            reason_id=reasons[("parent", "reschedule")].id, now=NOW)
    assert heard() == {"reschedule_proposed": {"tia"}}
    counter = lifecycle.counter_reschedule(session, proposal.id, by=tutor, proposed_start=NOW + timedelta(days=5),
                                           now=NOW)
    assert heard()["reschedule_countered"] == {"pat"}
    lifecycle.accept_reschedule(session, counter.id, by=parent, now=NOW)
    assert heard()["reschedule_accepted"] == {"tia", "sam"}
    assert inbox(tutor)[-1].title == "Moved: your session with Sam is now on Sat 21 Nov"
    assert inbox(tutor)[-1].text == ("Pat accepted: your session with Sam moves from Wed 18 Nov 10:00 (UTC) to "
                                     "Sat 21 Nov 10:00 (UTC).")


def test_rejections_withdrawals_and_expiry(make_session, tutor, parent, reasons):
    s1, s2 = make_session(), make_session(start=NOW + timedelta(days=3))
    p1 = lifecycle.propose_reschedule(s1, by=tutor, proposed_start=NOW + timedelta(days=6),
                                      reason_id=reasons[("tutor", "reschedule")].id, now=NOW)
    lifecycle.reject_reschedule(s1, p1.id, by=parent, reason="We are away then.", now=NOW)
    p2 = lifecycle.propose_reschedule(s2, by=parent, proposed_start=NOW + timedelta(days=7),
                                      reason_id=reasons[("parent", "reschedule")].id, now=NOW)
    lifecycle.withdraw_reschedule(s2, p2.id, by=parent, now=NOW)
    got = heard()
    assert got["reschedule_rejected"] == {"tia"} and got["reschedule_withdrawn"] == {"tia"}
    rejected = [n for n in inbox(tutor) if n.kind == "reschedule_rejected"][0]
    assert rejected.text.endswith("Reason: “We are away then.”")
    p3 = lifecycle.propose_reschedule(s1, by=parent, proposed_start=NOW + timedelta(days=8),
                                      reason_id=reasons[("parent", "reschedule")].id, now=NOW)
    assert p3.id  # L40: unresolved at the start, it expires: both sides hear
    assert lifecycle.expire_due_reschedules(now=s1.scheduled_start + timedelta(minutes=1)) == 1
    assert heard()["reschedule_expired"] == {"tia", "pat"}


def test_new_and_ad_hoc_sessions_go_to_the_family(coordinator, tutor, student, parent, course):
    s = lifecycle.create_session(by=coordinator, tutor_id=tutor.id, student_id=student.id, course_id=course.id,
                                 start=NOW + timedelta(days=5), end=NOW + timedelta(days=5, hours=1), now=NOW)
    assert heard() == {"created": {"pat", "sam", "tia"}}
    assert inbox(parent)[0].title == "New session: Sam's session on Sat 21 Nov"
    lifecycle.log_adhoc_sessions(by=tutor, now=NOW, rows=[{
        "student_id": student.id, "start": NOW - timedelta(hours=3), "end": NOW - timedelta(hours=2),
        "note": "Extra exam practice."}])
    got = heard()
    assert got["adhoc_logged"] == {"pat"}
    extra = [n for n in inbox(parent) if n.kind == "adhoc_logged"][0]
    assert extra.title == "Tia logged an extra session with Sam"
    assert extra.text.endswith("Tia's note: “Extra exam practice.”") and s.id


def test_notes_and_summary_ready_go_to_the_parents(awaiting, tutor, parent, sibling, django_capture_on_commit_callbacks):
    """The parents hear once, when the notes and their summary are both there and the tutor has
    added none for NOTES_SETTLE."""
    second = make_user("paula", Role.PARENT, tz="Asia/Tokyo")
    Guardianship.objects.create(parent=second, student=awaiting.student)
    with django_capture_on_commit_callbacks(execute=True):
        notes_services.add_notes(awaiting, by=tutor, text="Fractions. Sam was engaged.", now=NOW)
    assert not inbox(parent) and not inbox(second)  # the summary is there; the notes settle first
    sweep(NOW + NOTES_SETTLE - timedelta(seconds=1))
    assert not inbox(parent)
    sweep(NOW + NOTES_SETTLE)
    for person, when in ((parent, "Sun 15 Nov 10:00 (Europe/London)"), (second, "Sun 15 Nov 19:00 (Asia/Tokyo)")):
        note = inbox(person)[0]
        assert note.title == "Notes and summary for Sam's session on Sun 15 Nov"
        assert note.text == (f"Tia wrote notes for Sam's session with Tia on {when}. Read them with the summary on "
                             "the session's page.")
    assert not inbox(tutor)


def test_notes_saved_in_several_goes_make_one_message(awaiting, tutor, parent, time_machine,
                                                      django_capture_on_commit_callbacks):
    """A tutor who saves notes three times within a few minutes (a text, then a photo, then a
    correction) sends the parents one message by email and one in the app, once the notes have
    settled: the earlier ones are not sent, and say why. Notes added after that message went make
    a message of their own."""
    for minute in (0, 1, 2):
        at = NOW + timedelta(minutes=minute)
        time_machine.move_to(at, tick=False)
        with django_capture_on_commit_callbacks(execute=True):
            notes_services.add_notes(awaiting, by=tutor, text=f"Part {minute + 1}.", now=at)
        sweep(at)
    assert not inbox(parent) and not emails_to(parent)
    sweep(NOW + timedelta(minutes=2) + NOTES_SETTLE)
    assert [n.title for n in inbox(parent)] == ["Notes and summary for Sam's session on Sun 15 Nov"]
    assert len(emails_to(parent)) == 1
    notices = deliveries(recipient=parent, kind="notes_added")
    assert [(d.channel, d.status) for d in notices] == [
        (channel, status) for status in ("skipped", "skipped", "sent") for channel in ("in_app", "email")]
    assert {d.last_error for d in notices[:4]} == {"a later notes message covers these notes"}

    later = NOW + timedelta(hours=1)
    time_machine.move_to(later, tick=False)
    with django_capture_on_commit_callbacks(execute=True):
        notes_services.add_notes(awaiting, by=tutor, text="One more thing.", now=later)
    sweep(later + NOTES_SETTLE)
    assert len(inbox(parent)) == 2 and len(emails_to(parent)) == 2


def test_notes_wait_for_a_slow_summary_at_most_ten_minutes(awaiting, tutor, parent, settings):
    settings.OPENAI_API_KEY = "sk-nobody-answers"  # the summary stays pending: no worker runs it here
    lifecycle.record_notes(awaiting, by=tutor, data={}, now=NOW)
    from notes.models import Summary, SummaryStatus

    Summary.objects.create(session=awaiting, version=1, status=SummaryStatus.PENDING, updated_at=NOW)
    sweep(NOW)
    assert not inbox(parent)
    assert Delivery.objects.filter(recipient=parent, status=DeliveryStatus.PENDING).count() == 2
    sweep(NOW + timedelta(minutes=5))
    assert not inbox(parent)
    sweep(NOW + timedelta(minutes=11))
    assert inbox(parent)[0].text.endswith("The summary follows on the session's page.")
    assert all(d.attempts == 1 for d in Delivery.objects.filter(recipient=parent))


def test_check_in_tells_nobody(make_session, tutor):
    s = make_session(start=NOW + timedelta(minutes=10))
    lifecycle.check_in(s, by=tutor, now=NOW)
    assert heard() == {}


def test_nobody_hears_of_their_own_action_even_in_another_role(awaiting, parent):
    """A parent who is also a coordinator disputes: the other coordinators hear, they do not."""
    parent.roles = [Role.PARENT, Role.COORDINATOR]
    parent.save()
    other = make_user("cora", Role.COORDINATOR)
    lifecycle.dispute(awaiting, by=parent, reason="The tutor left early.", now=NOW)
    assert heard() == {"dispute": {"cora", "cleo", "tia"}} and other.id


def test_texts_speak_in_each_readers_zone_with_the_proposed_time(session, tutor, parent, reasons):
    lifecycle.propose_reschedule(session, by=tutor, proposed_start=NOW + timedelta(days=4, hours=3),
                                 reason_id=reasons[("tutor", "reschedule")].id, now=NOW)
    sweep(NOW)
    text = inbox(parent)[0].text
    assert "from Wed 18 Nov 10:00 (Europe/London) to Fri 20 Nov 13:00 (Europe/London)" in text


def test_peoples_words_with_braces_and_markup_are_kept_as_written(awaiting, parent, coordinator):
    lifecycle.dispute(awaiting, by=parent, reason="Tutor said {nothing} <b>at all</b>", now=NOW)
    sweep(NOW)
    assert "“Tutor said {nothing} <b>at all</b>”" in inbox(coordinator)[0].text
    html = emails_to(coordinator)[0].alternatives[0][0]
    assert "Tutor said {nothing} &lt;b&gt;at all&lt;/b&gt;" in html


def test_inactive_people_hear_nothing(awaiting, parent, coordinator, creator):
    creator.is_active = False
    creator.save()
    lifecycle.dispute(awaiting, by=parent, reason="The tutor left early.", now=NOW)
    assert heard() == {"dispute": {"coco", "tia"}}
