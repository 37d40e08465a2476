# Two entry points: `make up` (the mesh on embedded defaults) and `make test` (the whole suite).
# Everything else they need is installed here from the lock file, into .venv.
PYTHON ?= python3
UV_VERSION := 0.13.9
SCALE ?= 0.01
UV := .tools/bin/uv

# The web catalog's browser tests drive Debian's chromium (Playwright, no browser download):
# `make test` provides it; `make up` does not need it.
CHROMIUM ?= /usr/bin/chromium

.PHONY: install browser up up-headless test test-fast lint bench

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv==$(UV_VERSION)

# Bytecode is compiled at install: each Python process the mesh and its tests start (dagster dev,
# code servers, workers) then loads Dagster without compiling it first, which costs ~2.5 s of
# CPU a process where PYTHONDONTWRITEBYTECODE is set.
.venv/.installed: pyproject.toml uv.lock $(UV)
	UV_PROJECT_ENVIRONMENT=.venv $(UV) sync --frozen --compile-bytecode --python $(PYTHON)
	touch $@

install: .venv/.installed

browser:
	@if [ -x "$(CHROMIUM)" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian's chromium for the web catalog's browser tests"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
	else \
		echo "WARNING: the web catalog's browser tests need Debian's chromium at $(CHROMIUM)" >&2; \
		echo "  and this is not root. Fix: sudo apt-get install chromium, then make install" >&2; \
	fi

up: install
	.venv/bin/mesh up --scale $(SCALE)

up-headless: install
	.venv/bin/mesh up --headless --scale $(SCALE)

lint: install
	.venv/bin/ruff check .
	.venv/bin/mypy
	.venv/bin/lint-imports --no-logo --no-cache

# pytest on parallel workers (pytest-xdist): a file's tests run on one worker, and so do all the
# files that use the session's materialized demo mesh (tests/conftest.py). One worker a core for
# the whole suite (its servers keep the cores busy), one more for test-fast (its tests wait on
# timeouts and subprocesses). Python writes its bytecode caches (__pycache__, ignored by git) even
# where PYTHONDONTWRITEBYTECODE is set: the suite starts hundreds of Python processes, and each
# would compile the platform again.
TEST_WORKERS ?= auto
FAST_WORKERS ?= $(shell echo $$(( $$(nproc) + 1 )))
PYTEST := PYTHONDONTWRITEBYTECODE= .venv/bin/pytest --dist loadfile --no-loadscope-reorder

test: lint browser
	$(PYTEST) -n $(TEST_WORKERS)

# The inner loop: no browser, Spark, production-profile or slow tests (`make test` runs them all).
test-fast: install
	.venv/bin/ruff check .
	$(PYTEST) -n $(FAST_WORKERS) -m "not browser and not spark and not prod and not slow"

bench: install
	.venv/bin/python -m bench
