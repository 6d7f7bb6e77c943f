"""A real deployment for tests/scale: PostgreSQL 15, three ``openbg serve`` and nginx, on loopback ports."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.scale.scale_cluster import (
    Deployment,
    Nginx,
    Postgres,
    Server,
    db_upgrade,
    server_env,
    small_image,
    start_all,
)


@pytest.fixture(scope="package")
def deployment() -> Iterator[Deployment]:
    from openbg_emulator.accounts import Accounts

    with tempfile.TemporaryDirectory(prefix="openbg-scale-") as d:
        root = Path(d)
        pg = Postgres(root / "pg").init()
        servers: list[Server] = []
        nginx = None
        try:
            env = server_env(root / "state", pg.url, OPENBG_WORKERS="1", OPENBG_QUEUE="64",
                             OPENBG_IMPROVE_DIR=str(root / "improve"))
            db_upgrade(env)
            servers = [Server(root, f"server{i}", env) for i in range(3)]
            start_all(servers)
            nginx = Nginx(root, [s.address for s in servers])
            nginx.start()
            dep = Deployment(root, pg, servers, nginx, env, Accounts(pg.url))
            img = small_image()
            for s in servers:  # warm every server's mask cache on the test image
                key, _ = dep.create_key("warm", credits=10)
                r = httpx.post(f"{s.root_url}/v1.0/removebg", headers={"X-Api-Key": key},
                               files={"image_file": img}, data={"size": "preview"}, timeout=120)
                assert r.status_code == 200, r.text
            yield dep
            dep.accounts.close()  # type: ignore[attr-defined]
        finally:
            if nginx is not None:
                nginx.stop()
            for s in servers:
                s.stop()
            pg.stop("immediate")


