from datetime import timedelta

from sessions import lifecycle
from tests.conftest import NOW
from notifications.models import Notification


def test_notifications_speak_in_each_recipients_time_zone(session, tutor, parent, reasons,
                                                          django_capture_on_commit_callbacks):
    """The parent (Europe/London) reads London times, the proposal's time included."""
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.propose_reschedule(session, by=tutor, proposed_start=NOW + timedelta(days=4, hours=3),
                                     reason_id=reasons[("tutor", "reschedule")].id, now=NOW)
    text = Notification.objects.get(recipient=parent).text
    assert "Wed 18 Nov 10:00 (Europe/London)" in text and "Fri 20 Nov 13:00 (Europe/London)" in text


def test_peoples_words_with_braces_are_kept(awaiting, parent, coordinator, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.dispute(awaiting, by=parent, reason="Tutor said {nothing} at all", now=NOW)
    assert "Tutor said {nothing} at all" in Notification.objects.get(recipient=coordinator).text
