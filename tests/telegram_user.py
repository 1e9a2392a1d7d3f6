"""A Telegram user talking to the bridge, for tests: updates as Telegram sends them, the bridge
running inside the test's event loop, and waiting for what the user sees in the fake Bot API."""

from __future__ import annotations

import itertools
import random
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from typing import Any, AsyncIterator

from telegram import Chat, Message, MessageEntity, Update, User
from telegram.ext import Application

from bot.settings import Settings
from bot.telegram.bridge import ALLOWED_UPDATES
from telegram_fake import Call, FakeTelegram

update_ids = itertools.count(1)


def new_chat_id() -> int:
    return random.randrange(10**8, 10**9)


def citizen(chat_id: int) -> User:
    return User(id=chat_id, first_name="Mette", is_bot=False, language_code="da")


def private_chat(chat_id: int) -> Chat:
    return Chat(id=chat_id, type=Chat.PRIVATE, first_name="Mette")


def message_update(chat_id: int, text: str | None = None, **extra: Any) -> dict[str, Any]:
    """A message from the citizen, as Telegram sends it: commands carry a bot_command entity."""
    entities = [MessageEntity(MessageEntity.BOT_COMMAND, 0, len(text.split()[0]))] if text and text.startswith("/") else None
    message = Message(
        message_id=next(update_ids),
        date=datetime.now(timezone.utc),
        chat=private_chat(chat_id),
        from_user=citizen(chat_id),
        text=text,
        entities=entities,
        **extra,
    )
    return Update(update_id=next(update_ids), message=message).to_dict()


def bridge_config(telegram: FakeTelegram, rasa_url: str, **env: str) -> Settings:
    return Settings.from_env({"TELEGRAM_BOT_TOKEN": telegram.token, "TELEGRAM_API_URL": telegram.base_url, "RASA_URL": rasa_url, **env})


@asynccontextmanager
async def running(application: Application, **webhook: Any) -> AsyncIterator[Application]:
    """What run_polling (or run_webhook, given its arguments) does, inside the test's event loop."""
    assert application.updater is not None and application.post_init is not None and application.post_shutdown is not None
    await application.initialize()
    await application.post_init(application)
    try:
        if webhook:
            await application.updater.start_webhook(**webhook)
        else:
            await application.updater.start_polling(poll_interval=0, timeout=1, allowed_updates=ALLOWED_UPDATES)
        await application.start()
        yield application
    finally:
        if application.updater.running:
            await application.updater.stop()
        if application.running:
            await application.stop()
        await application.shutdown()
        await application.post_shutdown(application)


async def say(telegram: FakeTelegram, chat_id: int, text: str, expect: str) -> Call:
    """Send a message through getUpdates and return the first new reply containing `expect`."""
    before = len(telegram.messages(chat_id))
    telegram.push(message_update(chat_id, text))

    def answered() -> Call | None:
        return next((c for c in telegram.messages(chat_id)[before:] if expect.casefold() in str(c.params["text"]).casefold()), None)

    return await telegram.wait_for(answered, f"a reply containing {expect!r} to {text!r}")
