"""python-telegram-bot glue: an Application whose one handler turns each Update into a
core.Input, runs core.handle in Django's synchronous world, and sends the answers (a pressed
button's message is edited to the answer, or the answer is sent as a new message when that one
was deleted; the query is always answered). Files are described
first, refused when too large without downloading, else fetched with getFile and handed to
notes.services. A fresh Application per event loop: the webhook task builds one per update,
`runbot` one for its polling loop (poller()).

Each update at least once, its effect once: the work and the row that records the update
(ProcessedUpdate, with the answer) are one transaction (handle_once). A crash or a database error
in the middle rolls both back, so the redelivery (Telegram's retry, the Celery task's retry, a
poller that did not confirm the offset) does the work; a delivery of an update already done does
nothing again, and two at once meet on the row's primary key (the second insert waits for the
first transaction and then finds the row). The answer is sent after the commit and marked sent;
a redelivery sends a stored answer that never went out (when its sender failed, or died more
than ANSWER_CLAIM ago)."""

from __future__ import annotations

import io
import logging
from dataclasses import asdict
from datetime import timedelta
from functools import partial

from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, close_old_connections, connections, transaction
from django.utils import timezone
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
    else:
        builder = builder.post_shutdown(_give_back_connections)
    application = builder.build()
    application.add_handler(TypeHandler(Update, on_update))
    application.add_error_handler(on_error)
    return application


def markup(out: core.Out) -> InlineKeyboardMarkup | None:
    if not out.buttons:
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=data) for label, data in row]
                                 for row in out.buttons])


NOT_MODIFIED = "message is not modified"  # Telegram's 400 on an edit that changes nothing
EDIT_NOT_FOUND = "message to edit not found"  # Telegram's 400 on an edit of a message it no longer holds
ANSWER_CLAIM = timedelta(minutes=2)  # a sender silent this long has died: another may send the answer


def _outs(answer: list[dict]) -> list[core.Out]:
    return [core.Out(o["text"], [[tuple(b) for b in row] for row in o["buttons"]]) for o in answer]


def handle_once(update_id: int, work) -> list[core.Out] | None:
    """Do `work` (-> the answer) and record the update with its answer in one transaction; None
    when the update was done before (or is being done right now: the insert waits for that
    transaction, then finds its row; if that one rolled back, this one does the work)."""
    now = timezone.now()
    with transaction.atomic():
        try:
            with transaction.atomic():
                ProcessedUpdate.objects.create(update_id=update_id, received_at=now, answering_since=now)
        except IntegrityError:
            return None
        outs = work()
        ProcessedUpdate.objects.filter(update_id=update_id).update(answer=[asdict(o) for o in outs])
    return outs


def take_answer(update_id: int) -> list[core.Out] | None:
    """A done update delivered again: its answer, when it was never sent and nobody is sending it
    (no claim, or one older than ANSWER_CLAIM); else None, and nothing is sent."""
    now = timezone.now()
    with transaction.atomic():
        row = ProcessedUpdate.objects.select_for_update().filter(update_id=update_id).first()
        if row is None or row.answered_at is not None:
            return None
        if row.answering_since is not None and row.answering_since > now - ANSWER_CLAIM:
            return None
        row.answering_since = now
        row.save(update_fields=["answering_since"])
    return _outs(row.answer)


def answered(update_id: int) -> None:
    ProcessedUpdate.objects.filter(update_id=update_id).update(answered_at=timezone.now(), answering_since=None)


def release(update_id: int) -> None:
    """Sending failed: the next delivery may send the answer at once."""
    ProcessedUpdate.objects.filter(update_id=update_id, answered_at__isnull=True).update(answering_since=None)


def done(update_id: int) -> bool:
    return ProcessedUpdate.objects.filter(update_id=update_id).exists()


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
    """The poller (runbot) keeps one thread for the ORM for days: its connection is given back
    before and after each update, so one the database dropped (a restart) is not used again."""
    polling = context.bot_data.get("polling")
    if polling:
        await db(close_old_connections)()
    try:
        await _on_update(update, context)
    finally:
        if polling:
            await db(close_old_connections)()


async def _on_update(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    update_id = update.update_id
    inp, file_in = read(update)
    if inp is None:  # nothing to do or say (a group chat, an edit): seen, and answered with silence
        if await db(handle_once)(update_id, list) is not None:
            await db(answered)(update_id)
        return
    if inp.kind == "file":
        outs = None if await db(done)(update_id) else await db(handle_once)(
            update_id, await notes_work(context, inp, file_in))
    else:
        outs = await db(handle_once)(update_id, partial(core.handle, inp))
    if outs is not None:
        context.bot_data["worked"] = True
    else:
        outs = await db(take_answer)(update_id)
        if outs is None:
            return
    try:
        await send(update, context, inp, outs)
    except BaseException:
        await db(release)(update_id)
        raise
    await db(answered)(update_id)


async def send(update: Update, context, inp: core.Input, outs: list[core.Out]) -> None:
    query = update.callback_query
    if query is not None:
        try:
            await query.answer()
        except BadRequest:  # an old query (a redelivery): the answer below still goes out
            log.info("callback query %s could not be answered", query.id)
    for i, out in enumerate(outs):
        if query is not None and i == 0 and query.message is not None and await _edited(query, out):
            continue
        await context.bot.send_message(inp.chat_id, out.text, reply_markup=markup(out))


async def _edited(query, out: core.Out) -> bool:
    """Edit the pressed button's message to the answer: True when it shows the answer now; False
    when Telegram no longer holds it (the person deleted it, or the chat), so the answer is to be
    sent as a new message. Any other refusal is raised."""
    try:
        await query.edit_message_text(out.text, reply_markup=markup(out))
    except BadRequest as exc:
        problem = exc.message.lower()
        if NOT_MODIFIED in problem:
            # a button pressed twice on a message that already says this answer: nothing to change
            log.info("message %s already shows the answer", query.message.message_id)
        elif EDIT_NOT_FOUND in problem:
            log.info("message %s is gone: the answer goes out as a new message", query.message.message_id)
            return False
        else:
            raise
    return True


async def notes_work(context, inp: core.Input, file_in: core.FileIn):
    """Look at and fetch the file (outside any transaction); the work left: keeping it as notes,
    or the answer why not."""

    def say(text):
        return lambda: [core.Out(text)]

    user, session, answer = await db(core.notes_target)(inp.chat_id)
    if session is None:
        return say(answer)
    limit = await db(core.max_bytes)()
    if file_in.size is not None and file_in.size > limit:
        return say(core.too_large(file_in.name))
    try:
        tg_file = await context.bot.get_file(file_in.file_id)
        if tg_file.file_size is not None and tg_file.file_size > limit:
            return say(core.too_large(file_in.name))
        data = bytes(await tg_file.download_as_bytearray())
    except BadRequest as exc:
        if "too big" in exc.message:
            return say(core.too_large(file_in.name))
        return say(f"Telegram would not give me that file ({exc.message}): please send it again.")
    upload = SimpleUploadedFile(file_in.name, data)
    upload.file = io.BytesIO(data)
    return partial(core.add_notes, user, session, text=inp.text, files=[upload], now=None)


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


def poller() -> Application:
    """runbot's Application: getUpdates, and the ORM's connection given back around each update
    and when it stops."""
    application = build(updater=True)
    application.bot_data["polling"] = True
    return application


POLL_TIMEOUT = 30  # seconds Telegram holds a getUpdates while there is nothing new (long polling)


def poll(application: Application, *, signals: bool = True) -> None:
    """runbot's loop, until a stop signal (or application.stop_running() on its loop): delete any
    webhook (Telegram refuses getUpdates while one is set), then long-poll getUpdates from the last
    offset. Each batch's offset is confirmed by the next call, and by one last call when it stops,
    so a restarted poller is not given the same updates again (and one it is given anyway, after
    a crash, is done once: handle_once). `signals=False` (a poller on a thread of its own, which
    cannot take signals) is stopped through its loop: loop.call_soon_threadsafe(application.stop_running)."""
    options = {} if signals else {"stop_signals": None}
    application.run_polling(allowed_updates=[Update.MESSAGE, Update.CALLBACK_QUERY], timeout=POLL_TIMEOUT,
                            drop_pending_updates=False, close_loop=False, **options)


async def _give_back_connections(application: Application) -> None:
    await db(connections.close_all)()


async def _process(payload: dict) -> bool:
    application = build()
    async with application:
        update = Update.de_json(payload, application.bot)
        await application.process_update(update)
        errors = application.bot_data.get("errors")
        worked = application.bot_data.get("worked", False)
    if errors:
        raise errors[0]
    return worked


def process(payload: dict) -> bool:
    """Handle one update (from the webhook's task): a fresh Application on a fresh loop, Django's
    ORM in this thread. True when this delivery did the update's work (False: done before)."""
    return async_to_sync(_process)(payload)
