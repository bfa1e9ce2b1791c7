"""The webhook Telegram posts updates to, and the settings page where a tutor links a chat."""

import hmac
import json
import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from tutoring.celery import publish

from . import core, tasks
from .models import LINK_CODE_TTL, LinkCode, ProcessedUpdate, TelegramLink

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024  # an update is a few kilobytes
UPDATE_KEYS = {"message", "edited_message", "callback_query", "my_chat_member", "channel_post",
               "edited_channel_post", "chat_member", "inline_query", "chosen_inline_result"}


def _bad(detail: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"detail": detail}, status=status)


@csrf_exempt  # Telegram proves itself with the secret token instead
@require_POST
def webhook(request):
    """Checked and queued, answered at once: the work runs in a Celery task (telegram_bot.tasks)."""
    if not (settings.TELEGRAM_BOT_TOKEN and settings.TELEGRAM_WEBHOOK_SECRET):
        return _bad("The Telegram webhook is not configured.", 404)
    given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
    if not hmac.compare_digest(given.encode(), settings.TELEGRAM_WEBHOOK_SECRET.encode()):
        return _bad("Invalid secret token.", 403)
    if len(request.body) > MAX_BODY:
        return _bad("Too large.", 413)
    try:
        payload = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        return _bad("The body is not JSON.")
    if not isinstance(payload, dict) or type(payload.get("update_id")) is not int \
            or not 0 <= payload["update_id"] < 2 ** 63 or not (UPDATE_KEYS & payload.keys()):
        return _bad("Not a Telegram update.")
    if any(not isinstance(payload[k], dict) for k in UPDATE_KEYS & payload.keys()):
        return _bad("Not a Telegram update.")
    if ProcessedUpdate.objects.filter(update_id=payload["update_id"]).exists():
        return HttpResponse(status=200)  # a retry of one already handled
    if not publish(tasks.handle_update, payload):
        return _bad("Busy: try again.", 503)  # Telegram retries
    return HttpResponse(status=200)


@login_required
@require_http_methods(["GET", "POST"])
def link(request):
    """Link a Telegram chat: a one-time deep link (10 minutes); or unlink."""
    user = request.user
    deep_link = ""
    if request.method == "POST":
        if request.POST.get("action") == "unlink":
            if core.unlink_user(user):
                messages.success(request, "Telegram is unlinked: the bot will not write to you any more.")
        elif settings.TELEGRAM_BOT_TOKEN:
            code = LinkCode.issue(user)
            deep_link = f"https://t.me/{settings.TELEGRAM_BOT_USERNAME}?start={code.code}"
    return render(request, "telegram_bot/link.html", {
        "configured": bool(settings.TELEGRAM_BOT_TOKEN),
        "link": TelegramLink.objects.filter(user=user).first(),
        "deep_link": deep_link,
        "minutes": int(LINK_CODE_TTL.total_seconds() // 60),
        "bot_username": settings.TELEGRAM_BOT_USERNAME,
    })
