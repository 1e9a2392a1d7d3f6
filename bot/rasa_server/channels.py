"""Rasa's REST channel with the input checks a public endpoint needs.

Malformed requests get a 4xx; an empty or overlong message gets a polite Danish
reply from domain.yml without reaching the dialogue. Everything else goes to Rasa
unchanged, at the usual path /webhooks/rest/webhook.
"""

from __future__ import annotations

import json
from typing import Any, Awaitable, Callable

from rasa.core.channels import rest
from rasa.core.channels.channel import UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.conventions import MAX_MESSAGE_CHARS

MAX_SENDER_CHARS = 200


def _error(status: int, code: str, detail: str) -> HTTPResponse:
    return response.json({"error": code, "detail": detail}, status=status)


def _reply(request: Request, response_name: str) -> HTTPResponse:
    texts = request.app.ctx.agent.domain.responses[response_name]
    return response.json([{"recipient_id": None, "text": texts[0]["text"]}])


def check(request: Request) -> HTTPResponse | None:
    """None when the request may go on to Rasa, else the answer to give instead."""
    try:
        body: Any = json.loads(request.body or b"")
    except (ValueError, UnicodeDecodeError):
        return _error(400, "invalid_json", "The body must be a JSON object.")
    if not isinstance(body, dict):
        return _error(400, "invalid_body", "The body must be a JSON object with 'sender' and 'message'.")
    sender, message = body.get("sender"), body.get("message")
    if not isinstance(sender, str) or not sender.strip() or len(sender) > MAX_SENDER_CHARS:
        return _error(400, "invalid_sender", f"'sender' must be a non-empty string of at most {MAX_SENDER_CHARS} characters.")
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

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[None]]) -> Blueprint:
        blueprint = super().blueprint(on_new_message)

        @blueprint.middleware("request")
        async def validate(request: Request) -> HTTPResponse | None:
            if request.method == "POST" and request.path.rstrip("/").endswith("/webhooks/rest/webhook"):
                return check(request)
            return None

        return blueprint
