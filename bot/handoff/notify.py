"""E-mail to the coordinator for every new lead and handoff case: SMTP when configured, else the outbox folder."""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any, Iterable

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from bot.handoff.routing import routing
from bot.knowledge import kb
from bot.settings import Settings, settings
from bot.store.schema import HANDOFF

log = logging.getLogger(__name__)
SMTPS_PORT = 465
_templates = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), undefined=StrictUndefined, autoescape=False)


def compose(lead: dict[str, Any], config: Settings) -> EmailMessage:
    knowledge = kb()
    coordinator = routing().for_region(lead["region"])
    body = _templates.get_template("notification.txt").render(
        lead=lead,
        handoff=lead["kind"] == HANDOFF,
        coordinator=coordinator.name if coordinator else "",
        region=knowledge.region_name(lead["region"]) if lead["region"] else "-",
        link=f"{config.web_base_url}/dashboard/leads/{lead['reference']}",
    )
    subject, _, text = body.partition("\n")
    message = EmailMessage()
    message["Subject"] = subject.strip()
    message["From"] = config.mail_from
    message["To"] = coordinator.email if coordinator else config.mail_from
    message["Message-ID"] = make_msgid(domain="frivilligbotten")
    message["X-Lead-Reference"] = lead["reference"]
    message.set_content(text.lstrip("\n"))
    return message


def write_outbox(message: EmailMessage, outbox: Path) -> Path:
    outbox.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    path = outbox / f"{stamp}-{message['X-Lead-Reference']}.eml"
    path.write_bytes(bytes(message))
    return path


def outbox_files(outbox: Path) -> list[Path]:
    """The notifications waiting in the outbox (retention deletes them after OUTBOX_RETENTION_DAYS)."""
    return sorted(outbox.glob("*.eml")) if outbox.exists() else []


def withdraw(references: Iterable[str], config: Settings | None = None) -> int:
    """Delete the unsent notifications about these leads (an erased lead leaves no mail behind); returns how many."""
    config = config or settings()
    endings = tuple(f"-{reference}.eml" for reference in references)
    removed = [path for path in outbox_files(config.outbox_dir) if endings and path.name.endswith(endings)]
    for path in removed:
        path.unlink(missing_ok=True)
    return len(removed)


def send(lead: dict[str, Any], config: Settings | None = None) -> str:
    """Send the notification; returns where it went. A failing mail server never loses it: it lands in the outbox."""
    config = config or settings()
    message = compose(lead, config)
    if config.smtp_host:
        try:
            deliver(message, config)
            return f"smtp:{message['To']}"
        except InsecureMailServer as exc:
            log.error("Refusing to send mail: %s Keeping the notification in the outbox.", exc)
        except (OSError, smtplib.SMTPException) as exc:
            log.warning("SMTP failed (%s); keeping the notification in the outbox", type(exc).__name__)
    return str(write_outbox(message, config.outbox_dir))


class InsecureMailServer(smtplib.SMTPException):
    """The server offers no TLS, and a password or the mail would go in clear text."""


def deliver(message: EmailMessage, config: Settings) -> None:
    """SMTPS on port 465; elsewhere STARTTLS, which is required whenever a login is configured."""
    context = ssl.create_default_context()
    if config.smtp_port == SMTPS_PORT:
        with smtplib.SMTP_SSL(config.smtp_host, config.smtp_port, timeout=10, context=context) as smtp:
            if config.smtp_user:
                smtp.login(config.smtp_user, config.smtp_password)
            smtp.send_message(message)
        return
    with smtplib.SMTP(config.smtp_host, config.smtp_port, timeout=10) as smtp:
        smtp.ehlo()
        tls_required = bool(config.smtp_user)
        if config.smtp_starttls or tls_required:
            if smtp.has_extn("starttls"):
                smtp.starttls(context=context)
                smtp.ehlo()
            elif tls_required:
                raise InsecureMailServer(f"{config.smtp_host}:{config.smtp_port} offers no STARTTLS, and SMTP_USER is set.")
        if config.smtp_user:
            smtp.login(config.smtp_user, config.smtp_password)
        smtp.send_message(message)
