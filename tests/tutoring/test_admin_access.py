"""Who gets into the coordinators' admin, and what a coordinator may not do there.

Coordinators (role + staff) and superusers use it. A staff user without the coordinator role gets
403 on every page of these apps even with Django permissions granted; nobody raises privileges
through it except a superuser.
"""


import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.urls import reverse

from sessions import lifecycle
from sessions.models import Session, SessionEvent, Status
from tests.conftest import NOW, make_user
from tutoring.models import Course, Enrollment, Guardianship, LessonPackage, Role, User

OUR_APPS = {"tutoring", "tutoring_sessions", "notifications"}


def our_changelists() -> list[str]:
    return sorted(
        reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        for model in admin.site._registry
        if model._meta.app_label in OUR_APPS
    )


@pytest.fixture
def superuser(db):
    return make_user("root", is_staff=True, is_superuser=True)


@pytest.fixture
def staff_tutor(db):
    """Stan: staff and a tutor, not a coordinator, with every Django permission of our apps."""
    stan = make_user("stan", Role.TUTOR, is_staff=True)
    stan.user_permissions.set(Permission.objects.filter(content_type__app_label__in=OUR_APPS))
    return stan


def test_every_page_of_our_apps_is_registered():
    people = ("user", "guardianship", "course", "enrollment", "match", "lessonpackage")
    sessions = ("session", "sessionevent", "reschedulethread", "recording", "sessionassessment",
                "sessionresource", "changereason", "cancellationpolicy")
    expected = {f"/admin/tutoring/{m}/" for m in people}
    expected |= {f"/admin/tutoring_sessions/{m}/" for m in sessions}
    expected |= {f"/admin/notifications/{m}/" for m in ("delivery", "suppressedaddress", "notification")}
    assert set(our_changelists()) == expected


@pytest.mark.parametrize("who", ["coordinator", "superuser"])
def test_coordinators_and_superusers_open_every_changelist(client, request, session, who):
    client.force_login(request.getfixturevalue(who))

    for url in our_changelists():
        assert client.get(url).status_code == 200, url
    assert client.get(reverse("admin:tutoring_sessions_session_change", args=[session.pk])).status_code == 200


def test_staff_without_the_coordinator_role_gets_no_page_even_with_permissions(client, staff_tutor, session):
    client.force_login(staff_tutor)

    for url in our_changelists():
        assert client.get(url).status_code == 403, url
    assert client.get(reverse("admin:tutoring_sessions_session_change", args=[session.pk])).status_code == 403
    assert client.get(reverse("admin:tutoring_user_change", args=[staff_tutor.pk])).status_code == 403
    index = client.get(reverse("admin:index"))
    assert b"tutoring_sessions/session" not in index.content and b"tutoring/user" not in index.content
    autocomplete = client.get(reverse("admin:autocomplete"), {
        "app_label": "tutoring_sessions", "model_name": "session", "field_name": "course"})
    assert autocomplete.status_code == 403


def test_staff_without_the_role_cannot_run_an_action_and_nothing_changes(client, staff_tutor, awaiting):
    """L28: only a coordinator overrides an approval."""
    client.force_login(staff_tutor)
    url = reverse("admin:tutoring_sessions_session_changelist")

    response = client.post(url, {"action": "verify_sessions", "_selected_action": [awaiting.pk],
                                 "reason": "Let me in.", "_lifecycle_apply": "go"})

    assert response.status_code == 403
    assert Session.objects.get(pk=awaiting.pk).status == Status.AWAITING_APPROVAL_PARENT
    assert not SessionEvent.objects.exists()


def test_a_superuser_can_do_what_a_coordinator_can(client, superuser, awaiting):
    """L28: a superuser runs the override like a coordinator; the lifecycle records who did it."""
    client.force_login(superuser)
    url = reverse("admin:tutoring_sessions_session_changelist")

    client.post(url, {"action": "verify_sessions", "_selected_action": [awaiting.pk],
                      "reason": "Confirmed by phone.", "_lifecycle_apply": "go"}, follow=True)

    assert Session.objects.get(pk=awaiting.pk).status == Status.APPROVED
    event = SessionEvent.objects.get(session=awaiting)
    assert (event.actor, event.channel, event.reason) == (superuser, "admin", "Confirmed by phone.")


@pytest.mark.parametrize("who", ["outsider", "non_staff_coordinator"])
def test_people_who_are_not_staff_are_sent_to_the_login_page(client, request, awaiting, who):
    user = (make_user("cora", Role.COORDINATOR) if who == "non_staff_coordinator"
            else request.getfixturevalue(who))
    client.force_login(user)
    url = reverse("admin:tutoring_sessions_session_changelist")

    assert client.get(url).url.startswith(reverse("admin:login"))
    response = client.post(url, {"action": "verify_sessions", "_selected_action": [awaiting.pk],
                                 "reason": "Let me in.", "_lifecycle_apply": "go"})
    assert response.status_code == 302 and response.url.startswith(reverse("admin:login"))
    assert Session.objects.get(pk=awaiting.pk).status == Status.AWAITING_APPROVAL_PARENT


# --- people -----------------------------------------------------------------------------------


def user_form_data(client, user) -> dict:
    form = client.get(reverse("admin:tutoring_user_change", args=[user.pk])).context["adminform"].form
    return {name: form[name].value() for name in form.fields if form[name].value() is not None}


def test_a_coordinator_edits_roles_time_zone_and_profile(client, coordinator, parent):
    client.force_login(coordinator)
    data = user_form_data(client, parent) | {
        "roles": [Role.PARENT, Role.TUTOR], "time_zone": "Asia/Tokyo", "name": "Pat Parent",
        "avatar_url": "https://img.example.test/p.png"}

    response = client.post(reverse("admin:tutoring_user_change", args=[parent.pk]), data)

    assert response.status_code == 302
    parent.refresh_from_db()
    assert (parent.roles, parent.time_zone, parent.name) == (["parent", "tutor"], "Asia/Tokyo", "Pat Parent")


def test_a_coordinator_cannot_grant_the_coordinator_role_or_staff(client, coordinator, parent):
    client.force_login(coordinator)
    data = user_form_data(client, parent) | {"roles": [Role.PARENT, Role.COORDINATOR], "is_staff": "on",
                                             "is_superuser": "on"}

    response = client.post(reverse("admin:tutoring_user_change", args=[parent.pk]), data)

    assert b"Only a superuser can grant or remove the coordinator role." in response.content
    data["roles"] = [Role.PARENT]
    assert client.post(reverse("admin:tutoring_user_change", args=[parent.pk]), data).status_code == 302
    parent.refresh_from_db()
    assert (parent.roles, parent.is_staff, parent.is_superuser) == (["parent"], False, False)


def test_a_superuser_grants_the_coordinator_role(client, superuser, parent):
    client.force_login(superuser)
    data = user_form_data(client, parent) | {"roles": [Role.PARENT, Role.COORDINATOR], "is_staff": "on"}

    assert client.post(reverse("admin:tutoring_user_change", args=[parent.pk]), data).status_code == 302
    parent.refresh_from_db()
    assert parent.is_coordinator and parent.is_staff


def test_a_coordinator_cannot_change_a_superuser_or_another_staff_account(client, coordinator, superuser,
                                                                         staff_tutor):
    client.force_login(coordinator)

    for target in (superuser, staff_tutor):
        change = reverse("admin:tutoring_user_change", args=[target.pk])
        assert client.post(change, {"username": "taken-over", "name": "x"}).status_code == 403
        password = reverse("admin:auth_user_password_change", args=[target.pk])
        new_password = {"password1": "Tr0ub4dor&3x", "password2": "Tr0ub4dor&3x"}
        assert client.post(password, new_password).status_code == 403
        target.refresh_from_db()
        assert target.username != "taken-over" and target.check_password("pw")
    delete = reverse("admin:tutoring_user_delete", args=[staff_tutor.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403


def test_users_are_searched_by_name_username_and_email(client, coordinator, parent, student):
    client.force_login(coordinator)
    url = reverse("admin:tutoring_user_changelist")

    assert list(client.get(url, {"q": "pat@example"}).context["cl"].result_list) == [parent]
    assert list(client.get(url, {"q": "Sam"}).context["cl"].result_list) == [student]
    assert list(client.get(url, {"role": Role.COORDINATOR}).context["cl"].result_list) == [coordinator]


def test_a_coordinator_links_a_parent_and_a_student(client, coordinator, parent, sibling):
    client.force_login(coordinator)
    kid = make_user("kit", Role.STUDENT)

    response = client.post(reverse("admin:tutoring_guardianship_add"),
                           {"parent": parent.pk, "student": kid.pk})

    assert response.status_code == 302
    assert Guardianship.objects.filter(parent=parent, student=kid).exists()


@pytest.mark.parametrize("value", ["x", "²", "[]", "2026-13-45", "x" * 5000, "1.5"])
def test_an_add_page_prefill_that_is_no_id_is_left_empty(client, coordinator, parent, value):
    """?student=x on an add page with autocomplete fields: the widget looked it up as an id and
    raised ValueError (a 500). Every add page of our apps opens with the field empty instead; a
    real id is still prefilled."""
    client.force_login(coordinator)
    for url in our_changelists():
        add = f"{url}add/"
        for name in ("student", "parent", "tutor", "course", "creator", "session", "user"):
            response = client.get(add, {name: value})
            assert response.status_code in (200, 403), (add, name, response.status_code)
    page = client.get(reverse("admin:tutoring_guardianship_add"), {"parent": parent.pk}).content.decode()
    assert f'<option value="{parent.pk}" selected>' in page


@pytest.mark.parametrize("value", ["x", "²", "[]", "1e5", "9" * 30])
def test_an_autocomplete_field_posted_with_no_id_is_the_forms_error(client, coordinator, parent, student, course,
                                                                  value):
    """A posted value that is no id: Django's autocomplete widget looked it up while the form with
    its errors was drawn and raised ValueError (a 500). Now the form says so and nothing is added."""
    client.force_login(coordinator)
    cases = [("admin:tutoring_guardianship_add", {"parent": value, "student": student.pk}),
             ("admin:tutoring_guardianship_add", {"parent": parent.pk, "student": value}),
             ("admin:tutoring_enrollment_add", {"student": value, "course": value}),
             ("admin:tutoring_course_add", {"title": "Algebra", "creator": value})]
    before = (Guardianship.objects.count(), Course.objects.count(), Enrollment.objects.count())
    for name, data in cases:
        response = client.post(reverse(name), data)
        assert response.status_code == 200, (name, data)
        assert "Select a valid choice" in response.content.decode(), (name, data)
    assert (Guardianship.objects.count(), Course.objects.count(), Enrollment.objects.count()) == before


# --- packages and their ledger ----------------------------------------------------------------


@pytest.fixture
def used_package(package, awaiting, coordinator):
    lifecycle.verify(awaiting, by=coordinator, reason="Confirmed.", now=NOW)
    return package


def test_a_package_shows_its_ledger_read_only_and_the_remaining_credits(client, coordinator, used_package,
                                                                         awaiting):
    client.force_login(coordinator)

    listing = client.get(reverse("admin:tutoring_lessonpackage_changelist")).context["cl"].result_list
    page = client.get(reverse("admin:tutoring_lessonpackage_change", args=[used_package.pk]))

    assert [(p.used_total, p.credits - p.used_total) for p in listing] == [(1, 9)]
    html = page.content.decode()
    assert "ledger of deductions" in html.lower()
    assert f"Session {awaiting.pk}</a>" in html
    assert 'name="deductions-0-credits"' not in html  # read-only rows
    formset = page.context["inline_admin_formsets"][0]
    assert not (formset.has_add_permission or formset.has_change_permission or formset.has_delete_permission)


def test_a_package_cannot_have_fewer_credits_than_it_used(client, coordinator, used_package):
    client.force_login(coordinator)
    page = client.get(reverse("admin:tutoring_lessonpackage_change", args=[used_package.pk]))
    form = page.context["adminform"].form
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    formset = page.context["inline_admin_formsets"][0].formset
    for bound in (formset.management_form, *formset.forms):
        data |= {bound.add_prefix(n): bound[n].value() for n in bound.fields if bound[n].value() is not None}

    refused = client.post(reverse("admin:tutoring_lessonpackage_change", args=[used_package.pk]),
                          data | {"credits": 0})
    accepted = client.post(reverse("admin:tutoring_lessonpackage_change", args=[used_package.pk]),
                           data | {"credits": 1})

    assert b"1 credits are already used" in refused.content
    assert accepted.status_code == 302
    assert LessonPackage.objects.get(pk=used_package.pk).credits == 1
    assert User.objects.filter(pk=used_package.student_id).exists()
