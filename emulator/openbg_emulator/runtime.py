"""Which runtime runs the segmentation model, at which precision, and the OpenVINO session.

``OPENBG_RUNTIME=auto|onnxruntime|openvino`` and ``OPENBG_PRECISION=auto|f32|bf16`` are resolved once
at start by :func:`choose`:

* ``auto`` runtime: OpenVINO (the ``openvino`` wheel) on the CPU, unless the model runs on CUDA
  (``OPENBG_DEVICE=cuda``, or ``auto`` with a CUDA-enabled onnxruntime), which stays on ONNX Runtime.
* ``auto`` precision: bf16 on OpenVINO where the CPU reports bf16 units (``avx512_bf16`` or ``amx_bf16``
  in ``/proc/cpuinfo``; OpenVINO's ``OPTIMIZATION_CAPABILITIES`` where there is no ``/proc``), f32 elsewhere.

:class:`OpenVinoSession` gives :class:`openbg_emulator.segmenter.Segmenter` the part of an ONNX Runtime
session's interface it uses (``run``, ``get_inputs``, ``get_outputs``, ``get_modelmeta``,
``get_providers``), so both runtimes share the same slot/thread policy (:class:`models.Concurrency`).
It compiles one model per input size (the native 1024 and the preview size at start, any other size
when first asked) and keeps a pool of infer requests per size. Compiled models are cached by
OpenVINO under ``$OPENBG_HOME/openvino-cache`` (``CACHE_DIR``), so a restart loads instead of compiling.

The ONNX file is read once: the session keeps an OpenVINO IR copy of it (and one per input size) in
the same folder, with fp16 weights where that loses nothing (every fp32 constant of the model is an fp16
value, as in the derived IS-Net: fp32 copies of the original's fp16 weights), and compiles from those files. The IR's weights are mapped from disk
rather than copied, the compiled models in the cache hold half the bytes, and a warm start parses no
ONNX at all: 0.18 GB less at the 50 MP peak (issue 17).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .settings import Settings

log = logging.getLogger("openbg_emulator.runtime")

BF16_FLAGS = ("amx_bf16", "avx512_bf16")


class RuntimeChoiceError(RuntimeError):
    """OPENBG_RUNTIME / OPENBG_PRECISION ask for something this machine cannot do (one line, what to set)."""


@dataclass(frozen=True)
class RuntimeChoice:
    """The runtime and precision the model runs with, and why."""

    runtime: str  # "onnxruntime" | "openvino"
    precision: str  # "f32" (the model's own precision on ONNX Runtime) | "bf16"
    reason: str
    version: str
    cpu: str
    cache_dir: Path | None = None  # OpenVINO's compiled-model cache

    def describe(self) -> str:
        return f"{self.runtime} {self.version}, {self.precision} ({self.reason})"

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["cache_dir"] = str(self.cache_dir) if self.cache_dir is not None else None
        return d


def cpu_flags() -> set[str] | None:
    """The CPU's flags from ``/proc/cpuinfo`` (None where there is no such file)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        return None
    return set()


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


def bf16_support() -> tuple[bool, str]:
    """Whether the CPU has bf16 units, and the evidence (a few words)."""
    flags = cpu_flags()
    if flags is not None:
        found = [f for f in BF16_FLAGS if f in flags]
        if found:
            return True, "CPU reports " + ", ".join(found)
        return False, "CPU reports no bf16 (no avx512_bf16/amx_bf16 flag)"
    try:
        import openvino as ov

        caps = ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    except Exception as e:  # noqa: BLE001 - no OpenVINO, or no CPU device
        return False, f"cannot tell ({e})"
    if "BF16" in caps:
        return True, "OpenVINO reports BF16"
    return False, "OpenVINO reports no BF16"


def openvino_version() -> str | None:
    try:
        import openvino as ov
    except ImportError:
        return None
    return str(ov.__version__).split("-")[0]


def _ort_version() -> str:
    try:
        import onnxruntime as ort

        return str(ort.__version__)
    except ImportError:
        return "?"


def _on_cuda(settings: Settings) -> str | None:
    """Why the model runs on ONNX Runtime's CUDA/OpenVINO provider (OPENBG_DEVICE), or None for the CPU."""
    if settings.device == "cuda":
        return "OPENBG_DEVICE=cuda"
    if settings.device == "openvino":
        return "OPENBG_DEVICE=openvino (onnxruntime-openvino's provider)"
    if settings.device == "auto":
        try:
            import onnxruntime as ort

            if "CUDAExecutionProvider" in ort.get_available_providers():
                return "CUDA available"
        except ImportError:
            pass
    return None


def choose(settings: Settings) -> RuntimeChoice:
    """Resolve OPENBG_RUNTIME/OPENBG_PRECISION for this machine; :class:`RuntimeChoiceError` when impossible."""
    cpu = cpu_model()
    cache = settings.home / "openvino-cache"
    if settings.precision == "int8":
        raise RuntimeChoiceError("OPENBG_PRECISION=int8 is not offered (it missed the accuracy limits against f32; "
                                 "docs/engineering/performance.md); use auto, f32 or bf16")
    gpu = _on_cuda(settings)
    if gpu is not None:
        if settings.runtime == "openvino":
            raise RuntimeChoiceError(f"OPENBG_RUNTIME=openvino runs on the CPU, but {gpu}: "
                                     "unset one of them")
        if settings.precision == "bf16":
            raise RuntimeChoiceError(f"OPENBG_PRECISION=bf16 needs OpenVINO on the CPU, but {gpu}")
        return RuntimeChoice("onnxruntime", "f32", gpu, _ort_version(), cpu)
    if settings.runtime == "onnxruntime":
        if settings.precision == "bf16":
            raise RuntimeChoiceError("OPENBG_PRECISION=bf16 needs OPENBG_RUNTIME=openvino (or auto); "
                                     "ONNX Runtime runs the model in f32")
        return RuntimeChoice("onnxruntime", "f32", "OPENBG_RUNTIME=onnxruntime", _ort_version(), cpu)
    ov_version = openvino_version()
    if ov_version is None:
        if settings.runtime == "openvino" or settings.precision == "bf16":
            raise RuntimeChoiceError("OpenVINO is not installed: pip install -c constraints.txt "
                                     "'openbg[emulator]' (the openvino wheel), or set OPENBG_RUNTIME=onnxruntime")
        return RuntimeChoice("onnxruntime", "f32", "openvino not installed", _ort_version(), cpu)
    has_bf16, why = bf16_support()
    if settings.precision == "bf16":
        if not has_bf16:
            raise RuntimeChoiceError(f"OPENBG_PRECISION=bf16 but {why}; use OPENBG_PRECISION=auto or f32")
        precision, reason = "bf16", f"OPENBG_PRECISION=bf16; {why}"
    elif settings.precision == "f32":
        precision, reason = "f32", "OPENBG_PRECISION=f32"
    else:
        precision, reason = ("bf16" if has_bf16 else "f32"), f"auto: {why}"
    if settings.runtime == "openvino":
        reason = "OPENBG_RUNTIME=openvino; " + reason
    return RuntimeChoice("openvino", precision, reason, ov_version, cpu, cache)


# --------------------------------------------------------------------------- OpenVINO session
#: bump when the IR copies change (their file names include it, and OpenVINO's version)
IR_VERSION = 2


def _ov_version() -> str:
    return openvino_version() or "?"


def _fp16_exact(model: Any) -> bool:
    """Whether every fp32 constant of ``model`` is an fp16 value (so saving it with fp16 weights loses
    nothing): true of the derived IS-Net, whose weights are fp32 copies of the original's fp16 ones."""
    import openvino as ov

    seen = False
    for op in model.get_ordered_ops():
        if op.get_type_name() != "Constant" or op.get_element_type() != ov.Type.f32:
            continue
        v = np.asarray(op.get_data(), np.float32)
        with np.errstate(over="ignore"):
            if not np.array_equal(v.astype(np.float16).astype(np.float32), v):
                return False
        seen = True
    return seen
_cores_lock = threading.Lock()
_core_objs: dict[str, Any] = {}


def _core(cache_dir: Path | None) -> Any:
    """One ``openvino.Core`` per cache directory (process-wide)."""
    import openvino as ov

    key = str(cache_dir or "")
    with _cores_lock:
        core = _core_objs.get(key)
        if core is None:
            core = ov.Core()
            if cache_dir is not None:
                try:
                    cache_dir.mkdir(parents=True, exist_ok=True)
                    core.set_property({"CACHE_DIR": str(cache_dir)})
                except OSError as e:
                    log.warning("OpenVINO cache %s not usable (%s): every start compiles", cache_dir, e)
            _core_objs[key] = core
        return core


@dataclass
class _Input:
    name: str
    type: str
    shape: list[int | str]


@dataclass
class _Output:
    name: str


@dataclass
class _Meta:
    custom_metadata_map: dict[str, str]


class OpenVinoSession:
    """A thread-safe OpenVINO counterpart of the ONNX Runtime session calls ``Segmenter`` makes.

    ``streams``: runs that may proceed at once (OpenVINO ``NUM_STREAMS``); ``threads``: CPU threads of
    each (None: OpenVINO's default, all cores shared by the streams). With one stream, concurrent runs
    take turns on one infer request per size.
    """

    def __init__(self, path: Path, precision: str, *, threads: int | None, streams: int,
                 cache_dir: Path | None, model: Any = None) -> None:
        self.path = path
        self.precision = precision
        self.threads = threads
        self.streams = max(1, streams)
        self.cache_dir = cache_dir
        self._core = _core(cache_dir)
        self.model = model if model is not None else self._read_source()
        inp = self.model.inputs[0]
        self._in_name = inp.get_any_name()
        self._in_type = "tensor(float16)" if inp.get_element_type().to_dtype() == np.float16 else "tensor(float)"
        self._in_shape: list[int | str] = [d.get_length() if d.is_static else "?"
                                           for d in inp.get_partial_shape()]
        self._out_name = self.model.outputs[0].get_any_name()
        self._meta = self._read_meta()
        self._compiled: dict[tuple[int, int], Any] = {}
        self._requests: dict[tuple[int, int], list[Any]] = {}
        self._lock = threading.Lock()
        self._compile_locks: dict[tuple[int, int], threading.Lock] = {}
        self._run_locks: dict[tuple[int, int], threading.Lock] = {}
        #: per size: (seconds, loaded from the cache?) of its compile_model call
        self.compile_log: dict[int, tuple[float, bool]] = {}

    # ---- the ONNX Runtime-like interface ---------------------------------
    def get_inputs(self) -> list[_Input]:
        return [_Input(self._in_name, self._in_type, list(self._in_shape))]

    def get_outputs(self) -> list[_Output]:
        return [_Output(self._out_name)]

    def get_providers(self) -> list[str]:
        return [f"OpenVINO CPU {self.precision}"]

    def get_modelmeta(self) -> _Meta:
        return _Meta(dict(self._meta))

    # ---- the IR copies -----------------------------------------------------
    def _ir_path(self, size: tuple[int, int] | None) -> Path | None:
        """Where the IR copy of the source (``size`` None) or of its 1×3×h×w reshape lives: the cache
        folder, named after the source file and its size and modification time (a new file, a new copy)."""
        if self.cache_dir is None:
            return None
        try:
            st = self.path.stat()
        except OSError:
            return None
        key = hashlib.sha256(f"{self.path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{IR_VERSION}|{_ov_version()}"
                             .encode())
        shape = "" if size is None else f".{size[0]}x{size[1]}"
        return self.cache_dir / f"{self.path.stem}-{key.hexdigest()[:12]}{shape}.xml"

    def _read_source(self) -> Any:
        """The source model: its IR copy when there (weights mapped from disk), else the ONNX file, of
        which an IR copy is then made for next time."""
        ir = self._ir_path(None)
        if ir is not None and ir.is_file():
            try:
                return self._core.read_model(str(ir))
            except Exception as e:  # noqa: BLE001 - a damaged copy: made again below
                log.warning("OpenVINO IR copy %s unreadable (%s): reading %s", ir, e, self.path.name)
        m = self._core.read_model(str(self.path))
        if ir is not None and self._save_ir(m, ir):
            return self._core.read_model(str(ir))
        return m

    def _save_ir(self, model: Any, xml: Path) -> bool:
        """Write ``model`` as IR ``xml`` + ``.bin``, atomically (the ``.bin`` first: an ``.xml`` is only ever
        there with its ``.bin``). fp16 weights only where that loses nothing (:func:`_fp16_exact`: the
        derived IS-Net, fp32 copies of fp16 values); other models keep their weights as they are (the
        derived isnet-small has fp32 scales). False (and a warning) where the folder is not writable."""
        import openvino as ov

        compress = _fp16_exact(model)
        tmp = xml.with_name(f".{xml.stem}.{uuid.uuid4().hex}.xml")
        try:
            ov.save_model(model.clone(), str(tmp), compress_to_fp16=compress)
            os.replace(tmp.with_suffix(".bin"), xml.with_suffix(".bin"))
            os.replace(tmp, xml)
            return True
        except Exception as e:  # noqa: BLE001 - a read-only or full disk: compile from memory instead
            log.warning("OpenVINO IR copy %s not written (%s): compiling from memory", xml, e)
            for f in (tmp, tmp.with_suffix(".bin")):
                with contextlib.suppress(OSError):
                    f.unlink()
            return False

    @staticmethod
    def _meta_of(model: Any) -> dict[str, str]:
        meta: dict[str, str] = {}
        try:
            for k in model.get_rt_info()["framework"]:
                meta[str(k)] = model.get_rt_info(["framework", str(k)]).astype(str)
        except Exception as e:  # noqa: BLE001 - a model without ONNX metadata
            log.debug("no ONNX metadata (%s)", e)
        return meta

    def _read_meta(self) -> dict[str, str]:
        return self._meta_of(self.model)

    def run(self, names: Sequence[str] | None, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        x = next(iter(feeds.values()))
        key = (int(x.shape[2]), int(x.shape[3]))
        compiled = self.compiled(*key)
        if self.streams == 1:  # one stream: runs take turns on one request (one set of activations)
            with self._run_locks[key]:
                return [self._infer(self._requests[key][0], x)]
        with self._lock:
            pool = self._requests.setdefault(key, [])
            req = pool.pop() if pool else None
        if req is None:
            req = compiled.create_infer_request()
        try:
            return [self._infer(req, x)]
        finally:
            with self._lock:
                self._requests.setdefault(key, []).append(req)

    @staticmethod
    def _infer(req: Any, x: np.ndarray) -> np.ndarray:
        req.infer({0: np.ascontiguousarray(x)}, share_inputs=True)
        return np.array(req.get_output_tensor(0).data, dtype=np.float32, copy=True)

    def release_memory(self) -> None:
        """Give back the activations each compiled model keeps between runs (~180 MB at 1024, ~70 MB at
        640; OpenVINO's ``CompiledModel.release_memory``); its next run allocates them again (~40 ms at
        1024 on the reference CPU). With one stream only, and only for a size no run is using now."""
        if self.streams != 1:
            return
        for key, compiled in list(self._compiled.items()):
            lock = self._run_locks.get(key)
            if lock is not None and lock.acquire(blocking=False):
                try:
                    compiled.release_memory()
                except Exception as e:  # noqa: BLE001 - memory kept is never a reason to fail a request
                    log.warning("OpenVINO release_memory failed (%s)", e)
                finally:
                    lock.release()

    def release_model(self) -> None:
        """Drop the source model once the sizes in use are compiled (it maps the IR copy's weights, or holds
        the ONNX file's where no copy could be written; another size reads it again)."""
        with self._lock:
            self.model = None

    # ---- compiled models -------------------------------------------------
    def config(self) -> dict[str, Any]:
        cfg: dict[str, Any] = {"INFERENCE_PRECISION_HINT": self.precision, "NUM_STREAMS": self.streams}
        if self.streams == 1:
            cfg["PERFORMANCE_HINT"] = "LATENCY"
        if self.threads:
            cfg["INFERENCE_NUM_THREADS"] = self.threads * self.streams
        return cfg

    @property
    def _static(self) -> bool:
        """The model's input size is fixed (the original files: 1024²); the derived model takes any."""
        return any(isinstance(d, int) for d in self._in_shape[2:])

    def _shaped(self, model: Any, h: int, w: int) -> Any:
        """``model`` for a 1×3×h×w input: a reshaped clone where its input size is free, else itself."""
        if self._static:
            return model
        m = model.clone()
        m.reshape({self._in_name: [1, 3, h, w]})
        return m

    def compiled(self, h: int, w: int) -> Any:
        """The model compiled for a 1×3×h×w input (made once, loaded from OpenVINO's cache when there)."""
        key = (h, w)
        c = self._compiled.get(key)
        if c is not None:
            return c
        with self._lock:
            lock = self._compile_locks.setdefault(key, threading.Lock())
        with lock:
            c = self._compiled.get(key)
            if c is not None:
                return c
            ir = self._ir_path(None if self._static else key)
            target: Any = str(ir) if ir is not None and ir.is_file() else None
            if target is None:
                with self._lock:
                    if self.model is None:
                        self.model = self._read_source()
                    source = self.model
                m = self._shaped(source, h, w)
                target = str(ir) if ir is not None and self._save_ir(m, ir) else m
            t0 = time.perf_counter()
            try:
                c = self._core.compile_model(target, "CPU", self.config())
            except Exception as e:  # a damaged copy (e.g. its .bin cleaned away): from the ONNX file
                if not isinstance(target, str):
                    raise
                log.warning("OpenVINO IR copy %s does not compile (%s): removed; compiling from %s", target, e,
                            self.path.name)
                for f in (Path(target), Path(target).with_suffix(".bin")):
                    with contextlib.suppress(OSError):
                        f.unlink()
                m = self._shaped(self._core.read_model(str(self.path)), h, w)
                t0 = time.perf_counter()
                c = self._core.compile_model(m, "CPU", self.config())
            took = time.perf_counter() - t0
            try:
                cached = bool(c.get_property("LOADED_FROM_CACHE"))
            except Exception:  # noqa: BLE001 - older OpenVINO
                cached = False
            self.compile_log[h] = (took, cached)
            log.info("OpenVINO: %s at %d×%d %s in %.2f s (%s)", self.path.name, w, h,
                     "loaded from the cache" if cached else "compiled", took, self.config())
            self._run_locks[key] = threading.Lock()
            self._requests[key] = [c.create_infer_request()] if self.streams == 1 else []
            self._compiled[key] = c
            return c
