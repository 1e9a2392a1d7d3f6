"""Our code inside the Rasa server and `rasa train`, loaded by Rasa from config.yml,
credentials.yml and endpoints.yml: the REST channel's checks, our NLU components, the
cached TED policy, the erasable tracker store, the speed-ups and the spaCy pipeline.

Some of it reaches into Rasa's internals (the speed-ups, the TEDPolicy and SpacyNLP
subclasses, the tracker store, and the `events` table the dashboard reads in
bot.store.conversations). Each was checked against the Rasa versions in CHECKED_RASA and
has a test that it gives what Rasa's own code gives (tests/unit/test_rasa_patches.py).
Importing this package on any other Rasa version stops the process with a message saying so.
"""

from __future__ import annotations

import importlib.metadata

CHECKED_RASA = ("3.6.21",)


class UncheckedRasaVersion(SystemExit):
    """The installed Rasa is not one our patches were checked against: the process stops with this message, no traceback."""


def check_rasa_version(installed: str | None = None) -> None:
    installed = installed or importlib.metadata.version("rasa")
    if installed not in CHECKED_RASA:
        raise UncheckedRasaVersion(
            f"error: Rasa {installed} is installed, but bot/rasa_server was checked against Rasa {', '.join(CHECKED_RASA)} only: "
            f"its speed-ups and subclasses reach into Rasa's internals. Install the version in requirements.lock "
            f"(make setup), or check every patch against Rasa {installed} (tests/unit/test_rasa_patches.py) and add it to CHECKED_RASA."
        )


check_rasa_version()
