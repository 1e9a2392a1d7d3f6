"""Fakes for the Telegram bridge's tests, as aiohttp servers on loopback: Telegram's Bot API and Rasa's REST channel.

FakeTelegram answers the Bot API methods the bridge uses, serves queued updates to getUpdates
the way Telegram does (kept until a later offset confirms them, long polling with a short cap)
and records every call with its parameters, so tests assert what the user would see.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from aiohttp import web

from bot.conventions import BRIDGE_TOKEN_HEADER
from stack import free_port

BOT_USER: dict[str, Any] = {"id": 123456, "is_bot": True, "first_name": "Frivilligbotten", "username": "frivilligbotten_test_bot"}
# Parameters that python-telegram-bot sends as plain strings; the others are JSON-encoded.
STRING_PARAMETERS = frozenset({"text", "callback_query_id", "url", "secret_token", "action"})


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    result: Any = None


class LoopbackServer:
    """An aiohttp application on 127.0.0.1, on a free port unless one is given."""

    def __init__(self, app: web.Application, port: int | None = None) -> None:
        self.app = app
        self.port = port or free_port()
        self._runner = web.AppRunner(app, shutdown_timeout=1.0)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        await self._runner.cleanup()


class FakeTelegram:
    """The Bot API of one bot, at base_url (what ApplicationBuilder.base_url takes)."""

    def __init__(self, token: str = "123456:TEST-frivilligbotten-token", poll_cap: float = 0.5, port: int | None = None) -> None:
        self.token = token
        self.poll_cap = poll_cap
        self.calls: list[Call] = []
        self.webhook_url = ""
        self._updates: list[dict[str, Any]] = []
        self._arrived = asyncio.Event()
        self._message_ids = 1000
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._handle)
        self.server = LoopbackServer(app, port)

    @property
    def base_url(self) -> str:
        return f"{self.server.url}/bot"

    async def start(self) -> FakeTelegram:
        await self.server.start()
        return self

    async def stop(self) -> None:
        await self.server.stop()

    # --- what tests use -------------------------------------------------------------
    def push(self, update: dict[str, Any]) -> None:
        """Queue an update (Update.to_dict()) for the next getUpdates."""
        self._updates.append(update)
        self._arrived.set()

    def called(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method == method]

    def messages(self, chat_id: int) -> list[Call]:
        """Every sendMessage to one chat, in order; call.result["message_id"] identifies it."""
        return [call for call in self.called("sendMessage") if call.params.get("chat_id") == chat_id]

    def texts(self, chat_id: int) -> list[str]:
        return [str(call.params["text"]) for call in self.messages(chat_id)]

    async def wait_for(self, check: Callable[[], Any], what: str, timeout: float = 60) -> Any:
        """Wait until check() returns something truthy, and return it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = check()
            if found:
                return found
            await asyncio.sleep(0.05)
        calls = [(c.method, c.params) for c in self.calls if c.method != "getUpdates"]
        raise AssertionError(f"timed out waiting for {what}; Bot API calls: {calls}")

    # --- the Bot API ------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        method = request.match_info["method"]
        params = {name: value if name in STRING_PARAMETERS else _json_or_text(value) for name, value in (await request.post()).items()}
        call = Call(method, params)
        self.calls.append(call)
        answer = getattr(self, f"_api_{method}", None)
        if answer is None:
            return web.json_response({"ok": False, "error_code": 404, "description": "Not Found: method not found"}, status=404)
        call.result = await answer(params)
        return web.json_response({"ok": True, "result": call.result})

    async def _api_getMe(self, _params: dict[str, Any]) -> dict[str, Any]:
        return BOT_USER

    async def _api_getUpdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if not self._updates:
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), min(float(params.get("timeout") or 0), self.poll_cap))
            except asyncio.TimeoutError:
                pass
        return list(self._updates)

    async def _api_sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        self._message_ids += 1
        message = {
            "message_id": self._message_ids,
            "date": int(time.time()),
            "chat": {"id": params["chat_id"], "type": "private"},
            "from": BOT_USER,
            "text": params["text"],
        }
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        return message

    async def _api_editMessageReplyMarkup(self, params: dict[str, Any]) -> dict[str, Any]:
        message = {"message_id": params["message_id"], "date": int(time.time()), "chat": {"id": params["chat_id"], "type": "private"}, "text": "…"}
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        return message

    async def _api_setWebhook(self, params: dict[str, Any]) -> bool:
        self.webhook_url = str(params["url"])
        return True

    async def _api_deleteWebhook(self, _params: dict[str, Any]) -> bool:
        self.webhook_url = ""
        return True

    async def _api_getWebhookInfo(self, _params: dict[str, Any]) -> dict[str, Any]:
        return {"url": self.webhook_url, "has_custom_certificate": False, "pending_update_count": len(self._updates)}

    async def _api_answerCallbackQuery(self, _params: dict[str, Any]) -> bool:
        return True

    async def _api_sendChatAction(self, _params: dict[str, Any]) -> bool:
        return True

    async def _api_setMyCommands(self, _params: dict[str, Any]) -> bool:
        return True


def _json_or_text(value: Any) -> Any:
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return value


@dataclass
class FakeRasa:
    """Rasa's bridge channel (REST with the bridge's secret header), answering what the test sets: replies (or an echo),
    an HTTP error status, or a delay. Each received body is kept with the secret header it came with."""

    port: int | None = None
    replies: list[dict[str, Any]] = field(default_factory=list)
    echo: bool = False
    status: int = 200
    delay: float = 0.0
    delays: dict[str, float] = field(default_factory=dict)
    received: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        app = web.Application()
        app.router.add_post("/webhooks/bridge/webhook", self._webhook)
        self.server = LoopbackServer(app, self.port)

    @property
    def url(self) -> str:
        return self.server.url

    async def start(self) -> FakeRasa:
        await self.server.start()
        return self

    async def stop(self) -> None:
        await self.server.stop()

    async def _webhook(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.received.append({**body, "token": request.headers.get(BRIDGE_TOKEN_HEADER)})
        await asyncio.sleep(self.delays.get(body["message"], self.delay))
        if self.status != 200:
            return web.json_response({"error": "internal", "detail": "the fake was told to fail"}, status=self.status)
        replies = [{"text": f"svar: {body['message']}"}] if self.echo else self.replies
        return web.json_response([{"recipient_id": body["sender"], **reply} for reply in replies])
