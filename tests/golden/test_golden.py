"""Replay the golden corpus (tests/golden/corpus.py) against a fresh server and compare with golden.json."""

from __future__ import annotations

import json
import os
import platform
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.golden.corpus import BG, JPEG, answer, cases

GOLDEN = Path(__file__).with_name("golden.json")
ENV = {"OPENBG_RUNTIME": "onnxruntime", "OPENBG_PRECISION": "f32", "OPENBG_RATE_WINDOW_S": "3600",
       "OPENBG_WORKERS": "1"}


@pytest.fixture(scope="module")
def image_host() -> Iterator[int]:
    routes = {"/img.jpg": ("image/jpeg", JPEG), "/bg.png": ("image/png", BG), "/text": ("text/plain", b"hello")}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a: object) -> None:
            pass

        def do_GET(self) -> None:
            ctype, body = routes.get(self.path, ("text/plain", b""))
            self.send_response(200 if self.path in routes else 404)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield int(srv.server_address[1])
    srv.shutdown()


def _cpu() -> dict[str, Any]:
    from openbg_emulator import runtime

    flags = runtime.cpu_flags() or set()
    return {"model": runtime.cpu_model(), "machine": platform.machine(),
            "isa": sorted(f for f in flags if f.startswith(("avx", "amx", "fma", "sse4")))}


def test_golden_corpus(emulator_server_class: Any, tmp_path: Path, image_host: int) -> None:
    server = emulator_server_class(tmp_path / "state", ENV, ["--test-controls"])
    try:
        keys = {
            "main": server.api_key,
            "broke": server.create_key("broke", credits=0, free_calls=0),
            "free": server.create_key("free", credits=0, free_calls=2),
            "limited": server.create_key("limited", credits=100, rate_limit=1),
            "bad": "not-a-key-0000",
        }
        got: dict[str, Any] = {}
        with httpx.Client(base_url=server.root_url, timeout=120) as client:
            for case in cases(lambda path: f"http://127.0.0.1:{image_host}{path}"):
                headers = dict(case.headers)
                if case.key is not None:
                    headers["X-API-Key"] = keys[case.key]
                r = client.request(case.method, case.path, headers=headers, files=case.files, data=case.data,
                                   json=case.json, content=case.content)
                assert case.name not in got, f"two cases named {case.name}"
                got[case.name] = answer(r.status_code, r.headers.multi_items(), r.content, image_host,
                                        case.volatile)
    finally:
        server.stop()
    if os.environ.get("OPENBG_GOLDEN_RECORD") == "1":
        GOLDEN.write_text(json.dumps({"cpu": _cpu(), "answers": got}, indent=1) + "\n")
        pytest.skip(f"recorded {len(got)} answers into {GOLDEN}")  # only when asked to record
    golden = json.loads(GOLDEN.read_text())
    want = golden["answers"]
    assert len(want) >= 60
    differ = [name for name in want if got.get(name) != want[name]]
    report = "\n".join(f"{n}:\n  want {json.dumps(want[n])}\n  got  {json.dumps(got.get(n))}" for n in differ)
    cpu = _cpu()
    where = "" if cpu == golden["cpu"] else f"\n(recorded on {golden['cpu']}, running on {cpu})"
    assert not differ and set(got) == set(want), f"{len(differ)} answers changed:\n{report}{where}"
