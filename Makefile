# Two commands do all the set-up on a fresh machine (Python 3.11+, no
# database server): `make demo` and `make test`.  Each creates .venv and
# installs what it needs.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck bench clean

$(STAMP): pyproject.toml examples/fulfilment-acme/pyproject.toml \
		examples/fulfilment-bosta/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dev]' -e examples/fulfilment-acme \
		-e examples/fulfilment-bosta
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/fulfilment demo $(DEMO_ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
