import re

from django.core import mail

NEW = {"new_password1": "a-Long-new-passw0rd", "new_password2": "a-Long-new-passw0rd"}


def reset_link(message) -> str:
    return re.search(r"https?://[^/\s]+(/accounts/reset/\S+)", message.body).group(1)


def test_sign_in_keeps_the_username_and_announces_the_error(client, parent):
    r = client.post("/accounts/login/", {"username": "pat", "password": "wrong"})
    page = r.content.decode()
    assert r.status_code == 200
    assert 'role="alert"' in page and "correct username and password" in page
    assert 'value="pat"' in page
    assert '<label for="id_username">' in page and '<label for="id_password">' in page


def test_sign_in_lands_on_home(client, parent):
    r = client.post("/accounts/login/", {"username": "pat", "password": "pw"})
    assert r.status_code == 302 and r["Location"] == "/"


def test_sign_out_is_post_only_and_returns_to_sign_in(client, parent):
    client.force_login(parent)
    assert client.get("/accounts/logout/").status_code == 405
    r = client.post("/accounts/logout/", follow=True)
    assert r.redirect_chain[-1][0] == "/accounts/login/"
    assert b"You have signed out." in r.content
    assert "_auth_user_id" not in client.session


def test_password_reset_sends_one_email_with_a_working_link(client, parent):
    r = client.post("/accounts/password_reset/", {"email": "pat@example.test"})
    assert r.status_code == 302 and r["Location"] == "/accounts/password_reset/done/"
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["pat@example.test"] and message.subject == "Reset your Tutoring password"

    r = client.get(reset_link(message), follow=True)
    assert r.status_code == 200 and b"Choose a new password" in r.content
    form_url = r.redirect_chain[-1][0]
    r = client.post(form_url, NEW)
    assert r.status_code == 302 and r["Location"] == "/accounts/reset/done/"
    parent.refresh_from_db()
    assert parent.check_password("a-Long-new-passw0rd")


def test_password_reset_for_an_unknown_address_sends_nothing_and_says_the_same(client, parent):
    r = client.post("/accounts/password_reset/", {"email": "nobody@example.test"})
    assert r["Location"] == "/accounts/password_reset/done/" and mail.outbox == []


def test_a_used_reset_link_is_refused(client, parent):
    client.post("/accounts/password_reset/", {"email": "pat@example.test"})
    link = reset_link(mail.outbox[0])
    r = client.get(link, follow=True)
    client.post(r.redirect_chain[-1][0], NEW)
    r = client.get(link, follow=True)
    assert b"This link no longer works" in r.content


def test_password_change_works(client, parent):
    client.force_login(parent)
    r = client.post("/accounts/password_change/", {"old_password": "pw", **NEW})
    assert r.status_code == 302 and r["Location"] == "/accounts/password_change/done/"
    parent.refresh_from_db()
    assert parent.check_password("a-Long-new-passw0rd")
    assert client.get("/accounts/password_change/done/").status_code == 200  # still signed in


def test_password_change_announces_errors_and_changes_nothing(client, parent):
    client.force_login(parent)
    r = client.post("/accounts/password_change/", {"old_password": "nope", "new_password1": "short",
                                                    "new_password2": "other"})
    page = r.content.decode()
    assert r.status_code == 200 and page.count('role="alert"') >= 2
    assert 'aria-invalid="true"' in page and 'aria-describedby="id_old_password_error"' in page
    parent.refresh_from_db()
    assert parent.check_password("pw")


def test_password_pages_need_sign_in(client, db):
    assert client.get("/accounts/password_change/")["Location"].startswith("/accounts/login/")

