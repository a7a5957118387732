# vna — two commands do everything on a fresh machine:
#   make book   create .venv from requirements.txt if missing, execute the notebooks, build the book
#   make test   same venv; unit tests, every notebook in quick mode, the book, a browser test of the book
#   make publish DIR=site   the tree GitHub Pages serves: the built book and each chapter's notebook beside it
# VNA_REPOSITORY=owner/name (GitHub) at build time gives every chapter an "Open in Colab" button
# (book/_ext/vna_book.py); unset, there is none. See book/reproducing.md.
# Real recordings: $VNA_DATA_DIR, else shared/data beside the repository, else ~/.cache/vna (vna.data.data_dir).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CHROMIUM ?= /usr/bin/chromium
# tests and notebooks run this many at a time (pytest-xdist workers; run_notebooks.py --jobs), one CPU thread
# each, so the numbers do not change; JOBS=1 runs them one after another
JOBS ?= 2


.PHONY: book test venv notebooks notebooks-quick html publish unit browser-test chromium reproduce bench mutation planted clean help test-oldest gpu-check

help:
	@echo "make book   - execute the notebooks and build the book into _build/html (creates .venv if missing)"
	@echo "make test   - unit tests, quick notebook run, book build and browser test"
	@echo "make publish DIR=site - the built book plus the notebooks its Colab buttons open (GitHub Pages tree)"
	@echo "make reproduce [ARGS='--datasets cowley2023-v4 --seeds 0 1 2'] - run the study grid into the runs folder"
	@echo "               (ARGS='--publish --jobs 2' writes the published results/, on purpose)"
	@echo "make bench  - core benchmark table (AUC speed, training throughput)"
	@echo "make test-oldest - unit tests on the oldest versions pyproject.toml claims (.venv-oldest; not in CI)"
	@echo "make gpu-check   - on a CUDA machine: the CUDA tests and the GPU benchmark into benchmarks/results/"
	@echo "make mutation / make planted - mutation testing / planted audit mistakes (slow; not in CI)"

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip uninstall --quiet --yes vna 2>/dev/null || true  # the distribution's old name
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

book: venv notebooks html
	@echo "book: _build/html/index.html"

notebooks: venv
	$(PY) scripts/run_notebooks.py --jobs $(JOBS)

notebooks-quick: venv
	$(PY) scripts/run_notebooks.py --quick --jobs $(JOBS)

html: venv
	$(VENV)/bin/jupyter-book build . -W -n --keep-going

DIR ?=
publish: venv
	@if [ -z "$(DIR)" ]; then echo "usage: make publish DIR=<folder> (after make book)"; exit 2; fi
	$(PY) book/_ext/publish.py "$(DIR)"

unit: venv
	OMP_NUM_THREADS=1 $(PY) -m pytest -m "not book" $(if $(filter-out 1,$(JOBS)),-n $(JOBS) --dist worksteal)

browser-test: venv chromium
	$(PY) -m pytest -m book

test: unit notebooks-quick html browser-test

chromium:
	@if [ ! -x "$(CHROMIUM)" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else echo "The browser test needs Debian's chromium: sudo apt-get install chromium (or set CHROMIUM=/path)"; exit 1; fi; \
	fi

reproduce: venv
	$(PY) -m vna reproduce $(ARGS)

bench: venv
	$(PY) benchmarks/bench_core.py $(ARGS)

# The oldest versions pyproject.toml claims (requirements-oldest.txt: its lower bounds, torch the pinned CPU
# wheel) in their own venv, and the unit tests that need no book, no notebook kernel and no optional extra
# (the paper extra: pynwb, hdmf, xarray, h5netcdf).
# Not part of CI: a fresh venv, its install and the tests took ~10 min on a 2-core machine (README, "Checking the checks").
OLDEST := .venv-oldest
OLDEST_IGNORE := test_notebooks test_publish test_book_config test_book_browser test_book_html test_book_chapter \
  test_paper_allen test_paper_majajhong test_paper_e2e test_colab_rehearsal test_no_data_book \
  test_dependencies test_documented_commands
test-oldest:
	test -x $(OLDEST)/bin/python || $(PYTHON) -m venv $(OLDEST)
	$(OLDEST)/bin/python -m pip install --quiet --only-binary :all: -r requirements-oldest.txt
	$(OLDEST)/bin/python -m pip list --format=freeze | grep -i -E '^(torch|numpy|pandas|scipy|scikit-learn|pillow|tqdm|matplotlib|tabulate|requests|threadpoolctl)=='
	PYTHONPATH=$(CURDIR) OMP_NUM_THREADS=1 $(OLDEST)/bin/python -m pytest -q -m "not book" \
	  $(foreach t,$(OLDEST_IGNORE),--ignore tests/$(t).py)

# On a machine with a CUDA GPU: the CUDA tests and the GPU benchmark, written to benchmarks/results/ with the
# card's name in the file names. Plain python3 (the device machines have torch, numpy, pytest, ... but no
# venv, pooch or network); fails with "needs a CUDA GPU" elsewhere. BENCH_ARGS overrides bench_core.py's.
gpu-check:
	$(PYTHON) benchmarks/gpu_check.py $(if $(BENCH_ARGS),--bench-args "$(BENCH_ARGS)")

# Not part of CI (they take long): mutation testing of the core modules against the unit tests (configured in
# pyproject.toml [tool.mutmut]; report in tests/mutation/README.md), and the audited mistakes planted one by one.
mutation: venv
	rm -rf mutants
	VNA_DATA_DIR="$$($(PY) -c 'from vna.data import data_dir; print(data_dir())')" OMP_NUM_THREADS=1 \
	  $(PY) tests/mutation/sample.py --per-module $(or $(PER_MODULE),150) --max-children 2
	$(PY) tests/mutation/report.py

planted: venv
	$(PY) tests/mutation/planted_mistakes.py

clean:
	rm -rf _build book/notebooks/*.ipynb
