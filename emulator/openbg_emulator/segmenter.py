"""The segmenter: the runtime session(s) of one IS-Net model, and how concurrent runs share the cores.

A :class:`Segmenter` is made by :func:`load_segmenter` and owned by an
:class:`openbg_emulator.engine.Engine`; it holds no process-wide state. The engine hands it the
semaphore that bounds concurrent runs and a callable that says how many requests are in the engine.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .fast_model import Prepared, prepare
from .model_store import DEFAULT_MODEL, MODELS, ModelError, model_path
from .runtime import OpenVinoSession, RuntimeChoice, RuntimeChoiceError
from .runtime import choose as choose_runtime
from .settings import Settings

log = logging.getLogger("openbg_emulator.segmenter")


def cores() -> int:
    """CPU cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class Concurrency:
    """How ``session.run`` calls share the cores (per engine).

    * ``adaptive`` (default: neither OPENBG_THREADS nor OPENBG_INFERENCE_SLOTS set, ≥ 2 cores): a run
      that starts while no other run is in progress and no other request is in the engine
      (``Engine.request``) uses ORT's default pool (all cores: the lowest latency for one
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


def concurrency(settings: Settings) -> Concurrency:
    n = cores()
    if settings.inference_slots:
        return Concurrency(settings.inference_slots, settings.threads, False)
    if settings.threads:
        return Concurrency(max(1, n // settings.threads), settings.threads, False)
    if n >= 2:
        return Concurrency(n, None, True)
    return Concurrency(1, None, False)


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
    # decode, refine and encode on the same cores while a run is in progress (docs/engineering/performance.md).
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
    ``predict`` is thread-safe; runs share the cores as :class:`Concurrency` says: at most ``slots``
    runs at once (``semaphore``, shared with the other segmenters of the same engine); ``load()`` is how
    many requests are in the engine (adaptive mode runs alone on all cores only when it is 1 or 0).
    ``input_size`` is the model's native input; :meth:`supports` says which other square sizes it takes
    (the derived model: any multiple of 32).
    """

    def __init__(self, path: Path, name: str, threads: int | None = None, device: str = "auto",
                 prepared: Prepared | None = None, slots: int = 0,
                 concurrency: Concurrency | None = None, runtime: RuntimeChoice | None = None,
                 semaphore: threading.Semaphore | None = None, load: Callable[[], int] = lambda: 0) -> None:
        import onnxruntime as ort

        self.runtime = runtime or _ort_choice()
        self._threads = threads
        self.name = name
        self.path = path
        self.prepared = prepared or Prepared(path, path, False, "original")
        self.concurrency = concurrency or Concurrency(slots, threads, False)
        if semaphore is None and self.concurrency.slots > 0:
            semaphore = threading.BoundedSemaphore(self.concurrency.slots)
        self._sem = semaphore if self.concurrency.slots > 0 else None
        self._load = load
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
                              self.runtime, semaphore, load)
                return
            raise ModelError(f"cannot load ONNX model {path}: {e}") from None
        self._meta: dict[str, str] = {}
        if self.prepared.derived:
            meta = self._meta = dict(self.session.get_modelmeta().custom_metadata_map)
            if meta.get("openbg.source_sha256") != self.prepared.digest:
                log.warning("model %s: derived file %s does not name its source; using the original",
                            name, self.prepared.note)
                self.__init__(path, name, threads, device, None, slots, concurrency,  # type: ignore[misc]
                              self.runtime, semaphore, load)
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
            alone = self._active == 0 and self._load() <= 1
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


    def release_memory(self) -> None:
        """Give back what the runtime keeps between runs where it can (OpenVINO's activations; ONNX Runtime
        keeps its arena): a request whose later steps need a lot of memory calls it after the model."""
        if isinstance(self.session, OpenVinoSession):
            self.session.release_memory()


def load_segmenter(settings: Settings, name: str | None = None, *, semaphore: threading.Semaphore | None = None,
                   load: Callable[[], int] = lambda: 0) -> Segmenter:
    """A new session for model ``name`` (default: OPENBG_MODEL, else ``medium``), compiled for the preview
    input size too. It runs the derived model (:func:`openbg_emulator.fast_model.prepare`) unless
    OPENBG_FAST_MODEL=0 or the rewrite failed. Callers keep it: :class:`openbg_emulator.engine.Engine` does."""
    s = settings
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
    try:
        choice = choose_runtime(s)
    except RuntimeChoiceError as e:
        raise ModelError(str(e)) from None
    seg = Segmenter(path, name, threads=s.threads, device=s.device, prepared=prepare(path, s),
                    concurrency=concurrency(s), runtime=choice, semaphore=semaphore, load=load)
    seg.warm([s.preview_model_size])
    return seg
