"""Shared fixtures: a real emulator (``openbg serve``) on a free loopback port.

* ``live_server`` (session): one server for the whole run, temporary state dir, ``--test-controls``,
  ``OPENBG_ALLOW_PRIVATE_URLS=1``. Attributes: ``.base_url`` (``http://127.0.0.1:PORT/v1.0``), ``.root_url``,
  ``.api_key`` (1000 credits), ``.state_dir``, ``.create_key(name, credits=..., free_calls=..., rate_limit=...)``
  (returns the new key), ``.log_path``.
* ``emulator_factory`` (function): ``start(env={...}, args=[...])`` for a server with other settings
  (e.g. ``OPENBG_RATE_WINDOW_S=2`` or without ``OPENBG_ALLOW_PRIVATE_URLS``); stopped after the test.

The server is started as ``python -m openbg_emulator.server_cli serve`` (the same click command as
``openbg serve``) by this interpreter, or by ``OPENBG_SERVER_PYTHON`` (how `make test-clients` runs the client
tests on Python 3.12 and 3.13 against a server on 3.11). Keys are created through
:class:`openbg_emulator.accounts.Accounts` on the server's database (the same code path as ``openbg keys
create``), so tests need no extra process per key; where the server's packages are not importable here (the
client-only virtualenvs), through ``openbg keys create`` run by the server's interpreter.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openbg.testing import keys_create, server_env, wait_until_ready

REPO = Path(__file__).resolve().parents[1]
#: The interpreter that runs ``openbg serve`` in tests.
SERVER_PYTHON = os.environ.get("OPENBG_SERVER_PYTHON") or sys.executable


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class EmulatorServer:
    """A running ``openbg serve`` subprocess."""

    def __init__(self, state_dir: Path, env: dict[str, str], args: list[str], ready_timeout: float = 120) -> None:
        self.python = SERVER_PYTHON
        self.state_dir = state_dir
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.root_url = f"http://127.0.0.1:{self.port}"
        self.base_url = f"{self.root_url}/v1.0"
        self.log_path = state_dir / "server.log"
        self.env = server_env(state_dir, env)  # no test may send traffic off this machine, not even DNS
        for k, v in env.items():
            if v is None:  # type: ignore[comparison-overlap]
                self.env.pop(k, None)
        try:
            from openbg_emulator.accounts import Accounts

            self.accounts: Any = Accounts(f"sqlite:///{state_dir / 'openbg.db'}")
        except ImportError:  # a client-only virtualenv: keys through the server's interpreter
            self.accounts = None
        self.api_key = self.create_key("live-server", credits=1000)
        cmd = [self.python, "-m", "openbg_emulator.server_cli", "serve", "--host", "127.0.0.1",
               "--port", str(self.port), "--log-level", "warning", *args]
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(cmd, env=self.env, stdout=self._log, stderr=subprocess.STDOUT, cwd=REPO)
        try:
            self._wait_ready(ready_timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout: float) -> None:
        wait_until_ready(self.root_url, self.proc, timeout, log_tail=self.log_tail)

    def log_tail(self, n: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def create_key(self, name: str = "test", credits: float = 0, free_calls: int | None = None,
                   rate_limit: int | None = None) -> str:
        if self.accounts is None:
            return keys_create(self.python, self.env, name, credits=credits, free_calls=free_calls,
                               rate_limit=rate_limit)
        key, _info = self.accounts.create_key(name, credits=credits, free_calls=free_calls, rate_limit=rate_limit)
        return str(key)

    def key_info(self, key: str):  # type: ignore[no-untyped-def]
        return self.accounts.get(key)

    def alive(self) -> bool:
        try:
            return httpx.get(f"{self.root_url}/healthz", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self, timeout: float = 30) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()
        if self.accounts is not None:
            self.accounts.close()
        return self.proc.returncode


@pytest.fixture(scope="session")
def live_server() -> Iterator[EmulatorServer]:
    with tempfile.TemporaryDirectory(prefix="openbg-live-") as d:
        server = EmulatorServer(Path(d) / "state", {}, ["--test-controls"])
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture
def emulator_factory(tmp_path: Path) -> Iterator:  # type: ignore[type-arg]
    started: list[EmulatorServer] = []

    def start(env: dict[str, str] | None = None, args: list[str] | None = None) -> EmulatorServer:
        s = EmulatorServer(tmp_path / f"state{len(started)}", dict(env or {}), list(args or []))
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


@pytest.fixture(scope="session")
def emulator_server_class() -> type[EmulatorServer]:
    """The class behind ``live_server``, for session fixtures that need a server with other settings."""
    return EmulatorServer
