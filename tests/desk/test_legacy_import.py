"""The legacy import in the admin (issue 17 item 6, L29): a dry run listing every broken row before
anything is written, re-import without duplicates, and spec 004's exemptions."""

import re
from datetime import UTC, datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from desk.models import ImportedSession
from notifications.models import Delivery, Notification
from sessions import lifecycle
from sessions.errors import Refused
from sessions.models import PackageDeduction, Session, SessionEvent, Source, Status
from tests.conftest import NOW, make_user
from tutoring.models import Role

IMPORT_URL = "/admin/desk/importedsession/import/"
CONFIRM_URL = "/admin/desk/importedsession/process_import/"
HEADER = "external_id,tutor,student,start,end,course,status,source\n"


@pytest.fixture(autouse=True)
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


def upload(client, text: str, name="legacy.csv"):
    return client.post(IMPORT_URL, {"format": "0", "resource": "0",
                                    "import_file": SimpleUploadedFile(name, text.encode(), "text/csv")})


def confirm(client, dry_run_page) -> object:
    body = dry_run_page.content.decode()
    assert 'action="/admin/desk/importedsession/process_import/"' in body
    hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', body))
    return client.post(CONFIRM_URL, {k: hidden[k] for k in ("import_file_name", "original_file_name", "format",
                                                             "resource") if k in hidden})


@pytest.fixture
def good_csv(tutor, student, course):
    return HEADER + (
        f"old-1,tia,sam,2025-03-04T16:00:00+01:00,2025-03-04T17:00:00+01:00,{course.pk},,\n"
        "old-2,tia,sam,2025-03-11T16:00:00+01:00,2025-03-11T17:00:00+01:00,,approved,legacy\n"
        "old-3,tia,sam,2025-03-18T16:00:00+01:00,2025-03-18T17:00:00+01:00,,cancelled_by_parent,imported\n"
    )


def test_a_dry_run_lists_every_broken_row_and_writes_nothing(client, coordinator, tutor, student, course,
                                                            make_session):
    """L29, issue 17 item 6: each broken row's problem is shown by column; no confirm button; no rows."""
    taken = make_session(start=datetime(2025, 5, 1, 9, 0, tzinfo=UTC), status=Status.APPROVED)
    other = make_user("nora", Role.STUDENT)  # not enrolled in the course
    text = HEADER + (
        "ok-1,tia,sam,2025-03-04T16:00:00+01:00,2025-03-04T17:00:00+01:00,,,\n"
        "bad-tutor,nobody,sam,2025-03-05T16:00:00+01:00,2025-03-05T17:00:00+01:00,,,\n"
        "bad-naive,tia,sam,2025-03-06T16:00:00,2025-03-06T17:00:00+01:00,,,\n"
        "bad-date,tia,sam,next tuesday,2025-03-07T17:00:00+01:00,,,\n"
        "bad-status,tia,sam,2025-03-08T16:00:00+01:00,2025-03-08T17:00:00+01:00,,scheduled,\n"
        "bad-source,tia,sam,2025-03-09T16:00:00+01:00,2025-03-09T17:00:00+01:00,,,native\n"
        ",tia,sam,2025-03-10T16:00:00+01:00,2025-03-10T17:00:00+01:00,,,\n"
        "bad-future,tia,sam,2026-12-01T16:00:00+01:00,2026-12-01T17:00:00+01:00,,,\n"
        "bad-order,tia,sam,2025-03-12T17:00:00+01:00,2025-03-12T16:00:00+01:00,,,\n"
        f"bad-course,tia,nora,2025-03-13T16:00:00+01:00,2025-03-13T17:00:00+01:00,{course.pk},,\n"
        "bad-overlap,tia,sam,2025-05-01T09:30:00+00:00,2025-05-01T10:30:00+00:00,,,\n"
    )
    assert other.pk
    client.force_login(coordinator)
    before = Session.objects.count()
    body = upload(client, text).content.decode()
    for message in ("No active tutor with the username “nobody”.",
                    "The time must include its time zone offset.",
                    "“next tuesday” is not a date and time",
                    "The status must be one of: approved, cancelled_by_tutor",
                    "The source must be one of: imported, legacy.",
                    "Please give a external_id.",
                    "Only sessions that have ended can be imported.",
                    "The end must be after the start.",
                    "The student is not enrolled in that course.",
                    "The tutor already has a session at that time."):
        assert message in body, message
    assert "process_import" not in body  # no confirm step for a file with errors
    assert Session.objects.count() == before and not ImportedSession.objects.exists()
    assert Session.objects.get() == taken


def test_a_clean_file_is_checked_then_imported_with_the_exemptions(client, coordinator, tutor, student, package,
                                                                  good_csv):
    """L29: imported and legacy sessions need no check-in/out and deduct nothing; nobody is notified."""
    client.force_login(coordinator)
    page = upload(client, good_csv)
    assert page.status_code == 200 and not Session.objects.exists()  # the dry run wrote nothing
    assert confirm(client, page).status_code == 302
    rows = {r.external_id: r.session for r in ImportedSession.objects.select_related("session")}
    assert set(rows) == {"old-1", "old-2", "old-3"}
    one, two, three = rows["old-1"], rows["old-2"], rows["old-3"]
    assert (one.status, one.source, two.source) == (Status.APPROVED, Source.IMPORTED, Source.LEGACY)
    assert three.status == Status.CANCELLED_BY_PARENT
    assert one.scheduled_start == datetime(2025, 3, 4, 15, 0, tzinfo=UTC) and one.course_id is not None
    assert one.checked_in_at is None and one.checked_out_at is None and one.attendance_exempt
    assert not one.deducts_credit and not PackageDeduction.objects.exists()
    events = SessionEvent.objects.filter(session__in=rows.values())
    assert {e.kind for e in events} == {"imported"} and all(e.notified_at for e in events)
    assert events.get(session=one).actor == coordinator and events.get(session=one).data["external_id"] == "old-1"
    assert not Delivery.objects.exists() and not Notification.objects.exists()
    assert ImportedSession.objects.get(external_id="old-1").imported_by == coordinator
    listing = client.get("/admin/desk/importedsession/").content.decode()
    assert f'href="/admin/tutoring_sessions/session/{one.pk}/change/"' in listing


def test_importing_the_same_file_again_adds_nothing(client, coordinator, good_csv):
    """Issue 17 item 6: the external_id is the natural key; a repeated row is skipped."""
    client.force_login(coordinator)
    confirm(client, upload(client, good_csv))
    ids = set(Session.objects.values_list("id", flat=True))
    again = upload(client, good_csv)
    assert "Skip" in again.content.decode() or "skip" in again.content.decode()
    confirm(client, again)
    assert set(Session.objects.values_list("id", flat=True)) == ids and ImportedSession.objects.count() == 3
    changed = good_csv.replace("2025-03-11T17:00:00+01:00", "2025-03-11T17:30:00+01:00")
    body = upload(client, changed).content.decode()
    assert "was imported before as session" in body and "process_import" not in body
    duplicate_in_file = HEADER + ("new-1,tia,sam,2025-04-01T16:00:00+01:00,2025-04-01T17:00:00+01:00,,,\n"
                                  "new-1,tia,sam,2025-04-02T16:00:00+01:00,2025-04-02T17:00:00+01:00,,,\n")
    body = upload(client, duplicate_in_file).content.decode()
    assert "was imported before as session" in body and "process_import" not in body
    assert ImportedSession.objects.count() == 3


def test_only_coordinators_may_import(client, parent, tutor, student, good_csv):
    """Issue 17 item 6: staff without the coordinator role, and everyone else, change nothing."""
    staff = make_user("stan", Role.TUTOR, is_staff=True)
    for who in (staff, parent):
        client.force_login(who)
        response = upload(client, good_csv)
        assert response.status_code in (302, 403)
        assert client.get(IMPORT_URL).status_code in (302, 403)
    assert not Session.objects.exists() and not ImportedSession.objects.exists()


def test_the_lifecycle_refuses_an_import_by_anyone_but_a_coordinator(tutor, student):
    """L29: the one way in checks who imports."""
    with pytest.raises(Refused) as refused:
        lifecycle.import_past_session(by=tutor, tutor_id=tutor.pk, student_id=student.pk,
                                      start=datetime(2025, 1, 1, 9, tzinfo=UTC),
                                      end=datetime(2025, 1, 1, 10, tzinfo=UTC))
    assert refused.value.code == "not_allowed" and not Session.objects.exists()


def test_a_file_that_stopped_fitting_after_its_dry_run_imports_nothing(client, coordinator, good_csv, make_session):
    """Issue 17 item 6: the confirmed run is all or nothing, like the dry run that was shown."""
    client.force_login(coordinator)
    page = upload(client, good_csv)
    # between the check and the confirmation someone records a session in old-2's slot
    make_session(start=datetime(2025, 3, 11, 15, 0, tzinfo=UTC), status=Status.APPROVED)
    response = confirm(client, page)
    assert response.status_code == 302
    assert not ImportedSession.objects.exists() and Session.objects.count() == 1
    shown = client.get(response["Location"]).content.decode()
    assert "nothing was saved" in shown


@pytest.mark.parametrize("course", ["²", "١٢", "0", "-1", "99999999999"])
def test_a_course_that_is_no_number_is_the_rows_problem(client, coordinator, tutor, student, course):
    """"²" passed str.isdigit() and int() refused it: the dry run was a 500. Now the row says so."""
    client.force_login(coordinator)
    text = HEADER + f"c-1,tia,sam,2025-03-04T16:00:00+01:00,2025-03-04T17:00:00+01:00,{course},,\n"
    page = upload(client, text)
    assert page.status_code == 200
    body = page.content.decode()
    assert "The course is its number (or leave it empty)." in body and "process_import" not in body
    assert not ImportedSession.objects.exists()
