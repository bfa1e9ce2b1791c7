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


def test_a_dispute_longer_than_a_notification_still_notifies(awaiting, parent, coordinator,
                                                              django_capture_on_commit_callbacks):
    """Issue 11.6: a 2,000-character reason overflowed the 500-character notification (the task
    failed on every retry: the coordinators never heard of the dispute). Now the text holds the
    reason whole (issue 14)."""
    reason = "The tutor arrived late and " + "then left early again " * 90
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.dispute(awaiting, by=parent, reason=reason[:2000], now=NOW)
    text = Notification.objects.get(recipient=coordinator).text
    assert "disputed the session of Sam with Tia" in text and reason[:2000].strip() in text


def test_a_cancel_note_longer_than_a_notification_still_notifies(session, parent, tutor, reasons,
                                                                  django_capture_on_commit_callbacks):
    note = "We are moving house this week and " + "cannot make it at all " * 90
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.cancel(session, by=tutor, reason_id=reasons[("tutor", "cancel", "other")].id, note=note[:2000],
                         now=NOW)
    text = Notification.objects.get(recipient=parent).text
    assert "cancelled" in text and note[:2000].strip() in text
