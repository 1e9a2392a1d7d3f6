"""`make eval`: 5-fold NLU cross-validation and the eval cases, with reports in var/reports.

The case sets: the public cases (../shared/eval), the team's extra cases, the fresh cases
written from the documents and issue 14 only, and the held-out cases, which are run for a
score and not read while tuning (tests/eval). Besides each set's score, the length of the
bot's answers over all sets: median, 90th percentile and how many exceed 600 characters.
"""

from __future__ import annotations

import json
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


def cross_validate(folds: int) -> dict[str, Any]:
    out = REPORTS / "nlu"
    out.mkdir(parents=True, exist_ok=True)
    print(f"NLU cross-validation, {folds} folds (a training per fold; about {folds * 6} minutes on two cores) ...", flush=True)
    subprocess.run(
        rasa_command("test", "nlu", "--nlu", "nlu", "--config", "config.yml", "--cross-validation", "--folds", str(folds), "--out", str(out)),
        cwd=ROOT,
        env=child_env(),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    intents = json.loads((out / "intent_report.json").read_text())
    entities = json.loads((out / "DIETClassifier_report.json").read_text())
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
    (REPORTS / "nlu_summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=1))
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


def evaluate(folds: int = 5, skip_cv: bool = False) -> int:
    REPORTS.mkdir(parents=True, exist_ok=True)
    model = ensure_model()
    nlu = None if skip_cv else cross_validate(folds)
    code, lines, lengths = run_cases(model)
    print(length_summary(lengths), flush=True)
    parts = [lines[0], length_summary(lengths)]
    if nlu:
        parts.insert(0, f"intent macro F1 {nlu['intent_macro_f1']:.3f} · entity F1 {nlu['entity_micro_f1']:.3f} (macro {nlu['entity_macro_f1']:.3f})")
    print(" | ".join(parts) + f" · reports in {REPORTS.relative_to(ROOT)}", flush=True)
    return code
