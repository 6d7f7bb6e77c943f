"""Three servers behind nginx sharing PostgreSQL vs one server with the same total workers (issue 19).

    .venv/bin/python bench/scale.py                        # 20 pairs of 4 s rounds, 6 clients
    .venv/bin/python bench/scale.py --pairs 8 --seconds 3 --with-c

All sides run for the whole benchmark and are loaded one at a time in many short rounds, interleaved
A, B, B, A, A, B, … (each pair in alternating order, so neither side always follows the other). Side A: one
``openbg serve --workers 3`` on its default SQLite state, clients talking to it directly. Side B: three
``openbg serve --workers 1`` sharing one PostgreSQL 15
(Debian's binaries, in a temporary folder) behind nginx (``deploy/nginx/openbg.conf``, least_conn).
``--with-c`` adds side C: the one server of A on PostgreSQL (what the shared store alone costs).
Every server runs its workers with ``OPENBG_THREADS=1`` and ``OPENBG_PARALLEL_STEPS=0`` (three workers on
two cores; ``--a-default-threads`` gives A the engine's defaults instead), so the sides differ only in
processes, nginx and the shared store. Every request is a ``size=preview`` removal of a small synthetic image (160x120 PNG) that no server has seen
(a fresh colour per request, so no mask-cache hits): the model runs every time, at its preview input size.

Two measures per round, both reported with the median over rounds and a bootstrap 95 % confidence interval
(resampling the A/B pairs):

* **throughput**: results completed inside the round's window per second; the ratio B/A per pair;
* **CPU time per request**: user+sys of the side's processes (``/proc/PID/stat``, threads included) during the
  round, divided by its results: for A the server; for B the three servers, plus nginx and every PostgreSQL
  process (reported apart). CPU time hardly depends on what else the machine is doing, so it is the
  noise-robust measure of what sharing state costs; throughput is what users see.

Each round also records the CPU that other programs used meanwhile (``/proc/stat`` busy time minus the sides'
own; the machine's busy cores are reported too): rounds where that exceeds ``--quiet-cpu`` (default 10 % of one core) are reported apart, and the ratio
is given over the quiet pairs too.

PostgreSQL time per request is measured twice: inside PostgreSQL (pg_stat_statements: execution and planning
time of every statement, COMMIT included, per request of the round), and as the servers' own figure: the
access log's ``db=`` field, the wall time of the request's account-database calls (authentication, rate-limit
window, credit check, charge). Prints the CPU (lscpu) and a table; ``--json FILE`` saves everything.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
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
from scale_cluster import Nginx, Postgres, Server, db_upgrade, server_env, start_all


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


def load(url: str | list[str], key: str, clients: int, seconds: float,
         counter: Counter) -> tuple[int, int, list[str], float]:
    """Closed-loop clients for ``seconds`` (with a list of URLs, client i talks to URL i mod n); returns (results
    inside the window, errors, request ids of all results, seconds until the last in-flight request ended)."""
    urls = [url] if isinstance(url, str) else url
    ok: list[tuple[float, str]] = []
    bad = [0]
    lock = threading.Lock()
    t0 = time.monotonic()
    stop = t0 + seconds

    def client(i: int) -> None:
        with httpx.Client(timeout=120) as c:
            while time.monotonic() < stop:
                r = c.post(f"{urls[i % len(urls)]}/removebg", headers={"X-Api-Key": key},
                           files={"image_file": image(counter.next())}, data={"size": "preview"})
                with lock:
                    if r.status_code == 200:
                        ok.append((time.monotonic(), r.headers["X-Request-Id"]))
                    else:
                        bad[0] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    inside = sum(1 for t, _ in ok if t <= stop)
    return inside, bad[0], [i for _, i in ok], time.monotonic() - t0


TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid: int, children: bool = False) -> float:
    """CPU seconds (user+sys, all threads) of one process; with ``children``, of its reaped children too."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks / TICK


def pids_of(parent: int) -> list[int]:
    """``parent`` and its child processes (PostgreSQL's backends, nginx's workers)."""
    out = [parent]
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == parent:
                out.append(int(d.name))
    return out


def group_cpu(parent: int) -> float:
    return sum(proc_cpu(p, children=(p == parent)) for p in pids_of(parent))


def machine_busy() -> float:
    """CPU seconds the whole machine spent busy (all cores), from /proc/stat."""
    v = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)  # idle + iowait
    return (sum(v[:8]) - idle) / TICK


def bootstrap_ci(values: list[float], stat=statistics.median, n: int = 4000,  # type: ignore[no-untyped-def]
                 seed: int = 19) -> tuple[float, float]:
    if len(values) < 2:
        return float("nan"), float("nan")
    rng = random.Random(seed)
    est = sorted(stat([rng.choice(values) for _ in values]) for _ in range(n))
    return est[int(0.025 * n)], est[int(0.975 * n) - 1]


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


def pg_postmaster(pg: Postgres) -> int:
    return int((pg.data / "postmaster.pid").read_text().split()[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", type=int, default=20, help="A/B round pairs")
    ap.add_argument("--seconds", type=float, default=4.0, help="seconds per round")
    ap.add_argument("--clients", type=int, default=6)
    ap.add_argument("--with-c", action="store_true", help="also side C: one server with 3 workers on PostgreSQL")
    ap.add_argument("--with-d", action="store_true",
                    help="also side D: B's three servers without nginx, each client talking to one of them")
    ap.add_argument("--quiet-cpu", type=float, default=0.10,
                    help="a round is quiet when other programs used at most this many cores on average")
    ap.add_argument("--preview-model-size", type=int, default=320,
                    help="OPENBG_PREVIEW_MODEL_SIZE of every server (smaller: the model dominates less)")
    ap.add_argument("--a-default-threads", action="store_true",
                    help="side A (and C) with the engine's default threads instead of OPENBG_THREADS=1")
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
            # three workers on two cores: one thread each for the model and the steps after it (docs/deploy.md),
            # on both sides, so that they differ only in processes, nginx and the shared store
            # (--a-default-threads: side A with the engine's default threads instead, as runs before 2026-12-03 did)
            if not args.a_default_threads:
                common |= {"OPENBG_THREADS": "1", "OPENBG_PARALLEL_STEPS": "0"}
            env_b = server_env(root / "state-b", pg.url, OPENBG_WORKERS="1", OPENBG_THREADS="1",
                               OPENBG_PARALLEL_STEPS="0", **{k: v for k, v in common.items()
                                                             if k not in ("OPENBG_THREADS", "OPENBG_PARALLEL_STEPS")})
            db_upgrade(env_b)
            env_a = server_env(root / "state-a", "", OPENBG_WORKERS="3", **common)
            env_a.pop("OPENBG_DATABASE_URL")
            one = Server(root, "one", env_a)
            servers = [Server(root, f"pg{i}", env_b) for i in range(3)] + [one]
            if args.with_c:
                servers.append(Server(root, "one-pg", server_env(root / "state-c", pg.url, OPENBG_WORKERS="3",
                                                                 **common)))
            start_all(servers)
            nginx = Nginx(root, [s.address for s in servers[:3]])
            nginx.start()
            assert nginx.proc is not None
            acc_a = Accounts(f"sqlite:///{root / 'state-a' / 'openbg.db'}")
            acc_b = Accounts(pg.url)
            key_a = acc_a.create_key("bench", credits=1_000_000, free_calls=0)[0]
            key_b = acc_b.create_key("bench", credits=1_000_000, free_calls=0)[0]
            postmaster = pg_postmaster(pg)

            def pid(s: Server) -> int:
                assert s.proc is not None
                return s.proc.pid

            # name -> (url, key, logs, server pids, helper process groups (nginx, PostgreSQL))
            sides: dict[str, tuple[str | list[str], str, list[Path], list[int], list[int]]] = {
                "A": (one.root_url + "/v1.0", key_a, [one.log_path], [pid(one)], []),
                "B": (nginx.url + "/v1.0", key_b, [s.log_path for s in servers[:3]], [pid(s) for s in servers[:3]],
                      [nginx.proc.pid, postmaster]),
            }
            if args.with_c:
                c = servers[4]
                sides["C"] = (c.root_url + "/v1.0", acc_b.create_key("bench-c", credits=1_000_000, free_calls=0)[0],
                              [c.log_path], [pid(c)], [postmaster])
            if args.with_d:
                sides["D"] = ([s.root_url + "/v1.0" for s in servers[:3]], key_b, [s.log_path for s in servers[:3]],
                              [pid(s) for s in servers[:3]], [postmaster])
            label = {"A": "A: 1 server x 3 workers (SQLite)", "B": "B: 3 servers x 1 worker + nginx + PostgreSQL",
                     "C": "C: 1 server x 3 workers (PostgreSQL)",
                     "D": "D: B's 3 servers + PostgreSQL, no nginx"}
            counter = Counter(0)
            for url, key, *_ in sides.values():  # warm-up: every process past its first requests
                load(url, key, args.clients, 3, counter)
            rounds: list[dict[str, object]] = []
            for pair in range(args.pairs):
                order = list(sides) if pair % 2 == 0 else list(reversed(sides))
                for name in order:
                    url, key, logs, spids, helpers = sides[name]
                    if "PostgreSQL" in label[name]:
                        pg.psql("SELECT pg_stat_statements_reset()")
                    cpu0 = [proc_cpu(p) for p in spids]
                    help0 = [group_cpu(h) for h in helpers]
                    all0, me0 = machine_busy(), proc_cpu(os.getpid())
                    n, bad, ids, wall = load(url, key, args.clients, args.seconds, counter)
                    cpu1 = [proc_cpu(p) for p in spids]
                    help1 = [group_cpu(h) for h in helpers]
                    all1, me1 = machine_busy(), proc_cpu(os.getpid())
                    server_cpu = sum(cpu1) - sum(cpu0)
                    helper_cpu = sum(help1) - sum(help0)
                    # other programs: the machine's busy time minus the side's processes and this benchmark's
                    # own client threads
                    other = (all1 - all0) - server_cpu - helper_cpu - (me1 - me0)
                    rec: dict[str, object] = {
                        "pair": pair, "side": name, "rps": n / args.seconds, "results": len(ids), "errors": bad,
                        "server_cpu_ms": 1000 * server_cpu / max(1, len(ids)),
                        "helper_cpu_ms": 1000 * helper_cpu / max(1, len(ids)),
                        "other_cores": other / wall, "wall_s": wall, "client_cpu_ms": 1000 * (me1 - me0) / max(1, len(ids)),
                        "busy_cores": (all1 - all0) / wall,
                    }
                    if "PostgreSQL" in label[name]:
                        total = float(pg.psql("SELECT coalesce(sum(total_exec_time + total_plan_time), 0) "
                                              "FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat_statements%'"))
                        rec["pg_ms"] = total / max(1, len(ids) + bad)
                    time.sleep(0.3)
                    rec["db_ms"] = db_times(logs, set(ids))
                    rounds.append(rec)
                    print(f"pair {pair + 1:>2} {name}: {rec['rps']:.2f} req/s, CPU/request {rec['server_cpu_ms']:.0f} "
                          f"+ {rec['helper_cpu_ms']:.0f} ms, other programs {rec['other_cores']:.2f} cores"
                          f"{f' ({bad} errors)' if bad else ''}", flush=True)
            report(args, sides, label, rounds)
            acc_a.close()
            acc_b.close()
        finally:
            if nginx is not None:
                nginx.stop()
            for s in servers:
                s.stop()
            pg.stop("immediate")


def report(args: argparse.Namespace, sides: dict[str, object], label: dict[str, str],
           rounds: list[dict[str, object]]) -> None:
    def of(side: str, field: str) -> list[float]:
        return [float(r[field]) for r in rounds if r["side"] == side and field in r]  # type: ignore[arg-type]

    def by_pair(side: str) -> dict[int, dict[str, object]]:
        return {int(r["pair"]): r for r in rounds if r["side"] == side}  # type: ignore[call-overload]

    def fmt_ci(v: float, ci: tuple[float, float], digits: int = 3) -> str:
        return f"{v:.{digits}f} [{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"

    med = statistics.median
    print(f"\nCPU: {cpu()}; {args.clients} clients, {args.pairs} pairs of {args.seconds:g} s rounds, 160x120 PNG "
          f"previews, preview model input {args.preview_model_size}, mask cache off")
    print(f"{'side':<48} {'req/s':>24} {'server CPU ms/req':>26} {'+ nginx, PG':>12} {'db ms':>7} {'pg ms':>6} "
          f"{'cores busy':>10}")
    table: dict[str, dict[str, object]] = {}
    for name in sides:
        rps, cpu_ms, helper = of(name, "rps"), of(name, "server_cpu_ms"), of(name, "helper_cpu_ms")
        dbs = sorted(x for r in rounds if r["side"] == name for x in r["db_ms"])  # type: ignore[attr-defined]
        pg_ms = of(name, "pg_ms")
        table[name] = {
            "rps_median": med(rps), "rps_ci": bootstrap_ci(rps),
            "server_cpu_ms_median": med(cpu_ms), "server_cpu_ms_ci": bootstrap_ci(cpu_ms),
            "helper_cpu_ms_median": med(helper), "db_ms_median": med(dbs) if dbs else None,
            "db_ms_p90": dbs[int(len(dbs) * 0.9)] if dbs else None,
            "pg_ms_median": med(pg_ms) if pg_ms else None, "pg_ms_ci": bootstrap_ci(pg_ms) if pg_ms else None,
            "busy_cores_median": med(of(name, "busy_cores")),
        }
        t = table[name]
        print(f"{label[name]:<48} {fmt_ci(med(rps), bootstrap_ci(rps), 2):>24} "
              f"{fmt_ci(med(cpu_ms), bootstrap_ci(cpu_ms), 0):>26} {med(helper):>12.0f} "
              f"{t['db_ms_median'] or float('nan'):>7.2f} {t['pg_ms_median'] or float('nan'):>6.2f} "
              f"{med(of(name, 'busy_cores')):>10.2f}")
    a, b = by_pair("A"), by_pair("B")
    pairs = sorted(set(a) & set(b))
    ratio = [float(b[p]["rps"]) / float(a[p]["rps"]) for p in pairs]  # type: ignore[arg-type]
    cpu_ratio = [float(a[p]["server_cpu_ms"]) / (float(b[p]["server_cpu_ms"]) + float(b[p]["helper_cpu_ms"]))  # type: ignore[arg-type]
                 for p in pairs]
    quiet = [p for p in pairs if max(float(a[p]["other_cores"]), float(b[p]["other_cores"])) <= args.quiet_cpu]  # type: ignore[arg-type]
    ratio_q = [float(b[p]["rps"]) / float(a[p]["rps"]) for p in quiet]  # type: ignore[arg-type]
    sum_ratio = sum(float(b[p]["rps"]) for p in pairs) / sum(float(a[p]["rps"]) for p in pairs)  # type: ignore[arg-type]

    def ratio_of_sums(ps: list[int]) -> float:
        return sum(float(b[p]["rps"]) for p in ps) / sum(float(a[p]["rps"]) for p in ps)  # type: ignore[arg-type]

    print(f"\nthroughput B/A per pair: median {fmt_ci(med(ratio), bootstrap_ci(ratio))} (95 % bootstrap CI); "
          f"rounds {min(ratio):.2f}-{max(ratio):.2f}; ratio of total throughput {sum_ratio:.3f} "
          f"[{', '.join(f'{x:.3f}' for x in bootstrap_ci(pairs, ratio_of_sums))}]; target >= 0.95")
    if quiet:
        print(f"  over the {len(quiet)} quiet pairs (other programs <= {args.quiet_cpu:g} cores): median "
              f"{fmt_ci(med(ratio_q), bootstrap_ci(ratio_q))}")
    else:
        print(f"  no quiet pairs (other programs <= {args.quiet_cpu:g} cores in both rounds)")
    print(f"CPU time per request A / (B incl. nginx and PostgreSQL): median {fmt_ci(med(cpu_ratio), bootstrap_ci(cpu_ratio))}"
          " (1.0: B costs the same CPU per result; the throughput B can reach on a saturated machine)")
    for other in [x for x in sides if x not in ("A", "B")]:
        o = by_pair(other)
        ps = sorted(set(a) & set(o))
        r_o = [float(o[p]["rps"]) / float(a[p]["rps"]) for p in ps]  # type: ignore[arg-type]
        c_o = [float(a[p]["server_cpu_ms"]) / (float(o[p]["server_cpu_ms"]) + float(o[p]["helper_cpu_ms"]))  # type: ignore[arg-type]
               for p in ps]
        print(f"{label[other]}: throughput {other}/A median {fmt_ci(med(r_o), bootstrap_ci(r_o))}, "
              f"CPU per request A/{other} {fmt_ci(med(c_o), bootstrap_ci(c_o))}")
        table[other]["ratio_to_a"] = r_o
    tb = table["B"]
    print(f"PostgreSQL time per request (side B): median {tb['pg_ms_median']:.2f} ms inside PostgreSQL "
          f"(pg_stat_statements, CI [{', '.join(f'{x:.2f}' for x in tb['pg_ms_ci'])}]); "  # type: ignore[union-attr]
          f"{tb['db_ms_median']:.2f} ms wall time of the server's "
          "database calls under load; target <= 5 ms")
    if args.json:
        args.json.write_text(json.dumps({"cpu": cpu(), "args": vars(args) | {"json": str(args.json)},
                                         "table": table, "ratios": ratio, "quiet_pairs": quiet,
                                         "cpu_ratios": cpu_ratio, "rounds": rounds}, indent=2, default=str))


if __name__ == "__main__":
    main()
