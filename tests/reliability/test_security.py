"""Security defences of the emulator (issue 9; SECURITY.md names each test here).

Keys: stored only as sha256 hashes, compared with ``hmac.compare_digest``, never logged (even at debug level),
revocation effective on the next request. Limits: Content-Length over the body cap refused before the body is
read; a streamed (chunked) upload cut off at the file cap while streaming; oversized headers refused by the HTTP
layer (400 invalid_request as JSON); a real decompression bomb refused by the probe. /improve stores files under server-chosen names only.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import socket
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from openbg_emulator import accounts as accounts_mod

from tests.reliability.rel_helpers import _chunk, error_code, photo

P = photo()


def _raw_request(port: int, head: bytes, body_chunks: Any = (), read_timeout: float = 30) -> tuple[bytes, int]:
    """Send ``head`` then body chunks until the server answers or closes; returns (response, body bytes sent)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=read_timeout)
    sent = 0
    try:
        s.sendall(head)
        s.setblocking(False)
        resp = b""
        for chunk in body_chunks:
            try:
                resp += s.recv(65536)
            except BlockingIOError:
                pass
            if resp:
                break
            try:
                s.setblocking(True)
                s.settimeout(5)
                s.sendall(chunk)
                sent += len(chunk)
            except OSError:
                break
            finally:
                s.setblocking(False)
        s.setblocking(True)
        s.settimeout(read_timeout)
        try:
            while b"\r\n\r\n" not in resp or len(resp) < resp.index(b"\r\n\r\n") + 4 + 10:
                chunk = s.recv(65536)
                if not chunk:
                    break
                resp += chunk
        except OSError:
            pass
        return resp, sent
    finally:
        s.close()


# ----------------------------------------------------------------------------- keys
def test_keys_are_stored_only_as_hashes(rel_server: Any) -> None:
    key = rel_server.create_key("hash-check", credits=1)
    assert httpx.get(f"{rel_server.base_url}/account", headers={"X-Api-Key": key}, timeout=30).status_code == 200
    state = Path(rel_server.state_dir)
    for f in state.glob("openbg.db*"):  # the database, its WAL and shared-memory files
        assert key.encode() not in f.read_bytes(), f
    info = rel_server.key_info(key)
    with rel_server.accounts.engine.connect() as c:
        row = c.exec_driver_sql("SELECT key_hash, key_hint FROM api_keys WHERE id = ?", (info.id,)).one()
    assert row.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert len(row.key_hint) <= 8 and key.startswith(row.key_hint)


def test_key_comparison_is_constant_time(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(accounts_mod.hmac, "compare_digest", spy)
    acc = accounts_mod.Accounts(f"sqlite:///{tmp_path / 'a.db'}")
    try:
        key, _info = acc.create_key("ct")
        assert acc.authenticate(key) is not None
        assert calls, "authenticate must compare with hmac.compare_digest"
        assert acc.authenticate(key[:-1] + ("A" if key[-1] != "A" else "B")) is None
        assert acc.authenticate("x" * 10000) is None  # oversized keys are refused before hashing
    finally:
        acc.close()


def test_keys_never_logged_even_at_debug(tmp_path: Path, start_emulator: Any) -> None:
    s = start_emulator(tmp_path / "state", {}, ["--log-level", "debug", "--test-controls"])
    good = s.create_key("logged?", credits=5)
    wrong = "obg_" + "Z" * 32
    base = s.base_url
    httpx.get(f"{base}/account", headers={"X-Api-Key": good}, timeout=30)
    httpx.get(f"{base}/account", headers={"X-Api-Key": wrong}, timeout=30)
    httpx.get(f"{base}/account", headers={"Authorization": f"Bearer {good}"}, timeout=30)
    httpx.get(f"{base}/account", headers={"X-Api-Key": good, "X-Openbg-Force-Status": "500"}, timeout=30)
    httpx.post(f"{base}/removebg", headers={"X-Api-Key": good}, data={"api_key": good, "size": "nope"}, timeout=30)
    httpx.post(f"{base}/removebg", headers={"X-Api-Key": wrong}, files={"image_file": P}, timeout=30)
    httpx.post(f"{base}/removebg", headers={"X-Api-Key": good},
               data={"image_url": f"http://127.0.0.1:1/{good}.png"}, timeout=30)
    time.sleep(0.5)
    log = s.log_path.read_text(errors="replace")
    assert len(log) > 0
    assert good not in log
    assert wrong not in log
    assert good[8:] not in log  # not even the secret part on its own
    # `openbg keys list` shows the hint only
    env = {**os.environ, "OPENBG_STATE_DIR": str(s.state_dir)}
    out = subprocess.run([sys.executable, "-m", "openbg_emulator.server_cli", "keys", "list"], env=env,
                         capture_output=True, text=True, timeout=120, check=True).stdout
    assert good[:8] in out and good not in out


def test_revocation_is_immediate(rel_server: Any) -> None:
    key = rel_server.create_key("revoke-me", credits=1)
    url = f"{rel_server.base_url}/account"
    with httpx.Client(headers={"X-Api-Key": key}, timeout=30) as c:  # one keep-alive connection throughout
        assert c.get(url).status_code == 200
        rel_server.accounts.revoke(rel_server.key_info(key).id)  # what `openbg keys revoke` does
        r = c.get(url)
        assert r.status_code == 403 and error_code(r) == "auth_failed"
        r = c.post(f"{rel_server.base_url}/removebg", files={"image_file": P})
        assert r.status_code == 403


# ----------------------------------------------------------------------------- limits
def test_declared_oversized_body_refused_before_reading(rel_server: Any) -> None:
    key = rel_server.create_key("limits", credits=1)
    head = (f"POST /v1.0/removebg HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Api-Key: {key}\r\n"
            "Content-Type: multipart/form-data; boundary=xyz\r\nContent-Length: 500000000\r\n\r\n").encode()
    t0 = time.monotonic()
    resp, _sent = _raw_request(rel_server.port, head + b"--xyz\r\n")
    assert resp.startswith(b"HTTP/1.1 413"), resp[:200]
    assert b"payload_too_large" in resp
    assert time.monotonic() - t0 < 10


def test_streamed_upload_cut_off_at_the_cap(rel_server: Any) -> None:
    """A chunked upload with no Content-Length: the server stops at the 22 MB file cap while streaming and
    answers without waiting for the (200 MB) rest."""
    key = rel_server.create_key("limits2", credits=1)
    head = (f"POST /v1.0/removebg HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Api-Key: {key}\r\n"
            "Content-Type: multipart/form-data; boundary=xyz\r\nTransfer-Encoding: chunked\r\n\r\n").encode()
    part = b'--xyz\r\nContent-Disposition: form-data; name="image_file"; filename="a.jpg"\r\n\r\n\xff\xd8\xff'
    block = b"\0" * (1 << 20)

    def chunks() -> Any:
        yield f"{len(part):x}\r\n".encode() + part + b"\r\n"
        for _ in range(200):
            yield f"{len(block):x}\r\n".encode() + block + b"\r\n"

    proc = psutil.Process(rel_server.proc.pid)
    rss0 = proc.memory_info().rss
    resp, sent = _raw_request(rel_server.port, head, chunks())
    assert resp.startswith(b"HTTP/1.1 400"), resp[:300]
    assert b"file_too_large" in resp
    assert sent < 80 * (1 << 20), sent  # far less than the 200 MB offered
    assert proc.memory_info().rss - rss0 < 150 * (1 << 20)
    assert httpx.get(f"{rel_server.root_url}/healthz", timeout=10).status_code == 200


def test_oversized_headers_refused(rel_server: Any) -> None:
    """A 1 MB header: refused by the HTTP layer (httpproto.py) before any handler runs, in the remove.bg shape;
    the lingering close lets the client finish sending and read the answer (no reset)."""
    r = httpx.get(f"{rel_server.base_url}/account", headers={"X-Api-Key": "k", "X-Big": "a" * (1 << 20)},
                  timeout=30)
    assert r.status_code == 400 and error_code(r) == "invalid_request", r.text
    assert "16384" in r.json()["errors"][0]["detail"]
    assert httpx.get(f"{rel_server.root_url}/healthz", timeout=10).status_code == 200


def test_real_decompression_bomb_refused_by_probe(rel_server: Any) -> None:
    """A fully valid 10000×10000 PNG of zeros: 300 MB of pixels in a few hundred KB. Refused from its header."""
    w = h = 10000
    comp = zlib.compressobj(9)
    row = b"\0" * (w * 3 + 1)
    idat = b"".join(comp.compress(row) for _ in range(h)) + comp.flush()

    png = (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
           + _chunk(b"IDAT", idat) + _chunk(b"IEND", b""))
    assert len(png) < 1_000_000
    key = rel_server.create_key("bomb", credits=1)
    proc = psutil.Process(rel_server.proc.pid)
    rss0 = proc.memory_info().rss
    t0 = time.monotonic()
    r = httpx.post(f"{rel_server.base_url}/removebg", headers={"X-Api-Key": key},
                   files={"image_file": ("bomb.png", png, "image/png")}, timeout=60)
    assert r.status_code == 400 and error_code(r) == "resolution_too_high", r.text
    assert time.monotonic() - t0 < 10
    assert proc.memory_info().rss - rss0 < 100 * (1 << 20)


def test_improve_stores_under_server_chosen_names(rel_server: Any) -> None:
    key = rel_server.create_key("improve-names", credits=0)
    r = httpx.post(f"{rel_server.base_url}/improve", headers={"X-Api-Key": key},
                   files={"image_file": ("../../../../etc/cron.d/x.png", P, "image/png")},
                   data={"image_filename": "holiday.jpg", "tag": "set-1"}, timeout=30)
    assert r.status_code == 200, r.text
    sub = r.json()["id"]
    improve = Path(rel_server.state_dir) / "improve"
    mine = sorted(p.name for p in improve.iterdir() if p.name.startswith(sub))
    assert mine == [f"{sub}.json", f"{sub}.png"]
    assert all(p.resolve().parent == improve.resolve() for p in improve.iterdir())
