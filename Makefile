# One command per chore. `make test` and `make serve` work on a fresh Debian/Ubuntu machine.
SHELL := /bin/bash
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install deps test test-fast lint format bench bench-large acceptance stress clean serve deploy-test

$(BIN)/python:
	@test -n "$(PYTHON)" || { echo "Earmark needs Python 3.11 or newer (apt-get install python3)"; exit 1; }
	$(PYTHON) -m venv $(VENV) || { echo "python3 -m venv failed: apt-get install python3-venv"; exit 1; }

# The C extension (earmark.chromaprint._native) is built in place by the editable install:
# its source is a prerequisite so that an edit rebuilds it.
$(STAMP): pyproject.toml setup.py src/earmark/chromaprint/_native.c src/earmark/chromaprint/_test2.c | $(BIN)/python
	@bash scripts/build-deps.sh $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,lint,columnar,tracing]'
	@touch $@

## install: create .venv and install Earmark with its test and lint tools
install: $(STAMP)

## serve: the all-in-one service on http://127.0.0.1:8080 (`make serve PORT=9000 HOST= DATA_DIR=`)
# Only variables given on make's command line count: a shell's own HOST (tcsh sets it to the
# machine's name) must not move the listening address.
serve: install
	exec $(BIN)/earmark serve \
		$(if $(filter command line,$(origin HOST)),--host '$(HOST)') \
		$(if $(filter command line,$(origin PORT)),--port '$(PORT)') \
		$(if $(filter command line,$(origin DATA_DIR)),--data-dir '$(DATA_DIR)')

## deps: Debian packages the tests use (ffmpeg, fpcalc, real music); installed when root
deps:
	@bash scripts/system-deps.sh

## test: the whole suite (what CI runs); with CI=true also a shorter `make stress`
## (CI_CYCLES crash cycles, CI_SOAK seconds of soak: the suite's 20-minute budget)
## TEST_WORKERS parallel pytest workers (pytest-xdist; most tests wait on servers they start)
CI_CYCLES ?= 12
CI_SOAK ?= 60
TEST_WORKERS ?= 3
test: install deps
	$(BIN)/python -m pytest -n '$(TEST_WORKERS)'
	@if [ "$${CI,,}" = true ]; then $(MAKE) --no-print-directory stress CYCLES='$(CI_CYCLES)' SOAK='$(CI_SOAK)'; fi
	@if [ "$${CI,,}" = true ]; then $(MAKE) --no-print-directory deploy-test; fi

## test-fast: the suite without slow tests
test-fast: install
	$(BIN)/python -m pytest -m 'not slow'

## lint: ruff (lint + format check), mypy strict, vulture (dead code) and the layer contract
lint: install
	$(BIN)/ruff check src tests bench setup.py
	$(BIN)/ruff format --check src tests bench setup.py
	$(BIN)/mypy
	$(BIN)/vulture
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/test_layers.py

## format: apply ruff's formatting and safe fixes
format: install
	$(BIN)/ruff check --fix src tests bench setup.py
	$(BIN)/ruff format src tests bench setup.py

## bench: benchmarks (figures printed; see bench/README.md). BASELINE=DIR: another checkout
## (with its own .venv, e.g. the previous release) measured beside this one by bench/api.py
BASELINE ?=
bench: install deps
	$(BIN)/python bench/fingerprint.py
	$(BIN)/python bench/cli_start.py
	$(BIN)/python bench/index.py --docs 100000 --mode inproc
	$(BIN)/python bench/index.py --docs 100000 --mode http
	$(BIN)/python bench/pipeline.py --db sqlite --catalogue 100000
	$(BIN)/python bench/pipeline.py --db postgresql --catalogue 100000
	$(BIN)/python bench/api.py --setup allinone --catalogue 100000 $(if $(BASELINE),--baseline '$(BASELINE)')
	$(BIN)/python bench/api.py --setup production --catalogue 100000 $(if $(BASELINE),--baseline '$(BASELINE)')
	$(BIN)/python bench/web.py --db sqlite
	$(BIN)/python bench/web.py --db postgresql
	$(BIN)/python bench/catalog.py --recordings 100000
	$(BIN)/python bench/catalog_columnar.py --recordings 20000
	$(BIN)/python bench/open_data.py --db sqlite --fingerprints 20000
	$(BIN)/python bench/open_data.py --db postgresql --fingerprints 20000
	$(BIN)/python bench/index_cluster.py --docs 100000
	$(BIN)/python bench/tag.py --files 200
	$(BIN)/python bench/clip_eval.py
	$(BIN)/python bench/clip_eval.py --speed --tracks 100000

## bench-large: the index benchmark at 1M documents (several minutes, ~2 GiB of RAM)
bench-large: install
	$(BIN)/python bench/index.py --docs 1000000 --mode inproc
	$(BIN)/python bench/index.py --docs 1000000 --mode http
	$(BIN)/python bench/catalog.py --recordings 1000000

## stress: SIGKILL `earmark serve` CYCLES times under submit load, then a SOAK-second lookup
## soak (docs/reliability.md); `make stress CYCLES=100 SOAK=600` for the full run
CYCLES ?= 25
SOAK ?= 180
stress: install deps
	$(BIN)/python bench/stress.py --cycles '$(CYCLES)' --soak '$(SOAK)'

## deploy-test: the compose fleet built on a local Docker engine and tested end to end (docs/deploy.md)
deploy-test: install deps
	bash scripts/deploy-test.sh $(BIN)/python

## acceptance: fingerprint every dev-corpus track and compare with fpcalc (docs/benchmarks.md)
acceptance: install deps
	$(BIN)/python bench/acceptance.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis build dist src/*.egg-info
	rm -f src/earmark/chromaprint/_native.*.so src/earmark/chromaprint/_test2.*.so
