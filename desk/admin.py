"""The desk in the admin: the "needs a person" filters on the session and package lists, the admin
index with the desk, moving a session and answering its open request for a side (desk/moves.py),
the legacy import (Imported sessions → Import: django-import-export's dry run, then confirm),
scheduling (Matches → Accept and schedule, the weekly patterns, the session add page) and billing (a student's statement, the invoicing CSV, the low-balance alerts sent)."""

from datetime import datetime, timedelta

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from import_export.admin import ImportMixin
from import_export.formats.base_formats import CSV

from sessions.admin import LessonPackageAdmin, RescheduleThreadAdmin, SessionAdmin, session_link
from tutoring.admin import (
    CoordinatorAccess,
    MatchAdmin,
    ReadOnlyAccess,
    UserAdmin,
    is_admin_operator,
    person_search,
)
from tutoring.input import DayField, TextField
from tutoring.models import Match, MatchState, Role, User
from tutoring.spreadsheet import csv_lines

from .billing import export_rows, statement
from .legacy import LegacySessionResource
from .models import ImportedSession, LowBalanceAlert, WeeklyPattern
from .moves import OpenRequestColumns, move_page
from .patterns import describe
from .queues import SESSION_QUEUES, low_packages, nearly_used_up, session_condition
from .scheduling import add_session_page, pattern_page


@admin.register(ImportedSession)
class ImportedSessionAdmin(ReadOnlyAccess, ImportMixin, admin.ModelAdmin):  # read only: rows come from the import
    resource_classes = (LegacySessionResource,)
    import_template_name = "admin/desk/import.html"  # with desk-admin.css: the dry run fits a phone
    import_formats = (CSV,)
    list_display = ("external_id", "session_link", "source", "start", "imported_at", "imported_by")
    list_select_related = ("session", "imported_by")
    search_fields = ("external_id",)
    list_filter = ("session__source",)
    ordering = ("-imported_at", "-id")
    readonly_fields = ("external_id", "session", "imported_at", "imported_by")

    def has_import_permission(self, request):
        return is_admin_operator(request.user)

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
        return session_link(obj.session_id)

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
        return [("low", f"Nearly used up ({nearly_used_up()} credits left or fewer)")]

    def queryset(self, request, queryset):
        if self.value() != "low":
            return queryset
        today = timezone.now().astimezone(request.user.tzinfo).date()
        return queryset.filter(pk__in=low_packages(today).values("pk"))


# The desk adds its filters to the session and package admins (as notes/admin.py adds its inlines).
SessionAdmin.list_filter = (NeedsPersonFilter, *SessionAdmin.list_filter)
LessonPackageAdmin.list_filter = (LowPackageFilter, *LessonPackageAdmin.list_filter)
admin.site.index_template = "desk/admin_index.html"


# --- scheduling from matches (desk/scheduling.py, desk/patterns.py) ----------------------------


class ScheduledMatchAdmin(MatchAdmin):
    """Matches: a new one is proposed; "Accept and schedule" sets its weekly pattern."""

    list_display = (*MatchAdmin.list_display[:-2], "state", "active", "accepted_at", "schedule")
    list_filter = ("state", *MatchAdmin.list_filter)
    readonly_fields = ("state", "accepted_at")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("pattern")

    def save_model(self, request, obj, form, change):
        if not change:  # accepted later, with its pattern
            obj.state, obj.accepted_at, obj.active = MatchState.PROPOSED, None, False
        super().save_model(request, obj, form, change)

    def get_urls(self):
        accept = self.admin_site.admin_view(self.accept_view)
        return [path("<int:match_id>/accept/", accept, name="tutoring_match_accept"), *super().get_urls()]

    def accept_view(self, request, match_id):
        if not self.has_change_permission(request):
            raise PermissionDenied
        match = get_object_or_404(Match.objects.select_related("tutor", "student", "course"), pk=match_id)
        pattern = WeeklyPattern.objects.filter(match=match).first()
        if pattern is not None:  # accepted already: its pattern is changed or ended, not accepted again
            (messages.error if request.method == "POST" else messages.info)(
                request, "This match is already accepted and has a weekly pattern: change or end it here."
                + (" Nothing was changed." if request.method == "POST" else ""))
            return HttpResponseRedirect(reverse("admin:desk_weeklypattern_change", args=[pattern.pk]))
        return pattern_page(self, request, match=match)

    @admin.display(description="schedule")
    def schedule(self, obj):
        """Accept and schedule only a proposed match; an accepted one has its pattern changed or ended
        (or, made before patterns, gets one)."""
        pattern = getattr(obj, "pattern", None)
        if obj.state == MatchState.ENDED:
            return "—"
        if obj.state == MatchState.PROPOSED and pattern is None:
            return format_html('<a href="{}">Accept and schedule</a>',
                               reverse("admin:tutoring_match_accept", args=[obj.pk]))
        if pattern is not None:
            first = format_html('<a href="{}">Change or end the pattern</a>',
                                reverse("admin:desk_weeklypattern_change", args=[pattern.pk]))
        else:
            first = format_html('<a href="{}">Set a weekly pattern</a>',
                                reverse("admin:tutoring_match_accept", args=[obj.pk]))
        pair = f"tutor={obj.tutor_id}&student={obj.student_id}"
        if obj.course_id:
            pair += f"&course={obj.course_id}"
        return format_html('{} · <a href="{}?{}">Add one session</a>', first,
                           reverse("admin:tutoring_sessions_session_add"), pair)


admin.site.unregister(Match)
admin.site.register(Match, ScheduledMatchAdmin)


@admin.register(WeeklyPattern)
class WeeklyPatternAdmin(CoordinatorAccess, admin.ModelAdmin):
    """Patterns are made by accepting a match; their change page previews a change or ends them."""

    list_display = ("match", "pattern", "starts_on", "weeks", "ended_at")
    list_select_related = ("match__tutor", "match__student", "match__course")
    list_filter = (("ended_at", admin.EmptyFieldListFilter),)
    ordering = ("-created_at", "-id")
    search_fields = person_search("match__tutor", "match__student")

    def has_add_permission(self, request):
        return False  # Matches → Accept and schedule

    def has_delete_permission(self, request, obj=None):
        return False  # end it instead: its sessions keep their history

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        pattern = get_object_or_404(WeeklyPattern.objects.select_related("match__tutor", "match__student",
                                                                         "match__course"), pk=object_id)
        return pattern_page(self, request, pattern=pattern)

    @admin.display(description="pattern")
    def pattern(self, obj):
        return describe(obj)


SessionAdmin.add_page = add_session_page


# --- moving a session, answering its open request for a side (desk/moves.py) --------------------

_session_admin_urls = SessionAdmin.get_urls


def _session_urls_with_move(self):
    view = self.admin_site.admin_view(lambda request, object_id: move_page(self, request, object_id))
    return [path("<str:object_id>/move/", view, name="tutoring_sessions_session_move"),
            *_session_admin_urls(self)]


SessionAdmin.get_urls = _session_urls_with_move
# the desk's queue of open requests: the threads' list with when each expires and who must answer
RescheduleThreadAdmin.list_display = (*RescheduleThreadAdmin.list_display, OpenRequestColumns.expires,
                                      OpenRequestColumns.proposed_time, OpenRequestColumns.must_answer,
                                      OpenRequestColumns.answer_link)
_thread_queryset = RescheduleThreadAdmin.get_queryset
RescheduleThreadAdmin.get_queryset = lambda self, request: OpenRequestColumns.annotate(
    _thread_queryset(self, request))


@admin.register(LowBalanceAlert)
class LowBalanceAlertAdmin(ReadOnlyAccess, admin.ModelAdmin):
    list_display = ("package", "remaining", "sent_at")
    list_select_related = ("package__student",)
    ordering = ("-sent_at", "-id")


# --- billing: a student's statement and the invoicing export (desk/billing.py) -----------------


class ExportForm(forms.Form):
    month = TextField(max_length=7, required=False, what="month", widget=forms.TextInput(attrs={"type": "month"}),
                      help_text="A whole month (YYYY-MM), or leave empty and choose the dates.")
    first = DayField(label="From", required=False)
    last = DayField(label="To", required=False, help_text="Included.")

    def clean(self):
        d = super().clean()
        month = (d.get("month") or "").strip()
        if month:
            try:
                first = datetime.strptime(month, "%Y-%m").date()
            except ValueError:
                raise forms.ValidationError("Write the month as YYYY-MM, e.g. 2026-03.") from None
            if not 2000 <= first.year <= 2100:
                raise forms.ValidationError("Choose a month between the years 2000 and 2100.")
            d["first"], d["last"] = first, (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
        elif d.get("first") and d.get("last"):
            if d["last"] < d["first"]:
                raise forms.ValidationError("The last day must not be before the first.")
            if (d["last"] - d["first"]).days > 366:
                raise forms.ValidationError("Export at most a year at once.")
        elif not self.errors:
            raise forms.ValidationError("Choose a month, or a first and a last day.")
        return d


def _operator(request):
    if not is_admin_operator(request.user):
        raise PermissionDenied


def billing_export(request):
    """GET with a period downloads the CSV (in the viewer's zone); without one, the form."""
    _operator(request)
    form = ExportForm(request.GET if request.GET else None)
    if form.is_bound and form.is_valid():
        first, last = form.cleaned_data["first"], form.cleaned_data["last"]
        tz = request.user.tzinfo
        response = StreamingHttpResponse(csv_lines(export_rows(first, last, tz)), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="billing-{first}-to-{last}.csv"'
        return response
    context = {**admin.site.each_context(request), "title": "Billing export", "form": form,
               "zone": request.user.time_zone}
    return TemplateResponse(request, "desk/billing_export.html", context, status=422 if form.is_bound else 200)


def billing_statement(request, student_id):
    _operator(request)
    student = get_object_or_404(User, pk=student_id, roles__contains=[Role.STUDENT])
    context = {**admin.site.each_context(request), "title": f"Billing: {student.name}", "student": student,
               **statement(student)}
    return TemplateResponse(request, "desk/billing_statement.html", context)


_site_urls = admin.site.get_urls


def _desk_urls():
    return [
        path("desk/billing/", admin.site.admin_view(billing_export), name="desk_billing_export"),
        path("desk/billing/student/<int:student_id>/", admin.site.admin_view(billing_statement),
             name="desk_billing_statement"),
        *_site_urls(),
    ]


admin.site.get_urls = _desk_urls


@admin.display(description="statement")
def student_statement(obj):
    return format_html('<a href="{}">Billing of {}</a>', reverse("admin:desk_billing_statement",
                                                                  args=[obj.student_id]), obj.student.name)


LessonPackageAdmin.list_display = (*LessonPackageAdmin.list_display, student_statement)
# A person's admin page links to their audit and, for a student, their statement (the desk's pages).
UserAdmin.change_form_template = "admin/desk/user_change_form.html"


# The dispute queue, the audit views and the policies' history (issue 17 items 3 and 4).
from . import review  # noqa: F401
