"""The engine: removal in-process, for the service and the CLI (no HTTP).

:class:`Engine` is built from :class:`~openbg_emulator.settings.Settings` and owns everything a removal
shares across calls: the model sessions (:class:`~openbg_emulator.segmenter.Segmenter`), the subject-type
detector, the second opinion (U²-Net-small), the mask cache, the helper threads and the count of requests in the engine. Its methods:
``probe(data) -> ImageInfo``, ``plan(info, options) -> Plan`` (:mod:`openbg_emulator.planning`),
``remove(data, options, *, plan=None, bg_image=None) -> Result``, ``matte(...)`` (evaluation),
``warmup()``, ``runtimes()``; ``request()`` counts a request in the engine while it runs.

``remove`` is thread-safe: the model sessions allow concurrent runs and every other step works on its
own arrays. Masks are cached in a memory-bounded LRU keyed by (sha256 of the image bytes, model,
quality, roi, model input size), so the same image with another format, size or background costs no
inference.

Process-wide state that stays outside any engine, on purpose: OpenVINO's ``Core`` per compiled-model
cache directory (:mod:`openbg_emulator.runtime`: one per process, as OpenVINO recommends) and numba's
compiled kernels (:mod:`openbg_emulator.pipeline.matting`). Everything else belongs to an engine.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from PIL import Image

from . import planning
from .errors import ApiError
from .options import Options
from .pipeline import classify as _classify_mod
from .pipeline import compose as _compose
from .pipeline import decode as _decode
from .pipeline import encode as _encode
from .pipeline import kernels as _kernels
from .pipeline import layout as _layout
from .pipeline import refine as _refine
from .pipeline import second_opinion as _second
from .pipeline import segment as _segment
from .pipeline import shadow as _shadow
from .planning import ImageInfo, Plan
from .segmenter import Segmenter, concurrency, cores, load_segmenter
from .settings import Settings

log = logging.getLogger("openbg_emulator.engine")

CLASSIFY_SIZE = 512  # long side of the copy given to classify()
#: outputs this large give the model's kept activations back before the steps after it (OpenVINO: ~180 MB;
#: the next run allocates them again, ~40 ms): a 25 MP ZIP's working arrays need ~0.5 GB
RELEASE_MODEL_MEMORY_PIXELS = 20_000_000
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


# --------------------------------------------------------------------------- mask cache
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


# --------------------------------------------------------------------------- pure helpers
def _level(cls2: str, level: str) -> str | None:
    if level == "none":
        return None
    return _classify_mod.to_level1(cls2) if level == "1" else cls2


def composite_white(im: Image.Image) -> np.ndarray:
    """RGB array; RGBA is flattened on white (what the model sees for transparent pixels)."""
    if im.mode == "RGBA":
        bg = Image.new("RGB", im.size, (255, 255, 255))
        bg.paste(im, mask=im.getchannel("A"))
        return np.asarray(bg)
    return np.asarray(im if im.mode == "RGB" else im.convert("RGB"))  # one copy, not two


def _resize(im: Image.Image, size: tuple[int, int]) -> Image.Image:
    return _decode.resize(im, size)


def _alpha_side(alpha: np.ndarray) -> tuple[tuple[int, int, int, int] | None, bytes]:
    """(subject box or None when there is no subject, alpha.png) of a plain ZIP's alpha."""
    if not _layout.has_foreground(alpha):
        return None, b""
    return _layout.foreground_box(alpha), _encode.encode_png(_compose.alpha_to_u8(alpha))


def _result(content: bytes, content_type: str, fmt: str, size: tuple[int, int], box: tuple[int, int, int, int],
            cls: str | None, plan: Plan, info: ImageInfo, hit: bool) -> Result:
    return Result(
        content=content,
        content_type=content_type,
        width=size[0],
        height=size[1],
        foreground=Foreground(top=box[1], left=box[0], width=box[2], height=box[3]),
        type=cls,
        credits=plan.credits,
        max_width=plan.max_width,
        max_height=plan.max_height,
        format=fmt,
        input_width=info.width,
        input_height=info.height,
        preview=plan.preview,
        cached_mask=hit,
    )


class EngineLike(Protocol):
    """What the service needs of an engine (:class:`Engine`; tests may give a fake)."""

    def probe(self, data: bytes) -> ImageInfo: ...

    def plan(self, info: ImageInfo, options: Options) -> Plan: ...

    def remove(self, data: bytes, options: Options, *, plan: Plan | None = None,
               bg_image: bytes | None = None) -> Result: ...

    def warmup(self, *, concurrent: bool = False) -> None: ...

    def runtimes(self) -> list[dict[str, Any]]: ...

    def request(self) -> contextlib.AbstractContextManager[None]: ...


# --------------------------------------------------------------------------- the engine
class Engine:
    """Background removal with one set of :class:`Settings`. Thread-safe; see the module docstring."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.cache = MaskCache(settings.mask_cache_mb * 1024 * 1024)
        self.concurrency = concurrency(settings)
        #: bounds the model runs at once, across this engine's segmenters
        self._slots = threading.BoundedSemaphore(self.concurrency.slots) if self.concurrency.slots > 0 else None
        self._segmenters: dict[str, Segmenter] = {}
        self._detector: Any = None  # CocoDetector | None once loaded
        self._detector_loaded = False
        self._second: Callable[[np.ndarray], np.ndarray] | None = None
        self._second_loaded = False
        self._lock = threading.Lock()
        self._helper: ThreadPoolExecutor | None = None
        self._requests = 0
        self._requests_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Engine(models={sorted(self._segmenters)}, cache={len(self.cache)} masks)"

    # ---------------------------------------------------------------- owned resources
    def segmenter(self, name: str | None = None) -> Segmenter:
        """The session of model ``name`` (default: OPENBG_MODEL, else ``medium``), loaded on first use."""
        key = name or ""
        seg = self._segmenters.get(key)
        if seg is None:
            with self._lock:
                seg = self._segmenters.get(key)
                if seg is None:
                    seg = load_segmenter(self.settings, name, semaphore=self._slots, load=self.requests_in_engine)
                    self._segmenters[key] = seg
        return seg

    def detector(self) -> Any:
        """The subject-type detector (:class:`openbg_emulator.detectors.CocoDetector`), or None when it is
        not installed or does not load (classification then works from image statistics alone)."""
        if not self._detector_loaded:
            with self._lock:
                if not self._detector_loaded:
                    from . import detectors

                    try:
                        self._detector = detectors.load_detector(self.settings)
                    except (OSError, RuntimeError, ValueError) as e:  # weights broken: statistics only
                        log.warning("subject-type detector not loaded (%s); classifying from statistics", e)
                        self._detector = None
                    self._detector_loaded = True
        return self._detector

    def second_opinion(self) -> Callable[[np.ndarray], np.ndarray] | None:
        """U²-Net-small's ``rgb -> alpha`` (OPENBG_SECOND_OPINION, :mod:`openbg_emulator.extra_models`),
        or None when the setting is off or the model is not installed (said once in the log, with the
        command that installs it)."""
        if not self.settings.second_opinion:
            return None
        if not self._second_loaded:
            with self._lock:
                if not self._second_loaded:
                    from . import extra_models

                    try:
                        sess = extra_models.load_session("u2netp", self.settings)
                        self._second = lambda rgb: extra_models.u2net_alpha(rgb, sess)
                    except (OSError, RuntimeError, ValueError) as e:  # not installed (ModelError) or broken
                        log.warning("OPENBG_SECOND_OPINION is on but U²-Net-small does not load (%s); running "
                                    "without it", e)
                    self._second_loaded = True
        return self._second

    def _graphics_veto(self, rgb: np.ndarray, alpha: np.ndarray, hint: str | None,
                       get_cls: Callable[[], str | None]) -> np.ndarray:
        """OPENBG_SECOND_OPINION (issue 18): :func:`pipeline.second_opinion.graphics_veto` with U²-Net-small
        on a graphics subject (the request's type hint, else the classifier's class)."""
        second = self.second_opinion()
        if second is None:
            return alpha
        return _second.graphics_veto(rgb, alpha, lambda: _HINT_CLASS.get(hint, "other") if hint else get_cls() or "other",
                                     second)

    @contextlib.contextmanager
    def request(self) -> Iterator[None]:
        """Count one request in the engine while the block runs (the server's worker pool wraps each
        engine call). In adaptive mode a model run uses all cores only when its request is alone."""
        with self._requests_lock:
            self._requests += 1
        try:
            yield
        finally:
            with self._requests_lock:
                self._requests -= 1

    def requests_in_engine(self) -> int:
        """Requests in the engine now, as counted by :meth:`request` (0 outside the server)."""
        return self._requests

    def helper_pool(self) -> Executor | None:
        """The executor that runs a request's steps on the other cores, or None to run them in order.

        OPENBG_PARALLEL_STEPS (default on): after the model, a request alone in the engine runs
        classification next to the refinement, gathers the foreground estimation's partial pixels and
        encodes ``alpha.png`` while the reduced-size solve runs, and finishes the full-resolution strips
        on two threads. With other requests in the engine their work already fills the cores, so the
        steps run in order. Results are identical either way (tested).
        """
        if not self.settings.parallel_steps or self._requests > 1:
            return None
        n = cores()
        if n < 2:
            return None
        if self._helper is None:
            with self._lock:
                if self._helper is None:
                    self._helper = ThreadPoolExecutor(n - 1, thread_name_prefix="openbg-step")
        return self._helper

    def warmup(self, *, concurrent: bool = False) -> None:
        """Load the model and the detector (and, with ``concurrent``, the session concurrent model runs
        use: :class:`~openbg_emulator.segmenter.Concurrency`), so that no request waits for them."""
        seg = self.segmenter()
        if concurrent:
            seg.ensure_concurrent()
        self.detector()
        self.second_opinion()

    def runtimes(self) -> list[dict[str, Any]]:
        """What runs each loaded model (:meth:`Segmenter.info`), for /readyz and the start-up log."""
        return [seg.info() for seg in list(self._segmenters.values())]

    def close(self) -> None:
        """Stop the helper threads (the sessions are freed with the engine)."""
        if self._helper is not None:
            self._helper.shutdown(wait=True)
            self._helper = None

    # ---------------------------------------------------------------- probe and plan
    def probe(self, data: bytes) -> ImageInfo:
        """Type and upright size without decoding pixels.

        Raises ``file_too_large``, ``invalid_file_type``, ``resolution_too_high``, ``invalid_dimensions``.
        """
        s = self.settings
        if len(data) > s.max_upload_bytes:
            mb = s.max_upload_bytes / (1024 * 1024)
            raise ApiError("file_too_large", detail=f"File exceeds limit of {mb:g}MB")
        p = _decode.probe(data, s.max_megapixels)
        return ImageInfo(p.width, p.height, p.format)

    def plan(self, info: ImageInfo, options: Options) -> Plan:
        """What ``options`` will deliver and cost for this input (:func:`openbg_emulator.planning.plan`)."""
        return planning.plan(info, options, self.settings)

    # ---------------------------------------------------------------- the model's mask
    def _classify(self, rgb: np.ndarray, alpha: np.ndarray, detector_rgb: np.ndarray | None = None) -> str:
        """Level-2 class of a ≤ CLASSIFY_SIZE copy (the caller sizes it); never fails a request."""
        try:
            return str(_classify_mod.classify(rgb, alpha, detector=self.detector(), detector_rgb=detector_rgb))
        except Exception:  # classification never fails a request
            log.exception("classify failed")
            return "other"

    def _class_of(self, rgb: np.ndarray, mask: np.ndarray, *, only_if_graphics: bool = False) -> str | None:
        """Level-2 class of ``rgb`` cut out by the model ``mask`` (any resolution: classified on a
        ≤ CLASSIFY_SIZE copy, the detector on a ≥ 512 px one). ``only_if_graphics``: the caller only needs
        to know whether it is ``graphics``; where the image statistics rule that out, None, without
        running the detector. Never fails a request."""
        small, a, det_rgb = _classify_mod.work_copies(rgb, mask, CLASSIFY_SIZE)
        if only_if_graphics:
            try:
                if not _classify_mod.looks_like_graphics(small, a):
                    return None
            except Exception:  # the statistics never fail a request: classify in full instead
                log.exception("graphics statistics failed")
        return self._classify(small, a, detector_rgb=det_rgb)

    def model_mask(
        self,
        data: bytes,
        img: Image.Image,
        roi: tuple[int, int, int, int] | None,
        info: ImageInfo,
        quality: str,
        *,
        use_cache: bool = True,
        want_class: bool = False,
        rgb: np.ndarray | None = None,
        model_size: int | None = None,
        parallel: bool = False,
        class_only_if_graphics: bool = False,
    ) -> tuple[np.ndarray, Callable[[], str | None], bool]:
        """(model-resolution alpha float32 for the roi, the level-2 class as a callable, cache hit).

        ``class_only_if_graphics``: the caller only needs to know whether the class is ``graphics`` (the
        second opinion, with ``type_level=none``): where the image statistics rule it out, the callable
        answers ``"other"`` without running the detector (and nothing is cached).

        ``rgb``: ``composite_white(img)`` when the caller already has it (used when ``roi`` is None).
        ``model_size``: a smaller model input (previews) when the model takes it; a cached mask made at
        the native size is used instead when there is one. With ``parallel`` and :meth:`helper_pool` free
        after the model, classification runs there (next to the caller's refinement) and the callable
        waits for it.
        """
        seg = self.segmenter()
        size = _segment.model_size(seg, model_size)
        base = (hashlib.sha256(data).hexdigest(), str(seg.path), quality, roi)
        key = base + (size,)
        cache = self.cache if use_cache and self.settings.mask_cache_mb > 0 else None
        entry = cache.get(key) if cache is not None else None
        if entry is None and cache is not None and size != seg.input_size[0]:
            entry = cache.get(base + (seg.input_size[0],))  # a full-size mask serves a preview too
        hit = entry is not None
        src_rgb = rgb if roi is None else None
        if entry is None:
            if src_rgb is None:
                src_rgb = composite_white(img if roi is None else img.crop(
                    _layout.scale_box(roi, (info.width, info.height), img.size)))
            mask = _segment.segment(seg, src_rgb, quality, size=size)
            entry = _Entry(_kernels.to_half(mask), None)  # = mask.astype(np.float16), 15× faster
            if cache is not None:
                cache.put(key, entry)
        mask = entry.mask.astype(np.float32)
        if not (want_class and entry.cls is None):
            cls = entry.cls
            return mask, lambda: cls, hit
        if src_rgb is None:
            src_rgb = composite_white(img if roi is None else img.crop(
                _layout.scale_box(roi, (info.width, info.height), img.size)))
        e, cls_rgb = entry, src_rgb

        def run_classify() -> str:
            # classify() sees a ≤ CLASSIFY_SIZE copy and the mask sized for it directly (no full-resolution
            # float copy of the mask: 48 MB at 12 MP, 200 MB at 50 MP); the detector a ≥ 512 px one.
            cls = self._class_of(cls_rgb, mask, only_if_graphics=class_only_if_graphics)
            if cls is None:  # not graphics: all the caller asked; nothing to cache
                return "other"
            e.cls = cls
            return cls

        pool = self.helper_pool() if parallel else None  # decided now: requests may have come meanwhile
        if pool is None:
            cls_now = run_classify()
            return mask, lambda: cls_now, hit
        fut = pool.submit(run_classify)
        return mask, fut.result, hit

    # ---------------------------------------------------------------- removal
    def matte(
        self,
        data: bytes,
        *,
        quality: str | None = None,
        size: tuple[int, int] | None = None,
        use_cache: bool = True,
        foreground: bool = True,
        model_size: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(alpha float32 [0, 1], edge-corrected foreground uint8) at ``size`` (default: input size).

        The evaluation command and the contact sheet use it; no layout, no encoding.
        ``foreground=False`` skips the colour estimation (the second item is the plain RGB).
        ``model_size``: model input (default: the native 1024; ``remove`` uses the preview size for previews).
        """
        s = self.settings
        info = self.probe(data)
        q = quality or s.quality
        w, h = size or (info.width, info.height)
        img = _decode.decode(data, min_size=(max(w, min(info.width, 1024)), max(h, min(info.height, 1024))),
                             max_megapixels=s.max_megapixels)
        mask, _, _ = self.model_mask(data, img, None, info, q, use_cache=use_cache, model_size=model_size)
        work = _resize(img, (w, h))
        rgb = composite_white(work)
        alpha, fg = _refine.refine(rgb, mask, q, foreground=foreground)
        alpha = self._graphics_veto(rgb, alpha, None,
                                    lambda: self._class_of(rgb, mask, only_if_graphics=True) or "other")
        if work.mode == "RGBA":
            alpha *= np.asarray(work.getchannel("A"), np.float32) / 255.0
        return alpha, fg

    def remove(
        self,
        data: bytes,
        options: Options,
        *,
        plan: Plan | None = None,
        bg_image: bytes | None = None,
        use_cache: bool = True,
    ) -> Result:
        """Remove the background of ``data`` as ``options`` ask, delivering ``plan`` (default:
        :meth:`plan` of the options; the service passes the plan it charged for). Raises :class:`ApiError`."""
        s = self.settings
        info = self.probe(data)
        if plan is None:
            plan = self.plan(info, options)
        bg_bytes = bg_image if bg_image is not None else options.bg_image
        q = options.quality or s.quality
        w, h = plan.width, plan.height
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
        # (the second opinion runs on graphics only: it needs the class too)
        class_wanted = options.type == "auto" and (options.type_level != "none" or shadow_by_type)
        need_class = class_wanted or (options.type == "auto" and self.second_opinion() is not None)
        # An output of at least the model's input (≥ 1024 px a side) smaller than the decoded image: work at the
        # output size from the start, the model's input included. A 50 MP photo then never has a full-size
        # composite next to its decoded image (0.2 GB less at the peak), and less is copied.
        if (roi is None and img.size != (w, h) and min(w, h) >= _segment.MODEL_SOURCE_MIN
                and w <= img.width and h <= img.height):
            img = _resize(img, (w, h))
        # At full output size the model input and the working image are one composite: make it once.
        full_rgb = composite_white(img) if roi is None and img.size == (w, h) else None
        mask, get_cls, hit = self.model_mask(data, img, roi, info, q, use_cache=use_cache, want_class=need_class,
                                             rgb=full_rgb, model_size=plan.model_size, parallel=True,
                                             class_only_if_graphics=not class_wanted)
        if w * h >= RELEASE_MODEL_MEMORY_PIXELS:  # the steps after the model need the memory more
            self.segmenter().release_memory()
        if not _layout.has_foreground(mask):
            get_cls()  # let a classification in the helper finish before failing
            raise ApiError("unknown_foreground")

        # Working image and full-frame alpha at the output resolution.
        work = _resize(img, (w, h))
        del img
        rgb = full_rgb if full_rgb is not None else composite_white(work)
        del full_rgb
        in_alpha = np.asarray(work.getchannel("A")) if work.mode == "RGBA" else None
        del work
        want_fg = options.channels == "rgba"
        pool = self.helper_pool()  # after the model: other requests may have come into the engine meanwhile
        # A ZIP of the plain cut-out (no background, shadow, layout or hint): alpha.png is encoded from
        # the refined alpha in the helper while the foreground colour is estimated here.
        plain_zip = (pool is not None and roi is None and in_alpha is None and want_fg and options.format == "zip"
                     and options.type == "auto" and options.semitransparency and not options.crop
                     and options.scale is None and options.position is None and bg_bytes is None
                     and options.bg_color is None and not shadow_wanted)
        if plain_zip:
            assert pool is not None
            alpha, _ = _refine.refine(rgb, mask, q, foreground=False, pool=pool)
            alpha = self._graphics_veto(rgb, alpha, None, get_cls)
            alpha_side = pool.submit(_alpha_side, alpha)  # the box and alpha.png, while the colour is estimated
            fg = _refine.estimate_foreground(rgb, alpha, _refine.foreground_pixels(q), pool=pool)
            del rgb
            subject, alpha_png = alpha_side.result()
            if subject is None:
                get_cls()
                raise ApiError("unknown_foreground")
            # what compose + encode make of (fg, alpha) with no background, shadow or layout (color.jpg =
            # the foreground colour, alpha.png = the alpha), byte for byte
            content = _encode.zip_members(_encode.encode_jpg_rgb(fg, scratch=True), alpha_png)
            return _result(content, _encode.CONTENT_TYPES["zip"], "zip", (w, h), subject,
                           _level(get_cls() or "other", options.type_level), plan, info, hit)
        if roi is None:
            alpha, fg = _refine.refine(rgb, mask, q, foreground=want_fg, pool=pool)
            alpha = self._graphics_veto(rgb, alpha, options.type if options.type != "auto" else None, get_cls)
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
            alpha = np.asarray(_classify_mod.select_subject(alpha, fg, options.type, detector=self.detector()),
                               np.float32)
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
        if plan.png_capped:
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
        enc = _encode.encode(pixels, plan.format, pool=self.helper_pool())
        return _result(enc.content, enc.content_type, enc.format, (cw, ch), box, _level(cls2, options.type_level),
                       plan, info, hit)
