"""Logging in and out of the dashboard, and the guards every dashboard view sits behind.

The session cookie only holds the account id; the account (role, regions) is read
from the lead store on every request, so a removed account loses access at once.
"""

from __future__ import annotations

import functools
import math
import time
from typing import Callable, TypeVar, cast

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from bot.store.accounts import LoginThrottled, viewer_of
from bot.store.casework import Viewer
from bot.store.schema import ADMIN, Coordinator, utcnow
from bot.web.state import store

bp = Blueprint("auth", __name__, url_prefix="/dashboard")

F = TypeVar("F", bound=Callable[..., ResponseReturnValue])


def load_coordinator() -> None:
    """Before each request: the logged-in account, or None once the account is gone or 8 hours have passed since login."""
    g.coordinator = None
    if request.endpoint == "static":
        return
    coordinator_id, since = session.get("uid"), session.get("since")
    if not isinstance(coordinator_id, int):
        return
    fresh = isinstance(since, int) and 0 <= time.time() - since <= current_app.permanent_session_lifetime.total_seconds()
    g.coordinator = store().accounts.get(coordinator_id) if fresh else None
    if g.coordinator is None:
        session.clear()


def current_or_none() -> Coordinator | None:
    return g.get("coordinator")


def current() -> Coordinator:
    return cast(Coordinator, g.coordinator)


def viewer() -> Viewer:
    return viewer_of(current())


def login_required(view: F) -> F:
    """Pages send anonymous visitors to the login form; actions answer 401 and do nothing."""

    @functools.wraps(view)
    def wrapped(*args: object, **kwargs: object) -> ResponseReturnValue:
        if g.get("coordinator") is None:
            if request.method in ("GET", "HEAD"):
                return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
            abort(401)
        return view(*args, **kwargs)

    return cast(F, wrapped)


def admin_required(view: F) -> F:
    @functools.wraps(view)
    def wrapped(*args: object, **kwargs: object) -> ResponseReturnValue:
        if current().role != ADMIN:
            abort(403)
        return view(*args, **kwargs)

    return login_required(cast(F, wrapped))


def _safe_next(target: str | None) -> str:
    """Only dashboard paths on this site, so the login form cannot be used to send people elsewhere."""
    if target and target.startswith("/dashboard") and "//" not in target and "\\" not in target:
        return target
    return url_for("overview.index")


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    if request.method == "GET":
        if g.get("coordinator") is not None:
            return redirect(url_for("overview.index"))
        return render_template("login.html", next=request.args.get("next", ""), error=None, email="")
    email = request.form.get("email", "")
    next_url = request.form.get("next", "")
    try:
        coordinator = store().accounts.authenticate(email, request.form.get("password", ""), request.remote_addr or "unknown")
    except LoginThrottled as locked:
        minutes = max(1, math.ceil((locked.until - utcnow()).total_seconds() / 60))
        return render_template("login.html", next=next_url, error="throttled", email=email, minutes=minutes), 429
    if coordinator is None:
        return render_template("login.html", next=next_url, error="invalid", email=email), 401
    session.clear()
    session.permanent = True
    session["uid"] = coordinator.id
    session["since"] = int(time.time())
    return redirect(_safe_next(next_url), code=303)


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> ResponseReturnValue:
    store().audit.record(current().email, "logout")
    session.clear()
    flash("logged_out", "ok")
    return redirect(url_for("auth.login"), code=303)
