"""schemathesis hooks for bench/schemathesis_long.py (SCHEMATHESIS_HOOKS=st_long_hooks).

Random bytes never decode, so without help nearly every generated /removebg and /improve call is a 400. Up to
``OPENBG_SCHEMATHESIS_IMAGES`` generated bodies get a real small image instead of their source: half of them keep
every other generated field (so option parsing meets random values next to a decodable image), the other half
keep only the fields that cannot fail for reasons outside the schema, so that 200 responses (binary in every
format, JSON, and /improve) are checked against openapi.yaml and charged. Always the same image bytes, so the
engine's mask cache keeps these calls cheap.
"""

from __future__ import annotations

import base64
import io
import os
import zlib
from typing import Any

import schemathesis
from PIL import Image, ImageDraw

_im = Image.new("RGB", (160, 120), (235, 235, 235))
ImageDraw.Draw(_im).ellipse((50, 20, 110, 100), fill=(180, 40, 40))
_buf = io.BytesIO()
_im.save(_buf, "JPEG", quality=90)
IMAGE = _buf.getvalue()
IMAGE_B64 = base64.b64encode(IMAGE).decode()
LIMIT = int(os.environ.get("OPENBG_SCHEMATHESIS_IMAGES", "60"))
_used = 0


@schemathesis.hook
def map_case(context: Any, case: Any) -> Any:
    global _used
    path = case.operation.path
    if _used >= LIMIT or not path.endswith(("/removebg", "/removebg.json", "/improve")):
        return case
    body = case.body
    if not isinstance(body, dict):
        return case
    h = zlib.crc32(repr(sorted(map(str, body.items()))).encode())
    if h % 3:
        return case
    _used += 1
    sources = ("image_file", "image_file_b64", "image_url", "roi", "bg_image_url", "bg_image_file", "bg_color")
    if (h >> 8) % 2:
        body = {k: v for k, v in body.items() if k not in sources}
    else:  # only valid option values, chosen by the hash: these must be 200s
        body = {} if not path.endswith("removebg") and not path.endswith(".json") else {
            "size": ["preview", "small", "auto", "full", "medium"][(h >> 9) % 5],
            "format": ["auto", "png", "jpg", "webp", "zip"][(h >> 12) % 5],
            "channels": ["rgba", "alpha"][(h >> 15) % 2],
        }
    if (case.media_type or "").startswith("multipart/"):
        body["image_file"] = IMAGE
    else:
        body["image_file_b64"] = IMAGE_B64
    case.body = body
    return case
