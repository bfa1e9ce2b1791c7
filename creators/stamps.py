"""Change stamps: numbers per creator that change whenever what that creator's Session History
shows changes, so its pieces can be cached under them and never served stale.

PostgreSQL sets the stamps with statement-level triggers, in the writer's own transaction, like
the rollups (creators/rollups.py): every writer (the lifecycle, the sweeps, admin edits, bulk
seeds, TRUNCATE) moves them. A stamp changes when a statement inserts, updates or deletes
- sessions of the creator's courses (status, times, people, course: everything the rows show),
- assessments or recordings of those sessions (stars, the low-rating flag, the play icon),
- the creator's courses (titles, the course filter),
- people who appear in those sessions (a tutor's or a student's name or avatar).

Each creator has two stamps: `version` moves on every such change; `frame` only when the page's
frame may change (its totals, "this week" and filter choices: sessions added, removed or moved to
another course, tutor or start; courses; people's names), not on the frequent status changes, so
those leave the frame's cached piece in place.

Each new value comes from one sequence, so a value is never used twice by a database, not even
after a rolled-back transaction; the sequence starts at a random point, so a database dropped and
made again under the same name does not reuse its former values either. Readers key caches on
(database name, creator, stamp). The row lock a bump takes is held until the writer commits, so
a reader that sees stamp N also sees the data that came with it. Readers take the stamp first and
the data after: an entry cached under N may then hold data newer than N, never older."""

from dataclasses import dataclass

from django.db import connection

from . import rollups
from .models import ChangeStamp

STAMP = ChangeStamp._meta.db_table
SEQUENCE = "creators_changestamp_version"
SESSION, ASSESSMENT = rollups.SESSION, rollups.ASSESSMENT
RECORDING = "tutoring_sessions_recording"
COURSE = "tutoring_course"
USER = "tutoring_user"

BUMP_FUNCTION = f"""
CREATE OR REPLACE FUNCTION creators_bump(creators bigint[], framed bigint[]) RETURNS void LANGUAGE sql AS $$
    INSERT INTO {STAMP} AS st (creator_id, version, frame)
    SELECT id, nextval('{SEQUENCE}'), nextval('{SEQUENCE}')
    FROM (SELECT DISTINCT unnest(creators || framed) AS id) ids
    WHERE id IS NOT NULL
    ORDER BY id  -- concurrent statements lock stamps in the same order
    ON CONFLICT (creator_id) DO UPDATE SET version = EXCLUDED.version,
        frame = CASE WHEN st.creator_id = ANY(framed) THEN EXCLUDED.frame ELSE st.frame END;
$$;
"""

# the creators of the courses of the sessions in a transition table
_OF_SESSIONS = f"SELECT c.creator_id FROM {{rows}} s JOIN {COURSE} c ON c.id = s.course_id"
# ... of those whose course, tutor or start changed (the frame: totals, "this week", the ST choices)
_OF_MOVED_SESSIONS = (f"SELECT c.creator_id FROM {{rows}} s JOIN {COURSE} c ON c.id = s.course_id "
                      f"WHERE EXISTS (SELECT 1 FROM {{other}} x WHERE x.id = s.id AND (x.course_id, x.tutor_id, "
                      f"x.scheduled_start) IS DISTINCT FROM (s.course_id, s.tutor_id, s.scheduled_start))")
# ... of the sessions that the rows of a transition table (assessments, recordings) belong to
_OF_CHILDREN = (f"SELECT c.creator_id FROM {{rows}} x JOIN {SESSION} s ON s.id = x.session_id "
                f"JOIN {COURSE} c ON c.id = s.course_id")
_OF_COURSES = "SELECT creator_id FROM {rows}"
# ... whose sessions show one of `changed` (people whose name or avatar changed) as tutor or student
_OF_PEOPLE = (f"SELECT c.creator_id FROM {SESSION} s JOIN {COURSE} c ON c.id = s.course_id "
              f"WHERE s.tutor_id = ANY(changed) OR s.student_id = ANY(changed)")
NOBODY = "'{}'::bigint[]"


def _function(name: str, of: str, *, frame: str) -> str:
    """A trigger function bumping the creators `of` the changed rows; `frame`: "all" moves their
    frame stamps too, "none" never, "moved" for the sessions whose course, tutor or start changed
    (inserted and deleted sessions always)."""
    def framed(rows: str, other: str | None = None) -> str:
        if frame == "none":
            return NOBODY
        if frame == "moved" and other:
            return f"ARRAY({_OF_MOVED_SESSIONS.format(rows=rows, other=other)})"
        return f"ARRAY({of.format(rows=rows)})"

    return f"""
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM creators_bump(ARRAY({of.format(rows='new_rows')}), {framed('new_rows')});
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM creators_bump(ARRAY({of.format(rows='old_rows')}), {framed('old_rows')});
    ELSE
        PERFORM creators_bump(ARRAY({of.format(rows='old_rows')} UNION {of.format(rows='new_rows')}),
                              {framed('old_rows', 'new_rows')} || {framed('new_rows', 'old_rows')});
    END IF;
    RETURN NULL;
END $$;
"""


PEOPLE_FUNCTION = f"""
CREATE OR REPLACE FUNCTION creators_stamp_people() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE changed bigint[];
BEGIN
    -- most updates of people (last_login on every sign-in) change nothing the pages show
    changed := ARRAY(SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id
                     WHERE (n.name, n.avatar_url) IS DISTINCT FROM (o.name, o.avatar_url));
    IF cardinality(changed) > 0 THEN
        PERFORM creators_bump(ARRAY({_OF_PEOPLE}), ARRAY({_OF_PEOPLE}));
    END IF;
    RETURN NULL;
END $$;
"""

# Trigger names start "creators_bump_": PostgreSQL fires a table's triggers in name order, so a
# statement takes its creators' stamps before the rollup rows (creators_rollup_*). Every
# transaction that holds rollup rows of a creator's courses then holds that creator's stamp first,
# and two transactions cannot each hold rollup rows the other waits for.
TABLES = (  # (table, trigger function, trigger name prefix, creators of its changed rows, frame)
    (SESSION, "creators_stamp_sessions", "creators_bump_s", _OF_SESSIONS, "moved"),
    (ASSESSMENT, "creators_stamp_assessments", "creators_bump_a", _OF_CHILDREN, "none"),
    (RECORDING, "creators_stamp_recordings", "creators_bump_r", _OF_CHILDREN, "none"),
    (COURSE, "creators_stamp_courses", "creators_bump_c", _OF_COURSES, "all"),
)


# TRUNCATE has no transition tables: it gives every stamped creator a new stamp.
EVERYONE_FUNCTION = f"""
CREATE OR REPLACE FUNCTION creators_bump_everyone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM creators_bump(ARRAY(SELECT creator_id FROM {STAMP}), ARRAY(SELECT creator_id FROM {STAMP}));
    RETURN NULL;
END $$;
"""


INSTALL = (
    # a database made again under the same name (tests, a rebuilt dev database) starts its stamps
    # somewhere else, so pieces cached for its former self are never read
    f"CREATE SEQUENCE IF NOT EXISTS {SEQUENCE};\n"
    f"SELECT setval('{SEQUENCE}', 1 + (random() * 4503599627370496)::bigint);\n" + BUMP_FUNCTION
    + "".join(_function(function, of, frame=frame) + rollups.statement_triggers(table, function, prefix)
              for table, function, prefix, of, frame in TABLES)
    + PEOPLE_FUNCTION
    + f"""
CREATE TRIGGER creators_bump_u_upd AFTER UPDATE ON {USER} REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION creators_stamp_people();
SELECT creators_bump(ARRAY(SELECT creator_id FROM {COURSE}), ARRAY(SELECT creator_id FROM {COURSE}));
"""
    + EVERYONE_FUNCTION
    + "".join(f"CREATE TRIGGER {prefix}_trunc AFTER TRUNCATE ON {table} "
              f"FOR EACH STATEMENT EXECUTE FUNCTION creators_bump_everyone();\n" for table, _, prefix, _, _ in TABLES)
    + rollups.TRUNCATE_SQL
)

UNINSTALL = "".join(
    f"DROP TRIGGER IF EXISTS {prefix}_{op} ON {table};\n"
    for table, _, prefix, _, _ in TABLES for op in ("ins", "upd", "del", "trunc")
) + f"""DROP TRIGGER IF EXISTS creators_bump_u_upd ON {USER};
{''.join(f'DROP FUNCTION IF EXISTS {function}();{chr(10)}' for _, function, _, _, _ in TABLES)}DROP FUNCTION IF EXISTS creators_stamp_people();
DROP FUNCTION IF EXISTS creators_bump_everyone();
DROP FUNCTION IF EXISTS creators_bump(bigint[], bigint[]);
DROP SEQUENCE IF EXISTS {SEQUENCE};
""" + rollups.TRUNCATE_UNINSTALL


@dataclass(frozen=True)
class Stamps:
    version: int  # moves on every change the pages show
    frame: int  # moves only when the page's frame may change: totals, "this week", the choices


def stamps_of(creator_id: int) -> Stamps | None:
    """The creator's stamps now (one indexed read); None when nothing of theirs was ever written."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT version, frame FROM {STAMP} WHERE creator_id = %s", [creator_id])
        row = cursor.fetchone()
    return Stamps(*row) if row else None


def bump_everyone() -> None:
    """New stamps for every creator: after writes the triggers did not see (a restore, writes with
    triggers disabled or session_replication_role = replica, a rollup rebuild)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT creators_bump(ARRAY(SELECT creator_id FROM {STAMP}), "
                       f"ARRAY(SELECT creator_id FROM {STAMP}))")


def bump(*creator_ids: int, frame: bool = True) -> None:
    """Give creators new stamps, as a write of theirs would (frame=False: as a status change
    does). Operations: drop every cached piece of their pages; the benchmark: a first view after
    a change."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT creators_bump(%s::bigint[], %s::bigint[])",
                       [list(creator_ids), list(creator_ids) if frame else []])


def rebuild_rollups() -> None:
    """Recount everything (for an operator after a manual fix; the triggers keep it current), then
    give every creator a new stamp: the pages cached the old figures."""
    rollups.recount()
    bump_everyone()
