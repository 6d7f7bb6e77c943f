"""Three servers behind nginx sharing PostgreSQL vs one server with the same total workers (issue 19).

    .venv/bin/python bench/scale.py                       # 3 rounds of 12 s each side, 6 clients
    .venv/bin/python bench/scale.py --rounds 2 --seconds 6 --clients 4

Both sides run at once for the whole benchmark and are loaded in turn, round-robin (A, B, A, B, …), so their
requests/s are taken under the same machine load. Side A: one ``openbg serve`` with ``--workers 3`` on its
default SQLite state, clients talking to it directly. Side C: the same one server on PostgreSQL (what the
shared store alone costs). Side B: three ``openbg serve --workers 1`` sharing one
PostgreSQL 15 (Debian's binaries, in a temporary folder) behind nginx (``deploy/nginx/openbg.conf``, least_conn).
Every request is a ``size=preview`` removal of a small synthetic image (160x120 PNG) that no server has seen
(a fresh colour per request, so no mask-cache hits): the model runs every time, at its preview input size.

PostgreSQL time per request is measured twice: inside PostgreSQL (pg_stat_statements: execution and planning
time of every statement, COMMIT included, per request of the round), and as the servers' own figure: the access log's ``db=`` field, the wall time of
the request's account-database calls (authentication, rate-limit window, credit check, charge), read from
every server's log for the timed requests. Prints the CPU (lscpu) and a table; ``--json FILE`` saves it.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "scale"))

from openbg_emulator.accounts import Accounts
from scale_cluster import Nginx, Postgres, Server, db_upgrade, server_env


def image(n: int) -> bytes:
    im = Image.new("RGB", (160, 120), (230, 230, 230))
    ImageDraw.Draw(im).ellipse((48, 18, 112, 102), fill=(40 + n % 200, 40 + (n // 200) % 200, 160))
    b = io.BytesIO()
    im.save(b, "PNG")
    return b.getvalue()


class Counter:
    def __init__(self, start: int) -> None:
        self.n = start
        self.lock = threading.Lock()

    def next(self) -> int:
        with self.lock:
            self.n += 1
            return self.n


def load(url: str, key: str, clients: int, seconds: float, counter: Counter) -> tuple[int, int, list[str]]:
    """Closed-loop clients for ``seconds``; returns (results, errors, request ids of the results)."""
    ok: list[str] = []
    bad = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client() -> None:
        with httpx.Client(timeout=120) as c:
            while time.monotonic() < stop:
                r = c.post(f"{url}/removebg", headers={"X-Api-Key": key},
                           files={"image_file": image(counter.next())}, data={"size": "preview"})
                with lock:
                    if r.status_code == 200:
                        ok.append(r.headers["X-Request-Id"])
                    else:
                        bad[0] += 1

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(ok), bad[0], ok


def db_times(logs: list[Path], ids: set[str]) -> list[float]:
    out = []
    pat = re.compile(r" db=([0-9.]+)ms id=([0-9a-f]+)")
    for p in logs:
        for m in pat.finditer(p.read_text(errors="replace")):
            if m.group(2) in ids:
                out.append(float(m.group(1)))
    return out


def cpu() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    except OSError:
        return "unknown"
    model = re.search(r"Model name:\s*(.+)", out)
    cpus = re.search(r"^CPU\(s\):\s*(\d+)", out, re.MULTILINE)
    flags = re.search(r"Flags:\s*(.+)", out)
    f = set(flags.group(1).split()) if flags else set()
    extra = ", ".join(x for x in ("avx512_bf16", "avx512_vnni", "amx_bf16", "amx_int8") if x in f)
    return f"{model.group(1) if model else '?'} ({cpus.group(1) if cpus else '?'} CPUs; {extra})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=12.0)
    ap.add_argument("--clients", type=int, default=6)
    ap.add_argument("--preview-model-size", type=int, default=320,
                    help="OPENBG_PREVIEW_MODEL_SIZE of every server (smaller: the model dominates less)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="openbg-bench-scale-") as d:
        root = Path(d)
        pg = Postgres(root / "pg").init(preload="pg_stat_statements")
        pg.psql("CREATE EXTENSION pg_stat_statements")
        servers: list[Server] = []
        nginx = None
        try:
            common = {"OPENBG_MASK_CACHE_MB": "0", "OPENBG_QUEUE": "64", "OPENBG_RATE_LIMIT": "1000000",
                      "OPENBG_PREVIEW_MODEL_SIZE": str(args.preview_model_size)}
            # three processes on one machine: one thread each for the model and the steps after it (docs/deploy.md)
            env_b = server_env(root / "state-b", pg.url, OPENBG_WORKERS="1", OPENBG_THREADS="1",
                               OPENBG_PARALLEL_STEPS="0", **common)
            db_upgrade(env_b)
            env_a = server_env(root / "state-a", "", OPENBG_WORKERS="3", **common)
            env_a.pop("OPENBG_DATABASE_URL")
            one = Server(root, "one", env_a)
            env_c = server_env(root / "state-c", pg.url, OPENBG_WORKERS="3", **common)
            one_pg = Server(root, "one-pg", env_c)
            servers = [Server(root, f"pg{i}", env_b) for i in range(3)] + [one, one_pg]
            for s in servers:
                s.start()
            for s in servers:
                s.wait_ready()
            nginx = Nginx(root, [f"127.0.0.1:{s.port}" for s in servers[:3]])
            nginx.start()
            acc_a = Accounts(f"sqlite:///{root / 'state-a' / 'openbg.db'}")
            acc_b = Accounts(pg.url)
            key_a = acc_a.create_key("bench", credits=1_000_000, free_calls=0)[0]
            key_b = acc_b.create_key("bench", credits=1_000_000, free_calls=0)[0]
            key_c = acc_b.create_key("bench-c", credits=1_000_000, free_calls=0)[0]
            sides = {"A: 1 server x 3 workers (SQLite)": (one.root_url + "/v1.0", key_a, [one.log_path]),
                     "B: 3 servers x 1 worker + nginx + PostgreSQL": (nginx.url + "/v1.0", key_b,
                                                                       [s.log_path for s in servers[:3]]),
                     "C: 1 server x 3 workers (PostgreSQL)": (one_pg.root_url + "/v1.0", key_c, [one_pg.log_path])}
            counter = Counter(0)
            for url, key, _ in sides.values():  # warm-up: every process past its first requests
                load(url, key, args.clients, 3, counter)
            results: dict[str, dict[str, list[float]]] = {k: {"rps": [], "db": [], "pg": []} for k in sides}
            for rnd in range(args.rounds):
                for name, (url, key, logs) in sides.items():
                    pg.psql("SELECT pg_stat_statements_reset()")
                    t0 = time.monotonic()
                    n, bad, ids = load(url, key, args.clients, args.seconds, counter)
                    dt = time.monotonic() - t0
                    if "PostgreSQL" in name:  # the server's own time for every statement (COMMIT included)
                        total = float(pg.psql("SELECT coalesce(sum(total_exec_time + total_plan_time), 0) "
                                              "FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat_statements%'"))
                        results[name]["pg"].append(total / max(1, n + bad))
                    results[name]["rps"].append(n / dt)
                    time.sleep(0.5)
                    results[name]["db"].extend(db_times(logs, set(ids)))
                    print(f"round {rnd + 1} {name}: {n / dt:.2f} req/s ({n} results, {bad} errors)", flush=True)
            light: dict[str, list[float]] = {}
            for name, (url, key, logs) in sides.items():  # the database alone: GET /account, one at a time
                ids = []
                with httpx.Client(timeout=30) as c:
                    for _ in range(100):
                        ids.append(c.get(f"{url}/account", headers={"X-Api-Key": key}).headers["X-Request-Id"])
                time.sleep(0.5)
                light[name] = sorted(db_times(logs, set(ids)))
            print(f"\nCPU: {cpu()}; {args.clients} clients, {args.rounds} rounds x {args.seconds:g} s per side, "
                  "160x120 PNG previews, "
                  f"preview model input {args.preview_model_size}, mask cache off")
            print(f"{'side':<48} {'req/s (median)':>15} {'db ms median':>13} {'db ms p90':>10} "
                  f"{'db ms /account':>15} {'pg server ms':>12}")
            table = {}
            for name, r in results.items():
                rps = statistics.median(r["rps"])
                dbs = sorted(r["db"])
                med = statistics.median(dbs) if dbs else float("nan")
                p90 = dbs[int(len(dbs) * 0.9)] if dbs else float("nan")
                acc_ms = statistics.median(light[name]) if light[name] else float("nan")
                pg_ms = statistics.median(r["pg"]) if r["pg"] else float("nan")
                table[name] = {"rps": r["rps"], "rps_median": rps, "db_ms_median": med, "db_ms_p90": p90,
                               "requests_timed": len(dbs), "db_ms_account_unloaded": acc_ms,
                               "pg_server_ms_per_request": pg_ms}
                print(f"{name:<48} {rps:>15.2f} {med:>13.2f} {p90:>10.2f} {acc_ms:>15.2f} {pg_ms:>12.2f}")
            names = list(sides)
            a, b = table[names[0]]["rps_median"], table[names[1]]["rps_median"]
            ratios = [rb / ra for ra, rb in zip(results[names[0]]["rps"], results[names[1]]["rps"], strict=True)]
            ratios_c = [rc / ra for ra, rc in zip(results[names[0]]["rps"], results[names[2]]["rps"], strict=True)]
            print(f"\nratio B/A (median of the per-round ratios): {statistics.median(ratios):.3f} "
                  f"(rounds {', '.join(f'{x:.3f}' for x in ratios)}); target >= 0.95")
            print(f"ratio C/A (the store alone: PostgreSQL vs SQLite, one process): {statistics.median(ratios_c):.3f} "
                  f"(rounds {', '.join(f'{x:.3f}' for x in ratios_c)})")
            tb = table[list(sides)[1]]
            print(f"PostgreSQL time per request (side B, median): {tb['pg_server_ms_per_request']:.2f} ms in the "
                  f"PostgreSQL server (pg_stat_statements); {tb['db_ms_median']:.2f} ms wall time of the server's "
                  f"database calls under load; {tb['db_ms_account_unloaded']:.2f} ms for /account alone; "
                  "target <= 5 ms")
            if args.json:
                args.json.write_text(json.dumps({"cpu": cpu(), "table": table, "ratios": ratios, "ratios_c": ratios_c,
                                                 "ratio_of_medians": b / a}, indent=2))
            acc_a.close()
            acc_b.close()
        finally:
            if nginx is not None:
                nginx.stop()
            for s in servers:
                s.stop()
            pg.stop("immediate")


if __name__ == "__main__":
    main()
