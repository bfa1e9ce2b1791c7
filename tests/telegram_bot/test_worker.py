"""The webhook answers at once and a real Celery worker on the real broker does the work."""

import pytest

from sessions.models import SessionEvent, Status
from tests.telegram_bot.conftest import CHAT, press
from tests.telegram_bot.test_delivery import post

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


def test_a_check_in_through_the_webhook_is_done_by_the_worker(worker, client, linked, make_session, tg, frozen):
    """L14: Telegram's button press reaches the webhook; the worker checks the session in."""
    from datetime import timedelta

    from tests.conftest import NOW

    session = make_session(start=NOW + timedelta(minutes=10))
    response = post(client, press(f"a:ci:{session.id}", chat_id=CHAT))
    assert response.status_code == 200
    [edit] = tg.wait_for("editMessageText")
    assert edit["text"].startswith("Checked in.")
    session.refresh_from_db()
    assert session.status == Status.CHECKED_IN
    assert SessionEvent.objects.get(session=session, kind="check_in").channel == "telegram"
