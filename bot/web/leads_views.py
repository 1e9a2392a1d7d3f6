"""The lead list and a lead's page with what a coordinator does with it: status, notes, assignment, deletion.

Every view asks the lead store with the viewer's scope, so another region's lead is
simply not found (404), whether it is read or changed.
"""

from __future__ import annotations

import logging
import math

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import SQLAlchemyError

from bot.store import conversations
from bot.store.live import LIVE
from bot.store.schema import TRANSITIONS, Lead
from bot.web.auth import login_required, viewer
from bot.web.filters import parse
from bot.web.state import config, store

log = logging.getLogger(__name__)
bp = Blueprint("leads", __name__, url_prefix="/dashboard/leads")

PER_PAGE = 25


def page_links(current: int, last: int, around: int = 2) -> list[int | None]:
    """Page numbers to link to: the first, the last and those near the current one; None marks a gap."""
    shown = sorted({1, last, *range(max(1, current - around), min(last, current + around) + 1)})
    links: list[int | None] = []
    for number in shown:
        if links and number - (links[-1] or 0) > 1:
            links.append(None)
        links.append(number)
    return links


def _page() -> int:
    try:
        return max(1, int(request.args.get("page", "1")))
    except ValueError:
        return 1


def _lead_or_404(reference: str) -> Lead:
    lead = store().cases.get(viewer(), reference)
    if lead is None:
        abort(404)
    return lead


def _back(reference: str) -> ResponseReturnValue:
    return redirect(url_for("leads.detail", reference=reference), code=303)


@bp.get("")
@login_required
def index() -> ResponseReturnValue:
    parsed = parse(request.args)
    page = _page()
    leads, total = store().cases.query(viewer(), parsed.filter, page=page, per_page=PER_PAGE)
    last = max(1, math.ceil(total / PER_PAGE))
    if page > last:
        page = last
        leads, total = store().cases.query(viewer(), parsed.filter, page=page, per_page=PER_PAGE)
    return render_template(
        "leads.html", leads=leads, total=total, page=page, last=last, links=page_links(page, last), parsed=parsed, args=parsed.args(), per_page=PER_PAGE
    )


@bp.get("/<reference>")
@login_required
def detail(reference: str) -> ResponseReturnValue:
    lead = _lead_or_404(reference)
    me = viewer()
    store().audit.record(me.email, "lead_viewed", lead.reference)
    assigned = store().accounts.get(lead.assigned_to) if lead.assigned_to else None
    return render_template(
        "lead.html",
        lead=lead,
        notes=store().cases.notes(lead),
        transcript=list(lead.transcript or []),
        transitions=TRANSITIONS.get(lead.status, ()),
        assignable=store().accounts.assignable(lead.region),
        assigned=assigned,
    )


@bp.post("/<reference>/status")
@login_required
def change_status(reference: str) -> ResponseReturnValue:
    _lead_or_404(reference)
    ok = store().cases.set_status(viewer(), reference, request.form.get("status", ""))
    flash("status_changed" if ok else "status_refused", "ok" if ok else "fejl")
    return _back(reference)


@bp.post("/<reference>/note")
@login_required
def add_note(reference: str) -> ResponseReturnValue:
    _lead_or_404(reference)
    ok = store().cases.add_note(viewer(), reference, request.form.get("text", ""))
    flash("note_added" if ok else "note_empty", "ok" if ok else "fejl")
    return _back(reference)


@bp.post("/<reference>/assign")
@login_required
def assign(reference: str) -> ResponseReturnValue:
    _lead_or_404(reference)
    raw = request.form.get("coordinator", "")
    try:
        coordinator_id = int(raw) if raw else None
    except ValueError:
        coordinator_id = -1
    ok = coordinator_id != -1 and store().cases.assign(viewer(), reference, coordinator_id)
    flash("assigned" if ok else "assign_refused", "ok" if ok else "fejl")
    return _back(reference)


@bp.post("/<reference>/delete")
@login_required
def delete(reference: str) -> ResponseReturnValue:
    """First POST asks for confirmation; the second (confirm=ja) deletes the lead and its conversation in the tracker store."""
    lead = _lead_or_404(reference)
    if lead.live_state == LIVE:  # Rasa holds the conversation paused; deleting it under a live chat would leave the citizen talking to nobody
        flash("live_delete_refused", "fejl")
        return _back(reference)
    if request.form.get("confirm") != "ja":
        return render_template("lead_delete.html", lead=lead)
    me = viewer()
    deleted = store().cases.delete(me, reference)
    if deleted is None:
        abort(404)
    flash("deleted", "ok")
    if deleted.conversation_id:
        try:
            events = conversations.delete(config().tracker_url, deleted.conversation_id)
            store().audit.record(me.email, "conversation_deleted", reference, events=events)
        except SQLAlchemyError as exc:
            log.warning("Could not delete conversation of %s from the tracker store: %s", reference, exc)
            flash("conversation_not_deleted", "fejl")
    return redirect(url_for("leads.index"), code=303)
