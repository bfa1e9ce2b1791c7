"""Pieces of a creator's Session History cached under the creator's change stamps
(creators/stamps.py): the frame (filter choices with their option lists, the header figures)
under the frame stamp; the rendered results of each URL and the rendered metrics of each filter
set under the stamp; and under the stamp too, made from those, the rendered page of each URL as
the page reads it (its head with the filter form, and the results), which is what a second view
reads. A write that changes anything a piece shows moves its stamp in the same transaction, so a
cached piece is never served after the data under it changed; nothing expires on a timer to be
correct (the timeout only bounds memory).

The key also holds what else a piece depends on: the code that shapes it, the database (stamps
are numbered per database), the creator's time zone and local date (times, "this week", the date
presets), and for URL-dependent pieces the canonical URL (for the page piece, the URL as the page
reads it: views._as_read). A creator with no stamp yet, or a cache that cannot be reached, gets
the pieces built fresh each time."""

import hashlib
import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Callable

import django
from django.core.cache import cache
from django.db import connection
from redis.exceptions import RedisError

from .stamps import Stamps, stamps_of

TIMEOUT = 15 * 60
log = logging.getLogger(__name__)


def _code_version() -> str:
    """A digest of the code and templates that shape the pieces (this app's modules, its
    templates, the cursor format, the filter form's inputs and fields and their messages, and
    Django's version, whose widgets and messages the form uses): a deploy that changes them starts
    from fresh keys instead of reading pieces of the old shape."""
    app = Path(__file__).resolve().parent
    sources = sorted([*app.glob("*.py"), *app.glob("templatetags/*.py"),
                      *(app.parent / "templates" / "creators").glob("*.html"),
                      app.parent / "sessions" / "paging.py",
                      app.parent / "tutoring" / "widgets.py", app.parent / "tutoring" / "input.py"])
    digest = hashlib.blake2b(django.get_version().encode(), digest_size=6)
    for source in sources:
        digest.update(source.read_bytes())
    return digest.hexdigest()


CODE_VERSION = _code_version()


@dataclass(frozen=True)
class Built:
    value: Any
    keep: bool = True  # False: answer with it, don't cache it (a load failure)


@dataclass(frozen=True)
class PageCache:
    creator_id: int
    stamps: Stamps | None
    zone: str
    day: date

    @classmethod
    def of(cls, creator, today: date) -> "PageCache":
        """Read the stamps first, before any data the pieces are built from (see stamps.py)."""
        return cls(creator.pk, stamps_of(creator.pk), creator.time_zone, today)

    def key(self, stamp: int, *parts: str) -> str:
        path = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=16).hexdigest()
        return (f"history:{CODE_VERSION}:{connection.settings_dict['NAME']}:{self.creator_id}:{stamp}:{self.zone}:"
                f"{self.day.isoformat()}:{path}")

    def get(self, parts: tuple[str, ...], build: Callable[[], Built], *, frame: bool = False) -> Any:
        """The piece named by `parts`, cached under the creator's stamp (`frame=True`: under the
        frame stamp, for pieces that only depend on the frame), or built."""
        if self.stamps is None:
            return build().value
        key = self.key(self.stamps.frame if frame else self.stamps.version, *parts)
        try:
            found = cache.get(key)
        except (RedisError, OSError):
            log.warning("the page cache is unreachable; building %s", parts[0], exc_info=True)
            return build().value
        if found is not None:
            return found
        built = build()
        if built.keep:
            try:
                cache.set(key, built.value, TIMEOUT)
            except (RedisError, OSError):
                log.warning("the page cache is unreachable; not keeping %s", parts[0], exc_info=True)
        return built.value
