"""The sessions admin: lifecycle actions, read-only state, fast changelists.

Time is frozen at conftest.NOW with time-machine (the admin passes no `now`: the lifecycle reads the
clock), so the windows the lifecycle checks are deterministic.
"""

from datetime import UTC, timedelta
from html import unescape

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import formats, timezone

from sessions import admin as sessions_admin
from tutoring.admin_paging import EstimatedCountPaginator, pk_follows_sort_key
from sessions.models import (
    Channel,
    PackageDeduction,
    RescheduleProposal,
    RescheduleThread,
    Session,
    SessionEvent,
    Source,
    Status,
)
from tests.conftest import NOW, make_user
from tutoring.models import Role

CHANGELIST = reverse("admin:tutoring_sessions_session_changelist")
APPLY = sessions_admin.APPLY


def change_url(session) -> str:
    return reverse("admin:tutoring_sessions_session_change", args=[session.pk])


@pytest.fixture
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)
    return NOW


@pytest.fixture
def coco(client, coordinator, frozen):
    """A client logged in as Coco the coordinator (staff, not a superuser)."""
    client.force_login(coordinator)
    return client


@pytest.fixture
def disputed(make_session):
    start = NOW - timedelta(days=2)
    return make_session(start=start, status=Status.DISPUTED, checked_in_at=start,
                        checked_out_at=start + timedelta(hours=1))


def run_action(client, action: str, sessions, *, url: str = CHANGELIST, **answers):
    """Pick the action in the changelist's action bar, then answer its intermediate page."""
    selected = [s.pk for s in sessions]
    first = client.post(url, {"action": action, "_selected_action": selected, "index": 0})
    assert first.status_code == 200, "the action asks for its input first"
    answered = {"action": action, "_selected_action": selected, APPLY: "go", **answers}
    return client.post(url, answered, follow=True)


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def event_rows(session) -> list[tuple]:
    return list(SessionEvent.objects.filter(session=session).order_by("id")
                .values_list("kind", "channel", "actor__username", "from_status", "to_status", "reason"))


def status_of(session) -> str:
    return Session.objects.values_list("status", flat=True).get(pk=session.pk)


# --- verify -----------------------------------------------------------------------------------


def test_verify_asks_for_a_reason_on_an_intermediate_page_and_changes_nothing_yet(coco, awaiting):
    """L28: the override's form comes first; choosing the action alone changes nothing."""
    page = coco.post(CHANGELIST, {"action": "verify_sessions", "_selected_action": [awaiting.pk], "index": 0})

    assert page.status_code == 200
    assert b"Reason for the override" in page.content
    assert status_of(awaiting) == Status.AWAITING_APPROVAL_PARENT
    assert not SessionEvent.objects.exists()


def test_verify_with_a_reason_approves_through_the_lifecycle(coco, awaiting, package):
    """L28: the admin approval override uses the verify path with its reason, on the admin channel."""
    response = run_action(coco, "verify_sessions", [awaiting], reason="Parent confirmed by phone.")

    assert messages_of(response) == ["Verified 1 session."]
    assert status_of(awaiting) == Status.APPROVED
    assert event_rows(awaiting) == [("verify", Channel.ADMIN, "coco", Status.AWAITING_APPROVAL_PARENT,
                                     Status.APPROVED, "Parent confirmed by phone.")]
    assert PackageDeduction.objects.filter(session=awaiting, package=package).exists()


def test_verify_without_a_reason_is_refused_and_changes_nothing(coco, awaiting, package):
    """L28: no reason, no override: the page says so and the session stays as it was."""
    response = run_action(coco, "verify_sessions", [awaiting], reason="   ")

    assert response.status_code == 200
    assert b"Please give a reason for the override." in response.content
    assert status_of(awaiting) == Status.AWAITING_APPROVAL_PARENT
    assert not SessionEvent.objects.exists()
    assert not PackageDeduction.objects.exists()


def test_verify_a_future_session_shows_the_lifecycle_refusal_and_changes_nothing(coco, session):
    response = run_action(coco, "verify_sessions", [session], reason="Looks fine.")

    assert messages_of(response) == [
        f"Session {session.pk}: A session that has not started yet cannot be verified. Nothing was changed."]
    assert status_of(session) == Status.SCHEDULED
    assert not SessionEvent.objects.exists()


def test_verify_an_imported_session_needs_no_attendance_and_uses_no_credit(coco, make_session, package):
    """L29: imported and legacy sessions are exempt from attendance and from the package deduction."""
    start = NOW - timedelta(days=3)
    imported = make_session(start=start, source=Source.IMPORTED)
    legacy = make_session(start=start + timedelta(hours=2), source=Source.LEGACY, status=Status.NOT_COMPLETED)

    response = run_action(coco, "verify_sessions", [imported, legacy], reason="Imported from the old sheet.")

    assert messages_of(response) == ["Verified 2 sessions."]
    assert {status_of(imported), status_of(legacy)} == {Status.APPROVED}
    assert not PackageDeduction.objects.exists()
    assert list(SessionEvent.objects.values_list("data", flat=True)) == [{"deduction": "exempt"}] * 2


# --- disputes ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("decision", "result"),
                         [("approve", Status.APPROVED), ("void", Status.NOT_COMPLETED)])
def test_resolve_dispute_decides_through_the_lifecycle(coco, disputed, package, decision, result):
    """L27: a disputed session is reviewed and decided by a coordinator."""
    response = run_action(coco, "resolve_disputes", [disputed], decision=decision,
                          reason="Checked the recording.")

    assert messages_of(response) == ["Resolved the dispute of 1 session."]
    assert status_of(disputed) == result
    assert event_rows(disputed) == [("resolve_dispute", Channel.ADMIN, "coco", Status.DISPUTED, result,
                                     "Checked the recording.")]
    assert PackageDeduction.objects.filter(session=disputed).exists() == (decision == "approve")


def test_resolving_a_session_that_is_not_disputed_is_refused_per_session(coco, disputed, awaiting):
    """L27: only disputed sessions are resolved; the other session in the batch is left untouched."""
    response = run_action(coco, "resolve_disputes", [disputed, awaiting], decision="void", reason="Reviewed.")

    assert messages_of(response) == [
        "Resolved the dispute of 1 session.",
        f"Session {awaiting.pk}: Only a disputed session can be resolved. Nothing was changed.",
    ]
    assert status_of(disputed) == Status.NOT_COMPLETED
    assert status_of(awaiting) == Status.AWAITING_APPROVAL_PARENT
    assert not SessionEvent.objects.filter(session=awaiting).exists()


def test_a_refusal_shared_by_several_sessions_names_each_of_them(coco, awaiting, make_session):
    other = make_session(start=NOW - timedelta(days=4), status=Status.APPROVED)

    response = run_action(coco, "resolve_disputes", [awaiting, other], decision="void", reason="Reviewed.")

    first, second = sorted([awaiting.pk, other.pk])
    assert messages_of(response) == [
        f"Sessions {first}, {second}: Only a disputed session can be resolved. Nothing was changed."]
    assert not SessionEvent.objects.exists()


# --- no-show and cancel -----------------------------------------------------------------------


def test_mark_no_show_records_who_did_not_attend(coco, make_session):
    started = make_session(start=NOW - timedelta(hours=2))

    response = run_action(coco, "mark_no_shows", [started], party="tutor", reason="Tutor never joined.")

    assert messages_of(response) == ["Marked 1 session as no-show."]
    started.refresh_from_db()
    assert (started.status, started.no_show_party) == (Status.NO_SHOW, "tutor")
    assert event_rows(started) == [("no_show", Channel.ADMIN, "coco", Status.SCHEDULED, Status.NO_SHOW,
                                    "Tutor never joined.")]


def test_mark_no_show_of_a_session_not_started_is_refused(coco, session):
    response = run_action(coco, "mark_no_shows", [session], party="student", reason="Absent.")

    assert messages_of(response) == [
        f"Session {session.pk}: A session that has not started yet cannot be a no-show. Nothing was changed."]
    assert status_of(session) == Status.SCHEDULED


def test_cancel_on_behalf_of_the_parent_uses_the_parents_reason(coco, coordinator, make_session, reasons):
    """L36: the coordinator picks from the parent's reasons; within 4 hours of the start, too."""
    soon = make_session(start=NOW + timedelta(hours=2))

    response = run_action(coco, "cancel_on_behalf", [soon], on_behalf_of="parent",
                          reason=reasons[("parent", "cancel")].pk, note="")

    assert messages_of(response) == ["Cancelled 1 session."]
    soon.refresh_from_db()
    assert soon.status == Status.CANCELLED_BY_PARENT
    assert soon.cancellation_reason == reasons[("parent", "cancel")]
    event = SessionEvent.objects.get(session=soon)
    assert (event.kind, event.channel, event.actor_id) == ("cancel", Channel.ADMIN, coordinator.pk)
    assert event.data["on_behalf_of"] == "parent"
    assert event.reason == "Schedule conflict"


def test_cancel_closes_the_open_reschedule_thread(coco, session, reasons, parent):
    """L41: cancelling closes an open reschedule request."""
    thread = RescheduleThread.objects.create(session=session, opened_by=parent, opened_by_role="parent",
                                             reason=reasons[("parent", "reschedule")], created_at=NOW)
    RescheduleProposal.objects.create(thread=thread, version=1, proposed_by=parent, proposed_by_role="parent",
                                      proposed_start=session.scheduled_start + timedelta(days=1),
                                      proposed_end=session.scheduled_end + timedelta(days=1), created_at=NOW)

    run_action(coco, "cancel_on_behalf", [session], on_behalf_of="tutor",
               reason=reasons[("tutor", "cancel")].pk)

    assert status_of(session) == Status.CANCELLED_BY_TUTOR
    thread.refresh_from_db()
    assert thread.status == "closed"


def test_cancel_with_the_other_sides_reason_is_refused(coco, session, reasons):
    response = run_action(coco, "cancel_on_behalf", [session], on_behalf_of="parent",
                          reason=reasons[("tutor", "cancel")].pk)

    assert messages_of(response) == [
        f"Session {session.pk}: Choose one of the parent's cancel reasons. Nothing was changed."]
    assert status_of(session) == Status.SCHEDULED
    assert not SessionEvent.objects.exists()


def test_cancel_with_other_needs_a_note(coco, session, reasons):
    response = run_action(coco, "cancel_on_behalf", [session], on_behalf_of="tutor",
                          reason=reasons[("tutor", "cancel", "other")].pk, note="")

    assert messages_of(response) == [
        f"Session {session.pk}: Please say more about “Other”. Nothing was changed."]
    assert status_of(session) == Status.SCHEDULED


@override_settings(SESSIONS_ADMIN_MAX_ACTION_SESSIONS=1)
def test_too_many_sessions_for_one_action_changes_nothing(coco, awaiting, disputed):
    response = coco.post(CHANGELIST, {"action": "verify_sessions", "index": 0,
                                      "_selected_action": [awaiting.pk, disputed.pk]}, follow=True)

    assert messages_of(response) == [
        "Select at most 1 sessions for “Verify (approval override)”. Nothing was changed."]
    assert not SessionEvent.objects.exists()


# --- from the session's own page --------------------------------------------------------------


def test_the_change_form_offers_the_actions_for_this_session(coco, awaiting):
    """L28: verify from the session's page: the same form, the same lifecycle call."""
    url = change_url(awaiting)
    base = {"CHANGE_FORM-action": "verify_sessions", "_selected_action": [awaiting.pk]}

    page = coco.get(url)
    assert b'value="verify_sessions"' in page.content
    form = coco.post(url, base)
    assert b"Reason for the override" in form.content
    response = coco.post(url, {**base, "reason": "Verified with the tutor.", APPLY: "go"})

    assert response.status_code == 302 and response.url == url
    assert status_of(awaiting) == Status.APPROVED
    assert event_rows(awaiting)[0][:2] == ("verify", Channel.ADMIN)


def change_form_data(response) -> dict:
    """Everything the change form would post back unchanged, inline management forms included."""
    form = response.context["adminform"].form
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        for bound in (formset.management_form, *formset.forms):
            data |= {bound.add_prefix(n): bound[n].value() for n in bound.fields
                     if bound[n].value() is not None}
    return data


def test_status_times_and_attendance_cannot_be_changed_through_the_change_form(coco, awaiting):
    url = change_url(awaiting)
    data = change_form_data(coco.get(url)) | {
        "status": Status.APPROVED, "scheduled_start": "2030-01-01 10:00:00", "checked_in_at": "",
        "tutor": awaiting.student_id, "source": Source.IMPORTED,
        "meeting_url": "https://meet.example.test/room-1", "_save": "Save",
    }

    response = coco.post(url, data)

    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    after = Session.objects.get(pk=awaiting.pk)
    assert after.meeting_url == "https://meet.example.test/room-1"  # the form was saved…
    assert (after.status, after.scheduled_start, after.checked_in_at, after.tutor_id, after.source) == (
        awaiting.status, awaiting.scheduled_start, awaiting.checked_in_at, awaiting.tutor_id, awaiting.source)
    assert not SessionEvent.objects.exists()


def test_the_course_must_be_one_the_student_is_enrolled_in(coco, awaiting, creator):
    other_course = awaiting.course.__class__.objects.create(creator=creator, title="Chemistry")
    url = change_url(awaiting)
    data = change_form_data(coco.get(url)) | {"course": other_course.pk, "_save": "Save"}

    response = coco.post(url, data)

    assert response.status_code == 200
    assert b"The student is not enrolled in that course." in response.content
    assert Session.objects.get(pk=awaiting.pk).course_id == awaiting.course_id


def test_the_change_form_shows_events_threads_and_the_open_request(coco, session, reasons, parent):
    thread = RescheduleThread.objects.create(session=session, opened_by=parent, opened_by_role="parent",
                                             reason=reasons[("parent", "reschedule")], created_at=NOW)
    RescheduleProposal.objects.create(thread=thread, version=1, proposed_by=parent, proposed_by_role="parent",
                                      proposed_start=session.scheduled_start + timedelta(days=1),
                                      proposed_end=session.scheduled_end + timedelta(days=1), created_at=NOW)
    SessionEvent.objects.create(session=session, actor=parent, channel=Channel.WEB,
                                kind="reschedule_proposed", reason="Schedule conflict", created_at=NOW)

    page = coco.get(change_url(session)).content.decode()

    assert "Opened by the Parent" in page and "v1 by Pat (Parent)" in page
    assert "New time proposed" in page and "reschedule_proposed" not in page  # the event in words
    assert 'name="events-0-kind"' not in page  # read-only rows: no inputs


def test_the_event_trail_shows_each_events_data_in_words_in_the_viewers_zone(coco, coordinator, session):
    """The change page's event trail, and the event's own admin page, give an event's data as
    "label: value" lines (known keys by their labels, times in the viewer's zone, roles by their
    labels, unknown keys as they are), never the raw JSON."""
    coordinator.time_zone = "Asia/Tokyo"
    coordinator.save(update_fields=["time_zone"])
    old_start, new_start = NOW - timedelta(days=1), NOW + timedelta(days=1)
    event = SessionEvent.objects.create(session=session, actor=coordinator, channel=Channel.ADMIN, kind="moved",
                                reason="Room double-booked", created_at=NOW,
                                data={"old_start": old_start.isoformat(), "new_start": new_start.isoformat(),
                                      "on_behalf_of": "parent", "waived": True, "mystery_key": "kept"})

    page = coco.get(change_url(session)).content.decode()
    cell = page[page.index('<td class="field-details">'):]
    cell = unescape(cell[:cell.index("</td>")])

    with timezone.override("Asia/Tokyo"):
        tokyo = formats.localize(timezone.localtime(old_start)), formats.localize(timezone.localtime(new_start))
    assert f"previous start: {tokyo[0]}" in cell and f"new start: {tokyo[1]}" in cell
    assert formats.localize(old_start.astimezone(UTC)) not in cell  # not the server's zone
    assert "on behalf of: Parent" in cell and "credit waived: yes" in cell
    assert "mystery_key: kept" in cell  # an unknown key still shown, as it is
    assert "{" not in cell and "old_start" not in cell
    assert "field-data" not in page  # no raw JSON column

    own = coco.get(reverse("admin:tutoring_sessions_sessionevent_change", args=[event.pk])).content.decode()
    details = own[own.index('field-details'):]
    details = unescape(details[:details.index("</div>\n")])
    assert f"new start: {tokyo[1]}" in details and "credit waived: yes" in details
    assert "field-data" not in own and '"old_start"' not in unescape(own)
    assert "field-what" in own and "field-kind" not in own and "field-to_status" not in own  # no codes


def test_sessions_cannot_be_deleted_in_the_admin_and_are_added_through_the_lifecycle(coco, session):
    # the add page is the desk's form saved by lifecycle.create_session (tests/desk/test_scheduling.py)
    assert coco.get(reverse("admin:tutoring_sessions_session_add")).status_code == 200
    assert coco.post(reverse("admin:tutoring_sessions_session_delete", args=[session.pk])).status_code == 403
    assert Session.objects.filter(pk=session.pk).exists()


def test_events_are_read_only_in_the_admin(coco, session, coordinator):
    event = SessionEvent.objects.create(session=session, actor=coordinator, channel=Channel.ADMIN,
                                        kind="note", created_at=NOW)
    url = reverse("admin:tutoring_sessions_sessionevent_change", args=[event.pk])

    assert coco.get(url).status_code == 200
    assert coco.post(url, {"kind": "edited"}).status_code == 403
    delete = reverse("admin:tutoring_sessions_sessionevent_delete", args=[event.pk])
    assert coco.post(delete, {"post": "yes"}).status_code == 403
    assert SessionEvent.objects.get(pk=event.pk).kind == "note"


def test_the_coordinator_edited_tables_are_editable(coco):
    response = coco.post(reverse("admin:tutoring_sessions_changereason_add"), {
        "role": "parent", "kind": "cancel", "code": "illness", "label": "Illness", "active": "on",
        "position": 2})

    assert response.status_code == 302
    response = coco.post(reverse("admin:tutoring_sessions_cancellationpolicy_add"), {
        "role": "tutor", "min_hours_before": 0, "max_hours_before": 24, "penalty": "Strike", "charge_percent": 0,
        "guidance": "Late cancellations count."})
    assert response.status_code == 302


# --- the changelist ---------------------------------------------------------------------------


def seed(make_session, n: int, *, first: int = 0) -> None:
    """Sessions first..n-1, each with its own tutor and student (so every row's names are fetched)."""
    for i in range(first, n):
        kid = make_user(f"kid{i}", Role.STUDENT)
        teacher = make_user(f"teacher{i}", Role.TUTOR)
        make_session(start=NOW + timedelta(hours=2 * i), tutor=teacher, student=kid, course=None)


def changelist_queries(client) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(CHANGELIST).status_code == 200
    return len(ctx.captured_queries)


def test_the_changelist_runs_the_same_few_queries_for_5_and_50_sessions(coco, make_session,
                                                                        django_assert_max_num_queries):
    seed(make_session, 5)
    with django_assert_max_num_queries(8):
        coco.get(CHANGELIST)
    at_5 = changelist_queries(coco)
    seed(make_session, 50, first=5)
    with django_assert_max_num_queries(8):
        page = coco.get(CHANGELIST)

    assert changelist_queries(coco) == at_5
    assert page.content.count(b'name="_selected_action"') == 50


def test_the_filtered_and_searched_changelists(coco, awaiting, disputed, session):
    by_status = coco.get(CHANGELIST, {"status__exact": Status.DISPUTED})
    assert [s.pk for s in by_status.context["cl"].result_list] == [disputed.pk]

    by_name = coco.get(CHANGELIST, {"q": "tia"})  # the tutor's username / name
    assert {s.pk for s in by_name.context["cl"].result_list} == {awaiting.pk, disputed.pk, session.pk}

    by_id = coco.get(CHANGELIST, {"q": f"#{session.pk}"})
    assert [s.pk for s in by_id.context["cl"].result_list] == [session.pk]

    assert list(coco.get(CHANGELIST, {"q": "nobody-like-this"}).context["cl"].result_list) == []
    # "²" is a digit to str.isdigit and not to int(): the search was a 500
    for term in ("²", "#²", "١٢", "9" * 19, "#9223372036854775808"):
        assert list(coco.get(CHANGELIST, {"q": term}).context["cl"].result_list) == [], term
        events = coco.get(reverse("admin:tutoring_sessions_sessionevent_changelist"), {"q": term})
        assert events.status_code == 200 and list(events.context["cl"].result_list) == [], term


@override_settings(SESSIONS_ADMIN_MAX_SEARCH_PEOPLE=0)
def test_a_broad_search_still_finds_the_sessions(coco, awaiting, disputed):
    """More matching people than SESSIONS_ADMIN_MAX_SEARCH_PEOPLE: the search filters by a subquery
    instead of an id list."""
    assert not isinstance(sessions_admin.matching_people("s"), list)  # the broad path is the one taken

    found = coco.get(CHANGELIST, {"q": "s"}).context["cl"].result_list  # Sam, Tia's username has no s

    assert {s.pk for s in found} == {awaiting.pk, disputed.pk}


def test_sorting_by_start_keeps_the_tie_breaker_in_the_same_direction(coco, awaiting, disputed, session):
    descending = coco.get(CHANGELIST).context["cl"]
    start_column = descending.list_display.index("scheduled_start")  # after the action checkbox

    ascending = coco.get(CHANGELIST, {"o": str(start_column)}).context["cl"]

    assert ascending.queryset.query.order_by == ("scheduled_start", "id")
    assert [s.pk for s in ascending.result_list] == [disputed.pk, awaiting.pk, session.pk]
    assert descending.queryset.query.order_by == ("-scheduled_start", "-id")


@pytest.mark.parametrize(("given", "expected"), [
    (["scheduled_start", "-scheduled_start", "-id"], ["scheduled_start", "id"]),
    (["-scheduled_start", "-scheduled_start", "-id"], ["-scheduled_start", "-id"]),
    (["id", "-scheduled_start", "-id"], ["id"]),
    (["-pk"], ["-id"]),
    (["status", "-pk"], ["status", "id"]),
])
def test_pk_follows_sort_key(given, expected):
    assert pk_follows_sort_key(given, pk_name="id") == expected


# --- the paginator ----------------------------------------------------------------------------


def test_paginator_counts_a_small_table_exactly_and_deep_pages_match_plain_slicing(make_session):
    seed(make_session, 7)
    ordered = Session.objects.select_related("tutor", "student").order_by("-scheduled_start", "-id")

    paginator = EstimatedCountPaginator(ordered, 3)

    assert (paginator.count, paginator.is_estimate, paginator.num_pages) == (7, False, 3)
    for number in (1, 2, 3):
        assert list(paginator.page(number).object_list) == list(ordered[(number - 1) * 3:number * 3])


class SmallCapPaginator(EstimatedCountPaginator):
    """The paginator with a filtered-count cap small enough to pass with a few rows."""

    filtered_count_cap = 4


def test_paginator_caps_a_filtered_count_and_then_estimates(make_session):
    seed(make_session, 6)
    filtered = Session.objects.filter(status=Status.SCHEDULED).order_by("-scheduled_start", "-id")

    paginator = SmallCapPaginator(filtered, 2)

    assert paginator.count >= 5 and paginator.is_estimate
    small = SmallCapPaginator(filtered.filter(tutor__username="teacher1"), 2)
    assert (small.count, small.is_estimate) == (1, False)
    uncapped = EstimatedCountPaginator(filtered, 2)  # the real cap (10,000): six rows counted exactly
    assert (uncapped.count, uncapped.is_estimate) == (6, False)


def test_pre_rendered_rows_are_the_markup_django_renders(coco, make_session, coordinator, rf):
    """The fast row renderer (admin_paging.rendered_rows) must not change a byte of the table."""
    from django.contrib import admin
    from django.contrib.admin.templatetags.admin_list import items_for_result

    seed(make_session, 3)
    make_session(start=NOW - timedelta(days=5), course=None, is_trial=True, source=Source.LEGACY,
                 status=Status.CANCELLED_BY_PARENT)
    SessionEvent.objects.create(session=Session.objects.first(), actor=coordinator, channel=Channel.ADMIN,
                                kind="note <b>", created_at=NOW)
    pages = ((Session, {"status__exact": "scheduled", "o": "2"}), (Session, {}), (SessionEvent, {}))
    for model, query in pages:
        request = rf.get("/", query)
        request.user = coordinator
        cl = admin.site._registry[model].get_changelist_instance(request)
        ours = [str(row[0]) for row in cl.result_table["results"]]
        cl.preserved_filters = cl.row_link_query  # what Django's add_preserved_filters would append
        django = ["".join(items_for_result(cl, obj, None)) for obj in cl.result_list]
        assert ours == django and ours
