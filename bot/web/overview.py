"""The overview page: new leads per week and per region, the status funnel and what the bot did not understand."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Iterable

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import SQLAlchemyError

from bot.conventions import today
from bot.knowledge import kb
from bot.store import conversations
from bot.store.casework import Viewer
from bot.store.schema import STATUSES
from bot.web.auth import login_required, viewer
from bot.web.formatting import local
from bot.web.state import config, store

log = logging.getLogger(__name__)
bp = Blueprint("overview", __name__, url_prefix="/dashboard")

WEEKS = 12


@dataclass(frozen=True)
class Bar:
    """One bar of a chart: the value and its length relative to the largest bar."""

    key: object
    count: int
    percent: int


def bars(items: Iterable[tuple[object, int]]) -> list[Bar]:
    pairs = list(items)
    top = max((count for _, count in pairs), default=0)
    return [Bar(key, count, round(100 * count / top) if top else 0) for key, count in pairs]


def weekly(created: Iterable[dt.datetime], today: dt.date, weeks: int = WEEKS) -> list[Bar]:
    """Leads per week (Monday to Sunday, Danish time) for the last `weeks` weeks, oldest first."""
    this_monday = today - dt.timedelta(days=today.weekday())
    mondays = [this_monday - dt.timedelta(weeks=n) for n in range(weeks - 1, -1, -1)]
    counts = dict.fromkeys(mondays, 0)
    for value in created:
        day = local(value).date()
        monday = day - dt.timedelta(days=day.weekday())
        if monday in counts:
            counts[monday] += 1
    return bars(counts.items())


def _regions(me: Viewer) -> list[str]:
    return list(kb().regions) if me.is_admin else list(me.regions)


def unanswered_questions(url: str, me: Viewer) -> list[tuple[str, int]] | None:
    """The questions the bot most often did not understand in the viewer's regions (an admin's: all conversations);
    None when the tracker store is not there or not reachable."""
    if not conversations.tracker_exists(url):
        return None
    try:
        return conversations.unanswered(url, regions=None if me.is_admin else me.regions)
    except SQLAlchemyError as exc:
        log.warning("Tracker store not readable for the overview: %s", exc)
        return None


@bp.get("/")
@login_required
def index() -> ResponseReturnValue:
    me = viewer()
    day = today()
    since = dt.datetime.combine(day - dt.timedelta(weeks=WEEKS, days=day.weekday() + 1), dt.time.min)  # a day's margin for Danish time
    tally = store().cases.tally(me, created_since=since)
    by_region = {code: 0 for code in _regions(me)} | tally.by_region
    by_status = dict.fromkeys(STATUSES, 0) | tally.by_status
    questions = unanswered_questions(config().tracker_url, me)
    return render_template(
        "overview.html",
        total=tally.total,
        weeks=weekly(tally.created, day),
        regions=bars(by_region.items()),
        funnel=bars(by_status.items()),
        questions=None if questions is None else bars(questions),
    )
