"""openbg: a typed client for the remove.bg API v1.0 (and the openbg emulator).

Three lines cut out a photo::

    from openbg import RemoveBg
    with RemoveBg() as client:                      # key from REMOVE_BG_API_KEY
        client.remove_background("photo.jpg").save("photo.png")
"""

from __future__ import annotations

from ._retry import RetryEvent, RetryPolicy
from .client import (
    DEFAULT_BASE_URL,
    AsyncRemoveBg,
    Channels,
    Format,
    Quality,
    RemovalOptions,
    RemoveBg,
    ShadowOpacity,
    ShadowType,
    Size,
    SubjectType,
    TypeLevel,
)
from .errors import (
    AuthenticationError,
    BadRequestError,
    InsufficientCreditsError,
    PaymentRequiredError,
    RateLimitError,
    RemoveBgConnectionError,
    RemoveBgError,
    RemoveBgTimeoutError,
    RequestTimeoutError,
    ServerError,
    UnexpectedStatusError,
    ZipCompositionError,
)
from .results import Account, Credits, Foreground, RateLimit, Result
from .zipcompose import zip2png, zip_to_pil

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_BASE_URL",
    "Account",
    "AsyncRemoveBg",
    "AuthenticationError",
    "BadRequestError",
    "Channels",
    "Credits",
    "Foreground",
    "Format",
    "InsufficientCreditsError",
    "PaymentRequiredError",
    "Quality",
    "RateLimit",
    "RateLimitError",
    "RemovalOptions",
    "RemoveBg",
    "RemoveBgConnectionError",
    "RemoveBgError",
    "RemoveBgTimeoutError",
    "RequestTimeoutError",
    "Result",
    "RetryEvent",
    "RetryPolicy",
    "ServerError",
    "ShadowOpacity",
    "ShadowType",
    "Size",
    "SubjectType",
    "TypeLevel",
    "UnexpectedStatusError",
    "ZipCompositionError",
    "__version__",
    "zip2png",
    "zip_to_pil",
]
