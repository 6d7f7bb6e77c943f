"""RemoveBg / AsyncRemoveBg against the live emulator: every public method, every input kind,
metadata, errors."""

from __future__ import annotations

import asyncio
import base64
import io
import uuid
from pathlib import Path
from typing import Any

import pytest
from openbg import (
    Account,
    AsyncRemoveBg,
    AuthenticationError,
    BadRequestError,
    InsufficientCreditsError,
    RateLimitError,
    RemoveBg,
    RemoveBgError,
    Result,
)
from PIL import Image

from tests.wrapper.wrapper_support import FAST_RETRY, make_photo


@pytest.fixture
def client(live_server: Any) -> Any:
    with RemoveBg(live_server.api_key, live_server.base_url, retry_policy=FAST_RETRY) as c:
        yield c


def _alpha(result: Result) -> bytes:
    return result.to_pil().convert("RGBA").getchannel("A").tobytes()


def _check_metadata(r: Result, size: tuple[int, int]) -> None:
    assert r.content_type == "image/png"
    assert (r.width, r.height) == size == r.to_pil().size
    assert (r.max_width, r.max_height) == size
    assert r.credits_charged is not None and r.credits_charged in (0.0, 0.25)
    assert r.type in ("person", "product", "animal", "car", "other")
    assert r.foreground is not None and 0 < r.foreground.width <= size[0] and 0 < r.foreground.height <= size[1]
    assert r.rate_limit is not None and r.rate_limit.limit == 500 and r.rate_limit.remaining is not None
    assert r.rate_limit.reset is not None and r.rate_limit.reset.tzinfo is not None


def test_every_input_kind_sync(client: RemoveBg, photo: bytes, photo_path: Path,
                               file_server: tuple[str, Path]) -> None:
    base, folder = file_server
    (folder / "photo.jpg").write_bytes(photo)
    reference = client.remove_background(photo_path)  # pathlib.Path
    _check_metadata(reference, (160, 120))
    expected = _alpha(reference)
    b64 = base64.b64encode(photo).decode()
    with open(photo_path, "rb") as fh:
        kinds: dict[str, Any] = {
            "str path": str(photo_path),
            "bytes": photo,
            "file object": fh,
            "url": f"{base}/photo.jpg",
            "base64": b64,
            "data uri": "data:image/jpeg;base64," + b64,
        }
        for name, image in kinds.items():
            r = client.remove_background(image)
            assert _alpha(r) == expected, name
            assert r.foreground == reference.foreground, name
    pil = Image.open(io.BytesIO(photo))
    r = client.remove_background(pil)  # re-encoded losslessly as PNG: same pixels as the decoded JPEG
    assert r.to_pil().size == (160, 120) and r.foreground is not None


def test_bad_inputs_fail_before_sending(client: RemoveBg, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        client.remove_background(str(tmp_path / "nope.jpg"))
    with pytest.raises(ValueError):
        client.remove_background(b"")
    with pytest.raises(TypeError):
        client.remove_background(12345)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Unexpected value"):
        client.remove_background(b"x", size="huge")  # type: ignore[arg-type]


def test_options_reach_the_server(client: RemoveBg, photo: bytes, photo_path: Path,
                                  file_server: tuple[str, Path]) -> None:
    jpg = client.remove_background(photo, format="jpg", bg_color="00ff00")
    assert jpg.content_type == "image/jpeg" and jpg.to_pil().mode == "RGB"
    assert jpg.to_pil().getpixel((1, 1))[1] > 200  # type: ignore[index]  # green background
    alpha = client.remove_background(photo, channels="alpha", format="png", type_level="none")
    assert alpha.type is None  # type_level=none: no X-Type
    cropped = client.remove_background(photo, crop=True, crop_margin="2px")
    assert cropped.foreground is not None and cropped.width is not None and cropped.width < 160
    webp = client.remove_background(photo, format="webp", roi="0% 0% 100% 100%", semitransparency=False)
    assert webp.content_type == "image/webp" and webp.to_pil().mode == "RGBA"
    base, folder = file_server
    bg = make_photo(3)
    (folder / "bg.jpg").write_bytes(bg)
    for bg_image in (bg, f"{base}/bg.jpg", Image.open(io.BytesIO(bg))):
        r = client.remove_background(photo, bg_image=bg_image, format="jpg")
        assert r.content_type == "image/jpeg"
    r = client.remove_background(photo, shadow_type={"other": "drop", "product": "drop"},
                                 shadow_opacity={"other": 80}, scale=80, position="center")
    assert r.to_pil().size == (160, 120)
    with pytest.raises(BadRequestError) as bad:  # the per-type form reaches the server, which checks it
        client.remove_background(photo, shadow_opacity={"other": 500})
    assert bad.value.code == "invalid_shadow_opacity"


def test_json_mode_is_parsed(live_server: Any, photo: bytes) -> None:
    with RemoveBg(live_server.api_key, live_server.base_url, headers={"Accept": "application/json"}) as c:
        r = c.remove_background(photo)
    assert r.content_type == "image/png" and r.to_pil().size == (160, 120) and r.foreground is not None


def test_account_and_improve_sync(client: RemoveBg, photo: bytes) -> None:
    before = client.account()
    assert isinstance(before, Account) and before.credits.total >= 0 and before.sizes == "all"
    ident = client.improve(photo, image_filename="photo.jpg", tag="wrapper-tests")
    assert uuid.UUID(ident)


def test_env_key_and_missing_key(live_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REMOVE_BG_API_KEY", live_server.api_key)
    monkeypatch.setenv("OPENBG_BASE_URL", live_server.base_url)
    with RemoveBg() as c:
        assert c.account().credits.total >= 0
    monkeypatch.delenv("REMOVE_BG_API_KEY")
    with pytest.raises(ValueError, match="REMOVE_BG_API_KEY"):
        RemoveBg()


def test_errors(live_server: Any, client: RemoveBg, photo: bytes) -> None:
    with pytest.raises(BadRequestError) as bad:
        client.remove_background(photo, roi="nonsense")
    assert bad.value.status == 400 and bad.value.code == "invalid_roi" and bad.value.title
    with pytest.raises(BadRequestError) as bad2:
        client.remove_background(b"this is not an image at all")
    assert bad2.value.code == "invalid_file_type"
    with RemoveBg("wrong-key", live_server.base_url) as c, pytest.raises(AuthenticationError) as auth:
        c.account()
    assert auth.value.status == 403 and auth.value.code == "auth_failed"
    broke = live_server.create_key("broke", credits=0, free_calls=0)
    with RemoveBg(broke, live_server.base_url) as c, pytest.raises(InsufficientCreditsError) as pay:
        c.remove_background(photo, size="full")
    assert pay.value.status == 402 and pay.value.code == "insufficient_credits"
    forced = {"X-Openbg-Force-Status": "429", "X-Openbg-Retry-After": "7"}
    with RemoveBg(live_server.api_key, live_server.base_url, retries=0, headers=forced) as c, \
            pytest.raises(RateLimitError) as rl:
        c.account()
    assert rl.value.status == 429 and rl.value.retry_after == 7
    assert isinstance(rl.value, RemoveBgError)


def test_async_client_every_method(live_server: Any, photo: bytes, photo_path: Path,
                                   file_server: tuple[str, Path]) -> None:
    base, folder = file_server
    (folder / "photo.jpg").write_bytes(photo)

    async def main() -> None:
        async with AsyncRemoveBg(live_server.api_key, live_server.base_url, retry_policy=FAST_RETRY) as c:
            acc = await c.account()
            assert acc.credits.total >= 0
            results = await asyncio.gather(
                c.remove_background(photo_path),
                c.remove_background(photo),
                c.remove_background(f"{base}/photo.jpg"),
                c.remove_background(base64.b64encode(photo).decode()),
                c.remove_background(Image.open(io.BytesIO(photo))),
                c.remove_background(photo, prefer_zip=True),
            )
            for r in results:
                assert r.to_pil().size == (160, 120)
            assert results[0].foreground == results[1].foreground == results[2].foreground
            assert results[5].zip_content is not None and results[5].content_type == "image/png"
            assert uuid.UUID(await c.improve(photo_path, tag="async"))
            with pytest.raises(BadRequestError):
                await c.remove_background(photo, position="nowhere")
        async with AsyncRemoveBg("wrong", live_server.base_url) as c:
            with pytest.raises(AuthenticationError):
                await c.account()

    asyncio.run(main())
