"""The model runtimes (runtime.py): the choice, every backend+precision this machine offers against
ONNX Runtime fp32 on real photos, OpenVINO's compiled-model cache across restarts, and where the choice
is shown (``openbg models list``, ``/readyz``)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest
from click.testing import CliRunner
from openbg_emulator import runtime
from openbg_emulator.engine import Engine
from openbg_emulator.model_store import ModelError
from openbg_emulator.segmenter import Concurrency, Segmenter, load_segmenter
from openbg_emulator.settings import Settings
from skimage import data

IMAGES = {"astronaut": data.astronaut, "coffee": data.coffee, "chelsea": data.chelsea}


def _say(capsys: pytest.CaptureFixture[str], text: str) -> None:
    """Print past pytest's capture: the run's output names the path a test exercised."""
    with capsys.disabled():
        print(f"\n[runtime] {text}")


def _square(name: str, n: int) -> np.ndarray:
    return np.ascontiguousarray(cv2.resize(IMAGES[name](), (n, n), interpolation=cv2.INTER_AREA))


def _offered() -> list[tuple[str, str]]:
    """(runtime, precision) paths this machine offers besides ONNX Runtime fp32."""
    paths = [("openvino", "f32")]
    if runtime.bf16_support()[0]:
        paths.append(("openvino", "bf16"))
    return paths


# --------------------------------------------------------------------------- settings / choice
def test_settings_validate_runtime_and_precision() -> None:
    s = Settings.from_env({"OPENBG_RUNTIME": "OpenVINO", "OPENBG_PRECISION": "BF16"})
    assert (s.runtime, s.precision) == ("openvino", "bf16")
    assert (Settings.from_env({}).runtime, Settings.from_env({}).precision) == ("auto", "auto")
    with pytest.raises(ValueError, match="OPENBG_RUNTIME='tensorflow': expected auto, onnxruntime or openvino"):
        Settings.from_env({"OPENBG_RUNTIME": "tensorflow"})
    with pytest.raises(ValueError, match="OPENBG_PRECISION='fp8': expected auto, f32, bf16 or int8"):
        Settings.from_env({"OPENBG_PRECISION": "fp8"})
    with pytest.raises(ValueError, match="bf16 needs OPENBG_RUNTIME=openvino"):
        Settings.from_env({"OPENBG_RUNTIME": "onnxruntime", "OPENBG_PRECISION": "bf16"})
    with pytest.raises(ValueError, match="int8: not offered"):
        Settings.from_env({"OPENBG_PRECISION": "int8"})


def test_auto_takes_bf16_only_where_the_cpu_has_it(monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(runtime, "_on_cuda", lambda s: None)
    has, why = runtime.bf16_support()
    c = runtime.choose(Settings())
    _say(capsys, f"this machine: {c.describe()} on {c.cpu}")
    assert c.runtime == "openvino" and c.precision == ("bf16" if has else "f32") and why in c.reason
    assert c.cache_dir == Settings().home / "openvino-cache"
    # a CPU without bf16 flags: auto → f32, an explicit bf16 is refused with the reason
    monkeypatch.setattr(runtime, "cpu_flags", lambda: {"avx2", "avx512f", "avx512_vnni"})
    assert runtime.choose(Settings()).precision == "f32"
    assert "no bf16" in runtime.choose(Settings()).reason
    with pytest.raises(runtime.RuntimeChoiceError, match="OPENBG_PRECISION=bf16 but CPU reports no bf16"):
        runtime.choose(Settings(precision="bf16"))
    monkeypatch.setattr(runtime, "cpu_flags", lambda: {"avx512f", "amx_bf16"})
    assert runtime.choose(Settings()).precision == "bf16"
    assert runtime.choose(Settings(precision="f32")).precision == "f32"
    assert runtime.choose(Settings(runtime="onnxruntime")).runtime == "onnxruntime"
    # CUDA stays on ONNX Runtime; asking for OpenVINO there is an error, not a silent switch
    monkeypatch.setattr(runtime, "_on_cuda", lambda s: "OPENBG_DEVICE=cuda")
    assert runtime.choose(Settings()).runtime == "onnxruntime"
    with pytest.raises(runtime.RuntimeChoiceError, match="runs on the CPU"):
        runtime.choose(Settings(runtime="openvino"))
    # the engine reports an impossible choice as a one-line ModelError
    with pytest.raises(ModelError, match="runs on the CPU"):
        load_segmenter(Settings(runtime="openvino", device="cuda"))


# --------------------------------------------------------------------------- equivalence
@pytest.fixture(scope="module")
def reference() -> dict[tuple[str, int], np.ndarray]:
    """ONNX Runtime fp32 alphas (the derived model) of the photos at 1024 and at the preview's 640."""
    seg = load_segmenter(Settings(runtime="onnxruntime"))
    assert seg.runtime.runtime == "onnxruntime" and seg.providers[0] == "CPUExecutionProvider"
    return {(name, n): seg.predict(_square(name, n)) for name in IMAGES for n in (1024, 640)}


def test_cpu_without_bf16_is_said_not_skipped(capsys: pytest.CaptureFixture[str]) -> None:
    has, why = runtime.bf16_support()
    paths = _offered()
    _say(capsys, f"CPU {runtime.cpu_model()}: {why}; paths tested against ONNX Runtime fp32: "
                 + ", ".join(f"{r} {p}" for r, p in paths)
                 + ("" if has else " — bf16 NOT tested: this CPU has no bf16 units"))
    assert ("openvino", "f32") in paths and (("openvino", "bf16") in paths) == has


@pytest.mark.parametrize("path", _offered(), ids=lambda p: f"{p[0]}-{p[1]}")
def test_backend_matches_onnxruntime_fp32(path: tuple[str, str], reference: dict[tuple[str, int], np.ndarray],
                                          capsys: pytest.CaptureFixture[str]) -> None:
    rt, precision = path
    seg = load_segmenter(Settings(runtime=rt, precision=precision))  # type: ignore[arg-type]
    assert (seg.runtime.runtime, seg.runtime.precision) == path
    assert seg.providers == [f"OpenVINO CPU {precision}"]
    for (name, n), ref in reference.items():
        a = seg.predict(_square(name, n))
        assert a.shape == ref.shape and a.dtype == np.float32 and 0 <= a.min() and a.max() <= 1
        m, r = a > 0.5, ref > 0.5
        iou = float((m & r).sum() / max(1, (m | r).sum()))
        mad = float(np.abs(a - ref).mean())
        _say(capsys, f"{rt} {precision} vs onnxruntime f32, {name} at {n}: mask IoU {iou:.5f}, "
                     f"mean |Δα| {mad:.5f}, max {float(np.abs(a - ref).max()):.4f}")
        assert iou >= 0.999 and mad <= 0.002, (name, n, iou, mad)


def test_openvino_concurrent_runs_share_the_slots() -> None:
    """OpenVINO keeps the engine's contract: a run alone uses all cores; concurrent runs of one size take
    turns on its compiled model (same results); a fixed slot count compiles that many streams."""
    import threading

    eng = Engine(Settings(runtime="openvino"))
    seg = eng.segmenter()
    rgb = _square("astronaut", 640)
    alone = seg.predict(rgb)
    go = threading.Barrier(2)
    out: list[np.ndarray] = []

    def request() -> None:
        with eng.request():
            go.wait()
            out.append(seg.predict(rgb))

    ts = [threading.Thread(target=request) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert len(out) == 2
    # one compiled model per size: concurrent runs take turns on its one infer request
    assert seg.single_thread_session() is seg.session and seg.session.config()["NUM_STREAMS"] == 1
    assert all(len(reqs) == 1 for reqs in seg.session._requests.values())
    for a in out:
        assert float(np.abs(a - alone).mean()) < 2e-3
    # a fixed slot count: one compiled model with that many streams
    fixed = Segmenter(seg.path, "medium", threads=1, prepared=seg.prepared, runtime=seg.runtime,
                             concurrency=Concurrency(2, 1, False))
    assert fixed.session.config()["NUM_STREAMS"] == 2 and fixed.session.config()["INFERENCE_NUM_THREADS"] == 2


@pytest.mark.parametrize(("model", "n"), [("medium", 640), ("small", 1024)])
def test_openvino_compiles_from_ir_copies_with_the_same_results(model: str, n: int, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    """The session reads the ONNX file once and keeps IR copies: fp16 weights for the derived IS-Net
    (medium), whose fp32 weights are all fp16 values, and the weights as they are for isnet-small (fp32
    scales that fp16 would round). A second session compiles from the copies, loads from OpenVINO's
    cache, and gives the same output, bit for bit, as the model compiled straight from the ONNX file
    (f32, and bf16 where the CPU has it). Where the cache folder cannot be written, it compiles from
    memory, as before."""
    import openvino as ov

    onnx_path = Engine(Settings(runtime="openvino")).segmenter(model).session.path
    x = (_square("chelsea", n).transpose(2, 0, 1)[None] / 255.0).astype(np.float32)
    m = ov.Core().read_model(str(onnx_path))
    m.reshape({m.inputs[0].get_any_name(): [1, 3, n, n]})
    precisions = ["f32"] + (["bf16"] if runtime.bf16_support()[0] else [])
    for precision in precisions:
        cfg = {"INFERENCE_PRECISION_HINT": precision, "NUM_STREAMS": 1, "PERFORMANCE_HINT": "LATENCY"}
        want = ov.Core().compile_model(m, "CPU", cfg).create_infer_request().infer({0: x})[0]
        cache = tmp_path / f"cache-{precision}"
        first = runtime.OpenVinoSession(onnx_path, precision, threads=None, streams=1, cache_dir=cache)
        assert np.array_equal(first.run(None, {"x": x})[0], want), precision
        copies = sorted(p.name for p in cache.glob("*.xml"))
        # the source, and (a model taking any size) its reshape to n×n
        assert len(copies) == (2 if model == "medium" else 1), copies
        assert model != "medium" or any(c.endswith(f".{n}x{n}.xml") for c in copies), copies
        for xml in cache.glob("*.xml"):
            size = xml.with_suffix(".bin").stat().st_size
            if model == "medium":  # fp16 weights: about half the fp32 ONNX file
                assert size < 0.55 * onnx_path.stat().st_size
            else:  # left as they are
                assert size > 0.9 * onnx_path.stat().st_size
        assert not list(cache.glob(".*"))  # no temporary file left
        second = runtime.OpenVinoSession(onnx_path, precision, threads=None, streams=1, cache_dir=cache)
        assert np.array_equal(second.run(None, {"x": x})[0], want), precision
        assert second.compile_log[n][1] is True  # loaded from OpenVINO's cache
        assert second.get_modelmeta().custom_metadata_map == first.get_modelmeta().custom_metadata_map
        assert "openbg.source_sha256" in second.get_modelmeta().custom_metadata_map
    _say(capsys, f"IR copies of {model} checked bit for bit against the ONNX file at {', '.join(precisions)}")

    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    third = runtime.OpenVinoSession(onnx_path, "f32", threads=None, streams=1, cache_dir=blocked / "cache")
    cfg = {"INFERENCE_PRECISION_HINT": "f32", "NUM_STREAMS": 1, "PERFORMANCE_HINT": "LATENCY"}
    want = ov.Core().compile_model(m, "CPU", cfg).create_infer_request().infer({0: x})[0]
    assert np.array_equal(third.run(None, {"x": x})[0], want)


def test_a_damaged_ir_copy_is_replaced_not_fatal(tmp_path: Path) -> None:
    """An IR copy whose weights were cleaned away: the session compiles from the ONNX file instead (the
    same output) and removes the broken copy."""
    seg = Engine(Settings(runtime="openvino")).segmenter()
    onnx_path = seg.session.path
    x = (_square("coffee", 640).transpose(2, 0, 1)[None] / 255.0).astype(np.float32)
    cache = tmp_path / "cache"
    first = runtime.OpenVinoSession(onnx_path, "f32", threads=None, streams=1, cache_dir=cache)
    want = first.run(None, {"x": x})[0]
    sized = next(cache.glob("*.640x640.xml"))
    sized.with_suffix(".bin").unlink()
    for blob in cache.glob("*.blob"):  # nor a compiled model to load instead
        blob.unlink()
    again = runtime.OpenVinoSession(onnx_path, "f32", threads=None, streams=1, cache_dir=cache)
    assert np.array_equal(again.run(None, {"x": x})[0], want)
    assert not sized.exists()


def test_openvino_gives_back_its_activations_and_runs_the_same_after() -> None:
    """``Segmenter.release_memory`` (called after the model for outputs of 20 MP and more): OpenVINO's kept
    activations are freed (RSS falls), and the next run allocates them again and gives the same alpha."""
    def rss_mb() -> float:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise AssertionError("no VmRSS")

    seg = Engine(Settings(runtime="openvino")).segmenter()
    rgb = _square("coffee", 1024)
    first = seg.predict(rgb)
    before = rss_mb()
    seg.release_memory()
    freed = before - rss_mb()
    assert freed > 50, f"only {freed:.0f} MB given back"
    assert np.array_equal(seg.predict(rgb), first)


# --------------------------------------------------------------------------- cache, models list, /readyz
@pytest.fixture
def fresh_home(tmp_path: Path) -> Iterator[Path]:
    """An OPENBG_HOME with the installed models (linked) and no OpenVINO cache yet."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "models").symlink_to(Settings.from_env().models_dir, target_is_directory=True)
    yield home


def _ready_body(server: Any) -> dict[str, Any]:
    r = httpx.get(f"{server.root_url}/readyz", timeout=10)
    assert r.status_code == 200
    body: dict[str, Any] = r.json()
    return body


def test_second_start_loads_compiled_models_from_the_cache(fresh_home: Path, emulator_factory: Any,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    env = {"OPENBG_HOME": str(fresh_home), "OPENBG_RUNTIME": "openvino"}
    times = []
    bodies = []
    for _ in range(2):
        t0 = time.perf_counter()
        server = emulator_factory(env)
        times.append(time.perf_counter() - t0)
        bodies.append(_ready_body(server))
        server.stop()
    first, second = (b["runtime"][0] for b in bodies)
    _say(capsys, f"start-up to /readyz: cold {times[0]:.1f} s (compiled {first['compiled']}), "
                 f"warm {times[1]:.1f} s (cache {second['compiled']})")
    assert first["runtime"] == "openvino" and first["cache_dir"] == str(fresh_home / "openvino-cache")
    assert set(first["compiled"]) == {"1024", "640"}
    assert not any(c["from_cache"] for c in first["compiled"].values())
    assert set(second["compiled"]) == {"1024", "640"}
    assert all(c["from_cache"] for c in second["compiled"].values())
    assert any((fresh_home / "openvino-cache").iterdir())


def test_models_list_and_readyz_show_the_runtime(live_server: Any) -> None:
    from openbg.cli import main

    choice = runtime.choose(Settings.from_env())
    text = CliRunner().invoke(main, ["models", "list"]).output
    assert f"runtime {choice.describe()}" in text
    rows = json.loads(CliRunner().invoke(main, ["models", "list", "--json"]).output)
    assert rows[0]["runtime"]["runtime"] == choice.runtime and rows[0]["runtime"]["precision"] == choice.precision
    bad = CliRunner(env={"OPENBG_RUNTIME": "tensorflow"}).invoke(main, ["models", "list"])
    assert bad.exit_code != 0 and "OPENBG_RUNTIME='tensorflow'" in bad.output and "Traceback" not in bad.output
    body = _ready_body(live_server)
    assert body["status"] == "ready"
    rt = body["runtime"][0]
    assert (rt["runtime"], rt["precision"]) == (choice.runtime, choice.precision) and rt["model"] == "medium"
