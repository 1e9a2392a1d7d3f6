"""CSV export of the filtered lead list, in the format Danish Excel opens (bot.store.export), streamed; every export is audited."""

from __future__ import annotations

from flask import Blueprint, Response, request, stream_with_context
from flask.typing import ResponseReturnValue

from bot.conventions import today
from bot.store.export import csv_chunks, lead_dict
from bot.web.auth import login_required, viewer
from bot.web.filters import parse
from bot.web.state import store

bp = Blueprint("export", __name__, url_prefix="/dashboard")


@bp.get("/leads.csv")
@login_required
def leads_csv() -> ResponseReturnValue:
    parsed = parse(request.args)
    me = viewer()
    total = store().cases.count(me, parsed.filter)
    store().audit.record(me.email, "export", filter=parsed.args(), count=total, format="csv")
    body = (chunk.encode("utf-8") for chunk in csv_chunks(lead_dict(lead) for lead in store().cases.each(me, parsed.filter)))
    filename = f"leads-{today().isoformat()}.csv"
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(stream_with_context(body), mimetype="text/csv", headers=headers)  # memory stays flat however many leads
