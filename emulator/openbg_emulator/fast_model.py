"""The derived ("fast") model: the installed IS-Net rewritten once at set-up (fp32, any input size;
:mod:`openbg_emulator.model_rewrite`), checked against the original and cached next to it.

:func:`prepare` says what a session loads: the derived file, or the original when the rewrite is off
(OPENBG_FAST_MODEL=0) or failed (a ``.failed`` marker keeps it from being retried at every start).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .model_store import verified_hash
from .settings import Settings
from .storage import atomic_write

log = logging.getLogger("openbg_emulator.fast_model")


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


def failed_marker(path: Path) -> Path:
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
    marker = failed_marker(dest)
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

