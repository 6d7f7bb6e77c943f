"""Several servers behind nginx sharing one PostgreSQL 15 (issue 19), all real and on loopback:
exact credits, shared free calls and rate limits, metrics and the access log, PostgreSQL stopped and started
under load, and ``kill -9`` of a server under load. Small previews keep every step to a few seconds."""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import httpx

from tests.scale.scale_cluster import Deployment, post_many, small_image, wait_until


def codes(responses: list[httpx.Response]) -> Counter[int]:
    return Counter(r.status_code for r in responses)


def assert_ledger_matches(dep: Deployment, kid: str, start_balance: float, oks: list[httpx.Response]) -> None:
    """Every 200 charged once, nothing else charged; the ledger's sum equals the balance change."""
    rows = dep.ledger(kid)
    grants = sum(int(r["delta_milli"]) for r in rows if r["kind"] == "grant")  # type: ignore[call-overload]
    results = [r for r in rows if r["kind"] in ("charge", "free")]
    assert sorted(str(r["request_id"]) for r in results) == sorted(r.headers["X-Request-Id"] for r in oks)
    spent_milli = -sum(int(r["delta_milli"]) for r in results)  # type: ignore[call-overload]
    assert spent_milli == round(sum(float(r.headers["X-Credits-Charged"]) for r in oks) * 1000)
    assert round(dep.balance(kid) * 1000) == grants - spent_milli
    assert round(start_balance * 1000) == grants


def assert_charged_once(dep: Deployment, kid: str, start_balance: float, calls: dict[str, httpx.Response]) -> None:
    """Calls made with an Idempotency-Key each (``calls``: key → the 200 its client finally got): every
    200 is charged exactly once, as its X-Credits-Charged says; nothing is charged without a 200 of the same
    Idempotency-Key; nothing is charged twice; the ledger's sum equals the balance change."""
    rows = dep.ledger(kid)
    grants = sum(int(r["delta_milli"]) for r in rows if r["kind"] == "grant")  # type: ignore[call-overload]
    charges = [r for r in rows if r["kind"] in ("charge", "free")]
    records = {str(r["request_id"]): r for r in dep.accounts.idempotency_rows(kid)}  # type: ignore[attr-defined]
    missing = [r for r in charges if str(r["request_id"]) not in records]
    assert not missing, f"charges without an Idempotency-Key record: {missing[:3]}"
    charged = [str(records[str(r["request_id"])]["idem_key"]) for r in charges]
    doubled = [k for k, n in Counter(charged).items() if n > 1]
    assert not doubled, f"charged twice: {doubled}"
    assert set(charged) == set(calls), (f"charged without a 200: {sorted(set(charged) - set(calls))[:3]}; "
                                        f"200 without a charge: {sorted(set(calls) - set(charged))[:3]}")
    for r in charges:
        key = str(records[str(r["request_id"])]["idem_key"])
        assert -int(r["delta_milli"]) == round(float(calls[key].headers["X-Credits-Charged"]) * 1000)  # type: ignore[call-overload]
    spent_milli = -sum(int(r["delta_milli"]) for r in charges)  # type: ignore[call-overload]
    assert round(dep.balance(kid) * 1000) == grants - spent_milli
    assert round(start_balance * 1000) == grants


def test_exact_credits_under_50_concurrent_requests(deployment: Deployment) -> None:
    key, kid = deployment.create_key("credits", credits=10)  # a preview costs 0.25: 40 results exactly
    responses = post_many(deployment.url, key, 50, 50)
    c = codes(responses)
    assert c == {200: 40, 402: 10}, c
    assert deployment.balance(kid) == 0
    assert_ledger_matches(deployment, kid, 10, [r for r in responses if r.status_code == 200])
    served = [s for s in deployment.servers if _metric(s.root_url, 'openbg_requests_total{code="",'
                                                       'endpoint="/v1.0/removebg",status="200"}') > 1]
    assert len(served) == 3, "least_conn spread the requests over all three servers"


def test_free_calls_shared(deployment: Deployment) -> None:
    key, kid = deployment.create_key("free", credits=0, free_calls=4)
    responses = post_many(deployment.url, key, 10, 10)
    assert codes(responses) == {200: 4, 402: 6}
    assert all(r.headers["X-Credits-Charged"] == "0" for r in responses if r.status_code == 200)
    assert_ledger_matches(deployment, kid, 0, [r for r in responses if r.status_code == 200])


def test_rate_limit_shared_and_headers_exact(deployment: Deployment) -> None:
    key, _kid = deployment.create_key("rate", credits=100, rate_limit=6)
    responses = post_many(deployment.url, key, 14, 14)
    c = codes(responses)
    assert c == {200: 6, 429: 8}, c
    resets = {r.headers["X-RateLimit-Reset"] for r in responses}
    assert len(resets) == 1, f"one window, whichever server answered: {resets}"
    reset = int(resets.pop())
    for r in responses:
        assert r.headers["X-RateLimit-Limit"] == "6"
        if r.status_code == 429:
            assert r.json()["errors"][0]["code"] == "rate_limit_exceeded"
            assert r.headers["X-RateLimit-Remaining"] == "0"
            assert 1 <= int(r.headers["Retry-After"]) <= 60
            assert abs(time.time() + int(r.headers["Retry-After"]) - reset) <= 2
    remaining = sorted(int(r.headers["X-RateLimit-Remaining"]) for r in responses if r.status_code == 200)
    assert remaining == [0, 1, 2, 3, 4, 5]
    # /account on each server directly reports the same window
    seen = set()
    for s in deployment.servers:
        r = httpx.get(f"{s.root_url}/v1.0/account", headers={"X-Api-Key": key}, timeout=30)
        seen.add((r.status_code, r.headers["X-RateLimit-Remaining"], r.headers["X-RateLimit-Reset"]))
    assert seen == {(429, "0", str(reset))}


def _metric(root_url: str, series: str) -> float:
    text = httpx.get(f"{root_url}/metrics", timeout=30).text
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_and_access_log(deployment: Deployment) -> None:
    key, _ = deployment.create_key("metrics", credits=1)
    s = deployment.servers[0]
    r = httpx.post(f"{s.root_url}/v1.0/removebg", headers={"X-Api-Key": key}, files={"image_file": small_image()},
                   data={"size": "preview"}, timeout=60)
    assert r.status_code == 200
    bad = httpx.get(f"{s.root_url}/v1.0/account", headers={"X-Api-Key": "obg_wrong"}, timeout=30)
    assert bad.status_code == 403
    m = httpx.get(f"{s.root_url}/metrics", timeout=30)
    assert m.status_code == 200 and m.headers["content-type"].startswith("text/plain")
    text = m.text
    for needle in ('openbg_requests_total{code="auth_failed",endpoint="/v1.0/account",status="403"}',
                   'openbg_request_seconds_bucket{endpoint="/v1.0/removebg",le="0.5",size="preview"}',
                   "openbg_credits_charged_total ", "openbg_queue_depth ",
                   "openbg_rate_limited_total"):
        assert needle in text, needle
    # model time is labelled with the runtime that runs the model, never the setting's "auto"
    assert re.search(r'openbg_model_seconds_count\{runtime="(openvino|onnxruntime)"\} [1-9]', text), text[-3000:]
    assert _metric(s.root_url, "openbg_credits_charged_total") >= 0.25
    # the balancer does not expose one server's metrics
    assert httpx.get(f"{deployment.nginx.url}/metrics", timeout=30).status_code == 404
    # one access-log line per request, with the request id and the size tier, never the key
    assert wait_until(lambda: r.headers["X-Request-Id"] in s.log_path.read_text(), 10)
    log = s.log_path.read_text()
    line = next(x for x in log.splitlines() if r.headers["X-Request-Id"] in x)
    assert re.search(r"POST /v1.0/removebg 200 [0-9.]+ms size=preview code=- bytes=\d+ db=[0-9.]+ms id=", line), line
    assert key not in log and "obg_wrong" not in log
    assert re.search(r"GET /v1.0/account 403 .* code=auth_failed", log)


@dataclass
class Load:
    """Clients that retry through nginx until they get a result (as a real client with backoff would). Each
    call has a fresh Idempotency-Key, sent again with each of its retries, as the openbg client does; a call
    that started is retried to its 200 even after ``stop`` (a client does not drop a call it may have paid)."""

    url: str
    key: str
    oks: list[httpx.Response] = field(default_factory=list)
    calls: dict[str, httpx.Response] = field(default_factory=dict)  # Idempotency-Key -> the call's 200
    replays: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    bad: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    slowest: float = 0.0

    def client(self, n: int) -> None:
        img = small_image()
        with httpx.Client(timeout=30) as c:
            idem: str | None = None  # the call in progress
            give_up = 0.0
            while idem is not None or not self.stop.is_set():
                if idem is None:
                    idem, give_up = str(uuid.uuid4()), time.monotonic() + 120
                elif time.monotonic() > give_up:
                    with self.lock:
                        self.bad.append(f"call {idem} got no 200 in 120 s")
                    return
                t0 = time.monotonic()
                try:
                    r = c.post(f"{self.url}/removebg", headers={"X-Api-Key": self.key, "Idempotency-Key": idem},
                               files={"image_file": img}, data={"size": "preview"})
                except httpx.HTTPError as e:
                    with self.lock:
                        self.errors.append(type(e).__name__)
                    time.sleep(0.2)
                    continue
                dt = time.monotonic() - t0
                with self.lock:
                    self.slowest = max(self.slowest, dt)
                    self.statuses[r.status_code] += 1
                    if r.status_code == 200:
                        self.oks.append(r)
                        self.calls[idem] = r
                        self.replays += r.headers.get("Idempotent-Replayed") == "true"
                        idem = None
                    elif r.status_code == 503:
                        body = r.json()
                        if "Retry-After" not in r.headers or body["errors"][0]["code"] != "server_busy":
                            self.bad.append(f"503 without Retry-After/code: {r.headers} {r.text}")
                    else:
                        self.bad.append(f"{r.status_code}: {r.text[:200]}")
                        idem = None
                if r.status_code == 503:
                    time.sleep(min(float(r.headers.get("Retry-After", "1")), 0.5))  # short for the test

    def run(self, clients: int) -> list[threading.Thread]:
        threads = [threading.Thread(target=self.client, args=(i,), daemon=True) for i in range(clients)]
        for t in threads:
            t.start()
        return threads

    def ok_count(self) -> int:
        with self.lock:
            return len(self.oks)


def test_postgres_stopped_and_restarted_under_load(deployment: Deployment) -> None:
    key, kid = deployment.create_key("pgdown", credits=1000)
    load = Load(deployment.url, key)
    threads = load.run(4)
    assert wait_until(lambda: load.ok_count() >= 5, 30)
    deployment.pg.stop("fast")
    t_down = time.monotonic()
    during: Counter[int] = Counter()
    try:
        time.sleep(3)
        with load.lock:
            during = Counter(load.statuses)
    finally:
        deployment.pg.start()
    down_for = time.monotonic() - t_down
    n_at_restart = load.ok_count()
    recovered = wait_until(lambda: load.ok_count() >= n_at_restart + 5, 30)
    load.stop.set()
    for t in threads:
        t.join(60)
    print(f"\nPostgreSQL down {down_for:.1f} s: statuses {dict(load.statuses)}, client errors {load.errors}, "
          f"slowest answer {load.slowest:.2f} s")
    assert recovered, f"no results after PostgreSQL came back: {dict(load.statuses)} {load.bad[:3]}"
    assert not load.bad, load.bad[:5]
    assert during[503] > 0, during
    assert set(load.statuses) <= {200, 503}
    assert load.slowest < 15, "no request hangs while the database is away"
    assert_charged_once(deployment, kid, 1000, load.calls)


def big_noisy_image(size: tuple[int, int] = (2000, 1500)) -> bytes:
    """A photo whose full-size PNG result is ~9 MB (noise inside a large subject): far more than the socket
    buffers hold, so a server answering it is still sending when the client has not read yet."""
    import io

    import numpy as np
    from PIL import Image, ImageDraw

    w, h = size
    rng = np.random.default_rng(5)
    noise = Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8))
    im = Image.new("RGB", size, (235, 235, 235))
    mask = Image.new("L", size, 0)
    ImageDraw.Draw(mask).ellipse((w * 0.05, h * 0.03, w * 0.95, h * 0.97), fill=255)
    im.paste(noise, (0, 0), mask)
    b = io.BytesIO()
    im.save(b, "PNG")
    return b.getvalue()


def test_kill_9_of_one_server_under_load(deployment: Deployment) -> None:
    """``kill -9`` of one server while clients retry through nginx. One call is made to be charged and then
    lost: a ~9 MB answer from the victim, read by nobody until the victim has committed its charge and been
    killed mid-answer; its retry through nginx (same Idempotency-Key) is answered by another server as a
    replay. Then: every 200 the clients got is charged exactly once, no charge without a 200 of the same
    Idempotency-Key, nothing charged twice, and the ledger adds up."""
    key, kid = deployment.create_key("kill", credits=1000)
    load = Load(deployment.url, key)
    threads = load.run(6)
    assert wait_until(lambda: load.ok_count() >= 10, 30)
    victim = deployment.servers[0]
    big, idem = big_noisy_image(), "lost-answer-" + uuid.uuid4().hex
    killed = threading.Event()
    lost: dict[str, object] = {}

    def lost_call() -> None:
        headers = {"X-Api-Key": key, "Idempotency-Key": idem}
        with httpx.Client(timeout=120) as c:
            try:
                with c.stream("POST", f"{victim.root_url}/v1.0/removebg", headers=headers,
                              files={"image_file": big}, data={"size": "full"}) as r:
                    lost["status"] = r.status_code
                    killed.wait(120)  # read nothing until the victim is dead
                    r.read()
                lost["complete"] = True
            except httpx.HTTPError as e:
                lost["error"] = type(e).__name__
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:  # the client's retry, through nginx, with the same key
                try:
                    r = c.post(f"{deployment.url}/removebg", headers=headers, files={"image_file": big},
                               data={"size": "full"})
                except httpx.HTTPError:
                    time.sleep(0.2)
                    continue
                if r.status_code == 200:
                    with load.lock:
                        load.calls[idem] = r
                        load.replays += r.headers.get("Idempotent-Replayed") == "true"
                    lost["retry"] = r
                    return
                time.sleep(0.5)

    lost_thread = threading.Thread(target=lost_call, daemon=True)
    lost_thread.start()

    def charged() -> bool:
        return any(r["idem_key"] == idem for r in deployment.accounts.idempotency_rows(kid))  # type: ignore[attr-defined]

    committed = wait_until(charged, 90)
    victim.kill()
    killed.set()
    n_at_kill = load.ok_count()
    progressed = wait_until(lambda: load.ok_count() >= n_at_kill + 20, 30)
    load.stop.set()
    for t in [*threads, lost_thread]:
        t.join(150)
    retry = lost.get("retry")
    print(f"\nkill -9 under load: statuses {dict(load.statuses)}, client errors {Counter(load.errors)}, "
          f"{len(load.calls)} calls, {load.replays} answered as replays; the lost call: "
          f"{ {k: v for k, v in lost.items() if k != 'retry'} }, its retry "
          f"{getattr(retry, 'status_code', None)} replayed={getattr(retry, 'headers', {}).get('Idempotent-Replayed')}")
    assert committed, "the victim never charged the big call"
    assert "complete" not in lost and "error" in lost, f"the victim's answer was not cut by the kill: {lost}"
    assert isinstance(retry, httpx.Response), "the lost call's retry got no 200"
    assert retry.headers.get("Idempotent-Replayed") == "true" and retry.headers["X-Credits-Charged"] == "1"
    assert progressed, f"clients through nginx got no results after the kill: {dict(load.statuses)}"
    assert not load.bad, load.bad[:5]
    assert set(load.statuses) <= {200, 503}
    assert_charged_once(deployment, kid, 1000, load.calls)
    victim.start()  # leave the deployment as it was
    victim.wait_ready()


def test_rate_limit_cost_per_request(deployment: Deployment) -> None:
    """The shared window costs one upsert per request: measured here on the test database."""
    _key, kid = deployment.create_key("cost", credits=1, rate_limit=10**9)
    rate = deployment.accounts.rate  # type: ignore[attr-defined]
    rate.consume(kid, 10**9, 1)
    t = []
    for _ in range(200):
        t0 = time.perf_counter()
        rate.consume(kid, 10**9, 1)
        t.append(time.perf_counter() - t0)
    t.sort()
    median_ms = t[len(t) // 2] * 1000
    print(f"\nrate-limit upsert on PostgreSQL: median {median_ms:.2f} ms, p90 {t[int(len(t) * 0.9)] * 1000:.2f} ms")
    assert median_ms < 20
