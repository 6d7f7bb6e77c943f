"""Matting / segmentation metrics and the evaluation loop behind ``openbg eval``.

Per image (prediction ``pred`` in [0, 1]; ground truth ``gt`` uint8, 255 = foreground):

* **IoU** of ``pred > 0.5`` against ``gt/255 > 0.5``; for ``gt_kind=binary_band`` the pixels where
  ``gt == 128`` (the uncertain band) are ignored. Both empty → 1.
* **MAE**: mean |pred − gt/255| over the scored pixels.
* **edge MAE**: the same within 15 px (Euclidean) of the GT boundary — the pixels of the GT mask
  (``gt/255 > 0.5``) with a 4-neighbour on the other side, on both sides.
* on ``alpha`` rows, **SAD/1000** = Σ|pred − gt/255| / 1000 and **gradient error/1000** =
  Σ(‖∇G_σ pred‖ − ‖∇G_σ gt‖)² / 1000 with Gaussian-derivative filters, σ = 1.4 (as the
  Deep Image Matting benchmark code computes it, on alpha in [0, 1]).
"""

from __future__ import annotations

import csv
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

EDGE_RADIUS = 15
GRAD_SIGMA = 1.4
BAND_VALUE = 128


@dataclass
class ImageScore:
    name: str
    category: str
    gt_kind: str
    iou: float
    mae: float
    edge_mae: float  # NaN when the GT has no boundary
    sad: float | None  # /1000, alpha rows only
    grad: float | None  # /1000, alpha rows only
    seconds: float = 0.0


def boundary(mask: np.ndarray) -> np.ndarray:
    """Pixels of a boolean mask that have a 4-neighbour with the other value (both sides)."""
    m = mask.astype(bool)
    b = np.zeros_like(m)
    dv = m[1:, :] != m[:-1, :]
    dh = m[:, 1:] != m[:, :-1]
    b[1:, :] |= dv
    b[:-1, :] |= dv
    b[:, 1:] |= dh
    b[:, :-1] |= dh
    return b


def edge_region(mask: np.ndarray, radius: float = EDGE_RADIUS) -> np.ndarray:
    """Pixels within ``radius`` px (Euclidean) of the mask's boundary."""
    b = boundary(mask)
    if not b.any():
        return np.zeros_like(b)
    dist = cv2.distanceTransform((~b).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return dist <= radius


def gauss_gradient_kernel(sigma: float = GRAD_SIGMA, epsilon: float = 1e-2) -> np.ndarray:
    """The x-derivative-of-Gaussian kernel of the matting benchmark's ``gaussgradient`` (Rhemann et
    al. 2009; also Deep Image Matting's evaluation code): half size
    ``ceil(σ·sqrt(−2·ln(sqrt(2π)·σ·ε)))``, entries ``g(y)·g'(x)``, normalised to unit L2 norm."""
    half = math.ceil(sigma * math.sqrt(-2.0 * math.log(math.sqrt(2.0 * math.pi) * sigma * epsilon)))
    u = np.arange(-half, half + 1, dtype=np.float64)
    g = np.exp(-(u**2) / (2 * sigma**2)) / (sigma * math.sqrt(2 * math.pi))
    dg = -u * g / sigma**2
    hx = g[:, None] * dg[None, :]
    return hx / np.sqrt((hx * hx).sum())


def gaussian_gradient_magnitude(a: np.ndarray, sigma: float = GRAD_SIGMA) -> np.ndarray:
    """|∇(G_σ * a)| with the benchmark's normalised kernel, replicate borders, convolution."""
    a = np.ascontiguousarray(a, dtype=np.float64)
    hx = gauss_gradient_kernel(sigma)
    # cv2.filter2D correlates; flipping the kernel makes it a convolution (as MATLAB's imfilter 'conv').
    gx = cv2.filter2D(a, cv2.CV_64F, np.ascontiguousarray(hx[::-1, ::-1]), borderType=cv2.BORDER_REPLICATE)
    gy = cv2.filter2D(a, cv2.CV_64F, np.ascontiguousarray(hx.T[::-1, ::-1]), borderType=cv2.BORDER_REPLICATE)
    return np.sqrt(gx * gx + gy * gy)


def score(pred: np.ndarray, gt: np.ndarray, gt_kind: str, *, name: str = "", category: str = "") -> ImageScore:
    """Score one prediction (float in [0, 1]) against a uint8 ground truth of the same size."""
    if pred.shape != gt.shape:
        raise ValueError(f"{name}: prediction {pred.shape} and ground truth {gt.shape} differ")
    p = pred.astype(np.float64)
    g = gt.astype(np.float64) / 255.0
    valid = (gt != BAND_VALUE) if gt_kind == "binary_band" else np.ones(gt.shape, bool)
    pb, gb = p > 0.5, g > 0.5
    inter = np.count_nonzero(pb & gb & valid)
    union = np.count_nonzero((pb | gb) & valid)
    iou = 1.0 if union == 0 else inter / union
    err = np.abs(p - g)
    nvalid = np.count_nonzero(valid)
    mae = float(err[valid].sum() / nvalid) if nvalid else 0.0
    edge = edge_region(gb) & valid
    edge_mae = float(err[edge].mean()) if edge.any() else math.nan
    sad = grad = None
    if gt_kind == "alpha":
        sad = float(err.sum() / 1000.0)
        d = gaussian_gradient_magnitude(p) - gaussian_gradient_magnitude(g)
        grad = float((d * d).sum() / 1000.0)
    return ImageScore(name, category, gt_kind, float(iou), mae, edge_mae, sad, grad)


@dataclass
class Summary:
    n: int
    iou: float
    mae: float
    edge_mae: float
    sad: float | None
    grad: float | None
    seconds: float
    n_alpha: int = 0
    extra: dict[str, float] = field(default_factory=dict)


def _mean(xs: Iterable[float]) -> float:
    v = [x for x in xs if not math.isnan(x)]
    return float(sum(v) / len(v)) if v else math.nan


def summarize(scores: list[ImageScore]) -> Summary:
    alpha_rows = [s for s in scores if s.sad is not None]
    return Summary(
        n=len(scores),
        iou=_mean(s.iou for s in scores),
        mae=_mean(s.mae for s in scores),
        edge_mae=_mean(s.edge_mae for s in scores),
        sad=_mean(s.sad for s in alpha_rows if s.sad is not None) if alpha_rows else None,
        grad=_mean(s.grad for s in alpha_rows if s.grad is not None) if alpha_rows else None,
        seconds=_mean(s.seconds for s in scores),
        n_alpha=len(alpha_rows),
    )


@dataclass(frozen=True)
class Row:
    name: str
    image: Path
    gt: Path
    category: str
    gt_kind: str


def read_manifest(root: Path) -> list[Row]:
    path = root / "manifest.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: the folder needs a manifest.csv (name,image,gt,category,gt_kind,...)")
    rows = []
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            rows.append(Row(r["name"], root / r["image"], root / r["gt"], r["category"], r["gt_kind"]))
    return rows


def load_gt(path: Path) -> np.ndarray:
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im)
        if im.mode in ("RGBA", "LA"):
            im = im.getchannel("A")
        return np.asarray(im.convert("L"))


def evaluate(
    rows: list[Row],
    predict: Callable[[bytes, tuple[int, int]], np.ndarray],
    *,
    progress: Callable[[ImageScore], None] | None = None,
) -> list[ImageScore]:
    """Run ``predict(image_bytes, (w, h)) -> alpha`` on each row and score it; times each call."""
    out = []
    for row in rows:
        gt = load_gt(row.gt)
        data = row.image.read_bytes()
        t0 = time.perf_counter()
        pred = predict(data, (gt.shape[1], gt.shape[0]))
        dt = time.perf_counter() - t0
        s = score(pred, gt, row.gt_kind, name=row.name, category=row.category)
        s.seconds = dt
        out.append(s)
        if progress is not None:
            progress(s)
    return out


def table(scores: list[ImageScore]) -> list[tuple[str, Summary]]:
    """Per-category summaries (sorted by name) then ``overall``."""
    cats = sorted({s.category for s in scores})
    rows = [(c, summarize([s for s in scores if s.category == c])) for c in cats]
    rows.append(("overall", summarize(scores)))
    return rows


def format_table(scores: list[ImageScore], title: str = "") -> str:
    def f(x: float | None, d: int = 4) -> str:
        return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{d}f}"

    lines = []
    if title:
        lines.append(title)
    lines.append(f"{'category':<12} {'n':>3} {'IoU':>7} {'MAE':>7} {'edgeMAE':>8} {'SAD/1k':>8} {'grad/1k':>8} {'s/img':>6}")
    for name, s in table(scores):
        lines.append(
            f"{name:<12} {s.n:>3} {f(s.iou):>7} {f(s.mae):>7} {f(s.edge_mae):>8} {f(s.sad, 1):>8} "
            f"{f(s.grad, 1):>8} {f(s.seconds, 2):>6}"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------- reference runs (issue 18)
#: an image counts as worse than the reference when its IoU is lower by more than this
WORSE_BY = 0.02


def raw_predictor(segmenter: Any) -> Callable[[bytes, tuple[int, int]], np.ndarray]:
    """The raw model as a reference: the photo stretched to the model's square input, its output
    resized back bilinearly to the scored size, no other processing (the figure of issue 6/18)."""
    from .pipeline import decode as _decode
    from .pipeline.segment import model_input

    def predict(data: bytes, size: tuple[int, int]) -> np.ndarray:
        img = _decode.decode(data)
        if img.mode == "RGBA":  # as the engine: transparency over white for the model
            from PIL import Image

            bg = Image.new("RGBA", img.size, (255, 255, 255, 255))
            img = Image.alpha_composite(bg, img)
        rgb = np.asarray(img.convert("RGB"))
        a = segmenter.predict(model_input(rgb, segmenter.input_size))
        return np.clip(cv2.resize(np.asarray(a, np.float32), size, interpolation=cv2.INTER_LINEAR), 0.0, 1.0)

    return predict


def load_reference(path: Path) -> dict[str, float]:
    """Per-image IoU of a saved run: ``openbg eval --json`` output (its ``images``) or a CSV with
    ``name`` and ``iou`` columns."""
    text = path.read_text()
    if path.suffix.lower() == ".json" or text.lstrip().startswith("{"):
        import json

        doc = json.loads(text)
        images = doc.get("images") if isinstance(doc, dict) else None
        if not isinstance(images, list):
            raise ValueError(f"{path}: not an `openbg eval --json` output (no \"images\" list)")
        return {str(i["name"]): float(i["iou"]) for i in images}
    rows = list(csv.DictReader(text.splitlines()))
    if not rows or "name" not in rows[0] or "iou" not in rows[0]:
        raise ValueError(f"{path}: a reference CSV needs `name` and `iou` columns")
    return {r["name"]: float(r["iou"]) for r in rows}


@dataclass(frozen=True)
class Worse:
    name: str
    category: str
    reference: float
    iou: float

    @property
    def delta(self) -> float:
        return self.iou - self.reference


def compare(scores: list[ImageScore], reference: dict[str, float], worse_by: float = WORSE_BY
            ) -> tuple[list[Worse], list[str]]:
    """(images whose IoU is below the reference's by more than ``worse_by``, worst first; names of
    scored images the reference lacks)."""
    worse = [Worse(s.name, s.category, reference[s.name], s.iou) for s in scores
             if s.name in reference and s.iou < reference[s.name] - worse_by]
    missing = [s.name for s in scores if s.name not in reference]
    return sorted(worse, key=lambda w: w.delta), missing


def format_comparison(scores: list[ImageScore], reference: dict[str, float], label: str,
                      worse_by: float = WORSE_BY) -> str:
    worse, missing = compare(scores, reference, worse_by)
    both = [s for s in scores if s.name in reference]
    lines = [(f"against {label}: {len(both)} images, mean IoU {_mean(reference[s.name] for s in both):.4f} (reference)"
             f" -> {_mean(s.iou for s in both):.4f}; {len(worse)} worse by more than {worse_by:g} IoU")]
    for w in worse:
        lines.append(f"  {w.name:<40} {w.category:<10} {w.reference:.4f} -> {w.iou:.4f} ({w.delta:+.4f})")
    if missing:
        lines.append(f"  not in the reference: {', '.join(missing)}")
    return "\n".join(lines)
