"""schemathesis against the live emulator and the hand-written openapi.yaml: every operation, every content type,
positive and negative data; no 5xx and every response conforms (status, content type, headers, schema).

Bounded for CI: ``OPENBG_SCHEMATHESIS_EXAMPLES`` (default 10 per operation and phase; the coverage phase adds its
own boundary cases) and ``OPENBG_SCHEMATHESIS_PHASES`` (default examples,coverage,fuzzing). A longer run:
``OPENBG_SCHEMATHESIS_EXAMPLES=200 OPENBG_SCHEMATHESIS_PHASES=examples,coverage,fuzzing,stateful pytest
tests/emulator/test_schemathesis.py -s``.

It runs against ``alt_server`` (test controls OFF, so the X-Openbg-* headers schemathesis generates are validated
but have no effect; URL fetching limited to loopback; one worker, and schemathesis runs one request at a time)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,"
          "response_schema_conformance")


def test_schemathesis_conformance(alt_server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    key = alt_server.create_key("schemathesis", credits=100000, rate_limit=10**9)
    exe = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or "schemathesis"
    examples = os.environ.get("OPENBG_SCHEMATHESIS_EXAMPLES", "10")
    phases = os.environ.get("OPENBG_SCHEMATHESIS_PHASES", "examples,coverage,fuzzing")
    cmd = [exe, "run", str(REPO / "openapi.yaml"), "-u", alt_server.base_url, "-H", f"X-API-Key: {key}",
           "-c", CHECKS, "-n", examples, "-w", "1", "--phases", phases, "--seed", "20261125", "--mode", "all",
           "--no-color", "--request-timeout", "120", "--generation-database", "none",
           "--report", "junit", "--report-dir", str(tmp_path)]
    env = dict(os.environ, SCHEMATHESIS_HOOKS="tests.emulator.st_hooks",
               PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=tmp_path, check=False, env=env)
    out = p.stdout + p.stderr
    m = re.search(r"(\d+) generated, (.*)", out)
    print("schemathesis:", m.group(0) if m else "(no summary)")  # figures for the closing note (pytest -s)
    results = [r for r in alt_server.accounts.ledger_rows(alt_server.key_info(key).id) if r["kind"] != "grant"]
    print("schemathesis: successful removals (200, charged):", len(results))
    assert p.returncode == 0, out[-8000:]
    assert m is not None and "failed" not in m.group(2) and "error" not in m.group(2), out[-4000:]
    for op in ("POST /removebg", "POST /removebg.json", "GET /account", "POST /improve"):
        assert op in out or "4 selected / 4 total" in out
    assert results, "no generated /removebg call succeeded: 200 responses were not checked"
    assert alt_server.alive()


def test_schemathesis_as_users_run_it(alt_server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The run docs/contract-testing.md tells users to make: every check, every phase, no hooks, from the
    repository root (where schemathesis finds schemathesis.toml by itself). openapi.yaml must be precise
    enough for 0 failures; what OpenAPI cannot say is in schemathesis.toml, not in a hook."""
    key = alt_server.create_key("schemathesis-user", credits=100000, rate_limit=10**9)
    exe = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or "schemathesis"
    cmd = [exe, "run", "openapi.yaml", "--url", alt_server.base_url, "-H", f"X-API-Key: {key}",
           "--checks", "all", "--phases", "examples,coverage,fuzzing,stateful",
           "-n", os.environ.get("OPENBG_SCHEMATHESIS_EXAMPLES", "20"), "--seed", "20261203", "--no-color",
           "--generation-database", "none"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCHEMATHESIS_")}
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=REPO, check=False, env=env)
    out = p.stdout + p.stderr
    m = re.search(r"(\d+) generated, (.*)", out)
    print("schemathesis (as users run it):", m.group(0) if m else "(no summary)")
    assert p.returncode == 0, out[-8000:]
    assert m is not None and int(m.group(1)) > 100 and "fail" not in m.group(2) and "error" not in m.group(2), out[-4000:]
    assert "Selected: 4/4" in out, out[-4000:]
    assert alt_server.alive()
