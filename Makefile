# `make demo` and `make test` work on a fresh machine with Python 3.11+ and the package registries.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest bench readme images clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/campaign --config config.example.toml demo

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest -q

test: lint pytest

readme: $(STAMP)
	$(BIN)/python -m campaign_scheduler.cli.reference --write README.md

# The campaign images from campaign/design/5malklug.toml (needs fonts-dejavu-core).
images: $(STAMP)
	$(BIN)/python scripts/render_campaign_images.py

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_cli.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
