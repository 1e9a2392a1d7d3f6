"""Rasa's input channels with the checks public endpoints need, and each conversation reachable
only through the channel that owns it.

- REST (/webhooks/rest/webhook): open to anyone, for conversations of its own. Malformed
  requests get a 4xx; an empty or overlong message gets a polite Danish reply from domain.yml
  without reaching the dialogue. A sender id reserved for another channel ("telegram:…",
  "web:…") is refused with 403 and reaches nothing, and the channel is always "rest",
  whatever the body claims.
- The Telegram bridge (/webhooks/bridge/webhook): only with the bridge's secret header, and only
  for "telegram:<chat id>" senders.
- socket.io (the widget): the server issues each browser a session id and signs it; the
  conversation is "web:<id>", and a message is taken only on a socket whose session the server
  confirmed, so no browser can choose whose conversation it writes to.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import uuid
from typing import Any, Awaitable, Callable, Dict

from rasa.core.channels import rest, socketio
from rasa.core.channels.channel import UserMessage
from sanic import Blueprint, Sanic, response
from sanic.exceptions import SanicException
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncServer

from bot.conventions import (
    BRIDGE_PURPOSE,
    BRIDGE_TOKEN_HEADER,
    MAX_MESSAGE_CHARS,
    RESERVED_SENDER_PREFIXES,
    REST,
    TELEGRAM,
    TELEGRAM_SENDER_PREFIX,
    WEB_SENDER_PREFIX,
    WEB_SESSION_PURPOSE,
)
from bot.settings import settings

logger = logging.getLogger(__name__)

MAX_SENDER_CHARS = 200


def _error(status: int, code: str, detail: str) -> HTTPResponse:
    return response.json({"error": code, "detail": detail}, status=status)


def _reply(request: Request, response_name: str) -> HTTPResponse:
    texts = request.app.ctx.agent.domain.responses[response_name]
    return response.json([{"recipient_id": None, "text": texts[0]["text"]}])


def check(request: Request, own_prefix: str = "") -> HTTPResponse | None:
    """None when the request may go on to Rasa, else the answer to give instead.

    `own_prefix` is the sender prefix the channel owns ("" for public REST, which owns none).
    """
    try:
        body: Any = json.loads(request.body or b"")
    except (ValueError, UnicodeDecodeError):
        return _error(400, "invalid_json", "The body must be a JSON object.")
    if not isinstance(body, dict):
        return _error(400, "invalid_body", "The body must be a JSON object with 'sender' and 'message'.")
    sender, message = body.get("sender"), body.get("message")
    if not isinstance(sender, str) or not sender.strip() or len(sender) > MAX_SENDER_CHARS:
        return _error(400, "invalid_sender", f"'sender' must be a non-empty string of at most {MAX_SENDER_CHARS} characters.")
    if own_prefix and not (sender.startswith(own_prefix) and sender[len(own_prefix) :].lstrip("-").isdigit()):
        return _error(403, "wrong_sender", f"This channel speaks only for senders {own_prefix}<id>.")
    if not own_prefix and sender.lower().startswith(RESERVED_SENDER_PREFIXES):
        return _error(403, "reserved_sender", "This sender id belongs to another channel.")
    if not isinstance(message, str):
        return _error(400, "invalid_message", "'message' must be a string.")
    if body.get("metadata") is not None and not isinstance(body["metadata"], dict):
        return _error(400, "invalid_metadata", "'metadata' must be an object.")
    if not message.strip() or not any(ch.isprintable() and not ch.isspace() for ch in message):
        return _reply(request, "utter_empty_message")
    if len(message) > MAX_MESSAGE_CHARS:
        return _reply(request, "utter_message_too_long")
    return None


class RestInput(rest.RestInput):
    """Registered in credentials.yml as bot.rasa_server.channels.RestInput; its name stays "rest"."""

    def _extract_input_channel(self, req: Request) -> str:
        return REST  # not what the body claims: the channel is where the message came in

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[None]]) -> Blueprint:
        blueprint = super().blueprint(on_new_message)

        @blueprint.middleware("request")
        async def validate(request: Request) -> HTTPResponse | None:
            if request.method == "POST" and request.path.rstrip("/").endswith(f"/webhooks/{self.name()}/webhook"):
                return self.admit(request)
            return None

        return blueprint

    def admit(self, request: Request) -> HTTPResponse | None:
        return check(request)


class BridgeInput(RestInput):
    """The Telegram bridge's own route: REST with the bridge's secret, for Telegram's senders only."""

    @classmethod
    def name(cls) -> str:
        return "bridge"

    def _extract_input_channel(self, req: Request) -> str:
        return TELEGRAM

    def admit(self, request: Request) -> HTTPResponse | None:
        given = request.headers.get(BRIDGE_TOKEN_HEADER) or ""
        expected = settings().derived_secret(BRIDGE_PURPOSE)
        if not hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode()):
            return _error(401, "unauthorized", f"The bridge route needs the {BRIDGE_TOKEN_HEADER} header.")
        return check(request, own_prefix=TELEGRAM_SENDER_PREFIX)


_WEB_ID = re.compile(r"[0-9a-f]{32}")


def web_session_token(session: str) -> str:
    """The token a browser keeps for its session: the id and the server's signature of it."""
    signature = hmac.new(settings().derived_secret(WEB_SESSION_PURPOSE).encode(), session.encode(), "sha256").hexdigest()
    return f"{session}.{signature}"


def web_session_of(token: Any) -> str | None:
    """The session id a token proves, or None for anything the server did not issue."""
    if not isinstance(token, str) or len(token) > 200:
        return None
    session, _, _signature = token.partition(".")
    if not _WEB_ID.fullmatch(session) or not hmac.compare_digest(token.encode("utf-8", "surrogateescape"), web_session_token(session).encode()):
        return None
    return session


def web_sender(session: str) -> str:
    return f"{WEB_SENDER_PREFIX}{session}"


class SocketIOInput(socketio.SocketIOInput):
    """Rasa's socket.io channel with server-issued, signed session ids and the REST channel's message checks.

    session_request: a token the server issued before keeps its conversation (a reload, a reconnect);
    anything else gets a new session. user_uttered: taken only on a socket with a confirmed session,
    for that session's conversation, whatever session_id the message names.
    """

    def __init__(self, *args: Any, allowed_origins: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.allowed_origins = allowed_origins

    @classmethod
    def from_credentials(cls, credentials: Dict[str, Any] | None) -> SocketIOInput:
        credentials = credentials or {}
        channel = cls(
            credentials.get("user_message_evt", "user_uttered"),
            credentials.get("bot_message_evt", "bot_uttered"),
            credentials.get("namespace"),
            True,  # conversations are rooms, so a second tab of the same session hears the bot too
            credentials.get("socketio_path", "/socket.io"),
            allowed_origins=settings().widget_origins(),
        )
        return channel

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        sio = AsyncServer(async_mode="sanic", cors_allowed_origins=self.allowed_origins or [])
        webhook = socketio.SocketBlueprint(sio, self.socketio_path, "socketio_webhook", __name__)
        self.sio = sio
        sessions: dict[str, str] = {}  # socket id -> conversation

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @sio.on("disconnect", namespace=self.namespace)
        async def disconnect(sid: str) -> None:
            sessions.pop(sid, None)

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: str, data: Any) -> None:
            asked = data.get("session_id") if isinstance(data, dict) else None
            session = web_session_of(asked) or uuid.uuid4().hex
            sender = web_sender(session)
            sessions[sid] = sender
            sio.enter_room(sid, sender)
            await sio.emit("session_confirm", web_session_token(session), room=sid)

        @sio.on(self.user_message_evt, namespace=self.namespace)
        async def handle_message(sid: str, data: Any) -> None:
            sender = sessions.get(sid)
            if sender is None or not isinstance(data, dict):
                return  # no confirmed session on this socket: nothing to write to
            message = data.get("message")
            if not isinstance(message, str) or not message.strip() or len(message) > MAX_MESSAGE_CHARS:
                await self._reply(
                    sio, sender, "utter_message_too_long" if isinstance(message, str) and len(message) > MAX_MESSAGE_CHARS else "utter_empty_message"
                )
                return
            metadata = data.get(self.metadata_key)
            if isinstance(metadata, str):
                try:
                    metadata = json.loads(metadata)
                except ValueError:
                    metadata = None
            output = socketio.SocketIOOutput(sio, self.bot_message_evt)
            await on_new_message(UserMessage(message, output, sender, input_channel=self.name(), metadata=metadata if isinstance(metadata, dict) else None))

        return webhook

    async def _reply(self, sio: AsyncServer, room: str, response_name: str) -> None:
        """The polite Danish answer to an empty or overlong message, from the running model's domain."""
        try:
            agent = Sanic.get_app().ctx.agent
        except (SanicException, AttributeError):
            return
        texts = agent.domain.responses.get(response_name) if agent is not None and agent.domain else None
        if texts:
            await sio.emit(self.bot_message_evt, {"text": texts[0]["text"]}, room=room)
