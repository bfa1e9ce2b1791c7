"""SESSION_ENGINE: Django's database sessions, with the session row read by a query prepared once
per process (tutoring/prepared.py): the same SELECT of the same row, without building it through
the ORM on every signed-in request. Everything else (writes, expiry, flush on sign-out, a new key
on sign-in) is Django's."""

import logging
from datetime import UTC, datetime

from django.contrib.sessions.backends import db
from django.contrib.sessions.models import Session
from django.core.exceptions import SuspiciousOperation
from django.db import router
from django.utils import timezone

from .prepared import Get

STAND_INS = (("stand-in-one", datetime(2000, 1, 1, tzinfo=UTC)),
             ("stand-in-two", datetime(2001, 1, 1, tzinfo=UTC)))

live_session = Get(lambda key, now: Session.objects.filter(session_key=key, expire_date__gt=now), *STAND_INS)


class SessionStore(db.SessionStore):
    def _get_session_from_db(self):
        try:
            return live_session(self.session_key, timezone.now(), using=router.db_for_read(Session))
        except (Session.DoesNotExist, SuspiciousOperation) as e:
            if isinstance(e, SuspiciousOperation):
                logging.getLogger(f"django.security.{e.__class__.__name__}").warning(str(e))
            self._session_key = None
