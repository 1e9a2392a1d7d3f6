"""Rate limits on the chat channels (issue 13, robustness): a script cannot flood coordinators with leads and mails.

A conversation may send RATE_LIMIT_CONVERSATION messages a minute, on REST, socket.io and each Telegram chat; a
client address RATE_LIMIT_ADDRESS over REST and socket.io together. Over a limit the sender gets the Danish refusal
from domain.yml (REST: status 429) and the message reaches no dialogue. 127.0.0.1 is RATE_LIMIT_EXEMPT (this
machine's own tools), so the per-address tests come from other loopback addresses.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import logging
import random
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio
import yaml
from telegram_user import bridge_config, message_update, new_chat_id, running

from bot.conventions import CITIZEN
from bot.rasa_server.channels import RATE_LIMITED, MemoryWindow, RateLimits
from bot.settings import ROOT, Settings
from bot.telegram.bridge import UNAVAILABLE, build_application
from services import Redis
from stack import Stack, stored_transcript
from telegram_fake import FakeTelegram

REFUSAL = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))["responses"][RATE_LIMITED][0]["text"]


@pytest.fixture
def address() -> str:
    """A client address of its own on loopback: 127.0.0.0/8 answers to all of them, and only 127.0.0.1 is exempt."""
    return f"127.{random.randrange(1, 255)}.{random.randrange(256)}.{random.randrange(1, 255)}"


def said_by_citizen(bot: Stack, sender: str) -> list[str]:
    return [line["text"] for line in stored_transcript(bot.settings.tracker_url, sender) if line["who"] == CITIZEN]


def post_from(bot: Stack, address: str | None, body: Any) -> tuple[int, Any]:
    """One REST message from a client at `address` (None: 127.0.0.1)."""
    source = (address, 0) if address else None
    connection = http.client.HTTPConnection("127.0.0.1", bot.settings.rasa_port, timeout=180, source_address=source)
    try:
        connection.request("POST", "/webhooks/rest/webhook", json.dumps(body), {"Content-Type": "application/json"})
        answer = connection.getresponse()
        return answer.status, json.loads(answer.read() or b"null")
    finally:
        connection.close()


def post_all_at_once(bot: Stack, address: str | None, bodies: list[dict[str, str]]) -> list[tuple[int, Any]]:
    """Every body at the same moment, as a script would: the limits decide on arrival, however slow the dialogue is."""
    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(lambda body: post_from(bot, address, body), bodies))


class WebChat:
    """The widget's side of socket.io from a client address: a confirmed session and everything the bot said."""

    def __init__(self, client: socketio.AsyncClient) -> None:
        self.client = client
        self.heard: list[str] = []
        self.token = ""

    @property
    def sender(self) -> str:
        return f"web:{self.token.partition('.')[0]}"

    async def say(self, message: str) -> None:
        await self.client.emit("user_uttered", {"message": message, "session_id": self.token})

    async def hears(self, text: str, timeout: float = 90) -> None:
        for _ in range(int(timeout * 10)):
            if text in self.heard:
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"never heard {text!r}; heard {self.heard}")


@asynccontextmanager
async def web_chat(bot: Stack, address: str | None = None) -> AsyncIterator[WebChat]:
    connector = aiohttp.TCPConnector(local_addr=(address, 0)) if address else None
    async with aiohttp.ClientSession(connector=connector) as session:
        chat = WebChat(socketio.AsyncClient(reconnection=False, http_session=session))
        confirmed = asyncio.Event()

        @chat.client.on("session_confirm")
        async def on_confirm(token: str) -> None:
            chat.token = token
            confirmed.set()

        @chat.client.on("bot_uttered")
        async def on_bot(data: dict[str, Any]) -> None:
            chat.heard.append(str(data.get("text") or ""))

        await chat.client.connect(f"http://127.0.0.1:{bot.settings.rasa_port}", transports=["websocket"])
        try:
            await chat.client.emit("session_request", {"session_id": None})
            await asyncio.wait_for(confirmed.wait(), 30)
            yield chat
        finally:
            await chat.client.disconnect()


async def settled(bot: Stack, sender: str, count: int) -> list[str]:
    """What the citizen said in a conversation once `count` messages are stored, and a moment later (nothing more comes)."""
    for _ in range(900):
        if len(said_by_citizen(bot, sender)) >= count:
            break
        await asyncio.sleep(0.2)
    await asyncio.sleep(1.0)
    return said_by_citizen(bot, sender)


async def test_a_conversation_flooding_rest_gets_429_and_reaches_no_dialogue(bot: Stack, sender: str) -> None:
    allowed = bot.settings.rate_limit_conversation
    bodies = [{"sender": sender, "message": f"jeg vil gerne være frivillig, besked {n}"} for n in range(allowed + 2)]
    answers = await asyncio.to_thread(post_all_at_once, bot, None, bodies)

    assert sorted(status for status, _ in answers) == [200] * allowed + [429] * 2
    assert all(body == [{"recipient_id": None, "text": REFUSAL}] for status, body in answers if status == 429)
    said = await settled(bot, sender, allowed)
    refused = {body["message"] for body, (status, _) in zip(bodies, answers, strict=True) if status == 429}
    assert len(said) == allowed and not refused & set(said)
    # Someone else from the same address, and a citizen at a human pace, are not affected.
    assert post_from(bot, None, {"sender": f"{sender}-2", "message": "hej"})[0] == 200


async def test_one_address_is_limited_over_rest_and_socketio_together(bot: Stack, address: str) -> None:
    allowed = bot.settings.rate_limit_address
    run = uuid.uuid4().hex[:8]
    bodies = [{"sender": f"flood-{run}-{n}", "message": "hej"} for n in range(allowed + 3)]
    answers = await asyncio.to_thread(post_all_at_once, bot, address, bodies)

    assert sorted(status for status, _ in answers) == [200] * allowed + [429] * 3
    refused = [body["sender"] for body, (status, reply) in zip(bodies, answers, strict=True) if status == 429 and reply[0]["text"] == REFUSAL]
    assert len(refused) == 3 and all(said_by_citizen(bot, sender) == [] for sender in refused)

    # The widget from the same address hears the refusal instead of an answer, and its conversation stays empty.
    async with web_chat(bot, address) as chat:
        await chat.say("hej")
        await chat.hears(REFUSAL)
        await asyncio.sleep(1.0)
        assert chat.heard == [REFUSAL] and said_by_citizen(bot, chat.sender) == []

    # This machine's own tools (RATE_LIMIT_EXEMPT) go on.
    assert post_from(bot, None, {"sender": f"flood-{run}-local", "message": "hej"})[0] == 200


async def test_a_web_session_flooding_socketio_hears_the_refusal_and_reaches_no_dialogue(bot: Stack) -> None:
    allowed = bot.settings.rate_limit_conversation
    async with web_chat(bot) as chat:
        for n in range(allowed + 1):
            await chat.say(f"hvad kan jeg lave som frivillig, spørgsmål {n}")
        await chat.hears(REFUSAL)
        said = await settled(bot, chat.sender, allowed)
        assert chat.heard.count(REFUSAL) == 1
    assert len(said) == len(set(said)) == allowed


async def test_a_telegram_chat_flooding_the_bridge_sees_the_refusal(bot: Stack) -> None:
    allowed = bot.settings.rate_limit_conversation
    telegram = await FakeTelegram().start()
    chat_id = new_chat_id()
    try:
        async with running(build_application(bridge_config(telegram, bot.rasa_url, VAR_DIR=str(bot.var_dir)))):
            for n in range(allowed + 1):
                telegram.push(message_update(chat_id, f"hej, besked {n}"))
            await telegram.wait_for(lambda: REFUSAL in telegram.texts(chat_id), "the refusal", timeout=180)
            said = await settled(bot, f"telegram:{chat_id}", allowed)
    finally:
        await telegram.stop()

    texts = telegram.texts(chat_id)
    unavailable = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))["responses"][UNAVAILABLE][0]["text"]
    assert texts.count(REFUSAL) == 1 and unavailable not in texts
    assert len(said) == allowed and f"hej, besked {allowed}" not in said


async def test_one_instance_counts_over_a_sliding_minute_in_memory() -> None:
    now = [1000.0]
    window = MemoryWindow(clock=lambda: now[0])
    assert [await window.take({"conversation:a": 2, "address:x": 3}) for _ in range(3)] == [True, True, False]
    assert not await window.take({"conversation:b": 5, "conversation:a": 2})  # refused by a: b is not counted either
    now[0] += 59
    assert not await window.take({"conversation:a": 2})
    now[0] += 2  # a minute after a's first messages
    assert await window.take({"conversation:a": 2})
    now[0] += 120
    assert await window.take({"conversation:c": 1})
    assert list(window.hits) == ["conversation:c"]  # keys that went quiet are forgotten


async def test_rasa_instances_sharing_redis_count_together(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Behind a load balancer each message may reach another Rasa instance: with REDIS_URL they share one count."""
    redis = Redis(tmp_path)
    env = {"REDIS_URL": redis.url, "RATE_LIMIT_CONVERSATION": "3", "RATE_LIMIT_ADDRESS": "4", "VAR_DIR": str(tmp_path)}
    try:
        first, second = RateLimits(Settings.from_env(env)), RateLimits(Settings.from_env(env))
        instances = [first, second] * 3
        conversation = f"test-{uuid.uuid4().hex}\ud800"  # any code point a JSON body can carry
        assert [await limits.admit(conversation) for limits in instances[:4]] == [True, True, True, False]

        # One address over many conversations; an IPv6 client by its /64; the exempt loopback not at all.
        assert [await limits.admit(f"a-{n}", "203.0.113.7") for n, limits in enumerate(instances[:5])] == [True] * 4 + [False]
        ipv6 = [f"2001:db8:1:2::{n}" for n in range(5)]
        assert [await limits.admit(f"b-{n}", ip) for n, (ip, limits) in enumerate(zip(ipv6, instances[:5], strict=True))] == [True] * 4 + [False]
        assert await first.admit("c-1", "2001:db8:1:3::1")
        assert all([await limits.admit(f"d-{n}", "127.0.0.1") for n, limits in enumerate(instances)])

        # Without Redis each process counts for itself (the embedded default: one Rasa instance).
        alone = RateLimits(Settings.from_env({**env, "REDIS_URL": ""}))
        assert await alone.admit(conversation)
    finally:
        redis.stop()

    # Redis gone: the lock store fails Rasa already, so the limits let citizens through and say so in the log.
    with caplog.at_level(logging.ERROR):
        assert await first.admit(f"test-{uuid.uuid4().hex}")
    assert "Redis failed" in caplog.text
