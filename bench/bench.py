"""openbg performance benchmark (issue 7): warm medians, all sides measured alternately in one run.

    .venv/bin/python bench/bench.py                 # the full table (several minutes on 2 cores)
    .venv/bin/python bench/bench.py --repeat 5 --cases engine-12mp-zip,http-12mp-zip,bare-medium-1024
    .venv/bin/python bench/bench.py --memory        # + RSS after 500 mixed requests vs after 50
    .venv/bin/python bench/bench.py --smoke         # tiny images and counts (CI: proves it runs)

Timed cases run round-robin (case A, B, C, A, B, C, …) in this one process, so a ratio compares
medians taken under the same machine load. ``engine-*`` call ``Engine.remove`` with
the mask cache off (every run pays the model); ``http-*`` send the same image and options through
``openbg.RemoveBg`` to an ``openbg serve`` subprocess on 127.0.0.1 (temporary state dir, mask cache
off, a key with plenty of credits); ``rembg-*`` call ``rembg.remove`` with a ``dis_custom`` session on
the same ONNX file (rembg is optional: ``pip install rembg``; without it those rows read n/a).

``bare-{ort,ov-f32,ov-bf16}-{1024,640}``: the same derived model on ONNX Runtime fp32 and OpenVINO f32/bf16
(bf16 rows only where the CPU has bf16); ``startup``: ``openbg serve`` → /readyz on a fresh OPENBG_HOME (cold:
OpenVINO compiles) and again (warm: its cache), both runtimes; ``clients-8-onnxruntime``: the 8-client load on
an ONNX Runtime server; ``rss-50mp-onnxruntime``: the 50 MP peak RSS with ONNX Runtime.

Peak RSS: every engine case runs once more in a child process of its own (``ru_maxrss``: model
loaded + that one request); HTTP cases report the server's peak RSS sampled (psutil) while they ran.

Test images are made here (scikit-image samples scaled up, light noise so JPEG sizes look like
photos) in a temporary directory; ``--photos DIR`` takes real photos instead (the first ones found), and
``--image 12mp=FILE`` (also ``preview=``, ``50mp=``) takes that file as it is. ``--rss-child`` reports the
runtime's own memory apart: its libraries and OpenVINO's compiled-model cache, both mapped from disk.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
MB = 1024 * 1024

# --------------------------------------------------------------------------- test images
SIZES_FULL = {"preview": 0.3, "12mp": 12.0, "50mp": 49.5}
SIZES_SMOKE = {"preview": 0.3, "12mp": 0.8, "50mp": 1.5}


def _jpeg(arr: np.ndarray, quality: int = 92) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def make_image(megapixels: float, seed: int = 0, base: str = "astronaut") -> bytes:
    """A JPEG of about ``megapixels``: a scikit-image sample scaled up, with light noise."""
    import cv2
    from skimage import data as skd

    src = getattr(skd, base)()
    if src.ndim == 2:
        src = np.stack([src] * 3, -1)
    src = np.ascontiguousarray(src[..., :3])
    h, w = src.shape[:2]
    s = (megapixels * 1e6 / (w * h)) ** 0.5
    size = (max(8, round(w * s)), max(8, round(h * s)))
    im = cv2.resize(src, size, interpolation=cv2.INTER_CUBIC)
    rng = np.random.default_rng(seed)
    noise = rng.integers(-4, 5, size=im.shape, dtype=np.int16)
    im = np.clip(im.astype(np.int16) + noise, 0, 255).astype(np.uint8)
    return _jpeg(im)


def photo_image(photos: Path, megapixels: float, index: int = 0) -> bytes:
    """A real photo from ``photos`` resampled to about ``megapixels`` (read only)."""
    import cv2
    from PIL import Image

    files = sorted(p for p in photos.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    im = np.asarray(Image.open(files[index % len(files)]).convert("RGB"))
    h, w = im.shape[:2]
    s = (megapixels * 1e6 / (w * h)) ** 0.5
    im = cv2.resize(im, (round(w * s), round(h * s)), interpolation=cv2.INTER_CUBIC if s > 1 else cv2.INTER_AREA)
    return _jpeg(im)


def vary(data: bytes, i: int) -> bytes:
    """The same JPEG with another content hash (bytes after EOI are ignored by decoders)."""
    return data + b"\0openbg-bench-" + str(i).encode()


# --------------------------------------------------------------------------- measurement
@dataclass
class Case:
    name: str
    group: str  # bare | engine | http | rembg
    fn: Callable[[], Any] | None
    note: str = ""
    times: list[float] = field(default_factory=list)
    rss_mb: float | None = None
    skip: str | None = None  # reason when it cannot run
    model_times: list[float] = field(default_factory=list)  # rembg: its session.run, per call

    @property
    def median(self) -> float | None:
        return statistics.median(self.times) if self.times else None


def rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / MB


def maxrss_mb() -> float:
    """Peak RSS of this process image: VmHWM (reset by exec; ``ru_maxrss`` keeps the parent's peak)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``openbg serve`` on a free loopback port, temporary state, a key with 10⁷ credits."""

    def __init__(self, state: Path, env: dict[str, str] | None = None) -> None:
        import httpx
        from openbg_emulator.accounts import Accounts

        state.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1.0"
        e = dict(os.environ)
        e.update({"OPENBG_STATE_DIR": str(state), "OPENBG_RATE_LIMIT": "100000000",
                  "OPENBG_FETCH_LOOPBACK_ONLY": "1", "PYTHONUNBUFFERED": "1"})
        e.pop("OPENBG_DATABASE_URL", None)
        e.update(env or {})
        accounts = Accounts(f"sqlite:///{state / 'openbg.db'}")
        self.api_key, _ = accounts.create_key("bench", credits=10_000_000)
        accounts.close()
        self.log = open(state / "server.log", "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "openbg_emulator.server_cli", "serve", "--host", "127.0.0.1",
             "--port", str(self.port), "--log-level", "warning"],
            env=e, stdout=self.log, stderr=subprocess.STDOUT, cwd=REPO)
        deadline = time.monotonic() + 300
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"openbg serve exited: {(state / 'server.log').read_text()[-2000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("openbg serve not ready after 300 s")
            time.sleep(0.2)
        import psutil

        self.ps = psutil.Process(self.proc.pid)
        self._peak = 0.0
        self._stop = threading.Event()
        # The kernel's own peak (VmHWM, reset through clear_refs) where it can be reset; else sampling
        # every 20 ms — which slowed the server's model runs measurably (~5 %, docs/engineering/performance.md).
        self._hwm = self._reset_hwm()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        if not self._hwm:
            self._sampler.start()

    def _reset_hwm(self) -> bool:
        try:
            Path(f"/proc/{self.proc.pid}/clear_refs").write_text("5")
            return self._vm_hwm() is not None
        except OSError:
            return False

    def _vm_hwm(self) -> float | None:
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return None

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            try:
                self._peak = max(self._peak, self.ps.memory_info().rss / MB)
            except Exception:  # noqa: BLE001 - the server went away
                return

    def rss(self) -> float:
        return float(self.ps.memory_info().rss / MB)

    def reset_peak(self) -> None:
        if self._hwm:
            self._reset_hwm()
        self._peak = self.rss()

    def peak(self) -> float:
        hwm = self._vm_hwm() if self._hwm else None
        return max(self._peak, self.rss(), hwm or 0.0)

    def stop(self) -> None:
        self._stop.set()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()


# --------------------------------------------------------------------------- the cases
ENGINE_CASES: dict[str, tuple[str, dict[str, str]]] = {
    # name: (image, request fields)
    "preview-png": ("preview", {"size": "preview", "format": "png"}),
    "12mp-zip": ("12mp", {"size": "full", "format": "zip"}),
    "12mp-jpg": ("12mp", {"size": "full", "format": "jpg"}),
    "12mp-png": ("12mp", {"size": "full", "format": "png"}),
    "12mp-webp": ("12mp", {"size": "full", "format": "webp"}),
    "50mp-zip": ("50mp", {"size": "full", "format": "zip"}),
    "50mp-png": ("50mp", {"size": "full", "format": "png"}),
}
REMBG_CASES = {"preview": "preview", "12mp": "12mp"}


_ENGINES: dict[tuple[object, ...], Any] = {}


def bench_engine(*, serial: bool = False, runtime: tuple[str, str] | None = None, original: bool = False) -> Any:
    """The :class:`openbg_emulator.engine.Engine` of these settings (one per kind for the whole run):
    ``serial``: OPENBG_PARALLEL_STEPS off; ``runtime``: (OPENBG_RUNTIME, OPENBG_PRECISION) instead of the
    environment's; ``original``: OPENBG_FAST_MODEL=0."""
    from openbg_emulator.engine import Engine
    from openbg_emulator.settings import Settings

    key = (serial, runtime, original)
    if key not in _ENGINES:
        s = Settings.from_env()
        if serial:
            s = s.with_(parallel_steps=False)
        if runtime is not None:
            s = s.with_(runtime=runtime[0], precision=runtime[1])
        if original:
            s = s.with_(fast_model=False)
        _ENGINES[key] = Engine(s)
    return _ENGINES[key]


def engine_call(data: bytes, fields: dict[str, str], *, use_cache: bool = False, serial: bool = False) -> Any:
    """``serial``: OPENBG_PARALLEL_STEPS off for this call (the steps after the model on one core)."""
    from openbg_emulator.options import parse_options

    return bench_engine(serial=serial).remove(data, parse_options({"image_file": data, **fields}),
                                              use_cache=use_cache)


def bare_call(name: str, size: int | None = None, *, original: bool = False,
              runtime: tuple[str, str] | None = None) -> Callable[[], Any]:
    """``Segmenter.predict`` at ``size`` (default: the native 1024) on the session the engine uses (the
    derived fast model), or on the original file (``original``: OPENBG_FAST_MODEL=0); ``runtime``:
    (OPENBG_RUNTIME, OPENBG_PRECISION) instead of the engine's."""
    seg = bench_engine(runtime=runtime, original=original).segmenter(name)
    n = size or seg.input_size[0]
    if not seg.supports(n):
        raise ValueError(f"{seg.name} does not take {n}×{n}")
    x = np.asarray(np.random.default_rng(1).integers(0, 256, (n, n, 3)), np.uint8)
    seg.predict(x)  # load + first run
    return lambda: seg.predict(x)


class TimedSession:
    """Wraps rembg's ``inner_session`` to time its ``run`` (the model) apart from the rest of ``remove``."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.last = 0.0

    def run(self, *a: Any, **k: Any) -> Any:
        t = time.perf_counter()
        try:
            return self.inner.run(*a, **k)
        finally:
            self.last = time.perf_counter() - t

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def rembg_session(model_path: Path, home: Path) -> Any:
    """rembg's ``dis_custom`` session on our ONNX file: rembg only loads models from inside its home
    directory, so the home is a temporary folder holding a link to the file (nothing is downloaded)."""
    home.mkdir(parents=True, exist_ok=True)
    link = home / model_path.name
    if not link.exists():
        link.symlink_to(model_path)
    os.environ["U2NET_HOME"] = os.environ["REMBG_HOME"] = str(home)
    from rembg import new_session

    return new_session("dis_custom", model_path=str(link))


def mapped_mb(*needles: str) -> float:
    """RSS (MB) of this process's file mappings whose path holds one of ``needles`` (/proc/self/smaps)."""
    total, match = 0, False
    try:
        for line in Path("/proc/self/smaps").read_text().splitlines():
            head = line.split(maxsplit=5)
            if len(head) >= 5 and "-" in head[0] and ":" in head[3]:  # a mapping's header line
                match = len(head) == 6 and any(n in head[5] for n in needles)
            elif match and line.startswith("Rss:"):
                total += int(line.split()[1])
    except OSError:
        return 0.0
    return total / 1024.0


def rss_child(case: str, image: Path) -> None:
    """``--rss-child``: load the model, run one engine case, print peak RSS (MB) as JSON, with the
    runtime's own share: its libraries and its compiled-model cache mapped from disk (OpenVINO)."""
    seg = bench_engine().segmenter()
    seg.predict(np.zeros(seg.input_size[::-1] + (3,), np.uint8))
    base = rss_mb()
    data = image.read_bytes()
    _img, fields = ENGINE_CASES[case]
    engine_call(data, fields)
    print(json.dumps({"base_mb": base, "peak_mb": maxrss_mb(), "after_mb": rss_mb(),
                      "openvino_cache_mb": mapped_mb("openvino-cache"), "openvino_libs_mb": mapped_mb("/openvino/"),
                      "onnxruntime_libs_mb": mapped_mb("/onnxruntime/")}))


RSS_DETAIL: dict[str, dict[str, float]] = {}  # case → the child's whole report (runtime's share included)


def measure_rss(case: str, image: Path, env: dict[str, str] | None = None) -> float | None:
    r = subprocess.run([sys.executable, __file__, "--rss-child", case, "--rss-image", str(image)], check=False,
                       capture_output=True, text=True, cwd=REPO, timeout=900, env={**os.environ, **(env or {})})
    if r.returncode != 0:
        print(f"  rss child {case} failed: {r.stderr[-500:]}", file=sys.stderr)
        return None
    rep = json.loads(r.stdout.strip().splitlines()[-1])
    RSS_DETAIL[case + ("-" + "-".join(env.values()) if env else "")] = rep
    return float(rep["peak_mb"])


# --------------------------------------------------------------------------- batch / concurrency / memory
async def async_batch(base_url: str, key: str, images: list[bytes], parallel: int,
                      fields: dict[str, str]) -> tuple[float, list[float]]:
    from openbg import AsyncRemoveBg

    sem = asyncio.Semaphore(parallel)
    lat: list[float] = []
    async with AsyncRemoveBg(key, base_url, timeout=900) as c:

        async def one(img: bytes) -> None:
            async with sem:
                t = time.perf_counter()
                await c.remove_background(img, **fields)  # type: ignore[arg-type]
                lat.append(time.perf_counter() - t)

        t0 = time.perf_counter()
        await asyncio.gather(*(one(i) for i in images))
        return time.perf_counter() - t0, lat


async def concurrent_clients(base_url: str, key: str, image: bytes, clients: int, per_client: int,
                             fields: dict[str, str]) -> dict[str, Any]:
    """``clients`` wrapper clients, each sending ``per_client`` requests back to back."""
    from openbg import AsyncRemoveBg

    done = [0] * clients
    lat: list[float] = []
    start = time.perf_counter()

    async def client(i: int) -> None:
        async with AsyncRemoveBg(key, base_url, timeout=900) as c:
            for j in range(per_client):
                t = time.perf_counter()
                await c.remove_background(vary(image, 10_000 + i * 1000 + j), **fields)  # type: ignore[arg-type]
                lat.append(time.perf_counter() - t)
                done[i] += 1

    await asyncio.gather(*(client(i) for i in range(clients)))
    wall = time.perf_counter() - start
    return {"wall": wall, "done": done, "lat": lat}


async def overflow_burst(base_url: str, key: str, image: bytes, n: int) -> dict[str, int]:
    """``n`` simultaneous raw requests (no retries): how many were answered 503 with Retry-After."""
    import httpx

    out = {"200": 0, "503": 0, "503_retry_after": 0, "other": 0}
    async with httpx.AsyncClient(timeout=900, limits=httpx.Limits(max_connections=n)) as c:

        async def one(i: int) -> None:
            r = await c.post(f"{base_url}/removebg", headers={"X-Api-Key": key},
                             files={"image_file": ("a.jpg", vary(image, 50_000 + i), "image/jpeg")},
                             data={"size": "preview", "format": "png"})
            if r.status_code == 200:
                out["200"] += 1
            elif r.status_code == 503:
                out["503"] += 1
                out["503_retry_after"] += int("retry-after" in r.headers)
            else:
                out["other"] += 1

        await asyncio.gather(*(one(i) for i in range(n)))
    return out


def memory_run(tmp: Path, imgs: dict[str, bytes], total: int, early: int, distinct: int = 8) -> dict[str, float]:
    """RSS of a server (mask cache on, the default) after ``early`` and after ``total`` mixed requests."""
    from openbg import RemoveBg

    srv = Server(tmp / "state-memory")
    try:
        n_big = max(1, distinct // 4)
        variants = ([vary(imgs["preview"], i) for i in range(max(1, distinct - n_big))]
                    + [vary(imgs["12mp"], i) for i in range(n_big)])
        mixes: list[dict[str, Any]] = [
            {"size": "preview", "format": "png"}, {"size": "full", "format": "zip"},
            {"size": "full", "format": "jpg", "bg_color": "81d4fa"}, {"size": "auto", "format": "webp"},
            {"size": "preview", "channels": "alpha"}, {"size": "full", "format": "png", "crop": True},
        ]
        out: dict[str, float] = {"start": srv.rss()}
        with RemoveBg(srv.api_key, srv.base_url, timeout=900) as c:
            for i in range(total):
                img = variants[i % len(variants)] if i % 10 else variants[-1 - (i // 10) % 2]
                c.remove_background(img, **mixes[i % len(mixes)])
                if i + 1 == early:
                    out["after_early"] = srv.rss()
        out["after_total"] = srv.rss()
        out["peak"] = srv.peak()
        return out
    finally:
        srv.stop()


def startup_run(tmp: Path, runtime: str, settle: float = 3.0) -> dict[str, float]:
    """Seconds from ``openbg serve`` to /readyz 200 with a fresh OPENBG_HOME (models linked, no OpenVINO
    cache: cold, the first compile), then again on the same home (warm: from the cache); RSS once ready
    and ``settle`` seconds later."""
    from openbg_emulator.settings import Settings

    home = tmp / f"home-{runtime}"
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "models").exists():
        (home / "models").symlink_to(Settings.from_env().models_dir, target_is_directory=True)
    out: dict[str, float] = {}
    for phase in ("cold", "warm"):
        t = time.perf_counter()
        srv = Server(tmp / f"state-start-{runtime}-{phase}", {"OPENBG_HOME": str(home), "OPENBG_RUNTIME": runtime})
        out[phase] = time.perf_counter() - t
        time.sleep(settle)  # the background warm-up (one small removal, the concurrent sessions) settles
        out[f"{phase}_rss"] = srv.rss()
        srv.stop()
    return out


# --------------------------------------------------------------------------- report
def fmt(v: float | None, unit: str = "") -> str:
    return "n/a" if v is None else f"{v:.3f}{unit}" if v < 100 else f"{v:.0f}{unit}"


def print_table(cases: list[Case], extra: list[tuple[str, str, str]], ratios: list[tuple[str, float | None, str, bool | None]]) -> None:
    print()
    print(f"{'case':<24} {'median s':>9} {'min s':>8} {'n':>3} {'peak RSS MB':>12}  note")
    print("-" * 90)
    for c in cases:
        if c.skip:
            print(f"{c.name:<24} {'n/a':>9} {'':>8} {0:>3} {'':>12}  {c.skip}")
            continue
        mn = min(c.times) if c.times else None
        rss = "" if c.rss_mb is None else f"{c.rss_mb:.0f}"
        print(f"{c.name:<24} {fmt(c.median):>9} {fmt(mn):>8} {len(c.times):>3} {rss:>12}  {c.note}")
    for name, value, note in extra:
        print(f"{name:<24} {value:>9} {'':>8} {'':>3} {'':>12}  {note}")
    print()
    print(f"{'ratio':<46} {'value':>8}  {'target':<12} ok")
    print("-" * 76)
    for name, value, target, ok in ratios:
        oks = "-" if ok is None else ("yes" if ok else "NO")
        print(f"{name:<46} {fmt(value):>8}  {target:<12} {oks}")
    print()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=3, help="timed rounds per case (medians)")
    ap.add_argument("--warmup", type=int, default=1, help="untimed rounds first")
    ap.add_argument("--cases", default="", help="comma list of case names to run (default: all)")
    ap.add_argument("--smoke", action="store_true", help="tiny images and counts (CI)")
    ap.add_argument("--memory", action="store_true", help="also RSS after --memory-total mixed requests")
    ap.add_argument("--memory-total", type=int, default=500)
    ap.add_argument("--memory-early", type=int, default=50)
    ap.add_argument("--batch", type=int, default=40, help="images in the AsyncRemoveBg batch (0: skip)")
    ap.add_argument("--batch-mp", type=float, default=3.0, help="megapixels of each batch image")
    ap.add_argument("--batch-parallel", type=int, default=4)
    ap.add_argument("--clients", type=int, default=8, help="concurrent clients (0: skip)")
    ap.add_argument("--per-client", type=int, default=3)
    ap.add_argument("--burst", type=int, default=12,
                    help="simultaneous raw requests to a 1-worker, 1-slot server (503 check)")
    ap.add_argument("--no-rss", action="store_true", help="skip the per-case child processes for peak RSS")
    ap.add_argument("--no-rembg", action="store_true")
    ap.add_argument("--photos", type=Path, help="take test images from real photos in this folder")
    ap.add_argument("--image", action="append", default=[], metavar="SIZE=FILE",
                    help="use FILE as it is for the preview, 12mp or 50mp image (repeatable; read only)")
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--rss-child", help=argparse.SUPPRESS)
    ap.add_argument("--rss-image", type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)

    if a.rss_child:
        rss_child(a.rss_child, a.rss_image)
        return 0
    if a.smoke:
        a.repeat, a.warmup = 1, 0
        a.batch, a.batch_mp, a.clients, a.per_client, a.burst = 4, 0.3, 8, 1, 6
        a.memory, a.memory_total, a.memory_early = True, 12, 4
    sizes = SIZES_SMOKE if a.smoke else SIZES_FULL
    wanted = {c.strip() for c in a.cases.split(",") if c.strip()}

    def want(name: str) -> bool:
        return not wanted or name in wanted

    from openbg_emulator.model_store import model_path
    from openbg_emulator.settings import Settings

    settings = Settings.from_env()
    seg = bench_engine().segmenter()
    from openbg_emulator.runtime import bf16_support, cpu_model

    print(f"openbg bench: model {seg.name} ({seg.path.name}), {seg.runtime.describe()}, providers "
          f"{seg.providers}, {os.cpu_count()} CPUs ({cpu_model()}; bf16: {bf16_support()[1]}), "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="openbg-bench-") as td:
        tmp = Path(td)
        imgs: dict[str, bytes] = {}
        given = dict(spec.split("=", 1) for spec in a.image)
        if set(given) - set(sizes):
            ap.error(f"--image takes {', '.join(sizes)}=FILE")
        for k, mp in sizes.items():
            if k in given:
                imgs[k] = Path(given[k]).read_bytes()
            else:
                imgs[k] = photo_image(a.photos, mp) if a.photos else make_image(mp, seed=len(imgs))
            (tmp / f"{k}.jpg").write_bytes(imgs[k])
        print("images: " + ", ".join(f"{k} {mp:g} MP {len(imgs[k]) / MB:.1f} MB" for k, mp in sizes.items()),
              flush=True)

        cases: list[Case] = []
        # bare model calls: the floor (only 1024 inputs are used by the engine; the ONNX files are fixed at 1024)
        psize = settings.preview_model_size or 1024
        bare = [("bare-medium-1024", "medium", None, False, "derived model (the engine's session), incl. normalisation"),
                ("bare-medium-orig-1024", "medium", None, True, "original fp16 file, incl. normalisation"),
                (f"bare-medium-{psize}", "medium", psize, False, "derived model at the preview input size"),
                ("bare-small-1024", "small", None, False, "isnet-small (derived when possible)")]
        # the same derived model on each runtime/precision this CPU offers, at 1024 and the preview size
        from openbg_emulator import runtime as rt

        rts = [("ort", ("onnxruntime", "f32")), ("ov-f32", ("openvino", "f32"))]
        if rt.bf16_support()[0]:
            rts.append(("ov-bf16", ("openvino", "bf16")))
        for n in dict.fromkeys((1024, psize)):
            for label, choice in rts:
                cname = f"bare-{label}-{n}"
                if want(cname):
                    try:
                        cases.append(Case(cname, "bare", bare_call("medium", n, runtime=choice),
                                          f"{choice[0]} {choice[1]}, derived model at {n}"))
                    except Exception as e:  # noqa: BLE001 - OpenVINO not installed
                        cases.append(Case(cname, "bare", None, skip=str(e)[:60]))
        for cname, name, size, original, note in bare:
            if not want(cname) or (cname == "bare-medium-1024" and size is not None):
                continue
            if size == 1024:
                continue  # preview input size off: the 1024 row already is the preview's floor
            try:
                cases.append(Case(cname, "bare", bare_call(name, size, original=original), note))
            except Exception as e:  # noqa: BLE001 - a model not installed
                cases.append(Case(cname, "bare", None, skip=str(e)[:60]))
        for name, (img, fields) in ENGINE_CASES.items():
            if want(f"engine-{name}"):
                cases.append(Case(f"engine-{name}", "engine",
                                  lambda d=imgs[img], f=fields: engine_call(d, f), "engine.remove, no mask cache"))
        if want("engine-12mp-zip-serial"):  # the same call with the steps after the model on one core
            cases.append(Case("engine-12mp-zip-serial", "engine",
                              lambda: engine_call(imgs["12mp"], ENGINE_CASES["12mp-zip"][1], serial=True),
                              "engine.remove, no mask cache, OPENBG_PARALLEL_STEPS=0"))
        if want("engine-12mp-zip-cached"):
            engine_call(imgs["12mp"], ENGINE_CASES["12mp-zip"][1], use_cache=True)
            cases.append(Case("engine-12mp-zip-cached", "engine",
                              lambda: engine_call(imgs["12mp"], ENGINE_CASES["12mp-zip"][1], use_cache=True),
                              "mask cache hit (same image, other request)"))

        server = None
        http_names = [n for n in ENGINE_CASES if want(f"http-{n}")]
        need_server = bool(http_names) or (a.batch and want("batch-async")) or (a.clients and want("clients-8"))
        if need_server:
            server = Server(tmp / "state", {"OPENBG_MASK_CACHE_MB": "0"})
            print(f"server: {server.base_url} (pid {server.proc.pid}, mask cache off)", flush=True)
        try:
            client = None
            if http_names:
                from openbg import RemoveBg

                assert server is not None
                client = RemoveBg(server.api_key, server.base_url, timeout=900, retries=0)
                for name in http_names:
                    img, fields = ENGINE_CASES[name]

                    def http_fn(d: bytes = imgs[img], f: dict[str, str] = fields) -> Any:
                        return client.remove_background(d, **f)  # type: ignore[union-attr, arg-type]

                    cases.append(Case(f"http-{name}", "http", http_fn, "RemoveBg → openbg serve (loopback)"))
            if not a.no_rembg:
                try:
                    rs = rembg_session(model_path("medium", settings), tmp / "u2net")
                    rs.inner_session = timed = TimedSession(rs.inner_session)
                    from rembg import remove as rembg_remove
                except Exception as e:  # noqa: BLE001 - rembg not installed
                    rs, skip = None, f"rembg unavailable ({type(e).__name__})"
                for name, img in REMBG_CASES.items():
                    if not want(f"rembg-{name}"):
                        continue
                    if rs is None:
                        cases.append(Case(f"rembg-{name}", "rembg", None, skip=skip))
                    else:
                        rc = Case(f"rembg-{name}", "rembg", None, "rembg.remove(bytes) → PNG, dis_custom, same ONNX")

                        def rembg_fn(d: bytes = imgs[img], c: Case = rc) -> Any:
                            out = rembg_remove(d, session=rs)
                            c.model_times.append(timed.last)
                            return out

                        rc.fn = rembg_fn
                        cases.append(rc)

            # ---- timed rounds, round-robin
            runnable = [c for c in cases if c.fn is not None]
            for rnd in range(a.warmup + a.repeat):
                for c in runnable:
                    if server is not None and c.group == "http":
                        server.reset_peak()
                    t = time.perf_counter()
                    c.fn()  # type: ignore[misc]
                    dt = time.perf_counter() - t
                    if server is not None and c.group == "http":
                        c.rss_mb = max(c.rss_mb or 0.0, server.peak())
                    if rnd >= a.warmup:
                        c.times.append(dt)
                print(f"round {rnd + 1}/{a.warmup + a.repeat} done ({time.perf_counter() - t0:.0f} s)", flush=True)
            if client is not None:
                client.close()
            for c in runnable:
                if c.group == "rembg" and c.times:
                    mt = c.model_times[-len(c.times):]
                    c.model_times = mt
                    outside = statistics.median(t - m for t, m in zip(c.times, mt, strict=True))
                    c.note += f"; its session.run {statistics.median(mt):.3f} s, outside {outside:.3f} s"

            extra: list[tuple[str, str, str]] = []
            stats: dict[str, Any] = {}
            # ---- async batch
            if server is not None and a.batch and want("batch-async"):
                base = photo_image(a.photos, a.batch_mp, 1) if a.photos else make_image(a.batch_mp, 7, "coffee")
                batch_imgs = [vary(base, i) for i in range(a.batch)]
                wall, lat = asyncio.run(async_batch(server.base_url, server.api_key, batch_imgs, a.batch_parallel,
                                                    {"size": "full", "format": "zip"}))
                stats["batch"] = {"images": a.batch, "wall": wall, "ips": a.batch / wall,
                                  "lat_median": statistics.median(lat)}
                extra.append(("batch-async", f"{a.batch / wall:.2f}/s",
                              (f"{a.batch} × {a.batch_mp:g} MP → zip via AsyncRemoveBg, {a.batch_parallel} at a "
                               f"time, wall {wall:.1f} s")))
            # ---- concurrent clients
            if server is not None and a.clients and want("clients-8"):
                img = imgs["preview"]
                fields = {"size": "preview", "format": "png"}
                from openbg import RemoveBg

                with RemoveBg(server.api_key, server.base_url, timeout=900) as c1:
                    solo = []
                    for i in range(max(1 if a.smoke else 2, a.per_client)):
                        t = time.perf_counter()
                        c1.remove_background(vary(img, 20_000 + i), **fields)  # type: ignore[arg-type]
                        solo.append(time.perf_counter() - t)
                r = asyncio.run(concurrent_clients(server.base_url, server.api_key, img, a.clients, a.per_client,
                                                   fields))
                n = sum(r["done"])
                thr, solo_thr = n / r["wall"], 1.0 / statistics.median(solo)
                fair = r["wall"]  # every request should finish within the whole run's wall time
                starved = sum(1 for d in r["done"] if d < a.per_client) + sum(1 for x in r["lat"] if x > fair)
                # the same load on a server running ONNX Runtime fp32 (before); --smoke leaves out the comparisons
                # with ONNX Runtime (the same code with another setting) to keep CI short
                if want("clients-8-onnxruntime") and not a.smoke:
                    ort_srv = Server(tmp / "state-ort", {"OPENBG_MASK_CACHE_MB": "0", "OPENBG_RUNTIME": "onnxruntime"})
                    try:
                        ro = asyncio.run(concurrent_clients(ort_srv.base_url, ort_srv.api_key, img, a.clients,
                                                            a.per_client, fields))
                    finally:
                        ort_srv.stop()
                    thr_ort = sum(ro["done"]) / ro["wall"]
                    stats["clients_onnxruntime"] = {"throughput": thr_ort, "done": ro["done"],
                                                    "lat_max": max(ro["lat"])}
                    extra.append((f"clients-{a.clients}-onnxruntime", f"{thr_ort:.2f}/s",
                                  (f"the same with OPENBG_RUNTIME=onnxruntime; latency median "
                                   f"{statistics.median(ro['lat']):.2f} s max {max(ro['lat']):.2f} s")))
                # overflow: a server with 1 worker and 1 queue slot, a burst of simultaneous raw requests
                small = Server(tmp / "state-burst", {"OPENBG_MASK_CACHE_MB": "0", "OPENBG_WORKERS": "1",
                                                     "OPENBG_QUEUE": "1"})
                try:
                    burst = asyncio.run(overflow_burst(small.base_url, small.api_key, img, a.burst))
                finally:
                    small.stop()
                stats["clients"] = {"throughput": thr, "solo_throughput": solo_thr, "done": r["done"],
                                    "lat_max": max(r["lat"]), "lat_median": statistics.median(r["lat"]),
                                    "starved": starved, "burst": burst}
                extra.append((f"clients-{a.clients}", f"{thr:.2f}/s",
                              (f"{a.clients} clients × {a.per_client} previews; solo {solo_thr:.2f}/s; latency "
                               f"median {statistics.median(r['lat']):.2f} s max {max(r['lat']):.2f} s")))
                extra.append(("overflow-burst", f"{burst['503']}×503",
                              (f"{a.burst} at once: {burst['200']} ok, {burst['503']} busy "
                               f"({burst['503_retry_after']} with Retry-After), {burst['other']} other")))
        finally:
            if server is not None:
                server.stop()

        # ---- memory over many requests
        if a.memory and want("memory"):
            m = memory_run(tmp, imgs, a.memory_total, a.memory_early, 2 if a.smoke else 8)
            stats["memory"] = m
            extra.append(("memory", f"{m['after_total'] / m['after_early']:.3f}×",
                          (f"server RSS {m['start']:.0f} MB start, {m['after_early']:.0f} MB after "
                           f"{a.memory_early}, {m['after_total']:.0f} MB after {a.memory_total} mixed requests "
                           f"(peak {m['peak']:.0f})")))

        # ---- start-up to /readyz, cold (first compile) and warm (OpenVINO's cache)
        if want("startup"):
            for runtime in ("openvino",) if a.smoke else ("openvino", "onnxruntime"):
                st = startup_run(tmp, runtime, settle=0.5 if a.smoke else 3.0)
                stats[f"startup_{runtime}"] = st
                extra.append((f"startup-{runtime}", f"{st['cold']:.1f}/{st['warm']:.1f}s",
                              (f"serve → /readyz cold / warm (fresh OPENBG_HOME, then again); RSS when ready "
                               f"{st['cold_rss']:.0f} / {st['warm_rss']:.0f} MB")))

        # ---- peak RSS of engine cases, one child process each
        if not a.no_rss and not a.smoke and want("engine-50mp-zip") and "50mp" in imgs:
            ort50 = measure_rss("50mp-zip", tmp / "50mp.jpg", {"OPENBG_RUNTIME": "onnxruntime"})
            stats["rss_50mp_onnxruntime"] = ort50
            extra.append(("rss-50mp-onnxruntime", fmt(ort50, " MB"),
                          "engine-50mp-zip peak RSS with OPENBG_RUNTIME=onnxruntime (child process)"))
        if not a.no_rss:
            for c in cases:
                if c.group != "engine" or c.fn is None or c.name.endswith(("-cached", "-serial")):
                    continue
                if a.smoke and c.name != "engine-50mp-zip":
                    continue
                img = ENGINE_CASES[c.name.removeprefix("engine-")][0]
                c.rss_mb = measure_rss(c.name.removeprefix("engine-"), tmp / f"{img}.jpg")

    by = {c.name: c.median for c in cases}

    def ratio(num: str, den: str) -> float | None:
        n, d = by.get(num), by.get(den)
        return None if n is None or d is None or d == 0 else n / d

    ratios: list[tuple[str, float | None, str, bool | None]] = []

    def add(name: str, v: float | None, target: str, ok: Callable[[float], bool]) -> None:
        ratios.append((name, v, target, None if v is None else ok(v)))

    add("http-12mp-zip / bare-medium-1024", ratio("http-12mp-zip", "bare-medium-1024"), "<= 1.6", lambda v: v <= 1.6)
    add("rembg-12mp / http-12mp-zip (speed-up)", ratio("rembg-12mp", "http-12mp-zip"), ">= 3", lambda v: v >= 3)
    add("rembg-12mp / engine-12mp-png (speed-up)", ratio("rembg-12mp", "engine-12mp-png"), "(info)", lambda v: True)
    add("rembg-12mp / http-12mp-png (speed-up)", ratio("rembg-12mp", "http-12mp-png"), ">= 2", lambda v: v >= 2)
    add("http-preview-png / bare-ort-1024", ratio("http-preview-png", "bare-ort-1024"), "<= 0.3", lambda v: v <= 0.3)
    for n in (1024, 640):
        for label in ("ov-f32", "ov-bf16"):
            add(f"bare-ort-{n} / bare-{label}-{n} (speed-up)", ratio(f"bare-ort-{n}", f"bare-{label}-{n}"), "(info)",
                lambda v: True)
    add("engine-preview-png / bare-medium-1024", ratio("engine-preview-png", "bare-medium-1024"), "<= 0.6",
        lambda v: v <= 0.6)
    add("engine-preview-png / bare-medium-orig-1024", ratio("engine-preview-png", "bare-medium-orig-1024"), "(info)",
        lambda v: True)
    add("bare-medium-1024 / bare-medium-orig-1024", ratio("bare-medium-1024", "bare-medium-orig-1024"), "(info)",
        lambda v: True)
    add("http-12mp-zip / engine-12mp-zip", ratio("http-12mp-zip", "engine-12mp-zip"), "<= 1.05", lambda v: v <= 1.05)
    add("engine-12mp-zip / bare-medium-1024", ratio("engine-12mp-zip", "bare-medium-1024"), "(info)", lambda v: True)
    add("engine-12mp-zip / engine-12mp-zip-serial", ratio("engine-12mp-zip", "engine-12mp-zip-serial"), "(info)",
        lambda v: True)
    r50 = next((c.rss_mb for c in cases if c.name == "engine-50mp-zip"), None)
    add("peak RSS engine-50mp-zip (GB)", None if r50 is None else r50 / 1024, "<= 2.5", lambda v: v <= 2.5)
    r50p = next((c.rss_mb for c in cases if c.name == "engine-50mp-png"), None)
    add("peak RSS engine-50mp-png (GB)", None if r50p is None else r50p / 1024, "<= 1.2", lambda v: v <= 1.2)
    if "memory" in stats:
        m = stats["memory"]
        add(f"RSS after {a.memory_total} / after {a.memory_early} requests", m["after_total"] / m["after_early"],
            "<= 1.10", lambda v: v <= 1.10)
    if "clients" in stats:
        cs = stats["clients"]
        add(f"{a.clients}-client throughput / solo throughput", cs["throughput"] / cs["solo_throughput"], ">= 0.90",
            lambda v: v >= 0.90)
        add("starved requests", float(cs["starved"]), "0", lambda v: v == 0)
        if "clients_onnxruntime" in stats:
            add(f"{a.clients}-client throughput / the same on onnxruntime",
                cs["throughput"] / stats["clients_onnxruntime"]["throughput"], ">= 2.5", lambda v: v >= 2.5)
        b = cs["burst"]
        add("overflow answered 503 + Retry-After", float(b["503_retry_after"]), "> 0, all 503",
            lambda v: v > 0 and b["503_retry_after"] == b["503"] and b["other"] == 0)
    print_table(cases, extra, ratios)
    print(f"total {time.perf_counter() - t0:.0f} s", flush=True)
    if a.json:
        a.json.write_text(json.dumps({
            "cases": {c.name: {"times": c.times, "median": c.median, "rss_mb": c.rss_mb, "skip": c.skip,
                               "model_times": c.model_times or None, "note": c.note}
                      for c in cases},
            "ratios": {n: v for n, v, _t, _o in ratios}, "stats": stats, "rss_detail": RSS_DETAIL},
            indent=1, default=str))
    for name, rep in RSS_DETAIL.items():
        print(f"rss {name}: " + ", ".join(f"{k} {v:.0f}" for k, v in rep.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
