"""The coordinator's review in the admin (issue 17 items 3 and 4): the dispute queue (one page per
disputed session, desk/disputes.py), the audit views per session and per person with the penalty
waiver (desk/audit.py), and the history of the penalty sheet and the reason lists
(desk/policies.py). desk/admin.py imports this module, which registers them."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, Subquery
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse

from sessions import lifecycle, projections
from sessions.admin import CancellationPolicyAdmin, ChangeReasonAdmin
from sessions.errors import Refused
from sessions.models import CancellationPolicy, ChangeReason, Channel, Session, SessionEvent, Status
from tutoring.admin import CoordinatorAccess, ReadOnlyAccess, is_admin_operator
from tutoring.input import parse_id
from tutoring.models import Role, User

from . import audit, disputes, policies
from .forms import ResolveForm, WaiveForm
from .models import Dispute, PolicyChange

# --- the dispute queue and the audit views ----------------------------------------------------------


def require_operator(request) -> None:
    if not is_admin_operator(request.user):
        raise PermissionDenied


def session_or_404(object_id) -> Session:
    if (pk := parse_id(object_id)) is None:
        raise Http404("Session not found.")
    return get_object_or_404(Session.objects.select_related("tutor", "student", "course"), pk=pk)


def submitted(request, form_class, act, *, success: str, then: str):
    """(form, status, redirect or None). GET: an empty form. POST: a valid form runs act(data), a
    lifecycle call; a refusal is shown in the lifecycle's words and nothing changed."""
    if request.method != "POST":
        return form_class(), 200, None
    form = form_class(request.POST)
    if not form.is_valid():
        return form, 422, None
    try:
        act(form.cleaned_data)
    except Refused as exc:
        said = exc.message if exc.message.endswith("changed.") else f"{exc.message} Nothing was changed."
        messages.error(request, said)
        return form, exc.status, None
    messages.success(request, success)
    return form, 200, HttpResponseRedirect(then)


@admin.register(Dispute)
class DisputeAdmin(CoordinatorAccess, admin.ModelAdmin):
    """Disputed sessions, oldest first; each row opens the session's dispute page."""

    list_display = ("id", "scheduled_start", "tutor", "student", "course", "disputed_at", "parent_reason")
    list_select_related = ("tutor", "student", "course")
    list_display_links = ("id",)
    ordering = ("scheduled_start", "id")
    sortable_by = ()

    def get_queryset(self, request):
        last = SessionEvent.objects.filter(session=OuterRef("pk"), kind="dispute").order_by("-id")
        return (super().get_queryset(request).filter(status=Status.DISPUTED)
                .annotate(dispute_reason=Subquery(last.values("reason")[:1]),
                          dispute_at=Subquery(last.values("created_at")[:1])))

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="disputed at")
    def disputed_at(self, obj):
        return obj.dispute_at

    @admin.display(description="the parent's reason")
    def parent_reason(self, obj):
        reason = obj.dispute_reason or ""
        return reason if len(reason) <= 120 else f"{reason[:119]}…"

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("audit/session/<str:object_id>/", wrap(self.session_audit_view), name="desk_audit_session"),
            path("audit/person/<str:object_id>/", wrap(self.person_audit_view), name="desk_audit_person"),
            *super().get_urls(),
        ]

    def context(self, request, **extra):
        return {**self.admin_site.each_context(request), "opts": self.opts, **extra}

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """The dispute page: GET shows the file, POST decides it through the lifecycle."""
        require_operator(request)
        session = session_or_404(object_id)
        form, status, done = submitted(
            request, ResolveForm, lambda data: disputes.resolve(
                session.pk, by=request.user, decision=data["decision"], reason=data["reason"]),
            success=f"Decided the dispute of session {session.pk}: the parent and the tutor are told.",
            then=reverse("admin:desk_dispute_changelist"))
        if done:
            return done
        if request.method == "POST":
            session = session_or_404(object_id)  # someone else may have decided it meanwhile
        file = disputes.dispute_file(session)
        return TemplateResponse(request, "admin/desk/dispute.html", self.context(
            request, title=f"Dispute: session {session.pk}", file=file, s=session, form=form,
            original=session), status=status)

    def session_audit_view(self, request, object_id):
        """A session's trail; a cancelled session's penalty can be waived here, with a reason."""
        require_operator(request)
        session = session_or_404(object_id)
        form, status, done = submitted(
            request, WaiveForm, lambda data: lifecycle.waive_penalty(
                session.pk, by=request.user, reason=data["reason"], channel=Channel.ADMIN),
            success="Waived the cancellation penalty: the parent and the tutor are told.", then=request.path)
        if done:
            return done
        page = audit.page_of(audit.session_trail(session.pk), request.GET.get("page"))
        events = list(page.object_list)
        cancel = session.events.filter(kind="cancel").order_by("-id").first()
        waivable = (cancel is not None and projections.penalty_charged(cancel.data)
                    and not session.events.filter(kind="penalty_waived").exists())
        return TemplateResponse(request, "admin/desk/audit.html", self.context(
            request, title=f"Audit trail: session {session.pk}", s=session, page=page, events=events,
            form=form if waivable else None, charge=projections.charge_text(cancel.data) if cancel else "",
            person=None), status=status)

    def person_audit_view(self, request, object_id):
        require_operator(request)
        if (pk := parse_id(object_id)) is None:
            raise Http404("Person not found.")
        person = get_object_or_404(User, pk=pk)
        page = audit.page_of(audit.person_events(person), request.GET.get("page"))
        roles = [Role(code).label if code in Role.values else code for code in person.roles]  # words, not codes
        return TemplateResponse(request, "admin/desk/audit.html", self.context(
            request, title=f"Audit: {person.name or person.username}", person=person, roles=roles, page=page,
            events=list(page.object_list), s=None, form=None))


# --- the penalty sheet and the reason lists, with their history ------------------------------------


class PolicyHistory:
    """Records every add, change and delete of a row with who and what (desk/policies.py); the
    row's History page lists them."""

    object_history_template = "admin/desk/policy_history.html"

    def save_model(self, request, obj, form, change):
        before = policies.snapshot(type(obj).objects.get(pk=obj.pk)) if change else {}
        super().save_model(request, obj, form, change)
        policies.record_change(by=request.user, obj=obj, before=before, after=policies.snapshot(obj),
                               action="changed" if change else "added")

    def delete_model(self, request, obj):
        self._deleted(request, obj)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self._deleted(request, obj)
        super().delete_queryset(request, queryset)

    def _deleted(self, request, obj):
        policies.record_change(by=request.user, obj=obj, before=policies.snapshot(obj), after={}, action="deleted")

    def history_view(self, request, object_id, extra_context=None):
        pk = parse_id(object_id)
        changes = policies.history_of(self.model, pk) if pk is not None else []
        return super().history_view(request, object_id, {**(extra_context or {}), "policy_changes": changes})


admin.site.unregister(CancellationPolicy)
admin.site.unregister(ChangeReason)


@admin.register(CancellationPolicy)
class PenaltySheetAdmin(PolicyHistory, CancellationPolicyAdmin):
    list_display = (*CancellationPolicyAdmin.list_display[:-1], "applies_to_trials", "updated_at")


@admin.register(ChangeReason)
class ReasonListAdmin(PolicyHistory, ChangeReasonAdmin):
    pass


@admin.register(PolicyChange)
class PolicyChangeAdmin(ReadOnlyAccess, admin.ModelAdmin):
    """Every change of the penalty sheet and the reason lists, newest first (read-only)."""

    list_display = ("changed_at", "table", "object_repr", "action", "changed_by", "fields_changed")
    list_select_related = ("changed_by",)
    list_filter = ("table", "action")
    ordering = ("-changed_at", "-id")

    @admin.display(description="what changed")
    def fields_changed(self, obj):
        keys = sorted(set(obj.before) | set(obj.after))
        return "; ".join(f"{k}: {obj.before.get(k, '—')} → {obj.after.get(k, '—')}" for k in keys
                         if obj.before.get(k) != obj.after.get(k))
