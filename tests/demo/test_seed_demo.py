"""manage.py seed_demo: the demo world, its logins, --if-empty and the production refusal (the
benchmarks' bulk data: tests/bench/test_seed.py)."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from sessions import lifecycle
from demo.management.commands.seed_demo import LOGINS
from sessions.models import (
    CancellationPolicy,
    ChangeReason,
    RescheduleThread,
    Session,
    SessionEvent,
    Status,
    ThreadStatus,
)
from tutoring.models import Guardianship, LessonPackage, Match, Role, User


def seed(**options) -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out, **options)
    return out.getvalue()


def world_size() -> tuple:
    return (User.objects.count(), Session.objects.count(), SessionEvent.objects.count(),
            ChangeReason.objects.count(), CancellationPolicy.objects.count())


@pytest.fixture(scope="class")
def demo_world(django_db_setup, django_db_blocker):
    """The replay through the lifecycle takes seconds, so it runs once per class, inside a
    transaction rolled back after the class; each test's own transaction is a savepoint on top."""
    with django_db_blocker.unblock(), transaction.atomic():
        seed()
        yield
        transaction.set_rollback(True)


@pytest.fixture
def demo(demo_world, db):
    pass


class TestDemoWorld:
    """One seeded demo world, shared by the tests of this class."""

    def test_demo_world_has_every_status(self, demo):
        statuses = set(Session.objects.values_list("status", flat=True))
        assert statuses == set(Status.values)
        assert Session.objects.filter(is_trial=True).count() >= 2
        assert Session.objects.filter(billed_as_addon=True).count() >= 2
        assert RescheduleThread.objects.filter(status=ThreadStatus.OPEN).exists()

    def test_every_demo_status_change_is_in_the_audit_trail(self, demo):
        for session in Session.objects.exclude(status=Status.SCHEDULED):
            last = session.events.order_by("id").last()
            assert last.to_status == session.status, session
        first_kinds = {s.events.order_by("id").first().kind for s in Session.objects.all()}
        assert first_kinds == {"created", "adhoc_logged"}

    def test_demo_history_is_in_the_past(self, demo):
        now = timezone.now()
        assert not SessionEvent.objects.filter(created_at__gt=now).exists()
        assert not Session.objects.filter(created_at__gt=now).exists()
        # three weeks either side
        assert Session.objects.filter(scheduled_start__lt=now - timedelta(days=14)).exists()
        assert Session.objects.filter(scheduled_start__gt=now + timedelta(days=14)).exists()

    def test_pickers_and_penalty_sheet(self, demo):
        for role in ("parent", "tutor"):
            for kind in ("cancel", "reschedule"):
                reasons = ChangeReason.objects.filter(role=role, kind=kind)
                assert 4 <= reasons.count() <= 5
                assert list(reasons.filter(requires_note=True).values_list("label", flat=True)) == ["Other"]
        sheet = {(p.role, p.min_hours_before, p.max_hours_before): p.penalty
                 for p in CancellationPolicy.objects.all()}
        parent = {band[1:]: penalty for band, penalty in sheet.items() if band[0] == "parent"}
        assert parent == {(48, None): "No charge", (24, 48): "50% of the lesson", (4, 24): "Full lesson"}
        assert sheet[("tutor", 0, 48)] == "Reliability strike"

    def test_the_five_logins_work(self, demo, client):
        for username in LOGINS:  # through the sign-in form (django-axes wants the request)
            response = client.post("/accounts/login/", {"username": username, "password": "demo"})
            assert response.status_code == 302, username
            client.logout()

    def test_the_logins_are_related_as_promised(self, demo):
        users = {u.username: u for u in User.objects.filter(username__in=LOGINS)}
        parent, tutor, student = users["demo-parent"], users["demo-tutor"], users["demo-student"]
        assert Guardianship.objects.filter(parent=parent, student=student).exists()
        assert Match.objects.filter(tutor=tutor, student=student).exists()
        lessons = Session.objects.filter(tutor=tutor, student=student)
        assert set(lessons.values_list("course__creator__username", flat=True)) == {"demo-creator"}
        coordinator = users["demo-coordinator"]
        assert coordinator.is_staff and coordinator.roles == [Role.COORDINATOR]
        for user in User.objects.all():
            assert user.name and user.email and user.roles and user.time_zone
        assert len({u.time_zone for u in User.objects.all()}) >= 4
        assert LessonPackage.objects.filter(student=student).exists()
        assert Guardianship.objects.values("parent").distinct().count() >= 2

    def test_if_empty_is_a_no_op_the_second_time(self, demo):
        before = world_size()
        out = seed(if_empty=True)
        assert "nothing to do" in out
        assert world_size() == before

    def test_a_second_plain_run_fails_cleanly(self, demo):
        before = world_size()
        with pytest.raises(CommandError, match="already exists"):
            seed()
        assert world_size() == before


@override_settings(PRODUCTION=True)
def test_refuses_in_production(db):
    with pytest.raises(CommandError, match="production"):
        seed()
    with pytest.raises(CommandError, match="production"):
        seed(if_empty=True)
    assert not User.objects.exists()


def test_the_replayed_history_notifies_nobody(db, django_capture_on_commit_callbacks):
    """Weeks-old demo changes must not reach anyone's inbox on the first `make run`."""
    with django_capture_on_commit_callbacks() as callbacks:
        seed()
    # what runs after the commits is the summaries of the tutors' notes, never a notification
    assert callbacks and {c.__qualname__ for c in callbacks} == {"request_summary.<locals>.<lambda>"}
    first = Session.objects.order_by("scheduled_start").first()
    assert first.created_at == first.events.order_by("id").first().created_at  # the injected time, kept
