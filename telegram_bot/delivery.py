"""The notifications channel's sending half (telegram_bot.channel.Telegram.deliver): one
sendMessage per delivery to the person's linked chat, the quote shortened on a word boundary to
fit Telegram's 4,096 characters with the link to the rest. A reschedule proposal to the tutor
carries the Accept / Reject / Counter buttons of the bot's action table. Telegram's answers become
Outcomes: sent; retry (network trouble, 429 with its retry-after, 5xx); failed (a refused request);
and a chat that blocked the bot is unlinked, and the person told in the app."""

from __future__ import annotations

import logging
from datetime import datetime

from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import transaction
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.request import HTTPXRequest

from notifications.outbox import notify
from notifications.outcomes import Outcome
from notifications.texts import shorten
from sessions.models import SessionEvent
from tutoring.models import User

from .actions import ACTIONS
from .models import ChatState, TelegramLink

log = logging.getLogger(__name__)

LIMIT = 4096
PROPOSAL_KINDS = {"reschedule_proposed", "reschedule_countered"}


def text_of(message, site: str) -> str:
    link = f"{message.action}: {site}{message.url}"
    body = "\n".join([message.title, "", " ".join(message.lines)])
    if message.quote:
        room = LIMIT - len(body) - len(link) - len(message.quote_label) - 12
        body += f"\n\n{message.quote_label}: “{shorten(message.quote, max(room, 20))}”"
    return shorten(body, LIMIT - len(link) - 2) if len(body) + len(link) + 2 > LIMIT else f"{body}\n\n{link}"


def buttons(delivery, events: dict) -> InlineKeyboardMarkup | None:
    """Answer buttons on a proposal to the session's tutor."""
    event = events.get(delivery.event_id)
    if delivery.kind not in PROPOSAL_KINDS or event is None or event.session.tutor_id != delivery.recipient_id:
        return None
    sid, pid = event.session_id, event.data.get("proposal_id")
    return InlineKeyboardMarkup([[InlineKeyboardButton(ACTIONS[k].label, callback_data=f"a:{k}:{sid}:{pid}")
                                  for k in ("ac", "rj", "ct")]])


def send_all(items: list, now: datetime) -> list[Outcome]:
    chats = dict(TelegramLink.objects.filter(user_id__in={d.recipient_id for d, _ in items})
                 .values_list("user_id", "chat_id"))
    events = {e.id: e for e in SessionEvent.objects.filter(
        pk__in={d.event_id for d, _ in items if d.kind in PROPOSAL_KINDS and d.event_id}).select_related("session")}
    site = settings.SITE_URL.rstrip("/")
    jobs = [(d, chats.get(d.recipient_id), text_of(m, site), buttons(d, events)) for d, m in items]
    results = async_to_sync(_send)(jobs)
    outcomes = []
    for (d, chat_id, _, _), result in zip(jobs, results, strict=True):
        if isinstance(result, Forbidden):
            _unlink_blocked(d.recipient_id, chat_id, now)
            outcomes.append(Outcome(d, "failed", error=f"Telegram: {result.message}; the chat was unlinked"))
        elif isinstance(result, RetryAfter):
            wait = result.retry_after.total_seconds()  # a timedelta: TelegramBotConfig sets PTB_TIMEDELTA
            outcomes.append(Outcome(d, "retry", after=wait,
                                    error=f"Telegram: Flood control exceeded. Retry in {wait:g} seconds"))
        elif isinstance(result, BadRequest):
            outcomes.append(Outcome(d, "failed", error=f"Telegram: {result.message}"))
        elif isinstance(result, (NetworkError, TelegramError)):
            outcomes.append(Outcome(d, "retry", error=f"Telegram: {result.message}"))
        elif isinstance(result, str):
            outcomes.append(Outcome(d, "skipped", error=result))
        else:
            outcomes.append(Outcome(d, "sent", provider_id=f"{chat_id}:{result}"))
    return outcomes


async def _send(jobs) -> list:
    bot = Bot(settings.TELEGRAM_BOT_TOKEN, base_url=settings.TELEGRAM_API_BASE_URL,
              base_file_url=settings.TELEGRAM_FILE_BASE_URL,
              request=HTTPXRequest(connect_timeout=10, read_timeout=10))
    results = []
    async with bot:
        for _d, chat_id, text, markup in jobs:
            if chat_id is None:
                results.append("no linked Telegram chat")
                continue
            try:
                message = await bot.send_message(chat_id, text, reply_markup=markup)
                results.append(message.message_id)
            except TelegramError as exc:
                results.append(exc)
    return results


def _unlink_blocked(user_id: int, chat_id: int, now: datetime) -> None:
    """The person blocked the bot: unlink the chat and tell them in the app (once per unlinking)."""
    with transaction.atomic():
        deleted, _ = TelegramLink.objects.filter(user_id=user_id, chat_id=chat_id).delete()
        ChatState.objects.filter(chat_id=chat_id).delete()
        if deleted:
            notify(User.objects.filter(pk=user_id), kind="telegram_unlinked",
                   source=f"telegram_blocked:{chat_id}:{int(now.timestamp())}", data={}, now=now)
    log.warning("user %s blocked the Telegram bot: chat %s unlinked", user_id, chat_id)
