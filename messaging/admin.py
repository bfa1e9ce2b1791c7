"""Conversations and messages in the admin: coordinators (and superusers) may read them, nobody
may add, change or delete them there: they are written by the people in them."""

from django.contrib import admin

from tutoring.admin import ReadOnlyAccess, person_search

from .models import Conversation, Message


class MessageInline(ReadOnlyAccess, admin.TabularInline):
    model = Message
    fields = ("sender", "body", "created_at", "read_at")
    readonly_fields = fields
    ordering = ("-created_at", "-id")
    extra = 0
    max_num = 0
    show_change_link = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("sender")


@admin.register(Conversation)
class ConversationAdmin(ReadOnlyAccess, admin.ModelAdmin):
    list_display = ("id", "user_low", "user_high", "created_at", "updated_at")
    list_select_related = ("user_low", "user_high")
    search_fields = person_search("user_low", "user_high")
    readonly_fields = ("user_low", "user_high", "created_at", "updated_at")
    inlines = (MessageInline,)
    ordering = ("-updated_at", "-id")


@admin.register(Message)
class MessageAdmin(ReadOnlyAccess, admin.ModelAdmin):
    list_display = ("id", "sender", "conversation", "created_at", "read_at", "preview")
    list_select_related = ("sender", "conversation__user_low", "conversation__user_high")
    list_filter = ("created_at",)
    search_fields = ("body", *person_search("sender"))
    readonly_fields = ("conversation", "sender", "body", "created_at", "read_at")
    ordering = ("-created_at", "-id")

    @admin.display(description="message")
    def preview(self, obj):
        return obj.body[:80]
