"""Request bodies → a flat dict of fields: multipart (a streaming parser with per-file and per-part byte
caps; the image fields stay in memory as bytes), urlencoded and JSON, each under a body cap. The fields go
on to ``options.parse_options`` (and the /improve source parser) unchanged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.datastructures import Headers, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

from openbg_emulator.errors import ApiError

BINARY_FIELDS = frozenset({"image_file", "bg_image_file"})


class _FileTooLarge(Exception):
    pass


class _BodyTooLarge(Exception):
    pass


class _CappedMultipart(MultiPartParser):
    """Starlette's multipart parser with a per-file byte cap enforced while streaming.

    The image fields (:data:`BINARY_FIELDS`) are collected in memory like plain fields, with or without
    a filename: the engine needs their bytes anyway, and Starlette's spooled file would roll a photo
    over 1 MB to a temporary file on disk, written chunk by chunk through the thread pool (one hop
    per 64 KiB while the request is read) and read back once complete. The cap below is the same.
    """

    spool_max_size = 1024 * 1024

    def __init__(self, headers: Headers, stream: Any, *, max_file: int, max_part: int) -> None:
        super().__init__(headers, stream, max_files=16, max_fields=1000, max_part_size=max_part)
        self.max_file = max_file
        self._file_bytes = 0
        self.ended = False

    def on_end(self) -> None:
        self.ended = True

    def on_part_begin(self) -> None:
        super().on_part_begin()
        self._file_bytes = 0

    def on_headers_finished(self) -> None:
        super().on_headers_finished()
        part = self._current_part
        if part.file is not None and part.field_name in BINARY_FIELDS:
            part.file.file.close()  # still in memory (nothing written yet): no file on disk
            self._files_to_close_on_error.remove(part.file.file)  # type: ignore[arg-type]
            part.file = None  # the bytes go to part.data; on_part_end keeps them as bytes

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._current_part.file is not None or self._current_part.field_name in BINARY_FIELDS:
            self._file_bytes += end - start
            if self._file_bytes > self.max_file:
                raise _FileTooLarge()
        super().on_part_data(data, start, end)

    def on_part_end(self) -> None:
        # A file field sent without a filename (e.g. requests' files={"image_file": (None, data)}) is still
        # binary: keep its bytes instead of decoding them as text.
        part = self._current_part
        if part.file is None and part.field_name in BINARY_FIELDS:
            self.items.append((part.field_name, bytes(part.data)))  # type: ignore[arg-type]
            return
        super().on_part_end()


@dataclass
class Limits:
    max_file: int
    max_body: int
    max_field: int


async def _capped_stream(request: Request, cap: int) -> Any:
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > cap:
            raise _BodyTooLarge()
        yield chunk


async def _read_body(request: Request, cap: int) -> bytes:
    buf = bytearray()
    async for chunk in _capped_stream(request, cap):
        buf.extend(chunk)
    return bytes(buf)


def _put(fields: dict[str, object], name: str, value: object) -> None:
    # Repeated fields: the first non-empty value wins (empty values mean absent anyway).
    if name in fields and fields[name] not in ("", b"", None):
        return
    fields[name] = value


async def read_fields(request: Request, limits: Limits) -> dict[str, object]:
    """The request's fields as a flat dict: str / bytes (file parts) / JSON values.

    Raises ApiError: 400 invalid_request (malformed body), 400 file_too_large, 413 payload_too_large,
    415 unsupported_media_type.
    """
    cl = request.headers.get("content-length")
    if cl is not None:
        try:
            n = int(cl)
        except ValueError:
            raise ApiError("invalid_request", detail="Content-Length is not a number") from None
        if n > limits.max_body:
            raise ApiError("payload_too_large", status=413,
                           detail=f"Request body exceeds the limit of {limits.max_body} bytes")
    ctype = request.headers.get("content-type", "")
    mtype = ctype.split(";", 1)[0].strip().lower()
    try:
        if mtype == "multipart/form-data":
            parser = _CappedMultipart(request.headers, _capped_stream(request, limits.max_body),
                                      max_file=limits.max_file, max_part=limits.max_field)
            try:
                form = await parser.parse()
            except MultiPartException as e:
                raise ApiError("invalid_request", detail=f"Malformed multipart body: {e.message}") from None
            except (ValueError, KeyError, UnicodeError) as e:
                raise ApiError("invalid_request", detail=f"Malformed multipart body: {e}") from None
            if not parser.ended:
                await form.close()
                raise ApiError("invalid_request", detail="Malformed multipart body: no closing boundary")
            fields: dict[str, object] = {}
            try:
                for name, value in form.multi_items():
                    if isinstance(value, UploadFile):
                        data = await value.read()
                        _put(fields, name, bytes(data))
                    else:  # str, or bytes for a filename-less file field
                        _put(fields, name, value)
            finally:
                await form.close()
            return fields
        if mtype == "application/x-www-form-urlencoded":
            body = await _read_body(request, limits.max_body)
            try:
                text = body.decode("utf-8")
                pairs = parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict",
                                  max_num_fields=1000)
            except (UnicodeDecodeError, ValueError) as e:
                raise ApiError("invalid_request", detail=f"Malformed form body: {e}") from None
            fields = {}
            for name, value in pairs:
                _put(fields, name, value)
            return fields
        if mtype == "application/json" or (mtype.startswith("application/") and mtype.endswith("+json")):
            body = await _read_body(request, limits.max_body)
            if not body.strip():
                return {}
            try:
                obj = json.loads(body.decode("utf-8"))
            except UnicodeDecodeError:
                raise ApiError("invalid_request", detail="The JSON body is not valid UTF-8") from None
            except (ValueError, RecursionError) as e:
                raise ApiError("invalid_request", detail=f"The body is not valid JSON: {e}") from None
            if not isinstance(obj, dict):
                raise ApiError("invalid_request", detail="The JSON body must be an object")
            return {str(k): v for k, v in obj.items() if v is not None}
        if mtype == "":
            body = await _read_body(request, limits.max_body)
            if not body:
                return {}
        raise ApiError(
            "unsupported_media_type", status=415,
            detail=f"Content-Type {mtype or '(none)'!s} is not supported; use multipart/form-data, "
                   "application/x-www-form-urlencoded or application/json",
        )
    except _FileTooLarge:
        raise ApiError("file_too_large", detail=f"File exceeds limit of {limits.max_file // (1024 * 1024)}MB") from None
    except _BodyTooLarge:
        raise ApiError("payload_too_large", status=413,
                       detail=f"Request body exceeds the limit of {limits.max_body} bytes") from None
