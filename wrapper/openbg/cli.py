"""The ``openbg`` command line.

The wrapper's commands are ``remove`` (over HTTP, or ``--local`` with the
emulator's engine), ``account`` and ``zip2png``; the emulator's commands
(``models``, ``eval``, ``sheet``, ``serve``, ``keys``, ``db``) are attached when the
``openbg[emulator]`` extra is installed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import glob
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, cast, get_args
from urllib.parse import parse_qsl, urlsplit

import click

from . import options as _types
from ._retry import RetryEvent
from .client import DEFAULT_BASE_URL, AsyncRemoveBg, RemoveBg, check_key_matches_server
from .errors import AuthenticationError, PaymentRequiredError, RemoveBgError
from .options import Format, RemovalOptions
from .zipcompose import zip2png as _zip2png

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".jfif", ".png", ".webp")
OUTPUT_SUFFIXES: dict[str, Format] = {".png": "png", ".jpg": "jpg", ".jpeg": "jpg", ".webp": "webp", ".zip": "zip"}
#: The format asked for a requested one (``auto`` → PNG: a file's suffix must say what it holds).
_JOB_FORMATS: dict[str, Format] = {"auto": "png", "png": "png", "jpg": "jpg", "webp": "webp", "zip": "zip"}


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="openbg")
def main() -> None:
    """openbg — remove.bg API client, and a self-hosted emulator with real background removal."""


# ---------------------------------------------------------------------------------------------
# Inputs and outputs


@dataclass(frozen=True)
class Job:
    """One image to process: where it comes from (a file or an http(s) URL), where it goes, in which format."""

    source: Path | str
    target: Path
    format: Format  # what to ask for: png (via ZIP), jpg, webp, zip

    def options(self, options: RemovalOptions, *, remote: bool) -> RemovalOptions:
        """``options`` for this job: its format; over HTTP a PNG is fetched as a ZIP and composed here
        (smaller and faster, and not capped at 10 MP), unless only the matte is asked for."""
        as_zip = remote and self.format == "png" and options.channels != "alpha"
        return dataclasses.replace(options, format=self.format, prefer_zip=as_zip)

    @property
    def name(self) -> str:
        """The source's stem: the output's default name."""
        if isinstance(self.source, Path):
            return self.source.stem
        return url_stem(self.source)


def is_url(item: str) -> bool:
    return item.lower().startswith(("http://", "https://"))


def url_stem(url: str) -> str:
    """``https://host/a/cat.jpg?x=1`` → ``cat``; a URL without a file name → ``image``."""
    return PurePosixPath(urlsplit(url).path).stem or "image"


def expand_inputs(inputs: Sequence[str]) -> list[Path | str]:
    """Files, folders, globs and http(s) URLs → sources: the one input planner of both CLIs.

    A folder gives the files directly in it with an image suffix (:data:`IMAGE_SUFFIXES`, ``.jfif`` too,
    any case), not its subfolders: outputs are named by stem in one folder, so a recursive walk would only
    make ``x-1.png`` of same-named files in different folders. A glob recurses where it says ``**``.
    """
    found: list[Path | str] = []
    for item in inputs:
        path = Path(item)
        if is_url(item):
            found.append(item)
        elif path.is_dir():
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
    unique: dict[Path | str, None] = {}
    for p in found:
        unique.setdefault(p.resolve() if isinstance(p, Path) else p, None)
    return list(unique)


def plan_jobs(sources: Sequence[Path | str], output: Path, fmt: str) -> list[Job]:
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
    ext = _JOB_FORMATS[fmt]
    jobs: list[Job] = []
    used: set[str] = set()
    for src in sources:
        stem = src.stem if isinstance(src, Path) else url_stem(src)
        name = f"{stem}.{ext}"
        n = 1
        while name.lower() in used:  # two inputs with the same stem
            name = f"{stem}-{n}.{ext}"
            n += 1
        used.add(name.lower())
        jobs.append(Job(src, output / name, ext))
    return jobs


#: Output tiers that are previews whatever the image (0.25 credits; free calls pay for them).
_PREVIEW_SIZES = frozenset({"preview", "small", "regular"})
#: remove.bg's preview tier: outputs of at most this many pixels cost 0.25 credits.
_PREVIEW_PIXELS = 250_000


def estimate_credits(jobs: Sequence[Job], size: str) -> float:
    """The most credits a batch can cost: 0.25 for a preview-tier output, 1 for any other.

    A file's size is read from its header (nothing is decoded); a URL is counted as a full-size result.
    """
    if size in _PREVIEW_SIZES:
        return 0.25 * len(jobs)
    from PIL import Image

    total = 0.0
    for job in jobs:
        cost = 1.0
        if isinstance(job.source, Path):
            try:
                with Image.open(job.source) as im:
                    cost = 0.25 if im.width * im.height <= _PREVIEW_PIXELS else 1.0
            except (OSError, ValueError):
                pass  # the server says what is wrong with it
        total += cost
    return total


def parse_extra_options(values: Sequence[str]) -> dict[str, str]:
    """``--extra-api-options "a=1&b=2"`` (repeatable; each ``key=value`` pairs in query-string form)."""
    out: dict[str, str] = {}
    for value in values:
        pairs = parse_qsl(value, keep_blank_values=True, strict_parsing=False)
        if not pairs or any(not k for k, _ in pairs):
            raise click.BadParameter(f"use key=value[&key=value...], got {value!r}", param_hint="--extra-api-options")
        out.update(pairs)
    return out


def _write_atomic(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.part")
    tmp.write_bytes(data)
    os.replace(tmp, target)


# ---------------------------------------------------------------------------------------------
# openbg remove

# The choices come from the client's types, which come from openapi.yaml: a regenerated spec updates them.
FORMATS = list(get_args(_types.Format))
SIZES = list(get_args(_types.Size))
TYPES = list(get_args(_types.SubjectType))
TYPE_LEVELS = list(get_args(_types.TypeLevel))
CHANNELS = list(get_args(_types.Channels))
QUALITIES = list(get_args(_types.Quality))
SHADOWS = list(get_args(_types.ShadowType))
OPACITY_WORDS = [word for arg in get_args(_types.ShadowOpacity) for word in get_args(arg)]  # "auto"


def _one_of(value: str, choices: Sequence[str], what: str) -> str:
    """``value`` as spelled in ``choices`` (case-insensitive), else a usage error."""
    for choice in choices:
        if choice.lower() == value.strip().lower():
            return choice
    raise click.BadParameter(f"{value!r} is not one of {', '.join(choices)}", param_hint=what)


def _shadow_kind(value: str) -> str:
    return _one_of(value, SHADOWS, "--shadow-type")


def _opacity(value: str) -> int | str:
    return int(value) if value.strip().isdigit() else _one_of(value, OPACITY_WORDS, "--shadow-opacity")


def _parse_per_type(values: tuple[str, ...], what: str, convert: Callable[[str], Any]) -> Any:
    """``--shadow-type drop`` or repeated ``--shadow-type car=car``: one value, or ``{type: value}``."""
    if not values:
        return None
    if len(values) == 1 and "=" not in values[0]:
        return convert(values[0])
    out: dict[str, Any] = {}
    for v in values:
        kind, sep, val = v.partition("=")
        if not sep:
            raise click.BadParameter(f"use VALUE or TYPE=VALUE (repeatable), got {v!r}", param_hint=what)
        out[kind.strip()] = convert(val)
    return out


def removal_options(opts: dict[str, Any]) -> RemovalOptions:
    """The ``remove`` command's options as the one :class:`RemovalOptions` (each job sets its format).

    The options named like a field of :class:`RemovalOptions` are taken as they are (click has checked
    the choices, which come from the same types); the repeatable per-type shadows, the background image
    and the extra fields are converted first.
    """
    names = {f.name for f in dataclasses.fields(RemovalOptions)}
    given = {k: v for k, v in opts.items() if k in names}
    given["shadow_type"] = _parse_per_type(opts["shadow_type"], "--shadow-type", _shadow_kind)
    given["shadow_opacity"] = _parse_per_type(opts["shadow_opacity"], "--shadow-opacity", _opacity)
    bg = opts["bg_image"]
    given["bg_image"] = bg if bg is None or is_url(bg) else Path(bg)
    given["extra_fields"] = opts.get("extra_fields") or None
    return RemovalOptions(**given)


@dataclass
class Outcome:
    """What a batch did: how many were written, which failed, and why it stopped early (if it did)."""

    done: int = 0
    failures: list[tuple[Job, str]] = field(default_factory=list)
    stopped: str | None = None  # an error that makes every further request fail (401/402/403)
    not_sent: int = 0


#: Errors that every later request of the batch would get too: stop sending at the first one.
FATAL_ERRORS = (AuthenticationError, PaymentRequiredError)


async def _run_remote(
    jobs: list[Job], options: RemovalOptions, *, api_key: str | None, base_url: str, parallel: int,
    retries: int, timeout: float, quiet: bool, should_stop: Callable[[], bool] = lambda: False,
) -> Outcome:
    outcome = Outcome()
    failures = outcome.failures
    sem = asyncio.Semaphore(parallel)
    progress = _progress(quiet)
    task = progress.add_task("removing backgrounds", total=len(jobs))
    waits: list[float] = []  # when a rate-limit wait ends (monotonic), one per waiting request

    def on_retry(event: RetryEvent) -> None:
        if event.error.status == 429:
            waits.append(time.monotonic() + event.delay)

    async def countdown() -> None:  # "rate limited: resuming in 42 s" instead of a bar that looks hung
        while True:
            now = time.monotonic()
            waits[:] = [w for w in waits if w > now]
            label = "removing backgrounds"
            if waits:
                label = f"rate limited (429): resuming in {max(waits) - now:.0f} s"
            progress.update(task, description=label)
            await asyncio.sleep(0.5)

    async with AsyncRemoveBg(api_key, base_url, retries=retries, timeout=timeout, on_retry=on_retry) as client:

        async def one(job: Job) -> None:
            async with sem:
                if outcome.stopped is not None or should_stop():  # a fatal error, or asked to stop
                    outcome.not_sent += 1
                    progress.advance(task)
                    return
                try:
                    result = await client.remove_background_with(job.source, job.options(options, remote=True))
                    await asyncio.to_thread(_write_atomic, job.target, result.content)
                    outcome.done += 1
                except FATAL_ERRORS as exc:
                    if outcome.stopped is None:
                        outcome.stopped = str(exc)
                    failures.append((job, str(exc)))
                except (RemoveBgError, OSError, ValueError) as exc:
                    failures.append((job, str(exc)))
                finally:
                    progress.advance(task)

        ticker = asyncio.create_task(countdown())
        try:
            with progress:
                await asyncio.gather(*(one(j) for j in jobs))
        finally:
            ticker.cancel()
    return outcome


def _progress(quiet: bool) -> Any:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), disable=quiet, transient=False,
    )


def _remove_local() -> Callable[..., object]:
    """The emulator's local runner, ``openbg_emulator.cli.remove_local``."""
    try:
        from openbg_emulator.cli import remove_local
    except ImportError as exc:
        raise click.ClickException(f"--local needs the emulator: pip install 'openbg[emulator]' ({exc})") from exc
    return remove_local


def _run_local(jobs: list[Job], options: RemovalOptions, *, quiet: bool,
               should_stop: Callable[[], bool] = lambda: False) -> Outcome:
    remove_local = _remove_local()
    outcome = Outcome()
    with _progress(quiet or len(jobs) < 2) as progress:
        task = progress.add_task("removing backgrounds", total=len(jobs))
        for i, job in enumerate(jobs):
            if should_stop():
                outcome.not_sent += len(jobs) - i
                break
            try:
                remove_local(job.source, job.target, job.options(options, remote=False))
                outcome.done += 1
            except Exception as exc:  # noqa: BLE001 — the engine's ApiError and I/O errors are reported per file
                outcome.failures.append((job, str(exc)))
            finally:
                progress.advance(task)
    return outcome


def _run_local_stdio(output: Path, fmt: Format, options: RemovalOptions) -> None:
    """``openbg remove --local - -o OUT``: the image from stdin; ``-o -`` writes the result to stdout."""
    remove_local = _remove_local()
    try:
        remove_local("-", "-" if str(output) == "-" else output, dataclasses.replace(options, format=fmt))
    except Exception as exc:  # noqa: BLE001 — one line naming the failure, exit 1
        click.echo(f"FAILED -: {exc}", err=True)
        sys.exit(1)


def _check_client(api_key: str, base_url: str) -> None:
    """The client's refusal of an openbg key bound for api.remove.bg, as one line rather than a traceback
    from inside the batch's event loop."""
    try:
        check_key_matches_server(api_key, base_url)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


@dataclass(frozen=True)
class Runner:
    """How the jobs of one ``openbg remove`` run are carried out (over HTTP or with the local engine)."""

    options: RemovalOptions
    local: bool
    api_key: str | None
    base_url: str
    parallel: int
    retries: int
    timeout: float
    quiet: bool

    def run(self, jobs: list[Job], should_stop: Callable[[], bool] = lambda: False) -> Outcome:
        """``should_stop``: asked before each image is started; once it says so, the rest are not sent."""
        if self.local:
            return _run_local(jobs, self.options, quiet=self.quiet, should_stop=should_stop)
        return asyncio.run(_run_remote(
            jobs, self.options, api_key=self.api_key, base_url=self.base_url, parallel=self.parallel,
            retries=self.retries, timeout=self.timeout, quiet=self.quiet, should_stop=should_stop,
        ))


def _report(outcome: Outcome, skipped: int) -> bool:
    """Print the summary and the failures; True when everything asked for was done."""
    failures = outcome.failures
    if outcome.stopped is not None:
        click.echo(f"stopped: {outcome.stopped} — every further request would fail the same way; "
                   f"{outcome.not_sent} image(s) not sent", err=True)
    click.echo(f"{outcome.done} done, {skipped} skipped, {len(failures)} failed"
               + (f", {outcome.not_sent} not sent" if outcome.not_sent else ""), err=True)
    for job, message in failures:
        click.echo(f"FAILED {job.source}: {message}", err=True)
    return not failures and outcome.stopped is None


#: A watched file that was processed (or skipped): never again.
_HANDLED = (-1, -1.0)


def _stable_new_files(folders: Sequence[Path], seen: dict[Path, tuple[int, float]]) -> Iterator[Path]:
    """Images in ``folders`` not handled yet whose size and mtime did not change since the last poll
    (a file still being copied in waits for the next poll)."""
    for folder in folders:
        try:
            entries = sorted(p.resolve() for p in folder.iterdir())
        except OSError:
            continue
        for p in entries:
            if p.name.startswith(".") or p.suffix.lower() not in IMAGE_SUFFIXES or seen.get(p) == _HANDLED:
                continue
            try:
                st = p.stat()
            except OSError:
                continue
            stamp = (st.st_size, st.st_mtime)
            if st.st_size > 0 and seen.get(p) == stamp:
                seen[p] = _HANDLED
                yield p
            else:
                seen[p] = stamp


def _watch(folders: list[Path], output: Path, fmt: str, runner: Runner, reprocess_existing: bool,
           interval: float = 1.0) -> None:
    """``openbg remove --watch``: process images as they arrive in ``folders`` until interrupted."""
    for folder in folders:
        if not folder.is_dir():
            raise click.UsageError(f"--watch needs folders: {folder} is not one")
    if output.exists() and not output.is_dir():
        raise click.UsageError(f"{output} is a file; with --watch -o must be a folder")
    output.mkdir(parents=True, exist_ok=True)
    seen: dict[Path, tuple[int, float]] = {}
    if not reprocess_existing:  # images already there whose output exists count as handled
        for folder in folders:
            images = sorted(p.resolve() for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            for job in plan_jobs(images, output, fmt) if images else []:
                if job.target.exists() and isinstance(job.source, Path):
                    seen[job.source] = _HANDLED
    stop = forced = False

    # Ctrl-C or SIGTERM: finish the images in flight, send no more, then stop (a second Ctrl-C stops at once,
    # exit status 130). The handler is ours, not asyncio.run's: asyncio turns a Ctrl-C into a cancellation of
    # the batch, which a batch that is just finishing absorbs, and the watch would go on.
    def interrupted(signum: int, _frame: object) -> None:
        nonlocal stop
        if stop and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop = True

    previous = {sig: signal.signal(sig, interrupted) for sig in (signal.SIGINT, signal.SIGTERM)}
    click.echo(f"watching {', '.join(map(str, folders))} (Ctrl-C to stop)", err=True)
    try:
        while not stop:
            new = list(_stable_new_files(folders, seen))
            if new and not stop:
                outcome = runner.run(plan_jobs(new, output, fmt), should_stop=lambda: stop)
                _report(outcome, 0)
                if outcome.stopped is not None:
                    sys.exit(1)
            if not stop:
                time.sleep(interval)
    except KeyboardInterrupt:
        forced = True
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    click.echo("stopped watching" + (" (interrupted: images in flight were abandoned)" if forced else ""),
               err=True)
    if forced:
        sys.exit(130)


@main.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="Output folder (created), or an output file for a single input.")
@click.option("--local", is_flag=True, help="Run the emulator's engine in this process instead of calling an API.")
@click.option("--api-key", envvar="REMOVE_BG_API_KEY", help="API key [env REMOVE_BG_API_KEY].")
@click.option("--base-url", envvar="OPENBG_BASE_URL", default=DEFAULT_BASE_URL, show_default=True,
              help="API root [env OPENBG_BASE_URL].")
@click.option("--size", type=click.Choice(SIZES, case_sensitive=False), default="auto", show_default=True,
              help="Output size; auto: the highest the image and the account's credits allow.")
@click.option("--type", "type_", type=click.Choice(TYPES), default="auto", show_default=True)
@click.option("--type-level", type=click.Choice(TYPE_LEVELS), default="1", show_default=True)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="auto", show_default=True,
              help="auto/png outputs are PNG, fetched as ZIP and composed locally.")
@click.option("--roi", help='Region of interest "x1 y1 x2 y2" (px or %).')
@click.option("--crop/--no-crop", default=False, show_default=True)
@click.option("--crop-margin", help='e.g. "10px" or "5% 10%".')
@click.option("--scale", help='"10%".."100%" or original.')
@click.option("--position", help='original, center or "X% Y%".')
@click.option("--channels", type=click.Choice(CHANNELS), default="rgba", show_default=True)
@click.option("--add-shadow", is_flag=True, help="Deprecated remove.bg flag (car shadow).")
@click.option("--shadow-type", multiple=True, help=f"One of {', '.join(SHADOWS)}, or TYPE=KIND (repeatable).")
@click.option("--shadow-opacity", multiple=True, help="0-100 or auto, or TYPE=N (repeatable).")
@click.option("--semitransparency/--no-semitransparency", default=True, show_default=True)
@click.option("--bg-color", help='Hex ("81d4fa", "81d4fa77") or a colour name.')
@click.option("--bg-image", help="Background image: a file or an http(s) URL.")
@click.option("--quality", type=click.Choice(QUALITIES), help="Emulator extension.")
@click.option("--extra-api-options", multiple=True, metavar="KEY=VALUE[&...]",
              help="More API fields sent as they are, e.g. 'shadow_type=drop&crop=true' (repeatable).")
@click.option("--confirm-batch-over", default=50, show_default=True, type=int, metavar="N",
              help="Ask before a batch of more than N images, with its credit estimate (-1: never ask).")
@click.option("--reprocess-existing", is_flag=True, help="Process inputs whose output already exists.")
@click.option("--watch", is_flag=True, help="Keep running: process images as they arrive in the INPUT folders.")
@click.option("--parallel", default=5, show_default=True, type=click.IntRange(1, 64), help="Uploads at a time.")
@click.option("--retries", default=4, show_default=True, type=click.IntRange(0, 20))
@click.option("--timeout", default=60.0, show_default=True, type=float, help="HTTP timeout in seconds.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@click.option("-v", "--verbose", is_flag=True, help="Log every retry.")
def remove(inputs: tuple[str, ...], output: Path, local: bool, api_key: str | None, base_url: str,
           type_: str, fmt: str, extra_api_options: tuple[str, ...], confirm_batch_over: int,
           reprocess_existing: bool, watch: bool, parallel: int, retries: int, timeout: float,
           quiet: bool, verbose: bool, **opts: Any) -> None:
    """Remove the background of INPUT... (files, folders, globs, http(s) URLs) into OUTPUT.

    A folder stands for the images directly in it: .jpg .jpeg .jfif .png .webp (any case), not those in
    its subfolders; for those, quote a recursive glob: 'photos/**/*.jpg'. Each output is named after its
    input (x.jpg -> OUTPUT/x.png; a second x -> x-1.png). The emulator's own commands read inputs alike.

    Stops at the first error that every further request would get too (a wrong key, no credits).
    """
    if verbose:
        import logging

        logging.basicConfig(format="%(message)s")
        logging.getLogger("openbg").setLevel(logging.DEBUG)
    opts["type"] = type_
    opts["extra_fields"] = parse_extra_options(extra_api_options)
    options = removal_options(opts)
    if "-" in inputs:
        if not local or len(inputs) != 1:
            raise click.UsageError("'-' (stdin) is one input on its own, with --local")
        _run_local_stdio(output, cast(Format, fmt), options)
        return
    if local and any(is_url(i) for i in inputs):
        raise click.UsageError("URL inputs are downloaded by the API's server: drop --local, or download first")
    if local and options.extra_fields:
        raise click.UsageError("--extra-api-options is sent to an API: it does not apply with --local")
    if not local and not api_key:
        raise click.UsageError("no API key: pass --api-key or set REMOVE_BG_API_KEY")
    if not local:
        assert api_key is not None  # checked above
        _check_client(api_key, base_url)
    runner = Runner(options, local, api_key, base_url, parallel, retries, timeout,
                    quiet or not sys.stderr.isatty())
    if watch:
        _watch([Path(i) for i in inputs], output, fmt, runner, reprocess_existing)
        return
    jobs = plan_jobs(expand_inputs(inputs), output, fmt)
    if len(jobs) == 1 and jobs[0].target == output and output.exists() and not reprocess_existing:
        raise click.ClickException(f"{output} exists: pass --reprocess-existing to overwrite it")
    todo = [j for j in jobs if reprocess_existing or not j.target.exists()]
    skipped = len(jobs) - len(todo)
    if skipped:
        click.echo(f"skipping {skipped} existing output(s) (use --reprocess-existing)", err=True)
    if not todo:
        click.echo(f"0 done, {skipped} skipped, 0 failed", err=True)
        return
    if 0 <= confirm_batch_over < len(todo):
        credits = estimate_credits(todo, options.size) if not local else 0.0
        cost = f", up to {credits:g} credits (size={options.size}; free calls may pay for previews)" if not local else ""
        click.confirm(f"Process {len(todo)} images{cost}?", abort=True, err=True)
    outcome = runner.run(todo)
    if not _report(outcome, skipped):
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
    except (RemoveBgError, ValueError) as exc:  # ValueError: the client refused its configuration
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


def _add_plugin_commands() -> None:
    """Commands other packages add through the ``openbg.commands`` entry points (the emulator's ``serve``,
    ``keys``, ``models``, ...); one whose dependencies are not installed is left out."""
    from importlib.metadata import entry_points

    for ep in entry_points(group="openbg.commands"):
        try:
            cmd = ep.load()
        except ImportError:  # e.g. the emulator extra is not installed
            continue
        if isinstance(cmd, click.Command):
            main.add_command(cmd, ep.name)


_add_plugin_commands()
