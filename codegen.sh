#!/usr/bin/env bash
# Generate the Python client `removebg_api` from openapi.yaml into generated/removebg_api.
#
#   ./codegen.sh           regenerate generated/removebg_api (idempotent: a second run changes nothing)
#   ./codegen.sh --check   regenerate into a temporary folder and fail (exit 1, with a diff summary)
#                          when it differs from the committed generated/removebg_api
#
# Tools: the pinned openapi-python-client (constraints.txt) and ruff, taken from .venv/bin when it exists,
# else from PATH (the Makefile puts .venv/bin first). Config: codegen.yaml. Never edit generated/ by hand.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$ROOT"

EXPECTED_VERSION="0.29.1"
SPEC="openapi.yaml"
CONFIG="codegen.yaml"
PACKAGE="removebg_api"
TARGET="generated/$PACKAGE"

if [[ -x "$ROOT/.venv/bin/openapi-python-client" ]]; then
    export PATH="$ROOT/.venv/bin:$PATH"
fi
command -v openapi-python-client >/dev/null || { echo "codegen.sh: openapi-python-client not found (run make install)" >&2; exit 2; }
command -v ruff >/dev/null || { echo "codegen.sh: ruff not found (run make install)" >&2; exit 2; }

# The interpreter that runs openapi-python-client tells its version.
gen_python="$(dirname "$(command -v openapi-python-client)")/python"
[[ -x "$gen_python" ]] || gen_python=python3
version="$("$gen_python" -c 'from importlib.metadata import version; print(version("openapi-python-client"))' \
    2>/dev/null || true)"
if [[ "$version" != "$EXPECTED_VERSION" ]]; then
    echo "codegen.sh: openapi-python-client $EXPECTED_VERSION required, found '${version:-none}'" >&2
    exit 2
fi

# generate OUT_DIR: write the package into OUT_DIR/removebg_api (replacing it).
generate() {
    local out="$1/$PACKAGE" log
    log="$(mktemp)"
    if ! openapi-python-client generate \
        --path "$SPEC" --config "$CONFIG" --meta none \
        --output-path "$out" --overwrite --fail-on-warning >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        echo "codegen.sh: generation failed" >&2
        return 1
    fi
    rm -f "$log"
    # No caches or bytecode in the output.
    find "$out" \( -name __pycache__ -o -name .ruff_cache \) -prune -exec rm -rf {} +
    # PEP 561 marker: a user's mypy reads the generated types (the Literal enums the wrapper re-exports).
    : >"$out/py.typed"
}

case "${1:-}" in
    "")
        mkdir -p generated
        generate generated
        echo "codegen.sh: wrote $TARGET"
        ;;
    --check)
        tmp="$(mktemp -d)"
        trap 'rm -rf "$tmp"' EXIT
        generate "$tmp"
        if [[ ! -d "$TARGET" ]]; then
            echo "codegen.sh --check: $TARGET is missing; run ./codegen.sh and commit the result" >&2
            exit 1
        fi
        if ! diff -r -q -x __pycache__ -x .ruff_cache "$tmp/$PACKAGE" "$TARGET" >"$tmp/summary"; then
            echo "codegen.sh --check: $TARGET is out of date with $SPEC / $CONFIG:" >&2
            sed -e "s#$tmp/$PACKAGE#(regenerated)#g" "$tmp/summary" >&2
            diff -r -u -x __pycache__ -x .ruff_cache "$TARGET" "$tmp/$PACKAGE" \
                | sed -e "s#$tmp/$PACKAGE#(regenerated)#g" | head -n 80 >&2 || true
            echo "codegen.sh --check: run ./codegen.sh (or make codegen) and commit generated/" >&2
            exit 1
        fi
        echo "codegen.sh --check: $TARGET is up to date"
        ;;
    *)
        echo "usage: $0 [--check]" >&2
        exit 2
        ;;
esac
