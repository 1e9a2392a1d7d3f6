"""Live chat on Rasa's side: the dashboard lets a coordinator into a conversation, and out again.

POST /webhooks/live/<operation> with {"sender": …} and the operation's fields, from the web server
only (the X-Live-Token header: a key derived from SECRET_KEY; the load balancer must not expose the
path). Each operation takes the conversation's lock, as Rasa does for a message, adds its events to
the tracker, saves it through the tracker store (CPR masking and all) and delivers the message on
the channel the citizen last wrote on: the widget's socket.io room (on every instance, through
Redis when REDIS_URL is set) or their Telegram chat.

- join {coordinator, region}: a form that was half filled stops (it does not resume by itself), the
  bot pauses (Rasa's ConversationPaused: it still understands and stores each message, and answers
  none) and the citizen reads utter_live_joined.
- say {coordinator, text}: the coordinator's message, marked as theirs. 409 when the conversation is
  no longer paused (its session expired, or the citizen restarted it).
- leave {coordinator}: the bot resumes and says so. Anything the bot would have acted on at once
  while it was silent (bot.conventions.LIVE_ALERT_INTENTS: an emergency, an erasure request) it
  answers now.
- missed {reference}: nobody took the chat in time; the citizen is told the case went on by e-mail.

Unknown conversation: 404. Everything else about who may do this is the dashboard's to check.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from typing import Any, Awaitable, Callable

import sqlalchemy as sa
from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, OutputChannel, UserMessage
from rasa.core.channels.socketio import SocketIOOutput
from rasa.shared.core.constants import REQUESTED_SLOT
from rasa.shared.core.events import ActionExecuted, ActiveLoop, BotUttered, ConversationPaused, ConversationResumed, Event, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.conventions import LIVE_ALERT_INTENTS, LIVE_PURPOSE, LIVE_TOKEN_HEADER, SOCKETIO, TELEGRAM, TELEGRAM_SENDER_PREFIX
from bot.settings import settings

logger = logging.getLogger(__name__)

OPERATIONS = ("join", "say", "leave", "missed")
MAX_TEXT = 2000
SEND_TIMEOUT = 10.0  # a delivery happens under the conversation's lock; Telegram must not hold it long
ACTION_LISTEN = "action_listen"


def _error(status: int, code: str) -> HTTPResponse:
    return response.json({"error": code}, status=status)


def _field(body: dict[str, Any], name: str, limit: int = 200) -> str | None:
    value = body.get(name)
    return value.strip()[:limit] if isinstance(value, str) and value.strip() else None


def _said_while_paused(tracker: DialogueStateTracker) -> list[UserUttered]:
    """The citizen's messages since the bot last paused."""
    messages: list[UserUttered] = []
    for event in reversed(tracker.events):
        if isinstance(event, ConversationPaused):
            break
        if isinstance(event, UserUttered):
            messages.append(event)
    return messages[::-1]


def _live_rows(tracker_url: str, sender: str, since: float) -> list[dict[str, Any]]:
    from bot.store import conversations

    events = conversations.events
    query = sa.select(events.c.data).where(events.c.sender_id == sender, events.c.type_name == "bot", events.c.timestamp > since).order_by(events.c.id)
    with conversations.engine(tracker_url).connect() as connection:
        shown = [json.loads(data or "{}") for (data,) in connection.execute(query)]
    return [{"text": m.get("text"), "metadata": m["metadata"]} for m in shown if isinstance(m.get("metadata"), dict) and m["metadata"].get("live")]


async def live_messages_since(sender: str, since: float) -> list[dict[str, Any]]:
    """The live chat's messages to a conversation after `since` (epoch seconds), as the widget receives them: for a widget
    that reconnects (the network dropped while a coordinator wrote), so nothing a coordinator wrote is lost to it."""
    return await asyncio.get_running_loop().run_in_executor(None, _live_rows, settings().tracker_url, sender, since)


class TelegramOutput(OutputChannel):
    """Messages pushed to a Telegram chat from Rasa (the bridge only ever answers): the Bot API's sendMessage."""

    _bot: Any = None

    @classmethod
    def name(cls) -> str:
        return TELEGRAM

    async def _client(self) -> Any:
        if TelegramOutput._bot is None:
            from telegram import Bot
            from telegram.request import HTTPXRequest

            config = settings()
            bot = Bot(config.telegram_token, base_url=config.telegram_api_url, request=HTTPXRequest(read_timeout=SEND_TIMEOUT, connect_timeout=SEND_TIMEOUT))
            await bot.initialize()
            TelegramOutput._bot = bot
        return TelegramOutput._bot

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        from telegram.error import TelegramError

        from bot.telegram.bridge import split_text

        if not settings().telegram_token:
            logger.warning("A live chat message for Telegram, but TELEGRAM_BOT_TOKEN is not set on this Rasa instance")
            return
        try:
            client = await self._client()
            for chunk in split_text(text):
                await client.send_message(chat_id=int(recipient_id.removeprefix(TELEGRAM_SENDER_PREFIX)), text=chunk)
        except (TelegramError, ValueError) as exc:  # the citizen blocked the bot, Telegram is slow: the message stays in the transcript
            logger.warning("Live chat message not delivered to Telegram: %s", type(exc).__name__)


class HandoffInput(InputChannel):
    """Registered in credentials.yml as bot.rasa_server.live.HandoffInput."""

    @classmethod
    def name(cls) -> str:
        return "live"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("live_webhook", __name__)

        @webhook.route("/<operation>", methods=["POST"])
        async def act(request: Request, operation: str) -> HTTPResponse:
            given = request.headers.get(LIVE_TOKEN_HEADER) or ""
            if not hmac.compare_digest(given.encode("utf-8", "surrogateescape"), settings().derived_secret(LIVE_PURPOSE).encode()):
                return _error(401, "unauthorized")
            if operation not in OPERATIONS:
                return _error(404, "unknown_operation")
            try:
                body = json.loads(request.body or b"")
            except (ValueError, UnicodeDecodeError):
                return _error(400, "invalid_json")
            sender = _field(body, "sender", 255) if isinstance(body, dict) else None
            if sender is None:
                return _error(400, "invalid_sender")
            return await self.handle(request, operation, sender, body, on_new_message)

        return webhook

    async def handle(
        self, request: Request, operation: str, sender: str, body: dict[str, Any], on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> HTTPResponse:
        agent = request.app.ctx.agent
        domain = agent.domain
        coordinator = _field(body, "coordinator", 60) or ""
        alerts: list[UserUttered] = []
        async with agent.lock_store.lock(sender):
            tracker = await agent.tracker_store.retrieve(sender)
            if tracker is None or not tracker.events:
                return _error(404, "no_conversation")
            before: list[Event] = []
            after: list[Event] = []
            if operation == "join":
                if tracker.active_loop_name:
                    before += [ActiveLoop(None), SlotSet(REQUESTED_SLOT, None)]
                if not tracker.is_paused():
                    before.append(ConversationPaused())
                text = self._text(domain, "utter_live_joined", name=coordinator, region=_field(body, "region") or "")
            elif operation == "say":
                if not tracker.is_paused():
                    return _error(409, "not_live")
                text = _field(body, "text", MAX_TEXT) or ""
                if not text:
                    return _error(400, "invalid_text")
            elif operation == "leave":
                if not tracker.is_paused():
                    return response.json({"ok": True, "live": False})  # already the bot's: nothing to hand back
                alerts = [m for m in _said_while_paused(tracker) if (m.intent or {}).get("name") in LIVE_ALERT_INTENTS]
                before.append(ConversationResumed())
                after.append(ActionExecuted(ACTION_LISTEN))  # the citizen's next message starts a turn of its own
                text = self._text(domain, "utter_live_left", name=coordinator)
            else:  # missed
                if tracker.is_paused():
                    return _error(409, "live")
                text = self._text(domain, "utter_live_missed", reference=_field(body, "reference", 20) or "")
            at = time.time()
            marker = {"live": {"event": operation, "coordinator": coordinator, "at": at}}
            for event in [*before, BotUttered(text, metadata=marker, timestamp=at), *after]:
                tracker.update(event, domain)
            await agent.tracker_store.save(tracker)
            channel = tracker.get_latest_input_channel()
            await self.deliver(request, channel, sender, text, marker)
        for alert in alerts[-1:]:  # the latest: the bot answers it now, as if it had just been written
            await on_new_message(UserMessage(alert.text, self.output_for(request, channel), sender, input_channel=channel))
        return response.json({"ok": True, "live": tracker.is_paused(), "channel": channel})

    @staticmethod
    def _text(domain: Any, response_name: str, **values: str) -> str:
        return str(domain.responses[response_name][0]["text"]).format(**values)

    @staticmethod
    def output_for(request: Request, channel: str | None) -> OutputChannel:
        if channel == SOCKETIO:
            for candidate in getattr(request.app.ctx, "input_channels", []):
                if candidate.name() == SOCKETIO and getattr(candidate, "sio", None) is not None:
                    return SocketIOOutput(candidate.sio, candidate.bot_message_evt)
        if channel == TELEGRAM:
            return TelegramOutput()
        return CollectingOutputChannel()  # REST: nobody to push to; the message is in the conversation

    async def deliver(self, request: Request, channel: str | None, sender: str, text: str, marker: dict[str, Any]) -> None:
        """The widget gets the marker, so it shows who wrote; Telegram gets the coordinator's name before their text."""
        output = self.output_for(request, channel)
        if isinstance(output, SocketIOOutput):
            await output.sio.emit(output.bot_message_evt, {"text": text, "metadata": marker}, room=sender)
        elif isinstance(output, TelegramOutput):
            if marker["live"]["event"] == "say":
                text = self._text(request.app.ctx.agent.domain, "utter_live_telegram", name=marker["live"]["coordinator"], text=text)
            await output.send_text_message(sender, text)
