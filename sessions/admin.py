"""The coordinators' admin for tutoring sessions.

Nothing here writes a session's status, slot or attendance: those fields are read-only, and every
change of state is an action (verify, resolve a dispute, mark a no-show, cancel on someone's behalf:
the entries of the action registry, sessions/actions.py, with an Admin part) that collects its input
on an intermediate page and calls sessions.lifecycle with channel=admin; the
lifecycle checks, writes and appends the SessionEvent. A refusal (errors.Refused) is shown per session
with the lifecycle's own words and changes nothing for that session.

The session and event changelists are built for millions of rows: see tutoring/admin_paging.py.
"""

from collections import defaultdict
from datetime import datetime

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.options import ActionLocation
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.formats import localize
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils import timezone
from django.utils.timezone import localtime

from tutoring.admin import CoordinatorAccess, ReadOnlyAccess, person_search
from tutoring.admin_paging import LargeTableAdmin
from tutoring.input import parse_id
from tutoring.models import Enrollment, LessonPackage, Role, User

from . import selectors
from .actions import ACTIONS, Action, Admin
from .errors import Refused
from .models import (
    CancellationPolicy,
    ChangeReason,
    Channel,
    PackageDeduction,
    Recording,
    RescheduleProposal,
    RescheduleThread,
    Session,
    SessionAssessment,
    SessionEvent,
    SessionResource,
    Source,
    event_label,
    status_name,
)

APPLY = "_lifecycle_apply"


def when(moment) -> str:
    return localize(localtime(moment))


def session_link(session_id: int):
    url = reverse("admin:tutoring_sessions_session_change", args=[session_id])
    return format_html('<a href="{}">Session {}</a>', url, session_id)


class SessionColumn:
    """ModelAdmin mixin: the "session" column (session_ref), a link to the row's session ("-" when it has none)."""

    @admin.display(description="session")
    def session_ref(self, obj):
        return session_link(obj.session_id) if obj.session_id else "-"


def plural_sessions(n: int) -> str:
    return "1 session" if n == 1 else f"{n} sessions"


# --- running an action ------------------------------------------------------------------------


def selected_ids(queryset) -> list[int]:
    """At most one more than settings.SESSIONS_ADMIN_MAX_ACTION_SESSIONS of the selected ids: a
    lifecycle action locks and writes each session in its own transaction, so a batch stays small
    enough to finish within one request."""
    most = settings.SESSIONS_ADMIN_MAX_ACTION_SESSIONS
    return list(queryset.order_by("pk").values_list("pk", flat=True)[: most + 1])


def action_field_name(request) -> str:
    """The action's own field: the change form's action bar prefixes it with its location."""
    prefixed = f"{ActionLocation.CHANGE_FORM.value}-action"
    return prefixed if prefixed in request.POST else "action"


def run_lifecycle_action(modeladmin, request, queryset, *, action: Action):
    """First POST (from the action bar): show the form. Second POST (APPLY): call the lifecycle
    once per session; each call is its own transaction, so a refusal leaves that session as it was."""
    spec = action.admin
    ids = selected_ids(queryset)
    if len(ids) > (most := settings.SESSIONS_ADMIN_MAX_ACTION_SESSIONS):
        modeladmin.message_user(request, f"Select at most {most} sessions for “{spec.title}”. "
                                "Nothing was changed.", messages.ERROR)
        return None
    form = spec.form(request.POST if APPLY in request.POST else None)
    if not form.is_valid():
        return render_action_page(modeladmin, request, spec=spec, form=form, ids=ids)
    changed, refusals = apply_to_sessions(action=action, ids=ids, by=request.user, data=form.cleaned_data,
                                          seen=seen_statuses(request, ids))
    report_outcome(modeladmin, request, spec=spec, changed=changed, refusals=refusals)
    return None


def seen_field(session_id: int) -> str:
    return f"seen-{session_id}"


def seen_statuses(request, ids: list[int]) -> dict[int, str]:
    """The status each session had when the coordinator opened it (the change form's and the
    intermediate page's hidden seen-<id>): the lifecycle refuses a session that changed since,
    e.g. the parent disputed it while the coordinator was deciding (rules.require_unchanged)."""
    return {pk: request.POST[seen_field(pk)] for pk in ids if request.POST.get(seen_field(pk))}


def apply_to_sessions(*, action: Action, ids: list[int], by: User, data: dict, seen: dict[int, str] | None = None):
    changed, refusals = [], defaultdict(list)
    for session_id in ids:
        said = {"seen_status": seen[session_id]} if seen and session_id in seen else {}
        try:
            action.perform(session_id, by=by, channel=Channel.ADMIN, data=data | said)
        except Refused as exc:
            refusals[exc.message].append(session_id)
        else:
            changed.append(session_id)
    return changed, refusals


def report_outcome(modeladmin, request, *, spec: Admin, changed: list[int], refusals: dict) -> None:
    if changed:
        modeladmin.message_user(request, spec.done.format(n=plural_sessions(len(changed))), messages.SUCCESS)
    # Several sessions refused for the same reason make one message naming each of them.
    for message, session_ids in refusals.items():
        names = ", ".join(str(pk) for pk in session_ids)
        label = "Session" if len(session_ids) == 1 else "Sessions"
        modeladmin.message_user(request, f"{label} {names}: {message} Nothing was changed.", messages.ERROR)


def render_action_page(modeladmin, request, *, spec: Admin, form, ids: list[int]):
    sessions = list(Session.objects.filter(pk__in=ids).select_related("tutor", "student", "course").order_by(
        "scheduled_start", "pk"))
    # what the coordinator saw: the status on the page they came from, else the one shown here
    seen = seen_statuses(request, ids)
    for s in sessions:
        s.seen_field, s.seen_status = seen_field(s.pk), seen.get(s.pk, s.status)
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": spec.title,
        "intro": spec.intro,
        "opts": modeladmin.opts,
        "form": form,
        "sessions": sessions,
        "action_name": spec.name,
        "action_field": action_field_name(request),
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "apply_name": APPLY,
    }
    return TemplateResponse(request, "admin/tutoring_sessions/session/lifecycle_action.html", context)


def lifecycle_admin_action(action: Action):
    """The admin action of one registry entry with an Admin part."""
    def admin_action(modeladmin, request, queryset):
        return run_lifecycle_action(modeladmin, request, queryset, action=action)

    admin_action.__name__ = action.admin.name
    return admin.action(admin_action, description=action.admin.title, permissions=["change"],
                        location=[ActionLocation.CHANGE_LIST, ActionLocation.CHANGE_FORM])


# --- sessions ---------------------------------------------------------------------------------


class EventWords:
    """An event's kind, status change and data in words (projections.event_label; the data as a
    "label: value" line per key), not internal codes or raw JSON."""

    @admin.display(description="details")
    def details(self, obj):
        if not obj.data or not isinstance(obj.data, dict):
            return event_data_value("", obj.data)
        return format_html_join(mark_safe("<br>"), "{}: {}", (
            (EVENT_DATA_LABELS.get(key, key), event_data_value(key, value)) for key, value in obj.data.items()))

    @admin.display(description="what")
    def what(self, obj):
        return event_label(obj.kind)

    @admin.display(description="status")
    def status_change(self, obj):
        if obj.from_status != obj.to_status:
            return f"{status_name(obj.from_status) or '—'} → {status_name(obj.to_status)}"
        return status_name(obj.to_status) or "—"


# An event's data keys in words (what the lifecycle, the room and the desk write); a key not named
# here is shown as it is stored. Times are ISO strings, shown in the viewer's zone.
EVENT_DATA_LABELS = {
    "is_trial": "trial", "billed_as_addon": "billed as an add-on", "source": "source",
    "external_id": "legacy id", "from_start": "previous start", "from_end": "previous end",
    "old_start": "previous start", "old_end": "previous end", "new_start": "new start", "new_end": "new end",
    "start": "new start", "proposed_start": "proposed start", "proposed_end": "proposed end",
    "thread_id": "reschedule thread", "proposal_id": "proposal", "version": "version",
    "countered_proposal_id": "countered proposal", "closed_thread_id": "closed reschedule thread",
    "on_behalf": "on someone's behalf", "on_behalf_of": "on behalf of", "role": "as",
    "reason_id": "reason (list entry)", "reason": "reason", "policy_id": "cancellation band",
    "penalty": "penalty", "charge_percent": "charge (% of the lesson)", "cost": "cost",
    "cost_credits": "cost in credits", "cost_amount": "cost amount", "cost_package_id": "package charged",
    "party": "did not attend", "student_absent": "student absent", "decision": "decision",
    "waive": "waive the credit", "waived": "credit waived", "deduction": "credit",
    "package_id": "package", "cancel_event_id": "cancel event", "rating": "rating",
    "ids": "resources", "names": "files", "attachments": "attachments", "chars": "characters",
}
EVENT_DATA_TIMES = {"from_start", "from_end", "old_start", "old_end", "new_start", "new_end", "start",
                    "proposed_start", "proposed_end"}
EVENT_DATA_ROLES = {"on_behalf_of", "role", "party"}
EVENT_DATA_WORDS = {"deducted": "deducted", "exempt": "exempt", "already": "already deducted",
                    "no_credit": "no credit to deduct", "timed_out": "timed out", "approve": "approve",
                    "void": "void"}


def event_data_value(key: str, value) -> str:
    """One data value in words: yes/no, times in the viewer's zone, roles by their labels."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(event_data_value(key, item) for item in value) or "—"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {event_data_value(k, v)}" for k, v in value.items()) or "—"
    if key in EVENT_DATA_TIMES and isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        return when(moment) if timezone.is_aware(moment) else localize(moment)
    if key in EVENT_DATA_ROLES and value in Role.values:
        return Role(value).label
    if isinstance(value, str):
        return EVENT_DATA_WORDS.get(value, value)
    return str(value)


class SessionEventInline(EventWords, ReadOnlyAccess, admin.TabularInline):
    """The audit trail, append-only in the database too (a trigger refuses UPDATE and DELETE); each
    event's data in words, a "label: value" line per key."""

    model = SessionEvent
    fields = ("created_at", "what", "status_change", "actor", "channel", "reason", "details")
    readonly_fields = fields
    ordering = ("id",)
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")


class RescheduleThreadInline(ReadOnlyAccess, admin.TabularInline):
    model = RescheduleThread
    fields = ("status", "opened_by", "opened_by_role", "reason", "note", "created_at", "resolved_at")
    readonly_fields = fields
    ordering = ("-created_at", "-id")
    show_change_link = True  # the thread's page lists every proposal version
    extra = 0
    verbose_name_plural = "reschedule threads"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("opened_by", "reason")


class SessionForm(forms.ModelForm):
    class Meta:
        model = Session
        fields = "__all__"

    def clean_course(self):
        course = self.cleaned_data.get("course")
        if course is not None and not Enrollment.objects.filter(course=course,
                                                                student_id=self.instance.student_id).exists():
            raise forms.ValidationError("The student is not enrolled in that course.")
        return course


def matching_people(term: str):
    """The people a search term matches: their ids, or, when more than
    settings.SESSIONS_ADMIN_MAX_SEARCH_PEOPLE match (a broad term), a subquery, so the sessions are
    filtered while walking the start index (matches are frequent) instead of by a long id list."""
    most = settings.SESSIONS_ADMIN_MAX_SEARCH_PEOPLE
    people = User.objects.filter(Q(name__icontains=term) | Q(username__icontains=term)).values("pk")
    ids = list(people.values_list("pk", flat=True)[: most + 1])
    return people if len(ids) > most else ids


# Fields a coordinator may correct by hand: none of them is a state, a time or attendance.
SESSION_EDITABLE = ("course", "video_provider", "video_room_id", "meeting_url")


@admin.register(Session)
class SessionAdmin(CoordinatorAccess, LargeTableAdmin):
    form = SessionForm
    actions = [lifecycle_admin_action(action) for action in ACTIONS if action.admin]
    # One "kind" column for source, trial and add-on: every cell costs render time on 100 rows.
    list_display = ("id", "scheduled_start", "status", "tutor", "student", "course", "kind")
    list_select_related = ("tutor", "student", "course")
    # The date filter is a range on the (scheduled_start, id) index; the others have fixed choices,
    # so the sidebar itself runs no query.
    list_filter = ("status", "source", "is_trial", "billed_as_addon", "scheduled_start")
    # Only orderings an index serves: (scheduled_start, id) and the primary key.
    sortable_by = ("id", "scheduled_start")
    ordering = ("-scheduled_start", "-id")
    search_fields = ("id", "tutor__name", "student__name")  # implemented by get_search_results
    search_help_text = "A session id, or part of the tutor's or the student's name or username."
    autocomplete_fields = ("course",)
    # notes/admin.py puts the notes and summary inlines first (notes sits above sessions)
    inlines = (SessionEventInline, RescheduleThreadInline)
    fieldsets = (
        (None, {"fields": ("status", "tutor", "student", "course", "source", "is_trial", "billed_as_addon")}),
        ("Slot", {"fields": ("scheduled_start", "scheduled_end", "duration")}),
        ("Attendance", {"fields": ("checked_in_at", "checked_out_at", "actual_duration", "no_show_party")}),
        ("Cancellation", {"fields": ("cancelled_at", "cancellation_reason")}),
        ("Lesson credit", {"fields": ("credit",)}),
        ("Open reschedule request", {"fields": ("open_reschedule",)}),
        ("Video room", {"fields": SESSION_EDITABLE[1:]}),
        ("Record", {"fields": ("created_at", "updated_at")}),
    )

    def get_readonly_fields(self, request, obj=None):
        model_fields = [f.name for f in Session._meta.concrete_fields if f.name not in SESSION_EDITABLE]
        return (*model_fields, "duration", "actual_duration", "credit", "open_reschedule")

    # The add page is desk/scheduling.py's form, saved by lifecycle.create_session (the desk
    # registers it, as notes/admin.py adds its inlines); without it there is no add page.
    add_page = None

    def has_add_permission(self, request):
        return self.add_page is not None and super().has_add_permission(request)

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        return self.add_page(request)

    def has_delete_permission(self, request, obj=None):
        return False  # the audit trail protects them; cancel or void instead

    def get_search_results(self, request, queryset, search_term):
        """People are matched first (a small table), then their sessions by tutor_id / student_id:
        a list of ids lets the (tutor, start) and (student, start) indexes serve the search, where a
        subquery made PostgreSQL filter every session. A number is also a session id."""
        term = search_term.strip()
        if not term:
            return queryset, False
        people = matching_people(term)
        match = Q(tutor_id__in=people) | Q(student_id__in=people)
        digits = term.lstrip("#")
        if (pk := parse_id(digits)) is not None:
            match |= Q(pk=pk)
        return queryset.filter(match), False

    @admin.display(description="kind")
    def kind(self, obj):
        tags = [label for flag, label in ((obj.is_trial, "trial"), (obj.billed_as_addon, "add-on")) if flag]
        if obj.source != Source.NATIVE:
            tags.append(obj.get_source_display().lower())
        return ", ".join(tags) or "—"

    @admin.display(description="duration")
    def duration(self, obj):
        return obj.duration

    @admin.display(description="actual duration")
    def actual_duration(self, obj):
        return obj.actual_duration or "—"

    @admin.display(description="deduction")
    def credit(self, obj):
        if not obj.deducts_credit:
            return "Exempt: add-on, trial, imported or legacy sessions use no credit."
        deduction = getattr(obj, "deduction", None) if obj.pk else None
        if deduction is None:
            return "No credit used."
        url = reverse("admin:tutoring_lessonpackage_change", args=[deduction.package_id])
        return format_html('{} credit from <a href="{}">package {}</a> on {}', deduction.credits, url,
                           deduction.package_id, when(deduction.created_at))

    @admin.display(description="open request")
    def open_reschedule(self, obj):
        thread, _ = selectors.open_thread_and_proposal(obj)
        if thread is None:
            return "None."
        proposals = thread.all_proposals
        rows = format_html_join(
            "", "<li>v{} by {} ({}): {} → {} — {}</li>",
            ((p.version, p.proposed_by, p.get_proposed_by_role_display(), when(p.proposed_start),
              when(p.proposed_end), p.get_status_display()) for p in proposals),
        )
        return format_html("Opened by the {} on {} ({}). <ul>{}</ul>", thread.get_opened_by_role_display(),
                           when(thread.created_at), thread.reason.label, rows)


# --- read-only records of sessions ------------------------------------------------------------


class NotifiedFilter(admin.SimpleListFilter):
    title = "notified"
    parameter_name = "notified"

    def lookups(self, request, model_admin):
        return [("stuck", f"Stuck: not told after {selectors.STUCK_AFTER.seconds // 60} minutes"),
                ("no", "Not told yet")]

    def queryset(self, request, queryset):
        if self.value() == "stuck":
            return queryset.filter(selectors.stuck_events(timezone.now()))
        if self.value() == "no":
            return queryset.filter(notified_at__isnull=True)
        return queryset


@admin.register(SessionEvent)
class SessionEventAdmin(SessionColumn, EventWords, ReadOnlyAccess, LargeTableAdmin):
    list_display = ("id", "session_ref", "what", "status_change", "channel", "actor", "created_at", "notified_at")
    list_select_related = ("actor",)
    list_filter = ("channel", NotifiedFilter)
    sortable_by = ("id",)
    ordering = ("-id",)
    search_fields = ("session__id",)
    search_help_text = "A session id."
    exclude = ("kind", "from_status", "to_status", "data")  # shown in words instead:
    readonly_fields = ("what", "status_change", "details")

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip().lstrip("#")
        if not term:
            return queryset, False
        if (session_id := parse_id(term)) is None:
            return queryset.none(), False
        return queryset.filter(session_id=session_id), False  # index (session, id)


class ProposalInline(ReadOnlyAccess, admin.TabularInline):
    model = RescheduleProposal
    fields = ("version", "proposed_by", "proposed_by_role", "proposed_start", "proposed_end", "note",
              "status", "answered_by", "answered_at", "answer_note")
    readonly_fields = fields
    ordering = ("version",)
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("proposed_by", "answered_by")


@admin.register(RescheduleThread)
class RescheduleThreadAdmin(SessionColumn, ReadOnlyAccess, admin.ModelAdmin):
    inlines = (ProposalInline,)
    list_display = ("id", "session_ref", "status", "opened_by", "opened_by_role", "created_at", "resolved_at")
    list_select_related = ("opened_by",)
    list_filter = ("status", "opened_by_role")
    ordering = ("-id",)
    raw_id_fields = ("session",)


class SessionRecordAdmin(SessionColumn, ReadOnlyAccess, admin.ModelAdmin):
    """Rows attached to a session (feedback, files, recordings, video rooms and provider events):
    written by the product, shown here."""

    ordering = ("-id",)
    raw_id_fields = ("session",)


@admin.register(Recording)
class RecordingAdmin(SessionRecordAdmin):
    list_display = ("id", "session_ref", "provider", "status", "duration_seconds", "size_bytes", "created_at")
    list_filter = ("status", "provider")


@admin.register(SessionAssessment)
class SessionAssessmentAdmin(SessionRecordAdmin):
    list_display = ("id", "session_ref", "author", "author_role", "rating", "created_at")
    list_select_related = ("author",)
    list_filter = ("author_role", "rating")


@admin.register(SessionResource)
class SessionResourceAdmin(SessionRecordAdmin):
    list_display = ("id", "session_ref", "name", "type", "uploaded_by", "created_at")
    list_select_related = ("uploaded_by",)
    list_filter = ("type",)


# --- coordinator-edited tables ----------------------------------------------------------------


@admin.register(ChangeReason)
class ChangeReasonAdmin(CoordinatorAccess, admin.ModelAdmin):
    """The reason pickers; retire a reason with `active` (sessions and threads keep pointing at it)."""

    list_display = ("label", "role", "kind", "code", "requires_note", "active", "position")
    list_editable = ("requires_note", "active", "position")
    list_filter = ("role", "kind", "active")
    prepopulated_fields = {"code": ("label",)}
    search_fields = ("label", "code")


@admin.register(CancellationPolicy)
class CancellationPolicyAdmin(CoordinatorAccess, admin.ModelAdmin):
    """The penalty sheet shown before a cancel is confirmed."""

    list_display = ("role", "min_hours_before", "max_hours_before", "penalty", "charge_percent", "updated_at")
    list_filter = ("role",)


# --- lesson packages and their ledger ---------------------------------------------------------
# LessonPackage is the project base's model; its admin lives here because its ledger (used,
# remaining, the deductions) is this app's PackageDeduction: the base imports no app.


class DeductionInline(ReadOnlyAccess, admin.TabularInline):
    """The ledger: one row per approved session, written only by the lifecycle."""

    model = PackageDeduction
    fields = ("session_link", "session_date", "credits", "created_at")
    readonly_fields = fields
    ordering = ("-created_at", "-id")
    extra = 0
    verbose_name = "deduction"
    verbose_name_plural = "ledger of deductions"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("session")

    @admin.display(description="session")
    def session_link(self, obj):
        return session_link(obj.session_id)

    @admin.display(description="session date")
    def session_date(self, obj):
        return obj.session.scheduled_start


class LessonPackageForm(forms.ModelForm):
    class Meta:
        model = LessonPackage
        fields = "__all__"

    def clean_credits(self):
        credits = self.cleaned_data["credits"]
        used = selectors.used_credits(self.instance) if self.instance.pk else 0
        if credits is not None and credits < used:
            raise ValidationError(f"{used} credits are already used: the package needs at least that many.")
        return credits


@admin.register(LessonPackage)
class LessonPackageAdmin(CoordinatorAccess, admin.ModelAdmin):
    form = LessonPackageForm
    inlines = (DeductionInline,)
    list_display = ("student", "course", "credits", "used", "remaining", "price", "currency", "expires_on")
    list_select_related = ("student", "course")
    list_filter = ("expires_on",)
    autocomplete_fields = ("student", "course")
    search_fields = ("course__title", *person_search("student"))

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(used_total=selectors.used_credits_subquery())

    def get_readonly_fields(self, request, obj=None):
        # Once the ledger has rows, moving the package to another student or course would
        # rewrite history: those stay as they were.
        if obj is not None and obj.used_total:
            return ("student", "course", "used", "remaining")
        return ("used", "remaining")

    @admin.display(description="used", ordering="used_total")
    def used(self, obj):
        return obj.used_total

    @admin.display(description="remaining")
    def remaining(self, obj):
        return selectors.remaining(obj.credits, obj.used_total)
