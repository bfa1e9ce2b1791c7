"""Coordinators read every session's notes, attachments and summary in the admin (on the session's
page, through the inlines below) and can ask for a failed summary to be made again. Notes are
written only by the tutor's form, the API and the bot: nothing here edits them."""

from django.contrib import admin, messages
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from sessions.admin import SessionAdmin
from tutoring.admin import CoordinatorAccess, ReadOnlyAccess

from .models import Note, Summary
from .services import request_summary


class NoteInline(ReadOnlyAccess, admin.StackedInline):
    model = Note
    fields = ("created_at", "author", "channel", "text", "files")
    readonly_fields = fields
    extra = 0
    verbose_name_plural = "session notes"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("author").prefetch_related("attachments")

    @admin.display(description="attachments")
    def files(self, obj):
        items = obj.attachments.all()
        if not items:
            return "None"
        return format_html("<ul>{}</ul>", format_html_join(
            "", '<li><a href="{}">{}</a> ({}, {} bytes){}</li>',
            ((reverse("notes-attachment", args=[a.id]), a.original_name, a.get_kind_display(), a.size,
              format_html("<br>Transcript: {}", a.transcript) if a.transcript else "") for a in items)))


class SummaryInline(ReadOnlyAccess, admin.StackedInline):
    model = Summary
    fields = ("status", "source", "model", "version", "summarized_version", "attempts", "last_error", "shown")
    readonly_fields = fields
    extra = 0
    verbose_name_plural = "notes summary"

    @admin.display(description="summary")
    def shown(self, obj):
        return render_to_string("notes/_summary.html", {"summary": obj, "s": obj.session})


# The session's admin page shows its notes and summary first: this app adds them to the session
# admin (sessions, a layer below, knows nothing of notes).
if NoteInline not in SessionAdmin.inlines:
    SessionAdmin.inlines = (NoteInline, SummaryInline, *SessionAdmin.inlines)


@admin.register(Summary)
class SummaryAdmin(CoordinatorAccess, admin.ModelAdmin):
    list_display = ("session", "status", "source", "version", "summarized_version", "attempts", "updated_at")
    list_filter = ("status", "source")
    ordering = ("-updated_at",)
    raw_id_fields = ("session",)
    readonly_fields = [f.name for f in Summary._meta.concrete_fields]
    actions = ["summarize_again"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Make the summary again")
    def summarize_again(self, request, queryset):
        """A new version of each chosen summary (failed transcripts are tried again too)."""
        ids = list(queryset.values_list("session_id", flat=True))
        with transaction.atomic():
            for session_id in ids:
                request_summary(session_id)
        messages.success(request, f"Asked again for {len(ids)} summar{'y' if len(ids) == 1 else 'ies'}.")
