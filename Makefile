# openbg — two commands on a fresh machine: `make serve` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 5000
PYTEST_ARGS ?=

.PHONY: install models serve test lint codegen codegen-check typecheck clean system-deps

$(BIN)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip==26.3"
	$(BIN)/pip install --quiet -c constraints.txt -e ".[emulator,dev,postgres]"
	touch $@

install: $(BIN)/.installed

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

models: install
	$(BIN)/openbg models fetch

serve: install models
	$(BIN)/openbg serve --host $(HOST) --port $(PORT)

codegen: install
	PATH="$(abspath $(BIN)):$$PATH" ./codegen.sh

codegen-check: install
	PATH="$(abspath $(BIN)):$$PATH" ./codegen.sh --check

lint: install node_modules/.installed
	npx --no-install redocly lint openapi.yaml
	$(BIN)/ruff check wrapper emulator tests

typecheck: install
	$(BIN)/mypy --strict wrapper/openbg

# tests/scale runs a real PostgreSQL 15 and nginx: the Debian packages, installed once when missing.
system-deps:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || ! { command -v nginx || test -x /usr/sbin/nginx; } >/dev/null 2>&1; then \
	  SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q --no-install-recommends postgresql nginx; \
	fi

test: install models node_modules/.installed system-deps
	$(MAKE) codegen-check lint typecheck
	$(BIN)/pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache
