"""Unexpected failures answer 500 in the error shape and the server keeps serving; SIGTERM drains requests."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx
from openbg_emulator.app import create_app, open_accounts
from openbg_emulator.engine import Engine
from openbg_emulator.settings import Settings

from tests.emulator.emu_helpers import error_code


class FaultyEngine(Engine):
    """The real engine's probe and plan; ``remove`` fails with an unexpected exception (fault injection)."""

    def remove(self, data: bytes, options: object, **kw: object) -> object:  # type: ignore[override]
        raise RuntimeError("injected fault")


def test_unexpected_exception_is_500_with_logged_request_id(tmp_path, jpeg, caplog) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(state_dir=tmp_path / "state")
    accounts = open_accounts(settings)
    key, info = accounts.create_key("faulty", credits=5, free_calls=0)
    app = create_app(settings, accounts, engine=FaultyEngine(settings), load_model=False)
    caplog.set_level(logging.ERROR, logger="openbg.emulator")

    async def scenario() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://emulator") as c:
            r = await c.post("/v1.0/removebg", headers={"X-Api-Key": key}, files={"image_file": ("x.jpg", jpeg)})
            assert r.status_code == 500 and error_code(r) == "internal_error"
            rid = r.headers["X-Request-Id"]
            assert rid in r.json()["errors"][0]["detail"]
            assert rid in caplog.text and "injected fault" in caplog.text
            assert key not in caplog.text  # keys are never logged
            assert r.headers["access-control-allow-origin"] == "*"
            assert accounts.get(info.id).credits == 5  # nothing charged
            # the app keeps serving: the next requests are answered normally
            r = await c.get("/v1.0/account", headers={"X-Api-Key": key})
            assert r.status_code == 200 and r.json()["data"]["attributes"]["credits"]["total"] == 5
            r = await c.post("/v1.0/removebg", headers={"X-Api-Key": key}, files={"image_file": ("x.jpg", jpeg)},
                             data={"size": "huge"})
            assert r.status_code == 400 and error_code(r) == "invalid_size"

    asyncio.run(scenario())
    app.state.service.pool.shutdown()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_sigterm_drains_in_flight_requests(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A request in flight when SIGTERM arrives still gets its answer; then the process exits cleanly."""
    state = tmp_path / "state"
    env = dict(os.environ, OPENBG_STATE_DIR=str(state), OPENBG_FETCH_LOOPBACK_ONLY="1")
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "openbg_emulator.server_cli", "serve", "--port", str(port),
                             "--test-controls", "--log-level", "warning"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        key = ""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not key.startswith("obg_"):
            key = proc.stdout.readline().strip()  # first start: the new key is printed once
        assert key.startswith("obg_")
        base = f"http://127.0.0.1:{port}"
        for _ in range(600):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        result: dict[str, object] = {}

        def slow_call() -> None:
            r = httpx.get(f"{base}/v1.0/account", headers={"X-Api-Key": key, "X-Openbg-Latency-Ms": "1500"},
                          timeout=30)
            result["status"] = r.status_code

        t = threading.Thread(target=slow_call)
        t.start()
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        t.join(30)
        assert result.get("status") == 200
        # uvicorn re-raises the captured SIGTERM after its graceful shutdown: -15 is a clean exit here
        assert proc.wait(30) in (0, -signal.SIGTERM)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    # a second start finds the key and prints none
    proc = subprocess.Popen([sys.executable, "-m", "openbg_emulator.server_cli", "serve", "--port", str(port),
                             "--log-level", "warning"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        for _ in range(600):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        r = httpx.get(f"http://127.0.0.1:{port}/v1.0/account", headers={"X-Api-Key": key}, timeout=10)
        assert r.status_code == 200
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert "obg_" not in out
