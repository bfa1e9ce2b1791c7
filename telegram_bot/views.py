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

from tutoring import limits
from tutoring.celery import publish
from tutoring.input import parse_json

from . import core, tasks
from .models import LINK_CODE_TTL, LinkCode, ProcessedUpdate, TelegramLink

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024  # an update is a few kilobytes
UPDATE_KEYS = {"message", "edited_message", "callback_query", "my_chat_member", "channel_post",
               "edited_channel_post", "chat_member", "inline_query", "chosen_inline_result"}


def _bad(detail: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"detail": detail}, status=status)


def _sender(payload: dict) -> tuple[int | None, int | None]:
    """(the Telegram user who sent the update, the private chat to answer in), each None when
    absent (the bot answers in private chats only)."""
    for key in UPDATE_KEYS & payload.keys():
        update = payload[key]
        who = update.get("from") if isinstance(update.get("from"), dict) else {}
        chat = update.get("chat") if isinstance(update.get("chat"), dict) else {}
        if key == "callback_query" and isinstance(update.get("message"), dict):
            chat = update["message"].get("chat") if isinstance(update["message"].get("chat"), dict) else {}
        user_id = who.get("id") if type(who.get("id")) is int else None
        chat_id = chat.get("id") if type(chat.get("id")) is int and chat.get("type") == "private" else None
        return user_id, chat_id
    return None, None


def _flooding(payload: dict) -> HttpResponse | None:
    """Over TELEGRAM_UPDATES_PER_MINUTE from one Telegram user: the update is acknowledged (200,
    so Telegram does not retry it and hold up everyone else's updates) and dropped; the first
    dropped one is answered in the webhook's reply (a sendMessage saying when to try again)."""
    user_id, chat_id = _sender(payload)
    key = user_id if user_id is not None else chat_id
    if key is None:
        return None
    limit = limits.Limit("telegram-updates", settings.TELEGRAM_UPDATES_PER_MINUTE, 60)
    hits, wait = limits.count(limit, str(key))
    if not wait:
        return None
    log.warning("telegram webhook: update %s from %s dropped (over the limit)", payload["update_id"], key)
    if hits == limit.limit + 1 and chat_id is not None:
        return JsonResponse({"method": "sendMessage", "chat_id": chat_id,
                             "text": f"Too many messages: I will read yours again in {limits.in_words(wait)}."})
    return HttpResponse(status=200)


@csrf_exempt  # Telegram proves itself with the secret token instead
@require_POST
def webhook(request):
    """Checked and queued, answered at once: the work runs in a Celery task (telegram_bot.tasks).
    Rate limits: wrong secret tokens per client address (429, Retry-After), updates per Telegram
    user (acknowledged and dropped, see _flooding)."""
    if not (settings.TELEGRAM_BOT_TOKEN and settings.TELEGRAM_WEBHOOK_SECRET):
        return _bad("The Telegram webhook is not configured.", 404)
    given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
    if not hmac.compare_digest(given.encode(), settings.TELEGRAM_WEBHOOK_SECRET.encode()):
        guesses = limits.Limit("telegram-bad-secret", settings.TELEGRAM_BAD_SECRET_PER_MINUTE, 60)
        if wait := limits.hit(guesses, request.META.get("REMOTE_ADDR") or "unknown"):
            response = _bad(f"Too many requests with a wrong secret token: try again in {limits.in_words(wait)}.",
                            429)
            response["Retry-After"] = str(wait)
            return response
        return _bad("Invalid secret token.", 403)
    if len(request.body) > MAX_BODY:
        return _bad("Too large.", 413)
    try:
        payload = parse_json(request.body)  # also JSON nested too deep (json.loads: RecursionError)
    except ValueError:
        return _bad("The body is not JSON.")
    if not isinstance(payload, dict) or type(payload.get("update_id")) is not int \
            or not 0 <= payload["update_id"] < 2 ** 63 or not (UPDATE_KEYS & payload.keys()):
        return _bad("Not a Telegram update.")
    if any(not isinstance(payload[k], dict) for k in UPDATE_KEYS & payload.keys()):
        return _bad("Not a Telegram update.")
    if ProcessedUpdate.objects.filter(update_id=payload["update_id"], answered_at__isnull=False).exists():
        return HttpResponse(status=200)  # a retry of one already handled and answered
    if (dropped := _flooding(payload)) is not None:
        return dropped
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
