"""The COCO detector: the TF.js → ONNX converter against a numpy reference, and (when the model is
installed by `openbg models fetch`) real detections on scikit-image photos."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
from openbg_emulator import detectors as D
from openbg_emulator.pipeline.classify import classify, select_subject
from openbg_emulator.settings import Settings
from skimage import data

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")


def _b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


def _node(name: str, op: str, inputs: list[str], **attr: object) -> dict[str, object]:
    return {"name": name, "op": op, "input": inputs, "attr": attr}


def _tiny_graph(rng: np.random.Generator) -> tuple[dict[str, object], bytes, dict[str, np.ndarray]]:
    """conv(3→4, stride 2, SAME)+bias+relu → depthwise 3×3 + bias + relu6 → SE (mean, conv, sigmoid, mul)
    → bilinear ×2 → concat with a 1×1 conv → sigmoid; NHWC, TF.js weights float16-quantised."""
    w = {
        "c1/w": rng.normal(0, 0.5, (3, 3, 3, 4)).astype(np.float32),
        "c1/b": rng.normal(0, 0.1, (4,)).astype(np.float32),
        "dw/w": rng.normal(0, 0.5, (3, 3, 4, 1)).astype(np.float32),
        "dw/b": rng.normal(0, 0.1, (4,)).astype(np.float32),
        "se/w": rng.normal(0, 0.5, (1, 1, 4, 4)).astype(np.float32),
        "mean/axes": np.array([1, 2], np.int32),
        "up/size": np.array([8, 8], np.int32),
        "skip/w": rng.normal(0, 0.5, (1, 1, 3, 2)).astype(np.float32),
        "pool_s/w": rng.normal(0, 0.5, (2, 2, 3, 3)).astype(np.float32),
        "axis": np.array(3, np.int32),
    }
    # float16-quantised float weights (as the real model), int32 kept as is
    blobs, manifest = [], []
    for k, v in w.items():
        if v.dtype == np.float32:
            h = v.astype(np.float16)
            w[k] = h.astype(np.float32)
            blobs.append(h.tobytes())
            manifest.append(
                {
                    "name": k,
                    "shape": list(v.shape),
                    "dtype": "float32",
                    "quantization": {"dtype": "float16", "original_dtype": "float32"},
                }
            )
        else:
            blobs.append(v.tobytes())
            manifest.append({"name": k, "shape": list(v.shape), "dtype": "int32"})
    nhwc = {"s": _b64("NHWC")}
    same, valid = {"s": _b64("SAME")}, {"s": _b64("VALID")}
    s2 = {"list": {"i": ["1", "2", "2", "1"]}}
    s1 = {"list": {"i": ["1", "1", "1", "1"]}}
    nodes = [
        _node(
            "x",
            "Placeholder",
            [],
            shape={"shape": {"dim": [{"size": "1"}, {"size": "8"}, {"size": "8"}, {"size": "3"}]}},
        ),
        _node(
            "c1",
            "_FusedConv2D",
            ["x", "c1/w", "c1/b"],
            strides=s2,
            padding=same,
            data_format=nhwc,
            fused_ops={"list": {"s": [_b64("BiasAdd"), _b64("Relu")]}},
            num_args={"i": "1"},
        ),
        _node(
            "dw",
            "FusedDepthwiseConv2dNative",
            ["c1", "dw/w", "dw/b"],
            strides=s1,
            padding=same,
            data_format=nhwc,
            fused_ops={"list": {"s": [_b64("BiasAdd"), _b64("Relu6")]}},
        ),
        _node("mean", "Mean", ["dw", "mean/axes"], keep_dims={"b": True}),
        _node("se", "Conv2D", ["mean", "se/w"], strides=s1, padding=valid, data_format=nhwc),
        _node("sig", "Sigmoid", ["se"]),
        _node("mul", "Mul", ["dw", "sig"]),
        _node(
            "up",
            "ResizeBilinear",
            ["mul", "up/size"],
            align_corners={"b": False},
            half_pixel_centers={"b": False},
        ),
        _node("skip", "Conv2D", ["x", "skip/w"], strides=s1, padding=valid, data_format=nhwc),
        _node("cat", "ConcatV2", ["up", "skip", "axis"]),
        _node("out", "Sigmoid", ["cat"]),
        _node("out_id", "Identity", ["out"]),
    ]
    model = {
        "format": "graph-model",
        "modelTopology": {"node": nodes},
        "weightsManifest": [{"paths": ["w.bin"], "weights": manifest}],
    }
    return model, b"".join(blobs), w


def _conv_nhwc(x: np.ndarray, w: np.ndarray, stride: int, same: bool, depthwise: bool = False) -> np.ndarray:
    n, h, wd, c = x.shape
    kh, kw = w.shape[:2]
    if same:
        oh, ow = -(-h // stride), -(-wd // stride)
        ph = max((oh - 1) * stride + kh - h, 0)
        pw = max((ow - 1) * stride + kw - wd, 0)
        x = np.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
    else:
        oh, ow = (h - kh) // stride + 1, (wd - kw) // stride + 1
    out_c = c * w.shape[3] if depthwise else w.shape[3]
    y = np.zeros((n, oh, ow, out_c), np.float64)
    for i in range(oh):
        for j in range(ow):
            patch = x[:, i * stride : i * stride + kh, j * stride : j * stride + kw, :]
            if depthwise:
                y[:, i, j, :] = np.einsum("nhwc,hwc->nc", patch, w[..., 0])
            else:
                y[:, i, j, :] = np.einsum("nhwc,hwco->no", patch, w)
    return y


def _resize_asymmetric(x: np.ndarray, oh: int, ow: int) -> np.ndarray:
    _n, h, w, _c = x.shape
    ys, xs = np.arange(oh) * h / oh, np.arange(ow) * w / ow
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
    fy, fx = (ys - y0)[None, :, None, None], (xs - x0)[None, None, :, None]
    top = x[:, y0][:, :, x0] * (1 - fx) + x[:, y0][:, :, x1] * fx
    bot = x[:, y1][:, :, x0] * (1 - fx) + x[:, y1][:, :, x1] * fx
    return top * (1 - fy) + bot * fy


def test_tfjs_converter_matches_reference() -> None:
    rng = np.random.default_rng(0)
    model, blob, w = _tiny_graph(rng)
    onnx_bytes = D.tfjs_to_onnx(model, blob, ["out_id"], flexible_size=False)
    sess = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    x = rng.normal(0, 1, (1, 8, 8, 3)).astype(np.float32)
    (got,) = sess.run(None, {"x": x})

    c1 = np.maximum(_conv_nhwc(x, w["c1/w"], 2, True) + w["c1/b"], 0)
    dw = np.clip(_conv_nhwc(c1, w["dw/w"], 1, True, depthwise=True) + w["dw/b"], 0, 6)
    se = 1 / (1 + np.exp(-_conv_nhwc(dw.mean(axis=(1, 2), keepdims=True), w["se/w"], 1, False)))
    up = _resize_asymmetric(dw * se, 8, 8)
    skip = _conv_nhwc(x, w["skip/w"], 1, False)
    want = 1 / (1 + np.exp(-np.concatenate([up, skip], axis=3)))
    assert got.shape == (1, 8, 8, 6)
    np.testing.assert_allclose(got, want, atol=2e-4)


def test_tfjs_converter_flexible_size_and_errors() -> None:
    rng = np.random.default_rng(1)
    model, blob, _ = _tiny_graph(rng)
    sess = ort.InferenceSession(D.tfjs_to_onnx(model, blob, ["out_id"]), providers=["CPUExecutionProvider"])
    (got,) = sess.run(None, {"x": rng.normal(0, 1, (1, 16, 24, 3)).astype(np.float32)})
    assert got.shape == (1, 16, 24, 6)  # the ×2 resize follows the input size
    with pytest.raises(D.ModelError):
        D.tfjs_to_onnx(model, blob + b"\0\0", ["out_id"])  # weights file does not match the manifest
    bad = json.loads(json.dumps(model))
    bad["modelTopology"]["node"][-2]["op"] = "Softplus"
    with pytest.raises(D.ModelError, match="Softplus"):
        D.tfjs_to_onnx(bad, blob, ["out_id"])


def _hard_swish_graph() -> object:
    """MobileNetV3's activations as TF.js spells them (NHWC): hard-swish, squeeze-excite with a
    spatial mean and hard-sigmoid gate."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    c = {n: numpy_helper.from_array(np.array(v, np.float32), n) for n, v in
         (("three", 3.0), ("zero", 0.0), ("six", 6.0), ("sixth", 1.0 / 6.0))}
    axes = numpy_helper.from_array(np.array([1, 2], np.int64), "axes")
    nodes = [
        helper.make_node("Add", ["x", "three"], ["a"]),
        helper.make_node("Clip", ["a", "zero", "six"], ["r6"]),
        helper.make_node("Mul", ["x", "sixth"], ["xs"]),
        helper.make_node("Mul", ["xs", "r6"], ["hs"]),  # hard-swish
        helper.make_node("ReduceMean", ["hs", "axes"], ["m"], keepdims=1),
        helper.make_node("Add", ["m", "three"], ["ma"]),
        helper.make_node("Clip", ["ma", "zero", "six"], ["mr6"]),
        helper.make_node("Mul", ["mr6", "sixth"], ["gate"]),  # hard-sigmoid
        helper.make_node("Mul", ["hs", "gate"], ["y"]),
    ]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 6, 6, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 6, 6, 4])],
                          [*c.values(), axes])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


def test_fused_activations_compute_the_same() -> None:
    import onnx

    m = _hard_swish_graph()
    x = np.random.default_rng(2).normal(0, 3, (1, 6, 6, 4)).astype(np.float32)
    ref = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])  # type: ignore[attr-defined]
    (want,) = ref.run(None, {"x": x})
    fused, n = D.fuse_mobilenet_ops(m)
    assert n == 3  # hard-swish, hard-sigmoid, the mean
    onnx.checker.check_model(fused)
    ops = [node.op_type for node in fused.graph.node]
    assert {"HardSwish", "HardSigmoid", "GlobalAveragePool"} <= set(ops)
    assert "Clip" not in ops and "ReduceMean" not in ops and "Add" not in ops
    sess = ort.InferenceSession(fused.SerializeToString(), providers=["CPUExecutionProvider"])
    (got,) = sess.run(None, {"x": x})
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert D.fuse_mobilenet_ops(fused)[1] == 0  # idempotent


def test_fetch_rejects_a_tampered_package(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import io
    import tarfile

    tgz = tmp_path / "pkg.tgz"
    with tarfile.open(tgz, "w:gz") as tar:
        for member in D.SOURCES:
            payload = b"not the model"
            info = tarfile.TarInfo(member)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    with pytest.raises(D.ModelError, match="sha256"):
        D.convert_package(tgz)


@pytest.fixture(scope="module")
def detector() -> D.CocoDetector:
    # `make test` runs `openbg models fetch` first, so a missing detector is a set-up failure, not a skip.
    det = D.load_detector(Settings.from_env())
    assert det is not None, "detector not installed: run `openbg models fetch`"
    return det


@pytest.mark.parametrize(
    ("name", "want"), [("astronaut", "person"), ("chelsea", "animal"), ("coffee", "product")]
)
def test_real_photos(name: str, want: str, detector: D.CocoDetector) -> None:
    rgb = getattr(data, name)()
    h, w = rgb.shape[:2]
    alpha = np.zeros((h, w), np.float32)
    alpha[h // 8 : h - h // 8, w // 8 : w - w // 8] = 1.0  # a rough cut of the middle
    assert classify(rgb, alpha, detector=detector) == want


def test_select_subject_on_a_real_pair(detector: D.CocoDetector) -> None:
    # the astronaut and the cat side by side: type=animal keeps the cat, type=person the astronaut
    import cv2

    a = cv2.resize(data.astronaut(), (400, 400))
    c = cv2.resize(data.chelsea(), (400, 300))
    canvas = np.full((400, 840, 3), 255, np.uint8)
    canvas[:, :400] = a
    canvas[50:350, 440:840] = c
    alpha = np.zeros((400, 840), np.float32)
    alpha[:, :400] = 1.0
    alpha[50:350, 440:840] = 1.0
    cat = select_subject(alpha, canvas, "animal", detector=detector)
    assert cat[:, 440:].sum() == alpha[:, 440:].sum() and cat[:, :400].sum() == 0
    person = select_subject(alpha, canvas, "person", detector=detector)
    assert person[:, :400].sum() == alpha[:, :400].sum() and person[:, 440:].sum() == 0
