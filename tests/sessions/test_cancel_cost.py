"""Issue 10 item 6: a cancellation penalty is shown as what it costs — credits of the student's
lesson package, and an amount where the package has a price — on the web card, in the cancel
confirmation and in the API's guidance; the waiver reminder only when a penalty applies."""

import importlib
import re
from datetime import timedelta
from decimal import Decimal
from html import unescape

import pytest
from django.core.exceptions import ValidationError

from sessions import lifecycle
from sessions.models import CancellationPolicy
from tests.conftest import NOW
from tutoring.models import LessonPackage

HTMX = {"HTTP_HX_REQUEST": "true"}
NOT_DEDUCTED = ", invoiced separately, no credit deducted from the package"


@pytest.fixture(autouse=True)
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def priced(package):
    package.price, package.currency = Decimal("400.00"), "EUR"
    package.save()
    return package


def card(client, user, session) -> str:
    client.force_login(user)
    html = client.get(f"/sessions/{session.id}/cancel/?as_role=parent", **HTMX).content.decode()
    return " ".join(unescape(re.sub(r"<[^>]+>", "", html)).split())  # the words as read


def test_the_card_says_what_cancelling_costs_in_credits_and_money(client, parent, make_session, policies, priced,
                                                                   settings):
    """L37: the half-lesson band costs half a credit of the 10-lesson package priced €400."""
    half = make_session(start=NOW + timedelta(hours=30))
    body = card(client, parent, half)
    assert "If you cancel now: 50% of the lesson. Penalty guidance: cancelling now is charged 0.5 of a credit " \
           "(€20.00) of the 10-lesson package, invoiced separately, no credit deducted from the package." in body
    assert settings.COORDINATOR_WAIVER_REMINDER in body
    full = make_session(start=NOW + timedelta(hours=10))
    assert ("Penalty guidance: cancelling now is charged 1 credit (€40.00) of the 10-lesson package, invoiced "
            "separately, no credit deducted from the package.") in card(client, parent, full)


def test_an_unpriced_package_shows_credits_only(client, parent, make_session, policies, package):
    body = card(client, parent, make_session(start=NOW + timedelta(hours=30)))
    assert ("Penalty guidance: cancelling now is charged 0.5 of a credit of the 10-lesson package, invoiced "
            "separately, no credit deducted from the package.") in body
    assert "€" not in body


def test_no_charge_says_no_cost_and_no_waiver(client, parent, make_session, policies, priced, settings):
    body = card(client, parent, make_session(start=NOW + timedelta(days=5)))
    assert "If you cancel now: No charge." in body
    assert "Penalty guidance" not in body and settings.COORDINATOR_WAIVER_REMINDER not in body


def test_the_package_is_the_one_approval_would_use(parent, make_session, policies, priced, student):
    """The soonest-expiring valid package with credit left; a cheaper 5-lesson one expiring sooner wins."""
    LessonPackage.objects.create(student=student, credits=5, price=Decimal("150"), currency="GBP",
                                 expires_on=(NOW + timedelta(days=30)).date())
    g = lifecycle.cancellation_guidance(make_session(start=NOW + timedelta(hours=30)), by=parent, now=NOW)
    assert g["cost"] == ("Penalty guidance: cancelling now is charged 0.5 of a credit (£15.00) of the 5-lesson "
                         "package, invoiced separately, no credit deducted from the package.")
    assert (g["charge_percent"], g["cost_credits"], g["cost_amount"]) == (50, "0.5", "£15.00")


def test_a_tutors_strike_is_a_penalty_but_no_cost_to_the_package(tutor, make_session, policies, priced):
    g = lifecycle.cancellation_guidance(make_session(start=NOW + timedelta(hours=30)), by=tutor, now=NOW)
    assert g["penalty"] == "Reliability strike" and g["charged"] and g["cost"] is None


def test_without_a_package_the_cost_is_still_said_in_credits(parent, make_session, policies):
    g = lifecycle.cancellation_guidance(make_session(start=NOW + timedelta(hours=30)), by=parent, now=NOW)
    assert g["cost"] == ("Penalty guidance: cancelling now is charged 0.5 of a credit of a lesson package, "
                         "invoiced separately, no credit deducted from the package.")


def test_the_confirmation_and_the_outcome_line_restate_the_cost(client, parent, make_session, reasons, policies,
                                                                priced):
    s = make_session(start=NOW + timedelta(hours=30))
    client.force_login(parent)
    r = client.post(f"/sessions/{s.id}/cancel/", {"reason_id": reasons[("parent", "cancel")].id,
                                                  "policy_id": policies["parent_half"].id, "confirm": "1",
                                                  "as_role": "parent"}, **HTMX)
    body = unescape(r.content.decode())
    assert f"Session cancelled. Charge: 50% of the lesson: 0.5 of a credit (€20.00){NOT_DEDUCTED}." in body
    assert f"(Schedule conflict). Charge: 50% of the lesson: 0.5 of a credit (€20.00){NOT_DEDUCTED}." in body


def test_the_api_guidance_has_the_cost_fields(client, parent, make_session, policies, priced):
    s = make_session(start=NOW + timedelta(hours=30))
    client.force_login(parent)
    g = client.get(f"/api/sessions/{s.id}/cancellation-guidance").json()
    assert g["charged"] is True and g["charge_percent"] == 50
    assert g["cost"] == ("Penalty guidance: cancelling now is charged 0.5 of a credit (€20.00) of the 10-lesson "
                         "package, invoiced separately, no credit deducted from the package.")
    assert (g["cost_credits"], g["cost_amount"]) == ("0.5", "€20.00")
    free = client.get(f"/api/sessions/{make_session(start=NOW + timedelta(days=5)).id}/cancellation-guidance").json()
    assert (free["charged"], free["cost"], free["cost_amount"]) == (False, None, None)


def test_a_charge_over_100_percent_and_a_bad_currency_are_refused(student):
    with pytest.raises(ValidationError, match="charge_percent"):
        CancellationPolicy(role="parent", min_hours_before=1, penalty="x", guidance="x",
                           charge_percent=101).full_clean()
    with pytest.raises(ValidationError, match="three-letter ISO code"):
        LessonPackage(student=student, credits=1, expires_on=NOW.date(), price=Decimal("1"),
                      currency="euro").full_clean()


@pytest.mark.parametrize(("text", "percent"), [
    ("No charge", 0), ("No penalty", 0), ("Free", 0), ("Reliability strike", 0), ("50% of the lesson", 50),
    ("25 % of the lesson", 25), ("Full lesson", 100), ("Half the lesson", 50), ("150%", 100),
])
def test_the_migration_reads_the_charge_from_the_old_text(text, percent):
    migration = importlib.import_module("sessions.migrations.0004_policy_charge_percent")
    assert migration.percent_from_text(text) == percent
