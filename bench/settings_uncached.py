"""The project's settings with the page cache switched off (a DummyCache): every piece of the
creator's pages built for each request. bench/dashboard.py serves the uncached path's throughput
with it (issue 13 item 6: the uncached path meets the targets on its own)."""

from tutoring.settings import *  # noqa: F403

CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
