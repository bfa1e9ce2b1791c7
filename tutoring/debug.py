"""What the debug error page (development) and the error emails show of settings and request
metadata: Django's SafeExceptionReporterFilter, plus the service URLs by name (DATABASE_URL,
REDIS_URL, CACHE_URL, CELERY_BROKER_URL, CELERY_RESULT_BACKEND, any *_DSN) and the password of any
URL that carries one, whatever its name and wherever it sits (the ENV mapping, CACHES' LOCATION,
request.META).
A credential never reaches a page, even in development."""

import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from django.views.debug import SafeExceptionReporterFilter

# a scheme://user:password@host URL anywhere in a string
_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.\-]*://)(?P<user>[^:/@\s]*):(?P<password>[^@/\s]+)@", re.I)


def mask_credentials(text: str, substitute: str) -> str:
    """Every password of a URL in `text` replaced by `substitute` (the user name stays)."""
    return _CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:{substitute}@", text)


def has_credentials(value: str) -> bool:
    value = str(value)  # lazy strings too
    try:
        return bool(_CREDENTIALS.search(value)) or bool(urlsplit(value).password)
    except ValueError:
        return False


class CredentialsFilter(SafeExceptionReporterFilter):
    # Django's names, plus the service URLs (whether or not they carry a password today)
    hidden_settings = re.compile(r"API|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|DATABASE_URL|REDIS_URL|CACHE_URL"
                                 r"|BROKER_URL|RESULT_BACKEND|DSN|CREDENTIAL", flags=re.I)

    def cleanse_setting(self, key, value):
        if isinstance(key, str) and self.hidden_settings.search(key):
            return self.cleansed_substitute
        if isinstance(value, str):
            return mask_credentials(str(value), self.cleansed_substitute) if has_credentials(value) else value
        if isinstance(value, Mapping) and not isinstance(value, dict):  # os.environ (settings.ENV)
            return {k: self.cleanse_setting(k, v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.cleanse_setting("", item) for item in value)
        return super().cleanse_setting(key, value)
