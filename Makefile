# Two entry points: `make up` (the mesh on embedded defaults) and `make test` (the whole suite).
# Everything else they need is installed here from the lock file, into .venv.
PYTHON ?= python3
UV_VERSION := 0.13.9
SCALE ?= 0.01
UV := .tools/bin/uv

.PHONY: install up up-headless test lint bench

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv==$(UV_VERSION)

.venv/.installed: pyproject.toml uv.lock $(UV)
	UV_PROJECT_ENVIRONMENT=.venv $(UV) sync --frozen --python $(PYTHON)
	touch $@

install: .venv/.installed

up: install
	.venv/bin/mesh up --scale $(SCALE)

up-headless: install
	.venv/bin/mesh up --headless --scale $(SCALE)

lint: install
	.venv/bin/ruff check .
	.venv/bin/mypy
	.venv/bin/lint-imports --no-logo --no-cache

test: lint
	.venv/bin/pytest

bench: install
	.venv/bin/python -m bench
