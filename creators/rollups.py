"""The SQL that maintains creators.SessionRollup, the recount it must always equal, and the
metrics read from it.

Triggers (statement-level, with transition tables) on tutoring_sessions_session and on the
student assessments subtract what the changed rows counted before and add what they count now,
grouped by (course, tutor, status), in key order (so concurrent statements lock rollup rows in the
same order). A session without a course belongs to no creator and is not counted."""

from django.db import connection

from .metrics import MEASURES_SQL
from .models import SessionRollup

ROLLUP = SessionRollup._meta.db_table
SESSION = "tutoring_sessions_session"
ASSESSMENT = "tutoring_sessions_sessionassessment"

# What one session contributes (the one definition: creators/metrics.py).
_CONTRIB = MEASURES_SQL
_RATING = f"(SELECT a.rating FROM {ASSESSMENT} a WHERE a.session_id = s.id AND a.author_role = 'student')"

_APPLY = f"""
    INSERT INTO {ROLLUP} AS r (course_id, tutor_id, status, sessions, actual_us, actual_n, rating_sum, rating_n)
    SELECT course_id, tutor_id, status, SUM(sign * sessions), SUM(sign * actual_us), SUM(sign * actual_n),
           SUM(sign * rating_sum), SUM(sign * rating_n)
    FROM (%s) AS delta
    GROUP BY course_id, tutor_id, status
    ORDER BY course_id, tutor_id, status
    ON CONFLICT (course_id, tutor_id, status) DO UPDATE SET
        sessions = r.sessions + EXCLUDED.sessions, actual_us = r.actual_us + EXCLUDED.actual_us,
        actual_n = r.actual_n + EXCLUDED.actual_n, rating_sum = r.rating_sum + EXCLUDED.rating_sum,
        rating_n = r.rating_n + EXCLUDED.rating_n;
"""


def _rows(table: str, sign: int, where: str = "") -> str:
    return (f"SELECT {sign} AS sign, {_CONTRIB} FROM {table} s "
            f"LEFT JOIN LATERAL (SELECT {_RATING} AS rating) rt ON true "
            f"WHERE s.course_id IS NOT NULL {where}")


# an UPDATE counts only rows whose counted columns changed
_CHANGED = ("AND EXISTS (SELECT 1 FROM {other} x WHERE x.id = s.id AND (x.course_id, x.tutor_id, x.status, "
            "x.checked_in_at, x.checked_out_at) IS DISTINCT FROM (s.course_id, s.tutor_id, s.status, "
            "s.checked_in_at, s.checked_out_at))")

SESSION_TRIGGER_FUNCTION = f"""
CREATE OR REPLACE FUNCTION creators_rollup_sessions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {_APPLY % _rows('new_rows', 1)}
    ELSIF TG_OP = 'DELETE' THEN
        {_APPLY % _rows('old_rows', -1)}
    ELSE
        {_APPLY % (_rows('old_rows', -1, _CHANGED.format(other='new_rows')) + ' UNION ALL '
                   + _rows('new_rows', 1, _CHANGED.format(other='old_rows')))}
    END IF;
    RETURN NULL;
END $$;
"""

# A student's rating added, changed or removed: move rating_sum/rating_n of the session's bucket.
_RATING_DELTA = f"""
    SELECT s.course_id, s.tutor_id, s.status, 0 AS sessions, 0 AS actual_us, 0 AS actual_n,
           %(sign)s * a.rating AS rating_sum, %(sign)s AS rating_n, 1 AS sign
    FROM %(table)s a JOIN {SESSION} s ON s.id = a.session_id
    WHERE a.author_role = 'student' AND s.course_id IS NOT NULL
"""

ASSESSMENT_TRIGGER_FUNCTION = f"""
CREATE OR REPLACE FUNCTION creators_rollup_assessments() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {_APPLY % (_RATING_DELTA % {'sign': 1, 'table': 'new_rows'})}
    ELSIF TG_OP = 'DELETE' THEN
        {_APPLY % (_RATING_DELTA % {'sign': -1, 'table': 'old_rows'})}
    ELSE
        {_APPLY % ((_RATING_DELTA % {'sign': -1, 'table': 'old_rows'}) + ' UNION ALL '
                   + (_RATING_DELTA % {'sign': 1, 'table': 'new_rows'}))}
    END IF;
    RETURN NULL;
END $$;
"""


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
# assessments clears the rating sums (added with the change stamps, migration 0003)
TRUNCATE_SQL = f"""
CREATE OR REPLACE FUNCTION creators_rollup_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = '{SESSION}' THEN
        DELETE FROM {ROLLUP};
    ELSE
        UPDATE {ROLLUP} SET rating_sum = 0, rating_n = 0 WHERE rating_n <> 0 OR rating_sum <> 0;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER creators_rollup_s_trunc AFTER TRUNCATE ON {SESSION}
    FOR EACH STATEMENT EXECUTE FUNCTION creators_rollup_truncate();
CREATE TRIGGER creators_rollup_a_trunc AFTER TRUNCATE ON {ASSESSMENT}
    FOR EACH STATEMENT EXECUTE FUNCTION creators_rollup_truncate();
"""
TRUNCATE_UNINSTALL = f"""
DROP TRIGGER IF EXISTS creators_rollup_s_trunc ON {SESSION};
DROP TRIGGER IF EXISTS creators_rollup_a_trunc ON {ASSESSMENT};
DROP FUNCTION IF EXISTS creators_rollup_truncate();
"""

RECOUNT = f"""
    SELECT course_id, tutor_id, status, SUM(sessions) AS sessions, SUM(actual_us) AS actual_us,
           SUM(actual_n) AS actual_n, SUM(rating_sum) AS rating_sum, SUM(rating_n) AS rating_n
    FROM ({_rows(SESSION, 1)}) AS every_session
    GROUP BY course_id, tutor_id, status
"""

INSTALL = (SESSION_TRIGGER_FUNCTION + ASSESSMENT_TRIGGER_FUNCTION
           + statement_triggers(SESSION, "creators_rollup_sessions", "creators_rollup_s")
           + statement_triggers(ASSESSMENT, "creators_rollup_assessments", "creators_rollup_a")
           + f"INSERT INTO {ROLLUP} (course_id, tutor_id, status, sessions, actual_us, actual_n, rating_sum, "
             f"rating_n) SELECT * FROM ({RECOUNT}) recount;")

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
    """Rows where the rollup and a full recount disagree (empty when they agree). Rollup rows
    brought down to zero are kept and count as zero."""
    with connection.cursor() as cursor:
        cursor.execute(f"""
            SELECT COALESCE(r.course_id, c.course_id), COALESCE(r.tutor_id, c.tutor_id),
                   COALESCE(r.status, c.status), r.sessions, c.sessions, r.actual_us, c.actual_us,
                   r.rating_sum, c.rating_sum
            FROM (SELECT * FROM {ROLLUP} WHERE sessions <> 0 OR actual_us <> 0 OR actual_n <> 0
                  OR rating_sum <> 0 OR rating_n <> 0) r
            FULL JOIN ({RECOUNT}) c USING (course_id, tutor_id, status)
            WHERE (r.sessions, r.actual_us, r.actual_n, r.rating_sum, r.rating_n)
                  IS DISTINCT FROM (c.sessions, c.actual_us, c.actual_n, c.rating_sum, c.rating_n)
        """)
        return cursor.fetchall()


def recount() -> None:
    """Recount every rollup row under a share lock on the sessions. The pages cached the old
    figures and the rollup table has no stamp triggers: call stamps.rebuild_rollups(), which
    recounts and then gives every creator a new stamp."""
    with connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {SESSION} IN SHARE MODE")
        cursor.execute(f"DELETE FROM {ROLLUP}")
        cursor.execute(f"INSERT INTO {ROLLUP} (course_id, tutor_id, status, sessions, actual_us, actual_n, "
                       f"rating_sum, rating_n) SELECT * FROM ({RECOUNT}) recount")
