"""E-mail to the coordinator for every new lead and handoff case: SMTP when configured, else the outbox folder."""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from bot.handoff.routing import routing
from bot.knowledge import kb
from bot.settings import Settings, settings
from bot.store.schema import HANDOFF

log = logging.getLogger(__name__)
_templates = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), undefined=StrictUndefined, autoescape=False)


def compose(lead: dict[str, Any], config: Settings) -> EmailMessage:
    knowledge = kb()
    coordinator = routing().for_region(lead["region"])
    body = _templates.get_template("notification.txt").render(
        lead=lead,
        handoff=lead["kind"] == HANDOFF,
        coordinator=coordinator.name if coordinator else "",
        region=knowledge.region_name(lead["region"]) if lead["region"] else "-",
        interests=", ".join(i.title for code in lead.get("interests") or [] if (i := knowledge.interest(code))),
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


def send(lead: dict[str, Any], config: Settings | None = None) -> str:
    """Send the notification; returns where it went. A failing mail server never loses it: it lands in the outbox."""
    config = config or settings()
    message = compose(lead, config)
    if config.smtp_host:
        try:
            with smtplib.SMTP(config.smtp_host, config.smtp_port, timeout=10) as smtp:
                smtp.ehlo()
                if config.smtp_starttls and smtp.has_extn("starttls"):
                    smtp.starttls(context=ssl.create_default_context())
                    smtp.ehlo()
                if config.smtp_user:
                    smtp.login(config.smtp_user, config.smtp_password)
                smtp.send_message(message)
            return f"smtp:{message['To']}"
        except (OSError, smtplib.SMTPException) as exc:
            log.warning("SMTP failed (%s); keeping the notification in the outbox", exc)
    return str(write_outbox(message, config.outbox_dir))
