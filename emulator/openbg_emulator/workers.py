"""The engine's worker pool: engine calls run off the event loop in a bounded thread pool (503
``server_busy`` beyond it), each counted as a request in progress and timed for ``openbg_model_seconds``
under the label of the runtime that runs the model."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from typing import Any

from openbg_emulator import metrics
from openbg_emulator.errors import ApiError
from openbg_emulator.settings import Settings


def _counted(call: Callable[[], Any]) -> Any:
    """Run one engine call counted as a request in the engine (models.request_in_progress: a model
    run takes all cores only while its request is the only one)."""
    from openbg_emulator.models import request_in_progress

    t0 = time.perf_counter()
    try:
        with request_in_progress():
            return call()
    finally:
        metrics.observe_model(time.perf_counter() - t0, _RUNTIME[0])


_RUNTIME = ["auto"]  # the runtime label of openbg_model_seconds (openvino or onnxruntime; set by create_app)


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
            fut: Future[Any] = self.executor.submit(_counted, partial(fn, *args, **kwargs))
        except BaseException:
            self._release()
            raise
        fut.add_done_callback(self._release)  # counts until the thread really finishes
        return await asyncio.wrap_future(fut)

    def shutdown(self) -> None:
        self.executor.shutdown(wait=True)


def _runtime_label(settings: Settings) -> str:
    """The model runtime the metrics label model time with (openvino, onnxruntime, ...)."""
    try:
        from openbg_emulator import runtime

        return runtime.choose(settings).runtime
    except Exception:  # noqa: BLE001 - a label, never a reason to fail start-up
        return settings.device


def set_runtime_label(settings: Settings) -> None:
    """Label model time with the runtime ``settings`` choose (called by ``create_app``)."""
    _RUNTIME[0] = _runtime_label(settings)
