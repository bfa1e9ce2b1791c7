"""Coordinators read the analytics events: filter by event, source and date, search by the user's
name, and see how many events of each kind the filtered list holds."""

from django.contrib import admin

from tutoring.admin_paging import LargeTableAdmin
from tutoring.admin import ReadOnlyAccess

from .models import Event, EventName

# Each event's count stops here (an index range scan on (name, created_at)); the page says "N+".
COUNT_CAP = 100_000


def event_counts(queryset, *, cap: int = COUNT_CAP) -> list[dict]:
    """Per event name, how many rows of `queryset` (the changelist's filtered set) it has."""
    rows = []
    for name in EventName:
        count = queryset.filter(name=name).order_by().values("pk")[: cap + 1].count()
        rows.append({"name": name.value, "label": name.label, "count": min(count, cap),
                     "capped": count > cap})
    return rows


@admin.register(Event)
class EventAdmin(ReadOnlyAccess, LargeTableAdmin):
    change_list_template = "admin/analytics/event/change_list.html"
    list_display = ("created_at", "name", "source", "user", "page", "data")
    list_select_related = ("user",)
    list_filter = ("name", "source", "created_at")
    date_hierarchy = "created_at"
    search_fields = ("user__name", "user__username")
    search_help_text = "Part of the user's name or username."
    sortable_by = ("created_at",)
    ordering = ("-created_at", "-id")
    readonly_fields = ("name", "user", "page", "data", "source", "created_at")

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        context = getattr(response, "context_data", None)
        if context and context.get("cl") is not None:  # not for a redirect or an error page
            context["event_counts"] = event_counts(context["cl"].queryset)
        return response
