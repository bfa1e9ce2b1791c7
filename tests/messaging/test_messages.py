"""Messages: who may talk to whom (can_message), the inbox, opening a conversation with someone,
one conversation's page, sending, read marking, the pair's uniqueness, the admin, query counts.
Everyone outside a conversation gets 404 and changes nothing."""

import threading
import time
from datetime import timedelta

import pytest
from django.core import mail
from django.db import IntegrityError, connection, transaction
from django.http import Http404

from messaging import services
from messaging.models import MAX_BODY, Conversation, Message
from notifications.models import Notification
from tests.conftest import NOW, make_user
from tutoring.models import Enrollment, Role


@pytest.fixture(autouse=True)
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)
    return time_machine


@pytest.fixture
def cast(parent, student, tutor, creator, course, coordinator, outsider):
    return {"pat": parent, "sam": student, "tia": tutor, "cleo": creator, "coco": coordinator,
            "otto": outsider}


def signed_in(client, user):
    client.force_login(user)
    return client


def start(a, b) -> Conversation:
    return services.conversation_between(a, b)[0]


def say(conversation, sender, body, *, at=None) -> Message:
    return services.send(conversation, sender, body, now=at)


# --- can_message --------------------------------------------------------------------------------

# Who may talk once Tia tutors Sam in Cleo's course "Algebra I" (the `session` fixture); symmetric.
WITH_A_SESSION = {
    frozenset({"pat", "tia"}),   # a tutor and the student's parent
    frozenset({"sam", "tia"}),   # a tutor and the student
    frozenset({"sam", "cleo"}),  # a course's creator and an enrolled student
    frozenset({"tia", "cleo"}),  # a course's creator and a tutor with a session in the course
} | {frozenset({"coco", name}) for name in ("pat", "sam", "tia", "cleo", "otto")}  # a coordinator and anyone

# Without any session: the enrollment and the coordinator remain (a Match alone is no connection).
WITHOUT_A_SESSION = {frozenset({"sam", "cleo"})} | {frozenset({"coco", name})
                                                     for name in ("pat", "sam", "tia", "cleo", "otto")}

NAMES = ("pat", "sam", "tia", "cleo", "coco", "otto")
PAIRS = [(a, b) for a in NAMES for b in NAMES]


@pytest.mark.parametrize(("a", "b"), PAIRS)
def test_can_message_matrix_with_a_session(cast, session, a, b):
    assert services.can_message(cast[a], cast[b]) is (frozenset({a, b}) in WITH_A_SESSION)


@pytest.mark.parametrize(("a", "b"), PAIRS)
def test_can_message_matrix_without_sessions(cast, a, b):
    assert services.can_message(cast[a], cast[b]) is (frozenset({a, b}) in WITHOUT_A_SESSION)


def test_a_parent_may_talk_to_the_tutor_of_any_of_their_children(parent, sibling, tutor, make_session):
    assert not services.can_message(parent, tutor)
    make_session(student=sibling, course=None)
    assert services.can_message(parent, tutor) and services.can_message(tutor, parent)


def test_a_creator_and_a_student_with_a_session_in_the_course_but_not_enrolled(creator, course, sibling,
                                                                               make_session):
    assert not services.can_message(creator, sibling)
    make_session(student=sibling)
    assert services.can_message(creator, sibling) and services.can_message(sibling, creator)


def test_a_session_outside_the_course_does_not_connect_its_creator(creator, course, tutor, make_session):
    make_session(course=None)
    assert not services.can_message(creator, tutor)


def test_an_enrollment_in_another_creators_course_does_not_connect(outsider, student, course):
    assert not services.can_message(outsider, student)
    other = outsider.courses.create(title="Geometry")
    Enrollment.objects.create(course=other, student=student)
    assert services.can_message(outsider, student)


def test_nobody_talks_to_themselves_nor_to_or_as_a_deactivated_person(cast, session):
    for person in cast.values():
        assert not services.can_message(person, person)
    cast["tia"].is_active = False
    cast["tia"].save()
    assert not services.can_message(cast["coco"], cast["tia"])
    assert not services.can_message(cast["tia"], cast["sam"])


def test_a_superuser_counts_as_a_coordinator(outsider):
    root = make_user("root", is_superuser=True, is_staff=True)
    assert services.can_message(root, outsider) and services.can_message(outsider, root)


def test_can_message_takes_at_most_two_queries(cast, session, django_assert_max_num_queries):
    with django_assert_max_num_queries(2):
        assert not services.can_message(cast["otto"], cast["sam"])
    with django_assert_max_num_queries(1):
        assert services.can_message(cast["pat"], cast["tia"])


# --- the pair is one conversation ----------------------------------------------------------------

def test_starting_twice_either_way_gives_the_same_conversation(tutor, creator, session):
    first, created = services.conversation_between(creator, tutor)
    again, created_again = services.conversation_between(tutor, creator)
    assert created and not created_again and first == again
    assert (first.user_low_id, first.user_high_id) == tuple(sorted((tutor.id, creator.id)))
    assert Conversation.objects.count() == 1


def _until_another_backend_waits_for_a_lock(deadline_seconds=15):
    """Polls PostgreSQL until some other connection of this database is blocked on a lock."""
    deadline = time.monotonic() + deadline_seconds
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                           "AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'")
            if cursor.fetchone()[0]:
                return
    raise AssertionError("no connection ever waited for the winner's insert")


@pytest.mark.django_db(transaction=True)
def test_a_concurrent_start_that_loses_the_insert_reads_the_winners_row(tutor, creator):
    """Two requests both see no conversation; the second insert hits the unique index and reads
    the first one's row instead of failing, and the surrounding transaction goes on. A real race:
    the winner's insert is not committed yet when the loser looks, so the loser's insert waits on
    the unique index until the winner commits."""
    low, high = services.ordered_pair(tutor, creator)
    inserted, won = threading.Event(), {}

    def winner():
        try:
            with transaction.atomic():
                won["row"] = Conversation.objects.create(user_low=low, user_high=high)
                inserted.set()
                _until_another_backend_waits_for_a_lock()
        finally:
            connection.close()

    thread = threading.Thread(target=winner)
    thread.start()
    assert inserted.wait(15)
    with transaction.atomic():
        found, created = services.conversation_between(tutor, creator)
        assert found == won["row"] and not created
        assert Conversation.objects.count() == 1  # the transaction is still usable
    thread.join(15)


def test_the_database_refuses_a_second_row_a_reversed_pair_and_a_pair_of_one(tutor, creator):
    low, high = services.ordered_pair(tutor, creator)
    Conversation.objects.create(user_low=low, user_high=high)
    for a, b in ((low, high), (high, low), (low, low)):
        with pytest.raises(IntegrityError), transaction.atomic():
            Conversation.objects.create(user_low=a, user_high=b)


def test_the_database_refuses_an_empty_or_too_long_message(tutor, creator):
    conversation = start(creator, tutor)
    for body in ("", "x" * (MAX_BODY + 1)):
        with pytest.raises(IntegrityError), transaction.atomic():
            Message.objects.create(conversation=conversation, sender=tutor, body=body)


def test_only_a_participant_can_send(tutor, creator, outsider):
    conversation = start(creator, tutor)
    with pytest.raises(Http404):
        services.send(conversation, outsider, "Hello")
    assert not Message.objects.exists()


# --- signing in -------------------------------------------------------------------------------------

def test_every_page_wants_a_signed_in_user(client, tutor, creator):
    conversation = start(creator, tutor)
    for url in ("/messages/", f"/messages/with/{tutor.id}/", f"/messages/{conversation.id}/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next=")
    response = client.post(f"/messages/{conversation.id}/", {"body": "Hi"})
    assert response.status_code == 302 and not Message.objects.exists()


# --- the inbox ------------------------------------------------------------------------------------

def test_an_empty_inbox_says_so(client, outsider):
    response = signed_in(client, outsider).get("/messages/")
    assert response.status_code == 200
    assert "No messages yet." in response.content.decode()
    assert "no-cache" in response["Cache-Control"] or "no-store" in response["Cache-Control"]


def test_the_inbox_lists_conversations_newest_first_with_the_last_line_time_and_unread(
        client, parent, tutor, creator, session):
    tutor.time_zone = "America/New_York"
    tutor.save()
    with_cleo, with_pat = start(creator, tutor), start(parent, tutor)
    say(with_pat, parent, "Sam is ill today.\nHe will be back next week.", at=NOW - timedelta(hours=2))
    say(with_cleo, creator, "First from Cleo", at=NOW - timedelta(hours=1))
    say(with_cleo, creator, "Lesson plan for Friday\nwith more detail below", at=NOW)
    body = signed_in(client, tutor).get("/messages/").content.decode()
    assert body.index("Cleo") < body.index("Pat")  # the latest conversation first
    assert "Lesson plan for Friday" in body and "with more detail below" not in body
    assert "Sam is ill today." in body and "back next week" not in body
    assert "Mon 16 Nov, 05:00" in body and "Mon 16 Nov, 03:00" in body  # New York time (UTC-5)
    assert "2 unread" in body and "1 unread" in body

    cleo = signed_in(client, creator).get("/messages/").content.decode()
    assert "You: Lesson plan for Friday" in cleo and "unread</span>" not in cleo


def test_a_started_conversation_without_messages_is_listed_for_both(client, tutor, creator):
    start(creator, tutor)
    body = signed_in(client, tutor).get("/messages/").content.decode()
    assert "Cleo" in body and "Nothing sent yet." in body


def test_the_inbox_shows_only_the_viewers_conversations(client, parent, tutor, creator, coordinator):
    say(start(creator, tutor), creator, "Private to Tia")
    body = signed_in(client, coordinator).get("/messages/").content.decode()
    assert "Private to Tia" not in body and "No messages yet." in body


# --- opening a conversation with someone ------------------------------------------------------------

def test_with_makes_the_conversation_once_and_redirects_to_it(client, tutor, creator, session):
    """Issue 11 item 6: GET /messages/with/{id}/ has no side effect. With no conversation yet it
    is an empty compose form (no row made); the first message's POST makes the conversation;
    afterwards the GET (from either side) redirects to it."""
    signed_in(client, creator)
    response = client.get(f"/messages/with/{tutor.id}/")
    body = response.content.decode()
    assert response.status_code == 200 and not Conversation.objects.exists()
    assert "<h1>Messages with Tia</h1>" in body and "No messages yet." in body
    assert f'action="/messages/with/{tutor.id}/"' in body and '<label for="message-body">Message to Tia</label>' in body
    empty = client.post(f"/messages/with/{tutor.id}/", {"body": "  "})
    assert empty.status_code == 422 and "Write a message before sending." in empty.content.decode()
    assert not Conversation.objects.exists() and not Message.objects.exists()
    sent = client.post(f"/messages/with/{tutor.id}/", {"body": "Hello Tia"})
    conversation = Conversation.objects.get()
    assert sent.status_code == 303 and sent["Location"] == f"/messages/{conversation.id}/"
    assert Message.objects.get().body == "Hello Tia"
    again = client.get(f"/messages/with/{tutor.id}/")
    assert again.status_code == 302 and again["Location"] == f"/messages/{conversation.id}/"
    more = client.post(f"/messages/with/{tutor.id}/", {"body": "And again"})
    assert more.status_code == 303 and more["Location"] == f"/messages/{conversation.id}/"
    assert Conversation.objects.count() == 1 and Message.objects.count() == 2
    signed_in(client, tutor)
    assert client.get(f"/messages/with/{creator.id}/")["Location"] == f"/messages/{conversation.id}/"


def test_the_first_message_with_htmx_makes_the_conversation_and_answers_its_panel(client, tutor, creator,
                                                                                  session):
    signed_in(client, creator)
    response = client.post(f"/messages/with/{tutor.id}/", {"body": "Via htmx"}, HTTP_HX_REQUEST="true")
    conversation = Conversation.objects.get()
    body = response.content.decode()
    assert response.status_code == 200 and body.lstrip().startswith('<div id="chat-panel"')
    assert "Via htmx" in body and f'hx-post="/messages/{conversation.id}/"' in body
    assert response["HX-Replace-Url"] == f"/messages/{conversation.id}/"


def test_with_keeps_a_local_next_for_the_back_link(client, tutor, creator, session):
    signed_in(client, creator)
    back = f"/sessions/{session.id}/?tab=past"
    compose = client.get(f"/messages/with/{tutor.id}/", {"next": back}).content.decode()
    assert f'<a href="/sessions/{session.id}/?tab=past">Back</a>' in compose
    assert f'action="/messages/with/{tutor.id}/?next=' in compose
    conversation = start(creator, tutor)
    response = client.get(f"/messages/with/{tutor.id}/", {"next": back})
    thread = f"/messages/{conversation.id}/"
    assert response["Location"] == f"{thread}?next=%2Fsessions%2F{session.id}%2F%3Ftab%3Dpast"
    page = client.get(response["Location"]).content.decode()
    assert f'<a href="/sessions/{session.id}/?tab=past">Back</a>' in page
    assert f'action="/messages/{conversation.id}/?next=' in page


@pytest.mark.parametrize("bad", ["https://evil.example/", "//evil.example/x", "/\\evil.example/",
                                 "javascript:alert(1)", "relative/"])
def test_with_drops_a_next_that_leaves_the_site(client, tutor, creator, session, bad):
    signed_in(client, creator)
    compose = client.get(f"/messages/with/{tutor.id}/", {"next": bad}).content.decode()
    assert ">Back</a>" not in compose and "evil" not in compose
    conversation = start(creator, tutor)
    response = client.get(f"/messages/with/{tutor.id}/", {"next": bad})
    assert response["Location"] == f"/messages/{conversation.id}/"
    page = client.get(f"/messages/{conversation.id}/", {"next": bad}).content.decode()
    assert ">Back</a>" not in page and "evil" not in page


def test_with_someone_unconnected_is_404_and_makes_nothing(client, outsider, student, tutor, course):
    signed_in(client, outsider)
    for user_id in (student.id, tutor.id, outsider.id, 999_999):
        assert client.get(f"/messages/with/{user_id}/").status_code == 404
        assert client.post(f"/messages/with/{user_id}/").status_code == 404
    assert not Conversation.objects.exists()


def test_a_coordinator_may_open_a_conversation_with_anyone(client, coordinator, outsider):
    response = signed_in(client, coordinator).get(f"/messages/with/{outsider.id}/")
    assert response.status_code == 200 and not Conversation.objects.exists()
    response = client.post(f"/messages/with/{outsider.id}/", {"body": "Welcome"})
    assert response.status_code == 303 and Conversation.objects.count() == 1


# --- one conversation -------------------------------------------------------------------------------

def test_the_thread_shows_messages_oldest_first_in_the_viewers_time_zone(client, parent, tutor, session):
    conversation = start(parent, tutor)
    say(conversation, tutor, "Homework: page 12", at=NOW - timedelta(days=1))
    say(conversation, parent, "Thanks, <b>will do</b>", at=NOW)
    response = signed_in(client, parent).get(f"/messages/{conversation.id}/")
    body = response.content.decode()
    assert response.status_code == 200 and "<h1>Messages with Tia</h1>" in body
    assert body.index("Homework: page 12") < body.index("will do")
    assert "&lt;b&gt;will do&lt;/b&gt;" in body  # escaped
    assert "Sun 15 Nov, 10:00" in body  # Europe/London is UTC in November
    assert '<label for="message-body">Message to Tia</label>' in body
    assert "no-store" in response["Cache-Control"] or "no-cache" in response["Cache-Control"]


def test_the_thread_shows_the_last_200_messages(client, tutor, creator):
    conversation = start(creator, tutor)
    Message.objects.bulk_create(Message(conversation=conversation, sender=tutor, body=f"Note number {i}.",
                                        created_at=NOW - timedelta(minutes=300 - i)) for i in range(205))
    body = signed_in(client, creator).get(f"/messages/{conversation.id}/").content.decode()
    assert "Note number 4." not in body and "Note number 5." in body and "Note number 204." in body
    assert "Showing the last 200 messages." in body


def test_sending_stores_the_message_moves_the_conversation_and_notifies_after_commit(
        client, tutor, creator, django_capture_on_commit_callbacks):
    conversation = start(creator, tutor)
    signed_in(client, creator)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(f"/messages/{conversation.id}/", {"body": "  Hello Tia,\r\ncan we talk?  "})
    assert response.status_code == 303 and response["Location"] == f"/messages/{conversation.id}/"
    message = Message.objects.get()
    assert (message.sender, message.body, message.created_at, message.read_at) == (
        creator, "Hello Tia,\ncan we talk?", NOW, None)
    assert len(callbacks) == 1
    note = Notification.objects.get()
    assert (note.recipient, note.kind, note.url) == (tutor, "message", f"/messages/{conversation.id}/")
    assert (note.title, note.text) == ("New message from Cleo", "Hello Tia,")
    assert [m.to for m in mail.outbox] == [[tutor.email]]

    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/messages/{conversation.id}/", {"body": "One more thing"})
    assert Notification.objects.filter(recipient=tutor, kind="message").count() == 2  # one per message
    assert not Notification.objects.filter(recipient=creator).exists()


def test_no_notification_without_a_commit(client, tutor, creator, django_capture_on_commit_callbacks):
    conversation = start(creator, tutor)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        say(conversation, creator, "Hi")
    assert len(callbacks) == 1 and not Notification.objects.exists()


@pytest.mark.parametrize(("text", "error"), [
    ("", "Write a message before sending."),
    ("   \r\n  ", "Write a message before sending."),
    ("x" * (MAX_BODY + 1), "The message must be at most 5,000 characters long (this is 5,001)."),
    ("Hi\x00there", "There is a character in the message that cannot be saved (U+0000, a control or broken "
                    "character): remove it and try again."),
])
def test_an_empty_or_too_long_message_gets_the_form_again_with_the_text(client, tutor, creator, text, error):
    conversation = start(creator, tutor)
    response = signed_in(client, creator).post(f"/messages/{conversation.id}/", {"body": text})
    body = response.content.decode()
    assert response.status_code == 422
    assert f'<p id="message-error" class="error" role="alert">{error}</p>' in body
    assert 'aria-invalid="true" aria-describedby="message-error"' in body
    assert f">{text}</textarea>" in body
    assert not Message.objects.exists() and not Notification.objects.exists()


def test_exactly_5000_characters_is_fine(client, tutor, creator):
    conversation = start(creator, tutor)
    response = signed_in(client, creator).post(f"/messages/{conversation.id}/", {"body": "y" * MAX_BODY})
    assert response.status_code == 303 and len(Message.objects.get().body) == MAX_BODY


def test_with_htmx_the_panel_comes_back_in_place(client, tutor, creator):
    conversation = start(creator, tutor)
    signed_in(client, creator)
    response = client.post(f"/messages/{conversation.id}/", {"body": "Via htmx"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200 and body.lstrip().startswith('<div id="chat-panel"')
    assert "Via htmx" in body and 'role="status">Message sent.' in body and "</textarea>" in body
    bad = client.post(f"/messages/{conversation.id}/", {"body": ""}, HTTP_HX_REQUEST="true")
    assert bad.status_code == 200 and "Write a message before sending." in bad.content.decode()
    assert Message.objects.count() == 1


def test_opening_the_thread_marks_the_other_sides_messages_read(client, tutor, creator):
    conversation = start(creator, tutor)
    theirs = [say(conversation, tutor, "One"), say(conversation, tutor, "Two")]
    mine = say(conversation, creator, "Mine")
    assert services.unread_total(creator) == 2 and services.unread_total(tutor) == 1
    signed_in(client, tutor)
    client.get(f"/messages/{conversation.id}/")  # Tia reads Cleo's message, her own stay unread
    assert list(Message.objects.filter(read_at__isnull=False)) == [mine]
    assert "2 unread" in signed_in(client, creator).get("/messages/").content.decode()
    client.get(f"/messages/{conversation.id}/")
    for m in theirs:
        m.refresh_from_db()
        assert m.read_at == NOW
    assert "unread</span>" not in client.get("/messages/").content.decode()
    assert services.unread_total(creator) == 0


def test_someone_elses_thread_is_404_and_nothing_changes(client, tutor, creator, outsider, coordinator):
    conversation = start(creator, tutor)
    say(conversation, tutor, "For Cleo only")
    for intruder in (outsider, coordinator):
        signed_in(client, intruder)
        assert client.get(f"/messages/{conversation.id}/").status_code == 404
        assert client.post(f"/messages/{conversation.id}/", {"body": "Sneaky"}).status_code == 404
    assert signed_in(client, outsider).get("/messages/999999/").status_code == 404
    assert list(Message.objects.values_list("body", "read_at")) == [("For Cleo only", None)]


def test_a_deactivated_person_cannot_be_answered(client, tutor, creator):
    conversation = start(creator, tutor)
    say(conversation, tutor, "Last words")
    tutor.is_active = False
    tutor.save()
    signed_in(client, creator)
    page = client.get(f"/messages/{conversation.id}/").content.decode()
    assert "Last words" in page and "Tia no longer uses the site" in page and "<textarea" not in page
    response = client.post(f"/messages/{conversation.id}/", {"body": "Hello?"})
    assert response.status_code == 422 and Message.objects.count() == 1


# --- query counts ---------------------------------------------------------------------------------

def many_conversations(user, n):
    for i in range(n):
        other = make_user(f"person{i}", Role.PARENT)
        conversation = start(user, other)
        say(conversation, other, f"Hello number {i}")
    return user


@pytest.mark.parametrize("n", [2, 50])
def test_the_inbox_runs_a_fixed_number_of_queries(client, coordinator, n, django_assert_max_num_queries):
    signed_in(client, many_conversations(coordinator, n))
    with django_assert_max_num_queries(5):  # browser session, user, conversations, people to write to, badges
        body = client.get("/messages/").content.decode()
    assert body.count('class="inbox__item') == n


@pytest.mark.parametrize("n", [2, 50])
def test_the_thread_runs_a_fixed_number_of_queries(client, tutor, creator, n, django_assert_max_num_queries):
    conversation = start(creator, tutor)
    for i in range(n):
        say(conversation, tutor if i % 2 else creator, f"Message {i}")
    signed_in(client, creator)
    with django_assert_max_num_queries(6):  # browser session, user, conversation, mark read, messages, bell
        body = client.get(f"/messages/{conversation.id}/").content.decode()
    assert body.count('class="chat__msg') == n
    with django_assert_max_num_queries(12):
        assert client.post(f"/messages/{conversation.id}/", {"body": "More"}).status_code == 303


# --- the admin ------------------------------------------------------------------------------------

def test_coordinators_read_conversations_in_the_admin_and_change_nothing(client, coordinator, tutor, creator):
    conversation = start(creator, tutor)
    message = say(conversation, tutor, "Seen by coordinators")
    signed_in(client, coordinator)
    assert client.get("/admin/messaging/conversation/").status_code == 200
    page = client.get(f"/admin/messaging/conversation/{conversation.id}/change/")
    assert page.status_code == 200 and "Seen by coordinators" in page.content.decode()
    assert client.get("/admin/messaging/message/").status_code == 200
    assert client.get(f"/admin/messaging/message/{message.id}/change/").status_code == 200
    assert client.get("/admin/messaging/message/add/").status_code == 403
    assert client.post(f"/admin/messaging/message/{message.id}/delete/", {"post": "yes"}).status_code == 403
    assert Message.objects.count() == 1


def test_staff_without_the_coordinator_role_get_nothing_in_the_admin(client, tutor, creator):
    start(creator, tutor)
    staff = make_user("stan", Role.TUTOR, is_staff=True)
    signed_in(client, staff)
    assert client.get("/admin/messaging/conversation/").status_code == 403
