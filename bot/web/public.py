"""The public pages: health check, the demo page with the chat widget and the full privacy notice."""

from __future__ import annotations

from flask import Blueprint, Response, render_template
from flask.typing import ResponseReturnValue

from bot.conventions import PRIVACY_PATH
from bot.knowledge import kb
from bot.web.state import config

bp = Blueprint("public", __name__)
DEMO_CARDS = ("vejviser", "patientstoette", "hospice", "vaagetjeneste")  # the roles the demo page shows, told by the knowledge base


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    return Response("ok", mimetype="text/plain")


@bp.get("/")
def demo() -> ResponseReturnValue:
    cards = [o for o in map(kb().opportunity, DEMO_CARDS) if o is not None]
    return render_template("demo.html", rasa_url=config().rasa_base_url, privacy_url=config().privacy_url, cards=cards)


@bp.get(PRIVACY_PATH)
def privacy() -> ResponseReturnValue:
    page = kb().privacy_page
    days = str(config().retention_days)
    sections = [{"heading": s["heading"], "text": str(s["text"]).replace("{retention_days}", days)} for s in page["sections"]]
    return render_template("privacy.html", title=page["title"], sections=sections, version=kb().consent_version)
