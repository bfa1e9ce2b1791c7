"""The parent's child sessions page (/family/): tabs, child filter, steering, cards, answers first."""

from datetime import timedelta

import pytest

from notes.models import Attachment, Note, Summary
from sessions import lifecycle
from sessions.models import Session, Status
from tests.conftest import NOW


@pytest.fixture(autouse=True)
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def pat(client, parent):
    client.force_login(parent)
    return client


def test_it_shows_the_next_7_days_under_upcoming(pat, make_session):
    make_session(start=NOW + timedelta(days=2))
    make_session(start=NOW + timedelta(days=10))
    r = pat.get("/family/")
    assert r.status_code == 200
    body = r.content.decode()
    assert "Wed 18 Nov 10:00 (Europe/London)" in body
    assert "Thu 26 Nov" not in body


def test_it_shows_later_sessions_under_future_and_ended_ones_under_past(pat, make_session):
    make_session(start=NOW + timedelta(days=10))
    make_session(start=NOW - timedelta(days=3), status=Status.APPROVED, checked_in_at=NOW - timedelta(days=3),
                 checked_out_at=NOW - timedelta(days=3, minutes=-60))
    future = pat.get("/family/?tab=future").content.decode()
    assert "Thu 26 Nov 10:00 (Europe/London)" in future and "Fri 13 Nov" not in future
    past = pat.get("/family/?tab=past").content.decode()
    assert "Fri 13 Nov 10:00 (Europe/London)" in past and "Acknowledged" in past


def test_it_names_child_tutor_course_and_zone_in_each_card(pat, make_session):
    """L02, L31: the card shows the child, tutor, course, local time with the zone, the parent's label."""
    make_session(start=NOW + timedelta(days=2))
    body = pat.get("/family/").content.decode()
    assert "Sam with Tia" in body and "Algebra I" in body and "(Europe/London)" in body
    assert ">Scheduled<" in body


def test_it_filters_by_child(pat, make_session, sibling):
    make_session(start=NOW + timedelta(days=1))
    make_session(start=NOW + timedelta(days=2), student=sibling)
    both = pat.get("/family/").content.decode()
    assert "Sam with Tia" in both and "Sue with Tia" in both
    only_sue = pat.get(f"/family/?child={sibling.id}").content.decode()
    assert "Sue with Tia" in only_sue and "Sam with Tia" not in only_sue


def test_it_steers_a_filtered_parent_from_an_empty_upcoming_tab_to_future(pat, make_session, student,
                                                                           sibling):
    """L33: Upcoming is empty for Sam while his actionable session is beyond 7 days: Future is shown."""
    make_session(start=NOW + timedelta(days=1), student=sibling)
    make_session(start=NOW + timedelta(days=12))
    body = pat.get(f"/family/?child={student.id}").content.decode()
    assert "showing the Future tab" in body
    assert f'href="?tab=future&amp;child={student.id}" aria-current="page"' in body
    assert "Sat 28 Nov 10:00 (Europe/London)" in body


def test_it_does_not_steer_when_the_tab_was_chosen(pat, make_session, student):
    """L33: an explicit Upcoming choice stays on Upcoming."""
    make_session(start=NOW + timedelta(days=12))
    body = pat.get(f"/family/?child={student.id}&tab=upcoming").content.decode()
    assert "showing the Future tab" not in body and "No sessions here." in body


def test_it_does_not_steer_to_a_future_without_an_actionable_session(pat, make_session, student):
    """L33: only a real actionable (scheduled) session beyond 7 days steers."""
    make_session(start=NOW + timedelta(days=12), status=Status.CANCELLED_BY_TUTOR)
    body = pat.get(f"/family/?child={student.id}").content.decode()
    assert "showing the Future tab" not in body


def test_it_puts_sessions_awaiting_acknowledgement_first(pat, awaiting, make_session):
    """L24, L25: after check-out the parent sees Awaiting Your Acknowledgement under Needs your answer,
    with acknowledge and dispute."""
    make_session(start=NOW + timedelta(days=1))
    body = pat.get("/family/").content.decode()
    needs = body.index("Needs your answer")
    assert needs < body.index("Awaiting Your Acknowledgement") < body.index('aria-label="Which sessions"')
    assert f"/sessions/{awaiting.id}/acknowledge/" in body and f"/sessions/{awaiting.id}/dispute/" in body
    assert body.count(f'id="session-{awaiting.id}"') == 1


def test_it_shows_the_tutors_proposal_with_its_versions_and_answers(pat, session, tutor, parent, reasons):
    """L39: the parent answers the tutor's proposal: accept, decline with a reason, or counter-propose;
    the thread's versions are listed."""
    first = lifecycle.propose_reschedule(session, by=tutor, proposed_start=NOW + timedelta(days=3),
                                         reason_id=reasons[("tutor", "reschedule")].id, now=NOW)
    lifecycle.counter_reschedule(session, first.id, by=parent, proposed_start=NOW + timedelta(days=4),
                                 now=NOW)
    second = session.reschedule_threads.get().proposals.get(version=2)
    lifecycle.counter_reschedule(session, second.id, by=tutor, proposed_start=NOW + timedelta(days=5),
                                 now=NOW)
    body = pat.get("/family/").content.decode()
    assert "Needs your answer" in body
    assert "Proposed by Tia on Mon 16 Nov" in body and "Your counter-proposal" in body
    assert "Tia&#x27;s counter-proposal" in body and "v1 by" not in body
    for action in ("accept", "reject", "counter"):
        assert f"/sessions/{session.id}/reschedule/{action}/" in body
    assert f"/sessions/{session.id}/reschedule/withdraw/" not in body


def test_it_shows_why_cancel_and_reschedule_are_missing_within_4_hours(pat, make_session):
    """L32: within 4 hours there is no cancel or reschedule, and the card says why."""
    s = make_session(start=NOW + timedelta(hours=3))
    body = pat.get("/family/").content.decode()
    assert "Online changes close 4 hours before the start: message your coordinator." in body
    assert f"/sessions/{s.id}/cancel/" not in body and f"/sessions/{s.id}/reschedule/" not in body


def test_it_offers_cancel_and_reschedule_with_the_parents_reasons(pat, session, reasons):
    """L31, L36, L42: the parent's page offers both, with the parent's reschedule reasons (trial too)."""
    Session.objects.filter(pk=session.pk).update(is_trial=True)
    body = pat.get("/family/").content.decode()
    assert f"/sessions/{session.id}/cancel/" in body and f"/sessions/{session.id}/reschedule/" in body
    assert f'<option value="{reasons[("parent", "reschedule")].id}">' in body
    assert f'<option value="{reasons[("tutor", "reschedule")].id}">' not in body
    assert "Ends 60 minutes later" in body and "Trial" in body


def test_an_outsider_sees_none_of_the_family(client, outsider, make_session):
    make_session(start=NOW + timedelta(days=1))
    client.force_login(outsider)
    body = client.get("/family/").content.decode()
    assert "Sam with Tia" not in body


def test_it_requires_sign_in(client, db):
    r = client.get("/family/")
    assert r.status_code == 302 and "/accounts/login/" in r["Location"]



@pytest.mark.parametrize("n", [5, 500])
def test_it_runs_the_same_number_of_queries_for_5_or_500_sessions(pat, n, tutor, student, sibling, course,
                                                                     reasons, django_assert_max_num_queries):
    """The page's queries do not grow with the family's sessions (every tab, with answers waiting)."""
    rows = []
    for i in range(n):
        start = NOW + timedelta(hours=5 + 2 * i) if i % 3 else NOW - timedelta(days=1, hours=2 * i)
        status = Status.SCHEDULED if i % 3 else Status.AWAITING_APPROVAL_PARENT
        done = not i % 3
        rows.append(Session(tutor=tutor, student=student if i % 2 else sibling, course=course,
                            scheduled_start=start, scheduled_end=start + timedelta(hours=1), status=status,
                            checked_in_at=start if done else None,
                            checked_out_at=start + timedelta(hours=1) if done else None))
    Session.objects.bulk_create(rows)
    # every session awaiting the parent carries notes with two attachments and a summary
    done = [s for s in rows if s.status == Status.AWAITING_APPROVAL_PARENT]
    notes = Note.objects.bulk_create([Note(session=s, author=tutor, text="Notes.") for s in done])
    Attachment.objects.bulk_create([
        Attachment(note=note, kind=kind, storage_name=f"notes/{note.session_id}/{kind}", original_name=kind,
                   content_type="application/pdf", size=1, sha256="0" * 64)
        for note in notes for kind in ("photo", "document")])
    Summary.objects.bulk_create([Summary(session=s, version=1) for s in done])
    # the notes add three queries to each list of cards (notes, attachments, authors' users are joined);
    # the outcomes (who decided what) and the parents to message one each (issue 10)
    for tab in ("upcoming", "future", "past"):
        with django_assert_max_num_queries(20):
            assert pat.get(f"/family/?tab={tab}").status_code == 200
    with django_assert_max_num_queries(20):
        assert pat.get(f"/family/?child={student.id}").status_code == 200


@pytest.mark.parametrize("url", ["/family/", "/teach/", "/learn/"])
def test_pages_are_never_cached_so_back_shows_the_current_state(client, parent, url):
    """Item 5: after an in-place action, Back re-fetches the page instead of showing the old card."""
    client.force_login(parent)
    response = client.get(url)
    assert "no-store" in response.headers.get("Cache-Control", "")
