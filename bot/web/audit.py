"""The audit log page: who viewed, exported, changed or deleted what. Admins only."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue

from bot.web.auth import admin_required
from bot.web.state import store

bp = Blueprint("audit", __name__, url_prefix="/dashboard")

SHOWN = 200


@bp.get("/audit")
@admin_required
def index() -> ResponseReturnValue:
    return render_template("audit.html", entries=store().audit.entries(limit=SHOWN), shown=SHOWN)
