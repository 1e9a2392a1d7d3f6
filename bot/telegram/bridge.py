"""The Telegram bridge: Telegram chats talk to Rasa's REST channel, as the website widget talks to socket.io.

Every text, command and button press goes to Rasa as sender "telegram:<chat id>", and every
reply comes back as Telegram messages, with Rasa's buttons as an inline keyboard. Long polling
by default, a webhook when TELEGRAM_WEBHOOK_URL is set, with a random secret compared in constant
time. The bridge's own texts (Rasa is unavailable, a button has expired, the command menu) are
responses in domain.yml; when a chat sends too much, Rasa's refusal is passed on.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import sys
import weakref
from collections import OrderedDict
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import yaml
from telegram import Bot, BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatAction, InlineKeyboardButtonLimit, MessageLimit
from telegram.error import BadRequest
from telegram.ext import Application, ApplicationBuilder, CallbackQueryHandler, ContextTypes, MessageHandler, filters

from bot.conventions import BRIDGE_PURPOSE, BRIDGE_TOKEN_HEADER, telegram_sender
from bot.settings import ROOT, Settings, settings

log = logging.getLogger(__name__)

# Telegram commands are lowercase ASCII, so /hjælp cannot exist; each stands for an intent in Rasa.
COMMANDS = {"start": "/greet", "hjaelp": "/help", "slet": "/delete_data"}
UNKNOWN_COMMAND = "/help"
COMMAND_MENU = {"start": "utter_telegram_command_start", "hjaelp": "utter_telegram_command_help", "slet": "utter_telegram_command_erase"}
UNAVAILABLE = "utter_channel_unavailable"
BUTTON_EXPIRED = "utter_telegram_button_expired"
ALLOWED_UPDATES = ["message", "callback_query"]
RASA_TIMEOUT = 30.0
KEY_PREFIX = "p:"
SEPARATORS = ("\n\n", "\n", " ")


def load_texts(domain: Path = ROOT / "domain.yml") -> dict[str, str]:
    """The bridge's own texts, read once at start-up, so a missing one fails before the first user sees it."""
    responses = yaml.safe_load(domain.read_text(encoding="utf-8"))["responses"]
    return {name: str(responses[name][0]["text"]) for name in (UNAVAILABLE, BUTTON_EXPIRED, *COMMAND_MENU.values())}


def _fitting(text: str, limit: int) -> int:
    """How many characters of text fit in limit UTF-16 code units, which is how Telegram counts."""
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            return index
    return len(text)


def split_text(text: str, limit: int = MessageLimit.MAX_TEXT_LENGTH) -> list[str]:
    """A reply as messages Telegram accepts, cut at a paragraph, line or word boundary in the second half of each."""
    chunks: list[str] = []
    rest = text.strip()
    while rest:
        size = max(_fitting(rest, limit), 1)
        if size == len(rest):
            chunks.append(rest)
            break
        cut = next((i for sep in SEPARATORS if (i := rest.rfind(sep, 0, size + len(sep))) > size // 2), size)
        chunks.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    return chunks


class Payloads:
    """Button payloads as callback_data, which Telegram limits to 64 bytes.

    A payload that fits is sent as it is, so its button still works after a restart; a longer
    one (an intent with entities) is replaced by a key into a bounded map of recent payloads.
    """

    def __init__(self, capacity: int = 10_000) -> None:
        self.capacity = capacity
        self._long: OrderedDict[str, str] = OrderedDict()

    def encode(self, payload: str) -> str:
        if 0 < len(payload.encode()) <= InlineKeyboardButtonLimit.MAX_CALLBACK_DATA and not payload.startswith(KEY_PREFIX):
            return payload
        key = KEY_PREFIX + hashlib.sha256(payload.encode()).hexdigest()[:16]
        self._long[key] = payload
        self._long.move_to_end(key)
        while len(self._long) > self.capacity:
            self._long.popitem(last=False)
        return key

    def decode(self, data: str) -> str | None:
        """The payload behind a button's callback_data; None for a key this process does not know."""
        return self._long.get(data) if data.startswith(KEY_PREFIX) else data


class TelegramBridge:
    """The handlers, the Rasa client and the payload map of one running Application."""

    def __init__(self, rasa_url: str, texts: dict[str, str], secret: str, timeout: float = RASA_TIMEOUT) -> None:
        self.rasa_webhook = f"{rasa_url}/webhooks/bridge/webhook"  # the bridge's own route: only it may speak for Telegram users
        self.secret = secret
        self.texts = texts
        self.timeout = timeout
        self.payloads = Payloads()
        self._client: httpx.AsyncClient | None = None
        self._locks: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()

    async def start(self, application: Application) -> None:
        """post_init: open the one Rasa client and publish the command menu."""
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(self.timeout, connect=5.0), headers={BRIDGE_TOKEN_HEADER: self.secret})
        await application.bot.set_my_commands([BotCommand(command, self.texts[text]) for command, text in COMMAND_MENU.items()])

    async def stop(self, _application: Application) -> None:
        """post_shutdown: close the Rasa client."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A command starts its intent in Rasa; an unknown one shows what the bot can do."""
        message, chat = update.effective_message, update.effective_chat
        if message is None or chat is None or not message.text:
            return
        name = message.text.split()[0][1:].partition("@")[0].lower()
        await self.converse(context.bot, chat.id, COMMANDS.get(name, UNKNOWN_COMMAND))

    async def on_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A message's text (or caption) goes to Rasa; without any, Rasa's REST channel asks for text."""
        message, chat = update.effective_message, update.effective_chat
        if message is None or chat is None:
            return
        await self.converse(context.bot, chat.id, message.text or message.caption or "")

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A button press sends its payload to Rasa and removes its keyboard, so it is pressed once."""
        query, chat = update.callback_query, update.effective_chat
        if query is None or chat is None:
            return
        await query.answer()
        if query.message is not None:
            try:
                await context.bot.edit_message_reply_markup(chat_id=chat.id, message_id=query.message.message_id)
            except BadRequest as exc:  # already removed, or the message is too old to edit
                log.info("Could not remove a keyboard: %s", exc)
        payload = self.payloads.decode(query.data or "")
        if payload is None:
            await context.bot.send_message(chat.id, self.texts[BUTTON_EXPIRED])
            return
        await self.converse(context.bot, chat.id, payload)

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log what went wrong; the next update is handled as usual."""
        log.error("Handling update %s failed", getattr(update, "update_id", None), exc_info=context.error)

    async def converse(self, bot: Bot, chat_id: int, message: str) -> None:
        """One user message to Rasa and its replies back, one at a time per chat so replies keep their order."""
        async with self._locks.setdefault(chat_id, asyncio.Lock()):
            await bot.send_chat_action(chat_id, ChatAction.TYPING)
            replies = await self.ask_rasa(chat_id, message)
            if replies is None:
                await bot.send_message(chat_id, self.texts[UNAVAILABLE])
                return
            for reply in replies:
                chunks = split_text(str(reply.get("text") or ""))
                keyboard = self.keyboard(reply.get("buttons") or [])
                for number, chunk in enumerate(chunks, start=1):
                    await bot.send_message(chat_id, chunk, reply_markup=keyboard if number == len(chunks) else None)

    async def ask_rasa(self, chat_id: int, message: str) -> list[dict[str, Any]] | None:
        """Rasa's replies; None when Rasa is down, fails or is too slow."""
        if self._client is None:
            raise RuntimeError("The bridge is not started: post_init opens the Rasa client.")
        body = {"sender": telegram_sender(chat_id), "message": message}
        try:
            response = await self._client.post(self.rasa_webhook, json=body)
            if response.status_code != httpx.codes.TOO_MANY_REQUESTS:  # over the chat's rate limit, Rasa's refusal is the reply
                response.raise_for_status()
            replies = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("Rasa did not answer: %r", exc)
            return None
        if not isinstance(replies, list):
            log.warning("Rasa answered with %s instead of a list of replies", type(replies).__name__)
            return None
        return [reply for reply in replies if isinstance(reply, dict)]

    def keyboard(self, buttons: list[dict[str, Any]]) -> InlineKeyboardMarkup | None:
        """Rasa's buttons as an inline keyboard, one button per row."""
        rows = [[InlineKeyboardButton(str(b["title"]), callback_data=self.payloads.encode(str(b["payload"])))] for b in buttons]
        return InlineKeyboardMarkup(rows) if rows else None


TELEGRAM_WEBHOOK_PURPOSE = "telegram-webhook"  # Settings.derived_secret: the webhook's secret when none is configured
WEBHOOK_SECRET_ALPHABET = re.compile(r"[A-Za-z0-9_-]{1,256}")  # what Telegram accepts as secret_token
WEBHOOK_SECRET_MIN_CHARS = 24
WEBHOOK_SECRET_MIN_DISTINCT = 8  # 24 random characters of that alphabet have about 20 different ones


class WeakWebhookSecret(ValueError):
    """A configured TELEGRAM_SECRET_TOKEN that anyone could guess: the bridge refuses to start a webhook with it."""


class WebhookSecret(str):
    """The webhook's secret, equal only to the same text, compared in constant time.

    python-telegram-bot's webhook handler checks the X-Telegram-Bot-Api-Secret-Token header with `token != secret`,
    which stops at the first character that differs. Python asks the right operand first when its type is a subclass
    of the left one's, so this comparison decides (tests/security/test_telegram_secret.py proves that it does).
    """

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and hmac.compare_digest(other.encode("utf-8", "surrogateescape"), self.encode())

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = str.__hash__


def weakness(secret: str, bot_token: str) -> str | None:
    """Why a configured secret is guessable, or None."""
    if not WEBHOOK_SECRET_ALPHABET.fullmatch(secret):
        return "may hold only the letters A-Z and a-z, digits, _ and - (Telegram's rule), at most 256 of them"
    if len(secret) < WEBHOOK_SECRET_MIN_CHARS:
        return f"is too short: {len(secret)} characters"
    if len(set(secret)) < WEBHOOK_SECRET_MIN_DISTINCT:
        return "has too few different characters to be random"
    token_secret = bot_token.partition(":")[2]
    if token_secret and (secret in bot_token or token_secret in secret):
        return "is taken from the bot token"
    return None


def webhook_secret(config: Settings) -> WebhookSecret:
    """The secret Telegram sends in X-Telegram-Bot-Api-Secret-Token: configured, or a random one derived from SECRET_KEY
    (not from the bot token, which more people than the server know). A guessable configured one raises WeakWebhookSecret."""
    if not config.telegram_secret:
        return WebhookSecret(config.derived_secret(TELEGRAM_WEBHOOK_PURPOSE))
    problem = weakness(config.telegram_secret, config.telegram_token)
    if problem is not None:
        raise WeakWebhookSecret(
            f"TELEGRAM_SECRET_TOKEN {problem}. Set at least {WEBHOOK_SECRET_MIN_CHARS} random characters "
            "(python -c 'import secrets; print(secrets.token_urlsafe(32))'), or leave it empty to derive one from SECRET_KEY."
        )
    return WebhookSecret(config.telegram_secret)


def webhook_options(config: Settings) -> dict[str, Any]:
    """run_webhook's arguments: listen on TELEGRAM_PORT at the public URL's path, refusing requests without the secret."""
    return {
        "listen": "0.0.0.0",
        "port": config.telegram_port,
        "url_path": urlsplit(config.telegram_webhook_url).path.strip("/"),
        "webhook_url": config.telegram_webhook_url,
        "secret_token": webhook_secret(config),
        "allowed_updates": ALLOWED_UPDATES,
    }


def build_application(config: Settings, *, rasa_timeout: float = RASA_TIMEOUT) -> Application:
    """The bridge on config's bot token, Bot API URL and Rasa URL, not yet running."""
    bridge = TelegramBridge(config.rasa_base_url, load_texts(), config.derived_secret(BRIDGE_PURPOSE), rasa_timeout)
    application = (
        ApplicationBuilder()
        .token(config.telegram_token)
        .base_url(config.telegram_api_url)
        .concurrent_updates(True)
        .post_init(bridge.start)
        .post_shutdown(bridge.stop)
        .build()
    )
    private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
    application.add_handlers(
        [
            MessageHandler(private & filters.COMMAND, bridge.on_command),
            MessageHandler(private & ((filters.TEXT & ~filters.COMMAND) | filters.ATTACHMENT), bridge.on_message),
            CallbackQueryHandler(bridge.on_button),
        ]
    )
    application.add_error_handler(bridge.on_error)
    return application


def main() -> int:
    """`python -m bot telegram`: run the bridge until Ctrl-C or SIGTERM."""
    config = settings()
    if not config.telegram_token:
        print("TELEGRAM_BOT_TOKEN is not set: create a bot with @BotFather and set its token to start the Telegram bridge.", file=sys.stderr)
        return 2
    try:
        webhook = webhook_options(config) if config.telegram_webhook_url else None
    except WeakWebhookSecret as exc:
        print(f"The Telegram bridge does not start: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # it logs every request URL, and those contain the bot token
    application = build_application(config)
    if webhook is not None:
        log.info("Telegram bridge: webhook on port %s, Rasa at %s", config.telegram_port, config.rasa_base_url)
        application.run_webhook(**webhook)
    else:
        log.info("Telegram bridge: long polling, Rasa at %s", config.rasa_base_url)
        application.run_polling(allowed_updates=ALLOWED_UPDATES)
    return 0
