"""The bot against a fake Bot API on 127.0.0.1, through python-telegram-bot's real client, fed
update JSON shaped as Telegram sends it. Time stands still at NOW (tests/conftest.py)."""

import itertools

import pytest
import time_machine

from telegram_bot import bot
from telegram_bot.models import TelegramLink
from tests.conftest import NOW
from tests.fakes.telegram_server import BOT_USERNAME, FakeTelegram

CHAT = 7001  # Tia's chat
OTHER_CHAT = 7002
SECRET = "s3cret-webhook-token"
_ids = itertools.count(500_000)
_fakes: list[FakeTelegram] = []  # the running test's fake Bot API (tg): it holds the messages press() presses


@pytest.fixture
def tg(settings):
    with FakeTelegram() as fake:
        settings.TELEGRAM_BOT_TOKEN = fake.token
        settings.TELEGRAM_BOT_USERNAME = BOT_USERNAME
        settings.TELEGRAM_WEBHOOK_SECRET = SECRET
        settings.TELEGRAM_API_BASE_URL = fake.base_url
        settings.TELEGRAM_FILE_BASE_URL = fake.base_file_url
        _fakes.append(fake)
        try:
            yield fake
        finally:
            _fakes.remove(fake)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def linked(db, tutor):
    return TelegramLink.objects.create(user=tutor, chat_id=CHAT, username="tia", linked_at=NOW)


def _who(chat_id):
    return {"id": chat_id, "is_bot": False, "first_name": "Tia", "username": "tia"}


def _chat(chat_id):
    return {"id": chat_id, "type": "private", "first_name": "Tia", "username": "tia"}


def message(chat_id=CHAT, text=None, **content) -> dict:
    """An update with a message, as Telegram sends it (commands carry a bot_command entity)."""
    msg = {"message_id": next(_ids), "date": int(NOW.timestamp()), "chat": _chat(chat_id), "from": _who(chat_id)}
    if text is not None:
        msg["text"] = text
        if text.startswith("/"):
            msg["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    msg |= content
    return {"update_id": next(_ids), "message": msg}


def press(data: str, chat_id=CHAT, message_id: int | None = None) -> dict:
    """An update with a callback query: a button pressed on one of the bot's messages (the one of
    `message_id`, say one the bot sent: fake.messages_of(chat)[-1]); without one, on an earlier
    message with this button that the test's fake Bot API (tg) is given to hold, as Telegram holds
    the messages whose buttons people press."""
    if message_id is None and _fakes:
        message_id = _fakes[-1].hold(chat_id, "earlier message", {"inline_keyboard": [
            [{"text": "earlier button", "callback_data": data}]]})
    return {"update_id": next(_ids), "callback_query": {
        "id": str(next(_ids)), "from": _who(chat_id), "chat_instance": "-42", "data": data,
        "message": {"message_id": message_id or next(_ids), "date": int(NOW.timestamp()), "chat": _chat(chat_id),
                    "from": {"id": 123456, "is_bot": True, "first_name": "Tutoring", "username": BOT_USERNAME},
                    "text": "earlier message"}}}


def photo(file_id, size, chat_id=CHAT, caption=None):
    content = {"photo": [{"file_id": f"{file_id}-small", "file_unique_id": "s", "width": 90, "height": 90,
                          "file_size": 100},
                         {"file_id": file_id, "file_unique_id": "b", "width": 800, "height": 600, "file_size": size}]}
    if caption:
        content["caption"] = caption
    return message(chat_id, **content)


def document(file_id, name, size, mime="application/pdf", chat_id=CHAT):
    return message(chat_id, document={"file_id": file_id, "file_unique_id": f"u{file_id}", "file_name": name,
                                      "mime_type": mime, "file_size": size})


def voice(file_id, size, chat_id=CHAT):
    return message(chat_id, voice={"file_id": file_id, "file_unique_id": f"u{file_id}", "duration": 3,
                                   "mime_type": "audio/ogg", "file_size": size})


def send(update: dict) -> None:
    """What the webhook's task does with an update: PTB's Application, a fresh one, on its own loop."""
    bot.process(update)


def buttons(call: dict) -> list[str]:
    markup = call.get("reply_markup") or {}
    return [b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row]


def last_text(fake) -> str:
    return fake.texts()[-1]
