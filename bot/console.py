"""What our processes print: our own lines, not other libraries' deprecation notices and chatter.

Every process `make run` starts goes through `python -m bot`, which calls `quiet_dependencies()`
first. Libraries add warning filters of their own at import (sanic shows every
DeprecationWarning once), so the filter sits where warnings are shown: a deprecation notice
is printed only when it comes from our own code (bot, actions).
"""

from __future__ import annotations

import logging
import warnings
from typing import Any, TextIO

from bot.settings import ROOT

OURS = (str(ROOT / "bot"), str(ROOT / "actions"))
NOISY = (DeprecationWarning, PendingDeprecationWarning, FutureWarning)
# Libraries that log routine steps at INFO: one line per registered action, per migration check.
CHATTY_LOGGERS = ("rasa_sdk.executor", "alembic.runtime.migration", "httpx")


def is_noise(category: type[Warning], filename: str) -> bool:
    return issubclass(category, NOISY) and not str(filename).startswith(OURS)


def quiet_dependencies() -> None:
    show = warnings.showwarning

    def show_ours(message: Warning | str, category: type[Warning], filename: str, lineno: int, file: TextIO | None = None, line: str | None = None) -> Any:
        if not is_noise(category, filename):
            show(message, category, filename, lineno, file, line)

    warnings.showwarning = show_ours
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
