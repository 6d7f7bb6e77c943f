"""Compiled per-pixel passes of the steps after the model (numba, ``nogil``, one row range per call).

Each kernel works on rows ``y0:y1`` so that the caller can hand half of the rows to the engine's
helper thread (:func:`rows`); the result does not depend on the split. They replace chains of
full-resolution numpy passes (each a 12 MP float32 temporary) by one pass that reads each input
pixel once:

* :func:`alpha_rows` — the whole alpha refinement at full resolution: guided upsampling of the model
  alpha, the band matting's guided coefficients where the band is, contrast, and the model's sure
  values (:func:`openbg_emulator.pipeline.matting.refine_full`);
* :func:`foreground_rows` — edge colour from the compositing equation (:mod:`.refine`);
* :func:`rgba_rows` — foreground + alpha → RGBA uint8 (:func:`.compose.compose`'s plain case);
* :func:`png_rows` — RGBA → BGRA with RGB zeroed under transparent pixels (:func:`.encode.encode_png`).

Bilinear sampling uses per-row and per-column (index, index, weight) tables made by :func:`lin_index`
(OpenCV's ``resize``/``remap`` pixel-centre mapping with replicated borders), in float32; OpenCV's
``remap`` rounds weights to 1/32, so values differ from it by at most 1/64 of a neighbour difference.

Compiled on import (explicit signatures) and cached on disk by numba, like pymatting's kernels.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor

import numba as nb
import numpy as np
import numpy.typing as npt

_F = np.float32


def lin_index(n_out: int, n_in: int) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32], npt.NDArray[np.float32]]:
    """(i0, i1, w): output position k samples input ``(1 − w)·in[i0] + w·in[i1]`` (bilinear, centres aligned,
    borders replicated: OpenCV's mapping)."""
    f = (np.arange(n_out, dtype=np.float64) + 0.5) * (n_in / n_out) - 0.5
    i0 = np.floor(f)
    w = f - i0
    low = i0 < 0
    i0[low], w[low] = 0, 0
    high = i0 >= n_in - 1
    i0[high], w[high] = n_in - 1, 0
    i0i = i0.astype(np.int32)
    return i0i, np.minimum(i0i + 1, n_in - 1).astype(np.int32), w.astype(np.float32)


_IMG_RO = nb.types.Array(nb.uint8, 3, "C", readonly=True)  # np.asarray of a Pillow image is read-only
_U3, _U2 = nb.uint8[:, :, ::1], nb.uint8[:, ::1]
_F3, _F2, _I = nb.float32[:, :, ::1], nb.float32[:, ::1], nb.int64
_IDX = (nb.int32[::1], nb.int32[::1], nb.float32[::1])  # one lin_index table
_IMG = object()  # placeholder: compiled for a writable and a read-only uint8 image


def _sigs(*args: object) -> list[object]:
    return [nb.void(*(img if a is _IMG else a for a in args)) for img in (_U3, _IMG_RO)]


@nb.njit(_sigs(_IMG, _I, _I, nb.boolean, *_IDX, *_IDX, _F3,  # guided upsampling: on, rows, columns, (a, b)
               nb.boolean, *_IDX, *_IDX, _F3, _U2, nb.float32,  # band: on, rows, columns, (a, b), unknown, hi
               *_IDX, *_IDX, _F2, nb.float32, nb.float32, _F2),  # sure values: rows, columns, alpha, tau; contrast; out
         cache=True, nogil=True)
def alpha_rows(rgb, y0, y1, guided, gy0, gy1, gwy, gx0, gx1, gwx, ga,  # type: ignore[no-untyped-def]  # pragma: no cover
               band, by0, by1, bwy, bx0, bx1, bwx, ca, unk, hi,
               my0, my1, mwy, mx0, mx1, mwx, mlow, tau, k, out):
    """Rows y0:y1 of the refined alpha (see :func:`openbg_emulator.pipeline.matting.refine_full`), in order:

    * ``guided``: clip(a·I + b) with the guided filter's coefficients ``ga`` (h×w×4: a for R, G, B; b)
      sampled bilinearly (else the value already in ``out``);
    * ``band``: where that is ≤ ``hi`` and the band's trimap ``unk`` (bilinear) is > 0 there, clip(a·I + b)
      with the band's coefficients ``ca`` (the same layout);
    * the contrast ×``k`` around 0.5; then, with ``tau`` > 0, the model's sure values ``mlow`` (bilinear):
      not lower where they are ≥ 1 − tau, not higher where ≤ tau.

    Bilinear sampling is separable: each output row first blends its two source rows."""
    w = rgb.shape[1]
    inv = _F(1.0 / 255.0)
    one, zero, half = _F(1.0), _F(0.0), _F(0.5)
    ra = np.empty((ga.shape[1], 4), np.float32)
    rc = np.empty((ca.shape[1], 4), np.float32)
    ru = np.empty(unk.shape[1], np.bool_)
    rm = np.empty(mlow.shape[1], np.float32)
    for y in range(y0, y1):
        if guided:
            r0, r1, wy = gy0[y], gy1[y], gwy[y]
            vy = one - wy
            for j in range(ga.shape[1]):
                for c in range(4):
                    ra[j, c] = vy * ga[r0, j, c] + wy * ga[r1, j, c]
        if band:
            s0, s1, sy = by0[y], by1[y], bwy[y]
            vs = one - sy
            for j in range(ca.shape[1]):
                for c in range(4):
                    rc[j, c] = vs * ca[s0, j, c] + sy * ca[s1, j, c]
                ru[j] = (vs > zero and unk[s0, j] != 0) or (sy > zero and unk[s1, j] != 0)
        if tau > zero:
            m0, m1, my = my0[y], my1[y], mwy[y]
            vm = one - my
            for j in range(mlow.shape[1]):
                rm[j] = vm * mlow[m0, j] + my * mlow[m1, j]
        for x in range(w):
            i0 = _F(rgb[y, x, 0]) * inv
            i1 = _F(rgb[y, x, 1]) * inv
            i2 = _F(rgb[y, x, 2]) * inv
            if guided:
                c0, c1, wx = gx0[x], gx1[x], gwx[x]
                vx = one - wx
                o = ((vx * ra[c0, 0] + wx * ra[c1, 0]) * i0 + (vx * ra[c0, 1] + wx * ra[c1, 1]) * i1
                     + (vx * ra[c0, 2] + wx * ra[c1, 2]) * i2 + (vx * ra[c0, 3] + wx * ra[c1, 3]))
                o = min(max(o, zero), one)
            else:
                o = out[y, x]
            if band and o <= hi:
                d0, d1, wbx = bx0[x], bx1[x], bwx[x]
                vbx = one - wbx
                if (vbx > zero and ru[d0]) or (wbx > zero and ru[d1]):
                    v = ((vbx * rc[d0, 0] + wbx * rc[d1, 0]) * i0 + (vbx * rc[d0, 1] + wbx * rc[d1, 1]) * i1
                         + (vbx * rc[d0, 2] + wbx * rc[d1, 2]) * i2 + (vbx * rc[d0, 3] + wbx * rc[d1, 3]))
                    o = min(max(v, zero), one)
            if k != one:
                o = min(max((o - half) * k + half, zero), one)
            if tau > zero:
                wmx = mwx[x]
                m = (one - wmx) * rm[mx0[x]] + wmx * rm[mx1[x]]
                if m >= one - tau:
                    o = max(o, m)
                if m <= tau:
                    o = min(o, m)
            out[y, x] = o


@nb.njit(_sigs(_IMG, _F2, _F3), cache=True, nogil=True)
def guided_stack(small, p, out):  # type: ignore[no-untyped-def]  # pragma: no cover
    """The 13 planes whose box means the colour guided filter needs: I (R, G, B as 0..1), p, I·p, and the
    six products of I's channels (RR, RG, RB, GG, GB, BB)."""
    inv = _F(1.0 / 255.0)
    for y in range(small.shape[0]):
        for x in range(small.shape[1]):
            r = _F(small[y, x, 0]) * inv
            g = _F(small[y, x, 1]) * inv
            b = _F(small[y, x, 2]) * inv
            q = p[y, x]
            out[y, x, 0] = r
            out[y, x, 1] = g
            out[y, x, 2] = b
            out[y, x, 3] = q
            out[y, x, 4] = r * q
            out[y, x, 5] = g * q
            out[y, x, 6] = b * q
            out[y, x, 7] = r * r
            out[y, x, 8] = r * g
            out[y, x, 9] = r * b
            out[y, x, 10] = g * g
            out[y, x, 11] = g * b
            out[y, x, 12] = b * b


@nb.njit([nb.void(_F3, nb.float32, _F3)], cache=True, nogil=True)
def guided_solve(m, eps, out):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Per pixel, from the box means ``m`` of :func:`guided_stack`'s planes: the guided filter's linear
    model (a for R, G, B; b) of p on I, regularised by ``eps`` (He et al.; a 3×3 covariance inverse)."""
    for y in range(m.shape[0]):
        for x in range(m.shape[1]):
            mr, mg, mb, mp = m[y, x, 0], m[y, x, 1], m[y, x, 2], m[y, x, 3]
            cr, cg, cb = m[y, x, 4] - mr * mp, m[y, x, 5] - mg * mp, m[y, x, 6] - mb * mp
            vrr = m[y, x, 7] - mr * mr + eps
            vrg = m[y, x, 8] - mr * mg
            vrb = m[y, x, 9] - mr * mb
            vgg = m[y, x, 10] - mg * mg + eps
            vgb = m[y, x, 11] - mg * mb
            vbb = m[y, x, 12] - mb * mb + eps
            i_rr = vgg * vbb - vgb * vgb
            i_rg = vgb * vrb - vrg * vbb
            i_rb = vrg * vgb - vgg * vrb
            i_gg = vrr * vbb - vrb * vrb
            i_gb = vrb * vrg - vrr * vgb
            i_bb = vrr * vgg - vrg * vrg
            det = vrr * i_rr + vrg * i_rg + vrb * i_rb
            a0 = (i_rr * cr + i_rg * cg + i_rb * cb) / det
            a1 = (i_rg * cr + i_gg * cg + i_gb * cb) / det
            a2 = (i_rb * cr + i_gb * cg + i_bb * cb) / det
            out[y, x, 0] = a0
            out[y, x, 1] = a1
            out[y, x, 2] = a2
            out[y, x, 3] = mp - (a0 * mr + a1 * mg + a2 * mb)


@nb.njit(_sigs(_IMG, _F2, _I, _I, *_IDX, *_IDX, _U3, _U3, nb.float32, nb.float32, _U3), cache=True, nogil=True)
def foreground_rows(rgb, alpha, y0, y1, fy0, fy1, fwy, fx0, fx1, fwx, fs, bs, lo, hi, out):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Edge colour of rows y0:y1 (:func:`openbg_emulator.pipeline.refine.estimate_foreground`): the image where
    alpha ≥ ``hi``; the reduced-size foreground ``fs`` (bilinear) where alpha ≤ ``lo``; between them the
    compositing equation solved against the reduced-size background ``bs``, blended with ``fs`` where alpha
    is small (ill-conditioned)."""
    w = rgb.shape[1]
    one, zero, half = _F(1.0), _F(0.0), _F(0.5)
    rf = np.empty((fs.shape[1], 3), np.float32)  # this row's blend of the two source rows (separable)
    rb = np.empty((bs.shape[1], 3), np.float32)
    for y in range(y0, y1):
        r0, r1, wy = fy0[y], fy1[y], fwy[y]
        vy = one - wy
        for j in range(fs.shape[1]):
            for c in range(3):
                rf[j, c] = vy * _F(fs[r0, j, c]) + wy * _F(fs[r1, j, c])
                rb[j, c] = vy * _F(bs[r0, j, c]) + wy * _F(bs[r1, j, c])
        for x in range(w):
            a = alpha[y, x]
            if a >= hi:
                out[y, x, 0] = rgb[y, x, 0]
                out[y, x, 1] = rgb[y, x, 1]
                out[y, x, 2] = rgb[y, x, 2]
                continue
            c0, c1, wx = fx0[x], fx1[x], fwx[x]
            vx = one - wx
            if a <= lo:
                for c in range(3):
                    f = vx * rf[c0, c] + wx * rf[c1, c]
                    out[y, x, c] = np.uint8(min(max(f + half, zero), _F(255.0)))
                continue
            wgt = min(max((a - _F(0.15)) / _F(0.35), zero), one)
            den = max(a, _F(1e-3))
            for c in range(3):
                f = _F(np.floor(vx * rf[c0, c] + wx * rf[c1, c] + half))  # the reduced-size estimates are
                b = _F(np.floor(vx * rb[c0, c] + wx * rb[c1, c] + half))  # uint8 images upsampled: rounded
                solved = (_F(rgb[y, x, c]) - (one - a) * b) / den
                v = wgt * solved + (one - wgt) * f
                out[y, x, c] = np.uint8(min(max(v + half, zero), _F(255.0)))


@nb.njit(_sigs(_IMG, _F2, _I, _I, _U3), cache=True, nogil=True)
def rgba_rows(fg, alpha, y0, y1, out):  # type: ignore[no-untyped-def]  # pragma: no cover
    """RGBA rows: the colour, and alpha as :func:`.compose.alpha_to_u8` writes it (the same float32 arithmetic)."""
    w = fg.shape[1]
    for y in range(y0, y1):
        for x in range(w):
            out[y, x, 0] = fg[y, x, 0]
            out[y, x, 1] = fg[y, x, 1]
            out[y, x, 2] = fg[y, x, 2]
            v = alpha[y, x] * _F(255.0) + _F(0.5)
            out[y, x, 3] = np.uint8(min(max(v, _F(0.0)), _F(255.0)))


@nb.njit([nb.void(_F2, _U2)], cache=True, nogil=True)
def alpha_u8(alpha, out):  # type: ignore[no-untyped-def]  # pragma: no cover
    """:func:`.compose.alpha_to_u8` in one pass (the same float32 arithmetic, no temporaries)."""
    for y in range(alpha.shape[0]):
        for x in range(alpha.shape[1]):
            v = alpha[y, x] * _F(255.0) + _F(0.5)
            out[y, x] = np.uint8(min(max(v, _F(0.0)), _F(255.0)))


@nb.njit([nb.void(nb.uint32[::1], nb.uint16[::1])], cache=True, nogil=True)
def half_bits(f, out):  # type: ignore[no-untyped-def]  # pragma: no cover
    """float32 bit patterns → float16 bit patterns, rounding to nearest even: numpy's own conversion
    (``npy_floatbits_to_halfbits``), whose per-element path for values below fp16's normal range takes
    ~35 ms on a 1024² model mask, most of whose values are tiny."""
    for i in range(f.shape[0]):
        b = f[i]
        sgn = np.uint16((b >> np.uint32(16)) & np.uint32(0x8000))
        b &= np.uint32(0x7FFFFFFF)
        e = b & np.uint32(0x7F800000)
        if e >= np.uint32(0x47800000):  # overflow to inf, inf, nan
            if b == np.uint32(0x7F800000) or e != np.uint32(0x7F800000):
                out[i] = sgn | np.uint16(0x7C00)
            else:
                sig = np.uint16((b & np.uint32(0x007FFFFF)) >> np.uint32(13))
                out[i] = sgn | np.uint16(0x7C00) | (sig if sig != 0 else np.uint16(1))
            continue
        if e <= np.uint32(0x38000000):  # a subnormal half, or zero
            if e < np.uint32(0x33000000):
                out[i] = sgn
                continue
            sh = np.uint32(113) - (e >> np.uint32(23))
            sig = (np.uint32(0x00800000) + (b & np.uint32(0x007FFFFF))) >> sh
            if (sig & np.uint32(0x3FFF)) != np.uint32(0x1000) or (b & np.uint32(0x7FF)) != 0:
                sig += np.uint32(0x1000)
            out[i] = sgn + np.uint16(sig >> np.uint32(13))
            continue
        h_exp = np.uint16((e - np.uint32(0x38000000)) >> np.uint32(13))
        sig = b & np.uint32(0x007FFFFF)
        if (sig & np.uint32(0x3FFF)) != np.uint32(0x1000):
            sig += np.uint32(0x1000)
        out[i] = sgn + np.uint16(np.uint32(h_exp) + (sig >> np.uint32(13)))


def to_half(a: npt.NDArray[np.float32]) -> npt.NDArray[np.float16]:
    """``a.astype(np.float16)``, bit for bit, in one compiled pass."""
    src = np.ascontiguousarray(a, dtype=np.float32)
    out = np.empty(src.shape, np.uint16)
    half_bits(src.reshape(-1).view(np.uint32), out.reshape(-1))
    return out.view(np.float16)


@nb.njit(_sigs(_IMG, _I, _I, _U3), cache=True, nogil=True)
def png_rows(rgba, y0, y1, out):  # type: ignore[no-untyped-def]  # pragma: no cover
    """BGRA rows for libpng, RGB zeroed where alpha is 0 (invisible; smaller files)."""
    w = rgba.shape[1]
    for y in range(y0, y1):
        for x in range(w):
            a = rgba[y, x, 3]
            out[y, x, 3] = a
            if a == 0:
                out[y, x, 0] = 0
                out[y, x, 1] = 0
                out[y, x, 2] = 0
            else:
                out[y, x, 0] = rgba[y, x, 2]
                out[y, x, 1] = rgba[y, x, 1]
                out[y, x, 2] = rgba[y, x, 0]


@nb.njit([nb.boolean(_F2, nb.float32, nb.float32)], cache=True, nogil=True)
def any_between(alpha, lo, hi):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Whether any value is strictly between ``lo`` and ``hi`` (stops at the first)."""
    for v in alpha.ravel():
        if lo < v < hi:
            return True
    return False


@nb.njit(_sigs(_IMG, _I, _I, _U2), cache=True, nogil=True)
def png_up_rows(rgba, y0, y1, out):  # type: ignore[no-untyped-def]  # pragma: no cover
    """PNG scanlines of RGBA rows y0:y1 with the UP filter (type byte 2, then each byte minus the one above,
    modulo 256), RGB taken as 0 where alpha is 0: ``out`` is h×(1 + 4w), the image's whole filtered data."""
    w = rgba.shape[1]
    for y in range(y0, y1):
        out[y, 0] = 2
        for x in range(w):
            a = rgba[y, x, 3]
            pa = rgba[y - 1, x, 3] if y > 0 else np.uint8(0)
            for c in range(3):
                v = rgba[y, x, c] if a != 0 else np.uint8(0)
                u = rgba[y - 1, x, c] if (y > 0 and pa != 0) else np.uint8(0)
                out[y, 1 + 4 * x + c] = np.uint8((np.int32(v) - np.int32(u)) & 255)
            out[y, 4 + 4 * x] = np.uint8((np.int32(a) - np.int32(pa)) & 255)


#: rows below which a second thread is not worth the hand-off
_MIN_SPLIT_ROWS = 256


def rows(fn: Callable[[int, int], None], n: int, pool: Executor | None, min_split: int = _MIN_SPLIT_ROWS) -> None:
    """``fn(i0, i1)`` over rows (or strips) 0:n: with ``pool`` (a free helper) and at least ``min_split`` of
    them, the second half there and the first here."""
    if pool is None or n < min_split:
        fn(0, n)
        return
    mid = n // 2
    other = pool.submit(fn, mid, n)
    fn(0, mid)
    other.result()  # re-raises its error
