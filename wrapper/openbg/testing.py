"""Test your own integration against a real openbg emulator, from your own pytest suite.

Install ``openbg[testing]`` (the client, the emulator and pytest; ``openbg models fetch`` once, to fetch the
model), then in your ``conftest.py``::

    pytest_plugins = ["openbg.testing"]

and use the fixtures:

* ``openbg_emulator`` (session): an :class:`Emulator` — an ``openbg serve`` on a free loopback port with a
  temporary state directory and its test controls on, started once per test session and stopped after it.
* ``removebg_client``: a :class:`~openbg.RemoveBg` for that emulator with a fresh key of 100 credits.
* ``async_removebg_client``: the same as an :class:`~openbg.AsyncRemoveBg`.

The emulator's controls are methods that hand back a client whose requests the server treats as asked:
:meth:`Emulator.failing` (the first N requests get a 500, 503 or 429, then it works: a retry test),
:meth:`Emulator.rate_limited` (every request gets 429 with ``Retry-After``), :meth:`Emulator.slow` (every
request waits N ms first), :meth:`Emulator.out_of_credits` (402). :meth:`Emulator.create_key` makes keys
with any balance, free calls or rate limit. Example::

    import openbg
    import pytest

    def test_my_thumbnailer_survives_a_flaky_api(openbg_emulator, tmp_path):
        client = openbg_emulator.failing(503, times=2)          # two 503s, then a result
        out = my_app.make_thumbnail(client, "photo.jpg", tmp_path)  # your code, which retries
        assert out.exists()

    def test_my_app_reports_no_credits(openbg_emulator):
        with pytest.raises(openbg.InsufficientCreditsError):
            openbg_emulator.out_of_credits().remove_background("photo.jpg")

The server is ``python -m openbg_emulator.server_cli`` run by this interpreter, or by the one named in
``OPENBG_SERVER_PYTHON`` (a virtualenv with ``openbg[emulator]``, when your tests run on another Python).
URL inputs may point at servers on 127.0.0.1 only (``OPENBG_FETCH_LOOPBACK_ONLY``): tests send nothing off
the machine.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal, Self

import httpx
import pytest

from .client import AsyncRemoveBg, RemoveBg

__all__ = [
    "Emulator",
    "async_removebg_client",
    "keys_create",
    "openbg_emulator",
    "removebg_client",
    "server_env",
    "wait_until_ready",
]

#: Statuses the emulator can be told to answer with.
ForcedStatus = Literal[429, 500, 503]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_ready(root_url: str, proc: subprocess.Popen[bytes], timeout: float, *, what: str = "openbg serve",
                     log_tail: Callable[[], str] = lambda: "") -> None:
    """Poll ``root_url/readyz`` until it answers 200; raise ``RuntimeError`` (with ``log_tail()``) when the
    server process exits or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}; its log ends:\n{log_tail()}")
        try:
            r = httpx.get(f"{root_url}/readyz", timeout=2)
            if r.status_code == 200:
                return
            last = r.text
        except httpx.HTTPError as e:
            last = str(e)
        time.sleep(0.1)
    raise RuntimeError(f"{what} was not ready after {timeout} s ({last}):\n{log_tail()}")


def server_env(state_dir: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a test server: this process's, with its state in ``state_dir``, the test controls
    on, and ``image_url`` limited to 127.0.0.1 (nothing leaves the machine, not even a DNS query); ``extra``
    last. The server's database is always the SQLite file in ``state_dir``."""
    env = {
        **os.environ,
        "OPENBG_STATE_DIR": str(state_dir),
        "OPENBG_TEST_CONTROLS": "1",
        "OPENBG_ALLOW_PRIVATE_URLS": "1",  # image_url may name a test server on 127.0.0.1 ...
        "OPENBG_FETCH_LOOPBACK_ONLY": "1",  # ... and nothing else
        "PYTHONUNBUFFERED": "1",
        **dict(extra or {}),
    }
    env.pop("OPENBG_DATABASE_URL", None)
    return env


def keys_create(python: str, env: Mapping[str, str], name: str, *, credits: float = 0,
                free_calls: int | None = None, rate_limit: int | None = None) -> str:
    """Run ``openbg keys create`` with the interpreter ``python`` and the environment ``env`` (its
    ``OPENBG_STATE_DIR`` or ``OPENBG_DATABASE_URL`` says which server's database) and return the new key."""
    args = ["keys", "create", "--name", name, "--credits", repr(float(credits))]
    if free_calls is not None:
        args += ["--free-calls", str(free_calls)]
    if rate_limit is not None:
        args += ["--rate-limit", str(rate_limit)]
    done = subprocess.run([python, "-m", "openbg_emulator.server_cli", *args], env=dict(env),
                          capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"openbg keys create failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout.strip().splitlines()[-1]


class Emulator:
    """A running ``openbg serve`` on a loopback port, with its own temporary state.

    Use it as a context manager (or call :meth:`stop`). Attributes: ``base_url`` (``http://127.0.0.1:PORT/v1.0``,
    what clients take), ``root_url``, ``api_key`` (a key with 1000 credits), ``state_dir``, ``log_path``.

    Args:
        state_dir: where the server keeps its database (default: a new temporary directory, removed on stop).
        env: more environment variables for the server (``OPENBG_*`` settings, e.g. ``OPENBG_RATE_LIMIT``).
        python: the interpreter that runs the server (default ``OPENBG_SERVER_PYTHON``, else this one).
        ready_timeout: seconds to wait for ``/readyz`` (the first start compiles the matting kernels).
    """

    def __init__(self, state_dir: str | os.PathLike[str] | None = None, *, env: Mapping[str, str] | None = None,
                 python: str | None = None, ready_timeout: float = 180.0) -> None:
        self._own_dir = state_dir is None
        self.state_dir = Path(tempfile.mkdtemp(prefix="openbg-emulator-") if state_dir is None else state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.python = python or os.environ.get("OPENBG_SERVER_PYTHON") or sys.executable
        self.port = _free_port()
        self.root_url = f"http://127.0.0.1:{self.port}"
        self.base_url = f"{self.root_url}/v1.0"
        self.log_path = self.state_dir / "server.log"
        self._env = server_env(self.state_dir, env)
        self.api_key = self.create_key("openbg-testing", credits=1000)
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self._proc = subprocess.Popen(
            [self.python, "-m", "openbg_emulator.server_cli", "serve", "--host", "127.0.0.1", "--port",
             str(self.port), "--test-controls", "--log-level", "warning"],
            env=self._env, stdout=self._log, stderr=subprocess.STDOUT,
        )
        try:
            self._wait_ready(ready_timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout: float) -> None:
        wait_until_ready(self.root_url, self._proc, timeout, what="the openbg emulator", log_tail=self.log_tail)

    def log_tail(self, chars: int = 4000) -> str:
        """The end of the server's log (stdout and stderr)."""
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    # ------------------------------------------------------------------ keys and clients
    def create_key(self, name: str = "test", *, credits: float = 100, free_calls: int | None = None,
                   rate_limit: int | None = None) -> str:
        """A new API key on this emulator (``openbg keys create``): its balance, free calls per month
        (default the server's, 50) and rate limit in megapixel-images per minute (default 500)."""
        return keys_create(self.python, self._env, name, credits=credits, free_calls=free_calls,
                           rate_limit=rate_limit)

    def client(self, api_key: str | None = None, *, headers: Mapping[str, str] | None = None,
               **kwargs: Any) -> RemoveBg:
        """A :class:`~openbg.RemoveBg` for this emulator (``api_key`` defaults to :attr:`api_key`); other
        keyword arguments go to :class:`~openbg.RemoveBg` (``retries``, ``retry_policy``, ``timeout``...)."""
        return RemoveBg(api_key or self.api_key, self.base_url, headers=headers, **kwargs)

    def async_client(self, api_key: str | None = None, *, headers: Mapping[str, str] | None = None,
                     **kwargs: Any) -> AsyncRemoveBg:
        """An :class:`~openbg.AsyncRemoveBg` for this emulator; see :meth:`client`."""
        return AsyncRemoveBg(api_key or self.api_key, self.base_url, headers=headers, **kwargs)

    # ------------------------------------------------------------------ test controls
    @staticmethod
    def control_headers(*, status: ForcedStatus | None = None, times: int | None = None, retry_after: int = 1,
                        latency_ms: int = 0, empty_balance: bool = False) -> dict[str, str]:
        """The ``X-Openbg-*`` request headers behind the controls below, for a client of your own.

        ``status`` with ``times``: the first ``times`` requests fail with ``status``, later ones work
        (counted per key and per the fresh token this adds); ``status`` alone: every request fails.
        """
        h: dict[str, str] = {}
        if status is not None:
            h["X-Openbg-Force-Status"] = str(status)
            h["X-Openbg-Retry-After"] = str(retry_after)
        if times is not None:
            h["X-Openbg-Fail-Times"] = str(times)
            h["X-Openbg-Client-Token"] = uuid.uuid4().hex
        if latency_ms:
            h["X-Openbg-Latency-Ms"] = str(latency_ms)
        if empty_balance:
            h["X-Openbg-Force-Empty-Balance"] = "true"
        return h

    def failing(self, status: ForcedStatus = 503, *, times: int = 1, retry_after: int = 1,
                **kwargs: Any) -> RemoveBg:
        """A client whose first ``times`` requests get ``status`` (``Retry-After: retry_after`` on 429 and
        503), and later ones are served: what a client's retries must get through."""
        return self.client(headers=self.control_headers(status=status, times=times, retry_after=retry_after),
                           **kwargs)

    def rate_limited(self, *, retry_after: int = 1, **kwargs: Any) -> RemoveBg:
        """A client whose every request gets ``429 rate_limit_exceeded`` with ``Retry-After``."""
        return self.client(headers=self.control_headers(status=429, retry_after=retry_after), **kwargs)

    def slow(self, latency_ms: int, **kwargs: Any) -> RemoveBg:
        """A client whose every request waits ``latency_ms`` (at most 60000) on the server first."""
        return self.client(headers=self.control_headers(latency_ms=latency_ms), **kwargs)

    def out_of_credits(self, **kwargs: Any) -> RemoveBg:
        """A client whose ``/removebg`` requests get ``402 insufficient_credits`` and whose ``/account``
        shows nothing left."""
        return self.client(headers=self.control_headers(empty_balance=True), **kwargs)

    # ------------------------------------------------------------------ lifecycle
    def stop(self) -> None:
        """Stop the server (and remove its state directory if this object made it)."""
        proc = getattr(self, "_proc", None)
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        log = getattr(self, "_log", None)
        if log is not None:
            log.close()
        if self._own_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"Emulator(base_url={self.base_url!r})"


@pytest.fixture(scope="session")
def openbg_emulator() -> Iterator[Emulator]:
    """An openbg emulator for the whole test session (see :class:`Emulator`)."""
    with Emulator() as emulator:
        yield emulator


@pytest.fixture
def removebg_client(openbg_emulator: Emulator) -> Iterator[RemoveBg]:
    """A :class:`~openbg.RemoveBg` for the session's emulator, with a fresh key of 100 credits."""
    with openbg_emulator.client(openbg_emulator.create_key("test", credits=100)) as client:
        yield client


@pytest.fixture
async def async_removebg_client(openbg_emulator: Emulator) -> AsyncIterator[AsyncRemoveBg]:
    """An :class:`~openbg.AsyncRemoveBg` for the session's emulator, with a fresh key of 100 credits
    (needs an asyncio plugin such as pytest-asyncio or anyio's)."""
    async with openbg_emulator.async_client(openbg_emulator.create_key("test", credits=100)) as client:
        yield client
