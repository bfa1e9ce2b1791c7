"""The session row and the signed-in user are read by queries built once per process
(tutoring/prepared.py, tutoring/session_store.py, tutoring.models.UserManager.get): the same rows
as the ORM's get(), the same number of queries, and signing out or changing the password still
ends a session at once."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tutoring.models import User
from tutoring.prepared import Get, plan
from tutoring.session_store import SessionStore, live_session

NEW = {"old_password": "pw", "new_password1": "a-Long-new-passw0rd", "new_password2": "a-Long-new-passw0rd"}


def fields(user):
    return {f.attname: getattr(user, f.attname) for f in User._meta.concrete_fields}


def test_the_prepared_user_is_the_orms(parent):
    parent.roles = ["parent", "tutor"]
    parent.last_login = timezone.now()
    parent.save()
    with CaptureQueriesContext(connection) as queries:
        prepared = User.objects.get(pk=parent.pk)
    assert len(queries) == 1 and queries[0]["sql"].startswith('SELECT "tutoring_user"."id"')
    orm = User.objects.filter(pk=parent.pk).get()
    assert fields(prepared) == fields(orm)
    assert prepared._state.adding is False and prepared._state.db == "default"
    with pytest.raises(User.DoesNotExist):
        User.objects.get(pk=parent.pk + 1000)


def test_a_related_managers_get_stays_the_orms(parent, tutor):
    """group.user_set.get(pk=...) is filtered by the group: the prepared get must not answer it."""
    group = Group.objects.create(name="staff")
    group.user_set.add(tutor)
    assert group.user_set.get(pk=tutor.pk) == tutor
    with pytest.raises(User.DoesNotExist):
        group.user_set.get(pk=parent.pk)


def test_a_query_whose_shape_follows_its_arguments_is_not_prepared(parent):
    def build(pk):
        return User.objects.filter(pk=pk) if pk > -2 else User.objects.filter(pk=pk, is_active=True)

    get = Get(build, (-1,), (-2,))
    assert get(parent.pk) == parent  # built by the ORM each time
    assert get._prepared == {"default": None}


def test_a_plan_puts_each_argument_where_it_goes():
    def compile_with(a, b):
        return User.objects.filter(username=a, email=b, name="x").query.sql_with_params()

    found = plan(compile_with, ("one", "two"), ("three", "four"))
    assert found is not None and sorted(found.slots.values()) == [0, 1]
    assert sorted(found.params_for("u", "e")) == ["e", "u", "x"]
    # an argument the query does not use, or an argument the ORM changes: no plan
    assert plan(lambda a, b: compile_with(a, "same"), ("one", "two"), ("three", "four")) is None
    assert plan(lambda a: User.objects.filter(username=a + "!").query.sql_with_params(), ("a",), ("b",)) is None


def test_a_parameter_taken_from_the_time_zone_gets_no_plan(parent):
    """A __date lookup's parameter is the active zone's name: frozen into a plan, a viewer in
    another zone would run the first viewer's query. Such a query is built by the ORM each time."""
    def build(day):
        return User.objects.filter(date_joined__date=day)

    get = Get(build, (timezone.datetime(2001, 1, 1).date(),), (timezone.datetime(2002, 2, 2).date(),))
    with timezone.override("Asia/Tokyo"):
        assert get._prepare("default") is None


def test_a_migrations_historical_user_is_read_by_the_orm(parent):
    """The manager is used in migrations: there, objects.get(pk=<int>) answers with the historical
    model (a prepared get would hand back today's User, which the historical foreign keys refuse)."""
    from django.db.migrations.executor import MigrationExecutor

    state = MigrationExecutor(connection).loader.project_state(("tutoring", "0006_user_manager_prepares_get_by_id"))
    historical = state.apps.get_model("tutoring", "User")
    found = historical.objects.get(pk=parent.pk)
    assert type(found) is historical and type(found) is not User
    with pytest.raises(historical.DoesNotExist):
        historical.objects.get(pk=parent.pk + 1000)


@pytest.mark.django_db(transaction=True)
def test_the_converters_get_the_calling_threads_connection(parent):
    """A prepared query whose columns have converters hands them the connection of the thread
    that runs it, not of the thread that prepared it."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connections

    seen = []

    def build(pk):
        return User.objects.filter(pk=pk).annotate()

    get = Get(build, (-1,), (-2,))
    prepared = get._prepare("default")
    assert prepared is not None
    found, model, columns, converters, fetch_mode = prepared
    position = columns.index("roles")
    converters = {**converters, position: ([lambda value, expression, conn: seen.append(conn) or value],
                                           None)}
    get._prepared["default"] = (found, model, columns, converters, fetch_mode)

    def in_another_thread():
        try:
            assert get(parent.pk) == parent
            return connections["default"]
        finally:
            connections.close_all()

    with ThreadPoolExecutor(1) as pool:
        theirs = pool.submit(in_another_thread).result()
    assert seen == [theirs] and theirs is not connection


def test_the_session_row_is_read_once_and_an_expired_one_not_at_all(client, parent):
    client.force_login(parent)
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert live_session(key, timezone.now()).session_key == key
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/healthz").status_code == 200
    assert [q["sql"].split(" FROM ")[1].split()[0] for q in queries] == ['"django_session"', '"tutoring_user"']
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() - timedelta(seconds=1))
    assert SessionStore(key).load() == {}
    assert client.get("/notifications/").status_code == 302  # signed out


def test_signing_out_ends_the_session_for_its_cookie(client, parent):
    client.force_login(parent)
    stolen = Client()
    stolen.cookies[settings.SESSION_COOKIE_NAME] = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert stolen.get("/notifications/").status_code == 200
    client.post("/accounts/logout/")
    assert stolen.get("/notifications/").status_code == 302


def test_changing_the_password_ends_the_other_sessions(client, parent):
    client.force_login(parent)
    elsewhere = Client()
    elsewhere.force_login(parent)
    assert elsewhere.get("/notifications/").status_code == 200
    assert client.post("/accounts/password_change/", NEW).status_code == 302
    assert client.get("/notifications/").status_code == 200  # this one is kept (a new hash)
    assert elsewhere.get("/notifications/").status_code == 302
