"""What a request will deliver and cost, decided once from the probe and the options: the :class:`Plan`.

The service rate-limits and charges against the plan; the engine carries it out (``Engine.remove``) and
decides nothing of it again. Pure: no I/O, no model.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .options import Options
from .pipeline import layout
from .settings import Settings


@dataclass(frozen=True)
class ImageInfo:
    """An input image's upright size and type, read from its header (``Engine.probe``)."""

    width: int
    height: int
    format: str  # "jpeg" | "png" | "webp"


@dataclass(frozen=True)
class Plan:
    """One request's decisions.

    * ``width``×``height``: the output size before crop and layout (the size tier applied, the PNG cap
      applied when ``png_capped``);
    * ``png_capped``: the result may be a PNG (format png/zip-less auto with transparency), so the
      PNG megapixel cap applies to it — also after layout, where crop margins can grow the canvas;
    * ``format``: as requested; ``auto`` is decided by the pixels when they are encoded (remove.bg's
      rule: PNG where the result has transparency, else JPG);
    * ``preview``: the result is in the preview tier (0.25 credits; free calls pay for it);
      ``credits``: what it costs; ``rate_cost``: what it counts against the rate limit (input MP);
    * ``model_size``: the model input (the smaller preview input for preview-priced results, else None:
      the model's native size);
    * ``max_width``×``max_height``: the largest result this input can give (``X-Max-*``);
    * ``fallback``: for ``size=auto`` above the preview tier, the preview plan delivered instead when
      the balance cannot pay for this one (free calls pay for previews only).
    """

    width: int
    height: int
    png_capped: bool
    format: str
    preview: bool
    credits: float
    rate_cost: int
    model_size: int | None
    max_width: int
    max_height: int
    fallback: Plan | None = None


def plan(info: ImageInfo, options: Options, settings: Settings) -> Plan:
    """The :class:`Plan` of ``options`` for an input described by ``info``."""
    has_bg = options.bg_image is not None or options.bg_image_url is not None
    png = layout.png_capped(options.format, options.channels, options.bg_color, has_bg)
    w, h = layout.output_size(info.width, info.height, options.size, png=png,
                              png_max_megapixels=settings.png_max_megapixels)
    preview = layout.is_preview(options.size, w, h)
    mw, mh = layout.max_size(info.width, info.height)
    # Only a preview-priced result runs the model at the smaller input. A photo that is itself within
    # the preview tier but asked for at size=full gets the native run: at 640 the model loses whole parts
    # or takes in shadows and bystanders on such photos (issue 18: dev IoU 0.892 vs 0.903).
    model_size = (settings.preview_model_size or None) if preview else None
    fallback = None
    if options.size == "auto" and not preview:
        fallback = plan(info, dataclasses.replace(options, size="preview"), settings)
    return Plan(w, h, png, options.format, preview, layout.credits(options.size, w, h),
                layout.rate_cost(info.width, info.height), model_size, mw, mh, fallback)
