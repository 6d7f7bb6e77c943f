"""Servers in separate network namespaces, standing for separate hosts (issue 19, optional part): each
``openbg serve`` has its own network stack and reaches PostgreSQL, and is reached by nginx, over a veth link
(10.233.x.y), not loopback. Needs root (CAP_NET_ADMIN): where namespaces cannot be made the test is skipped
with the reason (run ``pytest -rs`` to see it); the same topology on loopback is test_deployment.py."""

from __future__ import annotations

import tempfile
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.scale.scale_cluster import (
    Netns,
    Nginx,
    Postgres,
    Server,
    db_upgrade,
    post_many,
    server_env,
    small_image,
    start_all,
)


@pytest.fixture(scope="module")
def hosts() -> Iterator[tuple[list[Server], Nginx, Postgres]]:
    reason = Netns.unavailable()
    if reason is not None:
        pytest.skip(f"network namespaces unavailable here: {reason}")
    spaces: list[Netns] = []
    servers: list[Server] = []
    nginx = pg = None
    with tempfile.TemporaryDirectory(prefix="openbg-netns-") as d:
        root = Path(d)
        try:
            spaces = [Netns(i).up() for i in range(3)]
            pg = Postgres(root / "pg").init(listen=tuple(n.host_ip for n in spaces),
                                             trust=(f"{spaces[0].net}.0/24",))
            for i, ns in enumerate(spaces):  # each "host" reaches PostgreSQL at its own link's far end
                url = pg.url.replace("127.0.0.1", ns.host_ip)
                env = server_env(root / f"state{i}", url, OPENBG_WORKERS="1", OPENBG_QUEUE="64")
                if i == 0:
                    db_upgrade(env)
                servers.append(Server(root, f"ns{i}", env, netns=ns))
            start_all(servers)
            nginx = Nginx(root, [s.address for s in servers])
            nginx.start()
            yield servers, nginx, pg
        finally:
            if nginx is not None:
                nginx.stop()
            for s in servers:
                s.stop()
            if pg is not None:
                pg.stop("immediate")
            for ns in spaces:
                ns.down()


def test_servers_on_separate_network_stacks_share_one_ledger(hosts: tuple[list[Server], Nginx, Postgres]) -> None:
    from openbg_emulator.accounts import Accounts

    servers, nginx, pg = hosts
    for s in servers:  # not on this namespace's loopback: only over its link
        assert not s.host.startswith("127.")
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{s.port}/healthz", timeout=5)
    acc = Accounts(pg.url)
    try:
        key, info = acc.create_key("netns", credits=5, free_calls=0, rate_limit=100000)
        responses = post_many(f"{nginx.url}/v1.0", key, 30, 30)
        assert Counter(r.status_code for r in responses) == {200: 20, 402: 10}
        assert acc.get(info.id).credits == 0  # type: ignore[union-attr]
        charged = [r for r in acc.ledger_rows(info.id) if r["kind"] == "charge"]
        assert sorted(str(r["request_id"]) for r in charged) == sorted(
            r.headers["X-Request-Id"] for r in responses if r.status_code == 200)
        served = [s.name for s in servers if "POST /v1.0/removebg 200" in s.log_tail(10**6)]
        assert len(served) == 3, f"least_conn used every host: {served}"
        # one call sent to the three hosts at once with one Idempotency-Key: charged once
        key2, info2 = acc.create_key("netns-idem", credits=1, free_calls=0)
        barrier = threading.Barrier(3)
        img = small_image(11)

        def send(s: Server) -> httpx.Response:
            barrier.wait()
            return httpx.post(f"{s.root_url}/v1.0/removebg", headers={"X-Api-Key": key2, "Idempotency-Key": "n1"},
                              files={"image_file": img}, data={"size": "preview"}, timeout=120)

        with ThreadPoolExecutor(3) as ex:
            rs = list(ex.map(send, servers))
        assert [r.status_code for r in rs] == [200] * 3
        assert sum("Idempotent-Replayed" not in r.headers for r in rs) == 1
        assert acc.get(info2.id).credits == 0.75  # type: ignore[union-attr]
    finally:
        acc.close()
