"""The static files' storage (settings.STORAGES["staticfiles"]): Django's in development and tests,
WhiteNoise's compressed manifest in production, each answering a file's URL from a table kept per
process. A name's URL never changes while a process runs (the manifest is read once, when the
storage is made; collectstatic runs before the server starts), and working it out (urljoin and
quoting, the manifest lookup) was most of what each {% static %} tag cost: every page's
base.html has three."""

from django.contrib.staticfiles.storage import StaticFilesStorage
from whitenoise.storage import CompressedManifestStaticFilesStorage


class RemembersUrls:
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._urls: dict[tuple, str] = {}

    def url(self, name, *args, **kwargs):
        key = (name, *args, *sorted(kwargs.items()))
        url = self._urls.get(key)
        if url is None:
            url = self._urls[key] = super().url(name, *args, **kwargs)
        return url


class Development(RemembersUrls, StaticFilesStorage):
    pass


class Production(RemembersUrls, CompressedManifestStaticFilesStorage):
    pass
