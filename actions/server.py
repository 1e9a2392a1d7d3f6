"""The action server (rasa-sdk) as this project runs it: on loopback, answering only Rasa.

The action server can show, erase and store a citizen's data, so a stranger must not reach it:
it listens on ACTION_HOST (127.0.0.1 unless Rasa runs on another machine of a private network),
and every call must carry the secret Rasa sends as ``?token=`` (endpoints.yml), derived from
SECRET_KEY. A call without it gets 401 and runs nothing. Errors are logged by type only and
never echo the request, which holds the conversation.
"""

from __future__ import annotations

import hmac
import logging

from rasa_sdk import utils
from rasa_sdk.endpoint import create_app
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.conventions import ACTION_SERVER_PURPOSE
from bot.settings import Settings, settings

logger = logging.getLogger(__name__)
OPEN_PATHS = ("/health",)  # a load balancer's health check needs no secret and reveals nothing


def build(config: Settings | None = None) -> Sanic:
    config = config or settings()
    token = config.derived_secret(ACTION_SERVER_PURPOSE)
    app = create_app("actions", cors_origins="")

    @app.middleware("request")
    async def only_rasa(request: Request) -> HTTPResponse | None:
        if request.path in OPEN_PATHS:
            return None
        given = request.args.get("token") or ""
        if not hmac.compare_digest(given.encode("utf-8", "surrogateescape"), token.encode()):
            return response.json({"error": "unauthorized"}, status=401)
        return None

    @app.exception(Exception)
    async def failed(_request: Request, exception: Exception) -> HTTPResponse:
        logger.error("Action failed: %s", type(exception).__name__)
        return response.json({"error": "internal_error"}, status=500)

    return app


def run(port: int | None = None, config: Settings | None = None) -> None:
    config = config or settings()
    utils.update_sanic_log_level()
    app = build(config)
    host, port = config.action_host, port or config.action_port
    logger.info("Action server on http://%s:%s", host, port)
    app.run(host, port, workers=1, access_log=False)
