"""The processes we start print our own warnings, not other libraries' deprecation notices."""

from __future__ import annotations

import os
import subprocess
import sys

from bot.settings import ROOT

SCRIPT = """
import warnings
from bot.console import quiet_dependencies
quiet_dependencies()
warnings.filterwarnings("always")  # as a library may do at import
import sanic  # adds a filter that shows every DeprecationWarning once
warnings.warn_explicit("old library API", DeprecationWarning, "/site-packages/somelib/api.py", 10, module="somelib.api")
warnings.warn_explicit("old API of ours", DeprecationWarning, str(__import__("bot").__file__), 10, module="bot")
warnings.warn_explicit("check your config", UserWarning, "/site-packages/rasa/shared/utils/io.py", 10, module="rasa.shared.utils.io")
"""


def test_dependency_deprecations_are_not_printed_ours_and_other_warnings_are() -> None:
    proc = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "old library API" not in proc.stderr
    assert "old API of ours" in proc.stderr and "check your config" in proc.stderr
