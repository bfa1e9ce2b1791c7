"""A command's picker pages through every session its guard allows (L44: Telegram follows the
web's rules, for a tutor with many sessions too): ‹ Previous / Next › edit the picker message, in
start-then-id order, each page read in SQL and judged by the action's guard, full even when some
rows on it fail the guard; a page button forged or from another tutor's session does nothing."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sessions import actions as registry
from sessions import lifecycle, projections, rules, selectors
from sessions.access import Viewer
from sessions.models import RescheduleProposal, RescheduleThread, Session, SessionEvent, Status, ThreadStatus
from telegram_bot import core
from telegram_bot.models import ChatState
from tests.conftest import NOW, make_user
from tests.telegram_bot.conftest import CHAT, buttons, last_text, message, press, send

pytestmark = pytest.mark.django_db

PAGE = core.PAGE


@pytest.fixture
def many(linked, tutor, make_session):
    """Tia (in Tokyo) has 27 sessions she may cancel, one a day at 19:00 her time from tomorrow,
    and three she may not: one inside the 4-hour lockout, one checked in, one cancelled."""
    tutor.time_zone = "Asia/Tokyo"
    tutor.save(update_fields=["time_zone"])
    eligible = [make_session(start=NOW + timedelta(days=1 + i)) for i in range(27)]
    make_session(start=NOW + timedelta(hours=3))
    make_session(start=NOW - timedelta(minutes=30), status=Status.CHECKED_IN, checked_in_at=NOW)
    make_session(start=NOW + timedelta(days=40), status=Status.CANCELLED_BY_TUTOR)
    return eligible


def keyboard(call: dict) -> list[list[tuple[str, str]]]:
    return [[(b["text"], b["callback_data"]) for b in row] for row in call["reply_markup"]["inline_keyboard"]]


def picked(call: dict, key: str = "cx") -> list[int]:
    """The session ids a picker offers, in its order."""
    return [int(data.split(":")[2]) for data in buttons(call) if data.startswith(f"a:{key}:")]


def turn(call: dict, label: str) -> str:
    """The data of the picker's ‹ Previous or Next › button."""
    return next(data for text, data in sum(keyboard(call), []) if text == label)


def labels(call: dict) -> list[str]:
    return [text for text, _ in sum(keyboard(call), [])]


def test_cancel_pages_forward_and_back_through_every_eligible_session(many, tg, frozen):
    """L44: /cancel with 27 eligible sessions shows them 8 at a time; Next › and ‹ Previous edit
    the picker message; every eligible session is reached once, by start then id, times in the
    tutor's zone, every button's data inside Telegram's 64 bytes."""
    send(message(CHAT, "/cancel"))
    first = tg.calls("sendMessage")[-1]
    shown = tg.messages_of(CHAT)[-1]
    assert first["text"] == "Which session do you want to cancel?"
    assert picked(first) == [s.id for s in many[:PAGE]]
    assert labels(first)[0] == "Cancel…: Tue 17 Nov 19:00–20:00"  # 10:00 UTC in Tokyo
    assert labels(first)[-1] == "Next ›"
    assert "‹ Previous" not in labels(first)

    pages, call = [picked(first)], first
    for _ in range(3):
        send(press(turn(call, "Next ›"), message_id=shown))
        call = tg.calls("editMessageText")[-1]
        assert int(call["message_id"]) == shown and call["text"] == "Which session do you want to cancel?"
        pages.append(picked(call))
    assert [len(p) for p in pages] == [8, 8, 8, 3]
    assert sum(pages, []) == [s.id for s in sorted(many, key=lambda s: (s.scheduled_start, s.id))]
    assert labels(call)[-1] == "‹ Previous" and "Next ›" not in labels(call)  # the last page

    for expected in (pages[2], pages[1], pages[0]):
        send(press(turn(call, "‹ Previous"), message_id=shown))
        call = tg.calls("editMessageText")[-1]
        assert picked(call) == expected
    assert "‹ Previous" not in labels(call) and labels(call)[-1] == "Next ›"  # back on the first page

    every = [data for c in tg.calls() if c.get("reply_markup") for data in buttons(c)]
    assert max(len(data.encode()) for data in every) <= 64
    assert tg.refusals == []  # the fake Bot API refuses callback_data over 64 bytes, as Telegram does
    assert not SessionEvent.objects.exists()


def test_a_session_on_page_two_is_cancelled_end_to_end(many, reasons, policies, tg, frozen):
    """L08, L44: the tutor turns to page 2, picks its third session and cancels it through the
    lifecycle (reason, penalty guidance, confirmation); the others stay scheduled."""
    send(message(CHAT, "/cancel"))
    shown = tg.messages_of(CHAT)[-1]
    send(press(turn(tg.calls("sendMessage")[-1], "Next ›"), message_id=shown))
    target = many[PAGE + 2]
    page_two = tg.calls("editMessageText")[-1]
    assert f"a:cx:{target.id}" in buttons(page_two)
    send(press(f"a:cx:{target.id}", message_id=shown))
    assert tg.calls("editMessageText")[-1]["text"].endswith("Why do you want to cancel?")
    send(press(f"r:{reasons[('tutor', 'cancel')].id}", message_id=shown))
    assert "If you cancel now:" in tg.calls("editMessageText")[-1]["text"]
    send(press("y:1", message_id=shown))
    assert tg.calls("editMessageText")[-1]["text"].startswith("Cancelled.")
    target.refresh_from_db()
    assert target.status == Status.CANCELLED_BY_TUTOR
    assert SessionEvent.objects.get(kind="cancel").session_id == target.id
    assert SessionEvent.objects.get(kind="cancel").channel == "telegram"
    assert Session.objects.filter(pk__in=[s.id for s in many], status=Status.SCHEDULED).count() == 26


def test_a_session_on_page_two_gets_a_reschedule_request(many, reasons, tg, frozen):
    """L34, L44: /reschedule, Next ›, a session on page 2: its request opens through the lifecycle
    (the tutor's reason, a time read in her zone, her confirmation)."""
    send(message(CHAT, "/reschedule"))
    shown = tg.messages_of(CHAT)[-1]
    first = tg.calls("sendMessage")[-1]
    assert first["text"] == "Which session do you want to reschedule?"
    send(press(turn(first, "Next ›"), message_id=shown))
    target = many[PAGE + 5]
    assert picked(tg.calls("editMessageText")[-1], "rs") == [s.id for s in many[PAGE:2 * PAGE]]
    send(press(f"a:rs:{target.id}", message_id=shown))
    send(press(f"r:{reasons[('tutor', 'reschedule')].id}", message_id=shown))
    assert "in your time zone (Asia/Tokyo)" in tg.calls("editMessageText")[-1]["text"]
    send(message(CHAT, "2027-01-20 15:00"))
    assert last_text(tg).startswith("Propose Wed 20 Jan 15:00–16:00 (Asia/Tokyo)")
    send(press("y:1"))
    thread = RescheduleThread.objects.get()
    assert (thread.session_id, thread.status) == (target.id, ThreadStatus.OPEN)
    proposal = RescheduleProposal.objects.get()
    assert proposal.proposed_by_role == "tutor" and proposal.proposed_start.isoformat() == "2027-01-20T06:00:00+00:00"
    assert SessionEvent.objects.get(kind="reschedule_proposed").channel == "telegram"


def test_a_page_stays_full_when_some_of_its_sessions_fail_the_guard(many, parent, reasons, tg, frozen):
    """L34, L44: four of the first nine sessions have the parent's open request, which /reschedule's
    guard refuses (SQL lets them through): the first page still holds 8 sessions, the next ones."""
    for s in (many[0], many[2], many[3], many[6]):
        lifecycle.propose_reschedule(s, by=parent, proposed_start=s.scheduled_start + timedelta(hours=3),
                                     reason_id=reasons[("parent", "reschedule")].id)
    send(message(CHAT, "/reschedule"))
    first = tg.calls("sendMessage")[-1]
    open_ids = {many[0].id, many[2].id, many[3].id, many[6].id}
    expected = [s.id for s in many if s.id not in open_ids]
    assert picked(first, "rs") == expected[:PAGE]
    send(press(turn(first, "Next ›")))
    assert picked(tg.calls("editMessageText")[-1], "rs") == expected[PAGE:2 * PAGE]
    send(press(turn(tg.calls("editMessageText")[-1], "‹ Previous")))
    assert picked(tg.calls("editMessageText")[-1], "rs") == expected[:PAGE]


def test_a_next_page_that_emptied_meanwhile_says_so_over_the_first_page(linked, tutor, make_session, tg, frozen):
    """L44: nine sessions; the ninth is cancelled on the web before Next › is pressed: the bot
    says there are no more and shows the first page again, which is all there is now."""
    sessions = [make_session(start=NOW + timedelta(days=1 + i)) for i in range(PAGE + 1)]
    send(message(CHAT, "/cancel"))
    next_page = turn(tg.calls("sendMessage")[-1], "Next ›")
    Session.objects.filter(pk=sessions[-1].pk).update(status=Status.CANCELLED_BY_PARENT)
    send(press(next_page))
    call = tg.calls("editMessageText")[-1]
    assert call["text"] == "There are no more sessions to cancel after those now.\nWhich session do you want to cancel?"
    assert picked(call) == [s.id for s in sessions[:PAGE]]
    assert "Next ›" not in labels(call) and "‹ Previous" not in labels(call)


@pytest.mark.parametrize("data", ["p", "p:cx", "p:cx:f", "p:cx:f:1", "p:cx:f:1:1:1", "p:zz:f:1:1", "p:ab:f:1:1",
                                  "p:cx:x:1:1", "p:cx:f:abc:1", "p:cx:f:1:-1", "p:cx:f:-5:1", "p:cx:f:١:1",
                                  "p:cx:f:" + "9" * 30 + ":1", "p:cx:b:1:"])
def test_a_tampered_page_button_is_refused_and_changes_nothing(data, many, tg, frozen):
    """L44: data no page button carries (a forged command, way, time or id) is answered with a
    clear message, and nothing changes."""
    send(message(CHAT, "/stop"))
    send(press(data))
    assert tg.calls("editMessageText")[-1]["text"] == core.BAD_PAGE
    assert not SessionEvent.objects.exists()
    assert not ChatState.objects.exists()
    assert Session.objects.filter(pk__in=[s.id for s in many], status=Status.SCHEDULED).count() == 27


def test_an_outsiders_session_in_a_button_is_refused_and_changes_nothing(many, student, tg, frozen):
    """L44: Otto's session id put into Tia's pick and page buttons: "Session not found.", his
    session is untouched, nothing of his is shown, and no conversation starts."""
    otto = make_user("otto", "tutor")
    his = Session.objects.create(tutor=otto, student=student, scheduled_start=NOW + timedelta(days=3),
                                 scheduled_end=NOW + timedelta(days=3, hours=1))
    micros = (his.scheduled_start - core.EPOCH) // timedelta(microseconds=1)
    for data in (f"a:cx:{his.id}", f"a:rs:{his.id}", f"p:cx:f:{micros}:{his.id}", f"p:rs:b:{micros}:{his.id}",
                 f"p:cx:f:{micros}:99999999999999999999"):
        send(press(data))
        assert tg.calls("editMessageText")[-1]["text"] == "Session not found."
    his.refresh_from_db()
    assert his.status == Status.SCHEDULED
    assert not SessionEvent.objects.exists() and not ChatState.objects.exists()


def test_a_page_costs_the_same_queries_for_30_sessions_as_for_120(linked, tutor, make_session, frozen):
    """Performance stance: a page is read in SQL (a keyset from its edge session), so a Next › press
    costs as many queries with 120 eligible sessions as with 30."""
    def next_press_queries() -> int:
        first = core.handle(core.Input(chat_id=CHAT, kind="command", command="cancel"), now=NOW)[0]
        data = next(d for label, d in sum(first.buttons, []) if label == core.NEXT)
        with CaptureQueriesContext(connection) as queries:
            page = core.handle(core.Input(chat_id=CHAT, kind="button", data=data), now=NOW)[0]
        assert len(sum(page.buttons, [])) == PAGE + 2  # a full page, ‹ Previous and Next ›
        return len(queries)

    for i in range(30):
        make_session(start=NOW + timedelta(days=1, hours=2 * i))
    few = next_press_queries()
    for i in range(30, 120):
        make_session(start=NOW + timedelta(days=1, hours=2 * i))
    assert next_press_queries() == few <= 8


def test_each_commands_sql_candidates_never_hide_a_session_its_guard_allows(db, student):
    """L44: Command.candidates narrows the rows the picker reads to those its guard could allow:
    across every status, tutors in three zones, starts every 20 minutes from 30 hours ago to 30
    hours ahead and lengths of 15 minutes to 3 hours, every session the guard allows now is among
    them."""
    from tutoring.models import User

    zones = ("UTC", "Asia/Tokyo", "America/New_York")
    made = []
    for status in Status.values:
        for minutes in (15, 60, 180):
            count = minutes // 20 + 1  # a tutor's sessions 20 * count minutes apart never overlap
            tutors = [User.objects.create(username=f"{status}-{minutes}-{k}", roles=["tutor"],
                                          time_zone=zones[k % 3]) for k in range(count)]
            for step in range(-90, 91):
                start = NOW + timedelta(minutes=20 * step)
                made.append(Session(tutor=tutors[step % count], student=student, status=status,
                                    scheduled_start=start, scheduled_end=start + timedelta(minutes=minutes)))
    Session.objects.bulk_create(made)
    sessions = list(selectors.with_open_thread(Session.objects.select_related("tutor", "student", "course")))
    for name, action in registry.COMMANDS.items():
        allowed = {s.id for s in sessions
                   if rules.refusal(action.guard, projections.context(s, Viewer(s.tutor, frozenset()), NOW)) is None}
        assert allowed, name
        assert allowed <= set(Session.objects.filter(action.command.candidates(NOW)).values_list("id", flat=True)), name


def test_checkout_pages_with_both_of_its_buttons_per_session(linked, make_session, tg, frozen):
    """L19, L44: ten sessions checked into over the last day, all inside the check-out window:
    /checkout pages them with Check out and Student did not attend on each row; a session on page 2
    is checked out from there."""
    done = [make_session(start=NOW - timedelta(hours=2 * i + 1), status=Status.CHECKED_IN,
                         checked_in_at=NOW - timedelta(hours=2 * i + 1)) for i in range(10)]
    by_start = sorted(done, key=lambda s: s.scheduled_start)
    send(message(CHAT, "/checkout"))
    first = tg.calls("sendMessage")[-1]
    assert first["text"] == "Which session do you want to check out of?"
    assert keyboard(first)[0] == [("Check out: Sun 15 Nov 15:00–16:00", f"a:co:{by_start[0].id}"),
                                  ("Student did not attend", f"a:ab:{by_start[0].id}")]
    assert picked(first, "co") == [s.id for s in by_start[:PAGE]]
    send(press(turn(first, "Next ›")))
    second = tg.calls("editMessageText")[-1]
    assert picked(second, "co") == [s.id for s in by_start[PAGE:]] and picked(second, "ab") == picked(second, "co")
    send(press(f"a:co:{by_start[-1].id}"))
    by_start[-1].refresh_from_db()
    assert by_start[-1].status == Status.AWAITING_APPROVAL_PARENT
    assert Session.objects.filter(status=Status.CHECKED_IN).count() == 9
