"""The room's socket with Channels' WebsocketCommunicator on the real Redis channel layer: who is
admitted (R01), what is refused and how (R12), signaling between the two participants (R14)."""

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connections
from django.test import Client

from video import presence
from sessions.models import SessionEvent, Status
from tests.conftest import make_user
from tutoring.asgi import application
from tutoring.models import Role

# the consumer closes "old" connections around each database call (channels.db), which would end
# a test transaction: these tests commit for real
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module", autouse=True)
def close_the_consumers_connection():
    """The consumer's database calls run on asgiref's one sync thread, whose connection outlives
    the tests; close it, or the test database cannot be dropped."""
    yield

    async def close():
        await sync_to_async(connections.close_all)()
    run(lambda: close())


# generous: a loaded CI machine may take seconds for a hop; a passing test never waits this long
WAIT = 15


def cookie_for(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


def socket(session_id, user=None, origin=b"http://testserver"):
    headers = [(b"origin", origin)] + ([(b"cookie", cookie_for(user))] if user else [])
    return WebsocketCommunicator(application, f"/ws/session/{session_id}/", headers=headers)


def run(coro_fn):
    """Run a scenario on an event loop of its own thread: after the browser tests, Playwright
    leaves a loop marked running on this process's main thread."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro_fn()).result()


async def refusal(comm):
    """The error message and the close code of a socket the room turns away."""
    connected, _ = await comm.connect(timeout=WAIT)
    assert connected
    message = await comm.receive_json_from(timeout=WAIT)
    closing = await comm.receive_output(timeout=WAIT)
    assert closing["type"] == "websocket.close"
    return message, closing["code"]


async def welcome(comm):
    connected, _ = await comm.connect(timeout=WAIT)
    assert connected
    message = await comm.receive_json_from(timeout=WAIT)
    assert message["type"] == "welcome", message
    return message


async def next_of(comm, kind, tries=6, where=lambda m: True):
    """The next message of this kind (that satisfies `where`), skipping others."""
    for _ in range(tries):
        message = await comm.receive_json_from(timeout=WAIT)
        if message["type"] == kind and where(message):
            return message
    raise AssertionError(f"no {kind} message")


def test_an_anonymous_socket_is_closed_4401(live):
    comm = socket(live.id)

    async def scenario():
        return await refusal(comm)
    message, code = run(scenario)
    assert code == 4401 and message == {"type": "error", "code": "not_signed_in", "detail": "Sign in to join the session."}


@pytest.mark.parametrize("who", ["outsider", "other_student"])
def test_someone_who_cannot_see_the_session_gets_not_found_4404(live, outsider, sibling, make_session, who):
    """An outsider, and a participant of another session, learn nothing about this one."""
    user = outsider if who == "outsider" else sibling
    if who == "other_student":
        make_session(start=live.scheduled_start.replace(year=live.scheduled_start.year + 1), student=sibling)

    comm = socket(live.id, user)

    async def scenario():
        return await refusal(comm)
    message, code = run(scenario)
    assert code == 4404 and message["detail"] == "Session not found. Check your dashboard."
    assert not SessionEvent.objects.filter(session=live, kind__startswith="room_").exists()


@pytest.mark.parametrize("who", ["parent", "coordinator", "creator"])
def test_others_who_see_the_session_are_not_part_of_it_4403(live, parent, coordinator, creator, who):
    """R12 "You're not part of this session." (H23: creators cannot join live sessions)."""
    user = {"parent": parent, "coordinator": coordinator, "creator": creator}[who]

    comm = socket(live.id, user)

    async def scenario():
        return await refusal(comm)
    message, code = run(scenario)
    assert code == 4403 and message["detail"] == "You're not part of this session."


def test_an_early_room_refuses_4409(at, student):
    early = at(minutes=30)

    comm = socket(early.id, student)

    async def scenario():
        return await refusal(comm)
    message, code = run(scenario)
    assert code == 4409 and message["detail"] == "The room opens 15 minutes before the start."


def test_an_ended_session_refuses_with_this_session_has_ended(at, student):
    """R12 "This session has ended."."""
    done = at(minutes=-90, status=Status.AWAITING_APPROVAL_PARENT)

    comm = socket(done.id, student)

    async def scenario():
        return await refusal(comm)
    message, code = run(scenario)
    assert code == 4409 and message["detail"] == "This session has ended."


def test_another_sites_page_cannot_open_the_socket(live, student):
    comm = socket(live.id, student, origin=b"https://evil.example")

    async def scenario():
        connected, _ = await comm.connect(timeout=WAIT)
        return connected
    assert run(scenario) is False


@pytest.mark.parametrize("path", ["/ws/session/abc/", "/ws/session/1/x/", "/ws/nothing", "/ws/session/%00/", "/"])
def test_a_socket_path_that_is_no_room_is_closed_4404(live, student, path):
    """Channels' router raised ValueError for a path no route matched: the handshake was a 500."""
    comm = WebsocketCommunicator(application, path, headers=[(b"origin", b"http://testserver"),
                                                             (b"cookie", cookie_for(student))])

    async def scenario():
        return await refusal(comm)
    message, code = run(scenario)
    assert code == 4404 and message == {"type": "error", "code": "not_found", "detail": "There is no such socket here."}


def test_the_two_participants_signal_to_each_other(live, student, tutor):
    """R14: offer, answer and ICE go from one participant's socket to the other's, as sent."""
    s, t = socket(live.id, student), socket(live.id, tutor)

    async def scenario():
        first = await welcome(s)
        second = await welcome(t)
        assert first["role"] == "student" and second["role"] == "tutor"
        assert second["state"] == "in_progress" and second["peers"] == [first["connection_id"]]
        update = await next_of(s, "state", where=lambda m: m["peers"])
        assert update["peers"] == [second["connection_id"]] and update["label"] == "In Progress"
        await t.send_json_to({"type": "offer", "to": first["connection_id"], "sdp": "v=0 offer"})
        offer = await next_of(s, "offer")
        assert offer == {"type": "offer", "sdp": "v=0 offer", "from": second["connection_id"]}
        candidate = {"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host", "sdpMid": "0", "sdpMLineIndex": 0}
        await s.send_json_to({"type": "ice", "to": second["connection_id"], "candidate": candidate})
        ice = await next_of(t, "ice")
        assert ice["candidate"]["candidate"] == candidate["candidate"] and ice["from"] == first["connection_id"]
        await s.send_json_to({"type": "media", "audio": False, "video": True})
        media = await next_of(t, "media")
        assert media["audio"] is False
        await s.send_json_to({"type": "heartbeat"})
        assert (await next_of(s, "state"))["state"] == "in_progress"
        await s.disconnect(timeout=WAIT)
        left = await next_of(t, "state", where=lambda m: not m["peers"])
        assert left["state"] == "waiting" and left["peers"] == []
        await t.disconnect(timeout=WAIT)
    run(scenario)
    kinds = list(SessionEvent.objects.filter(session=live, kind__startswith="room_").values_list("kind", "actor_id"))
    assert kinds == [("room_joined", student.id), ("room_joined", tutor.id), ("room_left", student.id),
                     ("room_left", tutor.id)]


def test_a_second_tab_of_the_same_person_takes_over(live, student):
    """The newest tab keeps the call; the older one is told why (close 4001)."""
    old, new = socket(live.id, student), socket(live.id, student)

    async def scenario():
        await welcome(old)
        await welcome(new)
        message = await next_of(old, "error")
        closing = await old.receive_output(timeout=WAIT)
        await new.disconnect(timeout=WAIT)
        return message, closing["code"]
    message, code = run(scenario)
    assert code == 4001 and message["detail"] == "You joined this session in another tab or window."
    assert SessionEvent.objects.filter(session=live, kind="room_joined").count() == 1


@pytest.mark.parametrize(("payload", "code", "reason"), [
    ("not json", 4400, "malformed"),
    (json.dumps({"type": "offer", "sdp": "x"}), 4400, "malformed"),
    (json.dumps({"type": "shout", "text": "hi"}), 4400, "malformed"),
    (json.dumps({"type": "heartbeat", "extra": 1}), 4400, "malformed"),
    (json.dumps({"type": "ice", "to": "../../etc", "candidate": None}), 4400, "malformed"),
    (json.dumps({"type": "offer", "to": "abcdefghijkl", "sdp": "x" * (65 * 1024)}), 1009, "too_large"),
    (b"\x00binary", 4400, "malformed"),
    ("[" * 30_000 + "]" * 30_000, 4400, "malformed"),
    ('{"type": "ice", "to": "abcdefghijkl", "candidate": {"candidate": "\\ud800"}}', 4400, "malformed"),
    ('{"type": "media", "audio": 1, "video": "yes"}', 4400, "malformed"),
    ("1e999", 4400, "malformed"),
])
def test_bad_messages_close_the_socket_with_a_clear_code(live, student, payload, code, reason):
    comm = socket(live.id, student)

    async def scenario():
        await welcome(comm)
        if isinstance(payload, bytes):
            await comm.send_to(bytes_data=payload)
        else:
            await comm.send_to(text_data=payload)
        message = await next_of(comm, "error")
        closing = await comm.receive_output(timeout=WAIT)
        return message, closing["code"]
    message, got = run(scenario)
    assert (got, message["code"]) == (code, reason)


def test_a_flood_is_rate_limited(live, student):
    comm = socket(live.id, student)

    async def scenario():
        await welcome(comm)
        for _ in range(80):
            await comm.send_to(text_data=json.dumps({"type": "media", "audio": True, "video": True}))
        message = await next_of(comm, "error", tries=100)
        closing = await comm.receive_output(timeout=WAIT)
        return message, closing["code"]
    message, code = run(scenario)
    assert code == 4429 and message["code"] == "rate_limited"


def test_the_tutor_in_the_room_is_offered_check_in(at, student, tutor):
    """The check-in window is open 20 minutes before: the tutor's state says can_check_in."""
    soon = at(minutes=10)

    t, s = socket(soon.id, tutor), socket(soon.id, student)

    async def scenario():
        tutor_view, student_view = await welcome(t), await welcome(s)
        await t.disconnect(timeout=WAIT)
        await s.disconnect(timeout=WAIT)
        return tutor_view, student_view
    tutor_view, student_view = run(scenario)
    assert tutor_view["can_check_in"] is True and student_view["can_check_in"] is False


def test_a_student_with_another_role_elsewhere_is_still_only_a_student_here(live, student):
    make_user("tutor2", Role.TUTOR)

    comm = socket(live.id, student)

    async def scenario():
        return await welcome(comm)
    assert run(scenario)["role"] == "student"


def test_with_a_provider_the_socket_watches_the_presence_the_provider_feeds(live, student, tutor, settings):
    """The call runs in the provider's client: the socket neither writes presence nor relays; it
    tells the page the room's state as the provider's presence (video.attendance) makes it."""
    settings.VIDEO_PROVIDER = "plugnmeet"
    s = socket(live.id, student)

    async def scenario():
        first = await welcome(s)
        assert first["state"] == "joinable" and presence.connections(live.id) == {}
        await sync_to_async(presence.mark_present, thread_sensitive=False)(
            live.id, tutor.id, connection_id="plugnmeet:PA_t1")
        tutor_in = await next_of(s, "state")
        await sync_to_async(presence.mark_present, thread_sensitive=False)(
            live.id, student.id, connection_id="plugnmeet:PA_s1")
        both_in = await next_of(s, "state")
        await s.send_json_to({"type": "media", "audio": False, "video": True})
        await s.send_json_to({"type": "heartbeat"})
        beat = await next_of(s, "state")
        await s.disconnect(timeout=WAIT)
        return tutor_in, both_in, beat
    tutor_in, both_in, beat = run(scenario)
    assert (tutor_in["state"], tutor_in["detail"]) == ("joinable", "Tia is in the room.")
    assert both_in["state"] == beat["state"] == "in_progress"
    assert presence.connections(live.id) == {"plugnmeet:PA_t1": tutor.id, "plugnmeet:PA_s1": student.id}


def test_a_signal_addressed_to_another_rooms_connection_is_never_delivered(live, make_session, student, tutor):
    """R14, R01: signaling stays inside its room. A participant who learned a connection id of
    another session's room (a leaked log, a guess) cannot reach it: the offer and the ICE candidate
    are dropped, and that room's own signaling still arrives, in order."""
    other_tutor, other_student = make_user("otto-tutor", Role.TUTOR), make_user("olga", Role.STUDENT)
    elsewhere = make_session(start=live.scheduled_start, tutor=other_tutor, student=other_student)
    mine, victim, victims_tutor = socket(live.id, student), socket(elsewhere.id, other_student), \
        socket(elsewhere.id, other_tutor)

    async def scenario():
        await welcome(mine)
        target = (await welcome(victim))["connection_id"]
        partner = (await welcome(victims_tutor))["connection_id"]
        await mine.send_json_to({"type": "offer", "to": target, "sdp": "v=0 intruder"})
        candidate = {"candidate": "candidate:1 1 udp 1 10.0.0.9 9 typ host", "sdpMid": "0", "sdpMLineIndex": 0}
        await mine.send_json_to({"type": "ice", "to": target, "candidate": candidate})
        # the socket closes once its consumer has handled (and relayed, were it allowed) all before it
        await mine.send_json_to({"type": "bye"})
        while (await mine.receive_output(timeout=WAIT))["type"] != "websocket.close":
            pass
        await victims_tutor.send_json_to({"type": "offer", "to": target, "sdp": "v=0 the room's own"})
        received = [await next_of(victim, "offer")]
        await victim.send_json_to({"type": "heartbeat"})
        while (message := await victim.receive_json_from(timeout=WAIT))["type"] != "state":
            received.append(message)
        for comm in (victim, victims_tutor):
            await comm.disconnect(timeout=WAIT)
        return partner, received
    partner, received = run(scenario)
    assert [m.get("sdp") for m in received if m["type"] == "offer"] == ["v=0 the room's own"]
    assert received[0]["from"] == partner
    assert not [m for m in received if m["type"] == "ice"]


def test_a_browser_gone_while_the_room_writes_to_it_has_left(live, student, tutor):
    """R13: a browser that went away while the server wrote to it (here the room's news that the
    tutor arrived) has left the room: the server (uvicorn) raises ClientDisconnected and ends the
    socket without a disconnect, and the leave was lost, the student shown present until the
    presence expired and the join never closed by a leave."""
    from uvicorn.protocols.utils import ClientDisconnected

    sam_headers = [(b"origin", b"http://testserver"), (b"cookie", cookie_for(student))]
    tia = socket(live.id, tutor)

    async def scenario():
        gone = asyncio.Event()

        async def app(scope, receive, send):
            async def browser(message):  # the server's send once the browser has gone
                if gone.is_set() and message["type"] == "websocket.send":
                    raise ClientDisconnected()
                await send(message)
            await application(scope, receive, browser)

        sam = WebsocketCommunicator(app, f"/ws/session/{live.id}/", headers=sam_headers)
        await welcome(sam)
        gone.set()
        await welcome(tia)  # her arrival is told to the room: written to Sam's gone browser
        with pytest.raises(ClientDisconnected):
            await sam.wait(timeout=WAIT)
        present = await sync_to_async(presence.present_user_ids)(live.id)
        await tia.disconnect()
        return present

    assert run(scenario) == {tutor.id}
    events = SessionEvent.objects.filter(session=live, kind__startswith="room_").order_by("id")
    for person in (student, tutor):  # each one's join closed by a leave
        assert list(events.filter(actor=person).values_list("kind", flat=True)) == ["room_joined", "room_left"]


def test_a_browser_gone_as_it_is_welcomed_has_left_and_nothing_is_logged(live, student, caplog):
    """R13: a browser that went away while the room welcomed it (the welcome's send fails) has
    left, as above; it is no fault of the server's ("could not admit" is not logged)."""
    from uvicorn.protocols.utils import ClientDisconnected

    headers = [(b"origin", b"http://testserver"), (b"cookie", cookie_for(student))]

    async def scenario():
        async def app(scope, receive, send):
            async def browser(message):  # the accept goes out; the browser is gone before the welcome
                if message["type"] == "websocket.send":
                    raise ClientDisconnected()
                await send(message)
            await application(scope, receive, browser)

        sam = WebsocketCommunicator(app, f"/ws/session/{live.id}/", headers=headers)
        await sam.connect(timeout=WAIT)
        with pytest.raises(ClientDisconnected):
            await sam.wait(timeout=WAIT)
        return await sync_to_async(presence.present_user_ids)(live.id)

    assert run(scenario) == set()
    kinds = SessionEvent.objects.filter(session=live, kind__startswith="room_").order_by("id")
    assert list(kinds.values_list("kind", "actor_id")) == [("room_joined", student.id),
                                                           ("room_left", student.id)]
    assert not [r for r in caplog.records if r.name.startswith("room") and r.levelname == "ERROR"]
