"""The web server's Flask app (dashboard, privacy notice, demo page) and `python -m bot web`."""

from __future__ import annotations

import datetime as dt
import logging

import waitress
from flask import Flask, current_app, render_template, request
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from bot.conventions import PRIVACY_PATH
from bot.settings import Settings, settings
from bot.store import retention
from bot.web import audit, auth, export, formatting, leads_views, live, overview, public, review
from bot.web.state import KEY, attach

SESSION_LIFETIME = dt.timedelta(hours=8)
# The dashboard has no scripts, except on the live chat pages (bot.web.live.LIVE_CSP); inline style attributes draw the chart bars.
DASHBOARD_CSP = "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
# With secure cookies the dashboard is served over HTTPS: browsers then never try it over plain HTTP for a year.
HSTS = "max-age=31536000"


def _error_page(code: int, kind: str) -> ResponseReturnValue:
    return render_template("error.html", code=code, kind=kind), code


def _on_http_error(exc: HTTPException) -> ResponseReturnValue:
    code = exc.code or 500
    if code < 400:
        return exc  # routing redirects (a missing trailing slash) are not errors
    return _error_page(code, str(code))


def _on_csrf_error(_exc: CSRFError) -> ResponseReturnValue:
    return _error_page(400, "csrf")


def _security_headers(response: Response) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if request.path.startswith(("/dashboard", PRIVACY_PATH)):
        response.headers.setdefault("Content-Security-Policy", DASHBOARD_CSP)
        response.headers.setdefault("X-Frame-Options", "DENY")
    if request.path.startswith("/dashboard"):
        response.headers["Cache-Control"] = "no-store"
        if current_app.config["SESSION_COOKIE_SECURE"]:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def create_app(config: Settings | None = None) -> Flask:
    """The app on the given configuration (the global one by default), with its own lead store."""
    config = config or settings()
    app = Flask(__name__, static_folder="static", template_folder="templates")
    app.config.update(
        SECRET_KEY=config.session_secret(),
        SESSION_COOKIE_NAME="frivillig_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=config.cookie_secure,
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
        WTF_CSRF_TIME_LIMIT=int(SESSION_LIFETIME.total_seconds()),
        MAX_CONTENT_LENGTH=1024 * 1024,
    )
    attach(app, config).store.db.migrate()
    CSRFProtect(app)
    formatting.install(app)
    app.before_request(auth.load_coordinator)
    app.context_processor(lambda: {"me": auth.current_or_none()})
    for blueprint in (public.bp, auth.bp, overview.bp, leads_views.bp, live.bp, review.bp, export.bp, audit.bp):
        app.register_blueprint(blueprint)
    app.register_error_handler(CSRFError, _on_csrf_error)
    app.register_error_handler(HTTPException, _on_http_error)
    app.after_request(_security_headers)
    return app


def serve() -> int:
    """Serve the app with waitress on WEB_PORT; retention once a day and the live chat sweeper run in the background."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = settings()
    app = create_app(config)
    retention.start_daily(config)
    live.start_sweeper(config, app.extensions[KEY].store)
    print(f"Web server listening on http://0.0.0.0:{config.web_port} (dashboard {config.web_base_url}/dashboard/)", flush=True)
    waitress.serve(app, host="0.0.0.0", port=config.web_port, threads=8, ident="frivilligbotten")
    return 0
