"""OPENBG_METRICS: /metrics on the API port (default), on a port of its own, or off. In-process app, no model."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from openbg_emulator.app import create_app
from openbg_emulator.metrics import start_separate
from openbg_emulator.settings import Settings
from starlette.testclient import TestClient

from tests.scale.scale_cluster import free_port


def app_for(tmp_path: Path, metrics: str) -> TestClient:
    s = Settings(home=tmp_path, state_dir=tmp_path / "state", metrics=metrics)
    return TestClient(create_app(s, load_model=False))


def test_settings_validate() -> None:
    assert Settings.from_env({}).metrics == "api"
    assert Settings.from_env({"OPENBG_METRICS": "OFF"}).metrics == "off"
    assert Settings.from_env({"OPENBG_METRICS": "9100"}).metrics == "9100"
    with pytest.raises(ValueError, match="OPENBG_METRICS"):
        Settings.from_env({"OPENBG_METRICS": "yes"})
    assert Settings.from_env({"OPENBG_IMPROVE_DIR": "/srv/shared/improve"}).improve_dir == Path("/srv/shared/improve")


def test_on_the_api_port_by_default(tmp_path: Path) -> None:
    with app_for(tmp_path, "api") as c:
        c.get("/healthz")
        r = c.get("/metrics")
        assert r.status_code == 200
        assert 'openbg_requests_total{code="",endpoint="/healthz",status="200"}' in r.text


def test_off_and_separate_port(tmp_path: Path) -> None:
    with app_for(tmp_path, "off") as c:
        r = c.get("/metrics")
        assert r.status_code == 404 and r.json()["errors"][0]["code"] == "not_found"
    port = free_port()
    start_separate(port, "127.0.0.1")
    r = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    assert r.status_code == 200 and "openbg_queue_depth" in r.text
