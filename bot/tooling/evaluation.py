"""`make eval`: 5-fold NLU cross-validation and the public eval cases, with reports in var/reports."""

from __future__ import annotations

import json
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


def run_public_cases(model: Path) -> tuple[int, str]:
    """Start the bot on free ports with its own data folder and run ../shared/eval/run_eval.py against it."""
    bot = LocalBot(model, Path(tempfile.mkdtemp(prefix="frivillig-eval-")))
    with bot.running("actions", "rasa"):
        report = REPORTS / "eval_cases.json"
        proc = subprocess.run(
            [sys.executable, str(EVAL / "run_eval.py"), str(EVAL / "public_cases.yml"), "--url", bot.rasa_url, "--report", str(report)],
            cwd=ROOT,
            env=bot.env,
            capture_output=True,
            text=True,
        )
    print(proc.stdout[-6000:], flush=True)
    last = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else "eval: no output"
    return proc.returncode, last


def evaluate(folds: int = 5, skip_cv: bool = False) -> int:
    REPORTS.mkdir(parents=True, exist_ok=True)
    model = ensure_model()
    nlu = None if skip_cv else cross_validate(folds)
    code, cases = run_public_cases(model)
    parts = [cases]
    if nlu:
        parts.insert(0, f"intent macro F1 {nlu['intent_macro_f1']:.3f} · entity F1 {nlu['entity_micro_f1']:.3f} (macro {nlu['entity_macro_f1']:.3f})")
    print(" | ".join(parts) + f" · reports in {REPORTS.relative_to(ROOT)}", flush=True)
    return code
