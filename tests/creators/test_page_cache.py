"""The Session History's cached pieces (creators/pagecache.py) and the change stamps they are keyed
on (creators/stamps.py): after any write, the next view shows what a page built from scratch shows."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings

from analytics.models import Event
from creators.models import ChangeStamp
from creators.stamps import bump, stamps_of
from sessions import lifecycle
from sessions.models import Recording, RecordingStatus, Session, SessionAssessment, Status
from tests.conftest import NOW, make_user
from tutoring.models import Course, Role

URL = "/dashboard/teaching/sessions"
URLS = [URL, f"{URL}?status=completed", f"{URL}?range=week", f"{URL}/metrics"]
NO_CACHE = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}


@pytest.fixture
def world(make_session, student, tutor):
    start = NOW - timedelta(days=1)
    done = make_session(start=start, status=Status.AWAITING_APPROVAL_PARENT, checked_in_at=start,
                        checked_out_at=start + timedelta(minutes=50))
    upcoming = make_session(start=NOW + timedelta(days=1))
    past_due = make_session(start=NOW - timedelta(days=3))  # still scheduled: the no-show sweep's
    return {"done": done, "upcoming": upcoming, "past_due": past_due}


def shown(client, url) -> tuple:
    """What a view of `url` shows (not the per-request parts: CSRF tokens, the nav)."""
    response = client.get(url)
    assert response.status_code == 200, url
    context = response.context
    if "results_html" in context:  # the head holds the filter form: its choices, values and errors
        return (context["results_html"], context["stats"], context["head_html"])
    return (context["metrics_html"],)  # the metrics page


def fresh(client, url) -> tuple:
    with override_settings(CACHES=NO_CACHE):
        return shown(client, url)


def test_a_second_view_is_served_from_the_cache(as_creator, world):
    """Item 11: the second view of a URL reads the stamp and the cached pieces: the session, the
    user, the bell's unread count, the stamp and the page_view event, whatever the number of
    sessions."""
    first = shown(as_creator, URL)
    with CaptureQueriesContext(connection) as queries:
        again = shown(as_creator, URL)
    assert again == first
    assert len(queries) <= 5, [q["sql"][:80] for q in queries]
    assert any("creators_changestamp" in q["sql"] for q in queries)
    assert not any("tutoring_sessions_session" in q["sql"] for q in queries)


def test_every_kind_of_write_shows_on_the_next_view(as_creator, world, creator, tutor, student, parent,
                                                    coordinator, course, outsider, make_session):
    """H06, H13, H16, item 11: the lifecycle, the set-based sweeps, bulk inserts, ratings, recordings,
    courses and people's names each move the creator's stamp, so the next view shows exactly what
    a page built without the cache shows, and the write did change what it shows."""
    other_course = Course.objects.create(creator=outsider, title="Otto's course")

    def rate():
        SessionAssessment.objects.create(session=world["done"], author=student, author_role="student", rating=2)

    writes = [
        ("lifecycle: dispute", lambda: lifecycle.dispute(world["done"], by=parent, reason="The tutor left early.",
                                                         now=NOW)),
        ("lifecycle: resolve", lambda: lifecycle.resolve_dispute(world["done"], by=coordinator, decision="void",
                                                                 reason="Confirmed", now=NOW)),
        ("lifecycle: new session", lambda: make_session(start=NOW - timedelta(hours=5), status=Status.NO_SHOW)),
        ("bulk insert", lambda: Session.objects.bulk_create([Session(
            tutor=tutor, student=student, course=course, status=Status.CANCELLED_BY_TUTOR,
            scheduled_start=NOW - timedelta(days=2, hours=i), scheduled_end=NOW - timedelta(days=2, hours=i - 1))
            for i in range(3)])),
        ("sweep: no-shows", lambda: lifecycle.mark_due_no_shows(now=NOW)),
        ("rating added", rate),
        ("rating changed", lambda: SessionAssessment.objects.filter(session=world["done"]).update(rating=5)),
        ("rating removed", lambda: SessionAssessment.objects.filter(session=world["done"]).delete()),
        ("recording available", lambda: Recording.objects.create(
            session=world["done"], provider="plugnmeet", r2_key="rec/1.mp4", status=RecordingStatus.AVAILABLE)),
        ("course renamed", lambda: Course.objects.filter(pk=course.pk).update(title="Algebra II")),
        ("course added", lambda: Course.objects.create(creator=creator, title="Geometry")),
        ("student renamed", lambda: type(student).objects.filter(pk=student.pk).update(name="Samantha")),
        ("tutor's avatar", lambda: type(tutor).objects.filter(pk=tutor.pk).update(
            avatar_url="https://example.test/tia.png")),
        ("moved to another creator's course",
         lambda: Session.objects.filter(pk=world["upcoming"].pk).update(course=other_course)),
        ("deleted", lambda: Session.objects.filter(status=Status.CANCELLED_BY_TUTOR, events=None)[:1].get().delete()),
    ]
    changed_nothing = []
    for label, write in writes:
        before = {url: shown(as_creator, url) for url in URLS}  # cached now
        stamp = stamps_of(creator.pk)
        write()
        assert stamps_of(creator.pk) != stamp, label
        after = {url: shown(as_creator, url) for url in URLS}
        assert after == {url: fresh(as_creator, url) for url in URLS}, label
        if after == before:
            changed_nothing.append(label)
    assert changed_nothing == []


def test_writes_elsewhere_leave_the_stamp_alone(world, creator, outsider, student):
    """Another creator's sessions and courses, and updates of people that change nothing shown
    (a sign-in's last_login), keep the creator's stamp: their cache stays warm."""
    stamp = stamps_of(creator.pk)
    assert stamp is not None
    course = Course.objects.create(creator=outsider, title="Elsewhere")
    kid = make_user("kiddo", Role.STUDENT)
    Session.objects.create(tutor=outsider, student=kid, course=course, scheduled_start=NOW,
                           scheduled_end=NOW + timedelta(hours=1))
    type(student).objects.filter(pk=student.pk).update(last_login=NOW)
    assert stamps_of(creator.pk) == stamp
    assert stamps_of(outsider.pk) is not None


def test_stamps_never_repeat_after_a_rollback(world, creator):
    """A stamp value is never used twice (a sequence, not a counter): a rolled-back write cannot
    bring back a number that keys pieces of other data."""
    from django.db import transaction

    seen = {stamps_of(creator.pk)}
    for _ in range(3):
        try:
            with transaction.atomic():
                bump(creator.pk)
                seen.add(stamps_of(creator.pk))
                raise RuntimeError("roll back")
        except RuntimeError:
            pass
    bump(creator.pk)
    seen.add(stamps_of(creator.pk))
    assert len(seen) == 5


def test_the_date_is_part_of_the_key(as_creator, world, time_machine):
    """"Y this week" and the date presets follow the clock: the next day's view is built again."""
    today = shown(as_creator, f"{URL}?range=today")
    time_machine.move_to(NOW + timedelta(days=7), tick=False)
    later = shown(as_creator, f"{URL}?range=today")
    assert later != today and later == fresh(as_creator, f"{URL}?range=today")
    assert (today[1]["this_week"], later[1]["this_week"]) == (1, 0)  # tomorrow's session, then none


def test_a_creator_without_a_stamp_is_built_every_time(as_creator, world, creator):
    """No stamp (nothing of theirs written since the stamps were installed): nothing is cached."""
    ChangeStamp.objects.filter(pk=creator.pk).delete()
    first = shown(as_creator, URL)
    Session.objects.filter(pk=world["done"].pk).update(status=Status.CANCELLED_BY_TUTOR)  # writes a stamp
    ChangeStamp.objects.filter(pk=creator.pk).delete()
    assert stamps_of(creator.pk) is None
    now = shown(as_creator, URL)
    assert now != first and now == fresh(as_creator, URL)


def test_an_unreachable_cache_still_serves_the_page(as_creator, world):
    """Redis down: the pieces are built for each request; the page works."""
    cached = shown(as_creator, URL)
    dead = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                        "LOCATION": "unix:///nonexistent/redis.sock"}}
    with override_settings(CACHES=dead):
        assert shown(as_creator, URL) == cached
        assert as_creator.get(f"{URL}/metrics").status_code == 200


def test_parameters_that_filter_nothing_make_no_new_pieces(as_creator, world):
    """The results are keyed by the canonical URL (valid filters, a well-formed cursor): junk
    parameters, invalid values and mangled cursors reuse the piece of the page they amount to."""
    first = shown(as_creator, f"{URL}?status=completed")
    for junk in ("&utm_source=mail", "&st=not-a-number", "&cursor=garbage", "&range=&course="):
        with CaptureQueriesContext(connection) as queries:
            again = shown(as_creator, f"{URL}?status=completed{junk}")
        assert again[0] == first[0], junk
        assert not any("tutoring_sessions_session" in q["sql"] for q in queries), junk


def test_a_statement_takes_the_stamps_before_the_rollup_rows(db):
    """Lock order: PostgreSQL fires a table's triggers in name order, and the stamp triggers sort
    before the rollup triggers on every table that has both. A transaction holding rollup rows of
    a creator's courses therefore already holds the creator's stamp, and two writers of one
    creator queue on the stamp instead of each holding rollup rows the other needs (a deadlock)."""
    with connection.cursor() as cursor:
        cursor.execute("""
            SELECT tgrelid::regclass::text, array_agg(tgname::text ORDER BY tgname)
            FROM pg_trigger WHERE NOT tgisinternal AND tgname LIKE 'creators\\_%%'
            GROUP BY 1""")
        by_table = dict(cursor.fetchall())
    both = {t: names for t, names in by_table.items() if any("rollup" in n for n in names)}
    assert set(both) == {"tutoring_sessions_session", "tutoring_sessions_sessionassessment"}
    for table, names in both.items():
        stamps = [i for i, n in enumerate(names) if n.startswith("creators_bump_")]
        rollups = [i for i, n in enumerate(names) if n.startswith("creators_rollup_")]
        assert len(stamps) == 4 and max(stamps) < min(rollups), (table, names)


def test_a_hung_cache_costs_a_second_not_the_page(as_creator, world, tmp_path):
    """A Redis that accepts connections but never answers: each cache call gives up after the
    socket timeout (settings: 1 s) and the page is built without it."""
    import socket

    path = tmp_path / "hung.sock"
    hung = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    hung.bind(str(path))
    hung.listen(16)  # connections complete in the kernel; nothing ever reads or answers
    try:
        cached = shown(as_creator, URL)
        from django.conf import settings

        with override_settings(CACHES={"default": {**settings.CACHES["default"], "LOCATION": f"unix://{path}"}}):
            assert shown(as_creator, URL) == cached
    finally:
        hung.close()


def test_a_mangled_cursor_first_does_not_shape_the_newest_page(as_creator, world):
    """The piece cached from `?cursor=garbage` (the newest page) is the newest page: no "Newest"
    link back to itself, whatever URL filled the cache first."""
    junk = shown(as_creator, f"{URL}?cursor=garbage")
    plain = shown(as_creator, URL)
    assert junk[0] == plain[0] == fresh(as_creator, URL)[0]
    assert ">Newest</a>" not in plain[0]


def test_writes_the_row_triggers_do_not_see_still_move_the_stamps(as_creator, world, creator, course):
    """TRUNCATE (no transition tables: every creator gets a new stamp, and the rollups follow) and
    a rollup rebuild (the rollup table has no stamp triggers) are followed by pages built again."""
    from creators import rollups, stamps
    from creators.models import SessionRollup

    SessionRollup.objects.filter(course=course).update(sessions=35)  # drift, as after a manual edit
    bump(creator.pk)
    assert shown(as_creator, URL)[1]["total"] > 3  # the drifted figures, cached
    stamps.rebuild_rollups()
    assert shown(as_creator, URL)[1]["total"] == 3 == fresh(as_creator, URL)[1]["total"]
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the test's pending deferred FK checks first
        cursor.execute("TRUNCATE tutoring_sessions_session CASCADE")
    emptied = shown(as_creator, URL)
    assert emptied == fresh(as_creator, URL) and emptied[1]["total"] == 0
    assert rollups.differences() == []  # the rollups were emptied with the sessions


def test_a_session_moved_between_courses_moves_both_creators_stamps(world, creator, outsider, course):
    """Old and new rows both count: the creator it leaves and the creator it joins get new stamps,
    and so does the creator when a session loses its course or gets one."""
    theirs = Course.objects.create(creator=outsider, title="Otto's course")
    moved = world["upcoming"]
    for new_course, expect_moved in ((theirs, {creator.pk, outsider.pk}), (None, {outsider.pk}),
                                     (course, {creator.pk})):
        before = {pk: stamps_of(pk) for pk in (creator.pk, outsider.pk)}
        Session.objects.filter(pk=moved.pk).update(course=new_course)
        after = {pk: stamps_of(pk) for pk in (creator.pk, outsider.pk)}
        assert {pk for pk in before if before[pk] != after[pk]} == expect_moved, new_course


def test_a_status_change_keeps_the_frame_cached(as_creator, world, creator, parent):
    """The frequent writes (a status change) move the creator's stamp but not the frame stamp:
    the next view rebuilds the results, not the totals and filter choices."""
    shown(as_creator, URL)
    before = stamps_of(creator.pk)
    lifecycle.dispute(world["done"], by=parent, reason="The tutor left early.", now=NOW)
    after = stamps_of(creator.pk)
    assert after.version != before.version and after.frame == before.frame
    with CaptureQueriesContext(connection) as queries:
        view = shown(as_creator, URL)
    ran = [q["sql"] for q in queries]  # read now: the next request clears the log
    assert any("tutoring_sessions_session" in sql for sql in ran)  # the results, rebuilt
    assert not any("creators_creatortutor" in sql for sql in ran)  # the frame (the STs), from the cache
    assert view == fresh(as_creator, URL)
    Session.objects.filter(pk=world["upcoming"].pk).update(scheduled_start=NOW + timedelta(days=9),
                                                           scheduled_end=NOW + timedelta(days=9, hours=1))
    assert stamps_of(creator.pk).frame != after.frame  # a move in time changes "this week"
    assert shown(as_creator, URL) == fresh(as_creator, URL)


def test_a_page_is_one_piece_per_url_as_read(as_creator, world):
    """Item 6: the head (the figures, the filter form with its values and errors) and the results
    are one piece per URL as the page reads it, so a second view builds no form; each URL shows its own form
    (the chosen value, an invalid value's error) over the results of the filters it amounts to,
    and page_view still records the state and the total."""
    urls = [URL, f"{URL}?status=completed", f"{URL}?status=completed&st=oops"]
    first = {url: shown(as_creator, url) for url in urls}
    for url in urls:
        assert shown(as_creator, url) == first[url] == fresh(as_creator, url), url
    plain, completed, oops = (first[url] for url in urls)
    chosen = '<option value="completed" selected>'
    assert chosen in completed[2] and chosen not in plain[2]
    assert "field--error" in oops[2] and "field--error" not in completed[2]
    assert oops[0] == completed[0] and oops[0] != plain[0]
    Event.objects.filter(name="page_view").delete()
    as_creator.get(urls[2])  # from the cache
    assert Event.objects.get(name="page_view").data == {"session_count": 3, "filter_state": {"status": "completed"}}


def test_what_the_page_ignores_in_a_url_makes_no_new_piece(as_creator, world, creator):
    """Item 6: the page piece is keyed by the URL as the page reads it (the last value of each
    parameter it knows): an unknown parameter, a repeat or another order shows the same page from
    the same piece (no new key in Redis), and a repeated parameter shows its last value, as the
    form reads it."""
    from django.core.cache import cache

    def pieces() -> set:  # this database's pieces of this creator (other test workers share Redis)
        return set(cache._cache.get_client().keys(f"*history:*:{connection.settings_dict['NAME']}:{creator.pk}:*"))

    base = f"{URL}?status=completed&range=week"
    first = shown(as_creator, base)
    before = pieces()
    for same in (f"{URL}?range=week&status=completed", f"{base}&utm_source=mail&x=1",
                 f"{URL}?status=cancelled&status=completed&range=week"):
        assert shown(as_creator, same) == first == fresh(as_creator, same), same
        assert pieces() == before and before, same
    other = shown(as_creator, f"{URL}?status=completed&status=cancelled&range=week")
    assert '<option value="cancelled" selected>' in other[2] and other != first


def test_the_detail_page_has_pieces_of_its_own(as_creator, world):
    """The detail page's rows link back to the detail URL (the message links' `next`): its results
    piece is keyed by its own path, not shared with the list's; its whole page is not kept."""
    from django.core.cache import cache

    listed = shown(as_creator, URL)
    detail = f"{URL}/{world['done'].id}/"
    pattern = f"*history:*:{connection.settings_dict['NAME']}:{world['done'].course.creator_id}:*"
    before = set(cache._cache.get_client().keys(pattern))
    opened = shown(as_creator, detail)
    # its results are kept, its whole page is not (a session's page is mostly seen once)
    assert len(set(cache._cache.get_client().keys(pattern)) - before) == 1
    assert opened == shown(as_creator, detail) == fresh(as_creator, detail)
    assert f"next={detail}" in opened[0] and f"next={detail}" not in listed[0]


def test_the_time_zone_is_part_of_the_key(as_creator, world, creator):
    """A creator who changes their zone (no stamp moves) sees times in the new zone at once."""
    before = shown(as_creator, URL)
    type(creator).objects.filter(pk=creator.pk).update(time_zone="Asia/Tokyo")
    after = shown(as_creator, URL)
    assert after != before and after == fresh(as_creator, URL) and "Asia/Tokyo" in after[0]
