"""Which coordinator gets a region's leads, and whether they are at work right now."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

from bot.settings import settings

_DAYS = {"man": 0, "tir": 1, "ons": 2, "tor": 3, "fre": 4, "lør": 5, "loer": 5, "søn": 6, "soen": 6}
_HOURS = re.compile(r"^\s*(\w+)(?:-(\w+))?\s+(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})\s*$")


@dataclass(frozen=True)
class Hours:
    days: frozenset[int]
    start: dt.time
    end: dt.time

    @classmethod
    def parse(cls, text: str) -> Hours:
        match = _HOURS.match(text.lower())
        if not match:
            raise ValueError(f"working hours must look like 'man-fre 09:00-15:00', not {text!r}")
        first, last = _DAYS[match.group(1)], _DAYS[match.group(2) or match.group(1)]
        days = frozenset(range(first, last + 1)) if first <= last else frozenset([*range(first, 7), *range(0, last + 1)])
        end_hour, end_minute = int(match.group(5)), int(match.group(6))
        end = dt.time.max if (end_hour, end_minute) == (24, 0) else dt.time(end_hour, end_minute)  # "00:00-24:00": all day
        return cls(days, dt.time(int(match.group(3)), int(match.group(4))), end)

    def is_open(self, at: dt.datetime) -> bool:
        return at.weekday() in self.days and self.start <= at.time() < self.end

    def next_opening(self, at: dt.datetime) -> dt.datetime:
        for offset in range(0, 8):
            day = (at + dt.timedelta(days=offset)).date()
            opening = dt.datetime.combine(day, self.start, tzinfo=at.tzinfo)
            if day.weekday() in self.days and opening > at:
                return opening
        raise ValueError("no working days configured")


@dataclass(frozen=True)
class Coordinator:
    name: str
    email: str
    phone: str
    regions: tuple[str, ...]
    hours: Hours


@dataclass(frozen=True)
class Routing:
    timezone: ZoneInfo
    coordinators: tuple[Coordinator, ...]

    def for_region(self, region: str) -> Coordinator | None:
        return next((c for c in self.coordinators if region in c.regions), None)

    def now(self) -> dt.datetime:
        return dt.datetime.now(self.timezone)


def load(path: Path) -> Routing:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    coordinators = tuple(
        Coordinator(c["name"], c["email"], str(c.get("phone") or ""), tuple(c["regions"]), Hours.parse(c["hours"])) for c in data["coordinators"]
    )
    return Routing(ZoneInfo(data.get("timezone", "Europe/Copenhagen")), coordinators)


@cache
def routing() -> Routing:
    return load(settings().coordinators_file)
