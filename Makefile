# aks-argocd-wif: the two newcomer commands are `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test floors lint typecheck unit bench serve clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	touch $(STAMP)

## demo: start the sandbox (emulated Azure + AKS), create a cluster, watch it get registered and verified
demo: $(STAMP)
	$(BIN)/python -m wif_sandbox demo

## test: lint, type-check, then every test (unit, integration on the sandbox, functions, infra)
test: $(STAMP) lint typecheck
	bash scripts/pytest.sh $(BIN)/python

## floors: every requirement at its floor (>=X as ==X) in .venv-floors, then the demo, lint, mypy and the tests
floors:
	bash scripts/floors.sh

lint: $(STAMP)
	$(BIN)/ruff check wif_core wif_functions wif_sandbox function_app.py tests bench
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy wif_core

unit: $(STAMP)
	bash scripts/pytest.sh $(BIN)/python tests/unit

## bench: fleet scale, cold start, propagation lag on the sandbox -> bench/results.json
bench: $(STAMP)
	$(BIN)/python -m bench

## serve: run the sandbox until Ctrl-C; its first line is the env to point the CLI or `func start` at it
serve: $(STAMP)
	$(BIN)/python -m wif_sandbox serve

clean:
	rm -rf $(VENV) .venv-floors .mypy_cache .ruff_cache .pytest_cache .hypothesis
