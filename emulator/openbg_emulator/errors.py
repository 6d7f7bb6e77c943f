"""remove.bg-style errors: one exception type, one catalogue of codes.

Every error the emulator can answer is an :class:`ApiError`; its body is
``{"errors": [{"title", "code", "detail"}]}`` (spec §7, §13).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# code -> (status, title, default detail). Titles follow the official examples (spec §7.1, §7.2, §13).
CATALOGUE: dict[str, tuple[int, str, str | None]] = {
    "failed_bg_download": (400, "Failed to download background image from given bg_image_url", None),
    "failed_image_download": (400, "Failed to download image from given image_url", None),
    "failed_to_read_image": (400, "There was an error reading the image.", None),
    "file_too_large": (400, "File too large", "File exceeds limit of 22MB"),
    "invalid_bg_color": (400, "Invalid bg_color parameter given", None),
    "invalid_bg_image_url": (400, "Invalid bg_image_url: Please provide a valid URL.", None),
    "invalid_channels": (400, "Invalid value for parameter 'channels'", None),
    "invalid_crop_margin": (400, "Invalid crop_margin parameter given", None),
    "invalid_dimensions": (
        400,
        "Failed to read image dimensions",
        "The dimensions of the given image could not be read.",
    ),
    "invalid_file_type": (400, "Invalid file type", "Expected jpg/png/webp"),
    "invalid_format": (400, "Invalid format parameter given", None),
    "invalid_image_url": (400, "Invalid image_url: Please provide a valid URL.", None),
    "invalid_position": (400, "Invalid position parameter given", None),
    "invalid_roi": (400, "Invalid roi parameter given", None),
    "invalid_scale": (400, "Invalid scale parameter given", None),
    "invalid_semitransparency": (400, "Invalid semitransparency parameter given", None),
    "invalid_size": (400, "Invalid value for parameter 'size'", None),
    "missing_source": (
        400,
        "No image given",
        "Please provide the source image in the image_url, image_file or image_file_b64 parameter.",
    ),
    "multiple_bg_sources": (
        400,
        "Multiple background sources given",
        "Please provide either the bg_color, the bg_image_url or the bg_image_file parameter.",
    ),
    "multiple_sources": (
        400,
        "Multiple image sources given",
        "Please provide either the image_url, image_file or image_file_b64 parameter.",
    ),
    "resolution_too_high": (
        400,
        "Image resolution too high",
        "Input image exceeds the maximum supported input resolution of 50 megapixels",
    ),
    "roi_exceeds_bounds": (
        400,
        "ROI exceeds image bounds",
        "The given roi parameter defines a region that exceeds the image bounds",
    ),
    "roi_region_empty": (400, "ROI region is empty", "The given roi parameter defines an empty region"),
    "unknown_foreground": (
        400,
        (
            "Could not identify foreground in image. "
            "For details and recommendations see https://www.remove.bg/supported-images."
        ),
        None,
    ),
    # §13 decisions: codes the sources leave open.
    "invalid_type": (400, "Invalid type parameter given", None),
    "invalid_type_level": (400, "Invalid type_level parameter given", None),
    "invalid_shadow_type": (400, "Invalid shadow_type parameter given", None),
    "invalid_shadow_opacity": (400, "Invalid shadow_opacity parameter given", None),
    "invalid_crop": (400, "Invalid crop parameter given", None),
    "invalid_add_shadow": (400, "Invalid add_shadow parameter given", None),
    "invalid_quality": (400, "Invalid quality parameter given", None),
    "invalid_request": (400, "Invalid request", None),
    "invalid_image_filename": (400, "Invalid image_filename parameter given", None),
    "invalid_tag": (400, "Invalid tag parameter given", None),
    "improve_limit_reached": (400, "Daily limit for the Improvement Program reached", None),
    "invalid_idempotency_key": (400, "Invalid Idempotency-Key header given", None),  # openbg extension
    "idempotency_key_reused": (422, "Idempotency-Key reused with a different request", None),  # openbg extension
    # Other statuses.
    "insufficient_credits": (402, "Insufficient credits", None),
    "auth_failed": (403, "API Key invalid", None),
    "not_found": (404, "Not found", None),
    "method_not_allowed": (405, "Method not allowed", None),
    "request_timeout": (408, "Request timeout", None),  # the HTTP layer (httpproto.py): head or body too slow
    "payload_too_large": (413, "Request too large", None),
    "unsupported_media_type": (415, "Unsupported Content-Type", None),
    "rate_limit_exceeded": (429, "Rate limit exceeded", None),
    "internal_error": (500, "Internal server error", None),
    "server_busy": (503, "Server busy", "Too many requests in flight; retry after the given delay"),
}


@dataclass
class ApiError(Exception):
    """An error answered in the remove.bg shape. ``headers`` are added to the response (e.g. Retry-After)."""

    code: str
    title: str | None = None
    detail: str | None = None
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        status, title, detail = CATALOGUE.get(self.code, (400, self.code, None))
        if self.status is None:
            self.status = status
        if self.title is None:
            self.title = title
        if self.detail is None:
            self.detail = detail
        super().__init__(f"{self.code}: {self.title}" + (f" ({self.detail})" if self.detail else ""))

    def body(self) -> dict[str, Any]:
        item: dict[str, Any] = {"title": self.title, "code": self.code}
        if self.detail:
            item["detail"] = self.detail
        return {"errors": [item]}
