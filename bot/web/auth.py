"""Logging in and out of the dashboard, changing one's password, and the guards every dashboard view sits behind.

The session cookie only holds a random token; the session itself lives in the lead store
(bot.store.accounts), so logout, a password change or a disabled account ends it at once in
every web process, and it ends after DASHBOARD_IDLE_MINUTES without a request or 8 hours
after login. The account (role, regions) is read on every request, so a change or a removed
account takes effect at once.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from typing import Callable, TypeVar, cast

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from bot.proxies import client_address
from bot.store.accounts import MIN_PASSWORD_LENGTH, LoginThrottled, PasswordRejected, SessionPolicy, viewer_of
from bot.store.casework import Viewer
from bot.store.schema import ADMIN, Coordinator, utcnow
from bot.web.state import config, state, store

bp = Blueprint("auth", __name__, url_prefix="/dashboard")

F = TypeVar("F", bound=Callable[..., ResponseReturnValue])

SESSION_KEY = "sid"
PASSWORD_PAGES = ("auth.password", "auth.logout")  # all an account that must change its password may open


def policy() -> SessionPolicy:
    return SessionPolicy(idle=dt.timedelta(minutes=config().dashboard_idle_minutes), lifetime=current_app.permanent_session_lifetime)


def client() -> str:
    """The address the request comes from, believing X-Forwarded-For only from TRUSTED_PROXIES (bot.proxies)."""
    return client_address(request.remote_addr, request.headers.getlist("X-Forwarded-For"), state().proxies)


def load_coordinator() -> None:
    """Before each request: the account of the browser's session while that session lives on the server, else None."""
    g.coordinator = None
    if request.endpoint == "static":
        return
    token = session.get(SESSION_KEY)
    if not isinstance(token, str):
        return
    g.coordinator = store().accounts.session_holder(token, policy())
    if g.coordinator is None:
        session.clear()


def current_or_none() -> Coordinator | None:
    return g.get("coordinator")


def current() -> Coordinator:
    return cast(Coordinator, g.coordinator)


def viewer() -> Viewer:
    return viewer_of(current())


def login_required(view: F) -> F:
    """Pages send anonymous visitors to the login form; actions answer 401 and do nothing. An account that must
    change its password is sent to that form from every page, and its actions are not carried out."""

    @functools.wraps(view)
    def wrapped(*args: object, **kwargs: object) -> ResponseReturnValue:
        if g.get("coordinator") is None:
            if request.method in ("GET", "HEAD"):
                return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
            abort(401)
        if current().must_change_password and request.endpoint not in PASSWORD_PAGES:
            return redirect(url_for("auth.password"), code=303)
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


def _minutes_left(locked: LoginThrottled) -> int:
    return max(1, math.ceil((locked.until - utcnow()).total_seconds() / 60))


def _start_session(coordinator_id: int) -> None:
    """A new server-side session in a new cookie; whatever session the browser (or a copy of its cookie) had is ended."""
    old = session.get(SESSION_KEY)
    if isinstance(old, str):
        store().accounts.close_session(old)
    session.clear()
    session.permanent = True
    session[SESSION_KEY] = store().accounts.open_session(coordinator_id, policy())


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    if request.method == "GET":
        if g.get("coordinator") is not None:
            return redirect(url_for("overview.index"))
        return render_template("login.html", next=request.args.get("next", ""), error=None, email="")
    email = request.form.get("email", "")
    next_url = request.form.get("next", "")
    try:
        coordinator = store().accounts.authenticate(email, request.form.get("password", ""), client())
    except LoginThrottled as locked:
        return render_template("login.html", next=next_url, error="throttled", email=email, minutes=_minutes_left(locked)), 429
    if coordinator is None:
        return render_template("login.html", next=next_url, error="invalid", email=email), 401
    _start_session(coordinator.id)
    return redirect(_safe_next(next_url), code=303)


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> ResponseReturnValue:
    store().accounts.close_session(session[SESSION_KEY])
    store().audit.record(current().email, "logout")
    session.clear()
    flash("logged_out", "ok")
    return redirect(url_for("auth.login"), code=303)


@bp.route("/password", methods=["GET", "POST"])
@login_required
def password() -> ResponseReturnValue:
    """The logged-in account's own password; every other session of the account ends with the change."""
    me = current()

    def form(error: str | None = None, code: int = 200, **values: object) -> ResponseReturnValue:
        return render_template("password.html", error=error, forced=me.must_change_password, min_length=MIN_PASSWORD_LENGTH, **values), code

    if request.method == "GET":
        return form()
    new = request.form.get("new_password", "")
    if new != request.form.get("repeat_password", ""):
        return form("mismatch", 400)
    try:
        store().accounts.change_password(me, request.form.get("current_password", ""), new, client())
    except LoginThrottled as locked:
        return form("throttled", 429, minutes=_minutes_left(locked))
    except PasswordRejected as rejected:
        return form(rejected.reason, 400)
    _start_session(me.id)
    flash("password_changed", "ok")
    return redirect(url_for("overview.index"), code=303)
