"""A lead as plain data: the export's fields, in JSON (`python -m bot leads export`) and in CSV for Danish Excel."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any, Iterable, Iterator

from bot.store.schema import FIELD_NAMES, LEAD_FIELDS, Lead

EXPORT_FIELDS = ("reference", "kind", "created_at", *FIELD_NAMES, "channel", "conversation_id", "status", "consent_at", "consent_version")


def iso(value: dt.datetime | None) -> str | None:
    return value.replace(microsecond=0).isoformat() + "Z" if value else None


def lead_dict(lead: Lead) -> dict[str, Any]:
    return {
        "reference": lead.reference,
        "kind": lead.kind,
        "created_at": iso(lead.created_at),
        **{f.name: list(getattr(lead, f.name) or []) if f.many else getattr(lead, f.name) for f in LEAD_FIELDS},
        "channel": lead.channel,
        "conversation_id": lead.conversation_id,
        "status": lead.status,
        "consent_at": iso(lead.consent_at),
        "consent_version": lead.consent_version,
    }


def _cell(value: Any) -> str:
    text = ", ".join(value) if isinstance(value, list) else ("" if value is None else str(value))
    # A citizen's text starting like a formula must not run as one in Excel.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_chunks(rows: Iterable[dict[str, Any]], rows_per_chunk: int = 500) -> Iterator[str]:
    """CSV that Danish Excel opens correctly (UTF-8 with BOM, semicolons, no formulas), a few hundred rows at a time."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS, delimiter=";", extrasaction="ignore", lineterminator="\r\n")
    out.write("\ufeff")
    writer.writeheader()
    for n, row in enumerate(rows, start=1):
        writer.writerow({k: _cell(v) for k, v in row.items()})
        if n % rows_per_chunk == 0:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()


def to_csv(rows: Iterable[dict[str, Any]]) -> str:
    return "".join(csv_chunks(rows))
