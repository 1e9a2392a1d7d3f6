"""The lead list's filter, read from the query string; the list and the CSV export share it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Mapping

from bot.knowledge import kb
from bot.store.casework import LeadFilter
from bot.store.schema import KINDS, STATUSES

FIELDS = ("region", "status", "interest", "kind", "from", "to", "q")


@dataclass
class ParsedFilter:
    """The filter plus what the form shows back: the raw values and which ones were not understood."""

    filter: LeadFilter
    values: dict[str, str]
    invalid: list[str] = field(default_factory=list)

    def args(self) -> dict[str, str]:
        """Query-string arguments that reproduce this filter (for page links and the export link)."""
        return {k: v for k, v in self.values.items() if v and k not in self.invalid}


def _date(raw: str) -> dt.date | None:
    return dt.date.fromisoformat(raw) if raw else None


def parse(args: Mapping[str, str]) -> ParsedFilter:
    values = {name: (args.get(name) or "").strip()[:200] for name in FIELDS}
    invalid: list[str] = []
    choices = {"region": tuple(kb().regions), "status": STATUSES, "interest": tuple(i.code for i in kb().interests), "kind": KINDS}
    for name, allowed in choices.items():
        if values[name] and values[name] not in allowed:
            invalid.append(name)
    dates: dict[str, dt.date | None] = {}
    for name in ("from", "to"):
        try:
            dates[name] = _date(values[name])
        except ValueError:
            dates[name] = None
            invalid.append(name)
    flt = LeadFilter(
        region="" if "region" in invalid else values["region"],
        status="" if "status" in invalid else values["status"],
        interest="" if "interest" in invalid else values["interest"],
        kind="" if "kind" in invalid else values["kind"],
        date_from=dates["from"],
        date_to=dates["to"],
        text=values["q"],
    )
    return ParsedFilter(filter=flt, values=values, invalid=invalid)
