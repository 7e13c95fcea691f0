# On a fresh machine: `make study` (bring in the published study, run it, build the site), `make test`.
# `make site` builds what is already in solutions/.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export NO_MKDOCS_2_WARNING := 1
STAMP := $(VENV)/.installed

.PHONY: study site test test-fallback serve bench venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "llmbench needs Python 3.11+ (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,mlx]' || { \
	  echo "note: the mlx extra (MLX on the CPU, for the study's ternary_training solutions) is not installable here; installing without it" >&2; \
	  $(BIN)/python -m pip install -q -e '.[dev]'; }
	@# Bytecode of the harness for every process it starts (workers, trusted runs), even where
	@# PYTHONDONTWRITEBYTECODE stops Python from caching it: each would compile ~50 ms of it afresh.
	$(BIN)/python -m compileall -q src/llmbench
	@touch $@

# Import the published study (pinned by URL and commit in data/study.toml, or STUDY=PATH: a folder,
# a clone or a .tar.gz), run everything, build the site. Without network and STUDY it stops at once.
study: $(STAMP)
	$(BIN)/llmbench study $(if $(STUDY),--source "$(STUDY)")
	$(BIN)/llmbench run
	$(BIN)/mkdocs build --strict

# Run every solution and control (cached by content hash), then build the site.
site: $(STAMP)
	$(BIN)/llmbench run
	$(BIN)/mkdocs build --strict

test: $(STAMP)
	$(BIN)/python -m pytest

# The tests whose outcome depends on the isolation mode, run as on a machine without
# bubblewrap (CI's second pass; the hostile suite already runs both modes in `make test`).
FALLBACK_TESTS := tests/core/test_sandbox.py tests/core/test_worker.py tests/core/test_own_tests.py \
	tests/core/test_runner.py tests/hostile/test_bad_input.py
test-fallback: $(STAMP)
	LLMBENCH_NO_BWRAP=1 $(BIN)/python -m pytest $(FALLBACK_TESTS)

serve: $(STAMP)
	$(BIN)/llmbench serve

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf site results .llmbench
