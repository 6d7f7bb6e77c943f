"""Schema migrations of the accounts database (Alembic), for SQLite and PostgreSQL.

* ``openbg db upgrade`` (:func:`upgrade`) brings a database to :data:`HEAD`: it creates the schema in an
  empty database, records a database made before migrations existed as revision ``0001`` and applies the
  revisions after it. On PostgreSQL it holds an advisory lock, so two upgrades at once run one after the other.
* A server checks the revision when it opens the database (:func:`check`) and refuses to start on an older
  or a newer schema with a message that says what to run. The one exception: an **empty SQLite** database
  (the default state, a fresh ``OPENBG_STATE_DIR``) is created at :data:`HEAD` at once, so that
  ``make serve`` needs no extra step. An existing database is never migrated without ``openbg db upgrade``,
  and an empty PostgreSQL database is not created by a server either (run the upgrade once, from one place).

The revisions live in ``versions/`` beside this file (a package, so an installed wheel carries them).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Column, MetaData, String, Table, create_engine, inspect, select, text
from sqlalchemy.engine import Connection, Engine

HEAD = "0003"
REVISIONS = ("0001", "0002", "0003")  # oldest first; a revision not here is newer than this openbg
LOCK_ID = 0x6F62_6700  # PostgreSQL advisory lock held while upgrading ("obg\0")

_version_meta = MetaData()
alembic_version = Table(
    "alembic_version", _version_meta,
    Column("version_num", String(32), primary_key=True, nullable=False),
)


class SchemaError(Exception):
    """The database is not at the schema this openbg needs; the message says what to run."""


def _where(url: str) -> str:
    return "the SQLite database" if url.startswith("sqlite") else "the database"


def revision(conn: Connection) -> str | None:
    """The recorded revision, "legacy" for tables made before migrations, None for an empty database."""
    names = set(inspect(conn).get_table_names())
    if "alembic_version" in names:
        rev = conn.execute(select(alembic_version.c.version_num)).scalar()
        return str(rev) if rev is not None else ("legacy" if names - {"alembic_version"} else None)
    return "legacy" if "api_keys" in names else None


def check(engine: Engine, writer: Engine, *, auto_create: bool) -> None:
    """Raise :class:`SchemaError` unless the database is at :data:`HEAD` (see the module docstring)."""
    url = engine.url.render_as_string(hide_password=True)
    with engine.connect() as c:
        rev = revision(c)
        c.rollback()
    if rev == HEAD:
        return
    if rev is None and auto_create:
        with writer.begin() as c:  # SQLite: BEGIN IMMEDIATE, so two processes starting at once create it once
            if revision(c) is None:
                from openbg_emulator.accounts import metadata

                metadata.create_all(c)
                _version_meta.create_all(c)
                c.execute(alembic_version.insert().values(version_num=HEAD))
        return
    run = "run `openbg db upgrade` (with the same OPENBG_DATABASE_URL or OPENBG_STATE_DIR), then start again"
    if rev is None:
        raise SchemaError(f"{_where(url)} {url} is empty: {run}")
    if rev == "legacy":
        raise SchemaError(f"{_where(url)} {url} was made before schema migrations (this openbg needs revision "
                          f"{HEAD}): {run}")
    if rev in REVISIONS:
        raise SchemaError(f"{_where(url)} {url} is at schema revision {rev}, this openbg needs {HEAD}: {run}")
    raise SchemaError(f"{_where(url)} {url} is at schema revision {rev}, newer than this openbg knows "
                      f"(it needs {HEAD}): upgrade openbg on this machine, or point it at another database")


def _config(conn: Connection):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).resolve().parent))
    cfg.attributes["connection"] = conn
    return cfg


def head() -> str:
    """The head revision according to the Alembic scripts (tests compare it with :data:`HEAD`)."""
    from alembic.script import ScriptDirectory

    cfg = _config(None)  # type: ignore[arg-type]
    return str(ScriptDirectory.from_config(cfg).get_current_head())


def upgrade(database_url: str) -> tuple[str | None, str]:
    """Bring the database to :data:`HEAD`; returns (revision before, revision after)."""
    from alembic import command

    if database_url.startswith("sqlite"):
        path = database_url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": LOCK_ID})
            before = revision(conn)
            if before not in (None, "legacy", *REVISIONS):
                raise SchemaError(f"the database is at schema revision {before}, newer than this openbg "
                                  f"knows ({HEAD}); nothing was changed")
            cfg = _config(conn)
            if before == "legacy":
                command.stamp(cfg, "0001")
            command.upgrade(cfg, "head")
            after = revision(conn)
    finally:
        engine.dispose()
    return before, str(after)
