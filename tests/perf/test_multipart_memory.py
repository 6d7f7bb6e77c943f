"""The server reads the image fields of a multipart body into memory (issue 7: no spooled temporary
file for a photo over 1 MB, no thread-pool hop per chunk), and keeps every other field as before."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest
import starlette.formparsers as fp
from openbg_emulator.bodies import Limits, read_fields
from openbg_emulator.errors import ApiError
from starlette.requests import Request

BOUNDARY = "openbg-test-boundary"


def _part(name: str, data: bytes, filename: str | None = None) -> bytes:
    disp = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
    return (f"--{BOUNDARY}\r\nContent-Disposition: {disp}\r\nContent-Type: application/octet-stream\r\n\r\n"
            .encode() + data + b"\r\n")


def _request(body: bytes, chunk: int = 65536) -> Request:
    chunks = [body[i:i + chunk] for i in range(0, len(body), chunk)]

    async def receive() -> dict[str, Any]:
        if chunks:
            return {"type": "http.request", "body": chunks.pop(0), "more_body": bool(chunks)}
        return {"type": "http.request", "body": b"", "more_body": False}

    scope = {"type": "http", "method": "POST", "path": "/v1.0/removebg", "query_string": b"",
             "headers": [(b"content-type", f"multipart/form-data; boundary={BOUNDARY}".encode()),
                         (b"content-length", str(len(body)).encode())]}
    return Request(scope, receive)


class _CountingSpool(fp.SpooledTemporaryFile):  # type: ignore[type-arg,misc]
    rollovers = 0

    def rollover(self) -> None:
        type(self).rollovers += 1
        super().rollover()


def test_image_fields_in_memory_other_files_spooled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fp, "SpooledTemporaryFile", _CountingSpool)
    image = os.urandom(3 * 1024 * 1024) + f"\r\n--{BOUNDARY}-not-the-end".encode()  # > spool size
    bg = os.urandom(1_500_000)
    other = os.urandom(1_200_000)  # a file field the API does not know: Starlette's spooled file, as before
    body = (_part("image_file", image, "photo.jpg") + _part("bg_image_file", bg)
            + _part("extra_file", other, "x.bin") + _part("size", b"full") + f"--{BOUNDARY}--\r\n".encode())
    limits = Limits(max_file=22 * 1024 * 1024, max_body=64 * 1024 * 1024, max_field=30 * 1024 * 1024)
    fields = asyncio.run(read_fields(_request(body), limits))
    assert fields["image_file"] == image and isinstance(fields["image_file"], bytes)
    assert fields["bg_image_file"] == bg
    assert fields["extra_file"] == other
    assert fields["size"] == "full"
    assert _CountingSpool.rollovers == 1  # only extra_file went to disk


def test_image_field_cap_still_applies() -> None:
    body = _part("image_file", b"\xff" * 2_000_001, "photo.jpg") + f"--{BOUNDARY}--\r\n".encode()
    limits = Limits(max_file=2_000_000, max_body=64 * 1024 * 1024, max_field=30 * 1024 * 1024)
    with pytest.raises(ApiError) as e:
        asyncio.run(read_fields(_request(body), limits))
    assert e.value.code == "file_too_large"
