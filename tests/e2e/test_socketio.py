"""The widget's channel: socket.io with server-issued sessions, and a real socket.io client."""

from __future__ import annotations

import asyncio
import re

import socketio

from stack import Stack


async def converse(bot: Stack, session_id: str | None, message: str) -> tuple[str, list[dict]]:
    """One connection: ask for the session (None for a new one), say `message`; the session the server confirmed and the answers."""
    client = socketio.AsyncClient(reconnection=False)
    answers: list[dict] = []
    confirmed: list[str] = []
    got_answer = asyncio.Event()

    @client.on("session_confirm")
    async def on_confirm(data: str) -> None:
        confirmed.append(data)

    @client.on("bot_uttered")
    async def on_bot(data: dict) -> None:
        answers.append(data)
        got_answer.set()

    await client.connect(bot.rasa_url, transports=["websocket"], socketio_path="/socket.io")
    try:
        await client.emit("session_request", {"session_id": session_id})
        for _ in range(40):
            if confirmed:
                break
            await asyncio.sleep(0.5)
        await client.emit("user_uttered", {"message": message, "session_id": confirmed[0]})
        await asyncio.wait_for(got_answer.wait(), 30)
        await asyncio.sleep(0.5)  # later messages of the same answer
    finally:
        await client.disconnect()
    return confirmed[0], answers


async def test_socketio_client_gets_answers_and_keeps_the_session(bot: Stack) -> None:
    session, first = await converse(bot, None, "jeg vil gerne melde mig som frivillig")
    assert any(re.search("hvad hedder du", a.get("text", ""), re.I) for a in first)
    # A new connection with the session the server issued continues the same conversation (the form asks for the e-mail next).
    again, second = await converse(bot, session, "Karen Blixen")
    assert again == session
    assert any(re.search("e-mail", a.get("text", ""), re.I) for a in second)
