"""ZIP results composed locally, against the emulator's own PNG of the same request.

What holds exactly, and what only within JPEG tolerance:

* alpha: the composed alpha equals the engine's PNG alpha **exactly** (``alpha.png`` is lossless);
* composition: the composed RGBA equals ``color.jpg``'s decoded RGB with ``alpha.png`` as alpha,
  **exactly** (checked with numpy, independently of the code under test);
* colour: ``color.jpg`` is a JPEG, so RGB differs from the PNG's. Where the result is opaque
  (alpha = 255) the mean absolute difference is at most 2 and the largest at most 16 levels; on
  semi-transparent edge pixels JPEG ringing is larger (the JPEG block straddles the subject and
  the background colour under alpha = 0), so over all visible pixels the difference is weighted by
  alpha (premultiplied colour): mean at most 2, largest at most 32 levels (measured: about 0.5 and 21).
"""

from __future__ import annotations

import asyncio
import io
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from openbg import AsyncRemoveBg, RemoveBg, zip2png
from PIL import Image


def _arrays(zip_bytes: bytes) -> tuple[np.ndarray, np.ndarray]:
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as zf:
        assert sorted(zf.namelist()) == ["alpha.png", "color.jpg"]
        color = np.asarray(Image.open(io.BytesIO(zf.read("color.jpg"))).convert("RGB"))
        alpha = np.asarray(Image.open(io.BytesIO(zf.read("alpha.png"))).convert("L"))
    return color, alpha


def test_zip_compose_matches_the_engines_png(live_server: Any, warm_photo: bytes, tmp_path: Path) -> None:
    with RemoveBg(live_server.api_key, live_server.base_url) as c:
        png = c.remove_background(warm_photo, format="png")
        raw_zip = c.remove_background(warm_photo, format="zip")
        preferred = c.remove_background(warm_photo, prefer_zip=True)
    assert raw_zip.content_type == "application/zip" and raw_zip.is_zip
    assert (raw_zip.width, raw_zip.height) == (png.width, png.height)

    composed = np.asarray(raw_zip.to_pil()).astype(int)
    color, alpha = _arrays(raw_zip.content)
    assert composed.shape == (*alpha.shape, 4)
    assert (composed[..., :3] == color).all() and (composed[..., 3] == alpha).all()  # exact composition

    engine = np.asarray(png.to_pil().convert("RGBA")).astype(int)
    assert (composed[..., 3] == engine[..., 3]).all()  # alpha exact
    opaque = engine[..., 3] == 255
    assert opaque.sum() > 100
    diff = np.abs(composed[..., :3] - engine[..., :3])
    # color.jpg is a quality-90 JPEG with 4:2:0 chroma subsampling: on average within 2 levels, nearly all
    # pixels within 12, and the few largest errors (ringing at sharp colour edges) within 32.
    d = diff[opaque]
    assert d.mean() <= 2.0 and np.percentile(d, 99) <= 12 and d.max() <= 32, (
        d.mean(), np.percentile(d, 99), d.max())
    visible = engine[..., 3] > 0
    weighted = diff * (engine[..., 3:4] / 255.0)
    assert weighted[visible].mean() <= 2.0 and weighted[visible].max() <= 32, (
        weighted[visible].mean(), weighted[visible].max())

    # prefer_zip: the same composition, delivered as PNG, with the ZIP kept
    assert preferred.content_type == "image/png" and preferred.zip_content is not None
    assert np.array_equal(np.asarray(preferred.to_pil()), composed.astype(np.uint8))
    assert preferred.credits_charged == png.credits_charged
    # save("x.png") of a ZIP result composes; zip2png gives the same bytes
    out = raw_zip.save(tmp_path / "x.png")
    assert np.array_equal(np.asarray(Image.open(out)), composed.astype(np.uint8))
    assert out.read_bytes() == zip2png(raw_zip.content)
    assert raw_zip.save(tmp_path / "x.zip").read_bytes() == raw_zip.content


def test_async_prefer_zip(live_server: Any, warm_photo: bytes) -> None:
    async def main() -> tuple[bytes, bytes]:
        async with AsyncRemoveBg(live_server.api_key, live_server.base_url) as c:
            z = await c.remove_background(warm_photo, prefer_zip=True)
            p = await c.remove_background(warm_photo, format="png")
            return z.to_png(), p.content

    z, p = asyncio.run(main())
    za = np.asarray(Image.open(io.BytesIO(z)))
    pa = np.asarray(Image.open(io.BytesIO(p)).convert("RGBA"))
    assert za.shape == pa.shape and (za[..., 3] == pa[..., 3]).all()
