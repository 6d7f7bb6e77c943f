"""The ``openbg`` command line.

The wrapper's commands are ``remove`` (over HTTP, or ``--local`` with the
emulator's engine), ``account`` and ``zip2png``; the emulator's commands
(``models``, ``eval``, ``sheet``, ``serve``, ``keys``, ``db``) are attached when the
``openbg[emulator]`` extra is installed.
"""

from __future__ import annotations

import asyncio
import glob
import importlib
import inspect
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from .client import DEFAULT_BASE_URL, AsyncRemoveBg, RemoveBg
from .errors import RemoveBgError
from .zipcompose import zip2png as _zip2png

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
OUTPUT_SUFFIXES = {".png": "png", ".jpg": "jpg", ".jpeg": "jpg", ".webp": "webp", ".zip": "zip"}


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="openbg")
def main() -> None:
    """openbg — remove.bg API client, and a self-hosted emulator with real background removal."""


# ---------------------------------------------------------------------------------------------
# Inputs and outputs


@dataclass(frozen=True)
class Job:
    """One image to process: where it comes from, where it goes, in which format."""

    source: Path
    target: Path
    format: str  # what to ask for: png (via ZIP), jpg, webp, zip


def expand_inputs(inputs: Sequence[str]) -> list[Path]:
    """Files, folders (their images, not recursive) and globs (``**`` recursive) → image files."""
    found: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found.extend(sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES))
        elif path.is_file():
            found.append(path)
        elif glob.has_magic(item):
            matches = sorted(Path(m) for m in glob.glob(item, recursive=True))
            files = [m for m in matches if m.is_file() and m.suffix.lower() in IMAGE_SUFFIXES]
            if not files:
                raise click.UsageError(f"no images match {item!r}")
            found.extend(files)
        else:
            raise click.UsageError(f"no such file or folder: {item}")
    unique: dict[Path, None] = {}
    for p in found:
        unique.setdefault(p.resolve(), None)
    return list(unique)


def plan_jobs(sources: list[Path], output: Path, fmt: str) -> list[Job]:
    """Map inputs to outputs: ``output`` is a file for one input with an image suffix, else a folder."""
    if not sources:
        raise click.UsageError("no input images")
    suffix = output.suffix.lower()
    if len(sources) == 1 and suffix in OUTPUT_SUFFIXES and not output.is_dir():
        want = OUTPUT_SUFFIXES[suffix]
        if fmt not in ("auto", want):
            raise click.UsageError(f"--format {fmt} does not match the output file {output.name}")
        return [Job(sources[0], output, want)]
    if output.exists() and not output.is_dir():
        raise click.UsageError(f"{output} is a file; with several inputs -o must be a folder")
    ext = {"auto": "png", "png": "png", "jpg": "jpg", "webp": "webp", "zip": "zip"}[fmt]
    jobs: list[Job] = []
    used: set[str] = set()
    for src in sources:
        name = f"{src.stem}.{ext}"
        n = 1
        while name.lower() in used:  # two inputs with the same stem
            name = f"{src.stem}-{n}.{ext}"
            n += 1
        used.add(name.lower())
        jobs.append(Job(src, output / name, ext))
    return jobs


def _write_atomic(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.part")
    tmp.write_bytes(data)
    os.replace(tmp, target)


# ---------------------------------------------------------------------------------------------
# openbg remove

FORMATS = ["auto", "png", "jpg", "zip", "webp"]
SIZES = ["preview", "small", "regular", "medium", "hd", "full", "4k", "50MP", "auto"]
TYPES = ["auto", "person", "product", "car", "animal", "graphic", "transportation"]
SHADOWS = ["car", "3D", "drop", "none", "auto"]


def _parse_per_type(values: tuple[str, ...], what: str) -> str | dict[str, str] | None:
    """``--shadow-type drop`` or repeated ``--shadow-type car=car``."""
    if not values:
        return None
    if len(values) == 1 and "=" not in values[0]:
        return values[0]
    out: dict[str, str] = {}
    for v in values:
        kind, sep, val = v.partition("=")
        if not sep:
            raise click.BadParameter(f"use VALUE or TYPE=VALUE (repeatable), got {v!r}", param_hint=what)
        out[kind.strip()] = val.strip()
    return out


def _remote_options(opts: dict[str, Any]) -> dict[str, Any]:
    """Command-line options → ``remove_background`` keyword arguments (without format)."""
    kw: dict[str, Any] = {
        "size": opts["size"], "type": opts["type"], "type_level": opts["type_level"], "roi": opts["roi"],
        "crop": opts["crop"], "crop_margin": opts["crop_margin"], "scale": opts["scale"],
        "position": opts["position"], "channels": opts["channels"], "add_shadow": opts["add_shadow"],
        "semitransparency": opts["semitransparency"], "bg_color": opts["bg_color"], "quality": opts["quality"],
    }
    shadow_type = _parse_per_type(opts["shadow_type"], "--shadow-type")
    if shadow_type is not None:
        kw["shadow_type"] = shadow_type
    shadow_opacity = _parse_per_type(opts["shadow_opacity"], "--shadow-opacity")
    if isinstance(shadow_opacity, str):
        kw["shadow_opacity"] = int(shadow_opacity) if shadow_opacity.isdigit() else shadow_opacity
    elif shadow_opacity is not None:
        kw["shadow_opacity"] = {k: int(v) if v.isdigit() else v for k, v in shadow_opacity.items()}
    if opts["bg_image"]:
        kw["bg_image"] = opts["bg_image"] if opts["bg_image"].startswith(("http://", "https://")) else Path(
            opts["bg_image"]
        )
    return kw


async def _run_remote(
    jobs: list[Job], kw: dict[str, Any], *, api_key: str | None, base_url: str, parallel: int,
    retries: int, timeout: float, quiet: bool,
) -> list[tuple[Job, str]]:
    failures: list[tuple[Job, str]] = []
    sem = asyncio.Semaphore(parallel)
    progress = _progress(quiet)
    async with AsyncRemoveBg(api_key, base_url, retries=retries, timeout=timeout) as client:

        async def one(job: Job, task: Any) -> None:
            async with sem:
                try:
                    as_png = job.format == "png" and kw["channels"] != "alpha"
                    result = await client.remove_background(
                        job.source, format="png" if job.format == "png" else job.format,  # type: ignore[arg-type]
                        prefer_zip=as_png, **kw,
                    )
                    await asyncio.to_thread(_write_atomic, job.target, result.content)
                except (RemoveBgError, OSError, ValueError) as exc:
                    failures.append((job, str(exc)))
                finally:
                    progress.advance(task)

        with progress:
            task = progress.add_task("removing backgrounds", total=len(jobs))
            await asyncio.gather(*(one(j, task) for j in jobs))
    return failures


def _progress(quiet: bool) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), disable=quiet, transient=False,
    )


def _local_engine(opts: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The emulator's ``remove_local`` and the keyword arguments it accepts from ``opts``."""
    try:
        engine_cli = importlib.import_module("openbg_emulator.cli")
    except ImportError as exc:
        raise click.ClickException(
            f"--local needs the emulator: pip install 'openbg[emulator]' ({exc})"
        ) from exc
    remove_local = getattr(engine_cli, "remove_local", None)
    if not callable(remove_local):
        raise click.ClickException("--local: this openbg_emulator has no remove_local()")
    kw = _remote_options(opts)
    if isinstance(kw.get("bg_image"), Path):
        kw["bg_image"] = kw["bg_image"].read_bytes()
    params = inspect.signature(remove_local).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    return remove_local, {k: v for k, v in kw.items() if takes_any or k in params}


def _run_local(jobs: list[Job], opts: dict[str, Any], *, quiet: bool) -> list[tuple[Job, str]]:
    remove_local, call = _local_engine(opts)
    failures: list[tuple[Job, str]] = []
    with _progress(quiet or len(jobs) < 2) as progress:
        task = progress.add_task("removing backgrounds", total=len(jobs))
        for job in jobs:
            try:
                out = remove_local(job.source, job.target, format=job.format, **call)
                if isinstance(out, (bytes, bytearray)):
                    _write_atomic(job.target, bytes(out))
            except Exception as exc:  # noqa: BLE001 — the engine's ApiError and I/O errors are reported per file
                failures.append((job, str(exc)))
            finally:
                progress.advance(task)
    return failures


def _run_local_stdio(output: Path, fmt: str, opts: dict[str, Any]) -> None:
    """``openbg remove --local - -o OUT``: the image from stdin; ``-o -`` writes the result to stdout."""
    remove_local, call = _local_engine(opts)
    try:
        remove_local("-", "-" if str(output) == "-" else output, format=fmt, **call)
    except Exception as exc:  # noqa: BLE001 — one line naming the failure, exit 1
        click.echo(f"FAILED -: {exc}", err=True)
        sys.exit(1)


@main.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="Output folder (created), or an output file for a single input.")
@click.option("--local", is_flag=True, help="Run the emulator's engine in this process instead of calling an API.")
@click.option("--api-key", envvar="REMOVE_BG_API_KEY", help="API key [env REMOVE_BG_API_KEY].")
@click.option("--base-url", envvar="OPENBG_BASE_URL", default=DEFAULT_BASE_URL, show_default=True,
              help="API root [env OPENBG_BASE_URL].")
@click.option("--size", type=click.Choice(SIZES, case_sensitive=False), default="preview", show_default=True)
@click.option("--type", "type_", type=click.Choice(TYPES), default="auto", show_default=True)
@click.option("--type-level", type=click.Choice(["none", "1", "2", "latest"]), default="1", show_default=True)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="auto", show_default=True,
              help="auto/png outputs are PNG, fetched as ZIP and composed locally.")
@click.option("--roi", help='Region of interest "x1 y1 x2 y2" (px or %).')
@click.option("--crop/--no-crop", default=False, show_default=True)
@click.option("--crop-margin", help='e.g. "10px" or "5% 10%".')
@click.option("--scale", help='"10%".."100%" or original.')
@click.option("--position", help='original, center or "X% Y%".')
@click.option("--channels", type=click.Choice(["rgba", "alpha"]), default="rgba", show_default=True)
@click.option("--add-shadow", is_flag=True, help="Deprecated remove.bg flag (car shadow).")
@click.option("--shadow-type", multiple=True, help=f"One of {', '.join(SHADOWS)}, or TYPE=KIND (repeatable).")
@click.option("--shadow-opacity", multiple=True, help="0-100 or auto, or TYPE=N (repeatable).")
@click.option("--semitransparency/--no-semitransparency", default=True, show_default=True)
@click.option("--bg-color", help='Hex ("81d4fa", "81d4fa77") or a colour name.')
@click.option("--bg-image", help="Background image: a file or an http(s) URL.")
@click.option("--quality", type=click.Choice(["fast", "balanced", "best"]), help="Emulator extension.")
@click.option("--reprocess-existing", is_flag=True, help="Process inputs whose output already exists.")
@click.option("--parallel", default=5, show_default=True, type=click.IntRange(1, 64), help="Uploads at a time.")
@click.option("--retries", default=4, show_default=True, type=click.IntRange(0, 20))
@click.option("--timeout", default=60.0, show_default=True, type=float, help="HTTP timeout in seconds.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@click.option("-v", "--verbose", is_flag=True, help="Log every retry.")
def remove(inputs: tuple[str, ...], output: Path, local: bool, api_key: str | None, base_url: str,
           type_: str, fmt: str, reprocess_existing: bool, parallel: int, retries: int, timeout: float,
           quiet: bool, verbose: bool, **opts: Any) -> None:
    """Remove the background of INPUT... (files, folders, globs) into OUTPUT."""
    if verbose:
        import logging

        logging.basicConfig(format="%(message)s")
        logging.getLogger("openbg").setLevel(logging.DEBUG)
    opts["type"] = type_
    if "-" in inputs:
        if not local or len(inputs) != 1:
            raise click.UsageError("'-' (stdin) is one input on its own, with --local")
        _run_local_stdio(output, fmt, opts)
        return
    jobs = plan_jobs(expand_inputs(inputs), output, fmt)
    todo = [j for j in jobs if reprocess_existing or not j.target.exists()]
    skipped = len(jobs) - len(todo)
    if skipped:
        click.echo(f"skipping {skipped} existing output(s) (use --reprocess-existing)", err=True)
    if not todo:
        return
    if local:
        failures = _run_local(todo, opts, quiet=quiet or not sys.stderr.isatty())
    else:
        if not api_key:
            raise click.UsageError("no API key: pass --api-key or set REMOVE_BG_API_KEY")
        failures = asyncio.run(_run_remote(
            todo, _remote_options(opts), api_key=api_key, base_url=base_url, parallel=parallel,
            retries=retries, timeout=timeout, quiet=quiet or not sys.stderr.isatty(),
        ))
    done = len(todo) - len(failures)
    click.echo(f"{done} done, {skipped} skipped, {len(failures)} failed", err=True)
    for job, message in failures:
        click.echo(f"FAILED {job.source}: {message}", err=True)
    if failures:
        sys.exit(1)


# ---------------------------------------------------------------------------------------------
# openbg account, openbg zip2png


@main.command()
@click.option("--api-key", envvar="REMOVE_BG_API_KEY", help="API key [env REMOVE_BG_API_KEY].")
@click.option("--base-url", envvar="OPENBG_BASE_URL", default=DEFAULT_BASE_URL, show_default=True,
              help="API root [env OPENBG_BASE_URL].")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def account(api_key: str | None, base_url: str, as_json: bool) -> None:
    """Show the credit balance and free calls of the API key."""
    if not api_key:
        raise click.UsageError("no API key: pass --api-key or set REMOVE_BG_API_KEY")
    try:
        with RemoveBg(api_key, base_url) as client:
            acc = client.account()
    except RemoveBgError as exc:
        raise click.ClickException(str(exc)) from exc
    c = acc.credits
    if as_json:
        click.echo(json.dumps({"credits": {"total": c.total, "subscription": c.subscription, "payg": c.payg,
                                           "enterprise": c.enterprise}, "free_calls": acc.free_calls}))
    else:
        click.echo(f"credits: {c.total:g} (subscription {c.subscription:g}, pay-as-you-go {c.payg:g}, "
                   f"enterprise {c.enterprise:g})")
        click.echo(f"free calls: {acc.free_calls}")


@main.command("zip2png")
@click.argument("zip_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("png_file", type=click.Path(dir_okay=False, path_type=Path))
def zip2png_command(zip_file: Path, png_file: Path) -> None:
    """Compose a remove.bg ZIP result (color.jpg + alpha.png) into an RGBA PNG."""
    try:
        data = _zip2png(zip_file.read_bytes())
    except RemoveBgError as exc:
        raise click.ClickException(str(exc)) from exc
    _write_atomic(png_file, data)


# ---------------------------------------------------------------------------------------------
# The emulator's commands


def _add_emulator_commands() -> None:
    for module, names in (("openbg_emulator.cli", ("models", "eval", "sheet")),
                          ("openbg_emulator.server_cli", ("serve", "keys", "db"))):
        try:
            mod = importlib.import_module(module)
        except ImportError:  # the emulator extra (or this module of it) is not installed
            continue
        for name in names:
            cmd = getattr(mod, name, None)
            if isinstance(cmd, click.Command):
                main.add_command(cmd, name)


_add_emulator_commands()
