"""Packages and billing (issue 17 item 5): a student's statement (credits, expiry, the ledger, add-ons
apart: spec 004 L30), the invoicing CSV of a period in the viewer's zone, and the low-balance alert
sent once, even when triggered twice at the same moment."""

import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from desk import billing
from desk.models import LowBalanceAlert
from notifications.models import Delivery, Notification
from sessions import lifecycle
from sessions.models import PackageDeduction, Status
from tests.conftest import NOW, at_once, make_user
from tutoring.models import LessonPackage, Role

H = timedelta(hours=1)


@pytest.fixture(autouse=True)
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def new_yorker(coordinator):
    coordinator.time_zone = "America/New_York"
    coordinator.save()
    return coordinator


@pytest.fixture
def october(make_session, student, course, reasons, policies, coordinator):
    """October 2026 as seen from New York: an approved session paid by a priced package, an add-on,
    a trial, a parent's late cancellation with a penalty; and sessions just outside the month."""
    package = LessonPackage.objects.create(student=student, credits=10, expires_on=date(2027, 6, 30),
                                           price=Decimal("400.00"), currency="EUR")
    s = {}
    # 2026-11-01 02:30 UTC is 31 October 22:30 in New York: October for this viewer
    s["paid"] = make_session(start=datetime(2026, 11, 1, 2, 30, tzinfo=UTC), status=Status.APPROVED)
    PackageDeduction.objects.create(package=package, session=s["paid"], created_at=s["paid"].scheduled_start)
    s["addon"] = make_session(start=datetime(2026, 10, 12, 15, 0, tzinfo=UTC), minutes=30, status=Status.APPROVED,
                              billed_as_addon=True)
    s["trial"] = make_session(start=datetime(2026, 10, 5, 15, 0, tzinfo=UTC), status=Status.APPROVED, is_trial=True)
    s["september"] = make_session(start=datetime(2026, 10, 1, 3, 0, tzinfo=UTC), status=Status.APPROVED)  # 30 Sep NY
    s["november"] = make_session(start=datetime(2026, 11, 1, 5, 0, tzinfo=UTC), status=Status.APPROVED)  # 1 Nov NY
    s["waiting"] = make_session(start=datetime(2026, 10, 20, 15, 0, tzinfo=UTC),
                                status=Status.AWAITING_APPROVAL_PARENT)
    s["cancelled"] = make_session(start=datetime(2026, 10, 22, 15, 0, tzinfo=UTC))
    parent = student.guardian_links.get().parent
    guidance = lifecycle.cancellation_guidance(s["cancelled"], by=parent, now=datetime(2026, 10, 22, 5, 0, tzinfo=UTC))
    lifecycle.cancel(s["cancelled"].pk, by=parent, reason_id=reasons[("parent", "cancel")].pk,
                     policy_id=guidance["policy_id"], now=datetime(2026, 10, 22, 5, 0, tzinfo=UTC))
    return s, package


def export(client, **params):
    answer = client.get("/admin/desk/billing/", params)
    assert answer.status_code == 200, answer.content[:2000]
    assert answer["Content-Type"] == "text/csv"
    return list(csv.reader(io.StringIO(b"".join(answer.streaming_content).decode())))


def test_the_csv_lists_a_months_approved_sessions_add_ons_and_penalties_in_the_viewers_zone(client, new_yorker,
                                                                                              october):
    """Issue 17 item 5, L30: add-ons are their own rows and total; the month is the coordinator's own."""
    s, package = october
    client.force_login(new_yorker)
    rows = export(client, month="2026-10")
    assert rows[0] == billing.HEADER
    by_type = [(r[0], r[1]) for r in rows[1:]]
    assert by_type == [
        ("session", str(s["trial"].pk)), ("add-on", str(s["addon"].pk)), ("session", str(s["paid"].pk)),
        ("penalty", str(s["cancelled"].pk)),
        ("total sessions", "2"), ("total add-ons", "1"), ("total penalties", "1")]
    paid = rows[3]
    assert paid[2:7] == ["2026-10-31", "22:30", "60", "Sam", "Tia"]
    assert paid[7:12] == ["Algebra I", str(package.pk), "1", "40.00", "EUR"]
    assert rows[1][-1] == "trial" and rows[1][9] == "0"
    assert rows[2][4] == "30" and rows[2][9] == "0"  # the add-on uses no credit
    penalty = rows[4]
    # the lesson's day and time (11:00 in New York) and the package's columns, as a session row;
    # when it was cancelled (01:00 in New York) in the note
    assert penalty[2:5] == ["2026-10-22", "11:00", "60"]
    assert penalty[8:12] == [str(package.pk), "1", "40.00", "EUR"]
    assert penalty[12] == "Full lesson (parent cancelled 2026-10-22 01:00)"
    assert rows[5][9] == "1" and rows[7][9] == "1"


@pytest.mark.parametrize("text", [" =1+1", "\t@SUM(1)", "+1", "-1", "@x", "\r=2"], ids=repr)
def test_the_csv_neutralises_formulas_even_after_spaces_or_tabs(client, new_yorker, october, student, tutor, text):
    """Issue 11 item 6: spreadsheets skip leading spaces and tabs, so " =1+1" is a formula too; the
    invoicing CSV uses the same guard as every CSV (tutoring.spreadsheet)."""
    student.name, tutor.name = text, text
    student.save()
    tutor.save()
    client.force_login(new_yorker)
    rows = export(client, month="2026-10")
    for row in rows[1:5]:
        assert row[5:7] == ["'" + text, "'" + text], row


def test_a_waived_penalty_is_listed_as_owing_nothing(client, new_yorker, october):
    """Issue 17 items 4 and 5: after lifecycle.waive_penalty the invoicing CSV keeps the row (what
    happened) but charges no credit and no amount, and says it was waived."""
    s, _ = october
    lifecycle.waive_penalty(s["cancelled"], by=new_yorker, reason="Family emergency, agreed by phone")
    client.force_login(new_yorker)
    rows = export(client, month="2026-10")
    penalty = next(r for r in rows if r[0] == "penalty")
    assert penalty[9] == "0" and penalty[10] == "0.00"
    assert penalty[12] == "Full lesson (parent cancelled 2026-10-22 01:00, waived)"
    assert next(r for r in rows if r[0] == "total penalties")[9] == "0"


def test_the_csv_of_chosen_dates_and_bad_periods(client, new_yorker, october):
    s, _ = october
    client.force_login(new_yorker)
    rows = export(client, first="2026-11-01", last="2026-11-01")
    assert [(r[0], r[1]) for r in rows[1:2]] == [("session", str(s["november"].pk))]
    for params, message in (({"month": "2026-13"}, "Write the month as YYYY-MM"),
                            ({"first": "2026-11-02", "last": "2026-11-01"}, "must not be before"),
                            ({"first": "2026-11-02"}, "Choose a month, or a first and a last day"),
                            ({"first": "1999-01-01", "last": "2026-01-01"}, "between the years 2000 and 2100")):
        answer = client.get("/admin/desk/billing/", params)
        assert answer.status_code == 422 and message in answer.content.decode(), params


def test_billing_pages_are_for_coordinators_only(client, october, parent, student):
    staff = make_user("stan", Role.TUTOR, is_staff=True)
    client.force_login(staff)
    assert client.get("/admin/desk/billing/", {"month": "2026-10"}).status_code == 403
    assert client.get(f"/admin/desk/billing/student/{student.pk}/").status_code == 403
    client.force_login(parent)
    answer = client.get("/admin/desk/billing/", {"month": "2026-10"})
    assert answer.status_code == 302 and "/admin/login/" in answer["Location"]


def test_a_students_statement_shows_the_ledger_and_add_ons_apart(client, coordinator, october, student, parent,
                                                                  django_assert_max_num_queries):
    """Issue 17 item 5: credits, expiry, used and remaining per package, its ledger, add-ons totalled apart."""
    s, package = october
    client.force_login(coordinator)
    with django_assert_max_num_queries(10):
        page = client.get(f"/admin/desk/billing/student/{student.pk}/")
    body = page.content.decode()
    assert page.status_code == 200
    assert f"Package {package.pk}" in body and '<span class="used">1</span>' in body
    assert '<span class="remaining">9</span>' in body and f"Session {s['paid'].pk}" in body
    assert "1 approved add-on session, 30 minutes in all." in body
    assert client.get(f"/admin/desk/billing/student/{parent.pk}/").status_code == 404
    listing = client.get("/admin/tutoring/lessonpackage/").content.decode()
    assert f'href="/admin/desk/billing/student/{student.pk}/"' in listing


# --- the low-balance alert --------------------------------------------------------------------


def use_credits(package, n, make_session):
    for i in range(n):
        done = make_session(start=NOW - timedelta(days=30 + i), status=Status.APPROVED)
        PackageDeduction.objects.create(package=package, session=done, created_at=NOW)


def test_the_alert_goes_when_an_approval_reaches_the_threshold(package, make_session, parent, coordinator,
                                                               awaiting, settings, django_capture_on_commit_callbacks):
    """Issue 17 item 5: the parent's acknowledgement uses the credit that leaves 2: the parent and the
    coordinators are told (in the app here), once."""
    settings.LOW_BALANCE_CREDITS = 2
    use_credits(package, 7, make_session)
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.acknowledge(awaiting.pk, by=parent, now=NOW)
    alert = LowBalanceAlert.objects.get()
    assert (alert.package_id, alert.remaining) == (package.pk, 2)
    notes = {n.recipient_id: n for n in Notification.objects.filter(kind__in=["low_balance", "low_balance_desk"])}
    assert set(notes) == {parent.pk, coordinator.pk}
    assert "Sam's 10-lesson package" in notes[parent.pk].text and "2 lessons left" in notes[parent.pk].text
    assert notes[coordinator.pk].url == f"/admin/tutoring/lessonpackage/{package.pk}/change/"
    # the next approval (1 left) sends nothing more
    later = make_session(start=NOW - 2 * H, status=Status.AWAITING_APPROVAL_PARENT, checked_in_at=NOW - 2 * H,
                         checked_out_at=NOW - H)
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.acknowledge(later.pk, by=parent, now=NOW)
    assert LowBalanceAlert.objects.count() == 1
    assert Notification.objects.filter(kind__in=["low_balance", "low_balance_desk"]).count() == 2


def test_no_alert_above_the_threshold_or_for_an_expired_package(package, make_session, student, settings):
    settings.LOW_BALANCE_CREDITS = 2
    use_credits(package, 7, make_session)  # 3 left
    assert billing.alert_low_balance(package.pk, now=NOW) is False
    expired = LessonPackage.objects.create(student=student, credits=1, expires_on=(NOW - timedelta(days=1)).date())
    assert billing.alert_low_balance(expired.pk, now=NOW) is False
    assert billing.alert_low_balance(999999, now=NOW) is False
    assert not LowBalanceAlert.objects.exists() and not Delivery.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_alert_is_sent_once_when_triggered_twice_at_the_same_moment(package, make_session, parent,
                                                                        coordinator, settings):
    """Issue 17 item 5: two workers alert the same package at once: one row, one delivery per person
    and channel (the second insert waits for the first, then finds it)."""
    settings.LOW_BALANCE_CREDITS = 2
    use_credits(package, 8, make_session)
    results = at_once(lambda: billing.alert_low_balance(package.pk, now=NOW))
    assert sorted(results) == [False, True]
    assert LowBalanceAlert.objects.count() == 1
    rows = list(Delivery.objects.filter(source=f"low_balance:{package.pk}").values_list("recipient_id", "channel"))
    assert len(rows) == len(set(rows)) and {r for r, _ in rows} == {parent.pk, coordinator.pk}
    # beat's sweep finds nothing left to send
    assert billing.sweep_low_balances(now=NOW) == 0
    assert Delivery.objects.filter(source=f"low_balance:{package.pk}").count() == len(rows)


def test_the_sweep_sends_what_a_lost_publish_missed(package, make_session, student, settings):
    settings.LOW_BALANCE_CREDITS = 2
    use_credits(package, 9, make_session)  # deducted NOW
    old = LessonPackage.objects.create(student=student, credits=1, expires_on=package.expires_on)
    done = make_session(start=NOW - timedelta(days=60), status=Status.APPROVED)
    PackageDeduction.objects.create(package=old, session=done, created_at=NOW - timedelta(days=2))
    assert billing.sweep_low_balances(now=NOW) == 1  # the old deduction's package stays quiet
    assert billing.sweep_low_balances(now=NOW) == 0
    assert LowBalanceAlert.objects.get().remaining == 1
