"""`make eval`: 5-fold NLU cross-validation and the eval cases, with reports in var/reports.

The case sets: the public cases (../shared/eval), the team's extra cases, the fresh cases
written from the documents and issue 14 only, and the held-out cases, which are run for a
score and not read while tuning (tests/eval). Besides each set's score, the length of the
bot's answers over all sets: median, 90th percentile and how many exceed 600 characters.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bot.settings import ROOT
from bot.tooling.processes import LocalBot, child_env, rasa_command
from bot.tooling.training import ensure_model

REPORTS = ROOT / "var" / "reports"
EVAL = ROOT.parent / "shared" / "eval"
CASE_SETS = {"public": EVAL / "public_cases.yml", **{p.stem.removesuffix("_cases"): p for p in sorted((ROOT / "tests" / "eval").glob("*_cases.yml"))}}
LONGEST_ANSWER = 600


def cross_validate(folds: int, nlu: Path = ROOT / "nlu", out: Path = REPORTS / "nlu", summary_file: str = "nlu_summary.json") -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    print(f"NLU cross-validation on {nlu.name}/, {folds} folds (a training per fold) ...", flush=True)
    subprocess.run(
        rasa_command("test", "nlu", "--nlu", str(nlu), "--config", "config.yml", "--cross-validation", "--folds", str(folds), "--out", str(out)),
        cwd=ROOT,
        env=child_env(),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    intents = json.loads((out / "intent_report.json").read_text())
    entity_reports = [p for p in sorted(out.glob("*_report.json")) if p.name.endswith(("Extractor_report.json", "DIETClassifier_report.json"))]
    entities = json.loads(entity_reports[0].read_text())
    confused = sorted(
        ((count, name, other) for name, row in intents.items() if isinstance(row, dict) for other, count in (row.get("confused_with") or {}).items()),
        reverse=True,
    )[:10]
    summary = {
        "intent_macro_f1": intents["macro avg"]["f1-score"],
        "intent_weighted_f1": intents["weighted avg"]["f1-score"],
        "entity_micro_f1": entities["micro avg"]["f1-score"],
        "entity_macro_f1": entities["macro avg"]["f1-score"],
        "most_confused": [{"intent": n, "predicted_as": o, "count": c} for c, n, o in confused],
        "weakest_intents": sorted(
            ({"intent": k, "f1": v["f1-score"]} for k, v in intents.items() if isinstance(v, dict) and "support" in v and "avg" not in k and k != "accuracy"),
            key=lambda row: row["f1"],
        )[:8],
    }
    (REPORTS / summary_file).write_text(json.dumps(summary, ensure_ascii=False, indent=1))
    for row in summary["most_confused"][:5]:
        print(f"  confused: {row['intent']} → {row['predicted_as']} ({row['count']})")
    return summary


def run_cases(model: Path) -> tuple[int, list[str], list[int]]:
    """Start the bot on free ports with its own data folder and run ../shared/eval/run_eval.py on every case set.

    Returns the exit code (0 when every public case passed), each set's summary line, and the
    length of every answer the bot gave.
    """
    bot = LocalBot(model, Path(tempfile.mkdtemp(prefix="frivillig-eval-")))
    code, lines, lengths = 0, [], []
    with bot.running("actions", "rasa"):
        for name, cases in CASE_SETS.items():
            report = REPORTS / f"eval_{name}.json"
            proc = subprocess.run(
                [sys.executable, str(EVAL / "run_eval.py"), str(cases), "--url", bot.rasa_url, "--report", str(report)],
                cwd=ROOT,
                env=bot.env,
                capture_output=True,
                text=True,
            )
            if name == "public":
                print(proc.stdout[-6000:], flush=True)
                code = proc.returncode
            last = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else "eval: no output"
            lines.append(f"{name}: {last.removeprefix('eval: ')}")
            print(lines[-1], flush=True)
            if report.exists():
                results = json.loads(report.read_text(encoding="utf-8"))["results"]
                lengths += [len(turn["bot"]) for result in results for turn in result["transcript"]]
    return code, lines, lengths


def length_summary(lengths: list[int]) -> str:
    if not lengths:
        return "answer length: no answers"
    ordered = sorted(lengths)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    over = sum(length > LONGEST_ANSWER for length in ordered)
    return f"answer length: median {statistics.median(ordered):.0f}, p90 {p90}, max {ordered[-1]} chars, {over} of {len(ordered)} over {LONGEST_ANSWER}"


# A handful of wordings no one on the team wrote, as a reviewer would assign them: the check that reviewed
# examples reach the model (`make eval` imports them into a copy of nlu/, retrains and parses them).
REVIEW_CHECK = {
    "ask_pay": ["kan man få lidt til benzinen når man kører ud til afdelingen"],
    "ask_insurance": ["hvad sker der hvis jeg selv brækker benet under en vagt"],
    "ask_confidentiality": ["må jeg fortælle min mand hvem jeg mødte på afdelingen"],
    "ask_contact": ["hvem tager telefonen hos jer hvis jeg vil høre mere"],
    "ask_training": ["bliver man klædt på til opgaven inden første vagt"],
}


def _train_nlu(nlu: Path, out: Path) -> Path:
    """An NLU-only model of the pipeline in config.yml on these NLU files (seconds: no featurizers, a linear SVM)."""
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        rasa_command("train", "nlu", "--nlu", str(nlu), "--config", "config.yml", "--out", str(out), "--fixed-model-name", "nlu"),
        cwd=ROOT,
        env=child_env(),
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return next(out.glob("nlu*.tar.gz"))


def _classified(model: Path, examples: dict[str, list[str]]) -> tuple[int, int]:
    """How many of the examples the NLU model gives their intent, of how many."""
    code = (
        "import asyncio, json, sys\n"
        "from rasa.core.agent import Agent\n"
        "agent = Agent.load(sys.argv[1])\n"
        "pairs = json.loads(sys.stdin.read())\n"
        "async def main():\n"
        "    return [(await agent.parse_message(text))['intent']['name'] == intent for intent, text in pairs]\n"
        "print(json.dumps(asyncio.run(main())))\n"
    )
    pairs = [(intent, text) for intent, texts in examples.items() for text in texts]
    proc = subprocess.run(
        [sys.executable, "-c", code, str(model)], cwd=ROOT, env=child_env(), input=json.dumps(pairs), capture_output=True, text=True, check=True
    )
    right = json.loads(proc.stdout.strip().splitlines()[-1])
    return sum(right), len(right)


def reviewed_examples_report(folds: int, skip_cv: bool) -> list[str]:
    """The reviewed examples (nlu/reviewed.yml) on their own: how many an NLU model without them and one with them
    classify as reviewed, and the cross-validated intent F1 without them (the main run is with them); then the check
    that importing a handful of reviewed examples and retraining teaches the model those messages."""
    from bot.tooling.nlu_data import REVIEWED, file_examples, write_reviewed

    lines = []
    work = Path(tempfile.mkdtemp(prefix="frivillig-reviewed-"))
    without = work / "without"
    shutil.copytree(ROOT / "nlu", without, ignore=shutil.ignore_patterns(REVIEWED.name))
    reviewed: dict[str, list[str]] = {}
    for intent, text in file_examples(REVIEWED) if REVIEWED.exists() else []:
        reviewed.setdefault(intent, []).append(text)
    before = _train_nlu(without, work / "model-without")
    if reviewed:
        right_before, total = _classified(before, reviewed)
        right_after, _ = _classified(_train_nlu(ROOT / "nlu", work / "model-with"), reviewed)
        lines.append(f"reviewed examples: {total} in nlu/reviewed.yml; classified as reviewed {right_before}/{total} without them, {right_after}/{total} with")
        if not skip_cv:
            f1 = cross_validate(folds, without, REPORTS / "nlu-without-reviewed", "nlu_summary_without_reviewed.json")["intent_macro_f1"]
            lines.append(f"reviewed examples: cross-validated intent macro F1 without them {f1:.3f} (with them: the main figure)")
    else:
        lines.append("reviewed examples: none in nlu/reviewed.yml yet")
    checked = work / "checked"
    shutil.copytree(without, checked)
    write_reviewed(REVIEW_CHECK, checked / REVIEWED.name)
    right_before, total = _classified(before, REVIEW_CHECK)
    right_after, _ = _classified(_train_nlu(checked, work / "model-checked"), REVIEW_CHECK)
    lines.append(
        f"review check: {total} new wordings classified as reviewed {right_before}/{total} before, {right_after}/{total} after importing and retraining"
    )
    shutil.rmtree(work, ignore_errors=True)
    for line in lines:
        print(line, flush=True)
    return lines


def evaluate(folds: int = 5, skip_cv: bool = False) -> int:
    REPORTS.mkdir(parents=True, exist_ok=True)
    model = ensure_model()
    nlu = None if skip_cv else cross_validate(folds)
    reviewed = reviewed_examples_report(folds, skip_cv)
    code, lines, lengths = run_cases(model)
    print(length_summary(lengths), flush=True)
    parts = [lines[0], length_summary(lengths)]
    if nlu:
        parts.insert(0, f"intent macro F1 {nlu['intent_macro_f1']:.3f} · entity F1 {nlu['entity_micro_f1']:.3f} (macro {nlu['entity_macro_f1']:.3f})")
    print(" | ".join(parts) + f" · reports in {REPORTS.relative_to(ROOT)}", flush=True)
    if not reviewed[-1].endswith(f"{len(REVIEW_CHECK)}/{len(REVIEW_CHECK)} after importing and retraining"):
        print("review check FAILED: the imported reviewed examples did not all reach the model", flush=True)
        return code or 1
    return code
