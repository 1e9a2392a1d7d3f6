"""The one configuration object: every setting comes from the environment, with an embedded default.

Nothing else in the project reads environment variables, so the README's table of
variables and this module are the whole story of how the bot is configured.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass, field, fields
from functools import cache
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Mapping

from bot.conventions import ACTION_SERVER_PURPOSE, PRIVACY_PATH

ROOT = Path(__file__).resolve().parent.parent


def _path(value: str) -> Path:
    path = Path(value)
    return path if path.is_absolute() else ROOT / path


def _sqlite(path: Path) -> str:
    return f"sqlite:///{path}"


def _networks(variable: str, listing: str) -> list[IPv4Network | IPv6Network]:
    """A comma-separated list of addresses and networks; a wrong entry names its variable."""
    try:
        return [ip_network(entry.strip(), strict=False) for entry in listing.split(",") if entry.strip()]
    except ValueError as exc:
        raise ValueError(f"{variable}: {exc}") from exc


@dataclass(frozen=True)
class Settings:
    """Runtime configuration; build it with `Settings.from_env()`."""

    var_dir: Path = field(default=ROOT / "var", metadata={"env": "VAR_DIR", "doc": "Folder for embedded databases, the outbox and caches."})
    rasa_port: int = field(default=5005, metadata={"env": "RASA_PORT", "doc": "Rasa server (REST and socket.io)."})
    action_port: int = field(default=5055, metadata={"env": "ACTION_PORT", "doc": "Action server."})
    web_port: int = field(default=8000, metadata={"env": "WEB_PORT", "doc": "Coordinator dashboard, demo page and chat widget."})
    rasa_url: str = field(
        default="",
        metadata={
            "env": "RASA_URL",
            "doc": "Public base URL of the Rasa server as the widget and Telegram bridge reach it; default http://localhost:RASA_PORT.",
        },
    )
    action_host: str = field(
        default="127.0.0.1",
        metadata={"env": "ACTION_HOST", "doc": "Address the action server listens on: loopback unless Rasa runs on another machine of a private network."},
    )
    action_url: str = field(
        default="", metadata={"env": "ACTION_URL", "doc": "URL the Rasa server calls for custom actions; default http://localhost:ACTION_PORT/webhook."}
    )
    leads_db_url: str = field(default="", metadata={"env": "LEADS_DB_URL", "doc": "SQLAlchemy URL of the lead store; default SQLite in VAR_DIR."})
    tracker_db_url: str = field(default="", metadata={"env": "TRACKER_DB_URL", "doc": "SQLAlchemy URL of Rasa's tracker store; default SQLite in VAR_DIR."})
    redis_url: str = field(
        default="", metadata={"env": "REDIS_URL", "doc": "redis://host:port/db for Rasa's lock store; empty means in-memory (one Rasa instance)."}
    )
    smtp_host: str = field(default="", metadata={"env": "SMTP_HOST", "doc": "Mail server for coordinator notifications; empty means the outbox folder."})
    smtp_port: int = field(default=587, metadata={"env": "SMTP_PORT", "doc": "Mail server port."})
    smtp_user: str = field(default="", metadata={"env": "SMTP_USER", "doc": "Mail server login (optional)."})
    smtp_password: str = field(default="", metadata={"env": "SMTP_PASSWORD", "doc": "Mail server password (optional)."})
    smtp_starttls: bool = field(default=True, metadata={"env": "SMTP_STARTTLS", "doc": "Use STARTTLS when the server offers it."})
    mail_from: str = field(default="frivilligbotten@localhost", metadata={"env": "MAIL_FROM", "doc": "Sender address of notifications."})
    coordinators_file: Path = field(
        default=ROOT / "bot" / "handoff" / "coordinators.yml",
        metadata={"env": "COORDINATORS_FILE", "doc": "Routing: each region's coordinators, contact details and working hours."},
    )
    secret_key: str = field(default="", metadata={"env": "SECRET_KEY", "doc": "Signs dashboard sessions; default a random key kept in VAR_DIR."})
    cookie_secure: bool = field(
        default=True, metadata={"env": "COOKIE_SECURE", "doc": "Send the dashboard session cookie over HTTPS only (browsers treat localhost as secure)."}
    )
    dashboard_idle_minutes: int = field(
        default=30,
        metadata={"env": "DASHBOARD_IDLE_MINUTES", "doc": "A dashboard session ends after this many minutes without a request (and 8 hours after login)."},
    )
    trusted_proxies_list: str = field(
        default="",
        metadata={
            "env": "TRUSTED_PROXIES",
            "doc": "Comma-separated addresses or networks of reverse proxies whose X-Forwarded-For the dashboard and chat channels trust; empty: none.",
        },
    )
    retention_days: int = field(default=180, metadata={"env": "RETENTION_DAYS", "doc": "Closed leads older than this are purged."})
    conversation_retention_days: int = field(
        default=7, metadata={"env": "CONVERSATION_RETENTION_DAYS", "doc": "Conversations without a consented lead are deleted after this many idle days."}
    )
    open_lead_max_days: int = field(
        default=365,
        metadata={"env": "OPEN_LEAD_MAX_DAYS", "doc": "Open leads nobody has touched (status, assignment, note) for this many days are purged."},
    )
    audit_retention_days: int = field(default=730, metadata={"env": "AUDIT_RETENTION_DAYS", "doc": "Audit log entries older than this are deleted."})
    outbox_retention_days: int = field(
        default=30, metadata={"env": "OUTBOX_RETENTION_DAYS", "doc": "Notifications left in the outbox folder are deleted after this many days."}
    )
    spool_retention_days: int = field(
        default=30, metadata={"env": "SPOOL_RETENTION_DAYS", "doc": "Leads still waiting in the spool (unreadable ones too) are deleted after this many days."}
    )
    public_url: str = field(
        default="", metadata={"env": "PUBLIC_URL", "doc": "Public base URL of the web server (privacy notice links); default http://localhost:WEB_PORT."}
    )
    widget_origins_list: str = field(
        default="",
        metadata={
            "env": "WIDGET_ORIGINS",
            "doc": "Comma-separated origins of other sites whose pages may open the chat (socket.io); the web server's own always may.",
        },
    )
    rate_limit_conversation: int = field(
        default=20,
        metadata={
            "env": "RATE_LIMIT_CONVERSATION",
            "doc": "Messages a conversation may send per minute (REST, socket.io, each Telegram chat); more get a short refusal, not the dialogue. 0: none.",
        },
    )
    rate_limit_address: int = field(
        default=60,
        metadata={
            "env": "RATE_LIMIT_ADDRESS",
            "doc": "Messages per minute from one client address (IPv6: its /64) over REST and socket.io together; behind a proxy set TRUSTED_PROXIES. 0: none.",
        },
    )
    rate_limit_exempt_list: str = field(
        default="127.0.0.1,::1",
        metadata={
            "env": "RATE_LIMIT_EXEMPT",
            "doc": "Comma-separated client addresses or networks the per-address limit leaves out: this machine's own tools (evaluation, benchmark).",
        },
    )
    live_chat: bool = field(
        default=True,
        metadata={
            "env": "LIVE_CHAT",
            "doc": "Offer a live chat with a coordinator when one of the region's has the live page open within working hours; false: case and e-mail only.",
        },
    )
    live_wait_seconds: int = field(
        default=180,
        metadata={
            "env": "LIVE_WAIT_SECONDS",
            "doc": "A live chat nobody takes within this many seconds becomes a case and an e-mail, and the citizen is told.",
        },
    )
    live_lease_seconds: int = field(
        default=60,
        metadata={
            "env": "LIVE_LEASE_SECONDS",
            "doc": "A live chat whose coordinator's page has been gone (closed tab, lost network) this many seconds goes back to the bot; the case stays open.",
        },
    )
    telegram_token: str = field(default="", metadata={"env": "TELEGRAM_BOT_TOKEN", "doc": "Starts the Telegram bridge when set."})
    telegram_webhook_url: str = field(
        default="", metadata={"env": "TELEGRAM_WEBHOOK_URL", "doc": "Public HTTPS URL for webhook mode; empty means long polling."}
    )
    telegram_secret: str = field(
        default="",
        metadata={
            "env": "TELEGRAM_SECRET_TOKEN",
            "doc": "Secret token Telegram sends with webhook calls: at least 24 random characters of A-Z, a-z, 0-9, _ and -; default derived from SECRET_KEY.",
        },
    )
    telegram_port: int = field(default=8443, metadata={"env": "TELEGRAM_PORT", "doc": "Local port of the webhook listener."})
    telegram_api_url: str = field(
        default="https://api.telegram.org/bot", metadata={"env": "TELEGRAM_API_URL", "doc": "Bot API base URL (tests point it at a local fake)."}
    )
    model_dir: Path = field(default=ROOT / "models", metadata={"env": "MODEL_DIR", "doc": "Where trained models are cached by the hash of their inputs."})

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = env.get(f.metadata["env"])
            if raw is None or raw == "":
                continue
            if f.type in ("int",):
                values[f.name] = int(raw)
            elif f.type in ("bool",):
                values[f.name] = raw.strip().lower() in ("1", "true", "yes", "ja", "on")
            elif f.type in ("Path",):
                values[f.name] = _path(raw)
            else:
                values[f.name] = raw
        return cls(**values)  # type: ignore[arg-type]

    # Derived values: defaults that depend on other settings.
    @property
    def leads_url(self) -> str:
        return self.leads_db_url or _sqlite(self.var_dir / "leads.db")

    @property
    def tracker_url(self) -> str:
        return self.tracker_db_url or _sqlite(self.var_dir / "tracker.db")

    @property
    def rasa_base_url(self) -> str:
        return (self.rasa_url or f"http://localhost:{self.rasa_port}").rstrip("/")

    @property
    def action_webhook_url(self) -> str:
        return self.action_url or f"http://localhost:{self.action_port}/webhook"

    @property
    def web_base_url(self) -> str:
        return (self.public_url or f"http://localhost:{self.web_port}").rstrip("/")

    def widget_origins(self) -> list[str]:
        """The sites whose pages may talk to the bot over socket.io: the web server's own and WIDGET_ORIGINS, not any site."""
        own = self.web_base_url
        allowed = {own, own.replace("//localhost", "//127.0.0.1"), own.replace("//127.0.0.1", "//localhost")}
        allowed |= {o.strip().rstrip("/") for o in self.widget_origins_list.split(",") if o.strip()}
        return sorted(allowed)

    def trusted_proxies(self) -> list[IPv4Network | IPv6Network]:
        """TRUSTED_PROXIES as networks (a single address is a network of one); a wrong entry stops the start."""
        return _networks("TRUSTED_PROXIES", self.trusted_proxies_list)

    def rate_limit_exempt(self) -> list[IPv4Network | IPv6Network]:
        """RATE_LIMIT_EXEMPT as networks, like TRUSTED_PROXIES."""
        return _networks("RATE_LIMIT_EXEMPT", self.rate_limit_exempt_list)

    @property
    def privacy_url(self) -> str:
        return f"{self.web_base_url}{PRIVACY_PATH}"

    @property
    def outbox_dir(self) -> Path:
        return self.var_dir / "outbox"

    @property
    def spool_dir(self) -> Path:
        """Leads that could not be written wait here until the database is back."""
        return self.var_dir / "spool"

    @property
    def spacy_fallback_dir(self) -> Path:
        """A build artefact like the models, so it lives beside them and not in the runtime data."""
        return self.model_dir / "spacy" / "da_blank_lookup"

    def session_secret(self) -> str:
        """SECRET_KEY, or a random key kept in VAR_DIR: created owner-only from the start, never readable by others."""
        if self.secret_key:
            return self.secret_key
        path = self.var_dir / "secret_key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass  # another process made it first
            else:
                with os.fdopen(fd, "w") as out:
                    out.write(secrets.token_hex(32))
        return path.read_text().strip()

    def derived_secret(self, purpose: str) -> str:
        """A key of its own for each use of the one secret: the Telegram bridge's, the action server's, web sessions'.
        Every process and every instance that shares SECRET_KEY (or VAR_DIR) derives the same."""
        return hmac.new(self.session_secret().encode(), purpose.encode(), hashlib.sha256).hexdigest()

    def rasa_env(self) -> dict[str, str]:
        """The variables endpoints.yml expands, so Rasa reads the same settings as everything else."""
        lock_type, redis_host, redis_port, redis_db, redis_password = "in_memory", "localhost", "6379", "1", ""
        if self.redis_url:
            from urllib.parse import urlsplit

            parts = urlsplit(self.redis_url)
            lock_type = "redis"
            redis_host = parts.hostname or "localhost"
            redis_port = str(parts.port or 6379)
            redis_db = parts.path.lstrip("/") or "1"
            redis_password = parts.password or ""
        return {
            "ACTION_ENDPOINT_URL": self.action_webhook_url,
            "ACTION_ENDPOINT_TOKEN": self.derived_secret(ACTION_SERVER_PURPOSE),
            "TRACKER_STORE_URL": self.tracker_url,
            "LOCK_STORE_TYPE": lock_type,
            "LOCK_REDIS_HOST": redis_host,
            "LOCK_REDIS_PORT": redis_port,
            "LOCK_REDIS_DB": redis_db,
            "LOCK_REDIS_PASSWORD": redis_password,
        }

    @staticmethod
    def documented() -> list[tuple[str, str, str]]:
        """(variable, default, meaning) for the README and `python -m bot config`."""
        rows = []
        for f in fields(Settings):
            default = f.default
            shown = str(default.relative_to(ROOT)) if isinstance(default, Path) and default.is_relative_to(ROOT) else str(default)
            rows.append((f.metadata["env"], shown, f.metadata["doc"]))
        return rows


@cache
def settings() -> Settings:
    return Settings.from_env()
