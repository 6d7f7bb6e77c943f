"""Every producible error of the emulator: status, code, error shape, nothing charged, server still up."""

from __future__ import annotations

import base64
import concurrent.futures as cf
import io
import re
import socket
import time

import httpx
import pytest
from PIL import Image

from tests.emulator.emu_helpers import error_code, png_declaring, synthetic


def _alive(server) -> bool:  # type: ignore[no-untyped-def]
    return httpx.get(f"{server.root_url}/healthz", timeout=10).status_code == 200


@pytest.fixture(scope="module")
def key(live_server) -> str:  # type: ignore[no-untyped-def]
    # no free calls: any successful result would show in the balance
    return live_server.create_key("errors", credits=5, free_calls=0)


def _state(server, key):  # type: ignore[no-untyped-def]
    info = server.key_info(key)
    return info.credits, len(server.accounts.ledger_rows(info.id))


def _uniform_jpeg() -> bytes:
    b = io.BytesIO()
    Image.new("RGB", (120, 90), (128, 128, 128)).save(b, "JPEG")
    return b.getvalue()


def _png_zero_width() -> bytes:
    return png_declaring(0, 10)


J = "json"
M = "multipart"

# (name, encoding, fields, files, expected status, expected code)
CASES = [
    ("missing_source", J, {}, None, 400, "missing_source"),
    ("missing_source_all_empty", M, {"image_url": "", "image_file_b64": ""}, {"image_file": ("", b"")}, 400,
     "missing_source"),
    ("multiple_sources", M, {"image_url": "http://127.0.0.1:9/x.jpg"}, {"image_file": ("x.jpg", "JPEG")}, 400,
     "multiple_sources"),
    ("failed_to_read_image", J, {"image_file_b64": "!!!not base64!!!"}, None, 400, "failed_to_read_image"),
    ("invalid_file_type_text", M, {}, {"image_file": ("x.jpg", b"hello, this is text, not an image" * 20)}, 400,
     "invalid_file_type"),
    ("invalid_file_type_html", M, {}, {"image_file": ("x.png", b"<!doctype html><html><body>hi</body></html>")},
     400, "invalid_file_type"),
    ("invalid_dimensions", M, {}, {"image_file": ("x.png", "ZEROPNG")}, 400, "invalid_dimensions"),
    ("resolution_too_high", M, {}, {"image_file": ("x.png", "BIGPNG")}, 400, "resolution_too_high"),
    ("invalid_image_url_scheme", J, {"image_url": "ftp://127.0.0.1/x.jpg"}, None, 400, "invalid_image_url"),
    ("invalid_image_url_file", J, {"image_url": "file:///etc/passwd"}, None, 400, "invalid_image_url"),
    ("invalid_image_url_junk", J, {"image_url": "not a url"}, None, 400, "invalid_image_url"),
    ("invalid_bg_image_url", M, {"bg_image_url": "gopher://127.0.0.1/x"}, {"image_file": ("x.jpg", "JPEG")}, 400,
     "invalid_bg_image_url"),
    ("failed_image_download", J, {"image_url": "HOST/missing.jpg"}, None, 400, "failed_image_download"),
    ("failed_bg_download", M, {"bg_image_url": "HOST/missing-bg.jpg"}, {"image_file": ("x.jpg", "JPEG")}, 400,
     "failed_bg_download"),
    ("invalid_size", M, {"size": "huge"}, {"image_file": ("x.jpg", "JPEG")}, 400, "invalid_size"),
    ("invalid_type", M, {"type": "dragon"}, {"image_file": ("x.jpg", "JPEG")}, 400, "invalid_type"),
    ("invalid_type_level", M, {"type_level": "3"}, {"image_file": ("x.jpg", "JPEG")}, 400, "invalid_type_level"),
    ("invalid_format", M, {"format": "gif"}, {"image_file": ("x.jpg", "JPEG")}, 400, "invalid_format"),
    ("invalid_roi", M, {"roi": "0 0 100%"}, {"image_file": ("x.jpg", "JPEG")}, 400, "invalid_roi"),
    ("roi_exceeds_bounds", M, {"roi": "0px 0px 1000px 1000px"}, {"image_file": ("x.jpg", "JPEG")}, 400,
     "roi_exceeds_bounds"),
    ("roi_region_empty", M, {"roi": "10px 10px 10px 10px"}, {"image_file": ("x.jpg", "JPEG")}, 400,
     "roi_region_empty"),
    ("invalid_crop", M, {"crop": "maybe"}, {"image_file": ("x.jpg", "JPEG")}, 400, "invalid_crop"),
    ("invalid_crop_margin", M, {"crop": "true", "crop_margin": "lots"}, {"image_file": ("x.jpg", "JPEG")}, 400,
     "invalid_crop_margin"),
    ("invalid_scale", M, {"scale": "5%"}, {"image_file": ("x.jpg", "JPEG")}, 400, "invalid_scale"),
    ("invalid_position", M, {"position": "120%"}, {"image_file": ("x.jpg", "JPEG")}, 400, "invalid_position"),
    ("invalid_channels", M, {"channels": "cmyk"}, {"image_file": ("x.jpg", "JPEG")}, 400, "invalid_channels"),
    ("invalid_add_shadow", M, {"add_shadow": "perhaps"}, {"image_file": ("x.jpg", "JPEG")}, 400,
     "invalid_add_shadow"),
    ("invalid_shadow_type", M, {"shadow_type": "neon"}, {"image_file": ("x.jpg", "JPEG")}, 400,
     "invalid_shadow_type"),
    ("invalid_shadow_opacity", M, {"shadow_opacity": "101"}, {"image_file": ("x.jpg", "JPEG")}, 400,
     "invalid_shadow_opacity"),
    ("invalid_semitransparency", M, {"semitransparency": "half"}, {"image_file": ("x.jpg", "JPEG")}, 400,
     "invalid_semitransparency"),
    ("invalid_bg_color", M, {"bg_color": "notacolour"}, {"image_file": ("x.jpg", "JPEG")}, 400,
     "invalid_bg_color"),
    ("multiple_bg_sources", M, {"bg_color": "fff", "bg_image_url": "HOST/img.jpg"},
     {"image_file": ("x.jpg", "JPEG")}, 400, "multiple_bg_sources"),
    ("invalid_quality", M, {"quality": "ultra"}, {"image_file": ("x.jpg", "JPEG")}, 400, "invalid_quality"),
    ("unknown_foreground", M, {}, {"image_file": ("x.jpg", "UNIFORM")}, 400, "unknown_foreground"),
]


def _materialise(v, jpeg: bytes) -> bytes:  # type: ignore[no-untyped-def]
    return {"JPEG": jpeg, "ZEROPNG": _png_zero_width(), "BIGPNG": png_declaring(8000, 6300),
            "UNIFORM": _uniform_jpeg()}.get(v, v) if isinstance(v, str) else v


@pytest.mark.parametrize("name,enc,fields,files,status,code", CASES, ids=[c[0] for c in CASES])
def test_bad_request(live_server, key, jpeg, image_host, name, enc, fields, files, status, code) -> None:  # type: ignore[no-untyped-def]
    before = _state(live_server, key)
    fields = {k: (v.replace("HOST", image_host.url("")) if isinstance(v, str) else v) for k, v in fields.items()}
    url = f"{live_server.base_url}/removebg"
    if enc == J:
        r = httpx.post(url, headers={"X-Api-Key": key}, json=fields, timeout=60)
    else:
        fl = {k: (fn, _materialise(v, jpeg)) for k, (fn, v) in (files or {}).items()}
        r = httpx.post(url, headers={"X-Api-Key": key}, data=fields, files=fl, timeout=60)
    assert r.status_code == status, r.text
    assert error_code(r) == code, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert r.headers["access-control-allow-origin"] == "*"
    for h in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
        assert h in r.headers
    assert _state(live_server, key) == before, "an error charged credits"
    assert _alive(live_server)


def test_file_too_large_streamed(live_server, key) -> None:  # type: ignore[no-untyped-def]
    before = _state(live_server, key)
    big = b"\xff\xd8\xff\xe0" + b"\0" * (22 * 1024 * 1024 + 10)
    r = httpx.post(f"{live_server.base_url}/removebg", headers={"X-Api-Key": key},
                   files={"image_file": ("big.jpg", big)}, timeout=120)
    assert r.status_code == 400 and error_code(r) == "file_too_large", r.text
    b64 = base64.b64encode(big).decode()
    r = httpx.post(f"{live_server.base_url}/removebg", headers={"X-Api-Key": key},
                   json={"image_file_b64": b64}, timeout=120)
    assert r.status_code == 400 and error_code(r) == "file_too_large", r.text
    assert _state(live_server, key) == before
    assert _alive(live_server)


def _raw(server, request: bytes, timeout: float = 10) -> bytes:  # type: ignore[no-untyped-def]
    """Send raw bytes; return the whole response (headers and the Content-Length body)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as s:
        s.sendall(request)
        data = b""
        try:
            while True:
                head, sep, body = data.partition(b"\r\n\r\n")
                if sep:
                    m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
                    if m and len(body) >= int(m.group(1)):
                        break
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        except TimeoutError:
            pass
    return data


def test_payload_too_large_refused_before_reading(live_server, key) -> None:  # type: ignore[no-untyped-def]
    # A body claimed at 1 GB is refused at once (413), without waiting for (or reading) it.
    t0 = time.monotonic()
    data = _raw(live_server, (
        f"POST /v1.0/removebg HTTP/1.1\r\nHost: x\r\nX-Api-Key: {key}\r\n"
        "Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 1000000000\r\n\r\n--b\r\n"
    ).encode())
    assert data.startswith(b"HTTP/1.1 413"), data[:200]
    assert b"payload_too_large" in data
    assert time.monotonic() - t0 < 5
    assert _alive(live_server)


def test_auth_failures(live_server, jpeg) -> None:  # type: ignore[no-untyped-def]
    url = f"{live_server.base_url}/removebg"
    r = httpx.post(url, files={"image_file": ("x.jpg", jpeg)}, timeout=30)
    assert r.status_code == 403 and error_code(r) == "auth_failed"
    assert r.json()["errors"][0]["title"] == "Missing API Key"
    r = httpx.post(url, headers={"X-Api-Key": "obg_wrong"}, files={"image_file": ("x.jpg", jpeg)}, timeout=30)
    assert r.status_code == 403 and r.json()["errors"][0] == {"title": "API Key invalid", "code": "auth_failed"}
    r = httpx.get(f"{live_server.base_url}/account", headers={"Authorization": "Bearer nope"}, timeout=30)
    assert r.status_code == 403 and error_code(r) == "auth_failed"
    r = httpx.get(f"{live_server.base_url}/account", headers={"X-Api-Key": ""}, timeout=30)
    assert r.status_code == 403 and r.json()["errors"][0]["title"] == "Missing API Key"
    # revocation takes effect immediately
    k = live_server.create_key("to-revoke", credits=1)
    assert httpx.get(f"{live_server.base_url}/account", headers={"X-Api-Key": k}).status_code == 200
    live_server.accounts.revoke(k)
    r = httpx.get(f"{live_server.base_url}/account", headers={"X-Api-Key": k})
    assert r.status_code == 403 and error_code(r) == "auth_failed"
    assert r.headers["access-control-allow-origin"] == "*"


def test_insufficient_credits(live_server, jpeg) -> None:  # type: ignore[no-untyped-def]
    url = f"{live_server.base_url}/removebg"
    broke = live_server.create_key("broke", credits=0, free_calls=0)
    r = httpx.post(url, headers={"X-Api-Key": broke}, files={"image_file": ("x.jpg", jpeg)}, timeout=60)
    assert r.status_code == 402 and error_code(r) == "insufficient_credits", r.text
    assert r.json()["errors"][0]["title"] == "Insufficient credits"
    assert "X-RateLimit-Remaining" in r.headers
    # 0.5 credits: a preview (0.25) works, a full-size result (1) does not
    half = live_server.create_key("half", credits=0.5, free_calls=0)
    big = synthetic((800, 600))
    r = httpx.post(url, headers={"X-Api-Key": half}, files={"image_file": ("x.jpg", big)},
                   data={"size": "full"}, timeout=60)
    assert r.status_code == 402 and error_code(r) == "insufficient_credits"
    r = httpx.post(url, headers={"X-Api-Key": half}, files={"image_file": ("x.jpg", jpeg)}, timeout=60)
    assert r.status_code == 200 and r.headers["X-Credits-Charged"] == "0.25"
    assert live_server.key_info(half).credits == 0.25
    assert _alive(live_server)


def test_rate_limit_429(live_server, jpeg) -> None:  # type: ignore[no-untyped-def]
    k = live_server.create_key("tiny-rate", credits=5, rate_limit=2)
    url = f"{live_server.base_url}/account"
    r1 = httpx.get(url, headers={"X-Api-Key": k})
    r2 = httpx.get(url, headers={"X-Api-Key": k})
    assert r1.status_code == r2.status_code == 200
    assert (r1.headers["X-RateLimit-Remaining"], r2.headers["X-RateLimit-Remaining"]) == ("1", "0")
    before = live_server.key_info(k).credits
    r3 = httpx.post(f"{live_server.base_url}/removebg", headers={"X-Api-Key": k},
                    files={"image_file": ("x.jpg", jpeg)}, timeout=60)
    assert r3.status_code == 429 and error_code(r3) == "rate_limit_exceeded", r3.text
    assert r3.json()["errors"][0]["title"] == "Rate limit exceeded"
    assert int(r3.headers["Retry-After"]) >= 1
    assert r3.headers["X-RateLimit-Remaining"] == "0"
    assert r3.headers["X-RateLimit-Reset"] == r1.headers["X-RateLimit-Reset"]
    assert live_server.key_info(k).credits == before


def test_not_found_and_method_not_allowed(live_server, key) -> None:  # type: ignore[no-untyped-def]
    r = httpx.get(f"{live_server.base_url}/nothing-here", headers={"X-Api-Key": key})
    assert r.status_code == 404 and error_code(r) == "not_found"
    r = httpx.get(f"{live_server.base_url}/removebg", headers={"X-Api-Key": key})
    assert r.status_code == 405 and error_code(r) == "method_not_allowed"
    r = httpx.delete(f"{live_server.base_url}/account", headers={"X-Api-Key": key})
    assert r.status_code == 405 and error_code(r) == "method_not_allowed"
    assert r.headers["access-control-allow-origin"] == "*"


def test_cors_preflight(live_server) -> None:  # type: ignore[no-untyped-def]
    r = httpx.options(f"{live_server.base_url}/removebg", headers={
        "Origin": "https://example.org", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "x-api-key, accept, content-type"})
    assert r.status_code in (200, 204)
    assert r.headers["access-control-allow-origin"] == "*"
    allowed = r.headers["access-control-allow-headers"].lower()
    for h in ("x-api-key", "accept", "content-type", "authorization"):
        assert h in allowed
    assert "POST" in r.headers["access-control-allow-methods"]
    r = httpx.get(f"{live_server.base_url}/account", headers={"Origin": "https://example.org"})
    assert r.headers["access-control-allow-origin"] == "*"
    assert "x-credits-charged" in r.headers["access-control-expose-headers"].lower()


# ----------------------------------------------------------------------------- emulation controls
def test_forced_statuses(live_server, jpeg) -> None:  # type: ignore[no-untyped-def]
    k = live_server.create_key("forced", credits=3)
    url = f"{live_server.base_url}/removebg"
    h = {"X-Api-Key": k}
    r = httpx.post(url, headers={**h, "X-Openbg-Force-Status": "429", "X-Openbg-Retry-After": "7"},
                   files={"image_file": ("x.jpg", jpeg)}, timeout=60)
    assert r.status_code == 429 and r.headers["Retry-After"] == "7" and error_code(r) == "rate_limit_exceeded"
    r = httpx.post(url, headers={**h, "X-Openbg-Force-Status": "503"}, files={"image_file": ("x.jpg", jpeg)})
    assert r.status_code == 503 and r.headers["Retry-After"] == "1" and error_code(r) == "server_busy"
    r = httpx.get(f"{live_server.base_url}/account", headers={**h, "X-Openbg-Force-Status": "500"})
    assert r.status_code == 500 and error_code(r) == "internal_error"
    r = httpx.get(f"{live_server.base_url}/account", headers={**h, "X-Openbg-Force-Empty-Balance": "true"})
    assert r.status_code == 200 and r.json()["data"]["attributes"]["credits"]["total"] == 0
    r = httpx.post(url, headers={**h, "X-Openbg-Force-Empty-Balance": "1"}, files={"image_file": ("x.jpg", jpeg)})
    assert r.status_code == 402 and error_code(r) == "insufficient_credits"
    for bad in ({"X-Openbg-Force-Status": "418"}, {"X-Openbg-Force-Status": "abc"},
                {"X-Openbg-Latency-Ms": "-1"}, {"X-Openbg-Force-Empty-Balance": "maybe"},
                {"X-Openbg-Retry-After": "0"}):
        r = httpx.get(f"{live_server.base_url}/account", headers={**h, **bad})
        assert r.status_code == 400 and error_code(r) == "invalid_request", bad
    t0 = time.monotonic()
    r = httpx.get(f"{live_server.base_url}/account", headers={**h, "X-Openbg-Latency-Ms": "600"})
    assert r.status_code == 200 and time.monotonic() - t0 >= 0.6
    info = live_server.key_info(k)
    assert info.credits == 3 and len(live_server.accounts.ledger_rows(info.id)) == 1  # only the grant


def test_fail_times_then_succeed(live_server) -> None:  # type: ignore[no-untyped-def]
    k = live_server.create_key("flaky", credits=1)
    h = {"X-Api-Key": k, "X-Openbg-Fail-Times": "2", "X-Openbg-Client-Token": "t-1"}
    statuses = [httpx.get(f"{live_server.base_url}/account", headers=h).status_code for _ in range(4)]
    assert statuses == [503, 503, 200, 200]
    h429 = {**h, "X-Openbg-Client-Token": "t-2", "X-Openbg-Force-Status": "429", "X-Openbg-Retry-After": "2"}
    rs = [httpx.get(f"{live_server.base_url}/account", headers=h429) for _ in range(3)]
    assert [r.status_code for r in rs] == [429, 429, 200]
    assert rs[0].headers["Retry-After"] == "2"


def test_controls_ignored_without_flag(alt_server) -> None:  # type: ignore[no-untyped-def]
    server = alt_server  # OPENBG_TEST_CONTROLS=0
    r = httpx.get(f"{server.base_url}/account",
                  headers={"X-Api-Key": server.api_key, "X-Openbg-Force-Status": "500"})
    assert r.status_code == 200
    # still validated, as openapi.yaml says
    r = httpx.get(f"{server.base_url}/account",
                  headers={"X-Api-Key": server.api_key, "X-Openbg-Force-Status": "nope"})
    assert r.status_code == 400 and error_code(r) == "invalid_request"


def test_server_busy_when_queue_full(alt_server) -> None:  # type: ignore[no-untyped-def]
    server = alt_server  # --workers 1 --queue 0
    images = [synthetic(variant=v) for v in range(10, 14)]

    def call(img: bytes) -> httpx.Response:
        return httpx.post(f"{server.base_url}/removebg", headers={"X-Api-Key": server.api_key},
                          files={"image_file": ("x.jpg", img)}, timeout=120)

    with cf.ThreadPoolExecutor(len(images)) as ex:
        results = list(ex.map(call, images))
    codes = sorted(r.status_code for r in results)
    assert 200 in codes and 503 in codes, codes
    assert set(codes) <= {200, 503}
    for r in results:
        if r.status_code == 503:
            assert error_code(r) == "server_busy" and int(r.headers["Retry-After"]) >= 1
    charged = server.key_info(server.api_key)
    assert len(server.accounts.ledger_rows(charged.id)) == 1 + codes.count(200)
