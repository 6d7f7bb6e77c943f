# openbg — two commands on a fresh machine: `make serve` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 5000
PYTEST_ARGS ?=
# The client is tested on these Pythons too (the server runs on $(PYTHON)); each gets .venv-pyX.Y.
CLIENT_PYTHONS ?= 3.12 3.13
# Editable installs are a .pth file with wrapper/, emulator/ and generated/ (hatchling's dev mode), which
# mypy and IDEs follow like a normal install.
EDITABLE := pip install --quiet -c constraints.txt -e
# Debian packages the tests need (browser, system-deps), installed when missing; sudo when not root.
APT_INSTALL = SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); $$SUDO apt-get update -q \
  && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q

.PHONY: install install-dev client-venvs models serve test test-clients lint codegen codegen-check typecheck clean web-assets browser system-deps

# `make serve` needs the server and its engine only; `make test` adds the dev tools on top.
$(BIN)/.installed: pyproject.toml constraints.txt
	rm -rf openbg.egg-info  # old setuptools metadata here would hide the installed entry points from the tests
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip==26.3"
	$(BIN)/$(EDITABLE) ".[emulator]"
	touch $@

$(BIN)/.installed-dev: $(BIN)/.installed
	$(BIN)/$(EDITABLE) ".[emulator,dev,postgres,bench]"
	touch $@

install: $(BIN)/.installed
install-dev: $(BIN)/.installed-dev

# One client-only virtualenv per extra Python (pyenv's python3.12, python3.13): the client and its tests.
.venv-py%/bin/.installed: pyproject.toml constraints.txt
	py="$$(pyenv prefix "$$(pyenv latest $* 2>/dev/null)" 2>/dev/null)/bin/python$*"; \
	  [ -x "$$py" ] || py="$$(command -v python$*)"; \
	  "$$py" -c 'import sys; assert sys.version_info[:2] == tuple(map(int, "$*".split(".")))' 2>/dev/null \
	    || { echo "Python $* not found: install it (pyenv install $*) or set CLIENT_PYTHONS" >&2; exit 1; }; \
	  "$$py" -m venv .venv-py$*
	.venv-py$*/bin/pip install --quiet --upgrade "pip==26.3"
	.venv-py$*/bin/$(EDITABLE) ".[test]"
	touch $@

client-venvs: $(foreach v,$(CLIENT_PYTHONS),.venv-py$(v)/bin/.installed)

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The /docs page's Swagger UI (npm, pinned in package-lock.json), copied into the package so a wheel serves it.
WEB_VENDOR := emulator/openbg_emulator/web/vendor
$(WEB_VENDOR)/.installed: node_modules/.installed
	mkdir -p $(WEB_VENDOR)
	cp node_modules/swagger-ui-dist/swagger-ui-bundle.js node_modules/swagger-ui-dist/swagger-ui.css $(WEB_VENDOR)/
	cp node_modules/swagger-ui-dist/LICENSE $(WEB_VENDOR)/swagger-ui-LICENSE
	touch $@

web-assets: $(WEB_VENDOR)/.installed

# The web pages' tests drive Debian's chromium (never a browser downloaded by a tool).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { $(APT_INSTALL) chromium chromium-driver; }

models: install
	$(BIN)/openbg models fetch

serve: install models web-assets
	$(BIN)/openbg serve --host $(HOST) --port $(PORT)

codegen: install-dev
	PATH="$(abspath $(BIN)):$$PATH" ./codegen.sh

codegen-check: install-dev
	PATH="$(abspath $(BIN)):$$PATH" ./codegen.sh --check

lint: install-dev node_modules/.installed
	npx --no-install redocly lint openapi.yaml
	$(BIN)/ruff check wrapper emulator tests

typecheck: install-dev
	$(BIN)/mypy --strict wrapper/openbg

# The client, contract and CLI tests on each extra Python, against a server run by $(PYTHON)'s venv.
test-clients: install-dev models client-venvs
	for v in $(CLIENT_PYTHONS); do \
	  echo "== client tests on Python $$v"; \
	  OPENBG_SERVER_PYTHON="$(abspath $(BIN))/python" .venv-py$$v/bin/pytest -q -p no:cacheprovider \
	    tests/wrapper tests/contract -m "not server_python_only" || exit 1; \
	done

# tests/scale runs a real PostgreSQL 15 and nginx: the Debian packages, installed once when missing.
system-deps:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || ! { command -v nginx || test -x /usr/sbin/nginx; } >/dev/null 2>&1; then \
	  $(APT_INSTALL) --no-install-recommends postgresql nginx; \
	fi

test: install-dev models node_modules/.installed web-assets browser system-deps
	$(MAKE) codegen-check lint typecheck
	$(BIN)/pytest $(PYTEST_ARGS)
	$(MAKE) test-clients

clean:
	rm -rf $(VENV) .venv-py* node_modules .pytest_cache .mypy_cache $(WEB_VENDOR) openbg.egg-info
