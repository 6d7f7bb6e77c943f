"""Synthetic tests for openbg_emulator.pipeline.matting (no model needed)."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest
from openbg_emulator.pipeline import matting, refine

QUALITIES = ("fast", "balanced", "best")


def _disc_scene(h: int = 600, w: int = 800, seed: int = 0, blur: float = 1.5):
    """A red disc (soft edge) over a green/blue textured background; returns rgb, true alpha, fg colour."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cy, cx, rad = h * 0.5, w * 0.5, min(h, w) * 0.3
    d = np.sqrt((yy - cy) ** 2 + (xx - cx) ** 2) - rad
    alpha = np.clip(0.5 - d / (2 * blur), 0, 1).astype(np.float32)
    tex = rng.random((h // 8 + 1, w // 8 + 1)).astype(np.float32)
    tex = cv2.resize(tex, (w, h), interpolation=cv2.INTER_CUBIC)[:h, :w]
    bg = np.stack([0.1 + 0.2 * tex, 0.6 + 0.3 * tex, 0.5 - 0.3 * tex], axis=2)
    fg = np.empty((h, w, 3), np.float32)
    fg[...] = (0.85, 0.15, 0.1)
    img = alpha[..., None] * fg + (1 - alpha[..., None]) * bg
    rgb = np.clip(np.round(img * 255), 0, 255).astype(np.uint8)
    return rgb, alpha, fg


def _low(alpha: np.ndarray, size: int = 256) -> np.ndarray:
    return cv2.resize(alpha, (size, size), interpolation=cv2.INTER_AREA)


@pytest.mark.parametrize("quality", QUALITIES)
def test_shapes_and_dtypes(quality):
    rgb, alpha, _ = _disc_scene(123, 211)
    up = matting.upsample_alpha(rgb, _low(alpha, 64), quality)
    assert up.shape == (123, 211) and up.dtype == np.float32
    assert 0.0 <= up.min() and up.max() <= 1.0
    ref = matting.refine_alpha(rgb, up, quality)
    assert ref.shape == (123, 211) and ref.dtype == np.float32
    assert 0.0 <= ref.min() and ref.max() <= 1.0
    fg = refine.estimate_foreground(rgb, ref, 250_000)
    assert fg.shape == (123, 211, 3) and fg.dtype == np.uint8


def test_model_output_clamps_and_upsamples():
    rgb, alpha, _ = _disc_scene(300, 500)
    meta = matting.Framing(300, 500, inner_height=1024, inner_width=1024)
    fake = cv2.resize(alpha, (1024, 1024)) * 1.2 - 0.1  # out-of-range like a raw model output
    a = matting.model_output(fake[None, None], meta)
    assert a.dtype == np.float32 and 0.0 <= a.min() and a.max() <= 1.0
    up = matting.upsample_alpha(rgb, a, "fast")
    assert up.shape == (300, 500)


def test_quality_is_checked():
    rgb, alpha, _ = _disc_scene(50, 50)
    with pytest.raises(ValueError):
        matting.upsample_alpha(rgb, alpha, "ultra")  # type: ignore[arg-type]


@pytest.mark.parametrize("quality", ("balanced", "best"))
def test_edge_aware_upsampling_beats_bilinear(quality):
    rgb, alpha, _ = _disc_scene(1200, 1600, blur=1.0)
    low = _low(alpha, 256)  # the model sees ~6× fewer pixels per side
    bil = matting.upsample_alpha(rgb, low, "fast")
    ref = matting.refine_alpha(rgb, matting.upsample_alpha(rgb, low, quality), quality)
    band = np.abs(cv2.resize(low, (1600, 1200)) - 0.5) < 0.49
    err_bil = np.abs(bil - alpha)[band].mean()
    err_ref = np.abs(ref - alpha)[band].mean()
    assert err_ref < 0.7 * err_bil, (err_ref, err_bil)


def test_foreground_removes_background_tint():
    rgb, alpha, fg = _disc_scene(400, 500, blur=3.0)
    band = (alpha > 0.1) & (alpha < 0.9)
    est = refine.estimate_foreground(rgb, alpha, 250_000).astype(np.float32) / 255
    raw_err = np.abs(rgb.astype(np.float32) / 255 - fg)[band].mean()
    est_err = np.abs(est - fg)[band].mean()
    assert est_err < 0.5 * raw_err, (est_err, raw_err)
    # opaque pixels keep the image colour exactly
    assert np.array_equal(refine.estimate_foreground(rgb, alpha, 250_000)[alpha >= 1], rgb[alpha >= 1])


def test_25mp_within_time_and_memory():
    h, w = 4320, 5784  # ~25 MP
    rgb = np.zeros((h, w, 3), np.uint8)
    rgb[..., 1] = 180
    yy, xx = np.ogrid[0:h, 0:w]
    disc = ((yy - h / 2) ** 2 + (xx - w / 2) ** 2) < (0.3 * h) ** 2
    rgb[disc] = (200, 40, 30)
    low = cv2.resize(disc.astype(np.float32), (1024, 1024), interpolation=cv2.INTER_AREA)
    t0 = time.perf_counter()
    a, fg = refine.refine(rgb, low, "balanced")  # the compiled full-resolution passes
    dt = time.perf_counter() - t0
    assert a.shape == (h, w) and fg.shape == (h, w, 3)
    assert ((a > 0.5) == disc).mean() > 0.999
    assert dt < 20, dt


@pytest.mark.parametrize(("quality", "calls"), [("fast", 1), ("balanced", 1), ("best", 2)])
def test_segment_alpha_framing_and_tta(quality, calls):
    rgb, alpha, _ = _disc_scene(300, 600)
    seen = []

    def predict(x):  # a "model" that finds the red disc
        assert x.shape == (1024, 1024, 3) and x.dtype == np.uint8
        seen.append(x)
        return (x[..., 0].astype(np.float32) > 150).astype(np.float32)

    low = matting.segment_alpha(predict, rgb, quality)
    assert len(seen) == calls
    assert low.shape == (1024, 1024) and low.dtype == np.float32
    up = matting.upsample_alpha(rgb, low, quality)
    assert ((up > 0.5) == (alpha > 0.5)).mean() > 0.99


def _bystander_scene():
    """A red disc (subject) and a smaller red square (a bystander) on green, 300×600."""
    rgb = np.zeros((300, 600, 3), np.uint8)
    rgb[...] = (30, 160, 60)
    yy, xx = np.mgrid[0:300, 0:600]
    disc = (yy - 150) ** 2 + (xx - 200) ** 2 < 90**2
    rgb[disc] = (220, 30, 20)
    rgb[120:180, 450:510] = (220, 30, 20)
    return rgb, disc


def _framing_model(seen):
    """A "model" that finds red, and in the padded framing (grey bars) also the bystander."""

    def predict(x):
        seen.append("pad" if (x[0, 0] == 128).all() else "st")
        a = (x[..., 0].astype(np.float32) > 150).astype(np.float32)
        if seen[-1] == "st":  # the stretched framing keeps only the subject (left half)
            a[:, 620:] = 0
        return a

    return predict


@pytest.mark.parametrize("quality", QUALITIES)
def test_split_matte_gets_a_stretched_pass(quality):
    rgb, disc = _bystander_scene()
    seen: list[str] = []
    low = matting.segment_alpha(_framing_model(seen), rgb, quality)
    assert seen.count("st") == 1 and seen[-1] == "st"
    up = matting.upsample_alpha(rgb, low, "fast")
    assert (up[disc] > 0.5).mean() > 0.99
    assert up[130:170, 460:500].max() <= 0.5  # the part only one framing sees falls below 0.5


def test_single_matte_needs_no_second_framing():
    rgb, _ = _bystander_scene()
    rgb[120:180, 450:510] = (30, 160, 60)  # no bystander: one component
    seen: list[str] = []
    matting.segment_alpha(_framing_model(seen), rgb, "balanced")
    assert seen == ["pad"]
    seen.clear()
    rgb2, _ = _bystander_scene()
    matting.segment_alpha(_framing_model(seen), rgb2, "fast")  # fast checks the split too (issue 18)
    assert seen == ["pad", "st"]


def test_band_matting_falls_back_when_the_solver_breaks_down(monkeypatch):
    import importlib
    import sys

    importlib.import_module("pymatting.solver.cg")
    cg_mod = sys.modules["pymatting.solver.cg"]  # the package re-exports a function of that name
    rgb, alpha, _ = _disc_scene(200, 260, blur=3.0)
    img = rgb.astype(np.float32) / 255
    tri = matting.trimap_from_alpha(alpha)
    monkeypatch.setattr(cg_mod, "cg", lambda a, b, **kw: np.full(b.shape, np.nan))
    out = matting.solve_band(img, tri, trimap_alpha=alpha)
    assert np.isfinite(out).all() and np.array_equal(out, alpha)


def test_solve_band_recovers_a_soft_edge():
    """Closed-form matting of the unknown band (used by balanced and best) finds the partial alpha."""
    rgb, alpha, _ = _disc_scene(240, 320, blur=4.0)
    img = rgb.astype(np.float32) / 255
    tri = matting.trimap_from_alpha(alpha, erode=2)
    unk = tri == 0.5
    assert unk.sum() > 500
    out = matting.solve_band(img, tri)
    assert np.array_equal(out[~unk], tri[~unk])  # certain pixels are kept
    err = np.abs(out - alpha)[unk].mean()
    assert err < 0.25 * np.abs(0.5 - alpha)[unk].mean(), err


def test_band_matting_keeps_thin_parts():
    """A whisker-thin line the alpha holds as opaque survives the band matting (solved at 400 px)."""
    rgb, alpha, _ = _disc_scene(900, 1200, blur=1.0)
    line = np.zeros(alpha.shape, np.float32)
    cv2.line(line, (100, 100), (1100, 160), 1.0, thickness=2)
    rgb[line > 0] = (40, 20, 20)
    a = np.maximum(alpha, line)
    out = matting.refine_alpha(rgb, a, "balanced")
    assert (out[line > 0] > 0.5).mean() > 0.95
    assert ((out > 0.5) == (a > 0.5)).mean() > 0.995


def test_preview_sized_output_skips_band_matting_in_balanced():
    """Within the preview tier (≤ 0.25 MP) balanced skips the band matting (only the contrast step
    remains); one row more and the band is solved again. best keeps its band on previews."""
    rgb, alpha, _ = _disc_scene(1000, 1000, blur=4.0)
    soft = cv2.GaussianBlur(alpha, (0, 0), 3.0)  # a model-like soft matte: the band is not empty
    side = int(matting.PREVIEW_PIXELS**0.5)  # 500 × 500 = 250 000 pixels: the largest preview square
    small_rgb = cv2.resize(rgb, (side, side), interpolation=cv2.INTER_AREA)
    small = cv2.resize(soft, (side, side), interpolation=cv2.INTER_AREA)
    assert side * side <= matting.PREVIEW_PIXELS
    out = matting.refine_alpha(small_rgb, small, "balanced")
    assert np.array_equal(out, matting._contrast(small, matting._CONTRAST["balanced"]))
    assert not np.array_equal(matting.refine_alpha(small_rgb, small, "best"),
                              matting._contrast(small, matting._CONTRAST["best"]))
    big_rgb = cv2.resize(rgb, (side, side + 1), interpolation=cv2.INTER_AREA)
    big = cv2.resize(soft, (side, side + 1), interpolation=cv2.INTER_AREA)
    assert side * (side + 1) > matting.PREVIEW_PIXELS
    assert not np.array_equal(matting.refine_alpha(big_rgb, big, "balanced"),
                              matting._contrast(big, matting._CONTRAST["balanced"]))


def test_stripes_on_two_threads_give_the_same_alpha():
    """With the engine's helper as ``pool``, half of the full-resolution stripes run there: same bits."""
    from concurrent.futures import ThreadPoolExecutor

    rgb, alpha, _ = _disc_scene(2100, 1500, blur=2.0)  # 5 stripes of 512 rows, beyond the model's 1024
    low = _low(cv2.GaussianBlur(alpha, (0, 0), 2.0), 1024)

    class Counting(ThreadPoolExecutor):
        submitted = 0

        def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def,override]
            Counting.submitted += 1
            return super().submit(fn, *args, **kwargs)

    serial = matting.upsample_alpha(rgb, low, "balanced")
    refined = matting.refine_alpha(rgb, serial, "balanced")
    with Counting(max_workers=1) as pool:
        shared = matting.upsample_alpha(rgb, low, "balanced", pool=pool)
        assert Counting.submitted == 2  # stripes 2 and 4 of 5 were handed over
        rgb_s = cv2.resize(rgb, (1500, 1100), interpolation=cv2.INTER_AREA)  # 3 stripes: too few to hand over
        matting.upsample_alpha(rgb_s, low, "balanced", pool=pool)
        assert Counting.submitted == 2
        refined_shared = matting.refine_alpha(rgb, shared, "balanced", pool=pool)  # the band's stripes too
        assert Counting.submitted > 2
    assert np.array_equal(serial, shared)
    assert np.array_equal(refined, refined_shared)


def test_band_matting_keeps_pymatting_prints_off_stdout(capsys, caplog):
    """pymatting's ichol prints a PERFORMANCE WARNING block to stdout when its first diagonal shift fails;
    after the band solver has run, those lines go to the debug log instead, and the solve is unchanged."""
    import importlib
    import logging

    from scipy.sparse import csc_matrix

    ichol_module = importlib.import_module("pymatting.preconditioner.ichol")

    rgb = np.zeros((40, 40, 3), np.float32)
    rgb[:, 20:] = 1.0
    tri = np.zeros((40, 40), np.float32)
    tri[:, 24:] = 1.0
    tri[:, 16:24] = 0.5
    soft = matting.solve_band(rgb, tri)
    assert soft[:, 17].max() < 0.5 < soft[:, 22].min()  # the edge between the two halves is found
    caplog.set_level(logging.DEBUG, logger="openbg_emulator.matting")
    capsys.readouterr()
    indefinite = csc_matrix(np.array([[1.0, 2.0], [2.0, 1.0]]))  # fails at shift 0, then a larger shift works
    ichol_module.ichol(indefinite)
    assert capsys.readouterr().out == ""
    assert any("PERFORMANCE WARNING" in r.getMessage() for r in caplog.records)


def _shadow_desk_scene():
    """A subject on a desk (issue 18's failure kinds, synthetic): a red disc whose lower half (the
    "keyboard", dark red) one framing drops, a strong cast shadow and a bystander that the other
    framing takes in. 300×600; returns rgb, the subject's mask, the shadow's and the keyboard's."""
    rgb = np.zeros((300, 600, 3), np.uint8)
    rgb[...] = (170, 160, 140)  # the desk
    yy, xx = np.mgrid[0:300, 0:600]
    disc = (yy - 130) ** 2 + (xx - 200) ** 2 < 80**2
    keyboard = disc & (yy > 150)
    shadow = (((yy - 225) / 30.0) ** 2 + ((xx - 300) / 110.0) ** 2 < 1) & ~disc
    rgb[shadow] = (60, 58, 55)
    rgb[disc] = (220, 30, 20)
    rgb[keyboard] = (120, 20, 15)
    rgb[120:180, 450:510] = (220, 30, 20)  # the bystander
    return rgb, disc, shadow, keyboard


def _desk_model(seen):
    """Padded framing: bright red and the dark shadow (not the keyboard). Stretched framing (the raw
    model's): bright and dark red on the left half only (the subject, keyboard included)."""

    def predict(x):
        seen.append("pad" if (x[0, 0] == 128).all() else "st")
        r = x[..., 0].astype(np.float32)
        g = x[..., 1].astype(np.float32)
        if seen[-1] == "pad":
            a = ((r > 150) & (g < 100)) | ((r < 80) & (r > 40))
        else:
            a = (r > 100) & (g < 100)
            a[:, 620:] = False
        return a.astype(np.float32)

    return predict


@pytest.mark.parametrize("quality", QUALITIES)
def test_passes_that_disagree_fall_back_to_the_raw_framing(quality):
    """Issue 18's safety rule on the fusion: where the padded and the stretched (raw) passes disagree,
    the raw pass wins — no half-transparent ghost of a shadow or bystander only the padded framing
    took in, and no half of the subject dropped because only the raw framing kept it. (Before: their
    mean, 0.5 on both — a ghost, and a keyboard that thresholding drops.)"""
    rgb, disc, shadow, keyboard = _shadow_desk_scene()
    seen: list[str] = []
    low = matting.segment_alpha(_desk_model(seen), rgb, quality)
    assert "st" in seen  # the padded matte splits: the raw framing is asked
    alpha = matting.refine_alpha(rgb, matting.upsample_alpha(rgb, low, quality), quality)
    core = lambda m: cv2.erode(m.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    assert alpha[core(shadow)].max() <= 0.05
    assert alpha[130:170, 460:500].max() <= 0.05  # the bystander
    assert alpha[core(keyboard)].min() >= 0.95
    assert (alpha[core(disc)] > 0.5).all()


def test_fuse_with_raw():
    a = np.array([0.9, 1.0, 0.0, 0.6, 0.2], np.float32)
    raw = np.array([1.0, 0.0, 1.0, 0.3, 0.2], np.float32)
    out = matting.fuse_with_raw(a, raw, 0.5)
    np.testing.assert_allclose(out, [0.95, 0.0, 1.0, 0.45, 0.2], atol=1e-6)
    np.testing.assert_allclose(matting.fuse_with_raw(a, raw, 1.0), (a + raw) / 2, atol=1e-6)  # 1: the plain mean


def test_refinement_keeps_what_the_model_was_sure_of():
    """Issue 18's safety rule on the refinement: a thin part the model is sure of (a strap or cable in
    the desk's own colour, no image edge to follow) survives the guided upsampling and band matting;
    background the model is sure of stays clear. (Before: the part fell to a mean alpha of 0.18.)"""
    from openbg_emulator.pipeline import refine

    rng = np.random.default_rng(0)
    h = w = 1600
    rgb = np.clip(150 + rng.normal(0, 6, (h, w, 3)), 0, 255).astype(np.uint8)  # a textured desk
    rgb[500:1100, 500:1100] = (200, 60, 40)  # the subject's body: a clear edge
    low = np.zeros((1024, 1024), np.float32)
    s = 1024 / 1600
    low[int(500 * s) : int(1100 * s), int(500 * s) : int(1100 * s)] = 1
    low[int(1100 * s) : int(1100 * s) + 3, int(500 * s) : int(1100 * s)] = 1  # the thin part
    for q in ("balanced", "best"):
        a, _ = refine.refine(rgb, low, q, foreground=False)
        assert a[1101:1104, 600:1000].min() >= 0.98, q
        assert a[700:900, 700:900].min() >= 0.98 and a[:400, :400].max() <= 0.02
    a, _ = refine.refine(rgb, low, "fast", foreground=False)  # fast has no guard and needs none: bilinear
    assert a[1101:1104, 600:1000].mean() >= 0.9


def test_keep_sure_clamps_to_the_model_only_where_it_was_sure():
    low = np.zeros((4, 4), np.float32)
    low[:, 2:] = 1
    a = np.full((8, 8), 0.5, np.float32)
    out = matting.keep_sure(a, low, 0.02)
    assert out is a  # in place
    np.testing.assert_allclose(out[0], [0, 0, 0, 0.5, 0.5, 1, 1, 1])
    assert (matting.keep_sure(np.full((8, 8), 0.5, np.float32), low, 0.0) == 0.5).all()  # 0: off


def test_best_mirrored_passes_that_disagree_ask_the_raw_framing():
    """best averages a mirrored pass; where the two disagree (a shadow one of them takes in), their mean
    is a 0.5 ghost that the wide band matting would re-solve from colour. The raw (stretched) framing
    is asked and kept there."""
    rgb, disc, shadow, keyboard = _shadow_desk_scene()
    rgb[120:180, 450:510] = (170, 160, 140)  # no bystander: the matte does not split
    rgb[keyboard] = (220, 30, 20)  # the whole disc bright: every pass keeps it
    seen: list[str] = []

    def predict(x):
        padded = (x[0, 0] == 128).all()
        flipped = padded and x[478, 683, 1] < 100  # the disc lies left of centre; mirrored, right of it
        seen.append("st" if not padded else ("padf" if flipped else "pad"))
        r = x[..., 0].astype(np.float32)
        a = (r > 150) & (x[..., 1] < 100)
        if seen[-1] == "pad":
            a |= (r < 80) & (r > 40)  # only the unmirrored padded pass takes the shadow in
        return a.astype(np.float32)

    low = matting.segment_alpha(predict, rgb, "best")
    assert seen[-1] == "st"
    up = matting.upsample_alpha(rgb, low, "fast")
    core = cv2.erode(shadow.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    assert up[core].max() <= 0.05 and (up[disc] > 0.5).mean() > 0.99


@pytest.mark.parametrize("quality", ("balanced", "best"))
def test_refine_full_is_the_three_steps_in_one(quality):
    """Over 1024 px a side refine_full runs compiled passes; they give upsample_alpha → refine_alpha →
    keep_sure within float rounding (OpenCV's remap rounds its weights to 1/32), and the same with a helper."""
    from concurrent.futures import ThreadPoolExecutor

    rgb, alpha, _ = _disc_scene(900, 1500, blur=2.0)
    low = _low(alpha, 1024)
    low[400:420] = np.clip(low[400:420] + 0.3, 0, 1)  # a stripe the band has to settle
    want = matting.keep_sure(matting.refine_alpha(rgb, matting.upsample_alpha(rgb, low, quality), quality), low,
                             matting._SURE[quality])
    got = matting.refine_full(rgb, low, quality)
    assert got.shape == want.shape and got.dtype == np.float32
    assert np.abs(got - want).max() < 2e-3, np.abs(got - want).max()
    with ThreadPoolExecutor(1) as pool:
        assert np.array_equal(matting.refine_full(rgb, low, quality, pool=pool), got)
    small_rgb, small_alpha, _ = _disc_scene(300, 400)  # below the working size: the three steps themselves
    small_low = _low(small_alpha, 1024)
    assert np.array_equal(matting.refine_full(small_rgb, small_low, quality), matting.keep_sure(
        matting.refine_alpha(small_rgb, matting.upsample_alpha(small_rgb, small_low, quality), quality), small_low,
        matting._SURE[quality]))


def test_foreground_full_size_pass_against_numpy(monkeypatch):
    """The compiled pass of estimate_foreground is the numpy formula on OpenCV's uint8 upsampling of the
    reduced estimates exactly; from SAMPLED_PIXELS, sampling them itself, within two levels of it."""
    from concurrent.futures import ThreadPoolExecutor

    from openbg_emulator.pipeline import kernels

    rgb, alpha, _ = _disc_scene(700, 1100, blur=4.0)
    alpha[alpha < 0.02] = 0  # transparent pixels take the estimated colour

    def numpy_formula(f_up, b_up):
        out = rgb.copy()
        band = (alpha > 1 / 255) & (alpha < 254 / 255)
        ab = alpha[band][:, None]
        wgt = np.clip((ab - 0.15) / 0.35, 0.0, 1.0)
        solved = (rgb[band].astype(np.float32) - (1.0 - ab) * b_up[band].astype(np.float32)) / np.maximum(ab, 1e-3)
        out[band] = np.clip(wgt * solved + (1.0 - wgt) * f_up[band].astype(np.float32) + 0.5, 0, 255).astype(np.uint8)
        clear = alpha <= 1 / 255
        out[clear] = f_up[clear]
        return out

    got = refine.estimate_foreground(rgb, alpha, 300_000)
    monkeypatch.setattr(refine, "SAMPLED_PIXELS", 1)
    sampled = refine.estimate_foreground(rgb, alpha, 300_000)
    from pymatting import estimate_foreground_ml

    sw, sh = refine._fit(1100, 700, 300_000)
    f_s, b_s = estimate_foreground_ml(cv2.resize(rgb, (sw, sh), interpolation=cv2.INTER_AREA).astype(np.float32) / 255,
                                      cv2.resize(alpha, (sw, sh), interpolation=cv2.INTER_AREA), return_background=True)
    u8 = lambda x: np.clip(x * 255.0 + 0.5, 0, 255).astype(np.uint8)
    up = lambda x: cv2.resize(u8(x), (1100, 700), interpolation=cv2.INTER_LINEAR)
    assert np.array_equal(got, numpy_formula(up(f_s), up(b_s)))
    assert np.abs(sampled.astype(int) - got).max() <= 2 and not np.array_equal(sampled, got)
    with ThreadPoolExecutor(1) as pool:
        assert np.array_equal(refine.estimate_foreground(rgb, alpha, 300_000, pool=pool), sampled)
    full = refine.estimate_foreground(rgb, alpha, 700 * 1100)  # no reduction: exactly the formula
    f_s, b_s = estimate_foreground_ml(rgb.astype(np.float32) / 255.0, alpha, return_background=True)
    assert np.array_equal(full, numpy_formula(u8(f_s), u8(b_s)))
    assert kernels.any_between(alpha, np.float32(0.1), np.float32(0.9))
    assert not kernels.any_between(np.zeros((4, 4), np.float32), np.float32(0.0), np.float32(1.0))
