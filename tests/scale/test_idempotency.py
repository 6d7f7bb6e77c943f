"""Idempotency-Key across servers, and the first start of several servers on one empty PostgreSQL (issue 19).
Real PostgreSQL 15, real servers; see test_deployment.py for ``kill -9`` under load with Idempotency-Keys."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.scale.scale_cluster import Deployment, Server, db_upgrade, server_env, small_image, wait_until


def _post(url: str, key: str, idem: str, image: bytes) -> httpx.Response:
    return httpx.post(f"{url}/removebg", headers={"X-Api-Key": key, "Idempotency-Key": idem},
                      files={"image_file": image}, data={"size": "preview"}, timeout=120)


def test_one_call_sent_to_three_servers_at_once_is_charged_once(deployment: Deployment) -> None:
    key, kid = deployment.create_key("idem-race", credits=10)
    img = small_image(7)
    for round_ in range(3):
        idem = f"race-{round_}"
        barrier = threading.Barrier(len(deployment.servers))

        def send(s: Server, idem: str = idem, barrier: threading.Barrier = barrier) -> httpx.Response:
            barrier.wait()
            return _post(f"{s.root_url}/v1.0", key, idem, img)

        with ThreadPoolExecutor(len(deployment.servers)) as ex:
            rs = list(ex.map(send, deployment.servers))
        assert [r.status_code for r in rs] == [200] * 3, [r.text[:200] for r in rs]
        assert {r.headers["X-Credits-Charged"] for r in rs} == {"0.25"}
        assert sum("Idempotent-Replayed" not in r.headers for r in rs) == 1, [dict(r.headers) for r in rs]
        assert len({r.content for r in rs}) == 1
    assert deployment.balance(kid) == 10 - 3 * 0.25
    rows = deployment.ledger(kid)
    assert [r["kind"] for r in rows] == ["grant", "charge", "charge", "charge"]
    # through nginx, the same key with another image is refused on whichever server answers
    r = _post(deployment.url, key, "race-0", small_image(8))
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "idempotency_key_reused", r.text
    assert deployment.balance(kid) == 10 - 3 * 0.25


def test_a_lost_answer_is_replayed_by_another_server(deployment: Deployment) -> None:
    """Server A charges but its client gives up before the answer (a read timeout shorter than the work);
    the retry through nginx carries the same Idempotency-Key: answered, not charged again."""
    key, kid = deployment.create_key("idem-lost", credits=5)
    img = small_image(9, size=(900, 700))  # a full-size result: long enough to time out on
    a = deployment.servers[1]
    credits_before = sum(_credits_metric(s) for s in deployment.servers)
    try:
        httpx.post(f"{a.root_url}/v1.0/removebg", headers={"X-Api-Key": key, "Idempotency-Key": "lost-1"},
                   files={"image_file": img}, data={"size": "full"}, timeout=httpx.Timeout(30, read=0.05))
        raise AssertionError("the answer came before the client's read timeout")
    except httpx.ReadTimeout:
        pass
    assert wait_until(lambda: deployment.balance(kid) == 4, 60), "the server charged the call it computed"
    for s in deployment.servers:
        r = httpx.post(f"{s.root_url}/v1.0/removebg", headers={"X-Api-Key": key, "Idempotency-Key": "lost-1"},
                       files={"image_file": img}, data={"size": "full"}, timeout=120)
        assert r.status_code == 200 and r.headers["Idempotent-Replayed"] == "true", r.text[:300]
        assert r.headers["X-Credits-Charged"] == "1"
    assert deployment.balance(kid) == 4
    assert [row["kind"] for row in deployment.ledger(kid)] == ["grant", "charge"]
    # the servers' metrics count the one charge, not the replays
    assert sum(_credits_metric(s) for s in deployment.servers) - credits_before == 1


def _credits_metric(s: Server) -> float:
    for line in httpx.get(f"{s.root_url}/metrics", timeout=30).text.splitlines():
        if line.startswith("openbg_credits_charged_total "):
            return float(line.split()[1])
    return 0.0


def test_servers_starting_at_once_on_an_empty_database_make_one_default_key(deployment: Deployment) -> None:
    from openbg_emulator.accounts import Accounts

    # first Accounts instances racing on one fresh database (the narrowest race), then real servers
    for name in ("firstkey_a", "firstkey_b"):
        deployment.pg.psql(f"CREATE DATABASE {name}")
    url_a = deployment.pg.url.rsplit("/", 1)[0] + "/firstkey_a"
    db_upgrade(server_env(deployment.root / "fk-a", url_a))
    accs = [Accounts(url_a) for _ in range(8)]
    try:
        barrier = threading.Barrier(len(accs))

        def first(a: Accounts) -> bool:
            barrier.wait()
            return a.create_first_key("default", credits=100) is not None

        with ThreadPoolExecutor(len(accs)) as ex:
            made = list(ex.map(first, accs))
        assert sum(made) == 1, made
        assert [k.name for k in accs[0].list_keys()] == ["default"]
    finally:
        for a in accs:
            a.close()

    url_b = deployment.pg.url.rsplit("/", 1)[0] + "/firstkey_b"
    env = server_env(deployment.root / "fk-b", url_b, OPENBG_WORKERS="1")
    db_upgrade(env)
    servers = [Server(deployment.root, f"first{i}", env) for i in range(4)]
    try:
        for s in servers:
            s.start()
        # "state in" is printed after the first-key step, before the model loads: no need to wait for ready
        assert wait_until(lambda: all("openbg: state in" in s.log_tail(100000) for s in servers), 120), \
            [s.log_tail(500) for s in servers]
    finally:
        for s in servers:
            s.kill()
            s.stop()
    created = [s.name for s in servers if "created API key 'default'" in s.log_tail(100000)]
    assert len(created) == 1, created
    acc = Accounts(url_b)
    try:
        keys = acc.list_keys()
        assert [(k.name, k.credits) for k in keys] == [("default", 100)]
    finally:
        acc.close()
