#!/usr/bin/env python
"""Load test of the emulator (issue 9): bounded, loopback only, stops by itself.

Starts its own ``openbg serve`` on 127.0.0.1 (temporary state dir; or ``--url``/``--key`` for a running
emulator, which must be on a loopback address) and drives it in two phases of equal length:

* ``at``    — ``--clients-at`` concurrent clients (default 2 × workers: every worker busy, queue short);
* ``above`` — ``--clients-above`` clients (default workers + queue + 8: beyond capacity, so 503 expected).

Requests mix image sizes (64×48 … 1600×1200), formats (PNG/JPEG/WebP), output sizes and formats, with a share
of never-seen images (``--fresh``, each costs a real inference; the rest hit the mask cache), plus /account
and /improve calls. Prints requests served, p50/p95/p99 latency of 200s, 503s, other 5xx (target: none),
transport errors, and the server's RSS over time (target: flat). ``--json FILE`` writes the figures.

    python bench/load.py --duration 600            # the 10-minute hand run
    python bench/load.py --duration 20             # smoke
"""

from __future__ import annotations

import argparse
import io
import ipaddress
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psutil
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]
SIZES = [(64, 48), (320, 240), (800, 600), (1600, 1200)]
FORMATS = ["PNG", "JPEG", "WEBP"]
OUT_SIZES = ["preview", "preview", "full", "auto"]
OUT_FORMATS = ["auto", "png", "jpg", "webp", "zip"]


def make_image(size: tuple[int, int], fmt: str, seed: int) -> bytes:
    rnd = random.Random(seed)
    w, h = size
    im = Image.new("RGB", size, tuple(rnd.randint(200, 250) for _ in range(3)))  # type: ignore[arg-type]
    d = ImageDraw.Draw(im)
    cx, cy = w * rnd.uniform(0.35, 0.65), h * rnd.uniform(0.35, 0.65)
    rx, ry = w * rnd.uniform(0.12, 0.3), h * rnd.uniform(0.2, 0.4)
    d.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=tuple(rnd.randint(20, 180) for _ in range(3)))
    d.rectangle((cx - rx / 3, cy - ry * 1.2, cx + rx / 3, cy - ry * 0.6), fill=(40, 40, rnd.randint(120, 200)))
    b = io.BytesIO()
    im.save(b, fmt, **({"quality": 88} if fmt in ("JPEG", "WEBP") else {}))
    return b.getvalue()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def require_loopback(url: str) -> None:
    host = urlsplit(url).hostname or ""
    try:
        ok = ipaddress.ip_address(host).is_loopback
    except ValueError:
        ok = host == "localhost"
    if not ok:
        sys.exit(f"load.py drives loopback servers only, not {host!r}")


class Server:
    def __init__(self, workers: int, queue: int) -> None:
        sys.path.insert(0, str(REPO / "emulator"))
        from openbg_emulator.accounts import Accounts

        self.tmp = tempfile.TemporaryDirectory(prefix="openbg-load-")
        state = Path(self.tmp.name) / "state"
        state.mkdir()
        self.port = free_port()
        self.root = f"http://127.0.0.1:{self.port}"
        acc = Accounts(f"sqlite:///{state / 'openbg.db'}")
        self.key, _ = acc.create_key("load", credits=10_000_000, free_calls=0, rate_limit=10_000_000)
        acc.close()
        env = {**os.environ, "OPENBG_STATE_DIR": str(state), "OPENBG_WORKERS": str(workers),
               "OPENBG_QUEUE": str(queue), "PYTHONUNBUFFERED": "1"}
        env.pop("OPENBG_DATABASE_URL", None)
        env.pop("OPENBG_ALLOW_PRIVATE_URLS", None)
        env["OPENBG_FETCH_LOOPBACK_ONLY"] = "1"  # nothing this script starts may fetch off the machine
        self.log = open(state / "server.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "openbg_emulator.server_cli", "serve", "--host", "127.0.0.1", "--port",
             str(self.port), "--log-level", "warning"], env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"server exited: {(state / 'server.log').read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.root}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        sys.exit("server not ready after 180 s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()
        self.tmp.cleanup()


@dataclass
class Phase:
    name: str
    clients: int
    statuses: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)  # seconds, 200s of /removebg
    lat_by_size: dict[str, list[float]] = field(default_factory=dict)
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def pct(xs: list[float], p: float) -> float:
    if not xs:
        return float("nan")
    s = sorted(xs)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def client(base: str, key: str, pool: list[tuple[str, bytes]], fresh: float, phase: Phase, deadline: float,
           seed: int, max_requests: int) -> None:
    rnd = random.Random(seed)
    with httpx.Client(headers={"X-Api-Key": key}, timeout=60) as c:
        while time.monotonic() < deadline:
            with phase.lock:
                if phase.requests >= max_requests:
                    return
                phase.requests += 1
            roll = rnd.random()
            t0 = time.monotonic()
            label = "account"
            try:
                if roll < 0.05:
                    r = c.get(f"{base}/account")
                elif roll < 0.10:
                    label = "improve"
                    _, img = rnd.choice(pool)
                    r = c.post(f"{base}/improve", files={"image_file": ("a.png", img, "image/png")})
                else:
                    if rnd.random() < fresh:
                        size, fmt = rnd.choice(SIZES), rnd.choice(FORMATS)
                        label, img = f"{size[0]}x{size[1]}", make_image(size, fmt, rnd.getrandbits(48))
                    else:
                        label, img = rnd.choice(pool)
                    r = c.post(f"{base}/removebg", files={"image_file": ("in", img, "application/octet-stream")},
                               data={"size": rnd.choice(OUT_SIZES), "format": rnd.choice(OUT_FORMATS)})
                status = str(r.status_code)
                if r.status_code == 400:
                    status += ":" + str(r.json()["errors"][0]["code"])
            except httpx.HTTPError as e:
                status = f"transport:{type(e).__name__}"
            dt = time.monotonic() - t0
            with phase.lock:
                phase.statuses[status] += 1
                if status == "200" and label not in ("account", "improve"):
                    phase.latencies.append(dt)
                    phase.lat_by_size.setdefault(label, []).append(dt)
            if status.startswith("503"):
                time.sleep(0.05)  # a polite client would honour Retry-After; this one only pauses briefly


def rss_of(pid: int) -> int:
    try:
        p = psutil.Process(pid)
        return p.memory_info().rss + sum(ch.memory_info().rss for ch in p.children(recursive=True))
    except psutil.Error:
        return 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=600, help="seconds in all (two equal phases); default 600")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--queue", type=int, default=16)
    ap.add_argument("--clients-at", type=int, default=None)
    ap.add_argument("--clients-above", type=int, default=None)
    ap.add_argument("--fresh", type=float, default=0.1, help="share of never-seen images (real inference)")
    ap.add_argument("--warmup", type=float, default=120, help="at most this many seconds warming the image pool")
    ap.add_argument("--max-requests", type=int, default=200_000, help="hard cap on requests per phase")
    ap.add_argument("--rss-every", type=float, default=5.0)
    ap.add_argument("--url", help="a running emulator (loopback only), e.g. http://127.0.0.1:5000")
    ap.add_argument("--key")
    ap.add_argument("--pid", type=int, help="pid of the running emulator (for RSS) with --url")
    ap.add_argument("--json", help="write the figures here")
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the clean-up (stop the server) on SIGTERM
    if a.duration <= 0 or a.duration > 3600:
        sys.exit("--duration must be in (0, 3600]")

    server = None
    if a.url:
        require_loopback(a.url)
        if not a.key:
            sys.exit("--url needs --key")
        root, key, pid = a.url.rstrip("/"), a.key, a.pid
    else:
        t0 = time.monotonic()
        server = Server(a.workers, a.queue)
        print(f"server ready in {time.monotonic() - t0:.1f} s on {server.root}", flush=True)
        root, key, pid = server.root, server.key, server.proc.pid
    base = f"{root}/v1.0"
    clients_at = a.clients_at or 2 * a.workers
    clients_above = a.clients_above or a.workers + a.queue + 8
    pool = [(f"{s[0]}x{s[1]}", make_image(s, f, i)) for i, (s, f) in
            enumerate((s, f) for s in SIZES for f in FORMATS)]

    # Warm the mask cache with the pool (not counted), two at a time, bounded in time.
    t_warm = time.monotonic()
    warm_deadline = t_warm + a.warmup
    todo = list(pool)
    warmed = [0]

    def warm() -> None:
        with httpx.Client(headers={"X-Api-Key": key}, timeout=max(5.0, a.warmup)) as c:
            while todo and time.monotonic() < warm_deadline:
                try:
                    _, img = todo.pop()
                except IndexError:
                    return
                try:
                    c.post(f"{base}/removebg", files={"image_file": ("in", img, "application/octet-stream")})
                    warmed[0] += 1
                except httpx.HTTPError:
                    pass

    ws = [threading.Thread(target=warm, daemon=True) for _ in range(a.workers)]
    for t in ws:
        t.start()
    for t in ws:
        t.join(a.warmup + 60)
    print(f"warm-up: {warmed[0]}/{len(pool)} pool images in {time.monotonic() - t_warm:.0f} s", flush=True)

    rss: list[tuple[float, int]] = []
    stop = threading.Event()
    start = time.monotonic()

    def sample() -> None:
        while not stop.is_set():
            if pid:
                rss.append((time.monotonic() - start, rss_of(pid)))
            stop.wait(a.rss_every)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    phases = [Phase("at", clients_at), Phase("above", clients_above)]
    try:
        for i, ph in enumerate(phases):
            deadline = time.monotonic() + a.duration / 2
            threads = [threading.Thread(target=client, daemon=True,
                                        args=(base, key, pool, a.fresh, ph, deadline, 1000 * i + n,
                                              a.max_requests)) for n in range(ph.clients)]
            t_phase = time.monotonic()
            for t in threads:
                t.start()
            for t in threads:
                t.join(max(1.0, deadline - time.monotonic()) + 90)
            ph_elapsed = time.monotonic() - t_phase
            ph.statuses["_elapsed_s"] = int(ph_elapsed)
            print(f"phase {ph.name}: done in {ph_elapsed:.0f} s", flush=True)
        alive = httpx.get(f"{root}/healthz", timeout=10).status_code == 200
    finally:
        stop.set()
        sampler.join(10)
        if server is not None:
            server.stop()

    out: dict[str, object] = {"duration_s": a.duration, "workers": a.workers, "queue": a.queue,
                              "fresh": a.fresh, "warmed": warmed[0], "pool": len(pool), "alive_after": alive,
                              "load_average_after": os.getloadavg(), "cpus": os.cpu_count(), "phases": {}}
    print(f"\n{'phase':<6} {'clients':>7} {'requests':>8} {'req/s':>6} {'200':>6} {'p50 s':>6} {'p95 s':>6} "
          f"{'p99 s':>6} {'503':>5} {'5xx other':>9} {'transport':>9}")
    for ph in phases:
        el = max(1, ph.statuses.pop("_elapsed_s", 1))
        total = sum(ph.statuses.values())
        ok = sum(v for k, v in ph.statuses.items() if k == "200")
        n503 = ph.statuses.get("503", 0)
        other5 = sum(v for k, v in ph.statuses.items() if k.startswith("5") and k != "503")
        transport = sum(v for k, v in ph.statuses.items() if k.startswith("transport"))
        print(f"{ph.name:<6} {ph.clients:>7} {total:>8} {total / el:>6.2f} {ok:>6} {pct(ph.latencies, 50):>6.2f} "
              f"{pct(ph.latencies, 95):>6.2f} {pct(ph.latencies, 99):>6.2f} {n503:>5} {other5:>9} {transport:>9}")
        out["phases"][ph.name] = {  # type: ignore[index]
            "clients": ph.clients, "requests": total, "elapsed_s": el, "statuses": dict(ph.statuses),
            "p50_s": pct(ph.latencies, 50), "p95_s": pct(ph.latencies, 95), "p99_s": pct(ph.latencies, 99),
            "by_input_size": {k: {"n": len(v), "p50_s": pct(v, 50), "p95_s": pct(v, 95)}
                              for k, v in sorted(ph.lat_by_size.items())},
            "503": n503, "other_5xx": other5, "transport_errors": transport,
        }
        print("        statuses:", dict(sorted(ph.statuses.items())))
    if rss:
        mb = [(t, r / 2**20) for t, r in rss]
        n = len(mb)
        q = [mb[min(n - 1, int(i * (n - 1) / 10))] for i in range(11)]
        print("\nRSS (MiB) over time:", "  ".join(f"{t:.0f}s:{r:.0f}" for t, r in q))
        half = [r for t, r in mb if t >= a.duration / 2]
        out["rss_mib"] = {"samples": [[round(t, 1), round(r, 1)] for t, r in mb], "start": mb[0][1],
                          "max": max(r for _, r in mb), "end": mb[-1][1],
                          "second_phase_min": min(half) if half else None,
                          "second_phase_max": max(half) if half else None}
        print(f"RSS start {mb[0][1]:.0f}  max {max(r for _, r in mb):.0f}  end {mb[-1][1]:.0f} MiB")
    print(f"server alive after the run: {alive}")
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
