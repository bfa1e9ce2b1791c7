import uuid

import pytest


@pytest.fixture(autouse=True)
def private_cache(settings):
    """The beacon's rate limit counts in the cache: each test gets an empty one of its own, not the
    shared Redis (other test runs use it at the same time)."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": f"analytics-{uuid.uuid4()}"}}
