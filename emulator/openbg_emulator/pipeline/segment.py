"""Segmentation with IS-Net: any RGB image → alpha in [0, 1] at the model's resolution."""

from __future__ import annotations

from typing import Protocol

import cv2
import numpy as np

#: a source image at least this large a side is enough for the model (IS-Net takes 1024²)
MODEL_SOURCE_MIN = 1024


class SegmenterLike(Protocol):
    input_size: tuple[int, int]

    def predict(self, rgb: np.ndarray) -> np.ndarray: ...


def model_size(segmenter: SegmenterLike, size: int | None) -> int:
    """The square input ``segment`` will use: ``size`` when the model takes it, else the native one."""
    w, h = segmenter.input_size
    if size is None or size == w or w != h:
        return w
    supports = getattr(segmenter, "supports", None)
    return size if callable(supports) and supports(size) else w


def model_input(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Stretch ``rgb`` (H×W×3 uint8) to the model's ``size`` (w, h): area filter down, bilinear up."""
    h, w = rgb.shape[:2]
    if (w, h) == size:
        return np.ascontiguousarray(rgb)
    interp = cv2.INTER_AREA if (w >= size[0] and h >= size[1]) else cv2.INTER_LINEAR
    return cv2.resize(np.ascontiguousarray(rgb), size, interpolation=interp)


def segment(segmenter: SegmenterLike, rgb: np.ndarray, quality: str = "balanced", *,
            size: int | None = None) -> np.ndarray:
    """Alpha (float32 in [0, 1]) at the model resolution for the whole of ``rgb`` (stretched coordinates).

    ``size``: a smaller square model input (e.g. 512 for previews) when the model takes it
    (:func:`model_size`); the native input otherwise.

    The framing and test-time passes per ``quality`` are :func:`openbg_emulator.pipeline.matting.segment_alpha`'s
    (aspect-kept, padded input; a flipped second pass for ``best``). The caller maps the result back to any
    resolution with :func:`openbg_emulator.pipeline.refine.refine`.
    """
    from .matting import segment_alpha

    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError("segment expects an H×W×3 uint8 image")
    w, h = segmenter.input_size
    if w != h:  # a model with a non-square input: plain stretching
        alpha = segmenter.predict(model_input(rgb, segmenter.input_size))
        return np.clip(alpha, 0.0, 1.0).astype(np.float32, copy=False)
    alpha = segment_alpha(segmenter.predict, rgb, quality, size=model_size(segmenter, size))  # type: ignore[arg-type]
    return np.clip(alpha, 0.0, 1.0).astype(np.float32, copy=False)
