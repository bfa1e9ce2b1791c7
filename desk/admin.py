"""The desk's filters on the session and package lists, the admin index with the desk, and the
legacy import in the admin: Imported sessions → Import (django-import-export's dry run,
then confirm), and the list of what was imported with links to the sessions."""

from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from import_export.admin import ImportMixin
from import_export.formats.base_formats import CSV

from sessions.admin import LessonPackageAdmin, SessionAdmin
from tutoring.admin import CoordinatorAccess, is_admin_operator

from .legacy import LegacySessionResource
from .models import ImportedSession
from .queues import NEARLY_USED_UP, SESSION_QUEUES, low_packages, session_condition


@admin.register(ImportedSession)
class ImportedSessionAdmin(CoordinatorAccess, ImportMixin, admin.ModelAdmin):
    resource_classes = (LegacySessionResource,)
    import_formats = (CSV,)
    list_display = ("external_id", "session_link", "source", "start", "imported_at", "imported_by")
    list_select_related = ("session", "imported_by")
    search_fields = ("external_id",)
    list_filter = ("session__source",)
    ordering = ("-imported_at", "-id")
    readonly_fields = ("external_id", "session", "imported_at", "imported_by")

    def has_import_permission(self, request):
        return is_admin_operator(request.user)

    def has_add_permission(self, request, *args):
        return False  # rows come from the import

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_import_data_kwargs(self, **kwargs):
        # the confirmed run is all or nothing, like the dry run that was shown
        return {**super().get_import_data_kwargs(**kwargs), "rollback_on_validation_errors": True}

    def process_result(self, result, request):
        if result.has_errors() or result.has_validation_errors():
            messages.error(request, "The file no longer imports cleanly (the sessions changed since the check): "
                                    "nothing was saved. Upload it again to see the rows.")
            return HttpResponseRedirect(reverse("admin:desk_importedsession_changelist"))
        return super().process_result(result, request)

    @admin.display(description="session", ordering="session_id")
    def session_link(self, obj):
        url = reverse("admin:tutoring_sessions_session_change", args=[obj.session_id])
        return format_html('<a href="{}">Session {}</a>', url, obj.session_id)

    @admin.display(description="source")
    def source(self, obj):
        return obj.session.get_source_display()

    @admin.display(description="start", ordering="session__scheduled_start")
    def start(self, obj):
        return obj.session.scheduled_start


# --- the desk: "needs a person" filters on the session and package lists, and the admin index ------


class NeedsPersonFilter(admin.SimpleListFilter):
    """The desk's queues as a filter (fixed choices: the sidebar runs no query)."""

    title = "needs a person"
    parameter_name = "desk"

    def lookups(self, request, model_admin):
        return [(key, label) for key, (label, _hint) in SESSION_QUEUES.items()]

    def queryset(self, request, queryset):
        if self.value() not in SESSION_QUEUES:
            return queryset
        return queryset.filter(session_condition(self.value(), request.user, timezone.now()))


class LowPackageFilter(admin.SimpleListFilter):
    title = "needs a person"
    parameter_name = "desk"

    def lookups(self, request, model_admin):
        return [("low", f"Nearly used up ({NEARLY_USED_UP} credits left or fewer)")]

    def queryset(self, request, queryset):
        if self.value() != "low":
            return queryset
        today = timezone.now().astimezone(request.user.tzinfo).date()
        return queryset.filter(pk__in=low_packages(today).values("pk"))


# The desk adds its filters to the session and package admins (as notes/admin.py adds its inlines).
SessionAdmin.list_filter = (NeedsPersonFilter, *SessionAdmin.list_filter)
LessonPackageAdmin.list_filter = (LowPackageFilter, *LessonPackageAdmin.list_filter)
admin.site.index_template = "desk/admin_index.html"

# The dispute queue, the audit views and the policies' history (issue 17 items 3 and 4).
from . import review  # noqa: F401
