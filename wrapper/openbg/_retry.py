"""Retry policy of the client, following remove.bg's advice (spec §7.2).

* 429: wait ``Retry-After`` seconds (never longer than ``max_retry_after``; a
  longer ``Retry-After`` is raised at once), then retry.
* 408 (the server gave up waiting for a stalled upload), 5xx and connection
  errors (refused, reset, dropped, timed out): exponential
  backoff ``backoff_base * 2**n`` seconds (``n`` = 0, 1, 2, ...; at most
  ``backoff_max``) plus up to ``jitter`` of that as random jitter.
* 400, 402, 403 and every other status: never retried.
* At most ``retries`` retries after the first attempt, and no retry is started
  (nor slept towards) once it would end after ``total_timeout`` seconds since
  the first attempt.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass

from .errors import RateLimitError, RemoveBgConnectionError, RemoveBgError, RequestTimeoutError, ServerError

__all__ = ["RetryEvent", "RetryPolicy", "logger"]

logger = logging.getLogger("openbg")


@dataclass(frozen=True)
class RetryPolicy:
    """When and how long to wait before retrying a failed call.

    Attributes:
        retries: most retries after the first attempt (0 disables retrying).
        backoff_base: first backoff in seconds for 408 / 5xx / connection errors (doubles each retry).
        backoff_max: longest single backoff in seconds.
        jitter: random extra wait, as a fraction of the backoff (0.25 adds up to 25 %).
        max_retry_after: longest ``Retry-After`` (seconds) the client will wait on a 429.
        total_timeout: time budget in seconds for a call including all retries (``None``: unlimited).
    """

    retries: int = 4
    backoff_base: float = 1.0
    backoff_max: float = 30.0
    jitter: float = 0.25
    max_retry_after: float = 60.0
    total_timeout: float | None = 300.0

    def __post_init__(self) -> None:
        if self.retries < 0:
            raise ValueError("retries must be >= 0")
        if self.backoff_base < 0 or self.backoff_max < 0 or self.jitter < 0 or self.max_retry_after < 0:
            raise ValueError("backoff_base, backoff_max, jitter and max_retry_after must be >= 0")
        if self.total_timeout is not None and self.total_timeout <= 0:
            raise ValueError("total_timeout must be > 0 (or None)")

    def backoff(self, retry_index: int) -> float:
        """Backoff before retry number ``retry_index`` (0-based) for 5xx / connection errors."""
        delay = min(self.backoff_max, self.backoff_base * (2.0**retry_index))
        return delay + random.uniform(0.0, self.jitter * delay)

    def delay_for(self, error: RemoveBgError, retry_index: int, elapsed: float) -> float | None:
        """Seconds to wait before retrying after ``error``, or ``None`` to give up and raise it.

        ``retry_index`` counts retries already made; ``elapsed`` is the time since the first attempt.
        """
        if retry_index >= self.retries:
            return None
        if isinstance(error, RateLimitError):
            if error.retry_after is None:
                delay = self.backoff(retry_index)
            elif error.retry_after > self.max_retry_after:
                return None
            else:
                delay = error.retry_after
        elif isinstance(error, (ServerError, RequestTimeoutError, RemoveBgConnectionError)):
            delay = self.backoff(retry_index)
        else:
            return None
        if self.total_timeout is not None and elapsed + delay >= self.total_timeout:
            return None
        return delay


@dataclass(frozen=True)
class RetryEvent:
    """What a client's ``on_retry`` callback is told before it waits to retry a call.

    Attributes:
        method: the call (``removebg``, ``account``, ``improve``).
        error: the error that is retried (a :class:`~openbg.RateLimitError` for a 429).
        attempt: the retry about to be made (1 for the first retry).
        delay: seconds the client waits before it.
    """

    method: str
    error: RemoveBgError
    attempt: int
    delay: float


def log_retry(method: str, error: RemoveBgError, retry_index: int, delay: float) -> None:
    """Log one retry at DEBUG level on the ``openbg`` logger."""
    logger.debug(
        "openbg: %s failed (%s); retry %d in %.2f s", method, error, retry_index + 1, delay
    )
