"""Issue 11 item 2: brute force. 300 wrong passwords were each a normal 200 and the right one then
worked at once; 30 reset emails went to one address in 2.7 s. Now sign-in locks an account and a
client address after 10 failures, says when it lifts, and lifts then; password reset is limited
per email address and per client address. Time moves with time-machine, nothing sleeps."""

import re
from datetime import timedelta

import pytest
from django.core import mail

from tests.conftest import NOW, make_user
from tutoring.models import Role

LOGIN = "/accounts/login/"
RESET = "/accounts/password_reset/"


@pytest.fixture
def clock(time_machine):
    time_machine.move_to(NOW, tick=False)
    return time_machine


def sign_in(client, username, password, address="203.0.113.7"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address)


LOCKED = ("Too many failed sign-in attempts for this account or from your network. Try again in 15 minutes, "
          "or reset your password to sign in now.")


def test_ten_wrong_passwords_lock_the_account_and_the_page_says_when_it_lifts(client, parent, clock):
    for _ in range(9):
        r = sign_in(client, "pat", "wrong")
        assert r.status_code == 200 and "correct username and password" in r.content.decode()
    r = sign_in(client, "pat", "wrong")  # the tenth
    assert r.status_code == 429 and LOCKED in r.content.decode()
    r = sign_in(client, "pat", "pw")  # the right password, too late
    page = r.content.decode()
    assert r.status_code == 429 and r["Retry-After"] == "901" and LOCKED in page
    assert 'role="alert"' in page and 'value="pat"' in page and "_auth_user_id" not in client.session
    clock.shift(timedelta(minutes=14))
    r = sign_in(client, "pat", "pw", address="198.51.100.1")  # another network: the account is locked
    assert r.status_code == 429 and "Try again in 1 minute" in r.content.decode()
    clock.shift(timedelta(minutes=1, seconds=1))  # 15 minutes after the last failure
    r = sign_in(client, "pat", "pw")
    assert r.status_code == 302 and r["Location"] == "/"


def test_ten_failures_from_one_address_lock_that_address_for_every_account(client, parent, clock):
    for i in range(9):
        assert sign_in(client, f"guess{i}", "wrong").status_code == 200
    assert sign_in(client, "guess9", "wrong").status_code == 429
    assert sign_in(client, "pat", "pw").status_code == 429  # this network is locked
    assert sign_in(client, "pat", "pw", address="198.51.100.1").status_code == 302  # another is not


def test_a_success_clears_the_accounts_count(client, parent, clock):
    for _ in range(9):
        sign_in(client, "pat", "wrong")
    assert sign_in(client, "pat", "pw").status_code == 302
    client.logout()
    for _ in range(9):
        assert sign_in(client, "pat", "wrong").status_code == 200
    assert sign_in(client, "pat", "pw").status_code == 302


def test_choosing_a_new_password_through_a_reset_link_lifts_the_lockout(client, parent, clock):
    for _ in range(10):
        sign_in(client, "pat", "wrong")
    assert sign_in(client, "pat", "pw").status_code == 429
    client.post(RESET, {"email": "pat@example.test"})
    link = re.search(r"https?://[^/\s]+(/accounts/reset/\S+)", mail.outbox[0].body).group(1)
    form_url = client.get(link, follow=True).redirect_chain[-1][0]
    new = "a-Long-new-passw0rd"
    assert client.post(form_url, {"new_password1": new, "new_password2": new}).status_code == 302
    assert sign_in(client, "pat", new).status_code == 302


def test_the_admin_sign_in_is_protected_too(client, coordinator, clock):
    for _ in range(10):
        client.post("/admin/login/", {"username": "coco", "password": "wrong"}, REMOTE_ADDR="203.0.113.7")
    r = client.post("/admin/login/", {"username": "coco", "password": "pw"}, REMOTE_ADDR="203.0.113.7")
    assert r.status_code == 429


def test_password_reset_is_limited_per_email_address_and_lifts_in_the_next_hour(client, parent, clock):
    for i in range(3):
        r = client.post(RESET, {"email": "pat@example.test"}, REMOTE_ADDR=f"203.0.113.{i + 1}")
        assert r.status_code == 302
    r = client.post(RESET, {"email": "PAT@example.test"}, REMOTE_ADDR="203.0.113.9")
    assert r.status_code == 429 and r["Retry-After"] == "3600"  # the hour from 10:00 to 11:00
    assert "Too many password reset requests: try again in 60 minutes." in r.content.decode()
    assert len(mail.outbox) == 3
    clock.shift(timedelta(hours=1))
    assert client.post(RESET, {"email": "pat@example.test"}).status_code == 302
    assert len(mail.outbox) == 4


def test_password_reset_is_limited_per_client_address(client, db, clock):
    for i in range(10):
        make_user(f"user{i}", Role.PARENT)
        assert client.post(RESET, {"email": f"user{i}@example.test"}, REMOTE_ADDR="203.0.113.7").status_code == 302
    r = client.post(RESET, {"email": "someone@example.test"}, REMOTE_ADDR="203.0.113.7")
    assert r.status_code == 429 and "Too many password reset requests" in r.content.decode()
    assert client.post(RESET, {"email": "someone@example.test"}, REMOTE_ADDR="198.51.100.1").status_code == 302
    assert len(mail.outbox) == 10
