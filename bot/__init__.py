"""Frivilligbotten's shared package. Each sub-package says which process loads it:

- rasa_server: inside the Rasa server and `rasa train` (channels, NLU components, policy, tracker store);
- knowledge, language, handoff: the action server (actions/), and the dashboard for knowledge;
- store: the lead store, for the action server, the dashboard and the command line;
- web: the web server (dashboard, privacy notice, demo page, widget);
- telegram: the Telegram bridge;
- tooling: the `make` targets (runner, training, checks, evaluation, benchmark).

settings (the one configuration object), conventions (facts every process shares),
console and cli (`python -m bot`, how every process starts) belong to all of them.
"""
