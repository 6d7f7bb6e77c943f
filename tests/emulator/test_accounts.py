"""Credits, ledger, free calls, rate-limit windows, /account and the keys CLI, against live emulators."""

from __future__ import annotations

import concurrent.futures as cf
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.emulator.emu_helpers import error_code, synthetic


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _account(server, key: str) -> dict:  # type: ignore[no-untyped-def,type-arg]
    r = httpx.get(f"{server.base_url}/account", headers={"X-Api-Key": key}, timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    return r.json()["data"]["attributes"]  # type: ignore[no-any-return]


def test_concurrent_requests_never_overdraw(live_server) -> None:  # type: ignore[no-untyped-def]
    """A key with 3 credits and 8 concurrent full-size requests: exactly 3 succeed, balance 0, 3 ledger rows."""
    key = live_server.create_key("concurrent", credits=3, free_calls=0)
    img = synthetic((700, 500), variant=30)  # > preview tier: size=full costs 1

    def call(_: int) -> httpx.Response:
        return httpx.post(f"{live_server.base_url}/removebg", headers={"X-Api-Key": key},
                          files={"image_file": ("x.jpg", img)}, data={"size": "full", "format": "jpg"},
                          timeout=300)

    with cf.ThreadPoolExecutor(8) as ex:
        results = list(ex.map(call, range(8)))
    codes = sorted(r.status_code for r in results)
    assert codes == [200] * 3 + [402] * 5, [(r.status_code, r.text[:100]) for r in results]
    for r in results:
        if r.status_code == 200:
            assert r.headers["X-Credits-Charged"] == "1"
        else:
            assert error_code(r) == "insufficient_credits"
    info = live_server.key_info(key)
    assert info.credits == 0
    rows = live_server.accounts.ledger_rows(info.id)
    assert [r["kind"] for r in rows] == ["grant", "charge", "charge", "charge"]
    assert [r["balance_milli"] for r in rows] == [3000, 2000, 1000, 0]
    acc = _account(live_server, key)
    assert acc["credits"] == {"total": 0.0, "subscription": 0.0, "payg": 0.0, "enterprise": 0.0}


def test_account_after_charges_and_free_calls(live_server, jpeg) -> None:  # type: ignore[no-untyped-def]
    key = live_server.create_key("acct", credits=2, free_calls=2)
    acc = _account(live_server, key)
    assert acc == {"credits": {"total": 2.0, "subscription": 0.0, "payg": 2.0, "enterprise": 0.0},
                   "api": {"free_calls": 2, "sizes": "all"}}
    charged = []
    for _ in range(3):  # two free previews, then one paid preview
        r = httpx.post(f"{live_server.base_url}/removebg", headers={"X-Api-Key": key},
                       files={"image_file": ("x.jpg", jpeg)}, timeout=120)
        assert r.status_code == 200, r.text
        charged.append(r.headers["X-Credits-Charged"])
    assert charged == ["0", "0", "0.25"]
    acc = _account(live_server, key)
    assert acc["credits"]["total"] == acc["credits"]["payg"] == 1.75
    assert acc["api"]["free_calls"] == 0
    big = synthetic((700, 500), variant=30)
    r = httpx.post(f"{live_server.base_url}/removebg", headers={"X-Api-Key": key},
                   files={"image_file": ("x.jpg", big)}, data={"size": "auto"}, timeout=120)
    assert r.status_code == 200 and r.headers["X-Credits-Charged"] == "1"  # auto: charged what it delivered
    assert (int(r.headers["X-Width"]), int(r.headers["X-Height"])) == (700, 500)
    assert _account(live_server, key)["credits"]["total"] == 0.75
    rows = live_server.accounts.ledger_rows(live_server.key_info(key).id)
    assert [r["kind"] for r in rows] == ["grant", "free", "free", "charge", "charge"]


def test_rate_limit_counts_down_and_resets(alt_server, jpeg) -> None:  # type: ignore[no-untyped-def]
    server = alt_server  # OPENBG_RATE_WINDOW_S=2
    key = server.create_key("rate", credits=10, rate_limit=3)
    url = f"{server.base_url}/account"
    rs = [httpx.get(url, headers={"X-Api-Key": key}) for _ in range(3)]
    assert [r.status_code for r in rs] == [200, 200, 200]
    assert [r.headers["X-RateLimit-Remaining"] for r in rs] == ["2", "1", "0"]
    assert all(r.headers["X-RateLimit-Limit"] == "3" for r in rs)
    reset = int(rs[0].headers["X-RateLimit-Reset"])
    assert all(int(r.headers["X-RateLimit-Reset"]) == reset for r in rs)  # fixed window from the first call
    assert time.time() - 1 <= reset <= time.time() + 3
    r = httpx.get(url, headers={"X-Api-Key": key})
    assert r.status_code == 429 and 1 <= int(r.headers["Retry-After"]) <= 2
    # an image costs ceil(MP) units: 1 for 320x240 -> also refused now, nothing charged
    r = httpx.post(f"{server.base_url}/removebg", headers={"X-Api-Key": key},
                   files={"image_file": ("x.jpg", jpeg)}, timeout=60)
    assert r.status_code == 429
    assert server.key_info(key).credits == 10
    time.sleep(max(0.0, reset - time.time()) + 0.3)
    r = httpx.get(url, headers={"X-Api-Key": key})
    assert r.status_code == 200 and r.headers["X-RateLimit-Remaining"] == "2"
    assert int(r.headers["X-RateLimit-Reset"]) > reset


def test_rate_cost_is_ceil_of_input_megapixels(live_server) -> None:  # type: ignore[no-untyped-def]
    key = live_server.create_key("mp-weight", credits=10, rate_limit=5)
    big = synthetic((1200, 1000), variant=40)  # 1.2 MP -> ceil = 2 units
    r = httpx.post(f"{live_server.base_url}/removebg", headers={"X-Api-Key": key},
                   files={"image_file": ("x.jpg", big)}, timeout=120)
    assert r.status_code == 200, r.text
    assert r.headers["X-RateLimit-Remaining"] == "3"
    assert (r.headers["X-Max-Width"], r.headers["X-Max-Height"]) == ("1200", "1000")
    assert r.headers["X-Credits-Charged"] == "0"  # a free preview
    assert int(r.headers["X-Width"]) * int(r.headers["X-Height"]) <= 250_000


def _cli(server, *args: str) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    """`openbg keys ...` (the installed entry point; `python -m openbg_emulator.server_cli` without it)."""
    env = dict(os.environ)
    env["OPENBG_STATE_DIR"] = str(server.state_dir)
    exe = shutil.which("openbg", path=str(Path(sys.executable).parent))
    cmd = [exe] if exe else [sys.executable, "-m", "openbg_emulator.server_cli"]
    return subprocess.run([*cmd, "keys", *args], env=env, capture_output=True, text=True, timeout=60, check=False)


def test_keys_cli(live_server) -> None:  # type: ignore[no-untyped-def]
    p = _cli(live_server, "create", "--name", "cli-key", "--credits", "2.5", "--free-calls", "0",
             "--rate-limit", "7")
    assert p.returncode == 0, p.stderr
    key = p.stdout.strip().splitlines()[-1]
    assert key.startswith("obg_") and " " not in key
    acc = _account(live_server, key)
    assert acc["credits"]["total"] == 2.5 and acc["api"]["free_calls"] == 0
    r = httpx.get(f"{live_server.base_url}/account", headers={"X-Api-Key": key})
    assert r.headers["X-RateLimit-Limit"] == "7"
    p = _cli(live_server, "list")
    assert p.returncode == 0 and "cli-key" in p.stdout
    assert key not in p.stdout  # no secrets
    # the key is stored only as a hash
    db = (live_server.state_dir / "openbg.db").read_bytes()
    assert key.encode() not in db
    p = _cli(live_server, "credit", key, "1.5")
    assert p.returncode == 0, p.stderr
    assert _account(live_server, key)["credits"]["total"] == 4.0
    kid = live_server.key_info(key).id
    p = _cli(live_server, "revoke", kid)
    assert p.returncode == 0, p.stderr
    r = httpx.get(f"{live_server.base_url}/account", headers={"X-Api-Key": key})
    assert r.status_code == 403
    assert "revoked" in _cli(live_server, "list").stdout
    assert _cli(live_server, "revoke", "no-such-key").returncode != 0
    # the key never appears in the server log
    assert key not in live_server.log_tail(10**7)


def test_unusable_state_dir_is_one_line_error(tmp_path: Path) -> None:
    """A state directory that cannot be created is a one-line error, not a traceback."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    env = {**os.environ, "OPENBG_STATE_DIR": str(blocker / "state"), "OPENBG_HOME": str(tmp_path / "home")}
    exe = shutil.which("openbg", path=str(Path(sys.executable).parent))
    cmd = [exe] if exe else [sys.executable, "-m", "openbg_emulator.server_cli"]
    r = subprocess.run([*cmd, "keys", "list"], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    assert "cannot open the state" in r.stderr and "OPENBG_STATE_DIR" in r.stderr


# ----------------------------------------------------------------------------- Idempotency-Key (openbg extension)
def _post(server, key: str, img: bytes, idem: str | None, **data: str) -> httpx.Response:  # type: ignore[no-untyped-def]
    headers = {"X-Api-Key": key}
    if idem is not None:
        headers["Idempotency-Key"] = idem
    return httpx.post(f"{server.base_url}/removebg", headers=headers, files={"image_file": ("x.jpg", img)},
                      data=data or {"size": "preview"}, timeout=120)


def test_idempotency_key_repeat_is_answered_but_not_charged_again(live_server, jpeg) -> None:  # type: ignore[no-untyped-def]
    key = live_server.create_key("idem", credits=2, free_calls=0)
    kid = live_server.key_info(key).id
    first = _post(live_server, key, jpeg, "call-1")
    assert first.status_code == 200, first.text
    assert first.headers["X-Credits-Charged"] == "0.25" and "Idempotent-Replayed" not in first.headers
    again = _post(live_server, key, jpeg, "call-1")
    assert again.status_code == 200, again.text
    assert again.headers["X-Credits-Charged"] == "0.25" and again.headers["Idempotent-Replayed"] == "true"
    assert again.content == first.content and again.headers["X-Request-Id"] != first.headers["X-Request-Id"]
    assert live_server.key_info(key).credits == 1.75
    # the same key with another request: refused, nothing charged
    other = _post(live_server, key, synthetic((90, 70), variant=3), "call-1")
    assert other.status_code == 422 and error_code(other) == "idempotency_key_reused", other.text
    other = _post(live_server, key, jpeg, "call-1", size="preview", crop="true")
    assert other.status_code == 422 and error_code(other) == "idempotency_key_reused"
    # a bad key is a clear 400; a fresh key or none is a new call
    for bad in ("x" * 256, "two words", ""):
        r = _post(live_server, key, jpeg, bad)
        assert r.status_code == 400 and error_code(r) == "invalid_idempotency_key", (bad, r.text)
    assert _post(live_server, key, jpeg, "call-2").headers["X-Credits-Charged"] == "0.25"
    assert _post(live_server, key, jpeg, None).headers["X-Credits-Charged"] == "0.25"
    assert live_server.key_info(key).credits == 1.25
    rows = live_server.accounts.ledger_rows(kid)
    assert [r["kind"] for r in rows] == ["grant", "charge", "charge", "charge"]
    idem = {r["idem_key"]: r for r in live_server.accounts.idempotency_rows(kid)}
    assert sorted(idem) == ["call-1", "call-2"]
    assert idem["call-1"]["request_id"] == first.headers["X-Request-Id"] == rows[1]["request_id"]
    assert idem["call-1"]["credits_milli"] == 250 and idem["call-1"]["preview"] is True
    # the same Idempotency-Key on another account is another call
    key2 = live_server.create_key("idem2", credits=1, free_calls=0)
    r = _post(live_server, key2, jpeg, "call-1")
    assert r.status_code == 200 and "Idempotent-Replayed" not in r.headers
    assert live_server.key_info(key2).credits == 0.75


def test_idempotent_repeat_is_paid_already_and_delivers_what_was_paid(live_server) -> None:  # type: ignore[no-untyped-def]
    """A repeat needs no balance (it was paid), and size=auto that fell back to a preview repeats the preview
    even when the balance has grown since; free calls are replayed as free."""
    key = live_server.create_key("idem-auto", credits=0.25, free_calls=0)
    big = synthetic((700, 500), variant=31)
    first = _post(live_server, key, big, "auto-1", size="auto")
    assert first.status_code == 200 and first.headers["X-Credits-Charged"] == "0.25"
    small = (int(first.headers["X-Width"]), int(first.headers["X-Height"]))
    assert small[0] < 700
    assert live_server.key_info(key).credits == 0
    again = _post(live_server, key, big, "auto-1", size="auto")  # balance 0: still answered
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    live_server.accounts.credit(key, 5)
    again = _post(live_server, key, big, "auto-1", size="auto")
    assert again.status_code == 200 and again.headers["X-Credits-Charged"] == "0.25"
    assert (int(again.headers["X-Width"]), int(again.headers["X-Height"])) == small
    assert live_server.key_info(key).credits == 5
    assert _post(live_server, key, big, "auto-2", size="auto").headers["X-Credits-Charged"] == "1"
    free = live_server.create_key("idem-free", credits=0, free_calls=1)
    assert _post(live_server, free, big, "free-1").headers["X-Credits-Charged"] == "0"
    r = _post(live_server, free, big, "free-1")
    assert r.status_code == 200 and r.headers["X-Credits-Charged"] == "0" and r.headers["Idempotent-Replayed"] == "true"
    assert _post(live_server, free, big, "free-2").status_code == 402  # the one free call was used once


def test_idempotency_in_accounts_concurrent_and_window(tmp_path: Path) -> None:
    """Accounts on SQLite: 8 threads charging one Idempotency-Key at once charge it once; a record older than
    24 h is replaced (the key is charged again); another digest is refused."""
    import pytest
    from openbg_emulator.accounts import Accounts
    from openbg_emulator.errors import ApiError
    from openbg_emulator.idempotency import Idempotency, digest
    from sqlalchemy import text

    acc = Accounts(f"sqlite:///{tmp_path / 'a.db'}")
    try:
        _key, info = acc.create_key("t", credits=10, free_calls=0)
        idem = Idempotency("k1", digest({"size": "preview", "image_file": b"abc"}))
        assert idem.digest != digest({"size": "preview", "image_file": b"abd"})
        assert idem.digest != digest({"size": "full", "image_file": b"abc"})
        with cf.ThreadPoolExecutor(8) as ex:
            charges = list(ex.map(lambda i: acc.charge(info.id, 1.0, False, f"r{i}", idem), range(8)))
        assert sum(not c.replayed for c in charges) == 1
        assert {c.credits for c in charges} == {1.0}
        assert acc.get(info.id).credits == 9  # type: ignore[union-attr]
        with pytest.raises(ApiError) as err:
            acc.charge(info.id, 1.0, False, "r9", Idempotency("k1", "0" * 64))
        assert err.value.code == "idempotency_key_reused" and err.value.status == 422
        assert acc.can_pay(info, 1.0, False, idem) and acc.can_pay(info, 0.25, True, idem)
        with acc.engine.begin() as c:  # the record ages past the window
            c.execute(text("UPDATE idempotency SET at_ms = at_ms - 25 * 3600 * 1000"))
        c2 = acc.charge(info.id, 1.0, False, "r10", Idempotency("k1", "1" * 64))
        assert not c2.replayed and acc.get(info.id).credits == 8  # type: ignore[union-attr]
        rows = acc.idempotency_rows(info.id)
        assert [(r["idem_key"], r["request_id"]) for r in rows] == [("k1", "r10")]
        acc._last_purge = 0.0  # housekeeping: records past the window are deleted
        with acc.engine.begin() as c:
            c.execute(text("UPDATE idempotency SET at_ms = at_ms - 25 * 3600 * 1000"))
        acc._maybe_purge(every_s=0)
        assert acc.idempotency_rows(info.id) == []
    finally:
        acc.close()


def test_first_key_is_made_once(tmp_path: Path) -> None:
    """Servers starting at once on one empty database: one `default` key between them (SQLite here; the
    PostgreSQL case is in tests/scale)."""
    from openbg_emulator.accounts import Accounts

    url = f"sqlite:///{tmp_path / 'first.db'}"
    Accounts(url).close()
    accs = [Accounts(url) for _ in range(6)]
    try:
        with cf.ThreadPoolExecutor(6) as ex:
            made = list(ex.map(lambda a: a.create_first_key("default", credits=100), accs))
        assert sum(m is not None for m in made) == 1
        assert [k.name for k in accs[0].list_keys()] == ["default"]
        assert accs[0].create_first_key("default") is None  # a later start makes none
    finally:
        for a in accs:
            a.close()
    other = Accounts(f"sqlite:///{tmp_path / 'keys-first.db'}")
    try:
        other.create_key("mine", credits=1)  # an operator's key before the first start: no default key
        assert other.create_first_key("default") is None
        assert [k.name for k in other.list_keys()] == ["mine"]
    finally:
        other.close()
