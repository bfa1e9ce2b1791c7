"""Provider webhooks are verified before anything is done with them: good, bad and replayed
signatures for PlugNmeet's webhooks and BigBlueButton's recording-ready callback."""

import base64
import hashlib
import json
import time

import jwt
import pytest

from sessions.models import Recording, RecordingStatus
from video.models import ProviderEvent, RecordingCopy

PNM_URL = "/video/webhooks/plugnmeet"
BBB_URL = "/video/webhooks/bbb/recording-ready"


def deliver(client, body: bytes, headers: dict):
    extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items() if k != "Content-Type"}
    return client.post(PNM_URL, data=body, content_type="application/json", **extra)


def joined(fake, room, user, sid="PA_abc") -> bytes:
    return fake.event("participant_joined", room.room_id, participant={"sid": sid, "identity": str(user.pk),
                                                                       "name": user.name, "state": "ACTIVE"})


# --- PlugNmeet ----------------------------------------------------------------------------------------


def test_a_signed_join_event_is_recorded_for_presence(client, plugnmeet, pnm_room, student):
    body = joined(plugnmeet, pnm_room, student)

    answer = deliver(client, body, plugnmeet.webhook_headers(body))

    assert (answer.status_code, answer.content) == (200, b"ok")
    event = ProviderEvent.objects.get()
    assert (event.provider, event.kind, event.name, event.session_id, event.user_id, event.connection_id) == (
        "plugnmeet", "joined", "participant_joined", pnm_room.session_id, student.pk, "PA_abc")
    assert event.key == json.loads(body)["id"]
    assert abs(event.occurred_at.timestamp() - json.loads(body)["created_at"]) < 1


def test_the_hash_token_header_is_accepted_too(client, plugnmeet, pnm_room, tutor):
    body = plugnmeet.event("participant_left", pnm_room.room_id, participant={"sid": "PA_1", "identity": str(tutor.pk)})
    headers = plugnmeet.webhook_headers(body)
    del headers["Authorization"]

    assert deliver(client, body, headers).status_code == 200
    assert ProviderEvent.objects.get().kind == "left"


def test_a_replayed_delivery_changes_nothing(client, plugnmeet, pnm_room, student):
    body = joined(plugnmeet, pnm_room, student)
    headers = plugnmeet.webhook_headers(body)

    assert deliver(client, body, headers).content == b"ok"
    again = deliver(client, body, headers)

    assert (again.status_code, again.content) == (200, b"duplicate")
    assert ProviderEvent.objects.count() == 1


def bad_tokens(fake, body: bytes) -> dict:
    now = int(time.time())
    sha = base64.b64encode(hashlib.sha256(body).digest()).decode()
    good = {"iss": fake.api_key, "nbf": now, "iat": now, "exp": now + 300, "sha256": sha}
    return {
        "wrong secret": fake.webhook_headers(body, secret="not-the-secret-" * 3)["Authorization"],
        "wrong issuer": fake.webhook_headers(body, api_key="someone-else")["Authorization"],
        "expired": fake.webhook_headers(body, now=now - 600)["Authorization"],
        "not yet valid": fake.webhook_headers(body, now=now + 600)["Authorization"],
        "another body": fake.webhook_headers(body + b" ")["Authorization"],
        "no sha256": jwt.encode({k: v for k, v in good.items() if k != "sha256"}, fake.secret, algorithm="HS256"),
        "no expiry": jwt.encode({k: v for k, v in good.items() if k != "exp"}, fake.secret, algorithm="HS256"),
        "HS512": jwt.encode(good, fake.secret, algorithm="HS512"),  # the right secret: only the algorithm is wrong
        "alg none": jwt.encode(good, None, algorithm="none"),
        "garbage": "not.a.jwt",
        "empty": "",
    }


# HS512 / HS384 signed with the right (short) secret: PyJWT warns about the key length, which is the point
@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
@pytest.mark.parametrize("case", ["wrong secret", "wrong issuer", "expired", "not yet valid", "another body",
                                  "no sha256", "no expiry", "HS512", "alg none", "garbage", "empty"])
def test_a_bad_signature_is_refused_and_nothing_is_done(client, plugnmeet, pnm_room, student, case):
    body = plugnmeet.event("recording_proceeded", pnm_room.room_id,
                           recording_info={"record_id": "rec-x", "recorder_id": "r1", "recorder_msg": "done"})
    plugnmeet.add_recording("rec-x", pnm_room.room_id, data=b"abc")
    token = bad_tokens(plugnmeet, body)[case]

    answer = deliver(client, body, {"Authorization": token, "Hash-Token": token} if token else {})

    assert answer.status_code == 403
    assert not ProviderEvent.objects.exists() and not Recording.objects.exists()


def test_a_recording_event_registers_and_copies_the_recording_once(client, plugnmeet, pnm_room, notes_storage,
                                                                   django_capture_on_commit_callbacks):
    """R15: the provider reports a recording; it is copied; a second report copies nothing."""
    plugnmeet.add_recording("rec-1", pnm_room.room_id, data=b"recorded call")
    for _ in range(2):  # the notifier resends, with a new event id each time
        body = plugnmeet.event("recording_proceeded", pnm_room.room_id,
                               recording_info={"record_id": "rec-1", "recorder_id": "r1", "file_size": 13.0})
        with django_capture_on_commit_callbacks(execute=True):
            assert deliver(client, body, plugnmeet.webhook_headers(body)).status_code == 200

    copy = RecordingCopy.objects.get()
    assert copy.status == "done" and (notes_storage / copy.storage_key).read_bytes() == b"recorded call"
    assert Recording.objects.get().status == RecordingStatus.AVAILABLE
    assert ProviderEvent.objects.filter(kind="recording_ready").count() == 2
    assert len([r for r in plugnmeet.requests if r.path.startswith("/download/")]) == 1


def test_room_finished_marks_the_room_ended(client, plugnmeet, pnm_room):
    body = plugnmeet.event("room_finished", pnm_room.room_id)
    assert deliver(client, body, plugnmeet.webhook_headers(body)).status_code == 200
    pnm_room.refresh_from_db()
    assert pnm_room.ended_at is not None


def test_events_of_rooms_that_are_not_ours_are_ignored(client, plugnmeet, pnm_room):
    body = plugnmeet.event("recording_proceeded", "someone-elses-room", recording_info={"record_id": "r"})
    answer = deliver(client, body, plugnmeet.webhook_headers(body))
    assert (answer.status_code, answer.content) == (200, b"ignored")
    assert not Recording.objects.exists()


def test_a_join_by_someone_not_in_the_session_names_nobody(client, plugnmeet, pnm_room, outsider):
    body = joined(plugnmeet, pnm_room, outsider)
    assert deliver(client, body, plugnmeet.webhook_headers(body)).status_code == 200
    assert ProviderEvent.objects.get().user_id is None


@pytest.mark.parametrize("body", [b"[1, 2]", b"not json", b"", b"[" * 100_000 + b"]" * 100_000])
def test_a_signed_body_that_is_not_an_event_is_refused(client, plugnmeet, pnm_room, body):
    """(JSON nested too deep made json.loads raise RecursionError: a 500.)"""
    assert deliver(client, body, plugnmeet.webhook_headers(body)).status_code == 403
    assert not ProviderEvent.objects.exists()


@pytest.mark.parametrize(("identity", "created_at"), [("²", "²"), ("9" * 30, 10**30), ("-1", "99999999999999")])
def test_an_identity_or_time_that_is_no_number_names_nobody_and_takes_the_arrival(client, plugnmeet, pnm_room,
                                                                                   identity, created_at):
    """"²".isdigit() is true and int("²") raised; a second count past the year 9999 overflowed."""
    body = plugnmeet.event("participant_joined", pnm_room.room_id, created_at=created_at,
                           participant={"sid": "PA_x", "identity": identity, "name": "x", "state": "ACTIVE"})
    assert deliver(client, body, plugnmeet.webhook_headers(body)).status_code == 200
    event = ProviderEvent.objects.get()
    assert event.user_id is None and abs(event.occurred_at.timestamp() - time.time()) < 60


def test_webhooks_take_only_post(client, plugnmeet):
    assert client.get(PNM_URL).status_code == 405
    assert client.get(BBB_URL).status_code == 405


def test_without_plugnmeet_configured_the_webhook_is_not_there(client, settings):
    settings.PLUGNMEET = None
    assert client.post(PNM_URL, data=b"{}", content_type="application/json").status_code == 404


# --- BigBlueButton -------------------------------------------------------------------------------


def test_a_signed_recording_ready_callback_copies_the_recording(client, bbb, bbb_room, notes_storage,
                                                                django_capture_on_commit_callbacks):
    """R15 with BigBlueButton: the callback's JWT (HS256 with the shared secret) is checked first."""
    bbb.add_recording("bbb-1", bbb_room.room_id, data=b"bbb video")

    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(BBB_URL, bbb.recording_ready_form(bbb_room.room_id, "bbb-1"))

    assert (answer.status_code, answer.content) == (200, b"ok")
    copy = RecordingCopy.objects.get()
    assert (copy.provider, copy.provider_recording_id, copy.status) == ("bbb", "bbb-1", "done")
    assert (notes_storage / copy.storage_key).read_bytes() == b"bbb video"


def test_a_replayed_callback_changes_nothing(client, bbb, bbb_room, django_capture_on_commit_callbacks):
    bbb.add_recording("bbb-1", bbb_room.room_id, data=b"bbb video")
    form = bbb.recording_ready_form(bbb_room.room_id, "bbb-1")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(BBB_URL, form)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        again = client.post(BBB_URL, form)

    assert (again.status_code, again.content, callbacks) == (200, b"duplicate", [])
    assert RecordingCopy.objects.count() == ProviderEvent.objects.count() == 1


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
@pytest.mark.parametrize("case", ["wrong secret", "tampered", "no record id", "HS384 with the secret", "missing",
                                  "alg none"])
def test_a_callback_with_a_bad_signature_is_refused(client, bbb, bbb_room, case):
    bbb.add_recording("bbb-1", bbb_room.room_id, data=b"x")
    good = bbb.recording_ready_form(bbb_room.room_id, "bbb-1")["signed_parameters"]
    head, _, signature = good.split(".")
    forged = base64.urlsafe_b64encode(json.dumps({"meeting_id": bbb_room.room_id, "record_id": "bbb-2"}).encode())
    form = {
        "wrong secret": bbb.recording_ready_form(bbb_room.room_id, "bbb-1", secret="nope" * 10),
        "tampered": {"signed_parameters": f"{head}.{forged.decode().rstrip('=')}.{signature}"},
        "no record id": {"signed_parameters": jwt.encode({"meeting_id": bbb_room.room_id}, bbb.secret,
                                                         algorithm="HS256")},
        "HS384 with the secret": {"signed_parameters": jwt.encode(
            {"meeting_id": bbb_room.room_id, "record_id": "bbb-1"}, bbb.secret, algorithm="HS384")},
        "missing": {},
        "alg none": {"signed_parameters": jwt.encode({"meeting_id": bbb_room.room_id, "record_id": "bbb-1"}, None,
                                                     algorithm="none")},
    }[case]

    answer = client.post(BBB_URL, form)

    assert answer.status_code == 401
    assert not ProviderEvent.objects.exists() and not Recording.objects.exists()


def test_a_callback_for_a_meeting_that_is_not_ours_is_404(client, bbb, bbb_room):
    answer = client.post(BBB_URL, bbb.recording_ready_form("someone-elses-meeting", "bbb-9"))
    assert answer.status_code == 404 and not ProviderEvent.objects.exists()
