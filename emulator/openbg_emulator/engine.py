"""The engine: one in-process entry point for the service and the CLI (no HTTP).

``probe(data) -> ImageInfo``, ``quote(info, options) -> Quote``,
``remove(data, options, *, bg_image=None, settings=None) -> Result``.

``remove`` is thread-safe: the ONNX session is shared (ORT allows concurrent runs) and every other
step works on its own arrays. Masks are cached in a memory-bounded LRU keyed by
(sha256 of the image bytes, model, quality, roi), so the same image with another format, size or
background costs no inference.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from PIL import Image

from .errors import ApiError
from .options import Options
from .pipeline import classify as _classify_mod
from .pipeline import compose as _compose
from .pipeline import decode as _decode
from .pipeline import encode as _encode
from .pipeline import layout as _layout
from .pipeline import refine as _refine
from .pipeline import segment as _segment
from .pipeline import shadow as _shadow
from .settings import Settings

log = logging.getLogger("openbg_emulator.engine")

CLASSIFY_SIZE = 512  # long side of the copy given to classify()
# request `type` hint → level-2 class reported in X-Type
_HINT_CLASS = {
    "person": "person", "product": "product", "car": "car", "animal": "animal",
    "graphic": "graphics", "transportation": "transportation",
}
# level-2 class → key of the per-type shadow maps
_SHADOW_KEY = {
    "person": "person", "product": "product", "animal": "animal", "car": "car", "car_part": "car",
    "car_interior": "other", "transportation": "transportation", "graphics": "graphic", "other": "other",
}


@dataclass(frozen=True)
class ImageInfo:
    width: int
    height: int
    format: str  # "jpeg" | "png" | "webp"


@dataclass(frozen=True)
class Quote:
    width: int  # output size the request will deliver (before crop)
    height: int
    credits: float  # 0.25 for ≤ preview tier, else 1
    max_width: int  # largest output at size=50MP (X-Max-*)
    max_height: int
    rate_cost: int  # ceil(input MP), ≥ 1
    preview: bool  # result within the preview tier (free calls apply)


@dataclass(frozen=True)
class Foreground:
    top: int
    left: int
    width: int
    height: int


@dataclass(frozen=True)
class Result:
    content: bytes
    content_type: str
    width: int
    height: int
    foreground: Foreground
    type: str | None  # X-Type at the requested level; None for type_level=none
    credits: float
    max_width: int
    max_height: int
    format: str  # png | jpg | webp | zip
    input_width: int = 0
    input_height: int = 0
    preview: bool = False
    cached_mask: bool = False


# --------------------------------------------------------------------------- settings & cache
@functools.lru_cache(maxsize=1)
def default_settings() -> Settings:
    return Settings.from_env()


@dataclass
class _Entry:
    mask: np.ndarray  # float16 model-resolution alpha
    cls: str | None  # level-2 class from classify(), when computed


class MaskCache:
    """Thread-safe LRU of model masks bounded by total bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._d: OrderedDict[tuple[object, ...], _Entry] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple[object, ...]) -> _Entry | None:
        with self._lock:
            e = self._d.get(key)
            if e is None:
                self.misses += 1
                return None
            self._d.move_to_end(key)
            self.hits += 1
            return e

    def put(self, key: tuple[object, ...], entry: _Entry) -> None:
        size = entry.mask.nbytes
        if size > self.max_bytes:
            return
        with self._lock:
            old = self._d.pop(key, None)
            if old is not None:
                self._bytes -= old.mask.nbytes
            self._d[key] = entry
            self._bytes += size
            while self._bytes > self.max_bytes and self._d:
                _, ev = self._d.popitem(last=False)
                self._bytes -= ev.mask.nbytes

    def clear(self) -> None:
        with self._lock:
            self._d.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._d)


_caches: dict[int, MaskCache] = {}
_caches_lock = threading.Lock()


def mask_cache(settings: Settings) -> MaskCache:
    n = settings.mask_cache_mb * 1024 * 1024
    with _caches_lock:
        c = _caches.get(n)
        if c is None:
            c = _caches[n] = MaskCache(n)
        return c


# --------------------------------------------------------------------------- helper thread
_helper_pool: ThreadPoolExecutor | None = None
_helper_lock = threading.Lock()


def helper_pool(settings: Settings) -> Executor | None:
    """The executor that runs a request's steps on the other cores, or None to run them in order.

    OPENBG_PARALLEL_STEPS (default on): after the model, a request alone in the engine runs
    classification next to the refinement, gathers the foreground estimation's partial pixels and
    encodes ``alpha.png`` while the reduced-size solve runs, and finishes the full-resolution strips
    on two threads. With other requests in the engine (``models.requests_in_engine``) their work
    already fills the cores, so the steps run in order. Results are identical either way (tested).
    """
    from . import models

    if not settings.parallel_steps or models.requests_in_engine() > 1:
        return None
    cores = models.cores()
    if cores < 2:
        return None
    global _helper_pool
    with _helper_lock:
        if _helper_pool is None:
            _helper_pool = ThreadPoolExecutor(cores - 1, thread_name_prefix="openbg-step")
        return _helper_pool


# --------------------------------------------------------------------------- public API
def probe(data: bytes, settings: Settings | None = None) -> ImageInfo:
    """Type and upright size without decoding pixels.

    Raises ``file_too_large``, ``invalid_file_type``, ``resolution_too_high``, ``invalid_dimensions``.
    """
    s = settings or default_settings()
    if len(data) > s.max_upload_bytes:
        mb = s.max_upload_bytes / (1024 * 1024)
        raise ApiError("file_too_large", detail=f"File exceeds limit of {mb:g}MB")
    p = _decode.probe(data, s.max_megapixels)
    return ImageInfo(p.width, p.height, p.format)


def _output_size(info: ImageInfo, options: Options, s: Settings, has_bg_image: bool) -> tuple[int, int]:
    png = _layout.png_capped(options.format, options.channels, options.bg_color, has_bg_image)
    return _layout.output_size(info.width, info.height, options.size, png=png,
                               png_max_megapixels=s.png_max_megapixels)


def quote(info: ImageInfo, options: Options, settings: Settings | None = None) -> Quote:
    """What a request will deliver and cost, from the probe alone (crop may make it smaller)."""
    s = settings or default_settings()
    has_bg = options.bg_image is not None or options.bg_image_url is not None
    w, h = _output_size(info, options, s, has_bg)
    mw, mh = _layout.max_size(info.width, info.height)
    preview = _layout.is_preview(options.size, w, h)
    return Quote(w, h, 0.25 if preview else 1.0, mw, mh, _layout.rate_cost(info.width, info.height), preview)


def preview_model_size(width: int, height: int, settings: Settings) -> int | None:
    """The smaller model input for an output within the preview tier (≤ 0.25 MP), else None (native).

    OPENBG_PREVIEW_MODEL_SIZE (default 640; 0 turns it off). See docs/performance.md for its cost on
    the dev set.
    """
    if settings.preview_model_size and width * height <= _layout.PREVIEW_PIXELS:
        return settings.preview_model_size
    return None


def _remove_model_size(size: str, width: int, height: int, settings: Settings) -> int | None:
    """The model input for ``remove``: the preview one only for a preview-priced result. A photo that is
    itself within the preview tier but asked for at ``size=full`` (or regular, …) gets the native 1024
    run: at 640 the model loses whole parts or takes in shadows and bystanders on such photos (issue 18:
    dev IoU 0.892 vs 0.903, grabcut_37073 0.574 vs 0.970), and a 1024 run is the raw model's own cost."""
    return preview_model_size(width, height, settings) if _layout.is_preview(size, width, height) else None


def _classify(rgb: np.ndarray, alpha: np.ndarray, detector_rgb: np.ndarray | None = None) -> str:
    """Level-2 class of a ≤ CLASSIFY_SIZE copy (the caller sizes it); never fails a request."""
    try:
        return str(_classify_mod.classify(rgb, alpha, detector_rgb=detector_rgb))
    except Exception:  # classification never fails a request
        log.exception("classify failed")
        return "other"


def _level(cls2: str, level: str) -> str | None:
    if level == "none":
        return None
    return _classify_mod.to_level1(cls2) if level == "1" else cls2


def _composite_white(im: Image.Image) -> np.ndarray:
    """RGB array; RGBA is flattened on white (what the model sees for transparent pixels)."""
    if im.mode == "RGBA":
        bg = Image.new("RGB", im.size, (255, 255, 255))
        bg.paste(im, mask=im.getchannel("A"))
        return np.asarray(bg)
    return np.asarray(im if im.mode == "RGB" else im.convert("RGB"))  # one copy, not two


def _resize(im: Image.Image, size: tuple[int, int]) -> Image.Image:
    return _decode.resize(im, size)


def model_mask(
    data: bytes,
    img: Image.Image,
    roi: tuple[int, int, int, int] | None,
    info: ImageInfo,
    quality: str,
    settings: Settings,
    *,
    use_cache: bool = True,
    want_class: bool = False,
    rgb: np.ndarray | None = None,
    model_size: int | None = None,
) -> tuple[np.ndarray, str | None, bool]:
    """(model-resolution alpha float32 for the roi, level-2 class or None, cache hit).

    ``rgb``: ``_composite_white(img)`` when the caller already has it (used when ``roi`` is None).
    ``model_size``: a smaller model input (previews) when the model takes it; a cached mask made at
    the native size is used instead when there is one.
    """
    mask, cls, hit = _model_mask(data, img, roi, info, quality, settings, use_cache=use_cache,
                                 want_class=want_class, rgb=rgb, model_size=model_size)
    return mask, cls(), hit


def _model_mask(
    data: bytes,
    img: Image.Image,
    roi: tuple[int, int, int, int] | None,
    info: ImageInfo,
    quality: str,
    settings: Settings,
    *,
    use_cache: bool = True,
    want_class: bool = False,
    rgb: np.ndarray | None = None,
    model_size: int | None = None,
    parallel: bool = False,
) -> tuple[np.ndarray, Callable[[], str | None], bool]:
    """:func:`model_mask` with the class as a callable: with ``parallel`` and :func:`helper_pool` free
    after the model, classification runs there (next to the caller's refinement) and the callable
    waits for it."""
    from .models import get_segmenter

    seg = get_segmenter(None, settings)
    size = _segment.model_size(seg, model_size)
    base = (hashlib.sha256(data).hexdigest(), str(seg.path), quality, roi)
    key = base + (size,)
    cache = mask_cache(settings) if use_cache and settings.mask_cache_mb > 0 else None
    entry = cache.get(key) if cache is not None else None
    if entry is None and cache is not None and size != seg.input_size[0]:
        entry = cache.get(base + (seg.input_size[0],))  # a full-size mask serves a preview too
    hit = entry is not None
    src_rgb = rgb if roi is None else None
    if entry is None:
        if src_rgb is None:
            src_rgb = _composite_white(img if roi is None else img.crop(
                _layout.scale_box(roi, (info.width, info.height), img.size)))
        mask = _segment.segment(seg, src_rgb, quality, size=size)
        entry = _Entry(mask.astype(np.float16), None)
        if cache is not None:
            cache.put(key, entry)
    mask = entry.mask.astype(np.float32)
    if not (want_class and entry.cls is None):
        cls = entry.cls
        return mask, lambda: cls, hit
    if src_rgb is None:
        src_rgb = _composite_white(img if roi is None else img.crop(
            _layout.scale_box(roi, (info.width, info.height), img.size)))
    e, cls_rgb = entry, src_rgb

    def run_classify() -> str:
        # classify() sees a ≤ CLASSIFY_SIZE copy and the mask sized for it directly (no full-resolution
        # float copy of the mask: 48 MB at 12 MP, 200 MB at 50 MP); the detector a ≥ 512 px one.
        small, a, det_rgb = _classify_mod.work_copies(cls_rgb, mask, CLASSIFY_SIZE)
        e.cls = _classify(small, a, detector_rgb=det_rgb)
        return e.cls

    pool = helper_pool(settings) if parallel else None  # decided now: requests may have come meanwhile
    if pool is None:
        cls_now = run_classify()
        return mask, lambda: cls_now, hit
    fut = pool.submit(run_classify)
    return mask, fut.result, hit


def _alpha_side(alpha: np.ndarray) -> tuple[tuple[int, int, int, int] | None, bytes]:
    """(subject box or None when there is no subject, alpha.png) of a plain ZIP's alpha."""
    if not _layout.has_foreground(alpha):
        return None, b""
    return _layout.foreground_box(alpha), _encode.encode_png(_compose.alpha_to_u8(alpha))


def _plain_zip_result(fg: np.ndarray, subject: tuple[int, int, int, int] | None, alpha_png: bytes,
                      get_cls: Callable[[], str | None], options: Options, info: ImageInfo, w: int, h: int,
                      hit: bool) -> Result:
    """The ZIP of :func:`remove`'s plain case: what compose + encode make of (fg, alpha) with no
    background, shadow or layout (color.jpg = the foreground colour, alpha.png = the alpha), byte for byte."""
    if subject is None:
        get_cls()
        raise ApiError("unknown_foreground")
    content = _encode.zip_members(_encode.encode_jpg_rgb(fg), alpha_png)
    cls2 = get_cls() or "other"
    mw, mh = _layout.max_size(info.width, info.height)
    preview = _layout.is_preview(options.size, w, h)
    return Result(
        content=content,
        content_type=_encode.CONTENT_TYPES["zip"],
        width=w,
        height=h,
        foreground=Foreground(top=subject[1], left=subject[0], width=subject[2], height=subject[3]),
        type=_level(cls2, options.type_level),
        credits=0.25 if preview else 1.0,
        max_width=mw,
        max_height=mh,
        format="zip",
        input_width=info.width,
        input_height=info.height,
        preview=preview,
        cached_mask=hit,
    )


def matte(
    data: bytes,
    *,
    quality: str | None = None,
    size: tuple[int, int] | None = None,
    settings: Settings | None = None,
    use_cache: bool = True,
    foreground: bool = True,
    model_size: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(alpha float32 [0, 1], edge-corrected foreground uint8) at ``size`` (default: input size).

    The evaluation command and the contact sheet use it; no layout, no encoding.
    ``foreground=False`` skips the colour estimation (the second item is the plain RGB).
    ``model_size``: model input (default: the native 1024; ``remove`` uses the preview size for small outputs).
    """
    s = settings or default_settings()
    info = probe(data, s)
    q = quality or s.quality
    w, h = size or (info.width, info.height)
    img = _decode.decode(data, min_size=(max(w, min(info.width, 1024)), max(h, min(info.height, 1024))),
                         max_megapixels=s.max_megapixels)
    mask, _, _ = model_mask(data, img, None, info, q, s, use_cache=use_cache, model_size=model_size)
    work = _resize(img, (w, h))
    rgb = _composite_white(work)
    alpha, fg = _refine.refine(rgb, mask, q, foreground=foreground)
    if work.mode == "RGBA":
        alpha *= np.asarray(work.getchannel("A"), np.float32) / 255.0
    return alpha, fg


def remove(
    data: bytes,
    options: Options,
    *,
    bg_image: bytes | None = None,
    settings: Settings | None = None,
    use_cache: bool = True,
) -> Result:
    """Remove the background of ``data`` as ``options`` ask. Raises :class:`ApiError`."""
    s = settings or default_settings()
    info = probe(data, s)
    bg_bytes = bg_image if bg_image is not None else options.bg_image
    q = options.quality or s.quality
    w, h = _output_size(info, options, s, bg_bytes is not None)
    roi = _layout.roi_box(options.roi, info.width, info.height)
    if bg_bytes is not None and options.channels == "rgba":
        try:  # a bad background fails before any inference
            _decode.probe(bg_bytes, s.max_megapixels)
        except ApiError as e:
            raise ApiError(e.code, detail=f"Background image: {e.detail or e.title}") from None

    # Decode once, big enough for the model (≥ 1024 px a side when the input has it) and the output.
    min_size = None if roi is not None else (max(w, min(info.width, 1024)), max(h, min(info.height, 1024)))
    img = _decode.decode(data, min_size=min_size, max_megapixels=s.max_megapixels)

    shadow_wanted = options.channels == "rgba" and any(k != "none" for k in options.shadow.kinds.values())
    # the shadow needs the class only when it differs by type (shadow_type=auto, per-type maps)
    shadow_by_type = shadow_wanted and len({(options.shadow.kinds[k], options.shadow.opacity.get(k))
                                            for k in options.shadow.kinds}) > 1
    need_class = options.type == "auto" and (options.type_level != "none" or shadow_by_type)
    # At full output size the model input and the working image are one composite: make it once.
    full_rgb = _composite_white(img) if roi is None and img.size == (w, h) else None
    mask, get_cls, hit = _model_mask(data, img, roi, info, q, s, use_cache=use_cache, want_class=need_class,
                                     rgb=full_rgb, model_size=_remove_model_size(options.size, w, h, s), parallel=True)
    if not _layout.has_foreground(mask):
        get_cls()  # let a classification in the helper finish before failing
        raise ApiError("unknown_foreground")

    # Working image and full-frame alpha at the output resolution.
    work = _resize(img, (w, h))
    del img
    rgb = full_rgb if full_rgb is not None else _composite_white(work)
    del full_rgb
    in_alpha = np.asarray(work.getchannel("A")) if work.mode == "RGBA" else None
    del work
    want_fg = options.channels == "rgba"
    pool = helper_pool(s)  # after the model: other requests may have come into the engine meanwhile
    # A ZIP of the plain cut-out (no background, shadow, layout or hint): alpha.png is encoded from
    # the refined alpha in the helper while the foreground colour is estimated here.
    plain_zip = (pool is not None and roi is None and in_alpha is None and want_fg and options.format == "zip"
                 and options.type == "auto" and options.semitransparency and not options.crop
                 and options.scale is None and options.position is None and bg_bytes is None
                 and options.bg_color is None and not shadow_wanted)
    if plain_zip:
        assert pool is not None
        alpha, _ = _refine.refine(rgb, mask, q, foreground=False, pool=pool)
        alpha_side = pool.submit(_alpha_side, alpha)  # the box and alpha.png, while the colour is estimated
        fg = _refine.estimate_foreground(rgb, alpha, _refine.foreground_pixels(q), pool=pool)
        del rgb
        subject, alpha_png = alpha_side.result()
        return _plain_zip_result(fg, subject, alpha_png, get_cls, options, info, w, h, hit)
    if roi is None:
        alpha, fg = _refine.refine(rgb, mask, q, foreground=want_fg, pool=pool)
    else:
        x1, y1, x2, y2 = _layout.scale_box(roi, (info.width, info.height), (w, h))
        a_roi, fg_roi = _refine.refine(np.ascontiguousarray(rgb[y1:y2, x1:x2]), mask, q,
                                        foreground=want_fg, pool=pool)
        alpha = np.zeros((h, w), np.float32)
        alpha[y1:y2, x1:x2] = a_roi
        fg = rgb.copy()
        fg[y1:y2, x1:x2] = fg_roi
        del a_roi, fg_roi
    del rgb
    if options.type != "auto":
        cls2: str = _HINT_CLASS.get(options.type, "other")
    else:
        cls2 = get_cls() or "other"
    if in_alpha is not None:
        alpha *= in_alpha.astype(np.float32) * (1.0 / 255.0)
    if options.type != "auto":
        alpha = np.asarray(_classify_mod.select_subject(alpha, fg, options.type), np.float32)
    if not options.semitransparency:
        alpha = _compose.harden_alpha(alpha)
    subject = _layout.foreground_box(alpha)
    if subject is None or not _layout.has_foreground(alpha):
        raise ApiError("unknown_foreground")

    # Layout: crop, margins, scale, position.
    placement = _layout.plan((w, h), subject, crop=options.crop, crop_margin=options.crop_margin,
                             scale=options.scale, position=options.position)
    fg, alpha = _layout.apply(placement, fg, alpha)
    cw, ch = placement.canvas
    if _layout.png_capped(options.format, options.channels, options.bg_color, bg_bytes is not None):
        cap = int(s.png_max_megapixels * 1_000_000)
        if cw * ch > cap:  # crop margins can grow the canvas past the PNG cap
            import cv2

            cw, ch = _layout.fit_pixels(cw, ch, cap)
            fg = cv2.resize(fg, (cw, ch), interpolation=cv2.INTER_AREA)
            alpha = np.clip(cv2.resize(alpha, (cw, ch), interpolation=cv2.INTER_AREA), 0, 1)
    box = _layout.foreground_box(alpha) or (0, 0, 0, 0)

    # Shadow, background, channels.
    shadow_layer = None
    if shadow_wanted:
        key = _SHADOW_KEY.get(cls2, "other")
        kind = options.shadow.kinds.get(key, "none")
        if kind != "none":
            shadow_layer = _shadow.render_shadow(alpha, kind, float(options.shadow.opacity.get(key, 50)))
    bg_arr = None
    if bg_bytes is not None and options.channels == "rgba":
        bg_arr = _compose.load_background(bg_bytes, (cw, ch), s.max_megapixels)
    pixels = _compose.compose(fg, alpha, channels=options.channels, bg_color=options.bg_color,
                              bg_image=bg_arr, shadow_layer=shadow_layer)
    del fg, alpha, bg_arr, shadow_layer
    enc = _encode.encode(pixels, options.format, pool=helper_pool(s))
    mw, mh = _layout.max_size(info.width, info.height)
    preview = _layout.is_preview(options.size, w, h)
    return Result(
        content=enc.content,
        content_type=enc.content_type,
        width=cw,
        height=ch,
        foreground=Foreground(top=box[1], left=box[0], width=box[2], height=box[3]),
        type=_level(cls2, options.type_level),
        credits=0.25 if preview else 1.0,
        max_width=mw,
        max_height=mh,
        format=enc.format,
        input_width=info.width,
        input_height=info.height,
        preview=preview,
        cached_mask=hit,
    )
