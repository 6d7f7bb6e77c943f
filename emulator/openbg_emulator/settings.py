"""The one typed place for the emulator's settings (environment variables ``OPENBG_*``).

``Settings.from_env()`` reads every variable; every field has a default, so ``Settings()``
is a valid configuration.  Values are validated: a bad value raises ``ValueError`` with a
one-line message naming the variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

QualityName = Literal["fast", "balanced", "best"]
DeviceName = Literal["auto", "cpu", "cuda", "openvino"]
RuntimeName = Literal["auto", "onnxruntime", "openvino"]
PrecisionName = Literal["auto", "f32", "bf16", "int8"]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _default_home() -> Path:
    return Path("~/.cache/openbg").expanduser()


@dataclass(frozen=True)
class Settings:
    """Emulator configuration. Paths are absolute after :meth:`from_env`."""

    home: Path = field(default_factory=_default_home)  # OPENBG_HOME
    state_dir: Path | None = None  # OPENBG_STATE_DIR (None → home/state)
    database_url: str | None = None  # OPENBG_DATABASE_URL (None → sqlite in state_dir)
    model: Path | None = None  # OPENBG_MODEL: another compatible ONNX file
    threads: int | None = None  # OPENBG_THREADS: ORT intra-op threads (None → ORT default)
    device: DeviceName = "auto"  # OPENBG_DEVICE: execution provider choice
    workers: int = 2  # OPENBG_WORKERS: engine worker pool size
    queue: int = 16  # OPENBG_QUEUE: requests waiting beyond workers before 503
    allow_private_urls: bool = False  # OPENBG_ALLOW_PRIVATE_URLS
    test_controls: bool = False  # OPENBG_TEST_CONTROLS
    quality: QualityName = "balanced"  # OPENBG_QUALITY: default when a request gives none
    max_upload_bytes: int = 22 * 1024 * 1024  # OPENBG_MAX_UPLOAD_BYTES (22 MB)
    max_megapixels: float = 50.0  # OPENBG_MAX_MEGAPIXELS
    png_max_megapixels: float = 10.0  # OPENBG_PNG_MAX_MEGAPIXELS
    rate_limit: int = 500  # OPENBG_RATE_LIMIT (megapixel-images per minute)
    free_calls: int = 50  # OPENBG_FREE_CALLS (per month, preview only)
    improve_per_day: int = 100  # OPENBG_IMPROVE_PER_DAY
    mask_cache_mb: int = 256  # OPENBG_MASK_CACHE_MB: engine LRU mask cache bound (0 disables)
    rate_window_s: float = 60.0  # OPENBG_RATE_WINDOW_S: length of the fixed rate-limit window
    fetch_timeout_s: float = 15.0  # OPENBG_FETCH_TIMEOUT_S: total deadline of one image_url download
    fetch_loopback_only: bool = False  # OPENBG_FETCH_LOOPBACK_ONLY: image_url may only name loopback (tests)
    fast_model: bool = True  # OPENBG_FAST_MODEL: run the derived fp32, any-size copy of the model (models.derive)
    inference_slots: int | None = None  # OPENBG_INFERENCE_SLOTS: concurrent session runs (None → cores ÷ threads)
    preview_model_size: int = 640  # OPENBG_PREVIEW_MODEL_SIZE: model input for preview-tier outputs (0: 1024)
    parallel_steps: bool = True  # OPENBG_PARALLEL_STEPS: a request alone in the engine runs its post-model steps on 2+ cores
    header_timeout_s: float = 10.0  # OPENBG_HEADER_TIMEOUT: deadline for a request's head (408 after)
    body_timeout_s: float = 20.0  # OPENBG_BODY_TIMEOUT: body deadline, +1 s per KiB received (408 after)
    admin_token: str | None = field(default=None, repr=False)  # OPENBG_ADMIN_TOKEN: /admin login (else the state dir's)
    improve_path: Path | None = None  # OPENBG_IMPROVE_DIR: /improve submissions (None → state_dir/improve)
    metrics: str = "api"  # OPENBG_METRICS: /metrics on the API port ("api"), on its own port ("9100"), or "off"
    runtime: RuntimeName = "auto"  # OPENBG_RUNTIME: model runtime (runtime.choose: auto → OpenVINO on the CPU)
    precision: PrecisionName = "auto"  # OPENBG_PRECISION: model precision (auto → bf16 where the CPU has it)
    second_opinion: bool = True  # OPENBG_SECOND_OPINION: U²-Net-small vetoes background kept in graphics mattes (issue 18)

    # ---- derived paths -------------------------------------------------------
    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def resolved_state_dir(self) -> Path:
        return self.state_dir if self.state_dir is not None else self.home / "state"

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.resolved_state_dir / 'openbg.db'}"

    @property
    def improve_dir(self) -> Path:
        return self.improve_path if self.improve_path is not None else self.resolved_state_dir / "improve"

    def with_(self, **changes: object) -> Settings:
        """A copy with some fields changed (convenience for tests and the CLI)."""
        return replace(self, **changes)  # type: ignore[arg-type]

    # ---- environment ---------------------------------------------------------
    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        e = os.environ if env is None else env

        def get(name: str) -> str | None:
            v = e.get(name)
            if v is None:
                return None
            v = v.strip()
            return v if v != "" else None

        def as_int(name: str, default: int, minimum: int = 0) -> int:
            v = get(name)
            if v is None:
                return default
            try:
                n = int(v)
            except ValueError:
                raise ValueError(f"{name}={v!r}: expected an integer") from None
            if n < minimum:
                raise ValueError(f"{name}={v!r}: must be >= {minimum}")
            return n

        def as_float(name: str, default: float, minimum: float = 0.0) -> float:
            v = get(name)
            if v is None:
                return default
            try:
                x = float(v)
            except ValueError:
                raise ValueError(f"{name}={v!r}: expected a number") from None
            if not x > minimum:
                raise ValueError(f"{name}={v!r}: must be > {minimum}")
            return x

        def as_bool(name: str, default: bool) -> bool:
            v = e.get(name)
            if v is None:
                return default
            s = v.strip().lower()
            if s in _TRUE:
                return True
            if s in _FALSE:
                return False
            raise ValueError(f"{name}={v!r}: expected 1/0, true/false, yes/no or on/off")

        def as_path(name: str) -> Path | None:
            v = get(name)
            return Path(v).expanduser().absolute() if v is not None else None

        home = as_path("OPENBG_HOME") or _default_home()
        threads_raw = get("OPENBG_THREADS")
        threads = None if threads_raw is None else as_int("OPENBG_THREADS", 0, minimum=1)
        quality = (get("OPENBG_QUALITY") or "balanced").lower()
        if quality not in ("fast", "balanced", "best"):
            raise ValueError(f"OPENBG_QUALITY={quality!r}: expected fast, balanced or best")
        device = (get("OPENBG_DEVICE") or "auto").lower()
        if device not in ("auto", "cpu", "cuda", "openvino"):
            raise ValueError(f"OPENBG_DEVICE={device!r}: expected auto, cpu, cuda or openvino")
        slots_raw = get("OPENBG_INFERENCE_SLOTS")
        slots = None if slots_raw is None else as_int("OPENBG_INFERENCE_SLOTS", 0, minimum=1)
        preview_size = as_int("OPENBG_PREVIEW_MODEL_SIZE", 640, minimum=0)
        if preview_size and (preview_size % 32 or not 256 <= preview_size <= 1024):
            raise ValueError(f"OPENBG_PREVIEW_MODEL_SIZE={preview_size}: expected 0 or a multiple of 32 in 256–1024")
        metrics = (get("OPENBG_METRICS") or "api").lower()
        if metrics not in ("api", "off") and not (metrics.isdigit() and 1 <= int(metrics) <= 65535):
            raise ValueError(f"OPENBG_METRICS={metrics!r}: expected api, off or a port number")
        runtime = (get("OPENBG_RUNTIME") or "auto").lower()
        if runtime not in ("auto", "onnxruntime", "openvino"):
            raise ValueError(f"OPENBG_RUNTIME={runtime!r}: expected auto, onnxruntime or openvino")
        precision = (get("OPENBG_PRECISION") or "auto").lower()
        if precision not in ("auto", "f32", "bf16", "int8"):
            raise ValueError(f"OPENBG_PRECISION={precision!r}: expected auto, f32, bf16 or int8")
        if precision == "bf16" and runtime == "onnxruntime":
            raise ValueError("OPENBG_PRECISION=bf16 needs OPENBG_RUNTIME=openvino or auto "
                             "(ONNX Runtime runs the model in f32)")
        if precision == "int8":
            raise ValueError("OPENBG_PRECISION=int8: not offered (it missed the accuracy limits against f32; "
                             "docs/engineering/performance.md); expected auto, f32 or bf16")
        return cls(
            improve_path=as_path("OPENBG_IMPROVE_DIR"),
            metrics=metrics,
            home=home,
            state_dir=as_path("OPENBG_STATE_DIR"),
            database_url=get("OPENBG_DATABASE_URL"),
            model=as_path("OPENBG_MODEL"),
            threads=threads,
            device=device,  # type: ignore[arg-type]
            workers=as_int("OPENBG_WORKERS", 2, minimum=1),
            queue=as_int("OPENBG_QUEUE", 16, minimum=0),
            allow_private_urls=as_bool("OPENBG_ALLOW_PRIVATE_URLS", False),
            test_controls=as_bool("OPENBG_TEST_CONTROLS", False),
            quality=quality,  # type: ignore[arg-type]
            max_upload_bytes=as_int("OPENBG_MAX_UPLOAD_BYTES", 22 * 1024 * 1024, minimum=1),
            max_megapixels=as_float("OPENBG_MAX_MEGAPIXELS", 50.0),
            png_max_megapixels=as_float("OPENBG_PNG_MAX_MEGAPIXELS", 10.0),
            rate_limit=as_int("OPENBG_RATE_LIMIT", 500, minimum=0),
            free_calls=as_int("OPENBG_FREE_CALLS", 50, minimum=0),
            improve_per_day=as_int("OPENBG_IMPROVE_PER_DAY", 100, minimum=0),
            mask_cache_mb=as_int("OPENBG_MASK_CACHE_MB", 256, minimum=0),
            rate_window_s=as_float("OPENBG_RATE_WINDOW_S", 60.0),
            fetch_timeout_s=as_float("OPENBG_FETCH_TIMEOUT_S", 15.0),
            fetch_loopback_only=as_bool("OPENBG_FETCH_LOOPBACK_ONLY", False),
            header_timeout_s=as_float("OPENBG_HEADER_TIMEOUT", 10.0),
            body_timeout_s=as_float("OPENBG_BODY_TIMEOUT", 20.0),
            fast_model=as_bool("OPENBG_FAST_MODEL", True),
            inference_slots=slots,
            preview_model_size=preview_size,
            parallel_steps=as_bool("OPENBG_PARALLEL_STEPS", True),
            admin_token=get("OPENBG_ADMIN_TOKEN"),
            runtime=runtime,  # type: ignore[arg-type]
            precision=precision,  # type: ignore[arg-type]
            second_opinion=as_bool("OPENBG_SECOND_OPINION", True),
        )
