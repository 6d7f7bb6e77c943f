"""The engine's worker pool: engine calls run off the event loop in a bounded thread pool (503
``server_busy`` beyond it); :func:`runtime_label` names the runtime that runs the model, for
``openbg_model_seconds``."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from typing import Any

from openbg_emulator.errors import ApiError
from openbg_emulator.settings import Settings


class WorkerPool:
    """Engine calls off the event loop: ``workers`` threads, at most ``queue`` more waiting; beyond that
    :meth:`run` fails at once with 503 ``server_busy``."""

    def __init__(self, workers: int, queue: int) -> None:
        self.workers = max(1, workers)
        self.capacity = self.workers + max(0, queue)
        self.executor = ThreadPoolExecutor(self.workers, thread_name_prefix="openbg-engine")
        self._inflight = 0
        self._lock = threading.Lock()

    @property
    def inflight(self) -> int:
        return self._inflight

    def _release(self, _f: object = None) -> None:
        with self._lock:
            self._inflight -= 1

    async def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            if self._inflight >= self.capacity:
                raise ApiError("server_busy", status=503, headers={"Retry-After": "1"})
            self._inflight += 1
        try:
            fut: Future[Any] = self.executor.submit(partial(fn, *args, **kwargs))
        except BaseException:
            self._release()
            raise
        fut.add_done_callback(self._release)  # counts until the thread really finishes
        return await asyncio.wrap_future(fut)

    def shutdown(self) -> None:
        self.executor.shutdown(wait=True)


def runtime_label(settings: Settings) -> str:
    """The model runtime the metrics label model time with (openvino, onnxruntime, ...)."""
    try:
        from openbg_emulator import runtime

        return runtime.choose(settings).runtime
    except Exception:  # noqa: BLE001 - a label, never a reason to fail start-up
        return settings.device
