"""The SQL that maintains creators.SessionRollup, the recount it must always equal, and the
metrics read from it.

Triggers (statement-level, with transition tables) on tutoring_sessions_session and on the
student assessments subtract what the changed rows counted before and add what they count now,
grouped by (course, tutor, status), in key order (so concurrent statements lock rollup rows in the
same order). A session without a course belongs to no creator and is not counted."""

from functools import partial

from django.db import connection

from sessions.models import Session
from tutoring.models import Course, User

from . import metrics
from .metrics import KEYS, MEASURES, READS
from .models import CourseStudent, CourseTutor, CreatorTutor, SessionRollup

ROLLUP = SessionRollup._meta.db_table
COURSE_TUTORS = CourseTutor._meta.db_table
COURSE_STUDENTS = CourseStudent._meta.db_table
CREATOR_TUTORS = CreatorTutor._meta.db_table
COURSE = Course._meta.db_table
USER = User._meta.db_table
SESSION = Session._meta.db_table
ASSESSMENT = metrics.ASSESSMENT

_KEYS = ", ".join(KEYS)
_COLUMNS = ", ".join((*KEYS, *MEASURES))  # a rollup row's, in order


def _apply(delta: str) -> str:
    """Add the signed measures of `delta` (SQL: rows of sign, KEYS and MEASURES) to the rollup
    rows of their keys, in key order."""
    return f"""
    INSERT INTO {ROLLUP} AS r ({_COLUMNS})
    SELECT {_KEYS}, {", ".join(f"SUM(sign * {m})" for m in MEASURES)}
    FROM ({delta}) AS delta
    GROUP BY {_KEYS}
    ORDER BY {_KEYS}
    ON CONFLICT ({_KEYS}) DO UPDATE SET
        {", ".join(f"{m} = r.{m} + EXCLUDED.{m}" for m in MEASURES)};
"""


def _signed(sign: int, rows: str) -> str:
    return f"SELECT {sign} AS sign, m.* FROM ({rows}) m"


def _rows(table: str, sign: int, where: str = "") -> str:
    """What the sessions of `table` count (metrics.measured), times `sign`. A session without a
    course belongs to no creator."""
    return _signed(sign, metrics.measured(table, f"s.course_id IS NOT NULL {where}"))


# an UPDATE counts only rows whose counted columns (the keys and what the measures read) changed
_COUNTED = ", ".join(f"{{alias}}.{column}" for column in (*KEYS, *READS))
_CHANGED = (f"AND EXISTS (SELECT 1 FROM {{other}} x WHERE x.id = s.id AND ({_COUNTED.format(alias='x')}) "
            f"IS DISTINCT FROM ({_COUNTED.format(alias='s')}))")


def _trigger_function(name: str, rows) -> str:
    """A trigger function adding what inserted rows count, subtracting what deleted rows counted,
    and both for an update; rows(table, sign, other) is the SQL of `table`'s rows times `sign`,
    `other` the transition table an updated row is compared with (None on insert and delete)."""
    return f"""
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {_apply(rows('new_rows', 1, None))}
    ELSIF TG_OP = 'DELETE' THEN
        {_apply(rows('old_rows', -1, None))}
    ELSE
        {_apply(rows('old_rows', -1, 'new_rows') + ' UNION ALL ' + rows('new_rows', 1, 'old_rows'))}
    END IF;
    RETURN NULL;
END $$;
"""


SESSION_TRIGGER_FUNCTION = _trigger_function(
    "creators_rollup_sessions",
    lambda table, sign, other: _rows(table, sign, _CHANGED.format(other=other) if other else ""))


def _ratings(table: str, sign: int) -> str:
    """A counted rating added (sign 1) or removed (-1): its measures move in its session's row."""
    return _signed(sign, metrics.review_measured(table, "s.course_id IS NOT NULL"))


# any change of an assessment may change what it counts: no filter on updates
ASSESSMENT_TRIGGER_FUNCTION = _trigger_function(
    "creators_rollup_assessments", lambda table, sign, other: _ratings(table, sign))


def statement_triggers(table: str, function: str, prefix: str) -> str:
    """AFTER INSERT/UPDATE/DELETE triggers, FOR EACH STATEMENT, with transition tables new_rows /
    old_rows (creators/stamps.py uses them too)."""
    return f"""
CREATE TRIGGER {prefix}_ins AFTER INSERT ON {table} REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION {function}();
CREATE TRIGGER {prefix}_upd AFTER UPDATE ON {table} REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION {function}();
CREATE TRIGGER {prefix}_del AFTER DELETE ON {table} REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION {function}();
"""


# TRUNCATE has no transition tables: emptying sessions empties the rollups; emptying the
# assessments clears what the ratings counted (added with the change stamps, migration 0003)
TRUNCATE_FUNCTION = f"""
CREATE OR REPLACE FUNCTION creators_rollup_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = '{SESSION}' THEN
        DELETE FROM {ROLLUP};
    ELSE
        UPDATE {ROLLUP} SET {", ".join(f"{m} = 0" for m in metrics.REVIEW_MEASURES)}
        WHERE {" OR ".join(f"{m} <> 0" for m in metrics.REVIEW_MEASURES)};
    END IF;
    RETURN NULL;
END $$;
"""
TRUNCATE_SQL = TRUNCATE_FUNCTION + f"""CREATE TRIGGER creators_rollup_s_trunc AFTER TRUNCATE ON {SESSION}
    FOR EACH STATEMENT EXECUTE FUNCTION creators_rollup_truncate();
CREATE TRIGGER creators_rollup_a_trunc AFTER TRUNCATE ON {ASSESSMENT}
    FOR EACH STATEMENT EXECUTE FUNCTION creators_rollup_truncate();
"""
TRUNCATE_UNINSTALL = f"""
DROP TRIGGER IF EXISTS creators_rollup_s_trunc ON {SESSION};
DROP TRIGGER IF EXISTS creators_rollup_a_trunc ON {ASSESSMENT};
DROP FUNCTION IF EXISTS creators_rollup_truncate();
"""

def _add_pairs(table: str, person: str, delta: str) -> str:
    """Add the signed sessions `n` of `delta` (SQL: course_id, `person`, n) to the rows of `table`
    (creators.CourseTutor or CourseStudent), in key order; a pair whose sessions did not change
    (a status change) is not written."""
    return f"""
    INSERT INTO {table} AS t (course_id, {person}, sessions)
    SELECT course_id, {person}, SUM(n) FROM ({delta}) AS delta
    GROUP BY course_id, {person} HAVING SUM(n) <> 0
    ORDER BY course_id, {person}
    ON CONFLICT (course_id, {person}) DO UPDATE SET sessions = t.sessions + EXCLUDED.sessions;
"""


def _pairs_function(name: str, table: str, add, rows) -> str:
    """The trigger function keeping `table`'s counts: rows(transition table, sign) is the SQL of
    what each changed row counts, add(delta) the statement adding such rows to `table`
    (`_add_pairs` for the (course, person) counts); TRUNCATE empties the table."""
    return f"""
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {add(rows('new_rows', 1))}
    ELSIF TG_OP = 'DELETE' THEN
        {add(rows('old_rows', -1))}
    ELSIF TG_OP = 'UPDATE' THEN
        {add(rows('old_rows', -1) + ' UNION ALL ' + rows('new_rows', 1))}
    ELSE
        DELETE FROM {table};
    END IF;
    RETURN NULL;
END $$;
"""

def _pairs_install(name: str, function: str, on: str, prefix: str, recount: str) -> str:
    """The function, its statement triggers on `on` (named `prefix`_ins/upd/del/trunc) and the
    first count."""
    return (function + statement_triggers(on, name, prefix)
            + f"CREATE TRIGGER {prefix}_trunc AFTER TRUNCATE ON {on} "
              f"FOR EACH STATEMENT EXECUTE FUNCTION {name}();\n"
            + f"{recount};\n")


def _pairs_uninstall(name: str, on: str, prefix: str) -> str:
    return "".join(f"DROP TRIGGER IF EXISTS {prefix}_{op} ON {on};\n" for op in ("ins", "upd", "del", "trunc")
                   ) + f"DROP FUNCTION IF EXISTS {name}();\n"


# creators.CourseTutor follows the rollup rows: a trigger on them adds each (course, tutor)'s change
# of sessions, so every writer of rollups (the triggers above, the recount, TRUNCATE) moves it too.
def _sessions_of(table: str, sign: int) -> str:
    return f"SELECT course_id, tutor_id, {sign} * sessions AS n FROM {table}"


COURSE_TUTORS_FUNCTION = _pairs_function("creators_course_tutors", COURSE_TUTORS,
                                         partial(_add_pairs, COURSE_TUTORS, "tutor_id"), _sessions_of)
_RECOUNT_COURSE_TUTORS = (f"INSERT INTO {COURSE_TUTORS} (course_id, tutor_id, sessions) "
                          f"SELECT course_id, tutor_id, SUM(sessions) FROM {ROLLUP} GROUP BY course_id, tutor_id")
COURSE_TUTORS_INSTALL = _pairs_install("creators_course_tutors", COURSE_TUTORS_FUNCTION, ROLLUP, "creators_tutors_r",
                                       _RECOUNT_COURSE_TUTORS)
COURSE_TUTORS_UNINSTALL = _pairs_uninstall("creators_course_tutors", ROLLUP, "creators_tutors_r")

# creators.CourseStudent counts each (course, student)'s sessions, from the sessions themselves (the
# rollups have no students). Its triggers are named creators_students_s_*: they fire after the
# stamps' (creators_bump_s_*, see creators/stamps.py), so a writer holds its creators' stamps before
# their pairs, as with the rollups.
def _pairs_of(table: str, sign: int) -> str:
    """The (course, student) of each session of `table` with a course, counted `sign` times."""
    return f"SELECT course_id, student_id, {sign} AS n FROM {table} WHERE course_id IS NOT NULL"


COURSE_STUDENTS_FUNCTION = _pairs_function("creators_course_students", COURSE_STUDENTS,
                                           partial(_add_pairs, COURSE_STUDENTS, "student_id"), _pairs_of)
COURSE_STUDENTS_RECOUNT = (f"SELECT course_id, student_id, COUNT(*) AS sessions FROM {SESSION} "
                           f"WHERE course_id IS NOT NULL GROUP BY course_id, student_id")
_RECOUNT_COURSE_STUDENTS = (f"INSERT INTO {COURSE_STUDENTS} (course_id, student_id, sessions) "
                            f"{COURSE_STUDENTS_RECOUNT}")
COURSE_STUDENTS_INSTALL = _pairs_install("creators_course_students", COURSE_STUDENTS_FUNCTION, SESSION,
                                         "creators_students_s", _RECOUNT_COURSE_STUDENTS)
COURSE_STUDENTS_UNINSTALL = _pairs_uninstall("creators_course_students", SESSION, "creators_students_s")

# creators.CreatorTutor sums the CourseTutor rows of each creator's courses: a trigger on them adds
# each (creator, tutor)'s change, with the tutor's name and avatar for a new row. A course given to
# another creator moves its sessions from the one to the other; a tutor's new name or avatar is
# written into their rows (row triggers: both are rare, and fire only when that column changes).
def _add_creator_tutors(delta: str) -> str:
    """Add the signed sessions `n` of `delta` (SQL: creator_id, tutor_id, n) to CreatorTutor, in key
    order; a new row takes the tutor's name and avatar, a pair whose sessions did not change is
    not written."""
    return f"""
    INSERT INTO {CREATOR_TUTORS} AS t (creator_id, tutor_id, name, avatar_url, sessions)
    SELECT d.creator_id, d.tutor_id, u.name, u.avatar_url, d.n
    FROM (SELECT creator_id, tutor_id, SUM(n) AS n FROM ({delta}) AS delta GROUP BY creator_id, tutor_id
          HAVING SUM(n) <> 0) d
    JOIN {USER} u ON u.id = d.tutor_id
    ORDER BY d.creator_id, d.tutor_id
    ON CONFLICT (creator_id, tutor_id) DO UPDATE SET sessions = t.sessions + EXCLUDED.sessions;
"""


def _creators_of(table: str, sign: int) -> str:
    """Each CourseTutor row of `table` as (its course's creator, tutor, sessions times `sign`)."""
    return (f"SELECT c.creator_id, x.tutor_id, {sign} * x.sessions AS n FROM {table} x "
            f"JOIN {COURSE} c ON c.id = x.course_id")


CREATOR_TUTORS_FUNCTION = _pairs_function("creators_creator_tutors", CREATOR_TUTORS, _add_creator_tutors,
                                          _creators_of)
# a course's CourseTutor rows, taken from its old creator and given to its new one
_MOVED = (f"SELECT x.creator_id, ct.tutor_id, x.sign * ct.sessions AS n FROM {COURSE_TUTORS} ct "
          f"CROSS JOIN (VALUES (OLD.creator_id, -1), (NEW.creator_id, 1)) AS x(creator_id, sign) "
          f"WHERE ct.course_id = NEW.id")
CREATOR_TUTORS_MOVE_FUNCTION = f"""
CREATE OR REPLACE FUNCTION creators_creator_tutors_move() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {_add_creator_tutors(_MOVED)}
    RETURN NULL;
END $$;
"""
CREATOR_TUTORS_RENAME_FUNCTION = f"""
CREATE OR REPLACE FUNCTION creators_creator_tutors_rename() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE {CREATOR_TUTORS} t SET name = NEW.name, avatar_url = NEW.avatar_url
    FROM (SELECT id FROM {CREATOR_TUTORS} WHERE tutor_id = NEW.id ORDER BY creator_id FOR UPDATE) k
    WHERE t.id = k.id;  -- locked in key order, as the other writers lock them
    RETURN NULL;
END $$;
"""
CREATOR_TUTORS_RECOUNT = (f"SELECT c.creator_id, x.tutor_id, u.name, u.avatar_url, "
                          f"SUM(x.sessions) AS sessions "
                          f"FROM {COURSE_TUTORS} x JOIN {COURSE} c ON c.id = x.course_id "
                          f"JOIN {USER} u ON u.id = x.tutor_id "
                          f"GROUP BY c.creator_id, x.tutor_id, u.name, u.avatar_url")
_RECOUNT_CREATOR_TUTORS = (f"INSERT INTO {CREATOR_TUTORS} (creator_id, tutor_id, name, avatar_url, sessions) "
                           f"{CREATOR_TUTORS_RECOUNT}")
CREATOR_TUTORS_INSTALL = (
    _pairs_install("creators_creator_tutors", CREATOR_TUTORS_FUNCTION, COURSE_TUTORS, "creators_creators_t",
                   _RECOUNT_CREATOR_TUTORS)
    + CREATOR_TUTORS_MOVE_FUNCTION
    + f"CREATE TRIGGER creators_creators_c_move AFTER UPDATE OF creator_id ON {COURSE} FOR EACH ROW\n"
      f"    WHEN (OLD.creator_id IS DISTINCT FROM NEW.creator_id)\n"
      f"    EXECUTE FUNCTION creators_creator_tutors_move();\n"
    + CREATOR_TUTORS_RENAME_FUNCTION
    + f"CREATE TRIGGER creators_creators_u_rename AFTER UPDATE OF name, avatar_url ON {USER} FOR EACH ROW\n"
      f"    WHEN ((OLD.name, OLD.avatar_url) IS DISTINCT FROM (NEW.name, NEW.avatar_url))\n"
      f"    EXECUTE FUNCTION creators_creator_tutors_rename();\n")
CREATOR_TUTORS_UNINSTALL = (
    _pairs_uninstall("creators_creator_tutors", COURSE_TUTORS, "creators_creators_t")
    + f"DROP TRIGGER IF EXISTS creators_creators_c_move ON {COURSE};\n"
      "DROP FUNCTION IF EXISTS creators_creator_tutors_move();\n"
    + f"DROP TRIGGER IF EXISTS creators_creators_u_rename ON {USER};\n"
      "DROP FUNCTION IF EXISTS creators_creator_tutors_rename();\n")

RECOUNT = f"""
    SELECT {_KEYS}, {", ".join(f"SUM({m}) AS {m}" for m in MEASURES)}
    FROM ({_rows(SESSION, 1)}) AS every_session
    GROUP BY {_KEYS}
"""
_INSERT_RECOUNT = f"INSERT INTO {ROLLUP} ({_COLUMNS}) SELECT * FROM ({RECOUNT}) recount"

INSTALL = (SESSION_TRIGGER_FUNCTION + ASSESSMENT_TRIGGER_FUNCTION
           + statement_triggers(SESSION, "creators_rollup_sessions", "creators_rollup_s")
           + statement_triggers(ASSESSMENT, "creators_rollup_assessments", "creators_rollup_a")
           + _INSERT_RECOUNT + ";")

UNINSTALL = f"""
DROP TRIGGER IF EXISTS creators_rollup_s_ins ON {SESSION};
DROP TRIGGER IF EXISTS creators_rollup_s_upd ON {SESSION};
DROP TRIGGER IF EXISTS creators_rollup_s_del ON {SESSION};
DROP TRIGGER IF EXISTS creators_rollup_a_ins ON {ASSESSMENT};
DROP TRIGGER IF EXISTS creators_rollup_a_upd ON {ASSESSMENT};
DROP TRIGGER IF EXISTS creators_rollup_a_del ON {ASSESSMENT};
DROP FUNCTION IF EXISTS creators_rollup_sessions();
DROP FUNCTION IF EXISTS creators_rollup_assessments();
"""


def differences() -> list[tuple]:
    """Rows where the rollup and a full recount disagree (empty when they agree): the keys, then
    each measure's rollup and recount figures; then (course, tutor, "course_tutors", its sessions,
    the rollups' sum) where a CourseTutor row and the rollups disagree; then (course, student,
    "course_students", its sessions, the sessions counted) where a CourseStudent row and the
    sessions disagree; then (creator, tutor, "creator_tutors", "name: sessions" of the row, the
    same from the CourseTutor rows and the people) where a CreatorTutor row disagrees with them
    (its avatar too). Rows brought down to zero are kept and count as zero."""
    with connection.cursor() as cursor:
        cursor.execute(f"""
            SELECT course_id, tutor_id, 'course_tutors', t.sessions, r.sessions
            FROM (SELECT * FROM {COURSE_TUTORS} WHERE sessions <> 0) t
            FULL JOIN (SELECT course_id, tutor_id, SUM(sessions) AS sessions FROM {ROLLUP}
                       GROUP BY course_id, tutor_id HAVING SUM(sessions) <> 0) r USING (course_id, tutor_id)
            WHERE t.sessions IS DISTINCT FROM r.sessions
        """)
        course_tutors = cursor.fetchall()
        cursor.execute(f"""
            SELECT course_id, student_id, 'course_students', t.sessions, c.sessions
            FROM (SELECT * FROM {COURSE_STUDENTS} WHERE sessions <> 0) t
            FULL JOIN ({COURSE_STUDENTS_RECOUNT}) c USING (course_id, student_id)
            WHERE t.sessions IS DISTINCT FROM c.sessions
        """)
        course_students = cursor.fetchall()
        cursor.execute(f"""
            SELECT {", ".join(f"COALESCE(r.{k}, c.{k})" for k in KEYS)},
                   {", ".join(f"r.{m}, c.{m}" for m in MEASURES)}
            FROM (SELECT * FROM {ROLLUP} WHERE {" OR ".join(f"{m} <> 0" for m in MEASURES)}) r
            FULL JOIN ({RECOUNT}) c USING ({_KEYS})
            WHERE ({", ".join(f"r.{m}" for m in MEASURES)})
                  IS DISTINCT FROM ({", ".join(f"c.{m}" for m in MEASURES)})
        """)
        rollup_rows = cursor.fetchall()
        cursor.execute(f"""
            SELECT creator_id, tutor_id, 'creator_tutors', t.name || ': ' || t.sessions,
                   r.name || ': ' || r.sessions
            FROM (SELECT * FROM {CREATOR_TUTORS} WHERE sessions <> 0) t
            FULL JOIN (SELECT * FROM ({CREATOR_TUTORS_RECOUNT}) c WHERE sessions <> 0) r
                USING (creator_id, tutor_id)
            WHERE (t.name, t.avatar_url, t.sessions) IS DISTINCT FROM (r.name, r.avatar_url, r.sessions)
        """)
        return rollup_rows + course_tutors + course_students + cursor.fetchall()


def recount() -> None:
    """Recount every rollup row under a share lock on the sessions, then the CourseTutor rows from
    them, the CourseStudent rows from the sessions, and the CreatorTutor rows from the CourseTutor
    rows and the people. The pages cached the old figures and the rollup table has no stamp
    triggers: call stamps.rebuild_rollups(), which recounts and then gives every creator a new
    stamp."""
    with connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {SESSION} IN SHARE MODE")
        cursor.execute(f"DELETE FROM {ROLLUP}")
        cursor.execute(_INSERT_RECOUNT)
        cursor.execute(f"DELETE FROM {COURSE_TUTORS}")  # they followed the rollups; a drift of their own goes too
        cursor.execute(_RECOUNT_COURSE_TUTORS)
        cursor.execute(f"DELETE FROM {COURSE_STUDENTS}")
        cursor.execute(_RECOUNT_COURSE_STUDENTS)
        cursor.execute(f"DELETE FROM {CREATOR_TUTORS}")  # they follow the CourseTutor rows
        cursor.execute(_RECOUNT_CREATOR_TUTORS)
