"""Issue 17 item 4: the audit views per session and per person (every event with who and why, in the
viewer's zone, a page at a time, in a fixed number of queries), the penalty waiver from the session's
audit page, and the penalty sheet and reason lists edited by coordinators with their history kept;
the guidance people see comes from the sheet as it is now."""

import re
from datetime import UTC, timedelta
from html import unescape

import pytest
from django.utils import formats, timezone

from desk.audit import PAGE_SIZE
from desk.models import PolicyChange
from sessions import lifecycle
from sessions.admin import APPLY
from sessions.models import CancellationPolicy, ChangeReason, SessionEvent, Status
from tests.conftest import NOW, make_user
from tutoring.models import Role

H = timedelta(hours=1)


@pytest.fixture(autouse=True)
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


def audit_url(session) -> str:
    return f"/admin/desk/dispute/audit/session/{session.pk}/"


def person_url(person) -> str:
    return f"/admin/desk/dispute/audit/person/{person.pk}/"


def shown_time(moment, zone) -> str:
    with timezone.override(zone):
        return formats.localize(timezone.localtime(moment))


def test_the_session_audit_shows_the_verify_override_with_its_coordinator_and_reason(client, coordinator, awaiting,
                                                                                      package):
    """Issue 17 item 4 (L28): the admin's verify asks for a reason and records the coordinator as actor."""
    coordinator.time_zone = "Asia/Tokyo"
    coordinator.save()
    client.force_login(coordinator)
    changelist = "/admin/tutoring_sessions/session/"
    asked = client.post(changelist, {"action": "verify_sessions", "_selected_action": [awaiting.pk], "index": 0})
    assert "Reason for the override" in asked.content.decode()
    missing = client.post(changelist, {"action": "verify_sessions", "_selected_action": [awaiting.pk],
                                       APPLY: "go", "reason": " "})
    assert "Please give a reason for the override." in missing.content.decode()
    assert not SessionEvent.objects.filter(kind="verify").exists()
    client.post(changelist, {"action": "verify_sessions", "_selected_action": [awaiting.pk], APPLY: "go",
                             "reason": "Parent confirmed by phone."})
    event = SessionEvent.objects.get(kind="verify")
    assert (event.actor, event.reason, event.channel) == (coordinator, "Parent confirmed by phone.", "admin")
    body = client.get(audit_url(awaiting)).content.decode()
    row = body[body.index('data-kind="verify"'):]
    row = row[:row.index("</tr>")]
    assert "Parent confirmed by phone." in row and f'href="{person_url(coordinator)}">Coco</a>' in row
    # in the viewer's zone (Tokyo, 19:00), not the server's (UTC, 10:00)
    assert shown_time(NOW, coordinator.tzinfo) in row and shown_time(NOW, UTC) not in row


def test_the_person_audit_lists_what_they_did_and_what_concerns_them(client, coordinator, parent, tutor, outsider,
                                                                    awaiting, make_session):
    """Issue 17 item 4: the parent's own dispute, and events on their child's sessions; never others'."""
    lifecycle.dispute(awaiting, by=parent, reason="The tutor did not explain the homework.", now=NOW - H)
    lifecycle.resolve_dispute(awaiting, by=coordinator, decision="approve", reason="Notes are thorough.", now=NOW)
    other_tutor = make_user("theo", Role.TUTOR)
    other_student = make_user("olga", Role.STUDENT)
    theirs = make_session(start=NOW - 3 * H, tutor=other_tutor, student=other_student, course=None,
                          status=Status.SCHEDULED)
    lifecycle.mark_no_show(theirs, by=coordinator, party="student", reason="Nobody came.", now=NOW)
    client.force_login(coordinator)
    body = client.get(person_url(parent)).content.decode()
    assert "The tutor did not explain the homework." in body and "Notes are thorough." in body
    assert "Nobody came." not in body
    tutor_page = client.get(person_url(tutor)).content.decode()
    assert "Notes are thorough." in tutor_page and "Nobody came." not in tutor_page
    own = client.get(person_url(coordinator)).content.decode()
    assert "Notes are thorough." in own and "Nobody came." in own
    assert "Notes are thorough." not in client.get(person_url(outsider)).content.decode()


def test_the_person_audit_names_their_roles_by_label_not_code(client, coordinator, outsider):
    """The person audit lists a person's roles as the Role choices label them, never the stored codes."""
    outsider.roles = [Role.PARENT, Role.TUTOR, Role.CREATOR]
    outsider.save(update_fields=["roles"])
    client.force_login(coordinator)
    body = unescape(client.get(person_url(outsider)).content.decode())
    intro = body[body.index("Every session event"):]
    intro = intro[:intro.index("</p>")]
    labels = ", ".join(Role(code).label for code in outsider.roles)
    assert labels == "Parent, Tutor, Creator"
    assert f"({labels})" in intro
    assert "parent" not in intro and "tutor" not in intro and "creator" not in intro


def test_the_person_audit_pages_in_a_fixed_number_of_queries(client, coordinator, tutor, awaiting,
                                                            django_assert_max_num_queries):
    client.force_login(coordinator)
    counts = []
    for n in (5, PAGE_SIZE * 2 + 20):
        SessionEvent.objects.bulk_create(
            SessionEvent(session=awaiting, actor=tutor, channel="web", kind="room_joined", data={"role": "tutor"},
                         created_at=NOW - timedelta(minutes=i)) for i in range(n - SessionEvent.objects.count()))
        with django_assert_max_num_queries(10) as ctx:
            body = client.get(person_url(tutor)).content.decode()
        counts.append(len(ctx.captured_queries))
        assert body.count('data-kind="room_joined"') == min(n, PAGE_SIZE)
    assert counts[0] == counts[1]
    last = client.get(person_url(tutor) + "?page=3").content.decode()
    assert last.count('data-kind="room_joined"') == 20 and "Page 3 of 3" in last
    assert client.get(person_url(tutor) + "?page=abc").status_code == 200  # the first page


def test_a_waiver_from_the_session_audit_page(client, coordinator, make_session, parent, reasons, policies):
    """Issue 17 item 4: the reason is required; the event names the coordinator."""
    s = make_session(start=NOW + 6 * H)
    lifecycle.cancel(s, by=parent, reason_id=reasons[("parent", "cancel")].id, policy_id=policies["parent_full"].id,
                     now=NOW)
    client.force_login(coordinator)
    page = client.get(audit_url(s)).content.decode()
    assert "Waive the cancellation penalty" in page and "Full lesson" in page
    for bad in ("", "   ", "Because\x00"):
        response = client.post(audit_url(s), {"reason": bad})
        assert response.status_code == 422
        assert not SessionEvent.objects.filter(kind="penalty_waived").exists()
    assert "Please give a reason for the waiver." in client.post(audit_url(s), {"reason": ""}).content.decode()
    response = client.post(audit_url(s), {"reason": "Family emergency."}, follow=True)
    assert "Waived the cancellation penalty" in response.content.decode()
    event = SessionEvent.objects.get(kind="penalty_waived")
    assert (event.actor, event.reason) == (coordinator, "Family emergency.")
    assert "Waive the cancellation penalty" not in response.content.decode()
    again = client.post(audit_url(s), {"reason": "Twice."})
    assert again.status_code == 409 and "already waived" in again.content.decode()
    assert SessionEvent.objects.filter(kind="penalty_waived").count() == 1


def test_outsiders_see_no_audit_and_waive_nothing(client, make_session, parent, tutor, outsider, creator, reasons,
                                                 policies):
    s = make_session(start=NOW + 6 * H)
    lifecycle.cancel(s, by=parent, reason_id=reasons[("parent", "cancel")].id, policy_id=policies["parent_full"].id,
                     now=NOW)
    staff = make_user("stan", Role.CREATOR, is_staff=True)
    for who in (outsider, parent, tutor, creator, staff):
        client.force_login(who)
        for url in (audit_url(s), person_url(parent)):
            assert client.get(url).status_code in (302, 403, 404)
        assert client.post(audit_url(s), {"reason": "Mine."}).status_code in (302, 403, 404)
    assert not SessionEvent.objects.filter(kind="penalty_waived").exists()
    client.force_login(make_user("coco2", Role.COORDINATOR, is_staff=True))
    assert client.get("/admin/desk/dispute/audit/session/999999/").status_code == 404
    assert client.get("/admin/desk/dispute/audit/person/999999/").status_code == 404
    for bad in ("²", "١٢", "9223372036854775808"):  # "²".isdigit() is true and int("²") a 500
        assert client.get(f"/admin/desk/dispute/audit/session/{bad}/").status_code == 404
        assert client.get(f"/admin/desk/dispute/audit/person/{bad}/").status_code == 404
        assert client.get(f"/admin/tutoring_sessions/cancellationpolicy/{bad}/history/").status_code in (302, 404)


# --- the penalty sheet and the reason lists -------------------------------------------------------


def policy_form(policy, **changes) -> dict:
    data = {"role": policy.role, "min_hours_before": policy.min_hours_before,
            "max_hours_before": policy.max_hours_before or "", "penalty": policy.penalty,
            "charge_percent": policy.charge_percent, "guidance": policy.guidance}
    if policy.applies_to_trials:
        data["applies_to_trials"] = "on"
    return data | changes


def test_editing_the_sheet_keeps_its_history_and_the_guidance_follows_at_once(client, coordinator, parent,
                                                                             make_session, policies):
    """Issue 17 item 4 (L37): who changed what when; the next guidance reads the new band."""
    half = policies["parent_half"]
    s = make_session(start=NOW + 30 * H)
    assert lifecycle.cancellation_guidance(s, by=parent, now=NOW)["penalty"] == "50% of the lesson"
    client.force_login(coordinator)
    url = f"/admin/tutoring_sessions/cancellationpolicy/{half.pk}/change/"
    response = client.post(url, policy_form(half, penalty="25% of the lesson", charge_percent=25))
    assert response.status_code == 302
    change = PolicyChange.objects.get()
    assert (change.changed_by, change.action, change.object_id) == (coordinator, "changed", half.pk)
    assert change.before["penalty"] == "50% of the lesson" and change.after["penalty"] == "25% of the lesson"
    assert change.before["charge_percent"] == 50 and change.after["charge_percent"] == 25
    g = lifecycle.cancellation_guidance(s, by=parent, now=NOW)
    assert g["penalty"] == "25% of the lesson" and g["charge_percent"] == 25
    history = client.get(f"/admin/tutoring_sessions/cancellationpolicy/{half.pk}/history/").content.decode()
    assert "25% of the lesson" in history and "50% of the lesson" in history and "Coco" in history
    client.post(url, policy_form(CancellationPolicy.objects.get(pk=half.pk)))  # saved unchanged: no row
    assert PolicyChange.objects.count() == 1


def test_adding_and_deleting_a_band_and_editing_a_reason_in_the_list_are_recorded(client, coordinator, reasons,
                                                                                 policies):
    client.force_login(coordinator)
    response = client.post("/admin/tutoring_sessions/cancellationpolicy/add/", {
        "role": "tutor", "min_hours_before": 48, "max_hours_before": "", "penalty": "No charge",
        "charge_percent": 0, "guidance": "Free for tutors two days ahead.", "applies_to_trials": "on"})
    assert response.status_code == 302
    added = CancellationPolicy.objects.get(role="tutor", min_hours_before=48)
    response = client.post(f"/admin/tutoring_sessions/cancellationpolicy/{added.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302 and not CancellationPolicy.objects.filter(pk=added.pk).exists()
    reason = reasons[("parent", "cancel")]
    rows = list(ChangeReason.objects.order_by("role", "kind", "position", "id"))
    data = {"form-TOTAL_FORMS": len(rows), "form-INITIAL_FORMS": len(rows), "_save": "Save"}
    for i, r in enumerate(rows):
        data |= {f"form-{i}-id": r.pk, f"form-{i}-requires_note": "on" if r.requires_note else "",
                 f"form-{i}-active": "" if r.pk == reason.pk else "on", f"form-{i}-position": r.position}
    assert client.post("/admin/tutoring_sessions/changereason/", data).status_code == 302
    log = [(c.table, c.action, c.changed_by_id) for c in PolicyChange.objects.order_by("id")]
    assert log == [("cancellation policy", "added", coordinator.pk), ("cancellation policy", "deleted", coordinator.pk),
                   ("change reason", "changed", coordinator.pk)]
    last = PolicyChange.objects.order_by("id").last()
    assert last.before["active"] is True and last.after["active"] is False
    listing = client.get("/admin/desk/policychange/").content.decode()
    assert "active: True → False" in listing


def test_only_coordinators_edit_the_sheet_and_nothing_is_recorded_otherwise(client, policies, parent):
    staff = make_user("stan", Role.CREATOR, is_staff=True)
    half = policies["parent_half"]
    for who in (staff, parent):
        client.force_login(who)
        response = client.post(f"/admin/tutoring_sessions/cancellationpolicy/{half.pk}/change/",
                               policy_form(half, penalty="Free"))
        assert response.status_code in (302, 403)
        if response.status_code == 302:
            assert "/login/" in response["Location"]
        assert client.get("/admin/desk/policychange/").status_code in (302, 403)
    half.refresh_from_db()
    assert half.penalty == "50% of the lesson" and not PolicyChange.objects.exists()


def test_a_trial_exception_on_the_sheet_frees_trial_sessions_in_that_window(client, coordinator, parent,
                                                                           make_session, reasons, policies):
    """Issue 17 item 4: the sheet's trial exceptions, edited by a coordinator, apply to the next guidance."""
    full = policies["parent_full"]
    trial = make_session(start=NOW + 10 * H, is_trial=True)
    regular = make_session(start=NOW + 12 * H)
    assert lifecycle.cancellation_guidance(trial, by=parent, now=NOW)["policy_id"] == full.pk
    client.force_login(coordinator)
    response = client.post(f"/admin/tutoring_sessions/cancellationpolicy/{full.pk}/change/",
                           {k: v for k, v in policy_form(full).items() if k != "applies_to_trials"})
    assert response.status_code == 302
    change = PolicyChange.objects.get()
    assert change.before["applies_to_trials"] is True and change.after["applies_to_trials"] is False
    g = lifecycle.cancellation_guidance(trial, by=parent, now=NOW)
    assert g["policy_id"] is None and g["penalty"] == "No penalty applies." and not g["charged"]
    assert lifecycle.cancellation_guidance(regular, by=parent, now=NOW)["policy_id"] == full.pk
    cancelled = lifecycle.cancel(trial, by=parent, reason_id=reasons[("parent", "cancel")].id, policy_id=None, now=NOW)
    assert cancelled.status == Status.CANCELLED_BY_PARENT and "policy_id" not in cancelled.events.last().data


def test_the_session_audit_reads_in_a_fixed_number_of_queries(client, coordinator, tutor, awaiting,
                                                             django_assert_max_num_queries):
    client.force_login(coordinator)
    counts = []
    for n in (3, PAGE_SIZE + 10):
        SessionEvent.objects.bulk_create(
            SessionEvent(session=awaiting, actor=tutor, channel="web", kind="room_joined", data={"role": "tutor"},
                         created_at=NOW - timedelta(minutes=i)) for i in range(n - SessionEvent.objects.count()))
        with django_assert_max_num_queries(12) as ctx:
            body = client.get(audit_url(awaiting)).content.decode()
        counts.append(len(ctx.captured_queries))
        assert body.count('data-kind="room_joined"') == min(n, PAGE_SIZE)
    assert counts[0] == counts[1]


def visible_text(html: str) -> str:
    """The words a person reads: no tags, attributes, scripts or styles."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return unescape(re.sub(r"<[^>]+>", " ", html))


def test_trails_show_what_happened_in_words_not_internal_codes(client, coordinator, tutor, parent, make_session):
    """Issue 17 item 4: the session audit, the person audit, the dispute page, the session's admin page
    and the event list read "Checked in", "Recorded as a no-show", "In progress", never check_in,
    no_show or checked_in (one table of labels: sessions.projections)."""
    start = NOW - timedelta(days=2)
    s = make_session(start=start, status=Status.DISPUTED, checked_in_at=start, checked_out_at=start + H)
    trail = [("check_in", Status.SCHEDULED, Status.CHECKED_IN, tutor),
             ("no_show", Status.CHECKED_IN, Status.CHECKED_IN, tutor),
             ("check_out", Status.CHECKED_IN, Status.AWAITING_APPROVAL_PARENT, tutor),
             ("dispute", Status.AWAITING_APPROVAL_PARENT, Status.DISPUTED, parent)]
    for n, (kind, before, after, actor) in enumerate(trail):
        SessionEvent.objects.create(session=s, actor=actor, channel="web", kind=kind, from_status=before,
                                    to_status=after, created_at=start + n * H, reason="The lesson was short.",
                                    notified_at=NOW)
    client.force_login(coordinator)
    pages = [audit_url(s), person_url(tutor), f"/admin/desk/dispute/{s.pk}/change/",
             f"/admin/tutoring_sessions/session/{s.pk}/change/", "/admin/tutoring_sessions/sessionevent/"]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        text = visible_text(response.content.decode())
        for code in ("check_in", "no_show", "check_out", "checked_in", "awaiting_approval_parent"):
            m = re.search(rf"\b{code}\b", text)
            assert not m, f"{url} shows {code}: {text[m.start() - 200:m.end() + 100]!r}"
        if url != pages[3]:  # the session's change page lists the trail in its inline
            assert "Recorded as a no-show" in text and "Checked in" in text, url
    inline = visible_text(client.get(pages[3]).content.decode())
    assert "Recorded as a no-show" in inline and "Checked in → Awaiting parent acknowledgement" in inline


def test_a_persons_admin_page_links_to_their_audit_and_a_students_statement(client, coordinator, student, tutor,
                                                                           parent):
    """Issue 17 items 4 and 5: from a person's admin page the coordinator reaches their audit, and for a
    student their billing statement; each link leads to a page that exists."""
    client.force_login(coordinator)
    for person in (student, tutor, parent):
        page = client.get(f"/admin/tutoring/user/{person.pk}/change/").content.decode()
        assert f'<a href="{person_url(person)}">Audit</a>' in page
        statement = f"/admin/desk/billing/student/{person.pk}/"
        assert (f'<a href="{statement}">Billing statement</a>' in page) == (person == student)
        assert client.get(person_url(person)).status_code == 200
    assert client.get(f"/admin/desk/billing/student/{student.pk}/").status_code == 200


def test_a_band_whose_words_contradict_its_charge_is_refused(client, coordinator, policies):
    """Issue 17 item 4 (L37: the guidance shown comes from the sheet): a band's penalty and guidance
    may not tell people something its charge_percent contradicts; the form says so, nothing is saved."""
    client.force_login(coordinator)
    add = "/admin/tutoring_sessions/cancellationpolicy/add/"
    band = {"role": "parent", "min_hours_before": 2, "max_hours_before": 4, "applies_to_trials": "on"}
    before = CancellationPolicy.objects.count()
    free = client.post(add, {**band, "penalty": "Free cancellation", "charge_percent": 60,
                             "guidance": "Cancel whenever you like."})
    assert free.status_code == 200
    assert "This says the cancellation is free but the charge is 60%: make them agree." in unescape(
        free.content.decode())
    other = client.post(add, {**band, "penalty": "50% of the lesson", "charge_percent": 60,
                              "guidance": "Half the lesson is charged."})
    assert "This says 50% but the charge is 60%: make them agree." in unescape(other.content.decode())
    zero = client.post(add, {**band, "penalty": "No charge", "charge_percent": 0,
                             "guidance": "A 30% fee applies."})
    assert "This says 30% but the charge is 0%: make them agree." in unescape(zero.content.decode())
    assert CancellationPolicy.objects.count() == before and not PolicyChange.objects.exists()
    fine = client.post(add, {**band, "penalty": "60% of the lesson", "charge_percent": 60,
                             "guidance": "Cancelling 2 to 4 hours ahead is charged at 60% of the lesson."})
    assert fine.status_code == 302 and CancellationPolicy.objects.count() == before + 1


def test_a_charged_cancellation_is_guidance_and_deducts_no_credit(client, coordinator, parent, student, make_session,
                                                                 reasons, policies, package):
    """L37 ("Cancellation panels show the current sheet-based penalty guidance and the
    coordinator-waiver reminder before confirming"): the sheet's charge is guidance, and only approval
    deducts a credit (DESIGN: "Approval deducts from the student's lesson package"). So the parent is
    never told a credit is taken: the panel says the charge is invoiced with no credit deducted, and
    after the cancel the student's statement shows the package untouched."""
    s = make_session(start=NOW + 30 * H)
    client.force_login(parent)
    panel = visible_text(client.get(f"/sessions/{s.id}/cancel/?as_role=parent",
                                    HTTP_HX_REQUEST="true").content.decode())
    panel = " ".join(panel.split())
    assert "costs" not in panel and "from the 10-lesson package" not in panel
    assert "no credit deducted from the package" in panel
    client.post(f"/sessions/{s.id}/cancel/", {"reason_id": reasons[("parent", "cancel")].id,
                                               "policy_id": policies["parent_half"].id, "confirm": "1",
                                               "as_role": "parent"}, HTTP_HX_REQUEST="true")
    s.refresh_from_db()
    assert s.status == Status.CANCELLED_BY_PARENT
    client.force_login(coordinator)
    statement = client.get(f"/admin/desk/billing/student/{student.pk}/").content.decode()
    assert '<span class="used">0</span>' in statement and '<span class="remaining">10</span>' in statement
