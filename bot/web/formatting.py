"""How values look in the dashboard: Danish local time, Danish number style, safe mailto: links."""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

from flask import Flask

from bot.conventions import TIMEZONE
from bot.knowledge import kb
from bot.store.schema import CLOSED, FIELD_NAMES


def local(value: dt.datetime) -> dt.datetime:
    """The lead store keeps naive UTC; coordinators read Danish time."""
    aware = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    return aware.astimezone(TIMEZONE)


def when(value: object) -> str:
    """A stored time (datetime, ISO text or epoch seconds from Rasa) as dd.mm.yyyy hh:mm; empty when absent."""
    if value is None or value == "":
        return ""
    if isinstance(value, (int, float)):
        value = dt.datetime.fromtimestamp(float(value), dt.timezone.utc)
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return str(value)
    if isinstance(value, dt.datetime):
        return local(value).strftime("%d.%m.%Y %H:%M")
    if isinstance(value, dt.date):
        return value.strftime("%d.%m.%Y")
    return str(value)


def iso_local(value: dt.datetime | None) -> str:
    """For <time datetime="...">."""
    return local(value).isoformat(timespec="minutes") if value else ""


def mailto(address: str) -> str:
    """A mailto: link to exactly this address: "?", "&" or "%" in it cannot add a subject, copies or a body."""
    return f"mailto:{quote(address, safe='@')}"


def interest_title(code: str) -> str:
    interest = kb().interest(code)
    return interest.title if interest else code


def install(app: Flask) -> None:
    app.add_template_filter(when)
    app.add_template_filter(iso_local)
    app.add_template_filter(mailto)
    app.add_template_global(kb().region_name, "region_name")
    app.add_template_global(interest_title)
    app.add_template_global(lambda: list(kb().regions.values()), "all_regions")
    app.add_template_global(lambda: kb().interests, "all_interests")
    app.jinja_env.globals.update(lead_fields=FIELD_NAMES, closed_statuses=CLOSED)
