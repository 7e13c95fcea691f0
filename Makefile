# Two commands on a fresh machine: `make site` (build everything) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export NO_MKDOCS_2_WARNING := 1
STAMP := $(VENV)/.installed

.PHONY: site test serve bench venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "llmbench needs Python 3.11+ (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $@

# Run every solution and control (cached by content hash), then build the site.
site: $(STAMP)
	$(BIN)/llmbench run
	$(BIN)/mkdocs build --strict

test: $(STAMP)
	$(BIN)/python -m pytest

serve: $(STAMP)
	$(BIN)/llmbench serve

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf site results .llmbench
