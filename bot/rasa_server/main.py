"""`python -m bot rasa <command>`: Rasa's own command line, in the process our way.

Importing bot.rasa_server stops the process on a Rasa version the patches were not
checked against; then the speed-ups are installed, here where the Rasa process starts,
and Rasa's main handles the command (run, train, test, data validate).
"""

from __future__ import annotations

import sys

from bot.rasa_server import speedups


def main(arguments: list[str]) -> int:
    speedups.apply()
    from rasa.__main__ import main as rasa_main

    sys.argv = ["rasa", *arguments]
    try:
        rasa_main()
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0
