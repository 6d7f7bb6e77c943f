"""Compose remove.bg ZIP results (``color.jpg`` + ``alpha.png``) into RGBA.

A ZIP result (spec §10) always holds exactly-named entries ``color.jpg`` (an
opaque RGB JPEG with edge colours corrected) and ``alpha.png`` (a grayscale
matte, white = foreground). Applying the matte as the alpha channel of the
colour image gives the cut-out, like ImageMagick's
``convert color.jpg alpha.png -compose CopyOpacity -composite out.png``.
"""

from __future__ import annotations

import io
import zipfile

from PIL import Image

from .errors import ZipCompositionError

__all__ = ["is_zip", "zip2png", "zip_to_pil"]

COLOR_NAME = "color.jpg"
ALPHA_NAME = "alpha.png"


def is_zip(data: bytes) -> bool:
    """True if ``data`` starts with a ZIP local-file signature."""
    return data[:4] == b"PK\x03\x04"


def _read_entry(archive: zipfile.ZipFile, name: str) -> Image.Image:
    try:
        raw = archive.read(name)
    except KeyError:
        raise ZipCompositionError(
            f"ZIP result has no {name}", f"entries: {', '.join(archive.namelist()) or '(none)'}"
        ) from None
    try:
        image = Image.open(io.BytesIO(raw))
        image.load()
    except Exception as exc:  # PIL raises several types for broken data
        raise ZipCompositionError(f"{name} in the ZIP result is not a readable image", str(exc)) from exc
    return image


def _as_matte(image: Image.Image) -> Image.Image:
    if image.mode == "L":
        return image
    if image.mode in ("LA", "RGB", "RGBA", "P", "PA"):
        # A grayscale matte saved as RGB has three equal channels; take the first.
        return image.convert("RGB").getchannel(0) if image.mode != "LA" else image.getchannel(0)
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit matte: keep the high byte.
        return image.point(lambda v: v / 257).convert("L")
    return image.convert("L")


def zip_to_pil(zip_bytes: bytes) -> Image.Image:
    """Compose a ZIP result into an RGBA :class:`PIL.Image.Image`.

    Raises:
        ZipCompositionError: the bytes are not a ZIP, an entry is missing or
            unreadable, or ``color.jpg`` and ``alpha.png`` differ in size.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(zip_bytes))
    except zipfile.BadZipFile as exc:
        raise ZipCompositionError("Result is not a valid ZIP archive", str(exc)) from exc
    with archive:
        color = _read_entry(archive, COLOR_NAME)
        alpha = _read_entry(archive, ALPHA_NAME)
    if color.size != alpha.size:
        raise ZipCompositionError(
            "color.jpg and alpha.png differ in size",
            f"color.jpg is {color.size[0]}x{color.size[1]}, alpha.png is {alpha.size[0]}x{alpha.size[1]}",
        )
    rgba = color.convert("RGB")
    rgba.putalpha(_as_matte(alpha))
    return rgba


def zip2png(zip_bytes: bytes) -> bytes:
    """Compose a remove.bg ZIP result (``color.jpg`` + ``alpha.png``) into RGBA PNG bytes.

    Raises:
        ZipCompositionError: see :func:`zip_to_pil`.
    """
    out = io.BytesIO()
    zip_to_pil(zip_bytes).save(out, format="PNG")
    return out.getvalue()
