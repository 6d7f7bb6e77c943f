"""The bad-input matrix (issue 9): every hostile request gets its 4xx and code, the server keeps serving, and
no credit (nor free call, nor /improve slot) is spent.

Each case asserts: the status, the error ``code``, ``/healthz`` still answers, and ``/account`` plus the
ledger are unchanged. Unusual-but-valid images (CMYK, 16-bit, palette+tRNS, animated WebP, huge EXIF) are
answered 200 and charged exactly once, exactly what ``X-Credits-Charged`` says.

The URL cases run against a server with the guard ON (``guarded_server``) using loopback spellings only, so a
broken guard could at worst reach this machine; private / link-local / public addresses are decided with fakes
in ``tests/emulator/test_urlfetch_guard.py``.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.reliability.rel_helpers import (
    NOT_IMAGES,
    animated,
    cmyk_jpeg,
    error_code,
    jpeg_header_only,
    jpeg_with_exif,
    palette_png_transparent,
    photo,
    png_16bit,
    png_header_only,
    png_with_huge_exif,
    truncated,
)

P = photo()  # the one valid image of the parameter cases (its mask is cached after the first inference)
MB = 1024 * 1024


@dataclass
class Case:
    id: str
    status: int
    code: str
    files: dict[str, Any] | None = None
    data: dict[str, Any] | None = None
    json: Any = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    path: str = "/removebg"


def upload(data: bytes, status: int, code: str, id: str, name: str = "photo.jpg", **fields: str) -> Case:
    return Case(id, status, code, files={"image_file": (name, data, "image/jpeg")}, data=dict(fields) or None)


def param(id: str, code: str, **fields: str) -> Case:
    return upload(P, 400, code, f"param-{id}", **fields)


CASES: list[Case] = [
    # ---- files that are not (acceptable) images, all named .jpg
    upload(b"", 400, "missing_source", "file-0-bytes"),  # an empty file part means "absent" (spec §13)
    *(upload(b, 400, "invalid_file_type", f"file-{n}-named-jpg") for n, b in NOT_IMAGES.items() if n != "empty"),
    upload(animated("GIF"), 400, "invalid_file_type", "file-animated-gif"),
    upload(truncated(photo(fmt="JPEG", quality=90)), 400, "failed_to_read_image", "file-truncated-jpeg"),
    upload(truncated(photo()), 400, "failed_to_read_image", "file-truncated-png"),
    upload(photo()[:40], 400, "invalid_dimensions", "file-png-header-cut-in-ihdr"),
    upload(png_header_only(100000, 100000), 400, "resolution_too_high", "file-png-declares-100000x100000"),
    upload(png_header_only(1187, 42123), 400, "resolution_too_high", "file-png-50MP-plus-1px"),
    upload(jpeg_header_only(1187, 42123), 400, "resolution_too_high", "file-jpeg-50MP-plus-1px"),
    upload(png_header_only(0xFFFFFFFF, 1), 400, "resolution_too_high", "file-png-width-2^32-1"),
    upload(photo((1, 1)), 400, "unknown_foreground", "file-1x1-px"),
    upload(b"\xff\xd8\xff\xe0" + b"\0" * (22 * MB + 1), 400, "file_too_large", "file-over-22MB"),
    # ---- base64
    Case("b64-corrupt", 400, "failed_to_read_image", data={"image_file_b64": "!!!not*base64@@@"}),
    Case("b64-data-uri-without-data", 400, "failed_to_read_image", data={"image_file_b64": "data:image/png;base64,"}),
    Case("b64-of-text", 400, "invalid_file_type", json={"image_file_b64": base64.b64encode(b"hello").decode()}),
    Case("b64-over-22MB", 400, "file_too_large",
         json={"image_file_b64": base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * (22 * MB + 1)).decode()}),
    Case("b64-not-a-string", 400, "failed_to_read_image", json={"image_file_b64": 12345}),
    # ---- bodies
    Case("json-invalid", 400, "invalid_request", content=b"{not json",
         headers={"Content-Type": "application/json"}),
    Case("json-array", 400, "invalid_request", content=b"[1, 2]", headers={"Content-Type": "application/json"}),
    Case("json-non-utf8", 400, "invalid_request", content='{"size": "é"}'.encode("latin-1"),
         headers={"Content-Type": "application/json"}),
    Case("json-nested-100k", 400, "invalid_request", content=b"[" * 100000 + b"]" * 100000,
         headers={"Content-Type": "application/json"}),
    Case("json-empty-object", 400, "missing_source", json={}),
    Case("form-non-utf8", 400, "invalid_request", content=b"size=%ff%fe&image_url=x",
         headers={"Content-Type": "application/x-www-form-urlencoded"}),
    Case("form-1200-fields", 400, "invalid_request", data={f"f{i}": "1" for i in range(1200)}),
    Case("multipart-no-boundary", 400, "invalid_request", content=b"--x\r\n\r\n",
         headers={"Content-Type": "multipart/form-data"}),
    Case("multipart-no-closing-boundary", 400, "invalid_request",
         content=b'--xyz\r\nContent-Disposition: form-data; name="image_file"; filename="a.png"\r\n\r\n' + P,
         headers={"Content-Type": "multipart/form-data; boundary=xyz"}),
    Case("multipart-garbage", 400, "invalid_request", content=b"\x00\xff" * 500,
         headers={"Content-Type": "multipart/form-data; boundary=xyz"}),
    Case("multipart-17-files", 400, "invalid_request",
         files=[(f"f{i}", (f"{i}.png", P, "image/png")) for i in range(17)]),  # type: ignore[arg-type]
    Case("content-type-text-plain", 415, "unsupported_media_type", content=b"hello",
         headers={"Content-Type": "text/plain"}),
    Case("content-type-image-jpeg-raw", 415, "unsupported_media_type", content=P,
         headers={"Content-Type": "image/jpeg"}),
    Case("content-type-xml", 415, "unsupported_media_type", content=b"<a/>",
         headers={"Content-Type": "application/xml"}),
    Case("test-header-negative-latency", 400, "invalid_request", content=b"",
         headers={"Content-Type": "application/json", "X-Openbg-Latency-Ms": "-5"}),
    # ---- garbage and boundary values of every parameter
    param("size-junk", "invalid_size", size="x" * 100000),
    param("size-unknown", "invalid_size", size="8k"),
    param("type-unknown", "invalid_type", type="robot"),
    param("type_level-3", "invalid_type_level", type_level="3"),
    param("format-gif", "invalid_format", format="gif"),
    param("roi-3-values", "invalid_roi", roi="1 2 3"),
    param("roi-inf", "invalid_roi", roi="0 0 1e400px 10px"),
    param("roi-beyond-image", "roi_exceeds_bounds", roi="0 0 500px 500px"),
    param("roi-101pct", "roi_exceeds_bounds", roi="0% 0% 101% 50%"),
    param("roi-empty", "roi_region_empty", roi="10 10 10 10"),
    param("crop-maybe", "invalid_crop", crop="maybe"),
    param("crop_margin-501px", "invalid_crop_margin", crop_margin="501px"),
    param("crop_margin-51pct", "invalid_crop_margin", crop_margin="51%"),
    param("crop_margin-3-values", "invalid_crop_margin", crop_margin="1 2 3"),
    param("scale-9pct", "invalid_scale", scale="9%"),
    param("scale-101pct", "invalid_scale", scale="101%"),
    param("scale-text", "invalid_scale", scale="big"),
    param("position-101pct", "invalid_position", position="101%"),
    param("position-3-values", "invalid_position", position="1% 2% 3%"),
    param("channels-rgb", "invalid_channels", channels="rgb"),
    param("add_shadow-perhaps", "invalid_add_shadow", add_shadow="perhaps"),
    param("shadow_type-neon", "invalid_shadow_type", shadow_type="neon"),
    param("shadow_type-unknown-subject", "invalid_shadow_type", **{"shadow_type[robot]": "drop"}),
    param("shadow_opacity-101", "invalid_shadow_opacity", shadow_opacity="101"),
    param("shadow_opacity-negative", "invalid_shadow_opacity", shadow_opacity="-1"),
    param("semitransparency-2", "invalid_semitransparency", semitransparency="2"),
    param("bg_color-ggg", "invalid_bg_color", bg_color="ggg"),
    param("bg_color-9-digits", "invalid_bg_color", bg_color="123456789"),
    param("bg_color-and-bg_image_url", "multiple_bg_sources", bg_color="fff", bg_image_url="http://127.0.0.1/x"),
    param("bg_image_url-ftp", "invalid_bg_image_url", bg_image_url="ftp://127.0.0.1/x.png"),
    param("quality-ultra", "invalid_quality", quality="ultra"),
    Case("bg_image_file-html", 400, "invalid_file_type",
         files={"image_file": ("a.png", P, "image/png"), "bg_image_file": ("bg.jpg", NOT_IMAGES["html"], "image/jpeg")}),
    Case("bg_image_file-png-100000x100000", 400, "resolution_too_high",
         files={"image_file": ("a.png", P, "image/png"),
                "bg_image_file": ("bg.png", png_header_only(100000, 100000), "image/png")}),
    param("image_url-and-file", "multiple_sources", image_url="http://127.0.0.1/x.png"),
    Case("image_url-spaces", 400, "invalid_image_url", data={"image_url": "http://127.0.0.1/a b"}),
    Case("image_url-bad-port", 400, "invalid_image_url", data={"image_url": "http://127.0.0.1:99999/"}),
    Case("image_url-5000-chars", 400, "invalid_image_url", data={"image_url": "http://127.0.0.1/" + "a" * 5000}),
    Case("test-header-malformed", 400, "invalid_request", files={"image_file": ("a.png", P, "image/png")},
         headers={"X-Openbg-Force-Status": "abc"}),
    # ---- /improve: path-like names and tags, wrong files
    *(Case(f"improve-filename-{i}", 400, "invalid_image_filename", path="/improve",
           files={"image_file": ("a.png", P, "image/png")}, data={"image_filename": name})
      for i, name in enumerate(["../../etc/passwd", "a/b.jpg", "..\\..\\win.ini", "x\x00.jpg", "n" * 256,
                                "/abs.jpg", "line\nbreak.jpg"])),
    *(Case(f"improve-tag-{i}", 400, "invalid_tag", path="/improve",
           files={"image_file": ("a.png", P, "image/png")}, data={"tag": tag})
      for i, tag in enumerate(["../../tmp", "a\\b", "t" * 256, "..", "tab\there"])),
    Case("improve-text-file", 400, "invalid_file_type", path="/improve",
         files={"image_file": ("a.jpg", NOT_IMAGES["html"], "image/jpeg")}),
    Case("improve-no-source", 400, "missing_source", path="/improve", data={"tag": "x"}),
    Case("improve-two-sources", 400, "multiple_sources", path="/improve",
         files={"image_file": ("a.png", P, "image/png")}, data={"image_url": "http://127.0.0.1/x.png"}),
    Case("improve-over-22MB", 400, "file_too_large", path="/improve",
         files={"image_file": ("a.png", b"\x89PNG\r\n\x1a\n" + b"\0" * (22 * MB + 1), "image/png")}),
]


def snapshot(server: Any, key: str) -> tuple[Any, ...]:
    """What a request could spend: /account as the client sees it, the ledger, the stored /improve files."""
    r = httpx.get(f"{server.base_url}/account", headers={"X-Api-Key": key}, timeout=30)
    assert r.status_code == 200, r.text
    info = server.key_info(key)
    improve_dir = Path(server.state_dir) / "improve"
    files = sorted(p.name for p in improve_dir.iterdir()) if improve_dir.exists() else []
    return r.json()["data"]["attributes"], len(server.accounts.ledger_rows(info.id)), info.credits, files


def send(server: Any, key: str, case: Case) -> httpx.Response:
    return httpx.post(
        f"{server.base_url}{case.path}", headers={"X-Api-Key": key, **case.headers}, files=case.files,
        data=case.data, json=case.json, content=case.content, timeout=120,
    )


def assert_alive(server: Any) -> None:
    r = httpx.get(f"{server.root_url}/healthz", timeout=10)
    assert r.status_code == 200 and r.json() == {"status": "ok"}


@pytest.fixture(scope="module")
def matrix_key(rel_server: Any) -> str:
    # No free calls: a preview would show as a 0.25 charge; a large rate limit so the matrix never hits 429.
    return rel_server.create_key("bad-input-matrix", credits=50, free_calls=0, rate_limit=100000)


def test_matrix_has_at_least_50_cases() -> None:
    assert len(CASES) >= 50


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(rel_server: Any, matrix_key: str, case: Case) -> None:
    before = snapshot(rel_server, matrix_key)
    r = send(rel_server, matrix_key, case)
    assert r.status_code == case.status, r.text[:500]
    assert r.headers["content-type"].startswith("application/json")
    assert error_code(r) == case.code, r.text[:500]
    assert r.headers.get("X-Credits-Charged") is None
    assert_alive(rel_server)
    assert snapshot(rel_server, matrix_key) == before


# ----------------------------------------------------------------------------- unusual but valid inputs
VALID = [
    ("cmyk-jpeg", cmyk_jpeg(), {}),
    ("png-16-bit", png_16bit(), {}),
    ("palette-png-with-trns", palette_png_transparent(), {}),
    ("animated-webp-first-frame", animated("WEBP"), {}),
    ("jpeg-64KB-exif", jpeg_with_exif(), {}),
    ("png-8MB-exif-65535-entries", png_with_huge_exif(), {}),
    ("boundary-crop_margin-500px", P, {"crop": "true", "crop_margin": "500px"}),
    ("boundary-scale-10pct-position-0-100", P, {"scale": "10%", "position": "0% 100%"}),
    ("boundary-shadow_opacity-100-roi-full", P, {"shadow_type": "drop", "shadow_opacity": "100",
                                                  "roi": "0% 0% 100% 100%"}),
]


@pytest.mark.parametrize("name,data,fields", VALID, ids=[v[0] for v in VALID])
def test_unusual_valid_input_charged_exactly_once(rel_server: Any, matrix_key: str, name: str, data: bytes,
                                                 fields: dict[str, str]) -> None:
    info = rel_server.key_info(matrix_key)
    rows_before = rel_server.accounts.ledger_rows(info.id)
    r = httpx.post(f"{rel_server.base_url}/removebg", headers={"X-Api-Key": matrix_key},
                   files={"image_file": ("photo.jpg", data, "image/jpeg")}, data=fields, timeout=180)
    assert r.status_code == 200, r.text[:500]
    charged = float(r.headers["X-Credits-Charged"])
    rows_after = rel_server.accounts.ledger_rows(info.id)
    assert len(rows_after) == len(rows_before) + 1
    assert rows_after[-1]["kind"] == "charge" and rows_after[-1]["delta_milli"] == -round(charged * 1000)
    assert rel_server.key_info(matrix_key).credits == pytest.approx(info.credits - charged)
    assert_alive(rel_server)


# ----------------------------------------------------------------------------- image_url, guard ON
def guarded_url_cases(hostile_port: int) -> list[tuple[str, str, str]]:
    p = hostile_port  # a real loopback server: a broken guard would reach it (and only it)
    return [
        ("loopback-127.0.0.1", f"http://127.0.0.1:{p}/ok.png", "failed_image_download"),
        ("loopback-127.1.2.3", f"http://127.1.2.3:{p}/ok.png", "failed_image_download"),
        ("loopback-127.255.255.254", f"http://127.255.255.254:{p}/ok.png", "failed_image_download"),
        ("loopback-short-127.1", f"http://127.1:{p}/ok.png", "failed_image_download"),
        ("loopback-ipv6", f"http://[::1]:{p}/ok.png", "failed_image_download"),
        ("loopback-ipv4-mapped-ipv6", f"http://[::ffff:127.0.0.1]:{p}/ok.png", "failed_image_download"),
        ("unspecified-0.0.0.0", f"http://0.0.0.0:{p}/ok.png", "failed_image_download"),
        ("unspecified-0", f"http://0:{p}/ok.png", "failed_image_download"),
        ("decimal-2130706433", f"http://2130706433:{p}/ok.png", "failed_image_download"),
        ("octal-0177.0.0.1", f"http://0177.0.0.1:{p}/ok.png", "failed_image_download"),
        ("hex-0x7f000001", f"http://0x7f000001:{p}/ok.png", "failed_image_download"),
        ("mixed-0x7f.1", f"http://0x7f.1:{p}/ok.png", "failed_image_download"),
        ("localhost", f"http://localhost:{p}/ok.png", "failed_image_download"),
        ("localhost-trailing-dot-upper", f"http://LOCALHOST.:{p}/ok.png", "failed_image_download"),
        ("userinfo-trick", f"http://example.com@127.0.0.1:{p}/ok.png", "failed_image_download"),
        ("file-scheme", "file:///etc/passwd", "invalid_image_url"),
        ("gopher-scheme", f"gopher://127.0.0.1:{p}/_GET", "invalid_image_url"),
        ("ftp-scheme", f"ftp://127.0.0.1:{p}/ok.png", "invalid_image_url"),
        ("no-scheme", f"127.0.0.1:{p}/ok.png", "invalid_image_url"),
    ]


GUARD_IDS = [c[0] for c in guarded_url_cases(1)]


@pytest.fixture(scope="module")
def guard_key(guarded_server: Any) -> str:
    return guarded_server.create_key("guard", credits=10, free_calls=0, rate_limit=100000)


@pytest.mark.parametrize("idx", range(len(GUARD_IDS)), ids=GUARD_IDS)
def test_image_url_refused_with_guard_on(guarded_server: Any, guard_key: str, hostile_host: Any, idx: int) -> None:
    _name, url, code = guarded_url_cases(hostile_host.port)[idx]
    before = snapshot(guarded_server, guard_key)
    hits = hostile_host.connections
    for field_name, want in (("image_url", code), ("bg_image_url", code.replace("image_download", "bg_download")
                                                   .replace("invalid_image_url", "invalid_bg_image_url"))):
        fields = {field_name: url}
        if field_name == "bg_image_url":
            fields["image_file_b64"] = base64.b64encode(P).decode()
        r = httpx.post(f"{guarded_server.base_url}/removebg", headers={"X-Api-Key": guard_key}, data=fields,
                       timeout=30)
        assert r.status_code == 400, r.text
        assert error_code(r) == want, r.text
    assert hostile_host.connections == hits, "the guard let a connection through to loopback"
    assert_alive(guarded_server)
    assert snapshot(guarded_server, guard_key) == before


def test_improve_image_url_refused_with_guard_on(guarded_server: Any, guard_key: str, hostile_host: Any) -> None:
    before = snapshot(guarded_server, guard_key)
    hits = hostile_host.connections
    r = httpx.post(f"{guarded_server.base_url}/improve", headers={"X-Api-Key": guard_key},
                   data={"image_url": f"http://127.0.0.1:{hostile_host.port}/ok.png"}, timeout=30)
    assert r.status_code == 400 and error_code(r) == "failed_image_download", r.text
    assert hostile_host.connections == hits
    assert snapshot(guarded_server, guard_key) == before


# ----------------------------------------------------------------------------- image_url, guard relaxed
HOSTILE = [
    ("stalling-server", "/stall"),
    ("slow-drip", "/slow-drip"),
    ("endless-stream", "/endless"),
    ("content-length-longer-than-body", "/short-body"),
    ("content-length-1GB", "/huge-cl"),
    ("redirect-loop", "/redirect-loop"),
    ("http-500", "/500"),
    ("empty-body", "/empty"),
]
FETCH_TIMEOUT = 3.0  # rel_server runs with OPENBG_FETCH_TIMEOUT_S=3
SLACK = 4.0  # scheduling slack on a busy 2-core machine


@pytest.mark.parametrize("path", [h[1] for h in HOSTILE], ids=[h[0] for h in HOSTILE])
def test_hostile_image_host_gives_clean_error_in_time(rel_server: Any, matrix_key: str, hostile_host: Any,
                                                      path: str) -> None:
    before = snapshot(rel_server, matrix_key)
    t0 = time.monotonic()
    r = httpx.post(f"{rel_server.base_url}/removebg", headers={"X-Api-Key": matrix_key},
                   data={"image_url": hostile_host.url(path)}, timeout=60)
    elapsed = time.monotonic() - t0
    assert r.status_code == 400, r.text
    assert error_code(r) == "failed_image_download", r.text
    assert elapsed < FETCH_TIMEOUT + SLACK, f"{path} took {elapsed:.1f} s"
    assert_alive(rel_server)
    assert snapshot(rel_server, matrix_key) == before


def test_redirect_is_followed_when_relaxed(rel_server: Any, matrix_key: str, hostile_host: Any) -> None:
    """Control for the cases above: the same host serves a good image through a redirect."""
    r = httpx.post(f"{rel_server.base_url}/removebg", headers={"X-Api-Key": matrix_key},
                   data={"image_url": hostile_host.url("/redirect-to-ok")}, timeout=120)
    assert r.status_code == 200, r.text
