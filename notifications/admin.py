"""The coordinators' view of notifications: every delivery with its status, attempts and last error
(failed ones first in the filter), the addresses email no longer goes to, and the inbox rows.
Nothing is edited by hand: a coordinator can only send failed deliveries again, or lift a
suppression."""

from django.contrib import admin, messages
from django.utils import timezone

from tutoring.admin import CoordinatorAccess, ReadOnlyAccess

from .models import Delivery, DeliveryStatus, Notification, SuppressedAddress


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAccess, admin.ModelAdmin):
    list_display = ("id", "kind", "channel", "recipient", "status", "attempts", "short_error", "session_id",
                    "next_attempt_at", "sent_at", "updated_at")
    list_filter = ("status", "channel", "kind")
    search_fields = ("recipient__name", "recipient__email", "=session__id", "source")
    list_select_related = ("recipient",)
    ordering = ("-id",)
    show_full_result_count = False
    actions = ("send_again",)
    readonly_fields = [f.name for f in Delivery._meta.fields]

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
class NotificationAdmin(ReadOnlyAccess, admin.ModelAdmin):
    list_display = ("id", "recipient", "kind", "title", "created_at", "read_at")
    list_filter = ("kind",)
    search_fields = ("recipient__name", "title")
    list_select_related = ("recipient",)
    ordering = ("-id",)
    show_full_result_count = False
    readonly_fields = ("recipient", "kind", "title", "text", "url", "event_id", "delivery", "created_at", "read_at")
