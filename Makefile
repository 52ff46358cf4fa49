# `make demo` and `make test` work on a fresh machine with Python 3.11+ and the package registries.
# `make demo` installs only what the demo needs (the package); `make test` adds the test
# toolchain (pytest, ruff, mypy, psycopg, Pillow). Each install has its own stamp file, redone
# when pyproject.toml changes.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_STAMP := $(VENV)/.installed-demo
TEST_STAMP := $(VENV)/.installed-test

.PHONY: demo test lint typecheck pytest bench readme images catalogs clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(DEMO_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $(DEMO_STAMP)

$(TEST_STAMP): $(DEMO_STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(TEST_STAMP)

demo: $(DEMO_STAMP)
	$(BIN)/campaign --config config.example.toml demo

lint: $(TEST_STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

pytest: $(TEST_STAMP)
	$(BIN)/pytest -q

test: lint pytest

readme: $(DEMO_STAMP)
	$(BIN)/python -m campaign_scheduler.cli.reference --write README.md

# The campaign images from campaign/design/5malklug.toml (needs fonts-dejavu-core).
images: $(TEST_STAMP)
	$(BIN)/python scripts/render_campaign_images.py

# The gettext catalogs: extract every message with Babel (babel.cfg) into locale/campaign.pot,
# merge it into each .po (the translations' source of truth; German from uilang.GERMAN is
# copied in), compile the .mo files that the package ships. Lists what lacks a translation.
catalogs: $(DEMO_STAMP)
	$(BIN)/python -m campaign_scheduler.catalogs

bench: $(TEST_STAMP)
	$(BIN)/python benchmarks/bench_cli.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
