"""TF.js graph model → ONNX, for the COCO detector: set-up code (``openbg models fetch``), never run per
request. :func:`tfjs_to_onnx` translates the graph op by op; :func:`fuse_mobilenet_ops` fuses its
activations when the detector loads (~20 % faster on CPU). Needs the ``onnx`` package.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

import numpy as np

from .model_store import ModelError


def _attr(node: dict[str, Any], key: str, default: Any = None) -> Any:
    a = node.get("attr", {}).get(key)
    if a is None:
        return default
    if "list" in a:
        lst = a["list"]
        if "i" in lst:
            return [int(v) for v in lst["i"]]
        if "s" in lst:
            return [base64.b64decode(v).decode() for v in lst["s"]]
        if "f" in lst:
            return [float(v) for v in lst["f"]]
        return []
    if "s" in a:
        return base64.b64decode(a["s"]).decode()
    if "i" in a:
        return int(a["i"])
    if "f" in a:
        return float(a["f"])
    if "b" in a:
        return bool(a["b"])
    return default


def _read_weights(manifest: list[dict[str, Any]], data: bytes) -> dict[str, np.ndarray]:
    """Decode a TF.js weights manifest (float32, int32, float16- and uint8-quantised)."""
    out: dict[str, np.ndarray] = {}
    off = 0
    for group in manifest:
        for w in group["weights"]:
            shape = [int(s) for s in w["shape"]]
            n = int(np.prod(shape)) if shape else 1
            q = w.get("quantization")
            if q is not None:
                qd = q["dtype"]
                if qd == "float16":
                    arr = np.frombuffer(data, np.float16, n, off).astype(np.float32)
                    off += 2 * n
                elif qd in ("uint8", "uint16"):
                    qdt = np.dtype(np.uint8 if qd == "uint8" else np.uint16)
                    raw = np.frombuffer(data, qdt, n, off).astype(np.float32)
                    off += qdt.itemsize * n
                    arr = raw * float(q["scale"]) + float(q["min"])
                else:
                    raise ModelError(f"unsupported TF.js quantisation {qd!r}")
            else:
                if w["dtype"] not in ("float32", "int32"):
                    raise ModelError(f"unsupported TF.js weight dtype {w['dtype']!r}")
                arr = np.frombuffer(data, np.dtype(w["dtype"]), n, off).copy()
                off += 4 * n
            out[w["name"]] = arr.reshape(shape)
    if off != len(data):
        raise ModelError(f"weights file has {len(data)} bytes, manifest describes {off}")
    return out


def tfjs_to_onnx(
    model: dict[str, Any], weights: bytes, outputs: Sequence[str], *, flexible_size: bool = True
) -> bytes:
    """Translate a TF.js graph model (NHWC, inference ops of MobileNet-style nets) to ONNX bytes.

    Tensors keep TensorFlow's NHWC layout; convolutions, pooling and resizes are wrapped in
    transposes to ONNX's NCHW (ONNX Runtime's optimiser removes the back-to-back pairs).
    Only the ops this detector uses are supported; anything else raises :class:`ModelError`.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    consts = _read_weights(model["weightsManifest"], weights)
    nodes_by_name = {n["name"]: n for n in model["modelTopology"]["node"]}
    onnx_nodes: list[Any] = []
    inits: dict[str, Any] = {}
    done: dict[str, str] = {}
    graph_inputs: list[Any] = []
    counter = [0]

    def fresh(base: str) -> str:
        counter[0] += 1
        return f"{base}__{counter[0]}"

    def init(name: str, arr: np.ndarray) -> str:
        if name not in inits:
            inits[name] = numpy_helper.from_array(np.ascontiguousarray(arr), name)
        return name

    def const_value(ref: str) -> np.ndarray:
        name = ref.split(":")[0]
        if name in consts:
            return consts[name]
        node = nodes_by_name.get(name)
        if node is not None and node["op"] == "Identity":
            return const_value(node["input"][0])
        raise ModelError(f"{name} is not a constant")

    def nchw(x: str) -> str:
        y = fresh(x + "_nchw")
        onnx_nodes.append(helper.make_node("Transpose", [x], [y], perm=[0, 3, 1, 2]))
        return y

    def nhwc(x: str, out: str) -> str:
        onnx_nodes.append(helper.make_node("Transpose", [x], [out], perm=[0, 2, 3, 1]))
        return out

    def activation(x: str, node: dict[str, Any], ops: list[str], out: str) -> str:
        cur = x
        acts = [o for o in ops if o != "BiasAdd"]
        if not acts:
            onnx_nodes.append(helper.make_node("Identity", [cur], [out]))
            return out
        for i, op in enumerate(acts):
            nxt = out if i == len(acts) - 1 else fresh(out)
            cur = _act(op, cur, nxt, node)
        return out

    def _act(op: str, x: str, out: str, node: dict[str, Any]) -> str:
        if op == "Relu":
            onnx_nodes.append(helper.make_node("Relu", [x], [out]))
        elif op == "Relu6":
            lo = init("__zero", np.array(0.0, np.float32))
            hi = init("__six", np.array(6.0, np.float32))
            onnx_nodes.append(helper.make_node("Clip", [x, lo, hi], [out]))
        elif op == "Sigmoid":
            onnx_nodes.append(helper.make_node("Sigmoid", [x], [out]))
        elif op == "LeakyRelu":
            alpha = _attr(node, "leakyrelu_alpha", _attr(node, "alpha", 0.2))
            onnx_nodes.append(helper.make_node("LeakyRelu", [x], [out], alpha=float(alpha)))
        else:
            raise ModelError(f"unsupported fused activation {op}")
        return out

    def conv(node: dict[str, Any], x: str, depthwise: bool, fused: bool) -> str:
        name = node["name"]
        w = const_value(node["input"][1]).astype(np.float32)
        kh, kw = w.shape[:2]
        if depthwise:  # [kh, kw, C, m] → [C*m, 1, kh, kw]
            c, m = w.shape[2], w.shape[3]
            wt = w.transpose(2, 3, 0, 1).reshape(c * m, 1, kh, kw)
            group = int(c)
        else:  # HWIO → OIHW
            wt = w.transpose(3, 2, 0, 1)
            group = 1
        if _attr(node, "data_format", "NHWC") != "NHWC":
            raise ModelError(f"{name}: only NHWC convolutions are supported")
        strides = _attr(node, "strides", [1, 1, 1, 1])[1:3]
        dil = _attr(node, "dilations", [1, 1, 1, 1])[1:3]
        padding = _attr(node, "padding", "VALID")
        kwargs: dict[str, Any] = {"strides": strides, "dilations": dil, "group": group}
        if padding == "SAME":
            kwargs["auto_pad"] = "SAME_UPPER"
        elif padding == "VALID":
            kwargs["pads"] = [0, 0, 0, 0]
        else:
            raise ModelError(f"{name}: padding {padding} unsupported")
        ins = [nchw(x), init(name + "__w", wt)]
        ops: list[str] = []
        if fused:
            ops = _attr(node, "fused_ops", [])
            if "BiasAdd" in ops:
                ins.append(init(name + "__b", const_value(node["input"][2]).astype(np.float32).reshape(-1)))
            unknown = [o for o in ops if o not in ("BiasAdd", "Relu", "Relu6", "LeakyRelu", "Sigmoid")]
            if unknown:
                raise ModelError(f"{name}: fused ops {unknown} unsupported")
        y = fresh(name + "_conv")
        onnx_nodes.append(helper.make_node("Conv", ins, [y], **kwargs))
        z = nhwc(y, fresh(name + "_nhwc"))
        return activation(z, node, ops, name)

    def build(ref: str) -> str:
        name = ref.split(":")[0]
        if ":" in ref and not ref.endswith(":0"):
            raise ModelError(f"multi-output reference {ref} unsupported")
        if name in done:
            return done[name]
        if name in consts:
            done[name] = init(name, consts[name])
            return done[name]
        node = nodes_by_name[name]
        op = node["op"]
        ins = node.get("input", [])
        if op == "Placeholder":
            dims = [int(d["size"]) for d in _attr_shape(node)]
            graph_inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, dims))
            out = name
        elif op == "Identity":
            out = build(ins[0])
        elif op in ("_FusedConv2D", "Conv2D"):
            out = conv(node, build(ins[0]), depthwise=False, fused=op == "_FusedConv2D")
        elif op in ("FusedDepthwiseConv2dNative", "DepthwiseConv2dNative"):
            out = conv(node, build(ins[0]), depthwise=True, fused=op.startswith("Fused"))
        elif op in ("Add", "AddV2", "Mul", "Sub"):
            onnx_op = {"Add": "Add", "AddV2": "Add", "Mul": "Mul", "Sub": "Sub"}[op]
            a, b = (build(i) for i in ins[:2])
            onnx_nodes.append(helper.make_node(onnx_op, [a, b], [name]))
            out = name
        elif op in ("Relu", "Relu6", "Sigmoid", "LeakyRelu"):
            out = _act(op, build(ins[0]), name, node)
        elif op == "Mean":
            axes = const_value(ins[1]).astype(np.int64).reshape(-1)
            keep = 1 if _attr(node, "keep_dims", False) else 0
            ax = init(name + "__axes", axes)
            onnx_nodes.append(helper.make_node("ReduceMean", [build(ins[0]), ax], [name], keepdims=keep))
            out = name
        elif op == "ConcatV2":
            axis = int(const_value(ins[-1]))
            parts = [build(i) for i in ins[:-1]]
            onnx_nodes.append(helper.make_node("Concat", parts, [name], axis=axis))
            out = name
        elif op == "ResizeBilinear":
            size = const_value(ins[1]).astype(np.int64).reshape(-1)
            if _attr(node, "align_corners", False):
                mode = "align_corners"
            elif _attr(node, "half_pixel_centers", False):
                mode = "half_pixel"
            else:
                mode = "asymmetric"
            x = nchw(build(ins[0]))
            shape_n = fresh(name + "_shape")
            onnx_nodes.append(helper.make_node("Shape", [x], [shape_n], end=2))
            hw = init(name + "__hw", size)
            full = fresh(name + "_sizes")
            onnx_nodes.append(helper.make_node("Concat", [shape_n, hw], [full], axis=0))
            y = fresh(name + "_resized")
            onnx_nodes.append(
                helper.make_node(
                    "Resize", [x, "", "", full], [y], mode="linear", coordinate_transformation_mode=mode
                )
            )
            out = nhwc(y, name)
        elif op == "MaxPool":
            k = _attr(node, "ksize")[1:3]
            st = _attr(node, "strides")[1:3]
            pad = _attr(node, "padding")
            kw2: dict[str, Any] = {"kernel_shape": k, "strides": st}
            kw2["auto_pad"] = "SAME_UPPER" if pad == "SAME" else "VALID"
            y = fresh(name + "_pool")
            onnx_nodes.append(helper.make_node("MaxPool", [nchw(build(ins[0]))], [y], **kw2))
            out = nhwc(y, name)
        else:
            raise ModelError(f"TF.js op {op} ({name}) is not supported by the converter")
        done[name] = out
        return out

    outs = []
    for o in outputs:
        t = build(o)
        onnx_nodes.append(helper.make_node("Identity", [t], [o.replace("/", "_")]))
        outs.append(
            helper.make_tensor_value_info(o.replace("/", "_"), TensorProto.FLOAT, ["n", "h", "w", "c"])
        )
    graph = helper.make_graph(onnx_nodes, "tfjs_graph", graph_inputs, outs, list(inits.values()))
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], producer_name="openbg")
    m.ir_version = 8
    onnx.checker.check_model(m)
    if flexible_size:
        m = _resizes_by_scale(m)
    return m.SerializeToString()


def _resizes_by_scale(m: Any) -> Any:
    """Make the model accept any input size (multiple of the net's stride): fixed-size resizes
    become scale factors (from the shapes inferred at the model's own input size), and the input's
    height and width become symbolic."""
    import onnx
    from onnx import numpy_helper

    inferred = onnx.shape_inference.infer_shapes(m)
    shapes = {
        vi.name: [d.dim_value for d in vi.type.tensor_type.shape.dim]
        for vi in list(inferred.graph.value_info) + list(inferred.graph.input)
    }
    inits = {t.name: t for t in m.graph.initializer}
    producers = {o: n for n in m.graph.node for o in n.output}
    for node in m.graph.node:
        if node.op_type != "Resize" or len(node.input) < 4 or not node.input[3]:
            continue
        concat = producers[node.input[3]]  # Concat(Shape(x)[:2], const hw)
        hw = numpy_helper.to_array(inits[concat.input[1]]).astype(np.float64)
        in_shape = shapes.get(node.input[0])
        if not in_shape or len(in_shape) != 4 or 0 in in_shape[2:]:
            raise ModelError(f"cannot infer the input shape of {node.name or node.output[0]}")
        scales = np.array([1.0, 1.0, hw[0] / in_shape[2], hw[1] / in_shape[3]], np.float32)
        name = node.output[0] + "__scales"
        m.graph.initializer.append(numpy_helper.from_array(scales, name))
        node.input[2] = name
        node.input[3] = ""
    for inp in m.graph.input:
        dims = inp.type.tensor_type.shape.dim
        if len(dims) == 4:
            dims[1].dim_param, dims[2].dim_param = "height", "width"
    onnx.checker.check_model(m)
    return m


def fuse_mobilenet_ops(model: Any) -> tuple[Any, int]:
    """Rewrite MobileNetV3's composite activations into single ONNX ops, in place (idempotent).

    TF.js spells hard-swish ``x·relu6(x+3)·⅙`` and hard-sigmoid ``relu6(x+3)·⅙`` with four and three
    elementwise ops, and the squeeze-excite pooling as ``ReduceMean`` over (H, W).  ONNX Runtime's
    blocked-layout (NCHWc) kernels cannot keep those in their layout, so every block paid two layout
    reorders; as ``HardSwish`` / ``HardSigmoid`` / ``GlobalAveragePool`` they stay blocked.  Same
    arithmetic (outputs equal to float rounding).  Returns ``(model, number of rewrites)``.
    """
    from onnx import helper, numpy_helper

    g = model.graph
    inits = {t.name: t for t in g.initializer}
    prod = {o: n for n in g.node for o in n.output}

    def const(name: str) -> np.ndarray | None:
        if name in inits:
            return numpy_helper.to_array(inits[name])
        n = prod.get(name)
        if n is not None and n.op_type == "Identity":
            return const(n.input[0])
        return None

    def is_scalar(name: str, v: float) -> bool:
        c = const(name)
        return c is not None and c.size == 1 and abs(float(c.reshape(-1)[0]) - v) < 1e-4

    def relu6_plus3(name: str) -> str | None:  # Clip(Add(x, 3), 0, 6) → x
        n = prod.get(name)
        if n is None or n.op_type != "Clip" or len(n.input) < 3:
            return None
        if not (is_scalar(n.input[1], 0.0) and is_scalar(n.input[2], 6.0)):
            return None
        a = prod.get(n.input[0])
        if a is None or a.op_type != "Add":
            return None
        for x, k in ((a.input[0], a.input[1]), (a.input[1], a.input[0])):
            if is_scalar(k, 3.0):
                return x
        return None

    def sixth_of(name: str) -> str | None:  # Mul(x, 1/6) → x
        n = prod.get(name)
        if n is None or n.op_type != "Mul":
            return None
        for x, k in ((n.input[0], n.input[1]), (n.input[1], n.input[0])):
            if is_scalar(k, 1.0 / 6.0):
                return x
        return None

    if not any(o.domain in ("", "ai.onnx") and o.version >= 14 for o in model.opset_import):
        return model, 0  # HardSwish needs opset 14
    new: list[Any] = []
    count = 0
    for n in g.node:
        if n.op_type == "Mul":
            rep = None
            for a, b in ((n.input[0], n.input[1]), (n.input[1], n.input[0])):
                x = relu6_plus3(a)
                if x is None:
                    continue
                if sixth_of(b) == x:
                    rep = helper.make_node("HardSwish", [x], [n.output[0]], name=f"fused_hswish_{count}")
                elif is_scalar(b, 1.0 / 6.0):
                    rep = helper.make_node(
                        "HardSigmoid",
                        [x],
                        [n.output[0]],
                        alpha=1.0 / 6.0,
                        beta=0.5,
                        name=f"fused_hsig_{count}",
                    )
                if rep is not None:
                    break
            if rep is not None:
                new.append(rep)
                count += 1
                continue
        elif n.op_type == "ReduceMean" and len(n.input) > 1:
            axes = const(n.input[1])
            keep = [a.i for a in n.attribute if a.name == "keepdims"]
            if axes is not None and sorted(axes.reshape(-1).tolist()) == [1, 2] and keep == [1]:  # NHWC
                t1, t2 = f"{n.output[0]}__nchw", f"{n.output[0]}__gap"
                new += [
                    helper.make_node("Transpose", [n.input[0]], [t1], perm=[0, 3, 1, 2], name=f"{t1}_t"),
                    helper.make_node("GlobalAveragePool", [t1], [t2], name=f"{t2}_p"),
                    helper.make_node("Transpose", [t2], [n.output[0]], perm=[0, 2, 3, 1], name=f"{t2}_t"),
                ]
                count += 1
                continue
        new.append(n)
    if not count:
        return model, 0
    # drop what no output needs any more (the replaced Add/Clip/Mul chains)
    need = {o.name for o in g.output}
    live: list[Any] = []
    for n in reversed(new):
        if any(o in need for o in n.output):
            live.append(n)
            need.update(i for i in n.input if i)
    live.reverse()
    del g.node[:]
    g.node.extend(live)
    used = {i for n in live for i in n.input}
    kept = [t for t in g.initializer if t.name in used]
    del g.initializer[:]
    g.initializer.extend(kept)
    return model, count


def _attr_shape(node: dict[str, Any]) -> list[dict[str, str]]:
    return node["attr"]["shape"]["shape"]["dim"]
