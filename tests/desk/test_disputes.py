"""The dispute queue (issue 17 item 3): one admin page per disputed session with the parent's words,
the tutor's notes and summary, attendance and room presence, and the trail; the decision goes
through the lifecycle with a required reason and tells the parent and the tutor; bad input and a
decision someone else made first change nothing."""

from datetime import timedelta

import pytest

from notes.models import Note, Summary, SummaryStatus
from notifications.models import Notification
from sessions import lifecycle
from sessions.models import PackageDeduction, SessionEvent, Status
from tests.conftest import NOW, at_once, make_user
from tests.notifications.conftest import sweep
from tutoring.models import Role

H = timedelta(hours=1)
REASON = "The tutor left after twenty minutes and the room was empty."


@pytest.fixture(autouse=True)
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def disputed(awaiting, parent, tutor, package):
    start = awaiting.scheduled_start
    SessionEvent.objects.create(session=awaiting, actor=tutor, channel="web", kind="room_joined",
                                data={"role": "tutor"}, created_at=start - timedelta(minutes=5))
    SessionEvent.objects.create(session=awaiting, actor=tutor, channel="web", kind="room_left",
                                data={"role": "tutor", "reason": "timed_out"}, created_at=start + timedelta(minutes=20))
    Note.objects.create(session=awaiting, author=tutor, text="Covered fractions; Sam was tired.",
                        created_at=start + H)
    Summary.objects.create(session=awaiting, status=SummaryStatus.READY, version=1, summarized_version=1,
                           data={"engagement": "Low engagement today.", "confidence_level": "medium",
                                 "confidence_notes": "", "learning_patterns": [], "next_steps": []})
    return lifecycle.dispute(awaiting, by=parent, reason=REASON, now=NOW - H)


def url(session) -> str:
    return f"/admin/desk/dispute/{session.pk}/change/"


def test_the_page_shows_the_reason_notes_summary_attendance_presence_and_trail(client, coordinator, disputed):
    """Issue 17 item 3: what the parent wrote, what the tutor wrote, and who was there when."""
    client.force_login(coordinator)
    body = client.get(url(disputed)).content.decode()
    assert REASON in body and "Covered fractions; Sam was tired." in body and "Low engagement today." in body
    assert "Checked in" in body and "Not checked in" not in body
    assert "Tia (tutor)" in body and "(timed out)" in body
    for kind in ("room_joined", "room_left", "dispute"):
        assert f'data-kind="{kind}"' in body
    assert 'name="decision"' in body and 'value="approve_waive"' in body


def test_the_page_reads_in_a_fixed_number_of_queries(client, coordinator, disputed, tutor,
                                                     django_assert_max_num_queries):
    client.force_login(coordinator)
    for i in range(30):
        SessionEvent.objects.create(session=disputed, actor=tutor, channel="web", kind="room_joined",
                                    data={"role": "tutor"}, created_at=NOW - H + timedelta(seconds=i))
    with django_assert_max_num_queries(14):
        assert client.get(url(disputed)).status_code == 200


@pytest.mark.parametrize(("decision", "status", "credits"), [
    ("approve", Status.APPROVED, 1), ("void", Status.NOT_COMPLETED, 0), ("approve_waive", Status.APPROVED, 0)])
def test_a_decision_goes_through_the_lifecycle_and_tells_the_parent_and_the_tutor(
        client, coordinator, disputed, parent, tutor, decision, status, credits):
    """Issue 17 item 3: approve, void, or approve and waive the credit; the coordinator is the actor."""
    client.force_login(coordinator)
    response = client.post(url(disputed), {"decision": decision, "reason": "Room log shows 20 minutes."})
    assert response.status_code == 302 and response["Location"] == "/admin/desk/dispute/"
    disputed.refresh_from_db()
    assert disputed.status == status
    event = disputed.events.get(kind="resolve_dispute")
    assert event.actor == coordinator and event.reason == "Room log shows 20 minutes." and event.channel == "admin"
    assert PackageDeduction.objects.filter(session=disputed).count() == credits
    assert event.data.get("waived", False) == (decision == "approve_waive")
    Notification.objects.all().delete()
    sweep(NOW)
    told = {n.recipient.username: n for n in Notification.objects.filter(kind="resolve_dispute")}
    assert set(told) == {"pat", "tia"}
    assert "Room log shows 20 minutes." in told["pat"].text
    if decision == "approve_waive":
        assert "no lesson credit is used" in told["tia"].text


@pytest.mark.parametrize(("data", "message"), [
    ({"decision": "approve", "reason": ""}, "Please give a reason for the decision."),
    ({"decision": "approve", "reason": "   "}, "Please give a reason for the decision."),
    ({"decision": "approve", "reason": "Fine\x00really"}, "reason"),
    ({"decision": "", "reason": "Checked."}, "Please choose a decision."),
    ({"decision": "approve_all", "reason": "Checked."}, "Select a valid choice"),
])
def test_bad_input_gets_a_clear_message_and_changes_nothing(client, coordinator, disputed, data, message):
    client.force_login(coordinator)
    events = SessionEvent.objects.count()
    response = client.post(url(disputed), data)
    assert response.status_code == 422
    assert message in response.content.decode()
    disputed.refresh_from_db()
    assert disputed.status == Status.DISPUTED and SessionEvent.objects.count() == events


def test_a_dispute_decided_meanwhile_says_who_decided_and_changes_nothing(client, coordinator, disputed):
    """Issue 17 item 3: the second coordinator's form was loaded before the first decided."""
    other = make_user("cora", Role.COORDINATOR, is_staff=True)
    client.force_login(coordinator)
    assert 'name="decision"' in client.get(url(disputed)).content.decode()
    lifecycle.resolve_dispute(disputed, by=other, decision="void", reason="Empty room.")
    response = client.post(url(disputed), {"decision": "approve", "reason": "Looks fine."})
    assert response.status_code == 409
    body = response.content.decode()
    assert "Cora already decided this dispute (voided it). Nothing was changed." in body
    disputed.refresh_from_db()
    assert disputed.status == Status.NOT_COMPLETED and disputed.events.filter(kind="resolve_dispute").count() == 1
    assert 'name="decision"' not in body and "Decided by Cora" in body


@pytest.mark.django_db(transaction=True)
def test_two_coordinators_deciding_at_once_one_wins_the_other_is_told(awaiting, parent, coordinator, package):
    """Issue 17 item 3: the row lock serialises them; exactly one decision is recorded."""
    from desk import disputes
    from sessions.errors import Refused

    lifecycle.dispute(awaiting, by=parent, reason=REASON, now=NOW - H)
    other = make_user("cora", Role.COORDINATOR, is_staff=True)
    people = iter([coordinator, other])

    def decide():
        by = next(people)
        try:
            disputes.resolve(awaiting.pk, by=by, decision="approve", reason=f"Decided by {by.username}.")
            return "won"
        except Refused as exc:
            return exc.message

    results = at_once(decide)
    assert results.count("won") == 1
    lost = next(r for r in results if r != "won")
    assert "already decided this dispute (approved it). Nothing was changed." in lost
    assert awaiting.events.filter(kind="resolve_dispute").count() == 1
    assert PackageDeduction.objects.filter(session=awaiting).count() == 1


def test_the_queue_lists_disputes_oldest_first_and_the_session_page_links_to_its_dispute(client, coordinator,
                                                                                       disputed, make_session):
    older = make_session(start=NOW - timedelta(days=9), status=Status.DISPUTED)
    make_session(start=NOW - timedelta(days=8), status=Status.APPROVED)
    client.force_login(coordinator)
    body = client.get("/admin/desk/dispute/").content.decode()
    assert body.index(f"/admin/desk/dispute/{older.pk}/change/") < body.index(url(disputed))
    assert REASON[:40] in body
    session_page = client.get(f"/admin/tutoring_sessions/session/{disputed.pk}/change/").content.decode()
    assert f'href="{url(disputed)}"' in session_page
    assert f'href="/admin/desk/dispute/audit/session/{disputed.pk}/"' in session_page


def test_outsiders_get_403_or_404_and_change_nothing(client, disputed, outsider, parent, creator):
    """Every page and the decision: a parent, a creator, a staff member who is no coordinator."""
    staff = make_user("stan", Role.CREATOR, is_staff=True)
    for who in (outsider, parent, creator, staff):
        client.force_login(who)
        get = client.get(url(disputed))
        post = client.post(url(disputed), {"decision": "void", "reason": "Nope."})
        assert get.status_code in (302, 403, 404) and post.status_code in (302, 403, 404)
        if get.status_code == 302:
            assert "/login/" in get["Location"]
    disputed.refresh_from_db()
    assert disputed.status == Status.DISPUTED and not disputed.events.filter(kind="resolve_dispute").exists()


def test_an_unknown_session_is_404(client, coordinator):
    client.force_login(coordinator)
    assert client.get("/admin/desk/dispute/999999/change/").status_code == 404
    assert client.get("/admin/desk/dispute/abc/change/").status_code == 404


def test_the_queue_reads_in_a_fixed_number_of_queries(client, coordinator, make_session, parent,
                                                     django_assert_max_num_queries):
    client.force_login(coordinator)
    counts = []
    for n in (2, 25):
        made = len(list(SessionEvent.objects.filter(kind="dispute")))
        for i in range(made, n):
            start = NOW - timedelta(days=30 + i)
            s = make_session(start=start, status=Status.AWAITING_APPROVAL_PARENT, checked_in_at=start,
                             checked_out_at=start + H)
            lifecycle.dispute(s, by=parent, reason=f"Dispute number {i}: the lesson was cut short.", now=NOW)
        with django_assert_max_num_queries(12) as ctx:
            body = client.get("/admin/desk/dispute/").content.decode()
        counts.append(len(ctx.captured_queries))
        assert body.count("the lesson was cut short.") == n
    assert counts[0] == counts[1]
