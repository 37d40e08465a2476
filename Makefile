# Two entry points: `make up` (the mesh on embedded defaults) and `make test` (the whole suite).
# Everything else they need is installed here from the lock file, into .venv.
PYTHON ?= python3
UV_VERSION := 0.13.9
SCALE ?= 0.01
UV := .tools/bin/uv

# The web catalog's browser tests drive Debian's chromium (Playwright, no browser download):
# `make test` provides it; `make up` does not need it.
CHROMIUM ?= /usr/bin/chromium

.PHONY: install browser up up-headless test lint bench

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv==$(UV_VERSION)

.venv/.installed: pyproject.toml uv.lock $(UV)
	UV_PROJECT_ENVIRONMENT=.venv $(UV) sync --frozen --python $(PYTHON)
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

test: lint browser
	.venv/bin/pytest

bench: install
	.venv/bin/python -m bench
