"""Schema migrations (issue 19): ``openbg db upgrade`` on SQLite and PostgreSQL, and servers that refuse a
database at another revision with a message that says what to run. Real CLI processes, real databases."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from openbg_emulator import migrations
from openbg_emulator.accounts import Accounts, metadata
from sqlalchemy import create_engine, text

from tests.scale.scale_cluster import REPO, Deployment, server_env


def cli(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "openbg_emulator.server_cli", *args], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=timeout, check=False)


def sqlite_env(state: Path) -> dict[str, str]:
    env = server_env(state, "")
    env.pop("OPENBG_DATABASE_URL")
    return env


def make_legacy(db: Path) -> None:
    """A database as openbg made it before migrations: the four tables, no alembic_version, one key."""
    engine = create_engine(f"sqlite:///{db}")
    with engine.begin() as c:
        metadata.create_all(c, tables=[t for t in metadata.sorted_tables
                                       if t.name not in ("rate_windows", "idempotency", "openbg_meta")])
        c.execute(text("INSERT INTO api_keys (id, name, key_hash, key_hint, credits_milli, created_at) "
                       "VALUES ('k_old', 'old', 'x', 'obg_', 7000, '2026-01-01')"))
    engine.dispose()


def test_head_matches_the_scripts() -> None:
    assert migrations.head() == migrations.HEAD == migrations.REVISIONS[-1]


def test_fresh_sqlite_is_created_at_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    Accounts(url).close()
    a = Accounts(url)  # opens again without a step
    with a.engine.connect() as c:
        assert migrations.revision(c) == migrations.HEAD
        assert compare_metadata(MigrationContext.configure(c), metadata) == []
    a.close()


def test_upgraded_sqlite_equals_the_models(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'b.db'}"
    assert migrations.upgrade(url) == (None, migrations.HEAD)
    engine = create_engine(url)
    with engine.connect() as c:
        assert compare_metadata(MigrationContext.configure(c), metadata) == []
    engine.dispose()


def test_legacy_sqlite_is_refused_then_upgraded_by_the_command(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    make_legacy(state / "openbg.db")
    env = sqlite_env(state)
    r = cli(env, "serve", "--port", "0")
    assert r.returncode != 0
    assert "openbg db upgrade" in r.stderr and "before schema migrations" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    r = cli(env, "keys", "list")
    assert r.returncode != 0 and "openbg db upgrade" in r.stderr
    r = cli(env, "db", "upgrade")
    assert r.returncode == 0, r.stderr
    assert f"schema legacy -> {migrations.HEAD}" in r.stdout
    r = cli(env, "db", "upgrade")
    assert f"already at revision {migrations.HEAD}" in r.stdout
    r = cli(env, "keys", "list")
    assert r.returncode == 0 and "k_old" in r.stdout and " 7 " in r.stdout, r.stdout  # the data is kept


def test_older_and_newer_revisions_are_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    migrations.upgrade(url)
    engine = create_engine(url)
    with engine.begin() as c:
        for table in ("rate_windows", "idempotency", "openbg_meta"):
            c.execute(text(f"DROP TABLE {table}"))
        c.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    with pytest.raises(migrations.SchemaError,
                       match=rf"revision 0001, this openbg needs {migrations.HEAD}: run `openbg db upgrade`"):
        Accounts(url)
    assert migrations.upgrade(url) == ("0001", migrations.HEAD)
    Accounts(url).close()
    with engine.begin() as c:
        c.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(migrations.SchemaError, match="newer than this openbg"):
        Accounts(url)
    with pytest.raises(migrations.SchemaError, match="nothing was changed"):
        migrations.upgrade(url)


def test_postgres_empty_refused_then_upgraded_concurrently(deployment: Deployment) -> None:
    deployment.pg.psql("CREATE DATABASE fresh")
    url = deployment.pg.url.rsplit("/", 1)[0] + "/fresh"
    env = server_env(deployment.root / "fresh-state", url)
    r = cli(env, "serve", "--port", "0")
    assert r.returncode != 0 and "is empty: run `openbg db upgrade`" in r.stderr, r.stderr
    with ThreadPoolExecutor(3) as ex:  # three upgrades at once: the advisory lock runs them in turn
        outs = list(ex.map(lambda _i: cli(env, "db", "upgrade"), range(3)))
    assert all(o.returncode == 0 for o in outs), [o.stderr for o in outs]
    assert sum(f"schema empty -> {migrations.HEAD}" in o.stdout for o in outs) == 1
    r = cli(env, "db", "current")
    assert f"revision {migrations.HEAD}" in r.stdout and "password" not in r.stdout
    engine = create_engine(url)
    with engine.connect() as c:
        diffs = compare_metadata(MigrationContext.configure(c), metadata)
    engine.dispose()
    # improve_usage's UNIQUE(key_id, day) repeats its primary key; on PostgreSQL only the primary key is made
    redundant = [d for d in diffs if d[0] == "add_constraint" and d[1].table.name == "improve_usage"
                 and {col.name for col in d[1].columns} == {"key_id", "day"}]
    assert [d for d in diffs if d not in redundant] == []
