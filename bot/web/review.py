"""»Lær af samtalerne«: coordinators review the messages the bot handled badly and teach it (bot.store.review).

The inbox shows the groups of the viewer's regions (an admin's: all), masked, with counts, the reasons and
the bot's reply. A decision names the group by its key, and the server looks the group up again in the
viewer's own inbox, so nobody decides on messages they may not see. Decisions and undos are audited;
`python -m bot review export` turns the intent decisions into nlu/reviewed.yml.
"""

from __future__ import annotations

import logging
from functools import cache

import yaml
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import SQLAlchemyError

from bot.settings import ROOT
from bot.store import review
from bot.store.casework import Viewer
from bot.tooling.nlu_data import nlu_examples
from bot.web.auth import login_required, viewer
from bot.web.state import config, store

log = logging.getLogger(__name__)
bp = Blueprint("review", __name__, url_prefix="/dashboard/review")
SHOWN_GROUPS = 50
# Intents a citizen's message can mean; the others are set by buttons and forms only.
NOT_ASSIGNABLE = ("inform", "correct", "followup", "share_cpr")


@cache
def intent_choices() -> list[tuple[str, str]]:
    """(intent, an example of it from the training data) for the reviewer's choice, in the domain's order."""
    intents = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))["intents"]
    examples: dict[str, str] = {}
    for intent, text in nlu_examples():
        examples.setdefault(intent, text)
    return [(intent, examples.get(intent, "")) for intent in intents if intent not in NOT_ASSIGNABLE]


def _groups(me: Viewer) -> list[review.Group] | None:
    try:
        messages = review.inbox_messages(config().tracker_url, None if me.is_admin else me.regions)
    except SQLAlchemyError as exc:
        log.warning("Tracker store not readable for the review inbox: %s", exc)
        return None
    decided = store().reviews.decided_keys()
    return [group for group in review.grouped(messages) if group.key not in decided]


@bp.get("")
@login_required
def index() -> ResponseReturnValue:
    me = viewer()
    groups = _groups(me)
    decisions = [r for r in reversed(store().reviews.active()) if me.is_admin or r.region in me.regions][:50]
    return render_template(
        "review.html",
        groups=None if groups is None else groups[:SHOWN_GROUPS],
        total=0 if groups is None else len(groups),
        decisions=decisions,
        intents=intent_choices(),
        markable=review.MARKABLE_ENTITIES,
    )


@bp.post("/decide")
@login_required
def decide() -> ResponseReturnValue:
    me = viewer()
    key, decision = request.form.get("key", ""), request.form.get("decision", "")
    group = next((g for g in _groups(me) or [] if g.key == key), None)
    if group is None:
        abort(404)
    intent = request.form.get("intent", "") if decision == review.INTENT else ""
    if decision not in review.DECISIONS or (decision == review.INTENT and intent not in dict(intent_choices())):
        flash("review_refused", "fejl")
        return redirect(url_for("review.index"), code=303)
    if decision == review.NEEDS_ANSWER and not request.form.get("note", "").strip():
        flash("review_note_missing", "fejl")
        return redirect(url_for("review.index"), code=303)
    try:
        store().reviews.decide(
            me.email,
            group,
            decision,
            intent=intent,
            note=request.form.get("note", ""),
            region=group.regions[0] if group.regions else "",
            annotated=request.form.get("annotated", ""),
        )
    except review.BadAnnotation:
        flash("review_bad_marks", "fejl")
        return redirect(url_for("review.index"), code=303)
    flash("review_decided", "ok")
    return redirect(url_for("review.index"), code=303)


@bp.post("/<int:review_id>/undo")
@login_required
def undo(review_id: int) -> ResponseReturnValue:
    me = viewer()
    found = next((r for r in store().reviews.active() if r.id == review_id and (me.is_admin or r.region in me.regions)), None)
    if found is None or not store().reviews.undo(me.email, review_id):
        abort(404)
    flash("review_undone", "ok")
    return redirect(url_for("review.index"), code=303)
