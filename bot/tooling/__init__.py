"""What the `make` targets run, in the developer's or operator's shell: `make run` (runner), training
with its cache, data checks and story tests, the evaluation, the benchmark, generated NLU data,
and the process plumbing they share. Nothing here runs inside the bot's own servers."""
