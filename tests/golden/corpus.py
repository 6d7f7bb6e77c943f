"""The golden corpus: ~80 requests across every endpoint, parameter family and error, replayed in order
against a fresh server, each answer reduced to status, headers (less those that carry time or randomness)
and a SHA-256 of the body.

It was recorded before the issue-15 redesign (engine, plan, module split) and guards it: a refactor must not
change one byte of what a client sees. ``OPENBG_GOLDEN_RECORD=1 pytest tests/golden`` rewrites
``golden.json`` — only do that for a change that is meant to alter responses, and say so in the commit.

The server runs the real model on ONNX Runtime fp32 (``OPENBG_RUNTIME=onnxruntime``,
``OPENBG_PRECISION=f32``) so that the figures do not depend on the CPU's bf16 units; outputs still depend on
the CPU's instruction set, which ``golden.json`` records next to the answers.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, ImageDraw

#: Response headers left out of the comparison: they carry the clock or a random id.
VOLATILE_HEADERS = frozenset({"date", "x-request-id", "x-ratelimit-reset", "retry-after-ms"})
#: JSON fields whose values are random (replaced by "<…>" before hashing).
VOLATILE_FIELDS = frozenset({"id", "request_id"})


def photo(size: tuple[int, int] = (320, 240), fmt: str = "JPEG", variant: int = 0, mode: str = "RGB") -> bytes:
    """A small synthetic photo: a red ellipse with a blue box on a light background."""
    w, h = size
    im = Image.new(mode, size, (235, 235, 235) if mode == "RGB" else (235, 235, 235, 255))
    d = ImageDraw.Draw(im)
    sx, sy = w / 320, h / 240
    d.ellipse((110 * sx, 50 * sy, 210 * sx, 200 * sy), fill=(180, 40 + variant, 40))
    d.rectangle((140 * sx, 30 * sy, 180 * sx, 70 * sy), fill=(40, 40, 160))
    if mode == "RGBA":
        d.rectangle((0, 0, w // 6, h // 6), fill=(0, 0, 0, 0))
    b = io.BytesIO()
    im.save(b, fmt, **({"quality": 92} if fmt == "JPEG" else {}))
    return b.getvalue()


def background(size: tuple[int, int] = (200, 150)) -> bytes:
    im = Image.new("RGB", size, (20, 120, 60))
    ImageDraw.Draw(im).rectangle((0, size[1] // 2, size[0], size[1]), fill=(60, 60, 200))
    b = io.BytesIO()
    im.save(b, "PNG")
    return b.getvalue()


JPEG = photo()
PNG_RGBA = photo(fmt="PNG", mode="RGBA", variant=20)
LARGE = photo((800, 600), variant=10)  # 0.48 MP: size=full is not a preview
WIDE = photo((1200, 300), variant=30)
WEBP = photo(fmt="WEBP", variant=40)
BG = background()


@dataclass
class Case:
    name: str
    path: str = "/v1.0/removebg"
    method: str = "POST"
    key: str | None = "main"  # main | broke | limited | free | bad | None (no header)
    headers: dict[str, str] = field(default_factory=dict)
    files: dict[str, tuple[str, bytes, str]] | None = None
    data: dict[str, str] | None = None
    json: Any = None
    content: bytes | None = None
    volatile: frozenset[str] = frozenset()  # more headers to leave out for this case only


def _img(data: bytes = JPEG, name: str = "photo.jpg", ctype: str = "image/jpeg") -> dict[str, tuple[str, bytes, str]]:
    return {"image_file": (name, data, ctype)}


def _mp(name: str, fields: dict[str, str] | None = None, data: bytes = JPEG, **kw: Any) -> Case:
    """A multipart /removebg request with the default photo and some form fields."""
    return Case(name, files=_img(data), data=dict(fields or {}), **kw)


def cases(image_url: Callable[[str], str]) -> list[Case]:
    """The corpus, in order (the order matters: credits and rate windows carry from one request to the next).
    ``image_url(path)`` gives a URL on the loopback image host."""
    b64 = base64.b64encode(JPEG).decode()
    c: list[Case] = [
        Case("account-before", "/v1.0/account", "GET"),
        # sizes and formats
        _mp("default"),
        _mp("size-preview", {"size": "preview"}),
        _mp("size-full", {"size": "full"}, data=LARGE),
        _mp("size-auto", {"size": "auto"}, data=LARGE),
        _mp("size-medium", {"size": "medium"}, data=LARGE),
        _mp("size-hd", {"size": "hd"}, data=LARGE),
        _mp("size-4k-alias", {"size": "4k"}),
        _mp("size-50mp", {"size": "50MP"}),
        _mp("format-png", {"format": "png", "size": "full"}),
        _mp("format-jpg", {"format": "jpg", "size": "full"}),
        _mp("format-zip", {"format": "zip", "size": "full"}),
        _mp("format-webp", {"format": "webp", "size": "full"}),
        _mp("format-auto-large", {"format": "auto", "size": "full"}, data=LARGE),
        _mp("channels-alpha", {"channels": "alpha", "size": "full"}),
        _mp("png-input-rgba", {"size": "full"}, data=PNG_RGBA),
        _mp("webp-input", {"size": "full"}, data=WEBP),
        # subject type and classification
        _mp("type-person", {"type": "person", "size": "full"}),
        _mp("type-product-level2", {"type": "product", "type_level": "2"}),
        _mp("type-auto-level2", {"type_level": "2"}),
        _mp("type-level-none", {"type_level": "none"}),
        _mp("type-car", {"type": "car"}),
        # framing
        _mp("crop", {"crop": "true", "size": "full"}),
        _mp("crop-margin-px", {"crop": "true", "crop_margin": "10px", "size": "full"}),
        _mp("crop-margin-4-pct", {"crop": "1", "crop_margin": "5% 10% 5% 10%", "size": "full"}),
        _mp("roi-pct", {"roi": "10% 10% 90% 90%", "size": "full"}),
        _mp("roi-px", {"roi": "50px 20px 300px 230px", "size": "full"}),
        _mp("scale-position", {"scale": "50%", "position": "center", "size": "full"}),
        _mp("scale-position-xy", {"scale": "80%", "position": "0% 100%", "size": "full"}),
        _mp("wide-crop", {"crop": "true"}, data=WIDE),
        # backgrounds, shadows, transparency, quality
        _mp("bg-color", {"bg_color": "81d4fa", "size": "full"}),
        _mp("bg-color-name", {"bg_color": "red", "format": "jpg"}),
        Case("bg-image-file", files={**_img(), "bg_image_file": ("bg.png", BG, "image/png")}, data={"size": "full"}),
        _mp("bg-image-url", {"bg_image_url": image_url("/bg.png")}),
        _mp("shadow-drop", {"add_shadow": "true", "shadow_type": "drop", "size": "full"}),
        _mp("shadow-per-type", {"shadow_type[product]": "car", "shadow_opacity[product]": "40", "type": "product"}),
        _mp("semitransparency-off", {"semitransparency": "false", "size": "full"}),
        _mp("quality-fast", {"quality": "fast", "size": "full"}),
        _mp("quality-best", {"quality": "best", "size": "full"}),
        # other bodies
        Case("form-url", data={"image_url": image_url("/img.jpg"), "size": "preview"}),
        Case("form-b64", data={"image_file_b64": b64, "size": "full", "format": "png"}),
        Case("json-b64", json={"image_file_b64": b64, "size": "preview", "crop": True}),
        Case("json-url-accept-json", json={"image_url": image_url("/img.jpg")}, headers={"Accept": "application/json"}),
        _mp("multipart-accept-json", {"size": "full"}, headers={"Accept": "application/json"}),
        Case("removebg-json-endpoint", "/v1.0/removebg.json", json={"image_file_b64": b64}),
        Case("json-urlsafe-b64", json={"image_file_b64": base64.urlsafe_b64encode(PNG_RGBA).decode().rstrip("=")}),
        # errors: sources
        Case("no-source", data={"size": "preview"}),
        Case("two-sources", files=_img(), data={"image_url": image_url("/img.jpg")}),
        Case("bad-b64", data={"image_file_b64": "!!!not base64!!!"}),
        _mp("not-an-image", data=b"hello, this is text", headers={}),
        Case("url-404", data={"image_url": image_url("/missing.jpg")}),
        Case("url-not-image", data={"image_url": image_url("/text")}),
        Case("url-bad-scheme", data={"image_url": "ftp://127.0.0.1/x.jpg"}),
        # errors: parameters
        _mp("bad-size", {"size": "huge"}),
        _mp("bad-format", {"format": "gif"}),
        _mp("bad-type", {"type": "dog"}),
        _mp("bad-type-level", {"type_level": "3"}),
        _mp("bad-channels", {"channels": "rgb"}),
        _mp("bad-bg-color", {"bg_color": "notacolor"}),
        _mp("bad-crop-margin", {"crop": "true", "crop_margin": "-5px"}),
        _mp("bad-roi", {"roi": "90% 90% 10% 10%"}),
        _mp("bad-scale", {"scale": "5%"}),
        _mp("bad-position", {"position": "200%"}),
        _mp("bad-shadow-type", {"shadow_type": "fog"}),
        _mp("bad-shadow-opacity", {"shadow_opacity": "50.5"}),
        _mp("bad-semitransparency", {"semitransparency": "maybe"}),
        _mp("bad-quality", {"quality": "superb"}),
        _mp("two-backgrounds", {"bg_color": "fff", "bg_image_url": image_url("/bg.png")}),
        Case("bad-json", content=b"{not json", headers={"Content-Type": "application/json"}),
        Case("bad-content-type", content=b"x=1", headers={"Content-Type": "text/plain"}),
        # errors: keys, credits, rate limits, controls
        _mp("no-key", key=None),
        _mp("bad-key", key="bad"),
        _mp("broke-full", {"size": "full"}, key="broke"),
        _mp("broke-preview", {"size": "preview"}, key="broke"),
        _mp("free-preview", {"size": "preview"}, key="free"),
        _mp("free-full", {"size": "full"}, key="free"),
        _mp("free-auto-falls-back", {"size": "auto"}, data=LARGE, key="free"),
        _mp("rate-first", {"size": "full"}, key="limited"),
        _mp("rate-second-429", {"size": "full"}, key="limited", volatile=frozenset({"retry-after"})),
        _mp("force-503", headers={"X-Openbg-Force-Status": "503", "X-Openbg-Retry-After": "7"}),
        _mp("force-429", headers={"X-Openbg-Force-Status": "429"}),
        _mp("force-bad", headers={"X-Openbg-Force-Status": "418"}),
        _mp("force-empty-balance", headers={"X-Openbg-Force-Empty-Balance": "true"}),
        # other endpoints and methods
        Case("account-after", "/v1.0/account", "GET"),
        Case("account-no-key", "/v1.0/account", "GET", key=None),
        Case("improve", "/v1.0/improve", files=_img(), data={"image_filename": "cat.jpg", "tag": "golden"}),
        Case("improve-url", "/v1.0/improve", data={"image_url": image_url("/img.jpg")}),
        Case("improve-no-source", "/v1.0/improve", data={"tag": "x"}),
        Case("get-removebg-405", "/v1.0/removebg", "GET"),
        Case("unknown-404", "/v1.0/nothing", "GET"),
        Case("options-cors", "/v1.0/removebg", "OPTIONS", key=None, headers={
            "Origin": "https://app.example", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "X-API-Key"}),
        _mp("cors-simple", headers={"Origin": "https://app.example"}),
        Case("healthz", "/healthz", "GET", key=None),
        Case("openapi", "/openapi.yaml", "GET", key=None),
    ]
    return c


def normalise_body(body: bytes, content_type: str, port: int) -> bytes:
    """The body as compared: JSON with random ids replaced and the image host's port removed; a ZIP's members
    (names, compression, contents) without their timestamps."""
    if content_type.startswith("application/json"):
        text = body.decode().replace(f":{port}", ":PORT")

        def scrub(v: Any) -> Any:
            if isinstance(v, dict):
                return {k: ("<volatile>" if k in VOLATILE_FIELDS else scrub(x)) for k, x in v.items()}
            if isinstance(v, list):
                return [scrub(x) for x in v]
            return v

        return json.dumps(scrub(json.loads(text)), sort_keys=True).encode()
    if content_type == "application/zip":  # members carry the time they were written: compare their contents
        with zipfile.ZipFile(io.BytesIO(body)) as z:
            return json.dumps([(i.filename, i.compress_type, hashlib.sha256(z.read(i)).hexdigest())
                               for i in z.infolist()]).encode()
    return body.replace(f":{port}".encode(), b":PORT")


def answer(status: int, headers: list[tuple[str, str]], body: bytes, port: int,
           volatile: frozenset[str] = frozenset()) -> dict[str, Any]:
    kept: dict[str, str] = {}
    for k, v in headers:
        k = k.lower()
        if k in VOLATILE_HEADERS or k in volatile:
            continue
        kept[k] = re.sub(rf":{port}\b", ":PORT", v) if k not in kept else kept[k] + ", " + v
    body = normalise_body(body, kept.get("content-type", ""), port)
    return {"status": status, "headers": dict(sorted(kept.items())),
            "body_sha256": hashlib.sha256(body).hexdigest(), "body_len": len(body)}
