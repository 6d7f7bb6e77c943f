"""POST /improve: the Improvement Program. One image (image_file, image_file_b64 or image_url) is
probed, counted against the key's daily submissions and stored under ``improve_dir`` with its metadata;
nothing is removed and nothing is charged. The service's auth, controls, body reading, URL fetching and
rate limit are those of /removebg.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
from starlette.requests import Request
from starlette.responses import Response

from openbg_emulator.accounts import ImproveLimit
from openbg_emulator.bodies import read_fields
from openbg_emulator.errors import ApiError
from openbg_emulator.options import is_absent, parse_image_source
from openbg_emulator.responses import json_response
from openbg_emulator.storage import atomic_write

if TYPE_CHECKING:
    from openbg_emulator.service import Ctx, Service

log = logging.getLogger("openbg.emulator")


async def submit_improvement(svc: Service, request: Request, ctx: Ctx) -> Response:
    """The /improve endpoint behind ``Service.improve`` (auth, controls, one source, probe, rate limit,
    daily quota, durable storage)."""
    key = await svc.authenticate(request, ctx)
    await svc.controls(request, ctx)
    fields = await read_fields(request, svc.limits)
    source = await anyio.to_thread.run_sync(parse_image_source, fields, limiter=svc.io_limiter)
    filename = _text_param(fields.get("image_filename"), "image_filename", "invalid_image_filename")
    tag = _text_param(fields.get("tag"), "tag", "invalid_tag")
    if source.image is not None:
        data = source.image
    elif source.url is not None:
        data = await svc.fetch(source.url, "image")
    else:  # parse_image_source guarantees one; keep the check for safety
        raise ApiError("missing_source")
    svc.check_size(data)
    info = await anyio.to_thread.run_sync(svc.engine.probe, data, limiter=svc.io_limiter)
    await svc.consume_rate(ctx, 1)
    try:
        await svc._db(svc.accounts.take_improve_slot, key.id)
    except ImproveLimit:
        raise ApiError("improve_limit_reached",
                       detail=f"At most {svc.accounts.improve_per_day} submissions a day per API key") from None
    sub_id = str(uuid.uuid4())
    fmt = str(getattr(info, "format", "bin"))
    ext = {"jpeg": "jpg"}.get(fmt, fmt)
    meta = {
        "id": sub_id,
        "key_id": key.id,
        "received_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "image_filename": filename,
        "tag": tag,
        "source": source.name,
        "image_url": source.url,
        "format": fmt,
        "width": int(info.width),
        "height": int(info.height),
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "file": f"{sub_id}.{ext}",
    }
    try:
        await anyio.to_thread.run_sync(
            partial(store_submission, svc.settings.improve_dir, sub_id, ext, data, meta),
            limiter=svc.io_limiter,
        )
    except OSError as e:
        await svc._db(svc.accounts.release_improve_slot, key.id)
        log.error("request %s: could not store improve submission: %s", ctx.request_id, e.strerror or e)
        raise ApiError("internal_error", status=500,
                       detail=f"Could not store the submission ({e.strerror or 'I/O error'}); "
                              f"nothing was kept; request id {ctx.request_id}") from None
    return json_response({"id": sub_id}, headers=ctx.headers)


def _text_param(value: object, name: str, code: str) -> str | None:
    if is_absent(value):
        return None
    if not isinstance(value, str):
        raise ApiError(code, detail=f"{name} must be a string")
    if len(value) > 255:
        raise ApiError(code, detail=f"{name} is longer than 255 characters")
    if ".." in value or "/" in value or "\\" in value or any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ApiError(code, detail=f"{name} must not contain '..', '/', '\\' or control characters")
    return value


def store_submission(directory: Path, sub_id: str, ext: str, data: bytes, meta: Mapping[str, Any]) -> None:
    """The image first, then its metadata (the metadata file marks a complete submission)."""
    directory.mkdir(parents=True, exist_ok=True)
    img = directory / f"{sub_id}.{ext}"
    atomic_write(img, data)
    try:
        atomic_write(directory / f"{sub_id}.json", json.dumps(meta, indent=2).encode("utf-8"))
    except BaseException:
        with contextlib.suppress(OSError):
            img.unlink()
        raise
