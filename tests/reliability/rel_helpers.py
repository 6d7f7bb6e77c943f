"""Helpers for the reliability tests: hostile and unusual inputs, crafted by hand, plus loopback servers.

Everything here is local: images are made in memory, servers listen on 127.0.0.1 only.
"""

from __future__ import annotations

import io
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable

import httpx
from PIL import Image, ImageDraw

# ----------------------------------------------------------------------------- images


def photo(size: tuple[int, int] = (96, 72), fmt: str = "PNG", mode: str = "RGB", variant: int = 0,
          **save: object) -> bytes:
    """A small image with an obvious subject (a red ellipse on light grey)."""
    w, h = size
    im = Image.new("RGB", size, (235, 235, 235))
    d = ImageDraw.Draw(im)
    d.ellipse((w * 0.3, h * 0.15, w * 0.7, h * 0.85), fill=(180, 40 + variant % 200, 40))
    if mode != "RGB":
        im = im.convert(mode)
    b = io.BytesIO()
    im.save(b, fmt, **save)
    return b.getvalue()


def _chunk(t: bytes, d: bytes) -> bytes:
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)


def png_header_only(w: int, h: int, bit_depth: int = 8, color_type: int = 2) -> bytes:
    """A PNG whose IHDR (valid CRC) declares w×h, with a tiny IDAT: a probe must refuse it before decoding."""
    ihdr = struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 0)
    idat = zlib.compress(b"\0" * 64, 9)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def jpeg_header_only(w: int, h: int) -> bytes:
    """A JPEG whose SOF0 declares w×h (no scan data)."""
    sof = struct.pack(">BHHB", 8, h, w, 3) + b"".join(bytes([i, 0x11, 0]) for i in (1, 2, 3))
    seg = b"\xff\xc0" + struct.pack(">H", len(sof) + 2) + sof
    return b"\xff\xd8" + seg + b"\xff\xd9"


def png_16bit() -> bytes:
    import numpy as np

    a = np.full((72, 96, 3), 60000, dtype=np.uint16)
    a[18:54, 30:66] = (45000, 9000, 9000)
    # Pillow writes 16-bit RGB only from raw; build it by hand.
    raw = b"".join(b"\0" + row.astype(">u2").tobytes() for row in a)
    ihdr = struct.pack(">IIBBBBB", 96, 72, 16, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(raw)) + _chunk(b"IEND", b"")


def palette_png_transparent() -> bytes:
    im = Image.open(io.BytesIO(photo())).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    b = io.BytesIO()
    im.save(b, "PNG", transparency=0)
    return b.getvalue()


def cmyk_jpeg() -> bytes:
    return photo(fmt="JPEG", mode="CMYK", quality=90)


def animated(fmt: str) -> bytes:
    frames = [Image.open(io.BytesIO(photo(variant=i * 40))).convert("RGB") for i in range(3)]
    b = io.BytesIO()
    frames[0].save(b, fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)
    return b.getvalue()


def jpeg_with_exif(n: int = 65000) -> bytes:
    """A JPEG whose APP1 EXIF segment is as large as a segment can be (~64 KB)."""
    base = photo(fmt="JPEG", quality=85)
    tiff = b"II*\x00\x08\x00\x00\x00" + b"\x00\x00"  # empty IFD0
    payload = b"Exif\x00\x00" + tiff + b"\x00" * (n - 16)
    seg = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    return base[:2] + seg + base[2:]


def png_with_huge_exif(n: int = 8 * 1024 * 1024) -> bytes:
    """A PNG with an 8 MB eXIf chunk (PNG chunks have no 64 KB limit) whose IFD says 65535 entries."""
    base = photo()
    exif = b"MM\x00*\x00\x00\x00\x08" + b"\xff\xff" + b"\x01" * (n - 10)
    i = base.index(b"IDAT") - 4
    return base[:i] + _chunk(b"eXIf", exif) + base[i:]


def truncated(data: bytes, keep: float = 0.5) -> bytes:
    return data[: max(16, int(len(data) * keep))]


NOT_IMAGES: dict[str, bytes] = {
    "empty": b"",
    "text": b"hello, this is plain text and not an image at all\n" * 4,
    "html": b"<!DOCTYPE html><html><body><img src=x onerror=alert(1)></body></html>",
    "pdf": b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n",
    "mp4": b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 64,
    "svg": b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
           b'<rect width="10" height="10"/></svg>',
    "gzip": zlib.compress(b"x" * 1000),
    "random": bytes(range(256)) * 8,
}

# ----------------------------------------------------------------------------- HTTP helpers


def error_code(r: httpx.Response) -> str:
    body = r.json()
    assert isinstance(body.get("errors"), list) and body["errors"], body
    assert "title" in body["errors"][0]
    return str(body["errors"][0].get("code"))


# ----------------------------------------------------------------------------- raw loopback servers


class RawServer:
    """A tiny raw-socket server on 127.0.0.1: ``handler(conn, request_bytes)`` answers each connection.

    The request head (and as much body as arrives within 0.2 s) is read before the handler runs.
    Stops when closed; handler threads are daemons.
    """

    def __init__(self, handler: Callable[[socket.socket, bytes], None]) -> None:
        self.handler = handler
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._closed = False
        threading.Thread(target=self._loop, daemon=True).start()

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _loop(self) -> None:
        while not self._closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(0.2)
            buf = b""
            try:
                while b"\r\n\r\n" not in buf:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    buf += chunk
                while True:  # drain what is there of the body
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    buf += chunk
            except (TimeoutError, OSError):
                pass
            conn.settimeout(30)
            self.handler(conn, buf)
        except OSError:
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def close(self) -> None:
        self._closed = True
        try:
            self.sock.close()
        except OSError:
            pass


def respond(conn: socket.socket, status: int, body: bytes, headers: dict[str, str] | None = None,
            content_length: int | None = None) -> None:
    h = {"Content-Type": "application/octet-stream", "Connection": "close", **(headers or {})}
    h["Content-Length"] = str(len(body) if content_length is None else content_length)
    head = f"HTTP/1.1 {status} X\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items()) + "\r\n"
    conn.sendall(head.encode() + body)


def stall(seconds: float) -> Callable[[socket.socket, bytes], None]:
    def handler(conn: socket.socket, _req: bytes) -> None:
        time.sleep(seconds)

    return handler
