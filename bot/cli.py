"""Command line: python -m bot <command>. Run `python -m bot --help` for the list.

Every process `make run` starts goes through here (rasa, actions, web, telegram), so each
begins with the same console settings (bot/console.py)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from bot.console import quiet_dependencies
from bot.settings import ROOT, Settings
from bot.store.schema import COORDINATOR, ROLES

if TYPE_CHECKING:
    from bot.store.accounts import Accounts


def cmd_spacy_setup(_args: argparse.Namespace) -> int:
    from bot.rasa_server import spacy_pipeline

    print(spacy_pipeline.ensure(), flush=True)
    return 0


def cmd_train(_args: argparse.Namespace) -> int:
    from bot.tooling.training import ensure_model

    ensure_model()
    return 0


def cmd_run(_args: argparse.Namespace) -> int:
    from bot.tooling.runner import run

    return run()


def cmd_rasa(args: argparse.Namespace) -> int:
    from bot.rasa_server.main import main

    return main(list(args.rasa_args))


def cmd_actions(args: argparse.Namespace) -> int:
    from actions.server import run

    run(args.port)
    return 0


def cmd_validate(_args: argparse.Namespace) -> int:
    from bot.tooling.checks import validate

    return validate()


def cmd_test_stories(_args: argparse.Namespace) -> int:
    from bot.tooling.checks import test_stories

    return test_stories()


def cmd_evaluate(args: argparse.Namespace) -> int:
    from bot.tooling.evaluation import evaluate

    return evaluate(folds=args.folds, skip_cv=args.skip_cv)


def cmd_bench(args: argparse.Namespace) -> int:
    from bot.tooling.bench import main

    return main(users=args.users, seconds=args.seconds, parts=tuple(args.parts))


def cmd_bench_dashboard(args: argparse.Namespace) -> int:
    from bot.tooling.bench_dashboard import main

    return main(leads=args.leads, databases=tuple(args.databases.split(",")), repeat=args.repeat)


def cmd_web(_args: argparse.Namespace) -> int:
    from bot.web.app import serve

    return serve()


def cmd_telegram(_args: argparse.Namespace) -> int:
    from bot.telegram.bridge import main

    return main()


def cmd_leads_export(args: argparse.Namespace) -> int:
    from bot.store import open_store
    from bot.store.export import to_csv

    store = open_store()
    rows = list(store.cases.all_leads())
    if args.format == "csv":
        sys.stdout.buffer.write(to_csv(rows).encode("utf-8"))
    else:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
    store.audit.record("cli", "export", count=len(rows), format=args.format)
    print(f"{len(rows)} leads exported", file=sys.stderr)
    return 0


def _account_command(change: Callable[[Accounts], str]) -> int:
    """Run one change of the dashboard accounts and print its outcome; bad input is an error for the operator."""
    from bot.store import open_store
    from bot.store.accounts import AccountError

    try:
        print(change(open_store().accounts))
    except AccountError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_accounts_add(args: argparse.Namespace) -> int:
    def add(accounts: Accounts) -> str:
        password = accounts.add(args.email, args.name, args.role, args.region or [], args.password)
        return f"Created {args.email}" if args.password is not None else f"Created {args.email}; password (shown once): {password}"

    return _account_command(add)


def cmd_accounts_list(_args: argparse.Namespace) -> int:
    from bot.store import open_store

    for row in open_store().accounts.all():
        state = " (disabled)" if row.disabled_at else " (must change password)" if row.must_change_password else ""
        print(f"{row.email:<40} {row.role:<12} {','.join(row.regions or []) or '-'}  {row.name}{state}")
    return 0


def cmd_accounts_disable(args: argparse.Namespace) -> int:
    return _account_command(lambda accounts: f"Disabled {accounts.disable(args.email).email}; its sessions have ended")


def cmd_accounts_enable(args: argparse.Namespace) -> int:
    return _account_command(lambda accounts: f"Enabled {accounts.enable(args.email).email}")


def cmd_accounts_reset_password(args: argparse.Namespace) -> int:
    def reset(accounts: Accounts) -> str:
        password = accounts.reset_password(args.email, args.password)
        shown = "" if args.password is not None else f"; new password (shown once): {password}"
        return f"Reset the password of {args.email}; its sessions have ended, and it must be changed at the next login{shown}"

    return _account_command(reset)


def cmd_accounts_update(args: argparse.Namespace) -> int:
    def update(accounts: Accounts) -> str:
        row = accounts.update(args.email, args.role, args.region)
        return f"{row.email}: {row.role}, regions {','.join(row.regions or []) or '-'}"

    return _account_command(update)


def cmd_purge(args: argparse.Namespace) -> int:
    from bot.store.retention import purge

    report = purge(days=args.days)
    for name, count in report.items():
        print(f"{name:<32} {count}")
    return 0


def cmd_config(_args: argparse.Namespace) -> int:
    for env, default, doc in Settings.documented():
        print(f"{env:<22} {default or '(empty)':<38} {doc}")
    return 0


def cmd_nlu_lookups(_args: argparse.Namespace) -> int:
    from bot.tooling.nlu_data import write_place_nlu

    path = write_place_nlu()
    print(f"wrote {path.relative_to(ROOT)}")
    return 0


def cmd_review_export(args: argparse.Namespace) -> int:
    from bot.store import open_store
    from bot.tooling.nlu_data import REVIEWED, write_reviewed

    store = open_store()
    path, written, skipped = write_reviewed(store.reviews.examples(), Path(args.output) if args.output else REVIEWED)
    store.audit.record("cli", "review_exported", written=written, skipped=skipped)
    print(f"wrote {written} reviewed examples to {path} ({skipped} left out: known, masked or no intent); `make run` retrains")
    return 0


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m bot", description="Frivilligbotten: the regions' volunteer chatbot.")
    sub = ap.add_subparsers(dest="command", required=True)

    def add(name: str, func: Callable[[argparse.Namespace], int], help: str, group: Any = sub) -> argparse.ArgumentParser:
        p = group.add_parser(name, help=help, description=help)
        p.set_defaults(func=func)
        return p

    add("run", cmd_run, "Start Rasa, the action server, the web server and (if configured) Telegram.")
    rasa = add("rasa", cmd_rasa, "Rasa's own command line (run, train, test, data validate), with our version check and speed-ups.")
    rasa.add_argument("rasa_args", nargs=argparse.REMAINDER)
    actions = add("actions", cmd_actions, "Run the action server (rasa-sdk) with the actions package.")
    actions.add_argument("--port", type=int, default=None, help="default ACTION_PORT")
    add("train", cmd_train, "Train the model unless one for the current inputs is cached.")
    add("spacy-setup", cmd_spacy_setup, "Install da_core_news_sm if reachable, else prepare the fallback pipeline.")
    add("validate", cmd_validate, "rasa data validate, failing on warnings about our data.")
    add("test-stories", cmd_test_stories, "rasa test core on tests/stories with --fail-on-prediction-errors.")
    ev = add("evaluate", cmd_evaluate, "NLU cross-validation and the public eval cases; reports in var/reports.")
    ev.add_argument("--folds", type=int, default=5)
    ev.add_argument("--skip-cv", action="store_true", help="only run the eval cases")
    bench = add("bench", cmd_bench, "Closed and open loop, cost curve and scale-out, side by side with Rasa's starter bot.")
    bench.add_argument("--users", type=int, default=10)
    bench.add_argument("--seconds", type=int, default=60)
    parts = ("bots", "scale-out")
    bench.add_argument("--parts", nargs="+", choices=parts, default=list(parts), help="the bots side by side; the scale-out behind HAProxy")
    dashboard = add("bench-dashboard", cmd_bench_dashboard, "The dashboard and the lead store with 100,000 leads, on SQLite and PostgreSQL.")
    dashboard.add_argument("--leads", type=int, default=None, help="default BENCH_LEADS or 100000")
    dashboard.add_argument("--databases", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    dashboard.add_argument("--repeat", type=int, default=20, help="runs of each page (fewer when a page is slow)")
    add("web", cmd_web, "Serve the dashboard, the demo page and the widget on WEB_PORT.")
    add("telegram", cmd_telegram, "Run the Telegram bridge (needs TELEGRAM_BOT_TOKEN).")
    add("config", cmd_config, "List the environment variables and their defaults.")
    add("nlu-lookups", cmd_nlu_lookups, "Regenerate nlu/places.yml from bot/knowledge/regions.yml and municipalities.yml.")
    purge = add("purge", cmd_purge, "Delete what is past its retention: leads, conversations, audit entries, outbox and spool files; prints each count.")
    purge.add_argument("--days", type=int, default=None, help="override RETENTION_DAYS")

    leads = sub.add_parser("leads", help="Lead store commands.")
    leads_sub = leads.add_subparsers(dest="leads_command", required=True)
    export = leads_sub.add_parser("export", help="Print every lead as JSON or CSV (Danish Excel).")
    export.add_argument("--format", choices=("json", "csv"), default="json")
    export.set_defaults(func=cmd_leads_export)

    review = sub.add_parser("review", help="What coordinators taught the bot in the dashboard.")
    review_sub = review.add_subparsers(dest="review_command", required=True)
    review_export = add("export", cmd_review_export, "Write the reviewed examples to nlu/reviewed.yml (the model fingerprint includes them).", review_sub)
    review_export.add_argument("--output", help="another file (its folder's other NLU files are what it must not repeat)")

    accounts = sub.add_parser("accounts", aliases=["coordinators"], help="Dashboard accounts; every change is in the audit log.")
    accounts_sub = accounts.add_subparsers(dest="accounts_command", required=True)
    add_a = add("add", cmd_accounts_add, "Create an account; prints a random password unless --password is given.", accounts_sub)
    add_a.add_argument("email")
    add_a.add_argument("--name", required=True)
    add_a.add_argument("--role", choices=ROLES, default=COORDINATOR)
    add_a.add_argument("--region", action="append", help="region code; repeat for several (coordinators only)")
    add_a.add_argument("--password", help="set this password instead of a random one")
    add("list", cmd_accounts_list, "List accounts.", accounts_sub)
    add("disable", cmd_accounts_disable, "Refuse the account's logins and end its sessions at once.", accounts_sub).add_argument("email")
    add("enable", cmd_accounts_enable, "Let a disabled account log in again.", accounts_sub).add_argument("email")
    reset_help = "Set a new password (random unless --password), to be changed at the next login; ends the account's sessions."
    reset = add("reset-password", cmd_accounts_reset_password, reset_help, accounts_sub)
    reset.add_argument("email")
    reset.add_argument("--password", help="set this password instead of a random one")
    update = add("update", cmd_accounts_update, "Change the role and/or the regions of an account.", accounts_sub)
    update.add_argument("email")
    update.add_argument("--role", choices=ROLES)
    update.add_argument("--region", action="append", help="region code; repeat for several; replaces the account's regions")
    return ap


def main(argv: list[str] | None = None) -> int:
    quiet_dependencies()
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["rasa"]:  # everything after it is Rasa's, options included
        return cmd_rasa(argparse.Namespace(rasa_args=argv[1:]))
    args = parser().parse_args(argv)
    try:
        return int(args.func(args))
    except subprocess.CalledProcessError as exc:
        return exc.returncode or 1
    except KeyboardInterrupt:
        return 130
