"""Every ```python block of the manual's "The client" section (docs/index.md), run against the
live emulator in a scratch folder holding ``photo.jpg`` and ``photos/*.jpg``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

DOC = Path(__file__).resolve().parents[2] / "docs" / "index.md"
SECTION = DOC.read_text(encoding="utf-8").split("\n## The client\n", 1)[1].split("\n## ", 1)[0]
BLOCKS = re.findall(r"```python\n(.*?)```", SECTION, flags=re.DOTALL)


def test_the_doc_has_examples() -> None:
    assert len(BLOCKS) >= 5


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_example_runs(index: int, live_server: Any, warm_photo: bytes, tmp_path: Path,
                      monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("REMOVE_BG_API_KEY", live_server.api_key)
    monkeypatch.setenv("OPENBG_BASE_URL", live_server.base_url)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "photo.jpg").write_bytes(warm_photo)
    (tmp_path / "photos").mkdir()
    for i in range(3):
        (tmp_path / "photos" / f"p{i}.jpg").write_bytes(warm_photo)
    code = BLOCKS[index]
    exec(compile(code, f"{DOC.name}[python block {index}]", "exec"), {"__name__": "__docs__"})  # noqa: S102
    out = capsys.readouterr().out
    if "photo.png" in code:
        assert Image.open(tmp_path / "photo.png").mode == "RGBA"
    if "cut_out_folder" in code:
        assert sorted(p.name for p in (tmp_path / "cutouts").iterdir()) == ["p0.png", "p1.png", "p2.png"]
    if "except BadRequestError" in code:
        assert "400 invalid_roi" in out
    if "account.credits.total" in code:
        assert "credits," in out and (tmp_path / "photo-on-blue.jpg").exists()
