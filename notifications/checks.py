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


@checks.register(checks.Tags.compatibility, deploy=True)
def sender_is_real(app_configs, **kwargs):
    domain = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip("> ").lower()
    if domain in ("localhost", "") or "." not in domain:
        return [checks.Warning(
            f"DEFAULT_FROM_EMAIL {settings.DEFAULT_FROM_EMAIL!r} is not an address a provider will send from.",
            hint="Set DEFAULT_FROM_EMAIL to an address of your domain (verified in Resend).",
            id="notifications.W002")]
    return []
