"""PostgreSQL binds the queries' parameters and prepares a statement a connection runs often
(issue 13 item 6): tutoring/settings.py sets Django's OPTIONS server_side_binding and
prepare_threshold from DB_SERVER_SIDE_BINDING and DB_PREPARE_THRESHOLD (true and 5 by default)."""

import json

import pytest
from django.conf import settings
from django.db import connection

from tests.tutoring.test_settings import manage

# Each run of this statement is one psycopg sees again: the same text, the same parameter types.
MARKED = "SELECT %s::int + 1 /* issue 13 item 6 */"


def prepared_like(fragment: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements "
                       "WHERE NOT from_sql AND strpos(statement, %s) > 0", [fragment])
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.django_db
def test_parameters_are_bound_by_postgresql():
    """Issue 13 item 6: a parameter reaches PostgreSQL as a typed value of its own ($1), not as text
    spliced into the SQL: 7 arrives as a smallint (psycopg's smallest type for it), where the literal
    7 of client-side binding would be an integer."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_typeof(%s)::text", [7])
        assert cursor.fetchone() == ("smallint",)
    assert settings.DB_SERVER_SIDE_BINDING is True
    assert connection.connection.prepare_threshold == settings.DB_PREPARE_THRESHOLD == 5


@pytest.mark.django_db
def test_a_statement_run_threshold_times_is_prepared_on_its_connection():
    """Issue 13 item 6: after DB_PREPARE_THRESHOLD runs on a connection a statement is prepared there
    (pg_prepared_statements, with $1 for its parameter), and its next runs use it."""
    with connection.cursor() as cursor:
        for n in range(settings.DB_PREPARE_THRESHOLD):
            cursor.execute(MARKED, [n])
            assert cursor.fetchone() == (n + 1,)
    assert prepared_like("issue 13 item 6 */") == []
    with connection.cursor() as cursor:
        cursor.execute(MARKED, [41])
        assert cursor.fetchone() == (42,)
    assert prepared_like("issue 13 item 6 */") == ["SELECT $1::int + 1 /* issue 13 item 6 */"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT generic_plans + custom_plans FROM pg_prepared_statements "
                       "WHERE strpos(statement, %s) > 0", ["$1::int + 1 /* issue 13 item 6 */"])
        assert cursor.fetchone() == (1,)  # planned for the run that prepared it
        cursor.execute(MARKED, [1])
        cursor.execute("SELECT generic_plans + custom_plans FROM pg_prepared_statements "
                       "WHERE strpos(statement, %s) > 0", ["$1::int + 1 /* issue 13 item 6 */"])
        assert cursor.fetchone() == (2,)  # run again as the prepared statement


CONNECTION_OPTIONS = ("from django.db import connection; import json; "
                      "p = connection.get_connection_params(); "
                      "print(json.dumps([p['cursor_factory'].__name__, p['prepare_threshold']]))")


@pytest.mark.parametrize(("environment", "cursor", "threshold"), [
    pytest.param({}, "ServerBindingCursor", 5, id="default"),
    pytest.param({"DB_PREPARE_THRESHOLD": "2"}, "ServerBindingCursor", 2, id="threshold-2"),
    pytest.param({"DB_PREPARE_THRESHOLD": "off"}, "ServerBindingCursor", None, id="never-prepare"),
    pytest.param({"DB_SERVER_SIDE_BINDING": "false"}, "Cursor", None, id="client-side-binding"),
])
def test_the_environment_chooses_the_binding_and_the_threshold(environment, cursor, threshold):
    """Issue 13 item 6: the two variables reach the connection's parameters (Django's Cursor binds on
    the client and never prepares)."""
    result = manage("shell", "-c", CONNECTION_OPTIONS, **environment)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [cursor, threshold]
