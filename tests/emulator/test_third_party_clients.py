"""The most-used third-party remove.bg clients, unmodified, against the live emulator.

Teams moving off remove.bg keep the client they have. Both clients here hard-code
``https://api.remove.bg/v1.0``; the tests point that one constant at the emulator, as a user would
(docs/emulator.md, "Moving from remove.bg"), and change nothing else:

* ``removebg`` 0.4 (released as 0.04) from PyPI (MIT): ``requests``, multipart and form bodies, binary results, the
  deprecated ``size=regular``;
* ``remove.bg`` 1.3.0 from npm (MIT, about 66,000 downloads a month): ``unirest``, JSON and multipart
  bodies, ``Accept: application/json`` results (``data.result_b64``), the ``X-*`` headers, and the
  error array on a bad key.
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest
import requests
from PIL import Image

from tests.emulator.emu_helpers import BACKGROUND_POINT, SUBJECT_POINT, assert_cutout

ROOT = Path(__file__).resolve().parents[2]
NODE_MODULES = ROOT / "node_modules"
REMOTE = "https://api.remove.bg/v1.0"


@pytest.fixture(scope="module")
def key(live_server) -> str:  # type: ignore[no-untyped-def]
    return live_server.create_key("third-party", credits=20)


def _on_colour(data: bytes, colour: tuple[int, int, int]) -> Image.Image:
    """An opaque result whose background is ``colour`` and whose subject is not."""
    im = Image.open(io.BytesIO(data)).convert("RGBA")
    bg = im.getpixel(BACKGROUND_POINT)
    assert bg[3] == 255 and all(abs(a - b) <= 3 for a, b in zip(bg[:3], colour, strict=True)), bg
    return im


# --------------------------------------------------------------------------------------------------
# removebg (PyPI)
# --------------------------------------------------------------------------------------------------


@pytest.fixture()
def removebg(live_server, monkeypatch):  # type: ignore[no-untyped-def]
    """The package, its endpoint pointed at the emulator."""
    package = pytest.importorskip("removebg")
    import removebg.removebg as module

    assert module.API_ENDPOINT == f"{REMOTE}/removebg"  # the one constant a user changes
    monkeypatch.setattr(module, "API_ENDPOINT", f"{live_server.base_url}/removebg")
    return package


@pytest.fixture()
def removebg_client(removebg, key):  # type: ignore[no-untyped-def]
    return removebg.RemoveBg(key, os.devnull)


def test_removebg_pypi_file(removebg_client, photo) -> None:  # type: ignore[no-untyped-def]
    removebg_client.remove_background_from_img_file(str(photo))  # size="regular": the old preview name
    assert_cutout(Path(f"{photo}_no_bg.png").read_bytes())


def test_removebg_pypi_file_bg_color(removebg_client, photo, tmp_path) -> None:  # type: ignore[no-untyped-def]
    p = tmp_path / "coloured.jpg"
    shutil.copy(photo, p)
    removebg_client.remove_background_from_img_file(str(p), bg_color="81d4fa")
    im = _on_colour(Path(f"{p}_no_bg.png").read_bytes(), (0x81, 0xD4, 0xFA))
    assert im.getpixel(SUBJECT_POINT)[:3] != im.getpixel(BACKGROUND_POINT)[:3]


def test_removebg_pypi_url(removebg_client, image_host, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "from-url.png"
    removebg_client.remove_background_from_img_url(image_host.url("/img.jpg"), new_file_name=str(out))
    assert_cutout(out.read_bytes())


def test_removebg_pypi_base64(removebg_client, photo, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "from-b64.png"
    b64 = base64.b64encode(photo.read_bytes()).decode()
    removebg_client.remove_background_from_base64_img(b64, new_file_name=str(out))
    assert_cutout(out.read_bytes())


def test_removebg_pypi_bad_key(removebg, photo) -> None:  # type: ignore[no-untyped-def]
    client = removebg.RemoveBg("not-a-key", os.devnull)
    with pytest.raises(requests.HTTPError) as info:
        client.remove_background_from_img_file(str(photo))
    assert info.value.response.status_code == 403
    assert info.value.response.json()["errors"][0]["code"] == "auth_failed"


# --------------------------------------------------------------------------------------------------
# remove.bg (npm)
# --------------------------------------------------------------------------------------------------

# Preloaded with `node -r`: the package's endpoint constant is module-private, so the one change is
# made where it is used, in the unirest.post() the package calls.
REDIRECT = """
const path = require("path");
const pkg = path.dirname(require.resolve("remove.bg"));
const unirest = require(require.resolve("unirest", { paths: [pkg] }));
const post = unirest.post;
unirest.post = (url, ...rest) => {
  if (!url.startsWith(process.env.REMOTE)) throw new Error("unexpected endpoint " + url);  // never off the machine
  return post(process.env.OPENBG_BASE_URL + url.slice(process.env.REMOTE.length), ...rest);
};
"""

SCRIPT = """
const fs = require("fs");
const rbg = require("remove.bg");
const [dir, photo, imageUrl] = process.argv.slice(2);
const apiKey = process.env.API_KEY;
const calls = {
  file: () => rbg.removeBackgroundFromImageFile({ path: photo, apiKey, size: "regular", type: "auto",
                                                   outputFile: dir + "/file.png" }),
  crop: () => rbg.removeBackgroundFromImageFile({ path: photo, apiKey, size: "regular", crop: true,
                                                   bg_color: "81d4fa", outputFile: dir + "/crop.png" }),
  url: () => rbg.removeBackgroundFromImageUrl({ url: imageUrl, apiKey, size: "regular", type: "product",
                                                 outputFile: dir + "/url.png" }),
  base64: () => rbg.removeBackgroundFromImageBase64({ base64img: fs.readFileSync(photo).toString("base64"),
                                                       apiKey, size: "regular", outputFile: dir + "/b64.png" }),
  badKey: () => rbg.removeBackgroundFromImageFile({ path: photo, apiKey: "not-a-key", size: "regular" }),
};
(async () => {
  const out = {};
  for (const [name, call] of Object.entries(calls)) {
    try {
      const r = await call();
      out[name] = { ...r, base64img: r.base64img.length };
    } catch (errors) {
      out[name] = { errors };
    }
  }
  console.log(JSON.stringify(out));
})();
"""


@pytest.fixture(scope="module")
def npm_results(live_server, key, photo, image_host, tmp_path_factory) -> tuple[dict, Path]:  # type: ignore[no-untyped-def,type-arg]
    if shutil.which("node") is None:
        pytest.skip("node not installed")
    if not (NODE_MODULES / "remove.bg").is_dir():
        pytest.fail("node_modules/remove.bg missing: run `npm ci` (make test does)")
    d = tmp_path_factory.mktemp("npm")
    (d / "redirect.cjs").write_text(textwrap.dedent(REDIRECT))
    (d / "run.cjs").write_text(textwrap.dedent(SCRIPT))
    env = {"PATH": os.environ["PATH"], "NODE_PATH": str(NODE_MODULES), "API_KEY": key, "REMOTE": REMOTE,
           "OPENBG_BASE_URL": live_server.base_url,
           # had the redirect not taken, any https request would fail here instead of leaving the machine
           "HTTPS_PROXY": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9", "NO_PROXY": "127.0.0.1"}
    p = subprocess.run(
        ["node", "-r", str(d / "redirect.cjs"), str(d / "run.cjs"), str(d), str(photo), image_host.url("/img.jpg")],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout.strip().splitlines()[-1]), d


def test_npm_remove_bg_file(npm_results) -> None:  # type: ignore[no-untyped-def]
    out, d = npm_results
    r = out["file"]
    assert "errors" not in r, r
    assert_cutout((d / "file.png").read_bytes())
    # the metadata the package reads from the headers of a JSON-mode response
    assert (r["resultWidth"], r["resultHeight"]) == ("320", "240")
    assert r["creditsCharged"] in ("0", "0.25")
    assert r["detectedType"] in ("person", "product", "animal", "car", "other")
    assert int(r["rateLimit"]) >= int(r["rateLimitRemaining"]) >= 0
    assert int(r["rateLimitReset"]) > 1_700_000_000


def test_npm_remove_bg_crop_and_colour(npm_results) -> None:  # type: ignore[no-untyped-def]
    out, d = npm_results
    r = out["crop"]
    assert "errors" not in r, r
    im = Image.open(d / "crop.png")
    assert im.size == (int(r["resultWidth"]), int(r["resultHeight"]))
    assert im.width < 320 and im.height < 240  # cropped to the subject
    rgba = im.convert("RGBA")
    corner = rgba.getpixel((0, 0))
    assert corner[3] == 255  # bg_color fills what the subject does not
    assert rgba.getpixel((im.width // 2, im.height // 2))[:3] != (0x81, 0xD4, 0xFA)


def test_npm_remove_bg_url_and_base64(npm_results, image_host) -> None:  # type: ignore[no-untyped-def]
    out, d = npm_results
    for name, file in (("url", "url.png"), ("base64", "b64.png")):
        assert "errors" not in out[name], out[name]
        assert_cutout((d / file).read_bytes())
    assert "/img.jpg" in image_host.hits


def test_npm_remove_bg_bad_key(npm_results) -> None:  # type: ignore[no-untyped-def]
    out, _ = npm_results
    errors = out["badKey"]["errors"]
    assert errors[0]["code"] == "auth_failed" and errors[0]["title"]
