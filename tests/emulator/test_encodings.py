"""Every request encoding and response mode of POST /removebg against the live emulator."""

from __future__ import annotations

import base64
import io
import json
import zipfile

import httpx
import pytest
from PIL import Image

from tests.emulator.emu_helpers import assert_cutout, error_code

HEADERS_ALWAYS = ("X-Width", "X-Height", "X-Credits-Charged", "X-Foreground-Top", "X-Foreground-Left",
                  "X-Foreground-Width", "X-Foreground-Height", "X-Max-Width", "X-Max-Height",
                  "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


@pytest.fixture(scope="module")
def key(live_server) -> str:  # type: ignore[no-untyped-def]
    return live_server.create_key("encodings", credits=100)


def post(live_server, key: str, **kw) -> httpx.Response:  # type: ignore[no-untyped-def]
    headers = {"X-Api-Key": key, **kw.pop("headers", {})}
    return httpx.post(f"{live_server.base_url}/removebg", headers=headers, timeout=60, **kw)


def check_ok(r: httpx.Response, content_type: str = "image/png") -> None:
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == content_type
    for h in HEADERS_ALWAYS:
        assert h in r.headers, h
    assert r.headers["access-control-allow-origin"] == "*"
    assert int(r.headers["X-Width"]) == 320 and int(r.headers["X-Height"]) == 240


def test_multipart_file(live_server, key, jpeg) -> None:  # type: ignore[no-untyped-def]
    r = post(live_server, key, files={"image_file": ("photo.png", jpeg, "image/png")}, data={"size": "auto"})
    check_ok(r)
    assert r.headers["X-Type"] in ("person", "product", "animal", "car", "other")
    assert_cutout(r.content)


def test_urlencoded_b64(live_server, key, jpeg) -> None:  # type: ignore[no-untyped-def]
    r = post(live_server, key, data={"image_file_b64": base64.b64encode(jpeg).decode(), "format": "png"})
    check_ok(r)
    assert_cutout(r.content)


@pytest.mark.parametrize("prefix", ["", "data:image/jpeg;base64,"])
def test_json_b64(live_server, key, jpeg, prefix) -> None:  # type: ignore[no-untyped-def]
    b64 = base64.b64encode(jpeg).decode()
    # whitespace inside the base64 is ignored as well
    b64 = "\n".join(b64[i:i + 76] for i in range(0, len(b64), 76))
    r = post(live_server, key, json={"image_file_b64": prefix + b64, "crop": False, "semitransparency": True})
    check_ok(r)
    assert_cutout(r.content)


def test_empty_string_client(live_server, key, jpeg) -> None:  # type: ignore[no-untyped-def]
    """The official CLI sends every field, "" when unset (spec §3)."""
    fields = {f: "" for f in ("size", "type", "type_level", "format", "roi", "crop", "crop_margin", "scale",
                              "position", "channels", "add_shadow", "semitransparency", "bg_color",
                              "image_url", "image_file_b64", "bg_image_url", "shadow_type", "shadow_opacity")}
    r = post(live_server, key, files={"image_file": ("x.jpg", jpeg, "image/jpeg")}, data=fields)
    check_ok(r)
    assert_cutout(r.content)


def test_browser_form_with_api_key_field_and_empty_file(live_server, key, jpeg) -> None:  # type: ignore[no-untyped-def]
    """The browser demo posts the whole form: api_key field, empty image_url, an empty file part (spec §3)."""
    b64 = base64.b64encode(jpeg).decode()
    r = post(live_server, key,
             files={"image_file": ("", b"", "application/octet-stream"),
                    "bg_image_file": ("", b"", "application/octet-stream")},
             data={"api_key": "something-else", "image_url": "", "image_file_b64": b64, "size": "preview",
                   "unknown_field": "ignored"},
             headers={"Accept": "application/json"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()["data"]
    assert_cutout(base64.b64decode(body["result_b64"]))
    for k in ("foreground_top", "foreground_left", "foreground_width", "foreground_height"):
        assert isinstance(body[k], int)
    for h in HEADERS_ALWAYS:
        assert h in r.headers, h  # JSON mode carries the same headers (§13)


def test_booleans_as_json_and_strings(live_server, key, jpeg) -> None:  # type: ignore[no-untyped-def]
    r = post(live_server, key, json={"image_file_b64": base64.b64encode(jpeg).decode(), "crop": True,
                                     "add_shadow": False, "semitransparency": "false", "size": "PREVIEW"})
    assert r.status_code == 200, r.text
    w, h = int(r.headers["X-Width"]), int(r.headers["X-Height"])
    assert w < 320 and h < 240  # cropped to the subject
    r2 = post(live_server, key, files={"image_file": ("x.jpg", jpeg)}, data={"crop": "TRUE"})
    assert r2.status_code == 200 and (int(r2.headers["X-Width"]), int(r2.headers["X-Height"])) == (w, h)


def test_per_type_shadow_fields(live_server, key, jpeg) -> None:  # type: ignore[no-untyped-def]
    r = post(live_server, key, files={"image_file": ("x.jpg", jpeg)},
             data={"shadow_type[other]": "drop", "shadow_opacity[other]": "80", "shadow_type[car]": "car"})
    assert r.status_code == 200, r.text
    r = post(live_server, key, json={"image_file_b64": base64.b64encode(jpeg).decode(),
                                     "shadow_type": {"other": "drop"}, "shadow_opacity": {"other": 30}})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    "fmt,ctype",
    [("png", "image/png"), ("jpg", "image/jpeg"), ("webp", "image/webp"), ("zip", "application/zip"),
     ("auto", "image/png")],
)
def test_formats(live_server, key, jpeg, fmt, ctype) -> None:  # type: ignore[no-untyped-def]
    r = post(live_server, key, files={"image_file": ("x.jpg", jpeg)}, data={"format": fmt})
    check_ok(r, ctype)
    data = r.content
    if fmt == "zip":
        z = zipfile.ZipFile(io.BytesIO(data))
        assert sorted(z.namelist()) == ["alpha.png", "color.jpg"]
        color = Image.open(io.BytesIO(z.read("color.jpg")))
        alpha = Image.open(io.BytesIO(z.read("alpha.png")))
        assert color.size == alpha.size == (320, 240)
        assert color.format == "JPEG" and alpha.mode in ("L", "LA", "1", "P")
        a = alpha.convert("L")
        assert a.getpixel((160, 125)) >= 240 and a.getpixel((8, 8)) <= 15
        # JSON mode: result_b64 holds the ZIP bytes (§13)
        rj = post(live_server, key, files={"image_file": ("x.jpg", jpeg)}, data={"format": "zip"},
                  headers={"Accept": "application/json"})
        assert rj.status_code == 200
        assert zipfile.ZipFile(io.BytesIO(base64.b64decode(rj.json()["data"]["result_b64"]))).namelist()
    elif fmt == "jpg":
        im = Image.open(io.BytesIO(data))
        assert im.format == "JPEG" and im.size == (320, 240)
    else:
        im = assert_cutout(data)
        assert im.format == {"png": "PNG", "webp": "WEBP", "auto": "PNG"}[fmt]


def test_bg_color_gives_opaque_jpeg_on_auto(live_server, key, jpeg) -> None:  # type: ignore[no-untyped-def]
    r = post(live_server, key, files={"image_file": ("x.jpg", jpeg)}, data={"bg_color": "#00ff00"})
    check_ok(r, "image/jpeg")
    im = Image.open(io.BytesIO(r.content)).convert("RGB")
    g = im.getpixel((8, 8))
    assert g[1] > 200 and g[0] < 60 and g[2] < 60


def test_bg_image_file(live_server, key, jpeg, png) -> None:  # type: ignore[no-untyped-def]
    r = post(live_server, key, files={"image_file": ("x.jpg", jpeg), "bg_image_file": ("bg.png", png)},
             data={"format": "png"})
    check_ok(r)


def test_accept_json_and_removebg_json_alias(live_server, key, jpeg) -> None:  # type: ignore[no-untyped-def]
    for url, headers in ((f"{live_server.base_url}/removebg", {"Accept": "application/json"}),
                         (f"{live_server.base_url}/removebg.json", {})):
        r = httpx.post(url, headers={"X-Api-Key": key, **headers}, files={"image_file": ("x.jpg", jpeg)},
                       timeout=60)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("application/json")
        assert_cutout(base64.b64decode(r.json()["data"]["result_b64"]))
    # Accept: */* or image/* → binary (spec §4)
    for accept in ("*/*", "image/*", "image/png, application/json;q=0"):
        r = post(live_server, key, files={"image_file": ("x.jpg", jpeg)}, headers={"Accept": accept})
        assert r.headers["content-type"] == "image/png", accept


def test_auth_header_variants(live_server, key, jpeg) -> None:  # type: ignore[no-untyped-def]
    for headers in ({"x-api-key": key}, {"X-API-KEY": key}, {"Authorization": f"Bearer {key}"}):
        r = httpx.get(f"{live_server.base_url}/account", headers=headers, timeout=30)
        assert r.status_code == 200, headers


def test_malformed_bodies(live_server, key) -> None:  # type: ignore[no-untyped-def]
    url = f"{live_server.base_url}/removebg"
    cases = [
        ({"Content-Type": "application/json"}, b"{not json", 400, "invalid_request"),
        ({"Content-Type": "application/json"}, b"[1,2]", 400, "invalid_request"),
        ({"Content-Type": "application/json"}, "{\"size\": \"é\"}".encode("latin-1"), 400, "invalid_request"),
        ({"Content-Type": "application/json"}, b"{}", 400, "missing_source"),
        ({"Content-Type": "application/x-www-form-urlencoded"}, b"size=%ff%fe", 400, "invalid_request"),
        ({"Content-Type": "multipart/form-data"}, b"--x\r\n", 400, "invalid_request"),
        ({"Content-Type": "multipart/form-data; boundary=xyz"}, b"garbage without boundary", 400,
         "invalid_request"),
        ({"Content-Type": "multipart/form-data; boundary=xyz"},  # no closing boundary
         b'--xyz\r\nContent-Disposition: form-data; name="size"\r\n\r\npreview\r\n', 400, "invalid_request"),
        ({"Content-Type": "text/plain"}, b"hello", 415, "unsupported_media_type"),
        ({"Content-Type": "image/jpeg"}, b"\xff\xd8\xff", 415, "unsupported_media_type"),
        ({}, b"", 400, "missing_source"),
    ]
    for headers, body, status, code in cases:
        r = httpx.post(url, headers={"X-Api-Key": key, **headers}, content=body, timeout=30)
        assert r.status_code == status, (headers, body, r.text)
        assert error_code(r) == code, (headers, body, r.text)
        assert r.headers["content-type"].startswith("application/json")
        assert "X-RateLimit-Limit" in r.headers
    # deeply nested JSON is an invalid_request too, never a 500
    r = httpx.post(url, headers={"X-Api-Key": key, "Content-Type": "application/json"},
                   content=b"[" * 100000 + b"]" * 100000, timeout=30)
    assert r.status_code == 400 and error_code(r) == "invalid_request"
    assert json.loads(httpx.get(f"{live_server.root_url}/healthz").text)["status"] == "ok"


def test_file_part_without_filename_and_type_level_none(live_server, key, jpeg) -> None:  # type: ignore[no-untyped-def]
    """requests' files={"image_file": (None, data)} sends no filename: still the image bytes."""
    r = requests_post(live_server, key, files={"image_file": (None, jpeg)}, data={"type_level": "none"})
    check_ok(r)
    assert "X-Type" not in r.headers  # type_level=none: no X-Type (spec §6.2)
    assert_cutout(r.content)


def requests_post(live_server, key, **kw):  # type: ignore[no-untyped-def]
    import requests

    return requests.post(f"{live_server.base_url}/removebg", headers={"X-Api-Key": key}, timeout=60, **kw)


def test_openapi_published(live_server) -> None:  # type: ignore[no-untyped-def]
    from pathlib import Path

    r = httpx.get(f"{live_server.root_url}/openapi.yaml", timeout=30)
    assert r.status_code == 200 and "yaml" in r.headers["content-type"]
    repo = Path(__file__).resolve().parents[2] / "openapi.yaml"
    assert r.text == repo.read_text(encoding="utf-8")  # the hand-written file, not a generated one
    assert httpx.get(f"{live_server.root_url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{live_server.root_url}/readyz").status_code == 200
