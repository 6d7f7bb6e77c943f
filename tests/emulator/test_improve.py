"""POST /improve: durable storage, metadata, validation, daily quota."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid

import httpx
import pytest

from tests.emulator.emu_helpers import error_code


@pytest.fixture(scope="module")
def key(live_server) -> str:  # type: ignore[no-untyped-def]
    return live_server.create_key("improve", credits=0, free_calls=0)


def _files(server) -> set[str]:  # type: ignore[no-untyped-def]
    d = server.state_dir / "improve"
    return {p.name for p in d.iterdir()} if d.exists() else set()


def test_improve_multipart_stores_file_and_metadata(live_server, key, jpeg) -> None:  # type: ignore[no-untyped-def]
    r = httpx.post(f"{live_server.base_url}/improve", headers={"X-Api-Key": key},
                   files={"image_file": ("car.jpg", jpeg)}, data={"image_filename": "car.jpg", "tag": "batch_1_2020"})
    assert r.status_code == 200, r.text
    sid = r.json()["id"]
    assert str(uuid.UUID(sid)) == sid
    assert "X-RateLimit-Remaining" in r.headers
    d = live_server.state_dir / "improve"
    assert (d / f"{sid}.jpg").read_bytes() == jpeg
    meta = json.loads((d / f"{sid}.json").read_text())
    assert meta["id"] == sid and meta["tag"] == "batch_1_2020" and meta["image_filename"] == "car.jpg"
    assert meta["sha256"] == hashlib.sha256(jpeg).hexdigest()
    assert (meta["width"], meta["height"], meta["format"]) == (320, 240, "jpeg")
    assert not any(n.startswith(".tmp") for n in _files(live_server))
    assert live_server.key_info(key).credits == 0  # nothing charged, nothing needed


def test_improve_json_and_url(live_server, key, png, image_host) -> None:  # type: ignore[no-untyped-def]
    r = httpx.post(f"{live_server.base_url}/improve", headers={"X-Api-Key": key},
                   json={"image_file_b64": "data:image/png;base64," + base64.b64encode(png).decode()})
    assert r.status_code == 200, r.text
    assert (live_server.state_dir / "improve" / f"{r.json()['id']}.png").read_bytes() == png
    r = httpx.post(f"{live_server.base_url}/improve", headers={"X-Api-Key": key},
                   data={"image_url": image_host.url("/img.jpg"), "tag": "from-url"})
    assert r.status_code == 200, r.text
    meta = json.loads((live_server.state_dir / "improve" / f"{r.json()['id']}.json").read_text())
    assert meta["source"] == "image_url" and meta["tag"] == "from-url"


@pytest.mark.parametrize("field,value,code", [
    ("image_filename", "../../etc/passwd", "invalid_image_filename"),
    ("image_filename", "a/b.jpg", "invalid_image_filename"),
    ("image_filename", "a\\b.jpg", "invalid_image_filename"),
    ("image_filename", "x" * 256, "invalid_image_filename"),
    ("tag", "..", "invalid_tag"),
    ("tag", "a\x00b", "invalid_tag"),
    ("tag", "t" * 300, "invalid_tag"),
])
def test_improve_rejects_path_like_values(live_server, key, jpeg, field, value, code) -> None:  # type: ignore[no-untyped-def]
    before = _files(live_server)
    r = httpx.post(f"{live_server.base_url}/improve", headers={"X-Api-Key": key},
                   json={"image_file_b64": base64.b64encode(jpeg).decode(), field: value})
    assert r.status_code == 400 and error_code(r) == code, r.text
    assert _files(live_server) == before


@pytest.mark.parametrize("body,code", [
    ({}, "missing_source"),
    ({"image_file_b64": "aGVsbG8gd29ybGQ=", "image_url": "http://127.0.0.1:9/x.jpg"}, "multiple_sources"),
    ({"image_file_b64": "aGVsbG8gd29ybGQgdGhpcyBpcyB0ZXh0"}, "invalid_file_type"),
    ({"image_url": "ftp://example.invalid/x.jpg"}, "invalid_image_url"),
])
def test_improve_bad_sources(live_server, key, body, code) -> None:  # type: ignore[no-untyped-def]
    r = httpx.post(f"{live_server.base_url}/improve", headers={"X-Api-Key": key}, json=body)
    assert r.status_code == 400 and error_code(r) == code, r.text


def test_improve_auth(live_server, jpeg) -> None:  # type: ignore[no-untyped-def]
    r = httpx.post(f"{live_server.base_url}/improve", files={"image_file": ("x.jpg", jpeg)})
    assert r.status_code == 403 and error_code(r) == "auth_failed"


def test_improve_daily_limit(alt_server, jpeg) -> None:  # type: ignore[no-untyped-def]
    server = alt_server  # OPENBG_IMPROVE_PER_DAY=2
    url = f"{server.base_url}/improve"
    h = {"X-Api-Key": server.create_key("improve-quota")}
    assert [httpx.post(url, headers=h, files={"image_file": ("x.jpg", jpeg)}).status_code
            for _ in range(2)] == [200, 200]
    r = httpx.post(url, headers=h, files={"image_file": ("x.jpg", jpeg)})
    assert r.status_code == 400 and error_code(r) == "improve_limit_reached", r.text
    other = server.create_key("other")
    assert httpx.post(url, headers={"X-Api-Key": other}, files={"image_file": ("x.jpg", jpeg)}).status_code == 200
    assert len([n for n in _files(server) if n.endswith(".json")]) >= 3


# /improve and /removebg take their image source through the same parser (options.parse_image_source):
# the same body answers the same way on both.
@pytest.fixture(scope="module")
def both_key(live_server) -> str:  # type: ignore[no-untyped-def]
    return live_server.create_key("improve-and-removebg", credits=0, free_calls=50)


def _both(server, key: str, body: dict[str, str]) -> tuple[httpx.Response, httpx.Response]:  # type: ignore[no-untyped-def]
    h = {"X-Api-Key": key}
    return (httpx.post(f"{server.base_url}/improve", headers=h, json=body, timeout=60),
            httpx.post(f"{server.base_url}/removebg", headers=h, json=body, timeout=60))


@pytest.mark.parametrize("body", [
    {"image_file_b64": "   "},
    {"image_file_b64": " \t\n "},
    {"image_url": "  "},
    {"image_file_b64": " ", "image_url": "\t"},
])
def test_blank_sources_are_absent_on_both_endpoints(live_server, both_key, body) -> None:  # type: ignore[no-untyped-def]
    for r in _both(live_server, both_key, body):
        assert r.status_code == 400 and error_code(r) == "missing_source", (r.url, r.text)


def test_a_blank_source_beside_a_real_one_is_not_a_second_source(live_server, both_key, jpeg, image_host) -> None:  # type: ignore[no-untyped-def]
    body = {"image_file_b64": "  ", "image_url": image_host.url("/img.jpg")}
    improve, removebg = _both(live_server, both_key, body)
    assert improve.status_code == 200, improve.text
    meta = json.loads((live_server.state_dir / "improve" / f"{improve.json()['id']}.json").read_text())
    assert meta["source"] == "image_url" and meta["sha256"] == hashlib.sha256(jpeg).hexdigest()
    assert removebg.status_code == 200, removebg.text


def test_url_safe_base64_is_accepted_on_both_endpoints(live_server, both_key, png) -> None:  # type: ignore[no-untyped-def]
    standard = base64.b64encode(png).decode()
    assert "+" in standard or "/" in standard  # else the URL-safe form would be the same text
    url_safe = base64.urlsafe_b64encode(png).decode().rstrip("=")  # no padding either
    improve, removebg = _both(live_server, both_key, {"image_file_b64": url_safe})
    assert improve.status_code == 200, improve.text
    assert (live_server.state_dir / "improve" / f"{improve.json()['id']}.png").read_bytes() == png
    assert removebg.status_code == 200 and removebg.content.startswith(b"\x89PNG"), removebg.text


def test_characters_outside_base64_are_refused_on_both_endpoints(live_server, both_key, png) -> None:  # type: ignore[no-untyped-def]
    text = base64.b64encode(png).decode()
    broken = text[:40] + "*" + text[40:]  # /improve used to drop the "*" and store the image
    for r in _both(live_server, both_key, {"image_file_b64": broken}):
        assert r.status_code == 400 and error_code(r) == "failed_to_read_image", (r.url, r.text)


def test_image_file_as_text_answers_alike_on_both_endpoints(live_server, both_key) -> None:  # type: ignore[no-untyped-def]
    improve, removebg = _both(live_server, both_key, {"image_file": "not an image"})
    assert improve.status_code == removebg.status_code == 400, (improve.text, removebg.text)
    assert error_code(improve) == error_code(removebg), (improve.text, removebg.text)
