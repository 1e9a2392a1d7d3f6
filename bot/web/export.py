"""CSV export of the filtered lead list, in the format Danish Excel opens (bot.store.export.to_csv); every export is audited."""

from __future__ import annotations

from flask import Blueprint, Response, request
from flask.typing import ResponseReturnValue

from bot.conventions import today
from bot.store.export import lead_dict, to_csv
from bot.web.auth import login_required, viewer
from bot.web.filters import parse
from bot.web.state import store

bp = Blueprint("export", __name__, url_prefix="/dashboard")


@bp.get("/leads.csv")
@login_required
def leads_csv() -> ResponseReturnValue:
    parsed = parse(request.args)
    me = viewer()
    leads, total = store().cases.query(me, parsed.filter, page=1, per_page=2**31)
    body = to_csv(lead_dict(lead) for lead in leads)
    store().audit.record(me.email, "export", filter=parsed.args(), count=total, format="csv")
    filename = f"leads-{today().isoformat()}.csv"
    return Response(body.encode("utf-8"), mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{filename}"'})
