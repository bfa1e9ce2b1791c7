"""The coordinators' view of notifications: every delivery with its status, attempts and last error
(failed ones first in the filter), the addresses email no longer goes to, and the inbox rows.
Nothing is edited by hand: a coordinator can only send failed deliveries again, or lift a
suppression."""

from django.contrib import admin, messages
from django.utils import timezone

from sessions.admin import SessionColumn
from tutoring.admin_paging import LargeTableAdmin
from tutoring.admin import CoordinatorAccess, ReadOnlyAccess
from tutoring.input import parse_id

from .kinds import KINDS
from .models import Delivery, DeliveryStatus, Notification, SuppressedAddress


class KindFilter(admin.SimpleListFilter):
    """The kinds from the catalogue: no SELECT DISTINCT over a table of millions of deliveries."""

    title = "kind"
    parameter_name = "kind"

    def lookups(self, request, model_admin):
        return [(name, name.replace("_", " ")) for name in KINDS]

    def queryset(self, request, queryset):
        return queryset.filter(kind=self.value()) if self.value() in KINDS else queryset


def _search_people_or_session(queryset, search_term):
    """A session id ("#12" or "12") or a person's email: indexed lookups only."""
    term = search_term.strip().lstrip("#")
    if not term:
        return queryset, False
    if (session_id := parse_id(term)) is not None:
        return queryset.filter(session_id=session_id), False
    return queryset.filter(recipient__email__iexact=term), False


@admin.register(Delivery)
class DeliveryAdmin(SessionColumn, ReadOnlyAccess, LargeTableAdmin):
    list_display = ("id", "kind", "channel", "recipient", "status", "attempts", "short_error", "session_ref",
                    "next_attempt_at", "sent_at", "updated_at")
    list_filter = ("status", "channel", KindFilter)
    search_fields = ("source",)  # the search itself is get_search_results below
    search_help_text = "A session id, or a person's email address."
    list_select_related = ("recipient",)
    sortable_by = ("id",)
    ordering = ("-id",)
    actions = ("send_again",)
    readonly_fields = [f.name for f in Delivery._meta.fields]

    def get_search_results(self, request, queryset, search_term):
        return _search_people_or_session(queryset, search_term)

    @admin.display(description="last error")
    def short_error(self, obj):
        return obj.last_error[:120]

    @admin.action(description="Send again (failed or not sent)")
    def send_again(self, request, queryset):
        now = timezone.now()
        n = queryset.filter(status__in=[DeliveryStatus.FAILED, DeliveryStatus.SKIPPED]).update(
            status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=now, claimed_until=None, updated_at=now)
        messages.success(request, f"{n} deliveries will be sent again within a minute.")


@admin.register(SuppressedAddress)
class SuppressedAddressAdmin(CoordinatorAccess, admin.ModelAdmin):
    list_display = ("email", "reason", "created_at")
    list_filter = ("reason",)
    search_fields = ("email",)
    readonly_fields = ("email", "reason", "detail", "created_at")

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # view it; delete it to send email there again


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAccess, LargeTableAdmin):
    list_display = ("id", "recipient", "kind", "title", "created_at", "read_at")
    list_filter = (KindFilter,)
    search_fields = ("title",)  # the search itself is get_search_results below
    search_help_text = "A person's email address."
    list_select_related = ("recipient",)
    sortable_by = ("id",)
    ordering = ("-id",)
    readonly_fields = ("recipient", "kind", "title", "text", "url", "event_id", "delivery", "created_at", "read_at")

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        return (queryset.filter(recipient__email__iexact=term), False) if term else (queryset, False)
