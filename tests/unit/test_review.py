"""Learning from traffic (bot.store.review, bot.web.review, `python -m bot review export`): what reaches the inbox,
what never does, the decisions, and the reviewed examples as training data."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from rasa.shared.nlu.training_data.loading import load_data

from bot.settings import ROOT, Settings
from bot.store import LeadStore, conversations, review
from bot.tooling.nlu_data import reviewed_yaml, write_reviewed
from stack import Conversation


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'tracker.db'}"


def texts(url: str, regions: Any = None) -> dict[str, str]:
    return {m.text: m.reason for m in review.inbox_messages(url, regions)}


def test_what_the_bot_handled_badly_reaches_the_inbox_and_form_answers_never(url: str) -> None:
    c = Conversation(url, "web:a").slot("region", "midtjylland")
    c.user("blorp fnizz", "nlu_fallback", 0.2).bot("Jeg forstod ikke helt ...")
    c.user("hvad med min kat", "ask_requirements", 0.41).bot("Kravene er ...")
    c.user("får man løn", "ask_pay", 0.97).action("action_answer").bot("Nej, det er ulønnet.")
    c.user("kan jeg tale med et menneske", "request_human", 0.99)
    c.user("hvornår åbner kantinen", "nlu_fallback", 0.1).bot("Jeg forstod ikke helt, hvad du mener. Mente du en af disse?", "utter_did_you_mean")
    c.user("nej", "deny", 0.99)
    c.form("signup_form").user("Karen Blixen", "nlu_fallback", 0.1).user("flimflam", "inform", 0.3).form(None)
    c.user("/ask_pay", "ask_pay", 1.0)
    found = sorted((m.text, m.reason) for m in review.inbox_messages(url, None))
    assert found == [
        ("blorp fnizz", "fallback"),
        ("får man løn", "person"),  # answered, and then the citizen asked for a person
        ("hvad med min kat", "unsure"),
        ("hvornår åbner kantinen", "fallback"),
        ("hvornår åbner kantinen", "rejected"),  # not understood, and the guesses rejected
    ]
    shown = {text for text, _ in found}
    assert "Karen Blixen" not in shown and "flimflam" not in shown  # typed inside the form
    assert "/ask_pay" not in shown


def test_personal_data_is_masked_and_names_the_citizen_gave_too(url: str) -> None:
    c = Conversation(url, "telegram:7").slot("name", "Karen Holm Blixen").slot("region", "nordjylland")
    c.user("jeg hedder karen blixen og min mail er karen@eksempel.dk", "nlu_fallback", 0.1)
    c.user("ring på 20 30 40 50, mit cpr er 010203-1234", "nlu_fallback", 0.1)
    shown = " ".join(texts(url))
    for secret in ("karen", "Karen", "blixen", "karen@eksempel.dk", "20 30 40 50", "010203-1234", "1234"):
        assert secret not in shown, secret
    assert "[navn]" in shown and "xxx@xxx" in shown


def test_each_coordinator_sees_their_regions_and_an_erased_conversation_disappears(url: str) -> None:
    Conversation(url, "web:midt").slot("region", "midtjylland").user("spørgsmål fra midt", "nlu_fallback", 0.1)
    Conversation(url, "web:nord").slot("region", "nordjylland").user("spørgsmål fra nord", "nlu_fallback", 0.1)
    Conversation(url, "web:ingen").user("spørgsmål uden region", "nlu_fallback", 0.1)
    assert set(texts(url, ["midtjylland"])) == {"spørgsmål fra midt"}
    assert set(texts(url, None)) == {"spørgsmål fra midt", "spørgsmål fra nord", "spørgsmål uden region"}  # an admin
    conversations.delete(url, "web:midt")  # the citizen asked for erasure
    assert set(texts(url, ["midtjylland"])) == set()


def test_similar_wordings_are_one_group_with_a_count(url: str) -> None:
    for i, text in enumerate(["Hvordan melder jeg mig?", "hvordan melder jeg mig", "HVORDAN MELDER JEG MIG!!", "noget helt andet"]):
        Conversation(url, f"web:{i}").user(text, "nlu_fallback", 0.1).bot("Jeg forstod ikke ...")
    groups = review.grouped(review.inbox_messages(url, None))
    assert [(g.count, len(g.examples)) for g in groups] == [(3, 3), (1, 1)]
    assert groups[0].reply == "Jeg forstod ikke ..."


def test_decisions_are_audited_undone_and_become_the_examples(tmp_path: Path, url: str) -> None:
    store = LeadStore(f"sqlite:///{tmp_path / 'leads.db'}")
    for i, text in enumerate(["får man penge for det", "får man penge for det?", "hvad koster parkering"]):
        Conversation(url, f"web:{i}").slot("region", "midtjylland").user(text, "nlu_fallback", 0.1)
    pay, parking = review.grouped(review.inbox_messages(url, None))
    first = store.reviews.decide("mette@rm.dk", pay, review.INTENT, intent="ask_pay", region="midtjylland")
    store.reviews.decide("mette@rm.dk", parking, review.NEEDS_ANSWER, note="Parkering: regionens side om parkering")
    assert store.reviews.decided_keys() == {pay.key, parking.key}
    assert store.reviews.examples() == {"ask_pay": ["får man penge for det", "får man penge for det?"]}
    assert store.reviews.undo("mette@rm.dk", first) and not store.reviews.undo("mette@rm.dk", first)
    assert store.reviews.examples() == {}
    actions = [entry.action for entry in store.audit.entries()]
    assert actions.count("review_decided") == 2 and actions.count("review_undone") == 1


def test_the_export_is_training_data_without_repeats_or_masks(tmp_path: Path) -> None:
    nlu = tmp_path / "nlu"
    shutil.copytree(ROOT / "nlu", nlu)
    (nlu / "reviewed.yml").unlink(missing_ok=True)
    examples = {
        "ask_pay": ["betaler de mig noget for hjælpen", "BETALER DE MIG NOGET FOR HJÆLPEN"],  # the second repeats the first
        "ask_insurance": ["er man dækket hvis man falder", "jeg hedder [navn]"],  # a mask is not language
        "no_such_intent": ["hvad som helst"],
    }
    path, written, skipped = write_reviewed(examples, nlu / "reviewed.yml")
    assert (written, skipped) == (2, 3)
    data = load_data(str(nlu))
    by_text = {m.get("text"): m.get("intent") for m in data.intent_examples}
    assert by_text["betaler de mig noget for hjælpen"] == "ask_pay" and by_text["er man dækket hvis man falder"] == "ask_insurance"
    known = next(m.get("text") for m in data.intent_examples if m.get("intent") == "ask_pay" and m.get("text") != "betaler de mig noget for hjælpen")
    body, written, skipped = reviewed_yaml({"ask_pay": [known]}, review_known(nlu), {"ask_pay"})
    assert (written, skipped) == (0, 1)  # an example the team already wrote is not written again


def test_a_reviewer_may_mark_entities_on_the_messages_own_words(tmp_path: Path, url: str) -> None:
    store = LeadStore(f"sqlite:///{tmp_path / 'leads.db'}")
    Conversation(url, "web:v").slot("region", "midtjylland").user("kan man være vejviser i viborg om lørdagen", "nlu_fallback", 0.1)
    [group] = review.grouped(review.inbox_messages(url, None))
    for wrong in ("kan man være [vejviser](cpr) i viborg om lørdagen", "kan man være vejviser i [Aarhus](municipality) om lørdagen", "[kan man"):
        with pytest.raises(review.BadAnnotation):
            store.reviews.decide("mette@rm.dk", group, review.INTENT, intent="ask_opportunities", annotated=wrong)
    marked = "kan man være [vejviser](role) i [viborg](municipality) om lørdagen"
    store.reviews.decide("mette@rm.dk", group, review.INTENT, intent="ask_opportunities", annotated=marked)
    nlu = tmp_path / "nlu"
    nlu.mkdir()
    body, written, _ = reviewed_yaml(store.reviews.examples(), set(), {"ask_opportunities"})
    (nlu / "reviewed.yml").write_text(body, encoding="utf-8")
    [example] = load_data(str(nlu)).intent_examples
    assert example.get("text") == "kan man være vejviser i viborg om lørdagen"
    assert [(e["value"], e["entity"]) for e in example.get("entities")] == [("vejviser", "role"), ("viborg", "municipality")]
    # A citizen's own brackets never become an annotation.
    body, _, _ = reviewed_yaml({"ask_pay": ["får man [penge](cpr) eller {noget}"]}, set(), {"ask_pay"})
    assert "[" not in body and "{noget}" not in body


def review_known(folder: Path) -> set[str]:
    from bot.tooling.nlu_data import existing_examples

    return existing_examples(folder, folder / "reviewed.yml")


def test_the_dashboard_inbox_is_per_region_and_refuses_other_groups(tmp_path: Path) -> None:
    from bot.web.app import create_app

    config = Settings.from_env({"VAR_DIR": str(tmp_path), "COOKIE_SECURE": "false"})
    app = create_app(config)
    store = LeadStore(config.leads_url)
    store.accounts.add("mette@rm.dk", "Mette Midt", "coordinator", ["midtjylland"], "kode-til-mette-1")
    Conversation(config.tracker_url, "web:m").slot("region", "midtjylland").user("må min hund komme med", "nlu_fallback", 0.1)
    Conversation(config.tracker_url, "web:n").slot("region", "nordjylland").user("hemmeligt fra nord", "nlu_fallback", 0.1)
    client = app.test_client()
    token = lambda html: html.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]  # noqa: E731
    login = client.get("/dashboard/login").get_data(as_text=True)
    client.post("/dashboard/login", data={"csrf_token": token(login), "email": "mette@rm.dk", "password": "kode-til-mette-1"})
    page = client.get("/dashboard/review").get_data(as_text=True)
    assert "må min hund komme med" in page and "hemmeligt fra nord" not in page
    north = review.grouped(review.inbox_messages(config.tracker_url, ["nordjylland"]))[0]
    refused = client.post("/dashboard/review/decide", data={"csrf_token": token(page), "key": north.key, "decision": "out_of_scope"})
    assert refused.status_code == 404 and store.reviews.active() == []
    mine = review.grouped(review.inbox_messages(config.tracker_url, ["midtjylland"]))[0]
    client.post("/dashboard/review/decide", data={"csrf_token": token(page), "key": mine.key, "decision": "intent", "intent": "ask_requirements"})
    [decision] = store.reviews.active()
    assert (decision.intent, decision.decided_by, decision.region) == ("ask_requirements", "mette@rm.dk", "midtjylland")
    assert "må min hund komme med" not in client.get("/dashboard/review").get_data(as_text=True).split("Dine beslutninger")[0]
    with store.db.session() as session:
        assert session.execute(sa.select(sa.func.count()).select_from(sa.text("reviews"))).scalar() == 1
