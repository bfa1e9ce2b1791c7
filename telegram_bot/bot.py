"""python-telegram-bot glue: an Application whose one handler turns each Update into a
core.Input, runs core.handle in Django's synchronous world, and sends the answers (a pressed
button's message is edited to the answer; the query is always answered). Files are described
first, refused when too large without downloading, else fetched with getFile and handed to
notes.services. A fresh Application per event loop: the webhook task builds one per update,
`runbot` one for its polling loop."""

from __future__ import annotations

import io
import logging

from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, TelegramError
from telegram.ext import Application, ContextTypes, TypeHandler

from . import core
from .models import ProcessedUpdate

log = logging.getLogger(__name__)

db = sync_to_async  # thread-sensitive: Django's ORM runs in the caller's sync thread


def build(token: str | None = None, *, updater: bool = False) -> Application:
    builder = (Application.builder().token(token or settings.TELEGRAM_BOT_TOKEN)
               .base_url(settings.TELEGRAM_API_BASE_URL).base_file_url(settings.TELEGRAM_FILE_BASE_URL))
    if not updater:
        builder = builder.updater(None)
    application = builder.build()
    application.add_handler(TypeHandler(Update, on_update))
    application.add_error_handler(on_error)
    return application


def markup(out: core.Out) -> InlineKeyboardMarkup | None:
    if not out.buttons:
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=data) for label, data in row]
                                 for row in out.buttons])


def claim(update_id: int) -> bool:
    """True the first time this update is seen (Telegram retries; a poller may see it again)."""
    from django.utils import timezone

    _, created = ProcessedUpdate.objects.get_or_create(update_id=update_id,
                                                       defaults={"received_at": timezone.now()})
    return created


def read(update: Update) -> tuple[core.Input | None, core.FileIn | None]:
    chat = update.effective_chat
    if chat is None or chat.type != "private":
        return None, None
    user = update.effective_user
    base = {"chat_id": chat.id, "username": (user.username or "") if user else ""}
    if update.callback_query is not None:
        return core.Input(kind="button", data=update.callback_query.data or "", **base), None
    message = update.message
    if message is None:
        return None, None
    if message.text is not None:
        text = message.text
        if text.startswith("/"):
            head, _, args = text.partition(" ")
            return core.Input(kind="command", command=head[1:].split("@")[0].lower(), args=args, **base), None
        return core.Input(kind="text", text=text, **base), None
    caption = message.caption or ""
    if message.photo:
        photo = message.photo[-1]
        return core.Input(kind="file", text=caption, **base), core.FileIn(photo.file_id, "photo.jpg", photo.file_size)
    if message.document is not None:
        d = message.document
        return core.Input(kind="file", text=caption, **base), core.FileIn(d.file_id, d.file_name or "document",
                                                                          d.file_size)
    if message.voice is not None:
        v = message.voice
        return core.Input(kind="file", text=caption, **base), core.FileIn(v.file_id, "voice.ogg", v.file_size)
    if message.audio is not None:
        a = message.audio
        return core.Input(kind="file", text=caption, **base), core.FileIn(a.file_id, a.file_name or "audio.mp3",
                                                                          a.file_size)
    return core.Input(kind="other", **base), None


async def on_update(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    if context.bot_data.get("claim") and not await db(claim)(update.update_id):
        return
    inp, file_in = read(update)
    if inp is None:
        return
    if inp.kind == "file":
        outs = await notes_file(context, inp, file_in)
    else:
        outs = await db(core.handle)(inp)
    query = update.callback_query
    if query is not None:
        await query.answer()
    for i, out in enumerate(outs):
        if query is not None and i == 0 and query.message is not None:
            await query.edit_message_text(out.text, reply_markup=markup(out))
        else:
            await context.bot.send_message(inp.chat_id, out.text, reply_markup=markup(out))


async def notes_file(context, inp: core.Input, file_in: core.FileIn) -> list[core.Out]:
    user, session, answer = await db(core.notes_target)(inp.chat_id)
    if session is None:
        return [core.Out(answer)]
    limit = await db(core.max_bytes)()
    if file_in.size is not None and file_in.size > limit:
        return [core.Out(core.too_large(file_in.name))]
    try:
        tg_file = await context.bot.get_file(file_in.file_id)
        if tg_file.file_size is not None and tg_file.file_size > limit:
            return [core.Out(core.too_large(file_in.name))]
        data = bytes(await tg_file.download_as_bytearray())
    except BadRequest as exc:
        if "too big" in exc.message:
            return [core.Out(core.too_large(file_in.name))]
        return [core.Out(f"Telegram would not give me that file ({exc.message}): please send it again.")]
    upload = SimpleUploadedFile(file_in.name, data)
    upload.file = io.BytesIO(data)
    return await db(core.add_notes)(user, session, text=inp.text, files=[upload], now=None)


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log it, tell the chat something went wrong, and let the caller see it (process() re-raises)."""
    log.error("telegram update failed", exc_info=context.error)
    context.bot_data.setdefault("errors", []).append(context.error)
    if isinstance(update, Update) and update.effective_chat is not None:
        try:
            await context.bot.send_message(update.effective_chat.id,
                                           "Sorry, something went wrong. Please try again in a moment.")
        except TelegramError:
            log.exception("could not tell the chat about the failure")


async def _process(payload: dict) -> None:
    application = build()
    async with application:
        update = Update.de_json(payload, application.bot)
        await application.process_update(update)
        errors = application.bot_data.get("errors")
    if errors:
        raise errors[0]


def process(payload: dict) -> None:
    """Handle one update (from the webhook's task): a fresh Application on a fresh loop, Django's
    ORM in this thread."""
    async_to_sync(_process)(payload)
