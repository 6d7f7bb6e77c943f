#!/usr/bin/env python
"""A longer schemathesis run than CI's, with a stateful account flow around it (issue 9). Loopback only.

openapi.yaml has no links (keys are made by the CLI, not the API), so schemathesis' own stateful phase has
nothing to chain; the state is driven here instead, for each round:

  1. ``openbg keys create --credits C --free-calls F`` (the real CLI, on the server's state dir);
  2. schemathesis on every operation with that key (examples, coverage, fuzzing; ``--examples`` per operation),
     with bench/st_long_hooks.py so that a share of the bodies carry a real image and 200s are checked too;
  3. the account invariants for that key: /account = grants − charges (ledger), the ledger's running balance is
     consistent row by row, never negative, free calls used ≤ allowance, every charge has a request id;
  4. ``openbg keys revoke``: the next call is 403.

At the end: ``PRAGMA integrity_check``, no traceback in the server log. Prints the figures for docs/reliability.md.

    python bench/schemathesis_long.py --rounds 3 --examples 100
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,"
          "response_schema_conformance")


def cli(state: Path, *args: str) -> str:
    env = {**os.environ, "OPENBG_STATE_DIR": str(state)}
    env.pop("OPENBG_DATABASE_URL", None)
    p = subprocess.run([sys.executable, "-m", "openbg_emulator.server_cli", *args], env=env, capture_output=True,
                       text=True, timeout=300, check=True)
    return p.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--examples", type=int, default=100, help="examples per operation and phase")
    ap.add_argument("--phases", default="examples,coverage,fuzzing")
    ap.add_argument("--images", type=int, default=60, help="generated bodies given a real image, per round")
    ap.add_argument("--round-timeout", type=int, default=1800)
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the clean-up (stop the server) on SIGTERM

    sys.path.insert(0, str(REPO / "tests"))
    import importlib.util

    spec = importlib.util.spec_from_file_location("openbg_root_conftest", REPO / "tests" / "conftest.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    tmp = tempfile.TemporaryDirectory(prefix="openbg-st-long-")
    state = Path(tmp.name) / "state"
    # Test controls OFF, the URL guard ON, and OPENBG_FETCH_LOOPBACK_ONLY=1: the random image_url hosts that
    # schemathesis generates are refused without even a DNS query, so nothing leaves this machine.
    server = mod.EmulatorServer(state, {"OPENBG_ALLOW_PRIVATE_URLS": "0", "OPENBG_TEST_CONTROLS": "0",
                                        "OPENBG_FETCH_LOOPBACK_ONLY": "1", "OPENBG_FETCH_TIMEOUT_S": "2"},
                                ["--workers", "1"])
    exe = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or "schemathesis"
    totals: list[str] = []
    t_all = time.monotonic()
    try:
        for rnd in range(a.rounds):
            credits, free = [(100000, 0), (50, 5), (3, 2)][rnd % 3]
            out = cli(state, "keys", "create", "--name", f"st-{rnd}", "--credits", str(credits),
                      "--free-calls", str(free), "--rate-limit", str(10**9))
            key = out.strip().splitlines()[-1]
            t0 = time.monotonic()
            with tempfile.TemporaryDirectory() as rep:
                cmd = [exe, "run", str(REPO / "openapi.yaml"), "-u", server.base_url, "-H", f"X-API-Key: {key}",
                       "-c", CHECKS, "-n", str(a.examples), "-w", "1", "--phases", a.phases,
                       "--seed", str(20261125 + rnd), "--mode", "all", "--no-color", "--request-timeout", "120",
                       "--generation-database", "none", "--report", "junit", "--report-dir", rep]
                env = dict(os.environ, SCHEMATHESIS_HOOKS="st_long_hooks", OPENBG_SCHEMATHESIS_IMAGES=str(a.images),
                           PYTHONPATH=os.pathsep.join([str(REPO / "bench"), os.environ.get("PYTHONPATH", "")]))
                p = subprocess.run(cmd, capture_output=True, text=True, timeout=a.round_timeout, cwd=rep,
                                   check=False, env=env)
            text = p.stdout + p.stderr
            m = re.search(r"(\d+) generated, (.*)", text)
            summary = m.group(0) if m else "(no summary)"
            # account invariants
            info = server.key_info(key)
            rows = server.accounts.ledger_rows(info.id)
            bal = 0
            for r in rows:
                bal += r["delta_milli"]
                assert r["balance_milli"] == bal >= 0, r
                if r["kind"] != "grant":
                    assert r["request_id"], r
            acc = httpx.get(f"{server.base_url}/account", headers={"X-Api-Key": key}, timeout=30).json()
            assert abs(acc["data"]["attributes"]["credits"]["total"] - bal / 1000) < 1e-9, (acc, bal)
            charges = sum(1 for r in rows if r["kind"] == "charge")
            frees = sum(1 for r in rows if r["kind"] == "free")
            assert frees <= free
            cli(state, "keys", "revoke", info.id)
            r = httpx.get(f"{server.base_url}/account", headers={"X-Api-Key": key}, timeout=30)
            assert r.status_code == 403
            line = (f"round {rnd}: key credits={credits} free={free}: {summary}; rc={p.returncode}; "
                    f"{charges} charges + {frees} free calls; balance {bal / 1000:g}; "
                    f"{time.monotonic() - t0:.0f} s")
            print(line, flush=True)
            if p.returncode != 0:
                print(text[-6000:])
            totals.append(line)
        db = state / "openbg.db"
        con = sqlite3.connect(db)
        ic = con.execute("PRAGMA integrity_check").fetchone()[0]
        con.close()
        log = server.log_path.read_text(errors="replace")
        print(f"integrity_check: {ic}; tracebacks in server log: {log.count('Traceback')}; "
              f"alive: {server.alive()}; total {time.monotonic() - t_all:.0f} s")
    finally:
        server.stop()
        tmp.cleanup()


if __name__ == "__main__":
    main()
