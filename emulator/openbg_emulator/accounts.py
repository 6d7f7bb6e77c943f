"""Accounts: API keys (stored only as hashes), credit balances with a ledger, monthly free calls,
megapixel-weighted rate-limit windows and the /improve daily quota.

No HTTP here. The service calls :class:`Accounts` for everything stateful.

Storage (SQLAlchemy; SQLite by default under ``$OPENBG_STATE_DIR/openbg.db``):

* ``api_keys``: public id, name, ``key_hash`` = sha256 of the (high-entropy) key, the credit balance in
  **millicredits** (integer, so 0.25 credits is exactly 250), free calls per month, rate limit, revocation.
  The key itself is never stored and never logged; lookups hash the presented key and compare the stored
  hash with :func:`hmac.compare_digest`.
* ``ledger``: one row per balance change (``grant`` by ``keys create``/``keys credit``, ``charge`` for a
  paid result, ``free`` for a free call). A charge and its ledger row are written in one transaction, and the
  balance is decremented with a conditional ``UPDATE ... WHERE credits >= cost`` so that concurrent requests
  can never overdraw or double-charge.
* ``free_usage``: free calls used per key and calendar month (UTC).
* ``improve_usage``: /improve submissions per key and UTC day.

* ``idempotency``: one row per charge made with an ``Idempotency-Key`` (:mod:`openbg_emulator.idempotency`):
  the key's id and the idempotency key (primary key, so one charge per pair at most), the request's digest,
  what was charged and when, and the charging request's id. Written in the charge's transaction; a repeat of
  the same pair within 24 h is not charged again. Rows older than that are replaced and purged.
* ``openbg_meta``: one-off facts of the database; ``first_key`` marks that a server's first start made (or
  found) the keys, so that several servers starting at once on an empty database create one ``default`` key.

* ``rate_windows``: the rate-limit window per key (:class:`SqlRateLimiter`), shared by every server process
  on the database: a fixed window that starts at the window's first call and lasts ``window_s`` seconds (60 by
  default, spec §10). One conditional upsert per request counts a request; times come from the database's
  clock, so ``X-RateLimit-*`` and ``Retry-After`` are the same whichever server answers.

The schema is versioned by Alembic (``openbg_emulator.migrations``, ``openbg db upgrade``); :class:`Accounts`
refuses a database at another revision (:class:`~openbg_emulator.migrations.SchemaError`) and creates an
empty SQLite database at once. PostgreSQL (``postgresql+psycopg://…``, the ``openbg[postgres]`` extra) is
opened with pre-ping and short connect timeouts, so a database that went away fails fast
(:class:`sqlalchemy.exc.OperationalError`; the service answers 503) and the pool reconnects by itself.
Per key, writers lock the key's row first (``SELECT … FOR UPDATE``; SQLite: ``BEGIN IMMEDIATE``), so
concurrent charges on several servers are serialised per key.

Account mapping for ``GET /account``: every granted credit is pay-as-you-go, so ``payg`` = balance,
``subscription`` = 0, ``enterprise`` = 0, ``total`` = balance.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    create_engine,
    event,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from openbg_emulator.idempotency import WINDOW_S, Idempotency, reused

KEY_PREFIX = "obg_"
MILLI = 1000

metadata = MetaData()

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(16), primary_key=True),  # public id, e.g. "k_3f9a2c1b"
    Column("name", String(200), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("key_hint", String(16), nullable=False),  # first characters, for `keys list`
    Column("credits_milli", BigInteger, nullable=False, default=0),
    Column("free_calls", Integer, nullable=True),  # per month; None → settings default
    Column("rate_limit", Integer, nullable=True),  # MP per window; None → settings default
    Column("created_at", String(32), nullable=False),
    Column("revoked_at", String(32), nullable=True),
)

ledger = Table(
    "ledger",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("key_id", String(16), nullable=False, index=True),
    Column("at", String(32), nullable=False),
    Column("kind", String(16), nullable=False),  # grant | charge | free
    Column("delta_milli", BigInteger, nullable=False),
    Column("balance_milli", BigInteger, nullable=False),  # balance after this row
    Column("request_id", String(64), nullable=True),
)

free_usage = Table(
    "free_usage",
    metadata,
    Column("key_id", String(16), primary_key=True),
    Column("month", String(7), primary_key=True),  # "2026-11"
    Column("used", Integer, nullable=False, default=0),
)

improve_usage = Table(
    "improve_usage",
    metadata,
    Column("key_id", String(16), primary_key=True),
    Column("day", String(10), primary_key=True),  # "2026-11-25"
    Column("used", Integer, nullable=False, default=0),
    UniqueConstraint("key_id", "day"),
)


idempotency = Table(
    "idempotency",
    metadata,
    Column("key_id", String(16), primary_key=True),
    Column("idem_key", String(255), primary_key=True),  # the client's Idempotency-Key
    Column("digest", String(64), nullable=False),  # sha256 of the request's fields
    Column("at_ms", BigInteger, nullable=False, index=True),  # when it was charged (unix ms)
    Column("credits_milli", BigInteger, nullable=False),  # what was charged (0: a free call)
    Column("preview", Boolean, nullable=False),  # the result was a preview-tier one
    Column("request_id", String(64), nullable=True),  # the request that was charged (ledger.request_id)
)

openbg_meta = Table(
    "openbg_meta",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", String(200), nullable=False),
)


rate_windows = Table(
    "rate_windows",
    metadata,
    Column("key_id", String(16), primary_key=True),
    Column("start_ms", BigInteger, nullable=False),  # the window's first call (database clock, ms)
    Column("used", BigInteger, nullable=False),  # megapixel images counted in the window
)


def db_unavailable(exc: BaseException) -> bool:
    """True for errors that mean the database cannot be reached or used right now (connection refused or lost,
    pool exhausted, SQLite locked or full): the service answers 503 with Retry-After. The transaction was rolled
    back (the one case left open: a connection lost during COMMIT itself, when the server cannot know)."""
    from sqlalchemy import exc as sa_exc

    if isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError)):
        return True
    return isinstance(exc, sa_exc.DBAPIError) and bool(exc.connection_invalidated)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(24)


def to_milli(credits: float) -> int:
    m = round(float(credits) * MILLI)
    if not math.isfinite(credits):
        raise ValueError("credits must be finite")
    return int(m)


def from_milli(m: int) -> float:
    return m / MILLI


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _now_ms() -> int:
    return int(time.time() * 1000)


def _month() -> str:
    return datetime.now(UTC).strftime("%Y-%m")


def _day() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d")


@dataclass(frozen=True)
class KeyInfo:
    id: str
    name: str
    key_hint: str
    credits: float
    free_calls: int  # allowance per month (resolved)
    free_calls_left: int  # remaining this month
    rate_limit: int  # resolved
    created_at: str
    revoked: bool


@dataclass(frozen=True)
class Charge:
    credits: float  # what X-Credits-Charged reports (0 for a free call)
    free: bool
    balance: float
    replayed: bool = False  # a repeat of an Idempotency-Key charged before: nothing charged now


class InsufficientCredits(Exception):
    pass


class ImproveLimit(Exception):
    pass


@dataclass
class _Window:
    start: float
    used: int


@dataclass(frozen=True)
class RateState:
    limit: int
    remaining: int
    reset: int  # unix seconds when the window ends
    allowed: bool
    retry_after: int  # seconds (≥ 1) when not allowed, else 0


class RateLimiter:
    """Fixed window per key starting at the window's first call (spec §10). Thread-safe, in memory."""

    def __init__(self, window_s: float = 60.0, clock: Callable[[], float] = time.time) -> None:
        self.window_s = window_s
        self.clock = clock
        self._lock = threading.Lock()
        self._windows: dict[str, _Window] = {}

    def _current(self, key_id: str, now: float) -> _Window | None:
        w = self._windows.get(key_id)
        if w is not None and now >= w.start + self.window_s:
            del self._windows[key_id]
            return None
        return w

    def peek(self, key_id: str, limit: int) -> RateState:
        now = self.clock()
        with self._lock:
            w = self._current(key_id, now)
            used = w.used if w else 0
            reset = math.ceil((w.start if w else now) + self.window_s)
            return RateState(limit, max(0, limit - used), reset, True, 0)

    def consume(self, key_id: str, limit: int, cost: int) -> RateState:
        now = self.clock()
        with self._lock:
            w = self._current(key_id, now)
            if w is None:
                w = _Window(now, 0)
                if cost <= limit:
                    self._windows[key_id] = w
            reset_at = w.start + self.window_s
            reset = math.ceil(reset_at)
            if w.used + cost > limit:
                retry = max(1, math.ceil(reset_at - now))
                return RateState(limit, max(0, limit - w.used), reset, False, retry)
            w.used += cost
            return RateState(limit, max(0, limit - w.used), reset, True, 0)


_NOW_MS = {
    "postgresql": "CAST(EXTRACT(EPOCH FROM statement_timestamp()) * 1000 AS BIGINT)",
    "sqlite": "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)",
}


class SqlRateLimiter:
    """The same fixed windows as :class:`RateLimiter`, kept in the ``rate_windows`` table so that every server
    process on the database shares them. :meth:`consume` is one conditional upsert (``INSERT … ON CONFLICT
    DO UPDATE … WHERE … RETURNING``, PostgreSQL and SQLite alike): it starts a new window when none is open or
    the last one ended, adds the cost when it fits, and returns nothing when it does not (then one read gives
    the headers). Times are the database's clock, the same for every server."""

    def __init__(self, engine: Engine, writer: Engine, window_s: float = 60.0) -> None:
        self.engine = engine
        self.writer = writer
        self.window_s = window_s
        self.window_ms = round(window_s * 1000)
        now = _NOW_MS.get(engine.dialect.name, _NOW_MS["sqlite"])
        self._now = text(f"SELECT {now}")
        self._read = text(f"SELECT start_ms, used, {now} AS now_ms FROM rate_windows WHERE key_id = :k")
        self._upsert = text(
            f"INSERT INTO rate_windows (key_id, start_ms, used) VALUES (:k, {now}, :cost) "
            "ON CONFLICT (key_id) DO UPDATE SET "
            f"start_ms = CASE WHEN rate_windows.start_ms + :w <= {now} THEN {now} ELSE rate_windows.start_ms END, "
            f"used = CASE WHEN rate_windows.start_ms + :w <= {now} THEN :cost ELSE rate_windows.used + :cost END "
            f"WHERE rate_windows.start_ms + :w <= {now} OR rate_windows.used + :cost <= :lim "
            f"RETURNING start_ms, used, {now} AS now_ms"
        )

    def _state(self, limit: int, start_ms: int | None, used: int, now_ms: int, allowed: bool) -> RateState:
        if start_ms is None or now_ms >= start_ms + self.window_ms:  # no open window
            start_ms, used = now_ms, 0
        reset_at = (start_ms + self.window_ms) / 1000
        retry = 0 if allowed else max(1, math.ceil(reset_at - now_ms / 1000))
        return RateState(limit, max(0, limit - used), math.ceil(reset_at), allowed, retry)

    def peek(self, key_id: str, limit: int, allowed: bool = True) -> RateState:
        with self.engine.connect() as c:
            row = c.execute(self._read, {"k": key_id}).first()
            now_ms = int(row.now_ms) if row is not None else int(c.execute(self._now).scalar_one())
            c.rollback()
        if row is None:
            return self._state(limit, None, 0, now_ms, allowed)
        return self._state(limit, int(row.start_ms), int(row.used), now_ms, allowed)

    def consume(self, key_id: str, limit: int, cost: int) -> RateState:
        if cost > limit:  # never fits: count nothing
            return self.peek(key_id, limit, allowed=False)
        with self.writer.begin() as c:
            row = c.execute(self._upsert, {"k": key_id, "cost": cost, "w": self.window_ms, "lim": limit}).first()
            if row is None:  # the window is open and the cost does not fit
                row = c.execute(self._read, {"k": key_id}).first()
                assert row is not None
                return self._state(limit, int(row.start_ms), int(row.used), int(row.now_ms), False)
        return self._state(limit, int(row.start_ms), int(row.used), int(row.now_ms), True)


class Accounts:
    """All account state. Thread-safe (SQLAlchemy engine + SQLite with a busy timeout)."""

    def __init__(
        self,
        database_url: str,
        *,
        default_free_calls: int = 50,
        default_rate_limit: int = 500,
        improve_per_day: int = 100,
        rate_window_s: float = 60.0,
        pool_size: int = 8,
        check_schema: bool = True,
    ) -> None:
        self.default_free_calls = default_free_calls
        self.default_rate_limit = default_rate_limit
        self.improve_per_day = improve_per_day
        self._sqlite = database_url.startswith("sqlite")
        if self._sqlite:
            path = database_url.split("///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            self.engine: Engine = create_engine(
                database_url, connect_args={"check_same_thread": False, "timeout": 30}
            )

            @event.listens_for(self.engine, "connect")
            def _pragmas(dbapi_conn, _rec):  # type: ignore[no-untyped-def]
                dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see below)
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=FULL")
                cur.execute("PRAGMA busy_timeout=30000")
                cur.close()

            @event.listens_for(self.engine, "begin")
            def _begin(conn):  # type: ignore[no-untyped-def]
                # Writers take the write lock up front (BEGIN IMMEDIATE), so check-and-update is serialised
                # and never fails with a lock-upgrade error; readers use a plain deferred BEGIN (WAL).
                immediate = conn.get_execution_options().get("openbg_write", False)
                conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
        else:
            connect_args: dict[str, object] = {}
            if database_url.startswith("postgresql"):
                # fail fast when the database is away (the service answers 503) instead of hanging
                connect_args = {"connect_timeout": 3, "options": "-c statement_timeout=10000"}
            self.engine = create_engine(database_url, pool_pre_ping=True, pool_size=pool_size,
                                        max_overflow=pool_size, pool_timeout=5, pool_recycle=1800,
                                        connect_args=connect_args)
        self._writer = self.engine.execution_options(openbg_write=True)
        if check_schema:
            from openbg_emulator.migrations import check

            try:
                check(self.engine, self._writer, auto_create=self._sqlite)
            except BaseException:
                self.engine.dispose()
                raise
        self.rate = SqlRateLimiter(self.engine, self._writer, rate_window_s)
        self._last_purge = time.monotonic()

    def close(self) -> None:
        self.engine.dispose()

    # ------------------------------------------------------------------ keys
    def _resolve(self, row, conn: Connection | None = None) -> KeyInfo:  # type: ignore[no-untyped-def]
        free = row.free_calls if row.free_calls is not None else self.default_free_calls
        query = select(free_usage.c.used).where(free_usage.c.key_id == row.id, free_usage.c.month == _month())
        if conn is not None:  # on the caller's connection: one pool checkout per call
            used = conn.execute(query).scalar()
        else:
            with self.engine.connect() as c:
                used = c.execute(query).scalar()
                c.rollback()
        return KeyInfo(
            id=row.id,
            name=row.name,
            key_hint=row.key_hint,
            credits=from_milli(row.credits_milli),
            free_calls=free,
            free_calls_left=max(0, free - (used or 0)),
            rate_limit=row.rate_limit if row.rate_limit is not None else self.default_rate_limit,
            created_at=row.created_at,
            revoked=row.revoked_at is not None,
        )

    def count_keys(self) -> int:
        with self.engine.connect() as c:
            n = c.execute(select(func.count()).select_from(api_keys)).scalar() or 0
            c.rollback()
        return int(n)

    def create_key(
        self,
        name: str,
        *,
        credits: float = 0,
        free_calls: int | None = None,
        rate_limit: int | None = None,
    ) -> tuple[str, KeyInfo]:
        """Create a key; returns (the key — shown once, never stored, KeyInfo)."""
        if credits < 0:
            raise ValueError("credits must be >= 0")
        with self._writer.begin() as c:
            key, kid = self._insert_key(c, name, credits=credits, free_calls=free_calls, rate_limit=rate_limit)
        info = self.get(kid)
        assert info is not None
        return key, info

    @staticmethod
    def _insert_key(c: Connection, name: str, *, credits: float, free_calls: int | None,
                    rate_limit: int | None) -> tuple[str, str]:
        key = new_key()
        kid = "k_" + uuid.uuid4().hex[:10]
        milli = to_milli(credits)
        now = _now_iso()
        c.execute(
            insert(api_keys).values(
                id=kid,
                name=name,
                key_hash=hash_key(key),
                key_hint=key[: len(KEY_PREFIX) + 4],
                credits_milli=milli,
                free_calls=free_calls,
                rate_limit=rate_limit,
                created_at=now,
            )
        )
        if milli:
            c.execute(insert(ledger).values(key_id=kid, at=now, kind="grant", delta_milli=milli, balance_milli=milli))
        return key, kid

    def create_first_key(self, name: str = "default", *, credits: float = 100) -> tuple[str, KeyInfo] | None:
        """At a server's first start on a database without keys: create one key. Several servers starting at
        once on an empty database create one key between them: the marker row ``openbg_meta.first_key`` is
        inserted first (``ON CONFLICT DO NOTHING`` on its primary key; a second writer waits for the first's
        transaction and then inserts nothing), and the key is made in the same transaction, only when there
        is none yet. None when this process did not create it."""
        with self._writer.begin() as c:
            won = c.execute(
                text("INSERT INTO openbg_meta (name, value) VALUES ('first_key', :v) ON CONFLICT (name) DO NOTHING"),
                {"v": _now_iso()},
            ).rowcount == 1
            if not won or (c.execute(select(func.count()).select_from(api_keys)).scalar() or 0) > 0:
                return None
            key, kid = self._insert_key(c, name, credits=credits, free_calls=None, rate_limit=None)
        info = self.get(kid)
        assert info is not None
        return key, info

    def authenticate(self, key: str) -> KeyInfo | None:
        """The key's info if the key exists and is not revoked, else None. Constant-time on the hash."""
        if not key or len(key) > 512:
            return None
        h = hash_key(key)
        with self.engine.connect() as c:
            row = c.execute(select(api_keys).where(api_keys.c.key_hash == h)).first()
            if row is None or not hmac.compare_digest(row.key_hash.encode(), h.encode()):
                c.rollback()
                return None
            if row.revoked_at is not None:
                c.rollback()
                return None
            info = self._resolve(row, c)
            c.rollback()
        return info

    def _find_row(self, c: Connection, key_or_id: str):  # type: ignore[no-untyped-def]
        row = c.execute(select(api_keys).where(api_keys.c.id == key_or_id)).first()
        if row is None:
            row = c.execute(select(api_keys).where(api_keys.c.key_hash == hash_key(key_or_id))).first()
        return row

    def get(self, key_or_id: str) -> KeyInfo | None:
        with self.engine.connect() as c:
            row = self._find_row(c, key_or_id)
            info = self._resolve(row, c) if row is not None else None
            c.rollback()
        return info

    def list_keys(self) -> list[KeyInfo]:
        with self.engine.connect() as c:
            rows = c.execute(select(api_keys).order_by(api_keys.c.created_at, api_keys.c.id)).fetchall()
            c.rollback()
        return [self._resolve(r) for r in rows]

    def revoke(self, key_or_id: str) -> KeyInfo | None:
        with self._writer.begin() as c:
            row = self._find_row(c, key_or_id)
            if row is None:
                return None
            c.execute(
                update(api_keys).where(api_keys.c.id == row.id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=_now_iso())
            )
        return self.get(row.id)

    def credit(self, key_or_id: str, amount: float) -> KeyInfo | None:
        """Add (or, negative, remove down to zero at most) credits, with a ledger row."""
        delta = to_milli(amount)
        with self._writer.begin() as c:
            row = self._find_row(c, key_or_id)
            if row is None:
                return None
            row = c.execute(select(api_keys).where(api_keys.c.id == row.id).with_for_update()).first()
            if delta < 0 and row.credits_milli + delta < 0:
                raise ValueError(f"balance {from_milli(row.credits_milli)} cannot go below 0")
            c.execute(
                update(api_keys).where(api_keys.c.id == row.id)
                .values(credits_milli=api_keys.c.credits_milli + delta)
            )
            bal = c.execute(select(api_keys.c.credits_milli).where(api_keys.c.id == row.id)).scalar_one()
            c.execute(
                insert(ledger).values(
                    key_id=row.id, at=_now_iso(), kind="grant", delta_milli=delta, balance_milli=bal
                )
            )
        return self.get(row.id)

    # ------------------------------------------------------------------ credits
    def can_pay(self, info: KeyInfo, credits: float, preview: bool, idempotency: Idempotency | None = None) -> bool:
        """Pre-check before running the engine (the real guard is the conditional UPDATE in charge).

        A repeat of an ``Idempotency-Key`` charged before is paid already: it may have what it had (a preview
        after a preview, anything after a full-size result), whatever the balance is now; the same key with
        another request raises 422 ``idempotency_key_reused``.
        """
        if idempotency is not None:
            with self.engine.connect() as c:
                prior = self._prior(c, info.id, idempotency)
                c.rollback()
            if prior is not None:
                return preview or not prior.preview
        if preview and info.free_calls_left > 0:
            return True
        with self.engine.connect() as c:
            bal = c.execute(select(api_keys.c.credits_milli).where(api_keys.c.id == info.id)).scalar()
            c.rollback()
        return bal is not None and bal >= to_milli(credits)

    @staticmethod
    def _prior(c: Connection, key_id: str, idem: Idempotency):  # type: ignore[no-untyped-def]
        """The live record of ``idem`` (None when there is none or it is older than the window); raises
        ``idempotency_key_reused`` when it was recorded for another request."""
        row = c.execute(select(idempotency).where(idempotency.c.key_id == key_id,
                                                  idempotency.c.idem_key == idem.key)).first()
        if row is None or row.at_ms < _now_ms() - WINDOW_S * 1000:
            return None
        if row.digest != idem.digest:
            raise reused()
        return row

    def charge(self, key_id: str, credits: float, preview: bool, request_id: str | None = None,
               idempotency: Idempotency | None = None) -> Charge:
        """Charge one result atomically: a free call (previews, while any are left this month) or credits.

        With ``idempotency``, a repeat of a key charged within the window is not charged again
        (``Charge.replayed``, with the original charge); the record is written in the charge's transaction.
        Raises :class:`InsufficientCredits` when neither is available (nothing changes then).
        """
        try:
            return self._charge(key_id, credits, preview, request_id, idempotency)
        except IntegrityError:
            if idempotency is None:
                raise
            # the same key recorded at the same moment by another writer (the key's row lock makes this all
            # but impossible): that charge stands, and this one is its replay
            return self._charge(key_id, credits, preview, request_id, idempotency)
        finally:
            self._maybe_purge()

    def _charge(self, key_id: str, credits: float, preview: bool, request_id: str | None,
                idem: Idempotency | None) -> Charge:
        cost = to_milli(credits)
        now = _now_iso()
        with self._writer.begin() as c:
            row = c.execute(  # FOR UPDATE: concurrent charges of one key, on any server, wait here in turn
                select(api_keys.c.free_calls, api_keys.c.credits_milli, api_keys.c.revoked_at)
                .where(api_keys.c.id == key_id).with_for_update()
            ).first()
            if row is None:
                raise InsufficientCredits("unknown key")
            if idem is not None:
                prior = self._prior(c, key_id, idem)
                if prior is not None:
                    return Charge(from_milli(prior.credits_milli), prior.credits_milli == 0,
                                  from_milli(row.credits_milli), replayed=True)
            if preview:
                allowance = row.free_calls if row.free_calls is not None else self.default_free_calls
                month = _month()
                used = c.execute(
                    select(free_usage.c.used).where(free_usage.c.key_id == key_id, free_usage.c.month == month)
                ).scalar()
                if used is None:
                    if allowance > 0:
                        c.execute(insert(free_usage).values(key_id=key_id, month=month, used=1))
                        used_ok = True
                    else:
                        used_ok = False
                else:
                    r = c.execute(
                        update(free_usage)
                        .where(
                            free_usage.c.key_id == key_id,
                            free_usage.c.month == month,
                            free_usage.c.used < allowance,
                        )
                        .values(used=free_usage.c.used + 1)
                    )
                    used_ok = r.rowcount == 1
                if used_ok:
                    c.execute(
                        insert(ledger).values(
                            key_id=key_id, at=now, kind="free", delta_milli=0,
                            balance_milli=row.credits_milli, request_id=request_id,
                        )
                    )
                    self._remember(c, key_id, idem, 0, preview, request_id)
                    return Charge(0.0, True, from_milli(row.credits_milli))
            r = c.execute(
                update(api_keys)
                .where(api_keys.c.id == key_id, api_keys.c.credits_milli >= cost)
                .values(credits_milli=api_keys.c.credits_milli - cost)
            )
            if r.rowcount != 1:
                raise InsufficientCredits(f"balance {from_milli(row.credits_milli)} < {credits}")
            bal = c.execute(select(api_keys.c.credits_milli).where(api_keys.c.id == key_id)).scalar_one()
            c.execute(
                insert(ledger).values(
                    key_id=key_id, at=now, kind="charge", delta_milli=-cost, balance_milli=bal,
                    request_id=request_id,
                )
            )
            self._remember(c, key_id, idem, cost, preview, request_id)
        return Charge(from_milli(cost), False, from_milli(bal))

    @staticmethod
    def _remember(c: Connection, key_id: str, idem: Idempotency | None, cost: int, preview: bool,
                  request_id: str | None) -> None:
        """Record the charge of ``idem`` (in the charge's transaction); an expired record of the pair is
        replaced. The primary key (key_id, idem_key) refuses a second record of one pair."""
        if idem is None:
            return
        values = {"digest": idem.digest, "at_ms": _now_ms(), "credits_milli": cost, "preview": bool(preview),
                  "request_id": request_id}
        r = c.execute(update(idempotency).where(
            idempotency.c.key_id == key_id, idempotency.c.idem_key == idem.key,
            idempotency.c.at_ms < _now_ms() - WINDOW_S * 1000).values(**values))
        if r.rowcount != 1:
            c.execute(insert(idempotency).values(key_id=key_id, idem_key=idem.key, **values))

    def _maybe_purge(self, every_s: float = 600.0) -> None:
        """Delete idempotency records older than the window, at most once per ``every_s`` per process."""
        now = time.monotonic()
        if now - self._last_purge < every_s:
            return
        self._last_purge = now
        try:
            with self._writer.begin() as c:
                c.execute(idempotency.delete().where(idempotency.c.at_ms < _now_ms() - WINDOW_S * 1000))
        except Exception:  # noqa: BLE001 - housekeeping: the next one tries again
            self._last_purge = now - every_s / 2

    def idempotency_rows(self, key_id: str) -> list[dict[str, object]]:
        with self.engine.connect() as c:
            rows = c.execute(select(idempotency).where(idempotency.c.key_id == key_id)).fetchall()
            c.rollback()
        return [dict(r._mapping) for r in rows]

    def ledger_rows(self, key_id: str) -> list[dict[str, object]]:
        with self.engine.connect() as c:
            rows = c.execute(select(ledger).where(ledger.c.key_id == key_id).order_by(ledger.c.seq)).fetchall()
            c.rollback()
        return [dict(r._mapping) for r in rows]

    # ------------------------------------------------------------------ improve quota
    def take_improve_slot(self, key_id: str) -> int:
        """Count one /improve submission for today; raises :class:`ImproveLimit` past the daily quota."""
        day = _day()
        with self._writer.begin() as c:
            c.execute(select(api_keys.c.id).where(api_keys.c.id == key_id).with_for_update())  # one at a time
            used = c.execute(
                select(improve_usage.c.used).where(improve_usage.c.key_id == key_id, improve_usage.c.day == day)
            ).scalar()
            if used is None:
                if self.improve_per_day < 1:
                    raise ImproveLimit()
                c.execute(insert(improve_usage).values(key_id=key_id, day=day, used=1))
                return 1
            if used >= self.improve_per_day:
                raise ImproveLimit()
            c.execute(
                update(improve_usage).where(improve_usage.c.key_id == key_id, improve_usage.c.day == day)
                .values(used=improve_usage.c.used + 1)
            )
            return int(used) + 1

    def release_improve_slot(self, key_id: str) -> None:
        """Give a slot back when storing the submission failed."""
        with self._writer.begin() as c:
            c.execute(
                update(improve_usage)
                .where(improve_usage.c.key_id == key_id, improve_usage.c.day == _day(), improve_usage.c.used > 0)
                .values(used=improve_usage.c.used - 1)
            )

    # ------------------------------------------------------------------ operator (admin console, `openbg keys`)
    def set_limits(self, key_or_id: str, *, rate_limit: int | None | bool = False,
                   free_calls: int | None | bool = False) -> KeyInfo | None:
        """Change a key's rate limit and/or monthly free calls (``None``: back to the server default;
        ``False``: leave as is). Takes effect on the key's next request. None if there is no such key."""
        values: dict[str, int | None] = {}
        for name, v in (("rate_limit", rate_limit), ("free_calls", free_calls)):
            if v is False:
                continue
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
                raise ValueError(f"{name} must be an integer >= 0")
            values[name] = v  # type: ignore[assignment]
        with self._writer.begin() as c:
            row = self._find_row(c, key_or_id)
            if row is None:
                return None
            if values:
                c.execute(update(api_keys).where(api_keys.c.id == row.id).values(**values))
        return self.get(row.id)

    def ledger_daily(self, key_or_id: str, days: int = 30) -> list[dict[str, object]] | None:
        """Per UTC day over the last ``days`` days (oldest first, days without activity included):
        ``requests`` (paid + free results), ``free`` (free results), ``charged`` and ``granted`` credits,
        and ``balance`` at the day's end. None if there is no such key."""
        from datetime import timedelta

        with self.engine.connect() as c:
            row = self._find_row(c, key_or_id)
            if row is None:
                c.rollback()
                return None
            today = datetime.now(UTC).date()
            first = today - timedelta(days=max(1, days) - 1)
            day = func.substr(ledger.c.at, 1, 10)
            q = (select(day.label("day"), ledger.c.kind, func.count().label("n"),
                        func.sum(ledger.c.delta_milli).label("delta"), func.max(ledger.c.seq).label("last"))
                 .where(ledger.c.key_id == row.id, ledger.c.at >= first.isoformat())
                 .group_by(day, ledger.c.kind))
            agg = c.execute(q).fetchall()
            last_seq: dict[str, int] = {}
            for r in agg:
                last_seq[r.day] = max(last_seq.get(r.day, 0), int(r.last))
            bal_by_seq: dict[int, int] = {}
            if last_seq:
                for s, b in c.execute(select(ledger.c.seq, ledger.c.balance_milli)
                                      .where(ledger.c.seq.in_(list(last_seq.values())))):
                    bal_by_seq[int(s)] = int(b)
            before = c.execute(select(ledger.c.balance_milli).where(
                ledger.c.key_id == row.id, ledger.c.at < first.isoformat()).order_by(ledger.c.seq.desc()).limit(1)
            ).scalar()
            c.rollback()
        out: list[dict[str, object]] = []
        balance = int(before or 0)
        for i in range(max(1, days)):
            d = (first + timedelta(days=i)).isoformat()
            rows = [r for r in agg if r.day == d]
            charged = sum(-int(r.delta or 0) for r in rows if r.kind == "charge")
            granted = sum(int(r.delta or 0) for r in rows if r.kind == "grant")
            paid = sum(int(r.n) for r in rows if r.kind == "charge")
            free = sum(int(r.n) for r in rows if r.kind == "free")
            if d in last_seq:
                balance = bal_by_seq.get(last_seq[d], balance)
            out.append({"day": d, "requests": paid + free, "free": free, "charged": from_milli(charged),
                        "granted": from_milli(granted), "balance": from_milli(balance)})
        return out
