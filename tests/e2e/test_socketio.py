"""The widget's channel: Rasa's socket.io with session persistence and a real socket.io client."""

from __future__ import annotations

import asyncio
import re
import uuid

import socketio

from stack import Stack


async def converse(bot: Stack, session_id: str, message: str) -> list[dict]:
    client = socketio.AsyncClient(reconnection=False)
    answers: list[dict] = []
    confirmed = asyncio.Event()
    got_answer = asyncio.Event()

    @client.on("session_confirm")
    async def on_confirm(data: object) -> None:
        confirmed.set()

    @client.on("bot_uttered")
    async def on_bot(data: dict) -> None:
        answers.append(data)
        got_answer.set()

    await client.connect(bot.rasa_url, transports=["websocket"], socketio_path="/socket.io")
    try:
        await client.emit("session_request", {"session_id": session_id})
        await asyncio.wait_for(confirmed.wait(), 20)
        await client.emit("user_uttered", {"message": message, "session_id": session_id})
        await asyncio.wait_for(got_answer.wait(), 30)
        await asyncio.sleep(0.5)  # later messages of the same answer
    finally:
        await client.disconnect()
    return answers


async def test_socketio_client_gets_answers_and_keeps_the_session(bot: Stack) -> None:
    session_id = uuid.uuid4().hex
    first = await converse(bot, session_id, "jeg vil gerne melde mig som frivillig")
    assert any(re.search("hvad hedder du", a.get("text", ""), re.I) for a in first)
    # A new connection with the same session id continues the same conversation (the form asks for the e-mail next).
    second = await converse(bot, session_id, "Karen Blixen")
    assert any(re.search("e-mail", a.get("text", ""), re.I) for a in second)
