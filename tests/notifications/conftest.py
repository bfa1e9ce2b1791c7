import pytest
from django.core import mail

from notifications import dispatch, outbox, planning
from notifications.models import Delivery, Notification
from tests.fakes.resend_server import FakeResend, new_webhook_secret


@pytest.fixture
def fake_resend(settings):
    """The fake Resend API, with the project's Resend backend pointed at it."""
    with FakeResend() as server:
        settings.MAILERS = server.mailers()
        settings.DEFAULT_FROM_EMAIL = "Tutoring <no-reply@tutoring.example.com>"  # a domain Resend accepts
        yield server


@pytest.fixture
def webhook_secret(settings):
    settings.RESEND_WEBHOOK_SECRET = new_webhook_secret()
    return settings.RESEND_WEBHOOK_SECRET


@pytest.fixture
def clock(time_machine):
    """Frozen time, moved by the test: clock.at(moment) then run the sweeps."""

    class Clock:
        def at(self, moment):
            time_machine.move_to(moment, tick=False)
            return moment

    return Clock()


def sweep(now=None) -> list[int]:
    """What beat does each minute: relay the events, plan reminders and nudges, send what is due."""
    made = outbox.relay(now=now) + planning.plan(now=now)
    dispatch.dispatch(now=now)
    return made


def inbox(user) -> list[Notification]:
    return list(Notification.objects.filter(recipient=user).order_by("id"))


def emails_to(user) -> list:
    return [m for m in mail.outbox if user.email in m.to]


def deliveries(**filters) -> list[Delivery]:
    return list(Delivery.objects.filter(**filters).order_by("id"))
