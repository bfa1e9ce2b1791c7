"""Issue 10 item 8: messages can be started. /messages/ offers "New message" listing exactly the
people messaging.services.can_message allows; session cards offer "Message the tutor" / "Message
the parent"; the navigation shows the unread messages beside the bell, both counted in one query."""

from datetime import timedelta
from html import unescape

import pytest

from messaging import services
from sessions.models import Session, Status
from tests.conftest import NOW, make_user
from tutoring.models import Enrollment, Guardianship, Role


@pytest.fixture(autouse=True)
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def world(parent, student, sibling, tutor, creator, course, coordinator, outsider, make_session):
    """Everyone connected some way, and some not: a second course's enrolled student, a tutor of
    a session in Cleo's course, an inactive coordinator."""
    make_session()
    other_tutor = make_user("olga", Role.TUTOR)
    make_session(tutor=other_tutor, student=sibling, course=None, start=NOW + timedelta(days=5))
    enrolled = make_user("erin", Role.STUDENT)
    Enrollment.objects.create(course=course, student=enrolled)
    erin_parent = make_user("ed", Role.PARENT)
    Guardianship.objects.create(parent=erin_parent, student=enrolled)
    make_user("gone", Role.COORDINATOR, is_active=False)
    from tutoring.models import User
    return list(User.objects.order_by("id"))


def test_new_message_lists_exactly_whom_can_message_allows(world):
    for me in world:
        listed = {u.id for u in services.people_to_message(me)}
        allowed = {u.id for u in world if services.can_message(me, u)}
        assert listed == allowed, me.username


def test_the_inbox_offers_new_message_with_those_people(client, parent, world, django_assert_max_num_queries):
    client.force_login(parent)
    with django_assert_max_num_queries(6):
        body = unescape(client.get("/messages/").content.decode())
    assert "<summary class=\"button\">New message</summary>" in body
    for person in services.people_to_message(parent):
        assert f'<a href="/messages/with/{person.id}/">{person.name}</a>' in body
    assert "Otto" not in body.split("New message")[1]  # an outsider is not offered


def test_cards_offer_to_message_the_tutor_and_the_parent(client, parent, tutor, student, session):
    client.force_login(parent)
    body = unescape(client.get(f"/sessions/{session.id}/").content.decode())
    assert f'<a class="button" href="/messages/with/{tutor.id}/">Message the tutor</a>' in body
    client.force_login(tutor)
    body = unescape(client.get(f"/sessions/{session.id}/").content.decode())
    assert f'<a class="button" href="/messages/with/{parent.id}/">Message the parent, Pat</a>' in body
    r = client.get(f"/messages/with/{parent.id}/")
    assert r.status_code == 200 and "Message to Pat" in r.content.decode()  # the compose form


def test_the_navigation_counts_unread_messages_and_notices_in_one_query(client, parent, tutor, session,
                                                                        django_assert_num_queries):
    from django.template import Context, Template
    from django.test import RequestFactory

    from notifications.context_processors import inbox
    from notifications.models import Notification

    conversation, _ = services.conversation_between(tutor, parent)
    for i in range(3):
        services.send(conversation, tutor, f"Hello {i}")
    services.send(conversation, parent, "Mine are not counted")
    Notification.objects.create(recipient=parent, kind="test", title="A notice", text="A notice", url="/")
    request = RequestFactory().get("/")
    request.user = parent
    context = inbox(request)
    with django_assert_num_queries(1):
        shown = Template("{{ unread_notifications }} {{ unread_messages }}").render(Context(context))
    assert shown == "1 3"
    client.force_login(parent)
    body = client.get("/family/").content.decode()
    assert 'Messages <span class="bell__count">3<span class="bell__hidden"> unread</span></span>' in body
