"""The navigation's badges (notifications.context_processors): their one query is built through
the ORM once per process, for stand-in users, and only the user's id changes per request."""

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext

from messaging import services
from notifications import context_processors as badges
from notifications.models import Notification
from tests.conftest import make_user
from tutoring.models import Role, User


def notices(user, n):
    for i in range(n):
        Notification.objects.create(recipient=user, kind="message", title=f"T{i}", text=f"T{i}", url="/")


def test_each_user_gets_their_own_counts_from_the_planned_query(parent, tutor, creator):
    conversation, _ = services.conversation_between(tutor, parent)
    for i in range(3):
        services.send(conversation, tutor, f"Hello {i}")
    services.send(conversation, parent, "to the tutor")
    notices(parent, 2)
    notices(creator, 120)  # counted up to BADGE_LIMIT
    plan = badges._plan(dict(badges.BADGES), User)
    assert plan is not None and plan.slots, "the project's badges depend on the user's id only"
    for user, expected in ((parent, {"notifications": 2, "messages": 3}),
                           (tutor, {"notifications": 0, "messages": 1}),
                           (creator, {"notifications": 100, "messages": 0})):
        with CaptureQueriesContext(connection) as queries:
            counts = badges.badge_counts(user)
        assert counts == expected, user.username
        assert len(queries) == 1
        # the same figures as the query built through the ORM for this user
        sql, params = badges._compile(dict(badges.BADGES), user)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            assert list(cursor.fetchone()) == [expected[name] for name in badges.BADGES]


def by_name(user):
    """A badge whose query depends on more than the user's id: it has no plan."""
    return Notification.objects.filter(recipient__username=user.username, read_at__isnull=True)


def by_id_and_constant(user):
    return Notification.objects.filter(recipient=user, kind="message").exclude(title="-1")


def test_a_badge_that_reads_more_than_the_id_is_built_per_request(monkeypatch, parent, tutor):
    notices(parent, 2)
    monkeypatch.setattr(badges, "BADGES", {"notifications": by_name})
    assert badges._plan(dict(badges.BADGES), User) is None
    assert badges.badge_counts(parent) == {"notifications": 2}
    assert badges.badge_counts(tutor) == {"notifications": 0}


def test_the_plan_puts_the_id_only_where_the_user_goes(monkeypatch, parent, tutor):
    """Constant parameters (here "message" and "-1", beside the id) stay as they were."""
    notices(parent, 2)
    Notification.objects.create(recipient=parent, kind="message", title="-1", text="x", url="/")
    monkeypatch.setattr(badges, "BADGES", {"notifications": by_id_and_constant})
    plan = badges._plan(dict(badges.BADGES), User)
    assert plan is not None and len(plan.slots) == 1
    assert sorted(map(str, plan.params_for(parent.pk))) == sorted(["message", "-1", str(parent.pk)])
    assert badges.badge_counts(parent) == {"notifications": 2}
    assert badges.badge_counts(tutor) == {"notifications": 0}


@pytest.mark.parametrize("role", [Role.PARENT, Role.CREATOR])
def test_the_bell_on_a_page_counts_the_signed_in_user(db, client, role):
    user = make_user(f"badge-{role}", role)
    notices(user, 4)
    client.force_login(user)
    body = client.get("/notifications/").content.decode()
    assert '<span class="bell__count">4<span class="bell__hidden"> unread</span></span>' in body


def test_a_badge_not_declared_id_only_is_built_for_each_request(parent, creator):
    """A badge that may read more than the user's id (here: it branches on a database read, which
    the stand-in users would both answer alike) is not declared id_only: the badges' query is then
    built for each request, and each user gets their own figure."""
    def unread_if_in_a_group(user):
        if Group.objects.filter(user=user).exists():  # a read the stand-ins cannot tell apart
            return Notification.objects.filter(recipient=user)
        return Notification.objects.filter(recipient=user, pk__lt=0)

    notices(parent, 1)
    parent.groups.add(Group.objects.create(name="vip"))
    saved = dict(badges.BADGES), set(badges.ID_ONLY)
    try:
        badges.add_badge("vip", unread_if_in_a_group)
        assert "vip" not in badges.ID_ONLY
        assert badges.badge_counts(parent)["vip"] == 1
        assert badges.badge_counts(creator)["vip"] == 0
    finally:
        badges.BADGES.clear()
        badges.BADGES.update(saved[0])
        badges.ID_ONLY.clear()
        badges.ID_ONLY.update(saved[1])


def test_every_id_only_badge_plans_the_query_built_for_a_real_user(parent):
    """The badges the project declares id_only: the query built once equals, for a real user, the
    one the ORM builds for that user."""
    assert badges.ID_ONLY == set(badges.BADGES)
    plan = badges._plan(dict(badges.BADGES), User)
    sql, params = badges._compile(dict(badges.BADGES), parent)
    assert (plan.sql, plan.params_for(parent.pk)) == (sql, params)
