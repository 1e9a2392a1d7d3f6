"""Each conversation is reachable only through the channel that owns it (issue 13, impersonation).

A Telegram user signs up through the fake Bot API and the real bridge; REST and socket.io
callers who name that conversation get nothing of it and cannot change it. The bridge's own
route needs its secret; the widget's session ids are issued and signed by the server.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any, AsyncIterator

import pytest
import socketio
from telegram_user import bridge_config, new_chat_id, running, say

from bot.conventions import BRIDGE_TOKEN_HEADER, WEB_SENDER_PREFIX
from bot.telegram.bridge import build_application
from stack import Stack, http, stored_transcript, texts
from telegram_fake import FakeTelegram


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    fake = await FakeTelegram().start()
    yield fake
    await fake.stop()


async def signed_up_on_telegram(bot: Stack, telegram: FakeTelegram) -> tuple[int, str]:
    """A Telegram user who signed up: their chat id and e-mail."""
    chat_id, email = new_chat_id(), f"tg.{uuid.uuid4().hex[:8]}@example.dk"
    async with running(build_application(bridge_config(telegram, bot.rasa_url, VAR_DIR=str(bot.var_dir)))):
        steps = [
            ("skriv mig op som frivillig", "hvad hedder du"),
            ("Tove Telegram", "e-mailadresse"),
            (email, "telefonnummer"),
            ("20 30 40 50", "hvilken kommune"),
            ("Aarhus", "hvilke opgaver"),
            ("vejviser", "hvornår har du"),
            ("hverdage", "noget andet, du gerne vil fortælle"),
            ("nej tak", "må vi gemme"),
            ("ja", "FRV-"),
        ]
        for message, expect in steps:
            await say(telegram, chat_id, message, expect)
    return chat_id, email


def leads_with(bot: Stack, email: str) -> list[dict[str, Any]]:
    return [lead for lead in bot.store().cases.all_leads() if lead["email"] == email]


async def socket_says(bot: Stack, session_id: Any, message: str, claimed: Any = None) -> tuple[str, list[str]]:
    """A socket.io client that asks for `session_id` and then writes naming `claimed`: its confirmed token and what it heard."""
    client = socketio.AsyncClient(reconnection=False)
    heard: list[str] = []
    confirmed: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    @client.on("session_confirm")
    async def on_confirm(token: str) -> None:
        if not confirmed.done():
            confirmed.set_result(token)

    @client.on("bot_uttered")
    async def on_bot(data: dict[str, Any]) -> None:
        heard.append(str(data.get("text") or ""))

    await client.connect(bot.rasa_url, transports=["websocket"])
    try:
        await client.emit("session_request", {"session_id": session_id})
        token = await asyncio.wait_for(confirmed, 20)
        await client.emit("user_uttered", {"message": message, "session_id": claimed if claimed is not None else session_id})
        for _ in range(60):
            if heard:
                break
            await asyncio.sleep(0.5)
        await asyncio.sleep(0.5)
    finally:
        await client.disconnect()
    return token, heard


async def test_rest_and_socketio_cannot_read_or_erase_a_telegram_users_data(bot: Stack, telegram: FakeTelegram) -> None:
    chat_id, email = await signed_up_on_telegram(bot, telegram)
    assert len(leads_with(bot, email)) == 1
    conversation = f"telegram:{chat_id}"
    before = stored_transcript(bot.settings.tracker_url, conversation)

    # REST: refused before the dialogue, whatever the spelling of the prefix.
    for sender in (conversation, conversation.upper(), f"Telegram:{chat_id}"):
        for message in ("hvad har I gemt om mig?", "slet mine oplysninger", "ja"):
            status, body = bot.post({"sender": sender, "message": message})
            assert status == 403 and "Tove" not in str(body) and email not in str(body)

    # socket.io: asking for that conversation gets a new web session; naming it in a message writes to one's own.
    token, heard = await socket_says(bot, conversation, "hvad har I gemt om mig?")
    assert token.startswith(tuple("0123456789abcdef")) and conversation not in token
    _, heard_again = await socket_says(bot, token, "slet mine oplysninger", claimed=conversation)
    assert not any("Tove" in h or email in h for h in heard + heard_again)

    assert len(leads_with(bot, email)) == 1
    assert stored_transcript(bot.settings.tracker_url, conversation) == before


def test_the_bridge_route_needs_the_bridge_secret(bot: Stack) -> None:
    url = f"{bot.rasa_url}/webhooks/bridge/webhook"
    body = {"sender": f"telegram:{new_chat_id()}", "message": "hej"}
    assert http("POST", url, body)[0] == 401
    assert http("POST", url, body, headers={BRIDGE_TOKEN_HEADER: "forkert"})[0] == 401
    assert http("POST", url, body, headers={BRIDGE_TOKEN_HEADER: "g\xe6t"})[0] == 401  # not even an odd byte makes it fail otherwise
    secret = bot.settings.derived_secret("telegram-bridge")
    status, replies = http("POST", url, body, headers={BRIDGE_TOKEN_HEADER: secret})
    assert status == 200 and "frivillig" in texts(replies).lower()
    # Even with the secret the bridge speaks only for Telegram users.
    assert http("POST", url, {"sender": "test-someone", "message": "hej"}, headers={BRIDGE_TOKEN_HEADER: secret})[0] == 403


async def test_a_web_session_is_issued_by_the_server_and_cannot_be_forged(bot: Stack) -> None:
    token, heard = await socket_says(bot, None, "hej")
    session, _, signature = token.partition(".")
    assert re.fullmatch("[0-9a-f]{32}", session) and re.fullmatch("[0-9a-f]{64}", signature)
    assert any("frivillig" in h.lower() for h in heard)

    # A reload with the token continues the same conversation; a forged or chosen id gets a new one.
    again, _ = await socket_says(bot, token, "hvad kan du hjælpe med?")
    assert again == token
    forged, _ = await socket_says(bot, f"{session}.{'0' * 64}", "hej")
    chosen, _ = await socket_says(bot, uuid.uuid4().hex, "hej")
    assert forged.split(".")[0] != session and chosen.split(".")[0] not in (session,)

    # REST cannot name a web conversation either.
    status, _ = bot.post({"sender": f"{WEB_SENDER_PREFIX}{session}", "message": "hvad har I gemt om mig?"})
    assert status == 403


async def test_socketio_input_gets_the_rest_channels_checks(bot: Stack) -> None:
    _, heard = await socket_says(bot, None, "x" * 5000)
    assert any("lang" in h.lower() for h in heard)
    _, heard = await socket_says(bot, None, "   ")
    assert heard


async def test_only_allowed_sites_may_open_the_chat(bot: Stack) -> None:
    stranger = socketio.AsyncClient(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await stranger.connect(bot.rasa_url, transports=["websocket"], headers={"Origin": "http://fremmed.example"})
    own = socketio.AsyncClient(reconnection=False)
    await own.connect(bot.rasa_url, transports=["websocket"], headers={"Origin": bot.web_url})
    await own.disconnect()
