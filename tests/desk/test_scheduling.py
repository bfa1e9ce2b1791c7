"""Scheduling from matches (issue 17 item 2; spec 004 L03 "auto-created on match acceptance"): a
weekly pattern in the tutor's zone across DST changes, conflicts listed before anything is written,
changing or ending a pattern touching only untouched future sessions, the API's accept, and the
session admin's add page through the lifecycle."""

import json
from datetime import UTC, date, datetime, time, timedelta

import pytest

from desk import patterns
from desk.models import PatternSession, WeeklyPattern
from sessions import lifecycle
from sessions.errors import Refused
from sessions.models import Session, SessionEvent, Status
from tests.conftest import make_user, post_json
from tutoring.models import Match, MatchState, Role

# Saturday 2027-03-13 09:00 UTC: Europe/Prague moves to summer time on Sunday 2027-03-28
BEFORE_SPRING = datetime(2027, 3, 13, 9, 0, tzinfo=UTC)
# Saturday 2026-10-10 09:00 UTC: Europe/Prague moves back to winter time on Sunday 2026-10-25
BEFORE_AUTUMN = datetime(2026, 10, 10, 9, 0, tzinfo=UTC)


@pytest.fixture
def prague_tutor(db, student):
    tutor = make_user("pavel", Role.TUTOR, tz="Europe/Prague")
    return tutor


@pytest.fixture
def proposed(prague_tutor, student):
    return Match.objects.create(tutor=prague_tutor, student=student, state=MatchState.PROPOSED, accepted_at=None,
                                active=False)


def mondays(start_on: date, weeks: int, at: time = time(16, 0), minutes: int = 60) -> patterns.PatternInput:
    return patterns.PatternInput(weekdays=(0,), start_time=at, minutes=minutes, starts_on=start_on, weeks=weeks)


def starts(match) -> list[datetime]:
    return list(Session.objects.filter(tutor=match.tutor, student=match.student).order_by("scheduled_start")
                .values_list("scheduled_start", flat=True))


def test_a_weekly_pattern_keeps_the_local_time_across_the_spring_dst_change(proposed, coordinator):
    """Issue 17 item 2, L03: 16:00 in Prague every Monday is 15:00 UTC before 28 March and 14:00 UTC after."""
    pattern, created, plan = patterns.accept_match(proposed.pk, by=coordinator, spec=mondays(date(2027, 3, 15), 3),
                                                   now=BEFORE_SPRING)
    assert [s.scheduled_start for s in created] == [
        datetime(2027, 3, 15, 15, 0, tzinfo=UTC), datetime(2027, 3, 22, 15, 0, tzinfo=UTC),
        datetime(2027, 3, 29, 14, 0, tzinfo=UTC)]
    assert {s.status for s in created} == {Status.SCHEDULED}
    assert all(s.scheduled_end - s.scheduled_start == timedelta(hours=1) for s in created)
    assert pattern.time_zone == "Europe/Prague" and plan.conflicts == []
    proposed.refresh_from_db()
    assert proposed.state == MatchState.ACCEPTED and proposed.active and proposed.accepted_at == BEFORE_SPRING
    assert PatternSession.objects.filter(pattern=pattern).count() == 3
    assert set(SessionEvent.objects.filter(session__in=created).values_list("kind", "channel")) == {("created", "admin")}


def test_a_weekly_pattern_keeps_the_local_time_across_the_autumn_dst_change(proposed, coordinator):
    """Issue 17 item 2: after 25 October 16:00 in Prague is 15:00 UTC again."""
    _, created, _ = patterns.accept_match(proposed.pk, by=coordinator, spec=mondays(date(2026, 10, 19), 2),
                                          now=BEFORE_AUTUMN)
    assert [s.scheduled_start for s in created] == [datetime(2026, 10, 19, 14, 0, tzinfo=UTC),
                                                   datetime(2026, 10, 26, 15, 0, tzinfo=UTC)]


def test_until_the_credits_are_planned(proposed, coordinator, student):
    """Issue 17 item 2: without a number of weeks, one session per remaining lesson credit."""
    from tutoring.models import LessonPackage

    LessonPackage.objects.create(student=student, credits=3, expires_on=date(2027, 12, 31))
    spec = patterns.PatternInput(weekdays=(0, 3), start_time=time(16, 0), minutes=45, starts_on=date(2027, 3, 15))
    _, created, _ = patterns.accept_match(proposed.pk, by=coordinator, spec=spec, now=BEFORE_SPRING)
    assert [s.scheduled_start.date() for s in created] == [date(2027, 3, 15), date(2027, 3, 18), date(2027, 3, 22)]


@pytest.fixture
def clashes(proposed, make_session, tutor, sibling):
    """The tutor is busy on the first Monday; the student has another tutor's session on the second."""
    tutor_busy = Session.objects.create(tutor=proposed.tutor, student=sibling,
                                        scheduled_start=datetime(2027, 3, 15, 15, 30, tzinfo=UTC),
                                        scheduled_end=datetime(2027, 3, 15, 16, 30, tzinfo=UTC))
    student_busy = make_session(start=datetime(2027, 3, 22, 14, 30, tzinfo=UTC))
    return tutor_busy, student_busy


def test_conflicts_are_listed_before_anything_is_written(proposed, coordinator, clashes):
    """Issue 17 item 2: the tutor's and the student's clashes are listed; nothing is written until confirmed."""
    tutor_busy, student_busy = clashes
    before = Session.objects.count()
    with pytest.raises(Refused) as refused:
        patterns.accept_match(proposed.pk, by=coordinator, spec=mondays(date(2027, 3, 15), 3), now=BEFORE_SPRING)
    assert refused.value.status == 409 and refused.value.code == "conflicts"
    assert [(e["session_id"], e["whose"]) for e in refused.value.errors] == [(tutor_busy.pk, "tutor"),
                                                                            (student_busy.pk, "student")]
    assert Session.objects.count() == before and not WeeklyPattern.objects.exists()
    proposed.refresh_from_db()
    assert proposed.state == MatchState.PROPOSED
    # confirmed: the free date only
    _, created, _ = patterns.accept_match(proposed.pk, by=coordinator, spec=mondays(date(2027, 3, 15), 3),
                                          confirm=True, now=BEFORE_SPRING)
    assert [s.scheduled_start for s in created] == [datetime(2027, 3, 29, 14, 0, tzinfo=UTC)]


def test_changing_the_pattern_moves_only_untouched_future_sessions_and_ending_withdraws_them(
        proposed, coordinator, reasons, parent):
    """Issue 17 item 2: a session somebody acted on (cancelled) keeps its day and state; the others move
    to the new time with a pattern_moved event; ending withdraws the untouched ones only."""
    pattern, created, _ = patterns.accept_match(proposed.pk, by=coordinator, spec=mondays(date(2027, 3, 15), 4),
                                                now=BEFORE_SPRING)
    first, second, third, fourth = created
    lifecycle.cancel(second.pk, by=coordinator, reason_id=reasons[("parent", "cancel")].pk, on_behalf_of="parent",
                     now=BEFORE_SPRING)
    outcome = patterns.change_pattern(pattern.pk, by=coordinator, spec=mondays(date(2027, 3, 15), 4, at=time(17, 30)),
                                      now=BEFORE_SPRING + timedelta(hours=1))
    assert sorted(s.pk for s in outcome.moved) == sorted([first.pk, third.pk, fourth.pk])
    assert outcome.created == [] and outcome.withdrawn == []
    rows = {s.pk: s for s in Session.objects.filter(pk__in=[s.pk for s in created])}
    assert rows[first.pk].scheduled_start == datetime(2027, 3, 15, 16, 30, tzinfo=UTC)
    assert rows[third.pk].scheduled_start == datetime(2027, 3, 29, 15, 30, tzinfo=UTC)  # summer time
    assert rows[second.pk].status == Status.CANCELLED_BY_PARENT
    assert rows[second.pk].scheduled_start == second.scheduled_start
    assert set(rows[first.pk].events.values_list("kind", flat=True)) == {"created", "pattern_moved"}
    # a session checked in is touched too: ending the pattern leaves it (and the cancelled one) alone
    now = datetime(2027, 3, 15, 16, 35, tzinfo=UTC)
    lifecycle.check_in(first.pk, by=proposed.tutor, now=now)
    ended = patterns.end_pattern(pattern.pk, by=coordinator, end_match=True, now=now)
    assert sorted(s.pk for s in ended.withdrawn) == sorted([third.pk, fourth.pk])
    statuses = dict(Session.objects.filter(pk__in=[s.pk for s in created]).values_list("pk", "status"))
    assert statuses == {first.pk: Status.CHECKED_IN, second.pk: Status.CANCELLED_BY_PARENT,
                        third.pk: Status.NOT_COMPLETED, fourth.pk: Status.NOT_COMPLETED}
    proposed.refresh_from_db()
    assert proposed.state == MatchState.ENDED and not proposed.active
    with pytest.raises(Refused):
        patterns.end_pattern(pattern.pk, by=coordinator, now=now)


def test_a_longer_pattern_adds_sessions_and_a_shorter_one_withdraws_the_surplus(proposed, coordinator):
    pattern, _, _ = patterns.accept_match(proposed.pk, by=coordinator, spec=mondays(date(2027, 3, 15), 2),
                                                now=BEFORE_SPRING)
    longer = patterns.change_pattern(pattern.pk, by=coordinator, spec=mondays(date(2027, 3, 15), 3),
                                     now=BEFORE_SPRING)
    assert longer.moved == [] and len(longer.created) == 1 and longer.withdrawn == []
    shorter = patterns.change_pattern(pattern.pk, by=coordinator, spec=mondays(date(2027, 3, 15), 1),
                                      now=BEFORE_SPRING)
    assert len(shorter.withdrawn) == 2
    assert Session.objects.filter(pattern_link__pattern=pattern, status=Status.SCHEDULED).count() == 1


def test_bad_patterns_are_refused_and_change_nothing(proposed, coordinator, tutor, student):
    cases = [(patterns.PatternInput((), time(16), 60, date(2027, 3, 15), 2), "weekdays_required"),
             (patterns.PatternInput((7,), time(16), 60, date(2027, 3, 15), 2), "bad_weekday"),
             (patterns.PatternInput((0,), time(16), 5, date(2027, 3, 15), 2), "bad_length"),
             (patterns.PatternInput((0,), time(16), 60, date(2027, 3, 15), 99), "bad_weeks"),
             (patterns.PatternInput((0,), time(16), 60, date(2027, 3, 15), None), "no_credits"),
             (patterns.PatternInput((0,), time(16), 60, date(2020, 3, 15), 2), "no_dates")]
    for spec, code in cases:
        with pytest.raises(Refused) as refused:
            patterns.accept_match(proposed.pk, by=coordinator, spec=spec, now=BEFORE_SPRING)
        assert refused.value.code == code
    with pytest.raises(Refused) as refused:
        patterns.accept_match(proposed.pk, by=tutor, spec=mondays(date(2027, 3, 15), 2), now=BEFORE_SPRING)
    assert refused.value.status == 403
    assert not WeeklyPattern.objects.exists() and not Session.objects.filter(tutor=proposed.tutor).exists()


# --- the API ----------------------------------------------------------------------------------


ACCEPT = {"weekdays": [0], "start_time": "16:00", "minutes": 60, "starts_on": "2027-03-15", "weeks": 3}


def test_the_api_answers_409_with_the_conflicts_unless_confirmed(client, proposed, coordinator, clashes,
                                                                  time_machine):
    """Issue 17 item 2: POST /api/matches/{id}/accept lists conflicts (409) and writes nothing, then confirms."""
    time_machine.move_to(BEFORE_SPRING, tick=False)
    client.force_login(coordinator)
    before = Session.objects.count()
    answer = post_json(client, f"/api/matches/{proposed.pk}/accept", ACCEPT)
    assert answer.status_code == 409, answer.content
    body = answer.json()
    assert body["code"] == "conflicts" and [e["whose"] for e in body["errors"]] == ["tutor", "student"]
    assert Session.objects.count() == before
    answer = post_json(client, f"/api/matches/{proposed.pk}/accept", {**ACCEPT, "confirm": True})
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert [s["start"] for s in body["sessions"]] == ["2027-03-29T14:00:00Z"]
    assert len(body["skipped"]) == 2 and body["time_zone"] == "Europe/Prague"
    again = post_json(client, f"/api/matches/{proposed.pk}/accept", ACCEPT)
    assert again.status_code == 409 and again.json()["code"] == "has_pattern"


def test_the_api_accept_is_for_coordinators_only(client, proposed, outsider, tutor, parent, coordinator,
                                                 time_machine):
    """Outsiders, the match's own tutor and the parent get 403; an unknown match 404; nothing changes."""
    time_machine.move_to(BEFORE_SPRING, tick=False)
    for user in (outsider, proposed.tutor, parent):
        client.force_login(user)
        answer = post_json(client, f"/api/matches/{proposed.pk}/accept", ACCEPT)
        assert answer.status_code == 403, (user, answer.content)
    client.force_login(coordinator)
    assert post_json(client, "/api/matches/999999/accept", ACCEPT).status_code == 404
    client.logout()
    assert post_json(client, f"/api/matches/{proposed.pk}/accept", ACCEPT).status_code == 401
    proposed.refresh_from_db()
    assert proposed.state == MatchState.PROPOSED and not WeeklyPattern.objects.exists()
    assert not Session.objects.filter(tutor=proposed.tutor).exists()


def test_the_api_reports_bad_input_as_422(client, proposed, coordinator, time_machine):
    time_machine.move_to(BEFORE_SPRING, tick=False)
    client.force_login(coordinator)
    answer = post_json(client, f"/api/matches/{proposed.pk}/accept", {**ACCEPT, "minutes": 2})
    assert answer.status_code == 422 and [e["field"] for e in answer.json()["errors"]] == ["minutes"]
    answer = post_json(client, f"/api/matches/{proposed.pk}/accept", {**ACCEPT, "start_time": "25:00"})
    assert answer.status_code == 422
    assert not WeeklyPattern.objects.exists()


# --- the admin --------------------------------------------------------------------------------


def pattern_post(**extra):
    return {"weekdays": ["0"], "start_time": "16:00", "minutes": "60", "starts_on": "2027-03-15", "weeks": "3",
            **extra}


def test_the_admin_previews_then_confirms_around_the_conflicts_it_showed(client, proposed, coordinator, clashes,
                                                                        time_machine):
    """Issue 17 item 2: Accept and schedule lists dates and conflicts; only the confirm writes."""
    time_machine.move_to(BEFORE_SPRING, tick=False)
    client.force_login(coordinator)
    listing = client.get("/admin/tutoring/match/").content.decode()
    url = f"/admin/tutoring/match/{proposed.pk}/accept/"
    assert f'href="{url}"' in listing
    before = Session.objects.count()
    page = client.post(url, pattern_post(_preview="Preview"))
    body = page.content.decode()
    assert page.status_code == 200
    assert "2 dates clash with other sessions" in body
    assert "Mon 29 Mar 2027, 16:00" in body  # the tutor's local time after the change
    assert Session.objects.count() == before
    seen = f"{clashes[0].pk},{clashes[1].pk}"
    assert f'value="{seen}"' in body
    done = client.post(url, pattern_post(_confirm="1", seen=seen))
    pattern = WeeklyPattern.objects.get()
    assert done.status_code == 302 and done["Location"] == f"/admin/desk/weeklypattern/{pattern.pk}/change/"
    assert Session.objects.count() == before + 1


def test_the_admin_confirm_does_not_write_around_a_conflict_it_did_not_show(client, proposed, coordinator,
                                                                           clashes, time_machine):
    time_machine.move_to(BEFORE_SPRING, tick=False)
    client.force_login(coordinator)
    before = Session.objects.count()
    page = client.post(f"/admin/tutoring/match/{proposed.pk}/accept/",
                       pattern_post(_confirm="1", seen=str(clashes[0].pk)), follow=True)
    assert "The conflicts changed since the preview" in page.content.decode()
    assert Session.objects.count() == before and not WeeklyPattern.objects.exists()



@pytest.mark.parametrize("seen", ["²", "١٢,x", "9223372036854775808", ",,"])
def test_a_forged_list_of_seen_conflicts_is_no_500(client, proposed, coordinator, clashes, time_machine, seen):
    """The confirm's hidden list of the conflicts shown: "²" passed str.isdigit() and int() refused
    it. Ids that are none of the conflicts are conflicts not shown: nothing is written."""
    time_machine.move_to(BEFORE_SPRING, tick=False)
    client.force_login(coordinator)
    before = Session.objects.count()
    page = client.post(f"/admin/tutoring/match/{proposed.pk}/accept/", pattern_post(_confirm="1", seen=seen),
                       follow=True)
    assert page.status_code == 200 and "The conflicts changed since the preview" in page.content.decode()
    assert Session.objects.count() == before and not WeeklyPattern.objects.exists()


def test_the_add_page_ignores_prefills_that_are_no_ids(client, coordinator, time_machine):
    time_machine.move_to(BEFORE_SPRING, tick=False)
    client.force_login(coordinator)
    for value in ("²", "9" * 30, "x"):
        page = client.get("/admin/tutoring_sessions/session/add/", {"tutor": value, "student": value, "course": value})
        assert page.status_code == 200
    # a NUL is the shared query check's 400 (tutoring.middleware), before the page reads it
    assert client.get("/admin/tutoring_sessions/session/add/", {"tutor": "\x00"}).status_code == 400


def test_the_pattern_page_changes_and_ends_the_pattern(client, proposed, coordinator, time_machine,
                                                        django_assert_max_num_queries):
    time_machine.move_to(BEFORE_SPRING, tick=False)
    pattern, created, _ = patterns.accept_match(proposed.pk, by=coordinator, spec=mondays(date(2027, 3, 15), 3),
                                                now=BEFORE_SPRING)
    client.force_login(coordinator)
    url = f"/admin/desk/weeklypattern/{pattern.pk}/change/"
    with django_assert_max_num_queries(12):
        page = client.get(url)
    assert page.status_code == 200 and f"Session {created[0].pk}" in page.content.decode()
    with django_assert_max_num_queries(12):
        assert client.get("/admin/desk/weeklypattern/").status_code == 200
    changed = client.post(url, pattern_post(start_time="17:00", _confirm="1"))
    assert changed.status_code == 302
    assert Session.objects.get(pk=created[0].pk).scheduled_start == datetime(2027, 3, 15, 16, 0, tzinfo=UTC)
    ended = client.post(url, {"_end": "1"})
    assert ended.status_code == 302
    assert set(Session.objects.filter(pk__in=[s.pk for s in created]).values_list("status", flat=True)) == {
        Status.NOT_COMPLETED}


def test_the_scheduling_pages_are_for_coordinators_only(client, proposed, coordinator, parent, time_machine):
    time_machine.move_to(BEFORE_SPRING, tick=False)
    pattern, created, _ = patterns.accept_match(proposed.pk, by=coordinator, spec=mondays(date(2027, 3, 15), 2),
                                                now=BEFORE_SPRING)
    other = Match.objects.create(tutor=proposed.tutor, student=make_user("zoe", Role.STUDENT),
                                 state=MatchState.PROPOSED)
    staff = make_user("stan", Role.TUTOR, is_staff=True)
    client.force_login(staff)
    assert client.post(f"/admin/tutoring/match/{other.pk}/accept/", pattern_post(_confirm="1")).status_code == 403
    assert client.post(f"/admin/desk/weeklypattern/{pattern.pk}/change/", {"_end": "1"}).status_code == 403
    assert client.get("/admin/tutoring_sessions/session/add/").status_code == 403
    client.force_login(parent)
    answer = client.post(f"/admin/desk/weeklypattern/{pattern.pk}/change/", {"_end": "1"})
    assert answer.status_code == 302 and "/admin/login/" in answer["Location"]
    client.force_login(coordinator)
    assert client.get("/admin/desk/weeklypattern/999999/change/").status_code == 404
    assert client.get("/admin/tutoring/match/999999/accept/").status_code == 404
    assert set(Session.objects.filter(pk__in=[s.pk for s in created]).values_list("status", flat=True)) == {
        Status.SCHEDULED}
    assert not WeeklyPattern.objects.filter(match=other).exists() and WeeklyPattern.objects.get().ended_at is None


def test_a_match_added_in_the_admin_is_proposed_until_accepted(client, coordinator, prague_tutor, student):
    client.force_login(coordinator)
    answer = client.post("/admin/tutoring/match/add/", {"tutor": prague_tutor.pk, "student": student.pk})
    assert answer.status_code == 302, answer.content.decode()[:2000]
    match = Match.objects.get(tutor=prague_tutor)
    assert match.state == MatchState.PROPOSED and not match.active and match.accepted_at is None


def test_a_coordinator_adds_a_single_session_through_the_lifecycle(client, coordinator, tutor, student, course,
                                                                   time_machine):
    """Issue 17 item 2: /admin/tutoring_sessions/session/add/ works for a coordinator (was 403)."""
    time_machine.move_to(BEFORE_SPRING, tick=False)
    coordinator.time_zone = "Europe/Prague"
    coordinator.save()
    client.force_login(coordinator)
    assert client.get("/admin/tutoring_sessions/session/add/").status_code == 200
    form = {"tutor": tutor.pk, "student": student.pk, "course": course.pk, "start": "2027-03-20T10:00",
            "minutes": "45"}
    answer = client.post("/admin/tutoring_sessions/session/add/", form)
    assert answer.status_code == 302, answer.content.decode()[:3000]
    session = Session.objects.get(tutor=tutor)
    assert session.scheduled_start == datetime(2027, 3, 20, 9, 0, tzinfo=UTC)  # 10:00 in Prague, winter time
    assert session.scheduled_end - session.scheduled_start == timedelta(minutes=45)
    assert session.status == Status.SCHEDULED
    assert list(session.events.values_list("kind", "channel", "actor")) == [("created", "admin", coordinator.pk)]
    # the same slot again: the lifecycle's refusal on the form, nothing written
    again = client.post("/admin/tutoring_sessions/session/add/", form)
    assert again.status_code == 200
    assert "The tutor already has a session at that time. Nothing was saved." in again.content.decode()
    assert Session.objects.filter(tutor=tutor).count() == 1


def test_the_family_and_the_tutor_get_one_notice_per_pattern_not_one_per_session(
        proposed, coordinator, parent, student, django_capture_on_commit_callbacks, time_machine):
    """Issue 17 item 2: accepting tells the tutor, the student and the parent once, each in their own zone."""
    from notifications.models import Delivery, Notification

    time_machine.move_to(BEFORE_SPRING, tick=False)

    with django_capture_on_commit_callbacks(execute=True):
        pattern, _, _ = patterns.accept_match(proposed.pk, by=coordinator, spec=mondays(date(2027, 3, 15), 3),
                                              now=BEFORE_SPRING)
    assert not Delivery.objects.filter(kind="created").exists()
    notes = {n.recipient_id: n for n in Notification.objects.filter(kind="schedule_changed")}
    assert set(notes) == {proposed.tutor.pk, student.pk, parent.pk}
    text = notes[parent.pk].text
    assert "Monday at 16:00 (Europe/Prague), 60 minutes, from 2027-03-15 for 3 weeks" in text
    assert "3 upcoming sessions are scheduled. The first is on Mon 15 Mar 15:00 (Europe/London)." in text
    assert "Mon 15 Mar 16:00 (Europe/Prague)" in notes[proposed.tutor.pk].text
    with django_capture_on_commit_callbacks(execute=True):
        patterns.end_pattern(pattern.pk, by=coordinator, now=BEFORE_SPRING)
    ended = Notification.objects.filter(kind="schedule_changed", recipient=parent).order_by("-id").first()
    assert "3 upcoming sessions were withdrawn" in ended.text


def test_the_api_changes_and_ends_a_pattern(client, proposed, coordinator, outsider, time_machine):
    """Issue 17 item 2: PUT /api/matches/{id}/pattern moves untouched sessions; POST .../pattern/end withdraws them."""
    time_machine.move_to(BEFORE_SPRING, tick=False)
    _, created, _ = patterns.accept_match(proposed.pk, by=coordinator, spec=mondays(date(2027, 3, 15), 2),
                                          now=BEFORE_SPRING)
    client.force_login(outsider)
    assert client.put(f"/api/matches/{proposed.pk}/pattern", json.dumps(ACCEPT),
                      content_type="application/json").status_code == 403
    assert post_json(client, f"/api/matches/{proposed.pk}/pattern/end", {}).status_code == 403
    assert set(Session.objects.filter(pk__in=[s.pk for s in created]).values_list("scheduled_start", "status")) == {
        (s.scheduled_start, Status.SCHEDULED) for s in created}
    client.force_login(coordinator)
    answer = client.put(f"/api/matches/{proposed.pk}/pattern", json.dumps({**ACCEPT, "start_time": "17:00"}),
                        content_type="application/json")
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert sorted(s["start"] for s in body["moved"]) == ["2027-03-15T16:00:00Z", "2027-03-22T16:00:00Z"]
    assert [s["start"] for s in body["created"]] == ["2027-03-29T15:00:00Z"]
    answer = post_json(client, f"/api/matches/{proposed.pk}/pattern/end", {"end_match": True})
    assert answer.status_code == 200 and len(answer.json()["withdrawn"]) == 3
    proposed.refresh_from_db()
    assert proposed.state == MatchState.ENDED
    other = Match.objects.create(tutor=proposed.tutor, student=make_user("zoe", Role.STUDENT))
    assert post_json(client, f"/api/matches/{other.pk}/pattern/end", {}).status_code == 404
    assert post_json(client, f"/api/matches/{proposed.pk}/pattern/end", {}).status_code == 409


def test_a_start_in_the_skipped_spring_hour_is_read_with_the_offset_before_the_change():
    """Issue 17 item 2: 02:30 does not exist in Prague on 28 March 2027; the session starts at 03:30 summer time."""
    import zoneinfo

    prague = zoneinfo.ZoneInfo("Europe/Prague")
    slot = patterns.local_slot(date(2027, 3, 28), time(2, 30), 60, prague)
    assert slot.start == datetime(2027, 3, 28, 1, 30, tzinfo=UTC)
    assert slot.start.astimezone(prague).strftime("%H:%M %Z") == "03:30 CEST"
    autumn = patterns.local_slot(date(2026, 10, 25), time(2, 30), 60, prague)  # ambiguous: the first one
    assert autumn.start == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


def test_accept_and_schedule_is_offered_for_proposed_matches_only(client, proposed, coordinator, student,
                                                                   time_machine):
    """Issue 17 item 2: a proposed match offers "Accept and schedule"; an accepted one with a pattern
    offers changing or ending it; an accepted one made before patterns offers setting one (it stays
    accepted as it was). Accepting an accepted match again, in the admin or the API, says so and
    changes nothing."""
    time_machine.move_to(BEFORE_SPRING, tick=False)
    earlier = BEFORE_SPRING - timedelta(days=40)
    legacy = Match.objects.create(tutor=make_user("lena", Role.TUTOR, tz="Europe/Prague"), student=student,
                                  accepted_at=earlier)
    patterned = Match.objects.create(tutor=make_user("otto", Role.TUTOR, tz="Europe/Prague"), student=student,
                                     state=MatchState.PROPOSED, accepted_at=None, active=False)
    pattern, _, _ = patterns.accept_match(patterned.pk, by=coordinator, spec=mondays(date(2027, 3, 15), 2),
                                          now=BEFORE_SPRING)
    client.force_login(coordinator)
    listing = client.get("/admin/tutoring/match/").content.decode()
    accept = "/admin/tutoring/match/{}/accept/"
    assert f'<a href="{accept.format(proposed.pk)}">Accept and schedule</a>' in listing
    assert f'<a href="{accept.format(legacy.pk)}">Set a weekly pattern</a>' in listing
    assert (f'<a href="/admin/desk/weeklypattern/{pattern.pk}/change/">Change or end the pattern</a>'
            in listing)
    assert listing.count("Accept and schedule") == 1

    sessions_before = Session.objects.count()
    again = client.post(accept.format(patterned.pk), pattern_post(_confirm="1"), follow=True)
    assert "already accepted and has a weekly pattern" in again.content.decode()
    assert "Nothing was changed." in again.content.decode()
    answer = post_json(client, f"/api/matches/{patterned.pk}/accept", ACCEPT)
    assert answer.status_code == 409 and answer.json()["code"] == "has_pattern"
    answer = post_json(client, f"/api/matches/{legacy.pk}/accept", ACCEPT)
    assert answer.status_code == 409 and answer.json()["code"] == "already_accepted"
    assert "already accepted" in answer.json()["detail"]
    assert Session.objects.count() == sessions_before
    assert WeeklyPattern.objects.filter(match__in=[legacy, patterned]).count() == 1

    page = client.get(accept.format(legacy.pk)).content.decode()
    assert "Set a weekly pattern" in page and "Accept and schedule" not in page
    done = client.post(accept.format(legacy.pk), pattern_post(start_time="18:00", _confirm="1"), follow=True)
    assert "Weekly pattern set: 3 sessions scheduled" in done.content.decode()
    legacy.refresh_from_db()
    assert legacy.state == MatchState.ACCEPTED and legacy.accepted_at == earlier
    assert WeeklyPattern.objects.filter(match=legacy).exists()


def test_a_single_session_takes_the_course_of_the_pairs_match(client, coordinator, prague_tutor, student, course,
                                                               time_machine):
    """Issue 17 item 2: the add page leaves no session without its course when the tutor's match with the
    student implies one: the match list's "Add one session" preselects the pair and the course, the
    field says what an empty choice means, and an empty choice takes the match's course."""
    time_machine.move_to(BEFORE_SPRING, tick=False)
    match = Match.objects.create(tutor=prague_tutor, student=student, course=course)
    client.force_login(coordinator)
    listing = client.get("/admin/tutoring/match/").content.decode()
    link = f"/admin/tutoring_sessions/session/add/?tutor={prague_tutor.pk}&amp;student={student.pk}&amp;course={course.pk}"
    assert f'<a href="{link}">Add one session</a>' in listing
    page = client.get(link.replace("&amp;", "&")).content.decode()
    assert f'<option value="{course.pk}" selected>Algebra I</option>' in page
    assert f'<option value="{prague_tutor.pk}" selected>' in page
    assert "The course of their match" in page and "the course of the tutor&#x27;s match with this student" in page
    form = {"tutor": prague_tutor.pk, "student": student.pk, "course": "", "start": "2027-03-20T10:00",
            "minutes": "45"}
    assert client.post("/admin/tutoring_sessions/session/add/", form).status_code == 302
    assert Session.objects.get(tutor=prague_tutor).course == course
    # a pair with no match with a course: no course is guessed
    loner = make_user("lou", Role.TUTOR)
    Match.objects.create(tutor=loner, student=student)
    form = {**form, "tutor": loner.pk, "start": "2027-03-21T10:00"}
    assert client.post("/admin/tutoring_sessions/session/add/", form).status_code == 302
    assert Session.objects.get(tutor=loner).course is None
    assert match.course == course


@pytest.mark.parametrize(("body", "status"), [('"x"', 400), ("[]", 400), ("1", 400), ("null", 400),
                                              ('{"end_match": "maybe"}', 422)])
def test_a_malformed_end_body_is_refused_before_who_asks(client, proposed, outsider, body, status):
    """Issue 11: a body that is not a JSON object is unreadable (400), one whose field is wrong is
    invalid (422), for anyone, before the role check (an outsider would get 403), changing nothing.
    Ninja's schemas read attributes off any value, so "x" or null used to pass as {}."""
    client.force_login(outsider)
    answer = client.post(f"/api/matches/{proposed.pk}/pattern/end", body, content_type="application/json")
    assert answer.status_code == status, (body, answer.status_code, answer.content)
    assert answer.json()["code"] in ("malformed", "invalid")
    proposed.refresh_from_db()
    assert proposed.state != MatchState.ENDED
