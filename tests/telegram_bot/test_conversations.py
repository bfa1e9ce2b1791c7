"""/cancel and /reschedule as short conversations, and a parent's proposal answered with its
buttons (L08, L44): the tutor's reason picker, a time read in the tutor's zone, a confirmation,
the penalty guidance before a cancel; the lifecycle decides, as on the web."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from notifications.models import Delivery
from sessions import lifecycle
from sessions.models import ProposalStatus, RescheduleProposal, SessionEvent, Status
from tests.conftest import NOW
from tests.telegram_bot.conftest import CHAT, buttons, last_text, message, press, send

pytestmark = pytest.mark.django_db


def test_cancel_with_reason_penalty_guidance_and_confirmation(linked, session, reasons, policies, tg, frozen):
    """L08: the tutor cancels from Telegram: reason picker, the penalty band, then confirm."""
    frozen.shift(timedelta(hours=1))  # 47 hours ahead: the tutor's late band applies
    send(message(CHAT, "/cancel"))
    picker = tg.calls("sendMessage")[-1]
    conflict = reasons[("tutor", "cancel")]
    assert picker["text"].endswith("Why do you want to cancel?")
    assert buttons(picker) == [f"r:{conflict.id}", f"r:{reasons[('tutor', 'cancel', 'other')].id}", "n:0"]
    send(press(f"r:{conflict.id}"))
    confirm = tg.calls("editMessageText")[-1]
    assert "If you cancel now: Reliability strike." in confirm["text"]
    assert "Late cancellations count against you." in confirm["text"]
    assert buttons(confirm) == ["y:1", "n:0"]
    session.refresh_from_db()
    assert session.status == Status.SCHEDULED  # nothing until confirmed
    send(press("y:1"))
    session.refresh_from_db()
    assert session.status == Status.CANCELLED_BY_TUTOR
    event = SessionEvent.objects.get(session=session, kind="cancel")
    assert (event.channel, event.reason, event.data["penalty"]) == ("telegram", "Schedule conflict",
                                                                    "Reliability strike")
    assert tg.calls("editMessageText")[-1]["text"].startswith("Cancelled.")
    # the confirmation pressed again: the step is over, nothing more happens
    send(press("y:1"))
    assert tg.calls("editMessageText")[-1]["text"] == "That step is over. Send /sessions to see where things stand."
    assert SessionEvent.objects.filter(session=session, kind="cancel").count() == 1


def test_the_cancel_confirmation_says_what_it_costs_as_the_web_does(client, linked, tutor, make_session, reasons,
                                                                     package, tg, frozen, settings):
    """L37: the bot shows the web cancel card's own words (projections.cancellation_notice): the
    penalty, what it costs the package in credits and money, the band's guidance, the waiver reminder."""
    import re
    from decimal import Decimal
    from html import unescape

    from sessions.models import CancellationPolicy

    package.price, package.currency = Decimal("400.00"), "EUR"
    package.save()
    CancellationPolicy.objects.create(role="tutor", min_hours_before=0, max_hours_before=48,
                                      penalty="50% of the lesson", charge_percent=50,
                                      guidance="Half the lesson is charged.")
    session = make_session(start=NOW + timedelta(hours=30))
    send(message(CHAT, "/cancel"))
    send(press(f"r:{reasons[('tutor', 'cancel')].id}"))
    lines = tg.calls("editMessageText")[-1]["text"].split("\n")
    assert lines[1:] == ["If you cancel now: 50% of the lesson.",
                         "Penalty guidance: cancelling now is charged 0.5 of a credit (€20.00) of the 10-lesson "
                         "package, invoiced separately, no credit deducted from the package. "
                         "Half the lesson is charged.",
                         settings.COORDINATOR_WAIVER_REMINDER]
    client.force_login(tutor)
    html = client.get(f"/sessions/{session.id}/cancel/?as_role=tutor", HTTP_HX_REQUEST="true").content.decode()
    card = " ".join(unescape(re.sub(r"<[^>]+>", "", html)).split())
    assert " ".join(lines[1:]) in card  # the same words on the web


def test_cancel_other_needs_a_note(linked, session, reasons, policies, tg, frozen):
    send(message(CHAT, "/cancel"))
    send(press(f"r:{reasons[('tutor', 'cancel', 'other')].id}"))
    assert tg.calls("editMessageText")[-1]["text"] == "Please say more about “Other”: send it as a message."
    send(message(CHAT, "Family emergency"))
    assert "If you cancel now:" in last_text(tg)
    send(press("y:1"))
    session.refresh_from_db()
    assert session.status == Status.CANCELLED_BY_TUTOR
    assert SessionEvent.objects.get(session=session, kind="cancel").reason == "Other: Family emergency"


def test_cancel_refused_when_the_terms_changed_meanwhile(linked, session, reasons, policies, tg, frozen):
    """L44: the guidance shown was 'no penalty' (48 h ahead); a minute later the band changed."""
    send(message(CHAT, "/cancel"))
    send(press(f"r:{reasons[('tutor', 'cancel')].id}"))
    assert "If you cancel now: No penalty applies." in tg.calls("editMessageText")[-1]["text"]
    frozen.shift(timedelta(minutes=1))
    send(press("y:1"))
    assert tg.calls("editMessageText")[-1]["text"].startswith(
        "The cancellation terms have changed: review them and confirm again.\nNow: ")
    session.refresh_from_db()
    assert session.status == Status.SCHEDULED


def test_cancel_within_4_hours_is_refused_with_the_lifecycles_words(linked, make_session, reasons, tg, frozen):
    """L08, L44: the 4-hour lockout applies on Telegram too."""
    s = make_session(start=NOW + timedelta(hours=3))
    send(message(CHAT, "/cancel"))
    assert last_text(tg).endswith("Online changes close 4 hours before the start: message your coordinator.")
    send(press(f"a:cx:{s.id}"))
    assert tg.calls("editMessageText")[-1]["text"].startswith("Online changes close 4 hours before the start")
    s.refresh_from_db()
    assert s.status == Status.SCHEDULED


def test_reschedule_reads_the_time_in_the_tutors_zone(linked, tutor, session, reasons, tg, frozen):
    tutor.time_zone = "America/New_York"
    tutor.save(update_fields=["time_zone"])
    send(message(CHAT, "/reschedule"))
    send(press(f"r:{reasons[('tutor', 'reschedule')].id}"))
    assert "YYYY-MM-DD HH:MM, in your time zone (America/New_York)" in tg.calls("editMessageText")[-1]["text"]
    send(message(CHAT, "next friday at 3"))
    assert last_text(tg).startswith("I could not read that.")
    send(message(CHAT, "2026-11-20 15:00"))
    confirm = tg.calls("sendMessage")[-1]
    assert confirm["text"].startswith("Propose Fri 20 Nov 15:00–16:00 (America/New_York)")
    assert not RescheduleProposal.objects.exists()  # not before the confirmation
    send(press("y:1"))
    proposal = RescheduleProposal.objects.get()
    assert proposal.proposed_start == datetime(2026, 11, 20, 15, 0, tzinfo=ZoneInfo("America/New_York"))
    assert proposal.proposed_by_role == "tutor"
    assert SessionEvent.objects.get(kind="reschedule_proposed").channel == "telegram"


def test_a_time_in_the_past_is_the_lifecycles_refusal(linked, session, reasons, tg, frozen):
    send(message(CHAT, "/reschedule"))
    send(press(f"r:{reasons[('tutor', 'reschedule')].id}"))
    send(message(CHAT, "2026-11-01 15:00"))
    send(press("y:1"))
    assert tg.calls("editMessageText")[-1]["text"].startswith("The proposed time must be in the future.")
    assert not RescheduleProposal.objects.exists()


def test_stop_leaves_a_conversation(linked, session, reasons, tg, frozen):
    send(message(CHAT, "/reschedule"))
    send(message(CHAT, "/stop"))
    send(press(f"r:{reasons[('tutor', 'reschedule')].id}"))
    assert tg.calls("editMessageText")[-1]["text"] == "That step is over. Send /sessions to see where things stand."


@pytest.fixture
def parent_proposal(linked, session, parent, reasons, tg, frozen, django_capture_on_commit_callbacks):
    """Pat asks to move the session a day later; the notification reaches Tia's chat."""
    with django_capture_on_commit_callbacks(execute=True):
        proposal = lifecycle.propose_reschedule(session, by=parent, proposed_start=session.scheduled_start
                                                + timedelta(days=1), reason_id=reasons[("parent", "reschedule")].id)
    return proposal


def test_a_parents_proposal_arrives_with_accept_reject_counter(parent_proposal, session, tg):
    """The proposal reaches the tutor on Telegram once, with the answer buttons; Accept moves it."""
    delivery = Delivery.objects.get(channel="telegram", kind="reschedule_proposed")
    assert delivery.status == "sent"
    call = tg.calls("sendMessage")[-1]
    assert call["chat_id"] in (CHAT, str(CHAT))
    assert "Pat proposes to move" in call["text"]
    sid, pid = session.id, parent_proposal.id
    assert buttons(call) == [f"a:ac:{sid}:{pid}", f"a:rj:{sid}:{pid}", f"a:ct:{sid}:{pid}"]
    send(press(f"a:ac:{sid}:{pid}"))
    session.refresh_from_db()
    assert session.scheduled_start == parent_proposal.proposed_start
    assert tg.calls("editMessageText")[-1]["text"].startswith("Accepted")
    # pressed again (or Reject after Accept): the current state, nothing done
    send(press(f"a:rj:{sid}:{pid}"))
    stale = tg.calls("editMessageText")[-1]["text"]
    assert "\nNow: Algebra I with Sam" in stale
    assert RescheduleProposal.objects.get().status == ProposalStatus.ACCEPTED


def test_reject_asks_for_a_reason(parent_proposal, session, tg):
    send(press(f"a:rj:{session.id}:{parent_proposal.id}"))
    send(message(CHAT, "That day is full for me."))
    parent_proposal.refresh_from_db()
    assert (parent_proposal.status, parent_proposal.answer_note) == (ProposalStatus.REJECTED, "That day is full for me.")
    assert last_text(tg).startswith("Declined: the session keeps its time.")


def test_counter_proposes_another_time(parent_proposal, session, tg):
    send(press(f"a:ct:{session.id}:{parent_proposal.id}"))
    send(message(CHAT, "2026-11-21 09:30"))
    send(press("y:1"))
    parent_proposal.refresh_from_db()
    assert parent_proposal.status == ProposalStatus.COUNTERED
    counter = RescheduleProposal.objects.get(version=2)
    assert counter.proposed_start == datetime(2026, 11, 21, 9, 30, tzinfo=ZoneInfo("UTC"))
    assert counter.proposed_by_role == "tutor"


def test_a_stale_proposal_button_does_nothing(parent_proposal, session, parent, tg, frozen):
    """Pat withdrew it; Tia's Accept button from the message answers with the current state."""
    lifecycle.withdraw_reschedule(session, parent_proposal.id, by=parent)
    send(press(f"a:ac:{session.id}:{parent_proposal.id}"))
    text = tg.calls("editMessageText")[-1]["text"]
    assert "\nNow: Algebra I with Sam" in text
    session.refresh_from_db()
    assert session.scheduled_start == NOW + timedelta(days=2)
