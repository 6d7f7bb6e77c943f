# openbg — two commands on a fresh machine: `make serve` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 5000
PYTEST_ARGS ?=

.PHONY: install models serve test lint codegen codegen-check typecheck clean web-assets browser

$(BIN)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip==26.3"
	$(BIN)/pip install --quiet -c constraints.txt -e ".[emulator,dev]"
	touch $@

install: $(BIN)/.installed

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
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver)

models: install
	$(BIN)/openbg models fetch

serve: install models web-assets
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

test: install models node_modules/.installed web-assets browser
	$(MAKE) codegen-check lint typecheck
	$(BIN)/pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache $(WEB_VENDOR)
