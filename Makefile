# Frivilligbotten. The two commands that matter: `make run` and `make test`.
# Everything else is a step they run when it is missing or out of date.

SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
.DEFAULT_GOAL := help
# pip on these machines warns about every missing local index folder; those lines are noise.
PIP_QUIET := { grep -v "is ignored: it is neither a file nor a directory" || true; }
# The first install takes minutes: show how far it is instead of pip's hundreds of lines (errors still show).
PIP_PROGRESS = awk -v total=$$(grep -c "==" $(LOCK)) '/^Collecting / { n++; if (n % 25 == 0 || n == total) printf "  %d of %d packages fetched\n", n, total; fflush(); next } /^Installing collected packages/ { print "  installing them ..."; fflush(); next } /^(ERROR|error|WARNING: (Retrying|There was))/ { print; fflush() }'

VENV := .venv
PY := $(VENV)/bin/python
LOCK := requirements.lock
LOCK_HASH := $(shell sha256sum $(LOCK) 2>/dev/null | cut -c1-12)
VENV_STAMP := $(VENV)/.installed-$(LOCK_HASH)
SPACY_STAMP := models/spacy/.resolved-$(LOCK_HASH)
WIDGET_STAMP := bot/web/static/vendor/.built-$(shell sha256sum bot/web/package-lock.json 2>/dev/null | cut -c1-12)

export RASA_TELEMETRY_ENABLED := false
export PYTHONPATH := $(CURDIR)
export PYTHONDONTWRITEBYTECODE := 1
export TF_CPP_MIN_LOG_LEVEL := 2
export SQLALCHEMY_SILENCE_UBER_WARNING := 1

# A working python3.10: on PATH first (pyenv shims that point elsewhere don't count), then pyenv.
define find_python
for c in python3.10 "$$(pyenv root 2>/dev/null)"/versions/3.10.*/bin/python3.10; do \
  if [ -x "$$(command -v "$$c" 2>/dev/null)" ] && "$$c" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null; then \
    command -v "$$c"; exit 0; fi; \
done; exit 1
endef

.PHONY: help setup run test validate lint unit e2e stories test-scale eval bench bench-dashboard spacy train clean system-deps

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

$(VENV_STAMP): $(LOCK)
	@py=$$($(find_python)) || { echo "Python 3.10 is required (Rasa 3.6 needs <3.11): install it, e.g. 'pyenv install 3.10' or 'apt-get install python3.10-venv'." >&2; exit 1; }; \
	echo "Using $$py"; \
	if [ ! -x $(PY) ] || ! $(PY) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))'; then rm -rf $(VENV); "$$py" -m venv $(VENV); fi
	@echo "Installing dependencies from $(LOCK) into $(VENV) (2-3 minutes the first time) ..."
	@$(PY) -m pip install --quiet --upgrade "pip==24.2" 2>&1 | $(PIP_QUIET)
	@PYTHONUNBUFFERED=1 $(PY) -m pip install --progress-bar off -r $(LOCK) 2>&1 | $(PIP_PROGRESS)
	@$(PY) -m pip check
	@rm -f $(VENV)/.installed-*
	@touch $@

$(SPACY_STAMP): $(VENV_STAMP)
	@echo "Resolving the spaCy pipeline (tries da_core_news_sm $(shell echo 3.4.0) from spaCy's release page) ..."
	@$(PY) -m bot spacy-setup
	@rm -f models/spacy/.resolved-*
	@mkdir -p models/spacy && touch $@

$(WIDGET_STAMP): bot/web/package.json bot/web/package-lock.json
	@echo "Installing the chat widget's npm packages ..."
	@cd bot/web && npm ci --no-audit --no-fund --loglevel=error
	@mkdir -p bot/web/static/vendor
	@cp bot/web/node_modules/socket.io-client/dist/socket.io.min.js bot/web/static/vendor/
	@rm -f bot/web/static/vendor/.built-*
	@touch $@

setup: $(VENV_STAMP) $(SPACY_STAMP) $(WIDGET_STAMP) ## Create .venv, install dependencies, resolve the spaCy pipeline, build the widget

spacy: $(VENV_STAMP) ## Retry installing da_core_news_sm (falls back loudly if unreachable)
	@$(PY) -m bot spacy-setup

train: setup ## Train the model if config or data changed
	@$(PY) -m bot train

run: setup ## Start everything (Rasa, actions, dashboard, widget, Telegram if configured)
	@$(PY) -m bot run

system-deps: ## Debian packages the tests and benchmarks need (chromium, redis-server, haproxy, postgresql), installed when missing
	@missing=""; command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || missing="$$missing haproxy"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then echo "Installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi

validate: setup ## rasa data validate, failing on any warning about our data
	@$(PY) -m bot validate

lint: setup ## ruff and mypy
	@$(VENV)/bin/ruff check bot actions tests
	@$(VENV)/bin/ruff format --check bot actions tests
	@$(VENV)/bin/mypy bot actions

unit: setup ## Unit tests (no servers)
	@$(PY) -m pytest tests/unit

e2e: setup system-deps ## End-to-end tests against real servers
	@$(PY) -m pytest tests/e2e

stories: train ## rasa test on the test stories
	@$(PY) -m bot test-stories

test-scale: setup system-deps ## Two Rasa instances behind HAProxy on PostgreSQL and Redis, load and faults
	@$(PY) -m pytest tests/scale

test: setup system-deps validate lint ## Everything: validate, lint, unit, end-to-end, test stories, scale
	@$(PY) -m pytest tests/unit tests/e2e tests/security
	@$(PY) -m bot test-stories
	@$(MAKE) --no-print-directory test-scale

eval: train ## NLU cross-validation and the public eval cases; reports in var/reports
	@$(PY) -m bot evaluate

bench: train system-deps ## Closed and open loop, cost curve and scale-out behind HAProxy, side by side with Rasa's starter bot
	@$(PY) -m bot bench

bench-dashboard: setup system-deps ## The dashboard and lead store with 100,000 leads on SQLite and PostgreSQL (BENCH_LEADS=10000 for a quick run)
	@$(PY) -m bot bench-dashboard

clean: ## Remove the virtualenv, models and local data
	rm -rf $(VENV) models var .rasa bot/web/node_modules bot/web/static/vendor
