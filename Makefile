# Steward: the two commands are `make demo` and `make test`; everything else is a step of theirs.
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# Security scanners pin many packages of their own: they live in a virtualenv of their own.
SCAN_VENV := .venv-scan
# Drift peers for `make bench-peers`, each in a virtualenv of its own (not part of `make test`).
PEER_VENVS := .venv-peers
PEERS := evidently nannyml
PEERS_ARGS ?=
PORT ?= 8080
PYTEST_ARGS ?=
# Node 20 is what these machines ship; jsii (the CDK's bridge) warns on every call.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: install chromium demo test lint unit integration infra e2e reliability scan-tools bench bench-peers peer-envs synth openapi clean

install: $(VENV)/.installed node_modules/.installed chromium

# The console's browser tests drive Debian's chromium through Playwright (no browser download).
chromium:
	@command -v chromium >/dev/null || (apt-get update && apt-get install -y --no-install-recommends chromium)

$(SCAN_VENV)/.installed: tests/reliability/scan-requirements.txt
	@test -x $(SCAN_VENV)/bin/python || $(PY) -m venv $(SCAN_VENV) || python3 -m venv $(SCAN_VENV)
	$(SCAN_VENV)/bin/python -m pip install --quiet -r tests/reliability/scan-requirements.txt
	@touch $@

scan-tools: $(SCAN_VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $@

node_modules/.installed: package.json
	npm install --no-audit --no-fund --loglevel=error
	@touch $@

demo: install
	$(BIN)/steward demo --port $(PORT)

lint: install
	$(BIN)/ruff check layers functions infra tests bench
	$(BIN)/ruff format --check layers functions infra tests bench
	$(BIN)/mypy layers/steward/steward functions infra
	PYTHONPATH=layers/steward:. $(BIN)/lint-imports --no-logo --cache-dir .cache/import-linter .importlinter

test: install scan-tools lint
	$(BIN)/python -m steward.api.openapi --check
	$(BIN)/pytest $(PYTEST_ARGS)

unit integration infra e2e: install
	$(BIN)/pytest tests/$@ $(PYTEST_ARGS)

# The reliability tier's long variant: many more fuzzing cases and hypothesis examples.
reliability: install scan-tools
	STEWARD_RELIABILITY=long $(BIN)/pytest tests/reliability $(PYTEST_ARGS)

bench: install
	$(BIN)/python -m bench

$(PEER_VENVS)/%/.installed: bench/peer_envs/%-requirements.txt
	@test -x $(PEER_VENVS)/$*/bin/python || $(PY) -m venv $(PEER_VENVS)/$* || python3 -m venv $(PEER_VENVS)/$*
	$(PEER_VENVS)/$*/bin/python -m pip install --quiet --upgrade pip
	$(PEER_VENVS)/$*/bin/python -m pip install --quiet -r $<
	@touch $@

peer-envs: $(PEERS:%=$(PEER_VENVS)/%/.installed)

# Steward against Evidently and NannyML on bench/drift's logs, e.g. PEERS_ARGS="--repeats 3".
bench-peers: install peer-envs
	$(BIN)/python -m bench.peers $(PEERS_ARGS)

synth: install
	npx cdk synth --quiet

openapi: install
	$(BIN)/python -m steward.api.openapi --write

clean:
	rm -rf cdk.out .cache .venv-scan $(PEER_VENVS) .pytest_cache .mypy_cache .ruff_cache
