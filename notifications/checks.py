"""Deploy checks: production must really send its email."""

from django.conf import settings
from django.core import checks

LOCAL_ONLY = {
    "notifications.backends.KeepLocallyBackend",
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
    "django.core.mail.backends.filebased.EmailBackend",
    "django.core.mail.backends.dummy.EmailBackend",
}


@checks.register(checks.Tags.compatibility, deploy=True)
def email_is_sent(app_configs, **kwargs):
    backend = settings.MAILERS["default"].get("BACKEND", "")
    if backend in LOCAL_ONLY:
        return [checks.Warning(
            f"EMAIL_BACKEND {backend} does not send email: nobody gets reminders or notices by email.",
            hint="Set RESEND_API_KEY (or an SMTP server: EMAIL_HOST...) and unset EMAIL_BACKEND.",
            id="notifications.W001")]
    return []
