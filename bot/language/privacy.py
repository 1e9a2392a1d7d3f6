"""Personal data that must never be stored: CPR numbers."""

from __future__ import annotations

import re
from typing import Any

# ddmmyy-xxxx or ddmmyyxxxx with a plausible day and month; not part of a longer number.
CPR = re.compile(r"(?<![\d+])(?:0[1-9]|[12]\d|3[01])(?:0[1-9]|1[0-2])\d{2}[ -]?\d{4}(?!\d)")
MASK = "xxxxxx-xxxx"


def contains_cpr(text: str | None) -> bool:
    return bool(text) and CPR.search(text) is not None  # type: ignore[arg-type]


def scrub(value: Any) -> Any:
    """The value with every CPR number masked, recursively through dicts and lists."""
    if isinstance(value, str):
        return CPR.sub(MASK, value)
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value
