"""The bell, the inbox, notification settings and the development outbox page."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail

from notifications.models import KeptEmail, Notification, Preference, SuppressedAddress
from sessions import lifecycle
from tests.conftest import NOW

from .conftest import sweep


@pytest.fixture(autouse=True)
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


def note(user, n=1, **fields):
    made = [Notification.objects.create(recipient=user, kind="message", title=f"Title {i}", text=f"Text {i}",
                                        url="/messages/", **fields) for i in range(n)]
    return made[0] if n == 1 else made


def test_the_bell_shows_the_unread_count_on_every_page(client, parent):
    client.force_login(parent)
    body = client.get("/family/").content.decode()
    assert '<span class="bell__text">Notifications</span></a>' in body and "bell__count" not in body
    note(parent, 3)
    body = client.get("/family/").content.decode()
    assert '<span class="bell__count">3<span class="bell__hidden"> unread</span></span>' in body
    note(parent, 120)
    body = client.get("/messages/").content.decode()
    assert '<span class="bell__count">99+<span class="bell__hidden"> unread</span></span>' in body


def test_the_inbox_lists_newest_first_in_the_readers_zone_with_a_fixed_number_of_queries(
        client, parent, django_assert_max_num_queries):
    client.force_login(parent)
    for n in (2, 40):
        Notification.objects.all().delete()
        note(parent, n)
        with django_assert_max_num_queries(4):  # browser session, user, the page, the bell
            body = client.get("/notifications/").content.decode()
        assert body.count('class="notice ') == min(n, 30)
    titles = re.findall(r'class="notice__title">(?:<span[^>]*>Unread: </span>)?(.*?)</button>', body)
    assert titles[0] == "Title 39" and titles[-1] == "Title 10"
    assert "Times are in your time zone, Europe/London." in body and "10:00" in body  # NOW is 10:00 in London too
    older = re.search(r'href="/notifications/\?before=(\d+)"', body).group(1)
    rest = client.get(f"/notifications/?before={older}").content.decode()
    assert rest.count('class="notice ') == 10 and "Title 0" in rest and "Older notifications" not in rest


def test_opening_a_notification_marks_it_read_and_goes_to_its_page(client, parent):
    n = note(parent)
    client.force_login(parent)
    response = client.post(f"/notifications/{n.id}/open/")
    assert response.status_code == 303 and response["Location"] == "/messages/"
    n.refresh_from_db()
    assert n.read_at == NOW


def test_mark_read_and_mark_all_read(client, parent):
    first, second, third = note(parent, 3)
    client.force_login(parent)
    assert client.post(f"/notifications/{first.id}/read/").status_code == 303
    assert Notification.objects.filter(read_at__isnull=True).count() == 2
    response = client.post("/notifications/read/", follow=True)
    assert "Marked 2 notifications as read." in response.content.decode()
    assert not Notification.objects.filter(read_at__isnull=True).exists()


def test_another_persons_notification_is_a_404_and_stays_unread(client, parent, outsider):
    n = note(parent)
    client.force_login(outsider)
    for path in (f"/notifications/{n.id}/open/", f"/notifications/{n.id}/read/", "/notifications/99999/open/"):
        assert client.post(path).status_code == 404
    client.post("/notifications/read/")
    n.refresh_from_db()
    assert n.read_at is None
    assert "Title 0" not in client.get("/notifications/").content.decode()


def test_actions_need_post_and_pages_need_a_sign_in(client, parent):
    n = note(parent)
    assert client.get("/notifications/")["Location"].startswith("/accounts/login/")
    assert client.post(f"/notifications/{n.id}/open/")["Location"].startswith("/accounts/login/")
    client.force_login(parent)
    assert client.get(f"/notifications/{n.id}/open/").status_code == 405
    assert client.get("/notifications/read/").status_code == 405


@pytest.mark.parametrize("before", ["abc", "-1", "9" * 40, "²", "١٢", "0", "9223372036854775808"])
def test_a_bad_page_marker_is_a_404_not_a_500(client, parent, before):
    """"²" is a digit to str.isdigit and not to int(): it was a 500."""
    client.force_login(parent)
    assert client.get("/notifications/", {"before": before}).status_code == 404


@pytest.mark.parametrize("before", ["²", "9" * 40, "\x00"])
def test_mark_all_read_with_a_bad_page_marker_goes_to_the_first_page(client, parent, before):
    note(parent)
    client.force_login(parent)
    response = client.post("/notifications/read/", {"before": before})
    assert response.status_code == 303 and response["Location"] == "/notifications/"
    assert not Notification.objects.filter(recipient=parent, read_at__isnull=True).exists()


def test_only_local_paths_are_followed(client, parent):
    n = Notification.objects.create(recipient=parent, kind="x", title="t", text="t", url="//evil.example/")
    client.force_login(parent)
    assert client.post(f"/notifications/{n.id}/open/")["Location"] == "/notifications/"


def test_preferences_switch_topics_per_channel_and_are_honoured(client, parent, awaiting, tutor):
    client.force_login(parent)
    page = client.get("/notifications/preferences/").content.decode()
    assert "Session reminders (24 hours, 1 hour and 15 minutes before)" in page
    assert 'value="account:in_app" checked disabled' in page  # account notices always reach the inbox
    assert "Email goes to <strong>pat@example.test</strong>" in page
    on = [v for v in re.findall(r'name="on" value="([^"]+)"', page) if v != "approvals:email"]
    response = client.post("/notifications/preferences/", {"on": on})
    assert response.status_code == 303
    assert list(Preference.objects.filter(enabled=False).values_list("topic", "channel")) == [("approvals", "email")]
    lifecycle.log_adhoc_sessions(by=tutor, now=NOW, rows=[{"student_id": awaiting.student_id,
                                                          "start": NOW - timedelta(hours=5),
                                                          "end": NOW - timedelta(hours=4)}])
    lifecycle.check_out  # noqa: B018 - (check-out is an approvals notice, below)
    from sessions.models import SessionEvent

    SessionEvent.objects.create(session=awaiting, actor=tutor, channel="web", kind="check_out",
                                from_status="checked_in", to_status="awaiting_approval_parent", created_at=NOW)
    sweep(NOW)
    kinds = set(Notification.objects.filter(recipient=parent).values_list("kind", flat=True))
    assert kinds == {"adhoc_logged", "check_out"}
    assert [m.subject for m in mail.outbox] == ["Tia logged an extra session with Sam"]  # no approvals email


def test_an_account_whose_email_bounced_can_turn_it_back_on(client, parent):
    SuppressedAddress.objects.create(email="pat@example.test", reason="bounce", created_at=NOW)
    client.force_login(parent)
    page = client.get("/notifications/preferences/").content.decode()
    assert "Email to <strong>pat@example.test</strong> is stopped since 10:00: bounced." in page
    client.post("/notifications/preferences/", {"action": "resume_email"})
    assert not SuppressedAddress.objects.exists()


def test_the_preferences_form_cannot_switch_off_the_account_notices(client, parent):
    client.force_login(parent)
    client.post("/notifications/preferences/", {"on": []})
    assert not Preference.objects.filter(topic="account").exists()
    assert Preference.objects.filter(enabled=False).count() > 5


def test_each_topic_shows_only_to_the_roles_that_can_receive_it(client, parent, tutor, student, coordinator):
    """Operations alerts go to coordinators, tutor notes to parents: nobody else is offered them,
    and saving the form leaves the topics they are not shown alone."""
    seen = {}
    for user in (parent, tutor, student, coordinator):
        client.force_login(user)
        page = client.get("/notifications/preferences/").content.decode()
        seen[user.username] = {t for t in ("operations", "notes", "sessions", "changes")
                               if f'value="{t}:in_app"' in page}
        client.post("/notifications/preferences/", {"on": []})
    assert seen[parent.username] == {"notes", "sessions", "changes"}
    assert seen[tutor.username] == seen[student.username] == {"sessions", "changes"}
    assert seen[coordinator.username] == {"operations", "changes"}
    assert not Preference.objects.filter(topic="operations").exclude(user=coordinator).exists()
    assert not Preference.objects.filter(topic="notes").exclude(user=parent).exists()


# --- the development outbox -------------------------------------------------------------------


@pytest.fixture
def kept(settings):
    settings.MAILERS = {"default": {"BACKEND": "notifications.backends.KeepLocallyBackend"}}


def test_mail_is_kept_locally_without_a_resend_key_and_shown_on_the_outbox_page(client, kept, make_session,
                                                                               tutor, parent):
    make_session(start=NOW + timedelta(hours=1))
    sweep(NOW)
    assert KeptEmail.objects.count() == 3
    email = KeptEmail.objects.get(to=[tutor.email])
    assert email.subject == "Reminder: your session with Sam starts in 1 hour"
    assert email.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "Open the session room" in email.html and "Open the session room:" in email.text
    page = client.get("/dev/outbox/").content.decode()  # no sign-in: a development tool
    assert page.count('class="card"') == 3
    mine = client.get(f"/dev/outbox/?to={parent.email}").content.decode()
    assert mine.count('class="card"') == 1 and "Reminder: Sam&#x27;s session starts in 1 hour" in mine
    detail = client.get(f"/dev/outbox/{email.id}/").content.decode()
    assert "One-click unsubscribe" in detail and "/notifications/unsubscribe/" in detail
    html = client.get(f"/dev/outbox/{email.id}/html/")
    assert html["Content-Security-Policy"].startswith("sandbox") and b"Open the session room" in html.content


@pytest.mark.parametrize("to", ["\x00", "a\x00b@example.test", "x" * 300])
def test_the_outbox_filter_refuses_what_cannot_be_an_address(client, kept, db, to):
    """A NUL in ?to= reached PostgreSQL (a 500): now it is a 400 that says why (for a NUL the
    shared query check's page, tutoring.middleware; for an overlong one the outbox with everyone's
    mail)."""
    KeptEmail.objects.create(to=["a@example.test"], from_email="x@example.test", subject="s", text="t")
    response = client.get("/dev/outbox/", {"to": to})
    assert response.status_code == 400
    page = response.content.decode()
    assert 'role="alert"' in page
    if "\x00" in to:
        assert "The address has a character that cannot be read in “to” (U+0000" in page
    else:
        assert "The address must be at most 254 characters long" in page and page.count('class="card"') == 1


def test_the_outbox_shows_times_in_the_viewers_zone(client, kept, parent):
    """Every request runs in the viewer's zone: the kept time is labelled with it (it said UTC)."""
    parent.time_zone = "Asia/Tokyo"
    parent.save(update_fields=["time_zone"])
    email = KeptEmail.objects.create(to=["a@example.test"], from_email="x@example.test", subject="s", text="t")
    KeptEmail.objects.filter(pk=email.pk).update(created_at=datetime(2026, 3, 2, 23, 30, tzinfo=UTC))
    client.force_login(parent)
    assert "Tue 03 Mar 08:30 JST" in client.get("/dev/outbox/").content.decode()
    assert "Tue 03 Mar 2026 08:30 JST" in client.get(f"/dev/outbox/{email.id}/").content.decode()


def test_the_outbox_page_is_a_404_in_production(client, kept, settings, db):
    settings.DEV_OUTBOX = False
    email = KeptEmail.objects.create(to=["a@example.test"], from_email="x@example.test", subject="s", text="t")
    for path in ("/dev/outbox/", f"/dev/outbox/{email.id}/", f"/dev/outbox/{email.id}/html/"):
        assert client.get(path).status_code == 404


def test_the_sign_in_page_links_the_outbox_in_development_only(client, settings):
    assert 'href="/dev/outbox/"' in client.get("/accounts/login/").content.decode()
    settings.DEV_OUTBOX = False
    assert "/dev/outbox/" not in client.get("/accounts/login/").content.decode()
