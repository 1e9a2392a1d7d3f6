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
  confirmed, so no browser can choose whose conversation it writes to. With REDIS_URL every emit
  goes through Redis, so a live chat's message entering on one Rasa instance reaches a widget
  connected to another; a widget that reconnects gets the live chat's messages it missed.

On every channel a conversation may send RATE_LIMIT_CONVERSATION messages a minute, and a client
address RATE_LIMIT_ADDRESS over REST and socket.io together (not on the bridge's route, where every
Telegram chat comes from the bridge's address). A message over a limit gets the Danish refusal from
domain.yml (REST: status 429) and reaches no dialogue, so a script cannot flood coordinators with
leads and mails.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import time
import uuid
from collections import deque
from functools import cache
from ipaddress import IPv6Address, ip_address, ip_network
from typing import Any, Awaitable, Callable, Dict, Protocol, TypeGuard

import redis.asyncio
from rasa.core.channels import rest, socketio
from rasa.core.channels.channel import UserMessage
from sanic import Blueprint, Sanic, response
from sanic.exceptions import SanicException
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncRedisManager, AsyncServer

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
from bot.proxies import client_address
from bot.rasa_server.live import live_messages_since
from bot.settings import Settings, settings

logger = logging.getLogger(__name__)

MAX_SENDER_CHARS = 200
RATE_WINDOW_SECONDS = 60  # the limits are messages per minute, over a sliding minute
RATE_LIMITED = "utter_rate_limited"
SOCKETIO_CHANNEL = "frivillig-socketio"  # the Redis pub/sub channel of the widget's emits, between Rasa instances
RATE_KEY_PREFIX = "frivillig:rate:"  # in the lock store's Redis, beside its "frivillig" keys (endpoints.yml)


def _error(status: int, code: str, detail: str) -> HTTPResponse:
    return response.json({"error": code, "detail": detail}, status=status)


def _reply(request: Request, response_name: str, status: int = 200, headers: dict[str, str] | None = None) -> HTTPResponse:
    texts = request.app.ctx.agent.domain.responses[response_name]
    return response.json([{"recipient_id": None, "text": texts[0]["text"]}], status=status, headers=headers)


class Window(Protocol):
    """Where the admitted messages of the last minute are counted."""

    async def take(self, limits: dict[str, int]) -> bool:
        """Count one message against every key, unless a key already has its limit within the window: then count none."""
        ...


class MemoryWindow:
    """The times of each key's admitted messages within the window, in this process: one Rasa instance, no Redis."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.hits: dict[str, deque[float]] = {}
        self.swept = clock()

    async def take(self, limits: dict[str, int]) -> bool:
        now = self.clock()
        since = now - RATE_WINDOW_SECONDS
        if self.swept < since:  # once a window, forget the keys that went quiet
            self.hits = {key: hits for key, hits in self.hits.items() if hits and hits[-1] > since}
            self.swept = now
        recent = []
        for key, limit in limits.items():
            hits = self.hits.setdefault(key, deque())
            while hits and hits[0] <= since:
                hits.popleft()
            if len(hits) >= limit:
                return False
            recent.append(hits)
        for hits in recent:
            hits.append(now)
        return True


# One sorted set of admission times per key; checking and counting all keys at once keeps instances from racing.
TAKE_SCRIPT = """
local now, window, member = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if redis.call('ZCARD', key) >= tonumber(ARGV[3 + i]) then return 0 end
end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, member)
  redis.call('PEXPIRE', key, window)
end
return 1
"""


class RedisWindow:
    """The same window in Redis (REDIS_URL, the lock store's), so every Rasa instance behind a load balancer counts together."""

    def __init__(self, url: str) -> None:
        self.script = redis.asyncio.from_url(url).register_script(TAKE_SCRIPT)

    async def take(self, limits: dict[str, int]) -> bool:
        keys = [(RATE_KEY_PREFIX + key).encode("utf-8", "surrogatepass") for key in limits]  # a sender may hold any code point
        args = [int(time.time() * 1000), RATE_WINDOW_SECONDS * 1000, uuid.uuid4().hex, *limits.values()]
        try:
            return bool(await self.script(keys=keys, args=args))
        except redis.RedisError as exc:  # the lock store needs Redis too, so Rasa is failing already: do not refuse citizens as well
            logger.error("Rate limits not checked: Redis failed (%s)", type(exc).__name__)
            return True


class RateLimits:
    """Messages per minute per conversation and per client address (RATE_LIMIT_CONVERSATION, RATE_LIMIT_ADDRESS).

    A refused message is not counted, so a client that pauses for a minute is admitted again. The address is the
    peer's, or the forwarded client's when the peer is one of TRUSTED_PROXIES; an IPv6 client counts by its /64, which
    one household gets; addresses in RATE_LIMIT_EXEMPT (this machine's own tools) are not counted.
    """

    def __init__(self, config: Settings) -> None:
        self.per_conversation = config.rate_limit_conversation
        self.per_address = config.rate_limit_address
        self.exempt = config.rate_limit_exempt()
        self.proxies = config.trusted_proxies()
        self.window: Window = RedisWindow(config.redis_url) if config.redis_url else MemoryWindow()

    def address_of(self, request: Request) -> str:
        return client_address(request.ip, request.headers.getall("X-Forwarded-For", []), self.proxies)

    def _address_key(self, address: str) -> str | None:
        try:
            ip = ip_address(address)
        except ValueError:
            return address  # no address at all: all such requests share one count
        if isinstance(ip, IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if any(ip in network for network in self.exempt):
            return None
        return str(ip_network(f"{ip}/64", strict=False)) if isinstance(ip, IPv6Address) else str(ip)

    async def admit(self, conversation: str, address: str | None = None) -> bool:
        """Whether one more message of this conversation (from this address) may reach the dialogue; it is counted if so."""
        limits = {f"conversation:{conversation}": self.per_conversation} if self.per_conversation > 0 else {}
        key = self._address_key(address) if address is not None and self.per_address > 0 else None
        if key is not None:
            limits[f"address:{key}"] = self.per_address
        return await self.window.take(limits) if limits else True


@cache
def rate_limits() -> RateLimits:
    """One count per process for all channels, so REST and socket.io share an address's messages."""
    return RateLimits(settings())


async def limit(request: Request, address: str | None = None) -> HTTPResponse | None:
    """None when a checked request is within the limits (and counted), else the 429 with the Danish refusal."""
    if await rate_limits().admit(request.json["sender"], address):
        return None
    return _reply(request, RATE_LIMITED, status=429, headers={"Retry-After": str(RATE_WINDOW_SECONDS)})


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
    if not is_text(sender) or not sender.strip() or len(sender) > MAX_SENDER_CHARS:
        return _error(400, "invalid_sender", f"'sender' must be a non-empty string of Unicode text of at most {MAX_SENDER_CHARS} characters.")
    if own_prefix and not (sender.startswith(own_prefix) and sender[len(own_prefix) :].lstrip("-").isdigit()):
        return _error(403, "wrong_sender", f"This channel speaks only for senders {own_prefix}<id>.")
    if not own_prefix and sender.lower().startswith(RESERVED_SENDER_PREFIXES):
        return _error(403, "reserved_sender", "This sender id belongs to another channel.")
    if not is_text(message):
        return _error(400, "invalid_message", "'message' must be a string of Unicode text.")
    if body.get("metadata") is not None and not isinstance(body["metadata"], dict):
        return _error(400, "invalid_metadata", "'metadata' must be an object.")
    refusal = message_refusal(message)
    return _reply(request, refusal) if refusal is not None else None


def is_text(value: Any) -> TypeGuard[str]:
    """A string that is Unicode text: JSON can carry lone surrogates (\\ud800), which the NLU and the tracker store cannot encode."""
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def message_refusal(message: Any) -> str | None:
    """The response that answers a message the dialogue should not get (no text, or too long), or None: REST and socket.io alike."""
    if not is_text(message) or not any(ch.isprintable() and not ch.isspace() for ch in message):
        return "utter_empty_message"
    if len(message) > MAX_MESSAGE_CHARS:
        return "utter_message_too_long"
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
                return await self.admit(request)
            return None

        return blueprint

    async def admit(self, request: Request) -> HTTPResponse | None:
        refusal = check(request)
        return refusal if refusal is not None else await limit(request, rate_limits().address_of(request))


class BridgeInput(RestInput):
    """The Telegram bridge's own route: REST with the bridge's secret, for Telegram's senders only."""

    @classmethod
    def name(cls) -> str:
        return "bridge"

    def _extract_input_channel(self, req: Request) -> str:
        return TELEGRAM

    async def admit(self, request: Request) -> HTTPResponse | None:
        given = request.headers.get(BRIDGE_TOKEN_HEADER) or ""
        expected = settings().derived_secret(BRIDGE_PURPOSE)
        if not hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode()):
            return _error(401, "unauthorized", f"The bridge route needs the {BRIDGE_TOKEN_HEADER} header.")
        refusal = check(request, own_prefix=TELEGRAM_SENDER_PREFIX)
        return refusal if refusal is not None else await limit(request)  # per chat only: every chat comes from the bridge's address


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
        # With REDIS_URL (several instances), every emit goes through Redis to the instance that holds the socket: a coordinator's
        # message entering on one instance reaches a widget connected to another (bot/rasa_server/live.py). Redis must be private:
        # python-socketio unpickles what it reads there. One instance needs no Redis and emits in process.
        manager = AsyncRedisManager(settings().redis_url, channel=SOCKETIO_CHANNEL) if settings().redis_url else None
        sio = AsyncServer(async_mode="sanic", cors_allowed_origins=self.allowed_origins or [], client_manager=manager)
        webhook = socketio.SocketBlueprint(sio, self.socketio_path, "socketio_webhook", __name__)
        self.sio = sio
        sessions: dict[str, str] = {}  # socket id -> conversation

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        # A client may send any event with any number of arguments, "disconnect" too: the handlers take them all.
        @sio.on("disconnect", namespace=self.namespace)
        async def disconnect(sid: str, *_: Any) -> None:
            sessions.pop(sid, None)

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: str, data: Any = None, *_: Any) -> None:
            asked = data.get("session_id") if isinstance(data, dict) else None
            session = web_session_of(asked) or uuid.uuid4().hex
            sender = web_sender(session)
            previous = sessions.get(sid)
            if previous is not None and previous != sender:
                sio.leave_room(sid, previous)  # a socket is in its current conversation's room only
            sessions[sid] = sender
            sio.enter_room(sid, sender)
            await sio.emit("session_confirm", web_session_token(session), room=sid)
            since = data.get("live_since") if isinstance(data, dict) and web_session_of(asked) else None
            if isinstance(since, (int, float)) and not isinstance(since, bool):  # a reconnect: what a coordinator wrote meanwhile
                for message in await live_messages_since(sender, float(since)):
                    await sio.emit(self.bot_message_evt, message, room=sid)

        @sio.on(self.user_message_evt, namespace=self.namespace)
        async def handle_message(sid: str, data: Any = None, *_: Any) -> None:
            sender, environ = sessions.get(sid), sio.get_environ(sid, namespace=self.namespace)
            if sender is None or environ is None or not isinstance(data, dict):
                return  # no confirmed session on this socket (or the socket is gone): nothing to write to
            message = data.get("message")
            refusal = message_refusal(message)
            if refusal is not None:
                await self._reply(sio, sender, refusal)
                return
            if not await rate_limits().admit(sender, rate_limits().address_of(environ["sanic.request"])):
                await self._reply(sio, sender, RATE_LIMITED)
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
        """The polite Danish answer to an empty, overlong or rate-limited message, from the running model's domain."""
        try:
            agent = Sanic.get_app().ctx.agent
        except (SanicException, AttributeError):
            return
        texts = agent.domain.responses.get(response_name) if agent is not None and agent.domain else None
        if texts:
            await sio.emit(self.bot_message_evt, {"text": texts[0]["text"]}, room=room)
