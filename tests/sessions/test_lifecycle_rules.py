"""The lifecycle's edges and the no-show deadline have one definition each in sessions/rules.py,
used by the guards and by the sweeps' SQL alike (issue 13 item 2)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from sessions import lifecycle, rules
from sessions.lifecycle import core, sweeps
from sessions.models import Channel, Session, SessionEvent, Status

ZONES = ["UTC", "America/New_York", "Europe/Berlin", "Asia/Kolkata", "Pacific/Auckland", "America/St_Johns",
         "Pacific/Kiritimati", "Pacific/Pago_Pago"]
# DST changes in the US (Nov 1, Mar 8), Europe (Oct 25, Mar 29), New Zealand (Apr 5, Sep 27) and
# ordinary days; starts in the late evening so that some sessions run past local midnight
STARTS = [datetime(2026, 11, 1, 13, 0, tzinfo=UTC), datetime(2026, 11, 1, 4, 30, tzinfo=UTC),
          datetime(2026, 3, 8, 6, 0, tzinfo=UTC), datetime(2026, 10, 24, 22, 30, tzinfo=UTC),
          datetime(2026, 3, 28, 23, 15, tzinfo=UTC), datetime(2026, 4, 4, 11, 0, tzinfo=UTC),
          datetime(2026, 9, 26, 13, 45, tzinfo=UTC), datetime(2026, 12, 31, 23, 0, tzinfo=UTC)]


def test_the_sweeps_deadline_is_the_guards_deadline(make_session, tutor):
    """rules.CHECK_IN_DEADLINE_SQL (the no-show sweep) and rules.check_in_deadline (the check-in
    guard) give the same instant for every session: 8 zones x 8 starts across DST changes, 1 to
    7 hours long (some run past the tutor's midnight)."""
    sessions = [make_session(start=start + timedelta(days=400 * i), minutes=60 * (1 + (i + j) % 7))
                for i in range(len(ZONES)) for j, start in enumerate(STARTS)]
    compared = 0
    for zone in ZONES:
        tutor.time_zone = zone
        tutor.save(update_fields=["time_zone"])
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT s.id, {rules.CHECK_IN_DEADLINE_SQL} FROM tutoring_sessions_session s "
                           "JOIN tutoring_user u ON u.id = s.tutor_id WHERE s.id = ANY(%s)", [[s.pk for s in sessions]])
            in_sql = dict(cursor.fetchall())
        for s in Session.objects.select_related("tutor").filter(pk__in=in_sql):
            assert in_sql[s.pk] == rules.check_in_deadline(s), (zone, s.scheduled_start, s.scheduled_end)
            compared += 1
    assert compared == len(ZONES) * len(sessions)
    past_midnight = [s for s in sessions if rules.check_in_deadline(Session.objects.get(pk=s.pk)) == s.scheduled_end]
    assert past_midnight, "some session must end after the tutor's midnight"


def test_the_sweeps_sql_is_built_from_the_edges_and_the_deadline():
    assert sweeps.EXPIRY_EDGE in rules.EDGES and sweeps.NO_SHOW_EDGE in rules.EDGES
    assert rules.CHECK_IN_DEADLINE_SQL in sweeps._NO_SHOW_DUE
    assert f"SET status = '{Status.NOT_COMPLETED}'" in sweeps._EXPIRE_APPLY
    assert f"SET status = '{Status.NO_SHOW}'" in sweeps._NO_SHOW_APPLY


def test_a_change_that_is_not_an_edge_is_refused_with_a_clear_error(make_session):
    with pytest.raises(rules.NotAnEdge, match="approved -> scheduled is not an edge"):
        rules.require_edge(Status.APPROVED, Status.SCHEDULED)
    s = make_session(status=Status.APPROVED)
    with pytest.raises(rules.NotAnEdge, match="cancelled_by_tutor -> approved is not an edge"):
        core._record(s, by=None, channel=Channel.SYSTEM, kind="verify", from_status=Status.CANCELLED_BY_TUTOR,
                     now=s.scheduled_start)
    assert not SessionEvent.objects.filter(session=s).exists()


def test_every_recorded_change_of_the_public_face_is_an_edge(session, tutor, parent):
    """The check lets the real transitions through: check-in, check-out, acknowledge."""
    lifecycle.check_in(session, by=tutor, now=session.scheduled_start)
    lifecycle.check_out(session, by=tutor, now=session.scheduled_end)
    lifecycle.acknowledge(session, by=parent, now=session.scheduled_end + timedelta(hours=1))
    trail = list(SessionEvent.objects.filter(session=session).order_by("id").values_list("from_status", "to_status"))
    assert trail == [(Status.SCHEDULED, Status.CHECKED_IN), (Status.CHECKED_IN, Status.AWAITING_APPROVAL_PARENT),
                     (Status.AWAITING_APPROVAL_PARENT, Status.APPROVED)]
    assert all(edge in rules.EDGES for edge in trail)
