"""Cache raw IS-Net outputs for the dev set (stretched / padded, with flipped passes) in /tmp/qcache."""
from __future__ import annotations
import csv, os, sys, time
import numpy as np
import onnxruntime as ort
from PIL import Image

DEV = sys.argv[1] if len(sys.argv) > 1 else "/work/shared/eval/dev"
MODEL = os.environ.get("QMODEL", "/tmp/isnet-medium.onnx")
CACHE = "/tmp/qcache"
S = 1024


def session():
    so = ort.SessionOptions(); so.intra_op_num_threads = 2; so.inter_op_num_threads = 1
    return ort.InferenceSession(MODEL, so, providers=["CPUExecutionProvider"])


def run(sess, img1024: np.ndarray) -> np.ndarray:
    x = (img1024.astype(np.float32) / 255.0 - 0.5).transpose(2, 0, 1)[None]
    y = sess.run(["output"], {"input": np.ascontiguousarray(x)})[0][0, 0]
    return np.clip(y, 0, 1).astype(np.float32)


def stretched(rgb):
    return np.asarray(Image.fromarray(rgb).resize((S, S), Image.BILINEAR))


def padded(rgb):
    h, w = rgb.shape[:2]; sc = S / max(h, w)
    nh, nw = max(1, round(h * sc)), max(1, round(w * sc))
    r = np.asarray(Image.fromarray(rgb).resize((nw, nh), Image.BILINEAR))
    out = np.full((S, S, 3), 128, np.uint8)  # mid-grey -> 0 after normalisation
    t, l = (S - nh) // 2, (S - nw) // 2
    out[t:t + nh, l:l + nw] = r
    return out, (t, l, nh, nw)


def main():
    sess = session()
    rows = list(csv.DictReader(open(os.path.join(DEV, "manifest.csv"))))
    rows.sort(key=lambda r: r["gt_kind"] != "alpha")
    passes = (sys.argv[2] if len(sys.argv) > 2 else "st,pad,stf,padf").split(",")
    for key in passes:  # one sweep per pass so the most useful ones finish first
        for r in rows:
            p = os.path.join(CACHE, r["name"] + ".npz")
            c = dict(np.load(p)) if os.path.exists(p) else {}
            if key in c:
                continue
            rgb = np.asarray(Image.open(os.path.join(DEV, r["image"])).convert("RGB"))
            t0 = time.perf_counter()
            if key.startswith("st"):
                x = stretched(rgb)
            else:
                x, box = padded(rgb)
                c["box"] = np.array(box)
            if key.endswith("f"):
                y = run(sess, x[:, ::-1].copy())[:, ::-1]
            else:
                y = run(sess, x)
            c[key] = y.astype(np.float16)
            c["t_" + key] = np.array(time.perf_counter() - t0)
            np.savez(p + ".tmp.npz", **c)
            os.replace(p + ".tmp.npz", p)
            print(key, r["name"], f"{time.perf_counter() - t0:.2f}s", flush=True)

if __name__ == "__main__":
    main()
