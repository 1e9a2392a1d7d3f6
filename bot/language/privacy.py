"""Personal data that must never be stored: CPR numbers."""

from __future__ import annotations

import re
from typing import Any

# ddmmyy-xxxx or ddmmyyxxxx with a plausible day and month; not part of a longer number.
_SEP = r"[ \-\u2010-\u2015./]?"  # none, a space, a hyphen or dash, a dot or a slash: "010190-1234", "0101-90-1234", "01.01.90/1234"
CPR = re.compile(rf"(?<![\d+])(?:0[1-9]|[12]\d|3[01]){_SEP}(?:0[1-9]|1[0-2]){_SEP}\d{{2}}{_SEP}\d{{4}}(?!\d)")
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
