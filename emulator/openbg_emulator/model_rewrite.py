"""Graph rewrite of an IS-Net ONNX file into a faster, size-flexible one (issue 7).

The imgly IS-Net files store fp16 weights behind 91 ``Cast`` nodes and fix the input at 1×3×1024×1024.
:func:`rewrite` returns a new model that computes the same first output with:

* **fp32 everywhere** — every FLOAT16 initializer / ``Constant`` becomes FLOAT, every ``Cast(to=FLOAT16)``
  becomes ``Cast(to=FLOAT)``, and casts that then convert a tensor to its own type are removed. On this
  CPU the fp16 file spends ~10 % of an inference converting (1.81 vs 1.99 s per 1024² run);
* **only the first output** — the files also return five side outputs upsampled to 1024² and six
  feature maps that ``Segmenter.predict`` never reads; nodes needed only for them are dropped;
* **a symbolic input size** — the exporter folded every ``_upsample_like(src, tar)`` into
  ``Resize(sizes=Concat(Shape(src)[0:2], Constant([h, w])))``, with ``h, w`` the 1024-input sizes. Each
  such constant is replaced by ``Shape(tar)[2:4]`` of the tensor the upsampled result is concatenated
  with (found by shape inference at the fixed size), or by the graph input's size when the result is
  upsampled to the input (the side outputs). The model then runs at any multiple of 32 (checked at
  512, 640, 768 and 1024 by the caller; see ``models.derive``).

It is a pure function of the graph: no ORT, no files. Anything it does not recognise raises
:class:`RewriteError`, and the caller keeps the original file.
"""

from __future__ import annotations

from collections import defaultdict, deque
from typing import Any

import numpy as np

#: bump when the rewrite changes: derived files are cached under this version
CONVERTER_VERSION = 2


class RewriteError(ValueError):
    """The graph is not one this rewrite understands (the original file is used instead)."""


def _onnx() -> Any:
    import onnx

    return onnx


def _const_value(node: Any) -> np.ndarray | None:
    from onnx import numpy_helper

    if node.op_type != "Constant":
        return None
    for at in node.attribute:
        if at.name == "value":
            return np.asarray(numpy_helper.to_array(at.t))
    return None


def _to_fp32(model: Any) -> int:
    """FLOAT16 initializers, constants, casts and declared types → FLOAT. Returns how many were changed."""
    onnx = _onnx()
    from onnx import TensorProto, numpy_helper

    g = model.graph
    n = 0
    for init in g.initializer:
        if init.data_type == TensorProto.FLOAT16:
            init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float32), init.name))
            n += 1
    for node in g.node:
        if node.op_type == "Constant":
            for at in node.attribute:
                if at.name == "value" and at.t.data_type == TensorProto.FLOAT16:
                    at.t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(at.t).astype(np.float32), at.t.name))
                    n += 1
        elif node.op_type == "Cast":
            for at in node.attribute:
                if at.name == "to" and at.i == TensorProto.FLOAT16:
                    at.i = TensorProto.FLOAT
                    n += 1
        elif node.op_type in ("CastLike", "ConstantOfShape", "RandomNormal", "RandomUniform", "EyeLike"):
            for at in node.attribute:
                if (at.name == "dtype" and at.i == TensorProto.FLOAT16) or (
                    at.type == onnx.AttributeProto.TENSOR and at.t.data_type == TensorProto.FLOAT16
                ):
                    raise RewriteError(f"{node.op_type} node {node.name!r} with an fp16 attribute")
    for vi in list(g.input) + list(g.output):
        tt = vi.type.tensor_type
        if tt.elem_type == TensorProto.FLOAT16:
            tt.elem_type = TensorProto.FLOAT
            n += 1
    del g.value_info[:]
    return n


def _prune(model: Any) -> int:
    """Drop the nodes and initializers that no graph output needs. Returns how many nodes went."""
    g = model.graph
    prod = {o: i for i, node in enumerate(g.node) for o in node.output if o}
    need: set[int] = set()
    stack = [o.name for o in g.output]
    seen: set[str] = set()
    while stack:
        t = stack.pop()
        if t in seen:
            continue
        seen.add(t)
        i = prod.get(t)
        if i is None or i in need:
            continue
        need.add(i)
        stack.extend(x for x in g.node[i].input if x)
    keep = [node for i, node in enumerate(g.node) if i in need]
    removed = len(g.node) - len(keep)
    del g.node[:]
    g.node.extend(keep)
    used = {x for node in keep for x in node.input} | {o.name for o in g.output}
    inits = [init for init in g.initializer if init.name in used]
    del g.initializer[:]
    g.initializer.extend(inits)
    return removed


def _keep_first_output(model: Any) -> int:
    """Drop every graph output but the first, and the nodes only they needed. Returns nodes removed."""
    g = model.graph
    if len(g.output) == 0:
        raise RewriteError("the model has no output")
    del g.output[1:]
    return _prune(model)


def _infer(model: Any) -> dict[str, tuple[int, list[int | None]]]:
    """name → (elem_type, dims) from ONNX shape inference (data propagation on, for Shape→Resize)."""
    onnx = _onnx()
    try:
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False, data_prop=True)
    except Exception as e:  # noqa: BLE001 - onnx raises several types
        raise RewriteError(f"shape inference failed: {e}") from None
    out: dict[str, tuple[int, list[int | None]]] = {}
    g = inferred.graph
    for vi in list(g.input) + list(g.value_info) + list(g.output):
        tt = vi.type.tensor_type
        dims: list[int | None] = [d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim]
        out[vi.name] = (tt.elem_type, dims)
    for init in g.initializer:
        out[init.name] = (init.data_type, list(init.dims))
    return out


def _drop_identity_casts(model: Any, types: dict[str, tuple[int, list[int | None]]]) -> int:
    """Remove ``Cast`` nodes whose input already has the target type (fp16 → fp32 leaves 91 of them)."""
    g = model.graph
    outputs = {o.name for o in g.output}
    rename: dict[str, str] = {}
    keep = []
    for node in g.node:
        if node.op_type == "Cast" and node.output[0] not in outputs:
            to = next((at.i for at in node.attribute if at.name == "to"), None)
            src = rename.get(node.input[0], node.input[0])
            if to is not None and types.get(node.input[0], (None, []))[0] == to:
                rename[node.output[0]] = src
                continue
        keep.append(node)
    for node in keep:
        for k, x in enumerate(node.input):
            if x in rename:
                node.input[k] = rename[x]
    removed = len(g.node) - len(keep)
    del g.node[:]
    g.node.extend(keep)
    return removed


def _make_sizes_relative(model: Any, shapes: dict[str, tuple[int, list[int | None]]]) -> int:
    """Every Resize whose ``sizes`` ends in a constant [h, w] takes them from a tensor of that size instead."""
    from onnx import TensorProto, helper, numpy_helper

    g = model.graph
    prod = {o: node for node in g.node for o in node.output if o}
    consumers: dict[str, list[Any]] = defaultdict(list)
    for node in g.node:
        for x in node.input:
            if x:
                consumers[x].append(node)
    inp = g.input[0].name
    inp_hw = shapes.get(inp, (0, []))[1][2:4]

    def hw(name: str) -> list[int | None]:
        d = shapes.get(name, (0, []))[1]
        return d[2:4] if len(d) == 4 else []

    def through_casts_down(name: str) -> list[str]:
        names, todo = [name], [name]
        while todo:
            t = todo.pop()
            for c in consumers.get(t, []):
                if c.op_type in ("Cast", "Identity"):
                    names.append(c.output[0])
                    todo.append(c.output[0])
        return names

    added = []
    n = 0
    shape_of: dict[str, str] = {}
    for node in list(g.node):
        if node.op_type != "Resize" or len(node.input) < 4 or not node.input[3]:
            continue
        cat = prod.get(node.input[3])
        if cat is None:
            raise RewriteError(f"Resize {node.name!r}: sizes is a constant input, not computed")
        if cat.op_type == "Constant":
            raise RewriteError(f"Resize {node.name!r}: sizes is a constant")
        if cat.op_type != "Concat" or len(cat.input) < 2:
            continue  # computed some other way: leave it
        last = prod.get(cat.input[-1])
        c = _const_value(last) if last is not None else None
        if c is None:
            if cat.input[-1] in {i.name for i in g.initializer}:
                c = next(numpy_helper.to_array(i) for i in g.initializer if i.name == cat.input[-1])
            else:
                continue  # already relative
        c = np.asarray(c).reshape(-1)
        if c.size != 2:
            raise RewriteError(f"Resize {node.name!r}: constant sizes of {c.size} values")
        want = [int(c[0]), int(c[1])]
        # the tensor the result must match: another input of the node(s) that consume the result
        target = None
        for out in through_casts_down(node.output[0]):
            for cons in consumers.get(out, []):
                for x in cons.input:
                    if x and x != out and hw(x) == want and x not in through_casts_down(node.output[0]):
                        target = x
                        break
                if target:
                    break
            if target:
                break
        if target is None and list(inp_hw) == want:
            target = inp
        if target is None:
            raise RewriteError(f"Resize {node.name!r}: no tensor of size {want} to take the size from")
        if target not in shape_of:
            s = f"{target}__openbg_hw"
            added.append(helper.make_node("Shape", [target], [s + "_shape"], name=s + "_Shape"))
            added.append(helper.make_node("Slice", [s + "_shape", "openbg_c_2", "openbg_c_4", "openbg_c_0"],
                                          [s], name=s + "_Slice"))
            shape_of[target] = s
        cat.input[len(cat.input) - 1] = shape_of[target]
        n += 1
    if added:
        for name, v in (("openbg_c_2", 2), ("openbg_c_4", 4), ("openbg_c_0", 0)):
            g.initializer.append(helper.make_tensor(name, TensorProto.INT64, [1], [v]))
        g.node.extend(added)
    return n


def _toposort(model: Any) -> None:
    g = model.graph
    avail = {i.name for i in g.input} | {i.name for i in g.initializer} | {""}
    nodes = list(g.node)
    prod = {o: k for k, node in enumerate(nodes) for o in node.output}
    deps: list[set[int]] = []
    users: dict[int, list[int]] = defaultdict(list)
    for k, node in enumerate(nodes):
        d = {prod[x] for x in node.input if x not in avail and x in prod}
        missing = [x for x in node.input if x not in avail and x not in prod]
        if missing:
            raise RewriteError(f"node {node.name!r} reads undefined tensors {missing[:3]}")
        deps.append(d)
        for j in d:
            users[j].append(k)
    ready = deque(sorted(k for k, d in enumerate(deps) if not d))
    order: list[int] = []
    left = [len(d) for d in deps]
    while ready:
        k = ready.popleft()
        order.append(k)
        for u in users[k]:
            left[u] -= 1
            if left[u] == 0:
                ready.append(u)
    if len(order) != len(nodes):
        raise RewriteError("the rewritten graph has a cycle")
    del g.node[:]
    g.node.extend(nodes[k] for k in order)


def _symbolic_dims(model: Any) -> None:
    g = model.graph
    d = g.input[0].type.tensor_type.shape.dim
    if len(d) != 4:
        raise RewriteError(f"input {g.input[0].name!r} is not N×C×H×W")
    d[2].ClearField("dim_value")
    d[2].dim_param = "height"
    d[3].ClearField("dim_value")
    d[3].dim_param = "width"
    for o in g.output:
        od = o.type.tensor_type.shape.dim
        if len(od) == 4:
            od[2].ClearField("dim_value")
            od[2].dim_param = "height"
            od[3].ClearField("dim_value")
            od[3].dim_param = "width"


def rewrite(model: Any, *, dynamic: bool = True) -> tuple[Any, dict[str, int]]:
    """A rewritten copy of ``model`` (an ``onnx.ModelProto``) and counts of what changed.

    ``dynamic=False`` keeps the input size fixed (fp32 and pruning only). Raises :class:`RewriteError`
    when the graph is not an IS-Net-like one with a fixed N×C×H×W input.
    """
    onnx = _onnx()
    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    if len(g.input) < 1:
        raise RewriteError("the model has no input")
    init_names = {i.name for i in g.initializer}
    real_inputs = [i for i in g.input if i.name not in init_names]
    if len(real_inputs) != 1:
        raise RewriteError(f"expected one image input, found {len(real_inputs)}")
    del g.input[:]
    g.input.extend(real_inputs)
    dims = [d.dim_value if d.HasField("dim_value") else None for d in g.input[0].type.tensor_type.shape.dim]
    if len(dims) != 4 or dims[2] is None or dims[3] is None:
        raise RewriteError(f"input shape {dims} is not a fixed N×C×H×W")
    stats = {"pruned": _keep_first_output(m)}
    stats["fp16"] = _to_fp32(m)
    _toposort(m)  # the files' nodes are not in topological order (shape inference needs it)
    shapes = _infer(m)
    stats["casts"] = _drop_identity_casts(m, shapes)
    if dynamic:
        stats["resizes"] = _make_sizes_relative(m, shapes)
        _prune(m)  # the constants the Resizes no longer read
    _toposort(m)
    if dynamic:
        _symbolic_dims(m)
    del m.graph.value_info[:]
    try:
        onnx.checker.check_model(m)
    except Exception as e:  # noqa: BLE001 - onnx raises several types
        raise RewriteError(f"the rewritten model does not check: {e}") from None
    return m, stats
