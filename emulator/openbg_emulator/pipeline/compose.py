"""Compose the result pixels: channels, semitransparency, shadow, bg_color, background image (pure).

Layers, bottom to top: background (``bg_color`` or a cover-fitted background image, else
transparent) → shadow (black with per-pixel opacity ``shadow_layer``) → subject (edge-corrected
foreground colour with alpha). Work is done in strips of rows so 50 MP stays within memory.

The result is RGBA uint8 (H×W×4) for ``channels=rgba`` or an L matte (H×W uint8) for
``channels=alpha``. Where the result is fully transparent, RGB keeps the estimated foreground
colour (what ``color.jpg`` of a ZIP shows there).
"""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

from ..errors import ApiError

STRIP_ROWS = 512


def harden_alpha(alpha: np.ndarray, edge_px: int = 2) -> np.ndarray:
    """``semitransparency=false``: snap partially transparent *areas* to 0/1, keep thin edges.

    Partial pixels (0.02 < alpha < 0.98) that form regions thicker than ``2·edge_px + 1`` px
    (what a morphological opening keeps: glass, windows, haze) become opaque (alpha ≥ 0.5) or clear;
    thin anti-aliased rims along edges keep their value so outlines stay smooth.
    """
    partial = ((alpha > 0.02) & (alpha < 0.98)).astype(np.uint8)
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * edge_px + 1, 2 * edge_px + 1))
    areas = (cv2.dilate(cv2.morphologyEx(partial, cv2.MORPH_OPEN, k), k) & partial).astype(bool)
    out = alpha.astype(np.float32, copy=True)
    out[areas] = (alpha[areas] >= 0.5).astype(np.float32)
    return out


def alpha_to_u8(alpha: np.ndarray) -> np.ndarray:
    """Float alpha in [0, 1] → uint8, as :func:`compose` writes it (float32: one compiled pass, no
    full-size float temporaries: three of them were 300 MB at 25 MP)."""
    if alpha.dtype == np.float32 and alpha.ndim == 2 and alpha.flags.c_contiguous:
        from .kernels import alpha_u8

        out = np.empty(alpha.shape, np.uint8)
        alpha_u8(alpha, out)
        return out
    return np.clip(alpha * 255.0 + 0.5, 0, 255).astype(np.uint8)


def decode_background(data: bytes, max_megapixels: float = 50.0) -> Image.Image:
    """Decode background image bytes (any accepted input type) to RGB/RGBA."""
    from .decode import decode

    try:
        return decode(data, max_megapixels=max_megapixels)
    except ApiError as e:
        raise ApiError(e.code, detail=f"Background image: {e.detail or e.title}") from None


def cover_fit(bg: Image.Image, size: tuple[int, int]) -> np.ndarray:
    """Resize to cover ``size`` keeping aspect, centre-crop; unchanged when already that size.

    Returns H×W×4 uint8 (RGBA; alpha 255 for opaque backgrounds).
    """
    w, h = size
    if bg.mode != "RGBA":
        bg = bg.convert("RGBA")
    bw, bh = bg.size
    if (bw, bh) != (w, h):
        s = max(w / bw, h / bh)
        nw, nh = max(w, round(bw * s)), max(h, round(bh * s))
        bg = bg.resize((nw, nh), Image.Resampling.LANCZOS if s < 1 else Image.Resampling.BICUBIC,
                       reducing_gap=3.0 if s < 1 else None)
        left, top = (nw - w) // 2, (nh - h) // 2
        bg = bg.crop((left, top, left + w, top + h))
    return np.asarray(bg)


def compose(
    fg: np.ndarray,
    alpha: np.ndarray,
    *,
    channels: str = "rgba",
    bg_color: tuple[int, int, int, int] | None = None,
    bg_image: np.ndarray | None = None,
    shadow_layer: np.ndarray | None = None,
) -> np.ndarray:
    """Result pixels: RGBA uint8 (H×W×4), or an L matte (H×W uint8) for ``channels=alpha``.

    ``fg``: H×W×3 uint8 edge-corrected colour; ``alpha``: H×W float32 in [0, 1];
    ``bg_image``: H×W×3/4 uint8 already fitted (see :func:`cover_fit`);
    ``shadow_layer``: H×W float opacity in [0, 1] of a black shadow under the subject.
    """
    h, w = alpha.shape
    if fg.shape[:2] != (h, w):
        raise ValueError("fg and alpha differ in size")
    if channels == "alpha":
        return alpha_to_u8(alpha)
    if bg_image is not None and bg_image.shape[:2] != (h, w):
        raise ValueError("bg_image must already have the canvas size")
    out = np.empty((h, w, 4), np.uint8)
    if bg_color is None and bg_image is None and shadow_layer is None:
        if fg.flags.c_contiguous and fg.shape[2] == 3 and alpha.flags.c_contiguous and alpha.dtype == np.float32:
            from .kernels import rgba_rows

            rgba_rows(fg, alpha, 0, h, out)  # one pass, the same bytes as below
            return out
        out[..., :3] = fg
        out[..., 3] = alpha_to_u8(alpha)
        return out
    for y0 in range(0, h, STRIP_ROWS):
        y1 = min(h, y0 + STRIP_ROWS)
        a = alpha[y0:y1, :, None].astype(np.float32)
        f = fg[y0:y1].astype(np.float32)
        # background, premultiplied
        if bg_image is not None:
            b = bg_image[y0:y1].astype(np.float32)
            if b.shape[2] == 4:
                ba = b[..., 3:4] / 255.0
                bp = b[..., :3] * ba
            else:
                ba = np.ones_like(a)
                bp = b
        elif bg_color is not None:
            ba = np.full_like(a, bg_color[3] / 255.0)
            bp = np.broadcast_to(np.asarray(bg_color[:3], np.float32) * (bg_color[3] / 255.0), f.shape).copy()
        else:
            ba = np.zeros_like(a)
            bp = np.zeros_like(f)
        if shadow_layer is not None:
            s = np.clip(shadow_layer[y0:y1, :, None].astype(np.float32), 0.0, 1.0)
            bp *= 1.0 - s  # black shadow: premultiplied colour 0
            ba = s + ba * (1.0 - s)
        cp = f * a + bp * (1.0 - a)
        ao = a + ba * (1.0 - a)
        rgb = np.where(ao > 1e-4, cp / np.maximum(ao, 1e-4), f)
        out[y0:y1, :, :3] = np.clip(rgb + 0.5, 0, 255).astype(np.uint8)
        out[y0:y1, :, 3] = np.clip(ao[..., 0] * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return out


def load_background(data: bytes, size: tuple[int, int], max_megapixels: float = 50.0) -> np.ndarray:
    """Background bytes → cover-fitted RGBA array of ``size``."""
    return cover_fit(decode_background(data, max_megapixels), size)


__all__ = ["alpha_to_u8", "compose", "cover_fit", "decode_background", "harden_alpha", "load_background"]
