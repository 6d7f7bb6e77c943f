"""``openbg serve`` and ``openbg keys ...`` (click). Also runnable as ``python -m openbg_emulator.server_cli``."""

from __future__ import annotations

import logging
import sys

import click

from openbg_emulator.settings import Settings


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ValueError as e:
        raise click.UsageError(str(e)) from None


def _accounts(settings: Settings):  # type: ignore[no-untyped-def]
    """Open the state database, or stop with one line that says what to do (no traceback)."""
    from sqlalchemy.exc import SQLAlchemyError

    from openbg_emulator.app import open_accounts
    from openbg_emulator.migrations import SchemaError

    try:
        accounts = open_accounts(settings)
        accounts.count_keys()
    except SchemaError as e:
        raise click.ClickException(str(e)) from None
    except (OSError, SQLAlchemyError) as e:
        first = (str(e).splitlines() or [""])[0]
        if settings.database_url:
            raise click.ClickException(
                f"cannot open the database {_safe(settings.database_url)} ({type(e).__name__}: {first}); "
                "check that it runs and that OPENBG_DATABASE_URL is right"
            ) from None
        raise click.ClickException(
            f"cannot open the state in {settings.resolved_state_dir} ({type(e).__name__}: {first}); "
            "make it a writable directory or set OPENBG_STATE_DIR"
        ) from None
    return accounts


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(0, 65535), help="TCP port.")
@click.option("--workers", type=click.IntRange(1, 256), default=None,
              help="Engine worker threads (default OPENBG_WORKERS, 2).")
@click.option("--queue", type=click.IntRange(0, 100000), default=None,
              help="Requests that may wait for a worker before 503 server_busy (default OPENBG_QUEUE, 16).")
@click.option("--test-controls", is_flag=True, default=False,
              help="Honour the X-Openbg-* emulation-control headers (also OPENBG_TEST_CONTROLS=1).")
@click.option("--header-timeout", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Seconds a client has to send a request's head before 408 (default OPENBG_HEADER_TIMEOUT, 10).")
@click.option("--body-timeout", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Seconds a client has to send a request's body, plus 1 s per KiB received, before 408 "
                   "(default OPENBG_BODY_TIMEOUT, 20).")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]))
def serve(host: str, port: int, workers: int | None, queue: int | None, test_controls: bool,
          header_timeout: float | None, body_timeout: float | None, log_level: str) -> None:
    """Serve the remove.bg API v1.0 emulator (one process; state in SQLite under OPENBG_STATE_DIR)."""
    import uvicorn

    from openbg_emulator.app import create_app
    from openbg_emulator.httpproto import protocol_class

    settings = _settings()
    changes: dict[str, object] = {}
    if workers is not None:
        changes["workers"] = workers
    if queue is not None:
        changes["queue"] = queue
    if test_controls:
        changes["test_controls"] = True
    if header_timeout is not None:
        changes["header_timeout_s"] = header_timeout
    if body_timeout is not None:
        changes["body_timeout_s"] = body_timeout
    if changes:
        settings = settings.with_(**changes)
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    accounts = _accounts(settings)
    first = accounts.create_first_key("default", credits=100)  # once per database, however many servers start
    if first is not None:
        key, info = first
        click.echo(
            "openbg: first start — created API key 'default' "
            f"(id {info.id}, 100 credits, {info.free_calls} free calls a month).\n"
            "openbg: it is shown only this once; keep it (list keys with `openbg keys list`):\n"
            f"\n    {key}\n"
        )
    click.echo(f"openbg: state in {settings.resolved_state_dir}; "
               f"test controls {'ON' if settings.test_controls else 'off'}; "
               f"API at http://{host}:{port}/v1.0", err=True)
    sys.stdout.flush()
    app = create_app(settings, accounts)
    if settings.metrics.isdigit():
        from openbg_emulator.metrics import start_separate

        start_separate(int(settings.metrics), host)
        click.echo(f"openbg: metrics at http://{host}:{settings.metrics}/metrics", err=True)
    # h11 with read deadlines and remove.bg-shaped errors for requests uvicorn rejects (httpproto.py)
    # access_log=False: openbg.access (metrics.py) writes one line per request, with its size tier and request id
    uvicorn.run(app, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=60, access_log=False,
                server_header=False, proxy_headers=False,
                http=protocol_class(settings.header_timeout_s, settings.body_timeout_s))


@click.group()
def keys() -> None:
    """Manage the emulator's API keys (stored hashed in OPENBG_STATE_DIR)."""


@keys.command("create")
@click.option("--name", required=True, help="A label for the key.")
@click.option("--credits", "credits_", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Initial credit balance.")
@click.option("--free-calls", type=click.IntRange(min=0), default=None,
              help="Free preview calls per month (default OPENBG_FREE_CALLS, 50).")
@click.option("--rate-limit", type=click.IntRange(min=0), default=None,
              help="Megapixel images per window (default OPENBG_RATE_LIMIT, 500).")
def keys_create(name: str, credits_: float, free_calls: int | None, rate_limit: int | None) -> None:
    """Create a key and print it (the last line of stdout is the key alone; it is not stored)."""
    acc = _accounts(_settings())
    key, info = acc.create_key(name, credits=credits_, free_calls=free_calls, rate_limit=rate_limit)
    click.echo(f"created key {info.id} '{info.name}': {info.credits:g} credits, "
               f"{info.free_calls} free calls/month, rate limit {info.rate_limit}")
    click.echo(key)


@keys.command("list")
def keys_list() -> None:
    """List keys (no secrets: id, name, the key's first characters, balance, limits)."""
    acc = _accounts(_settings())
    rows = acc.list_keys()
    click.echo(f"{'ID':<14} {'NAME':<20} {'KEY':<12} {'CREDITS':>10} {'FREE':>9} {'RATE':>6}  {'CREATED':<25} STATUS")
    for k in rows:
        click.echo(f"{k.id:<14} {k.name[:20]:<20} {k.key_hint + '…':<12} {k.credits:>10g} "
                   f"{f'{k.free_calls_left}/{k.free_calls}':>9} {k.rate_limit:>6}  {k.created_at:<25} "
                   f"{'revoked' if k.revoked else 'active'}")


@keys.command("revoke")
@click.argument("key_or_id")
def keys_revoke(key_or_id: str) -> None:
    """Revoke a key (by key or id); takes effect on the next request."""
    acc = _accounts(_settings())
    info = acc.revoke(key_or_id)
    if info is None:
        raise click.ClickException("no such key")
    click.echo(f"revoked {info.id} '{info.name}'")


@keys.command("credit")
@click.argument("key_or_id")
@click.argument("amount", type=float)
def keys_credit(key_or_id: str, amount: float) -> None:
    """Add AMOUNT credits (negative to remove) to a key, with a ledger row."""
    acc = _accounts(_settings())
    try:
        info = acc.credit(key_or_id, amount)
    except ValueError as e:
        raise click.ClickException(str(e)) from None
    if info is None:
        raise click.ClickException("no such key")
    click.echo(f"{info.id} '{info.name}': balance {info.credits:g} credits")


def _limit(value: str | None, name: str) -> int | None | bool:
    """--rate-limit / --free-calls: an integer >= 0, "default" (the server's setting), or absent (False)."""
    if value is None:
        return False
    if value.strip().lower() == "default":
        return None
    try:
        n = int(value)
    except ValueError:
        raise click.BadParameter(f"{value!r}: expected an integer >= 0 or 'default'", param_hint=name) from None
    if n < 0:
        raise click.BadParameter(f"{value!r}: expected an integer >= 0 or 'default'", param_hint=name)
    return n


@keys.command("limits")
@click.argument("key_or_id")
@click.option("--rate-limit", default=None, metavar="N|default",
              help="Megapixel images per window ('default': OPENBG_RATE_LIMIT).")
@click.option("--free-calls", default=None, metavar="N|default",
              help="Free preview calls per month ('default': OPENBG_FREE_CALLS).")
def keys_limits(key_or_id: str, rate_limit: str | None, free_calls: str | None) -> None:
    """Change a key's rate limit and/or free calls (takes effect on its next request)."""
    rl, fc = _limit(rate_limit, "--rate-limit"), _limit(free_calls, "--free-calls")
    if rl is False and fc is False:
        raise click.UsageError("give --rate-limit and/or --free-calls")
    info = _accounts(_settings()).set_limits(key_or_id, rate_limit=rl, free_calls=fc)
    if info is None:
        raise click.ClickException("no such key")
    click.echo(f"{info.id} '{info.name}': rate limit {info.rate_limit}, {info.free_calls} free calls/month "
               f"({info.free_calls_left} left)")


@keys.command("ledger")
@click.argument("key_or_id")
@click.option("--days", type=click.IntRange(1, 366), default=30, show_default=True, help="Days to show.")
def keys_ledger(key_or_id: str, days: int) -> None:
    """A key's requests and credits per UTC day (the admin console's chart, as a table)."""
    daily = _accounts(_settings()).ledger_daily(key_or_id, days)
    if daily is None:
        raise click.ClickException("no such key")
    click.echo(f"{'DAY':<10} {'REQUESTS':>8} {'FREE':>6} {'CHARGED':>9} {'GRANTED':>9} {'BALANCE':>10}")
    for d in daily:
        click.echo(f"{d['day']:<10} {d['requests']:>8} {d['free']:>6} {d['charged']:>9g} {d['granted']:>9g} "
                   f"{d['balance']:>10g}")


@click.group()
def admin() -> None:
    """The admin console (/admin) of `openbg serve`."""


@admin.command("token")
@click.option("--new", "new", is_flag=True, help="Replace the stored token (logs nobody out until restart).")
def admin_token(new: bool) -> None:
    """Print the admin token stored in OPENBG_STATE_DIR, creating it if absent (OPENBG_ADMIN_TOKEN overrides it)."""
    from openbg_emulator.admin import ensure_token, token_path

    settings = _settings()
    if settings.admin_token and not new:
        click.echo("openbg: OPENBG_ADMIN_TOKEN is set; the server uses it (not the stored token)", err=True)
    try:
        token, created = ensure_token(settings, new=new)
    except OSError as e:
        raise click.ClickException(f"cannot write {token_path(settings)}: {e.strerror or e}") from None
    if created:
        click.echo(f"openbg: admin token written to {token_path(settings)} (mode 600)", err=True)
    click.echo(token)


@click.group()
def db() -> None:
    """The accounts database schema (OPENBG_DATABASE_URL, else SQLite in OPENBG_STATE_DIR)."""


def _db_url() -> str:
    settings = _settings()
    if not settings.database_url:
        settings.resolved_state_dir.mkdir(parents=True, exist_ok=True)
    return settings.resolved_database_url


def _safe(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@db.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the schema to this openbg's revision (safe to run again; servers may stay up)."""
    from sqlalchemy.exc import SQLAlchemyError

    from openbg_emulator.migrations import SchemaError, upgrade

    url = _db_url()
    try:
        before, after = upgrade(url)
    except (SchemaError, OSError, SQLAlchemyError) as e:
        raise click.ClickException(f"{_safe(url)}: {(str(e).splitlines() or [type(e).__name__])[0]}") from None
    if before == after:
        click.echo(f"{_safe(url)}: schema already at revision {after}")
    else:
        click.echo(f"{_safe(url)}: schema {before or 'empty'} -> {after}")


@db.command("current")
def db_current() -> None:
    """Print the schema revision of the database and the one this openbg needs."""
    from sqlalchemy import create_engine
    from sqlalchemy.exc import SQLAlchemyError

    from openbg_emulator.migrations import HEAD, revision

    url = _db_url()
    engine = create_engine(url)
    try:
        with engine.connect() as c:
            rev = revision(c)
    except (OSError, SQLAlchemyError) as e:
        raise click.ClickException(f"{_safe(url)}: {(str(e).splitlines() or [type(e).__name__])[0]}") from None
    finally:
        engine.dispose()
    click.echo(f"{_safe(url)}: revision {rev or 'empty'} (this openbg needs {HEAD})")


@click.group()
def _main() -> None:
    """Emulator server commands."""


_main.add_command(serve)
_main.add_command(keys)
_main.add_command(admin)
_main.add_command(db)

if __name__ == "__main__":
    _main()
