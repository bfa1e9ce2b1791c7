"""The test database, for what the tests start beside themselves: a psycopg connection string, and
the DATABASE_URL a subprocess (a server, a worker) is given, with its own application_name so the
test can find that process's connections in pg_stat_activity."""

from pathlib import Path

import psycopg
from django.conf import settings

ROOT = Path(__file__).resolve().parents[1]  # the project folder: a subprocess's working directory


def host() -> str:
    """A TCP host or a Unix socket folder (DATABASE_URL's ?host=)."""
    db = settings.DATABASES["default"]
    return db["HOST"] or db["OPTIONS"].get("host", "")


def dsn() -> str:
    db = settings.DATABASES["default"]
    return psycopg.conninfo.make_conninfo(dbname=db["NAME"], user=db["USER"], password=db["PASSWORD"] or None,
                                          host=host() or None, port=db["PORT"] or None)


def database_url(application_name: str) -> str:
    """The test database as DATABASE_URL for a subprocess, its connections named `application_name`."""
    db, where_to = settings.DATABASES["default"], host()
    auth = f"{db['USER']}:{db['PASSWORD']}@" if db["USER"] else ""
    where = f"{where_to}:{db['PORT'] or 5432}" if where_to and not where_to.startswith("/") else ""
    socket_dir = f"&host={where_to}" if where_to.startswith("/") else ""
    return f"postgresql://{auth}{where}/{db['NAME']}?application_name={application_name}{socket_dir}"
