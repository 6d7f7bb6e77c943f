"""POST /improve: the Improvement Program. One image (image_file, image_file_b64 or image_url) is
probed, counted against the key's daily submissions and stored under ``improve_dir`` with its metadata;
nothing is removed and nothing is charged. The service's auth, controls, body reading, URL fetching and
rate limit are those of /removebg.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import logging
import re
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
    sources = [n for n in ("image_file", "image_file_b64", "image_url") if not _absent(fields.get(n))]
    if not sources:
        raise ApiError("missing_source")
    if len(sources) > 1:
        raise ApiError("multiple_sources")
    filename = _text_param(fields.get("image_filename"), "image_filename", "invalid_image_filename")
    tag = _text_param(fields.get("tag"), "tag", "invalid_tag")
    src = sources[0]
    if src == "image_file":
        data = fields["image_file"]
        if not isinstance(data, bytes):
            raise ApiError("invalid_request", detail="image_file must be a file part")
    elif src == "image_file_b64":
        data = decode_b64(fields["image_file_b64"])
    else:
        url = fields["image_url"]
        if not isinstance(url, str):
            raise ApiError("invalid_image_url", detail="image_url must be a string")
        data = await svc.fetch(url, "image")
    svc.check_size(data)
    info = await anyio.to_thread.run_sync(svc.engine_fn("probe"), data, limiter=svc.io_limiter)
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
        "source": src,
        "image_url": fields.get("image_url") if src == "image_url" else None,
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


def _absent(v: object) -> bool:
    return v is None or v == "" or v == b""


def decode_b64(value: object) -> bytes:
    if not isinstance(value, str):
        raise ApiError("failed_to_read_image", detail="image_file_b64 must be a string")
    text = value.strip()
    m = re.match(r"data:[^,]*;base64,", text, re.IGNORECASE)
    if m:
        text = text[m.end():]
    text = re.sub(r"\s+", "", text)
    text += "=" * (-len(text) % 4)
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        try:
            data = base64.urlsafe_b64decode(text)
        except (binascii.Error, ValueError):
            raise ApiError("failed_to_read_image", detail="image_file_b64 is not valid base64") from None
    if not data:
        raise ApiError("failed_to_read_image", detail="image_file_b64 holds no data")
    return data


def _text_param(value: object, name: str, code: str) -> str | None:
    if _absent(value):
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
