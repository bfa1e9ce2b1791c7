from django.conf import settings
from django.utils.functional import SimpleLazyObject


def inbox(request):
    """The bell's unread count, counted only when a page shows it (one query)."""
    user = getattr(request, "user", None)
    context = {"dev_outbox": settings.DEV_OUTBOX}
    if user is not None and user.is_authenticated:
        from .views import unread_count

        context["unread_notifications"] = SimpleLazyObject(lambda: unread_count(user))
    return context
