"""numba kernels of the CPU rasteriser: spans of each Gaussian's ellipse, the painter's-order
forward and the back-to-front backward that :mod:`.rasterize_numba` describes and wraps.

That module imports this one on first use, so that ``import skeletonllm`` does not pay
numba's import. Importing it needs numba; it picks numba's threading layer (below) and
defines the kernels, which compile on their first call (or load from numba's on-disk cache).
All arithmetic is float64; inputs and outputs keep their dtype.
"""
from __future__ import annotations

import os

import numba
import numpy as np
from numba import njit, prange
from numba.np.ufunc import parallel as _parallel

# numba's default threading layer here is OpenMP, whose idle workers spin: on a machine
# shared with other jobs a launch then waits milliseconds for a descheduled spinner
# (measured on 2 cores at load 2.7: 4-7 ms per launch against 0.02 ms with the workqueue
# layer), and GNU OpenMP is not safe in a forked child (a DataLoader worker). Unless the user
# chose a layer, or numba has already started one, take workqueue, which is fork-safe; it must
# not be entered from two threads at once (rasterize_numba holds a lock).
if "NUMBA_THREADING_LAYER" not in os.environ and not getattr(_parallel, "_is_initialized", True):
    numba.config.THREADING_LAYER = "workqueue"


def _compiled(parallel: bool = False):
    """``njit`` with numba's on-disk cache: next to this file where that is writable, else in
    the user's cache directory (``$NUMBA_CACHE_DIR`` first when set), so that the kernels
    compile once per machine (about 10 s), not once per process. Where no directory is
    writable, numba refuses to cache: the kernels then compile in each process."""
    def wrap(fn):
        try:
            return njit(cache=True, nogil=True, parallel=parallel)(fn)
        except RuntimeError:          # "cannot cache function ...: no locator available"
            return njit(cache=False, nogil=True, parallel=parallel)(fn)
    return wrap


_jit = _compiled()
_pjit = _compiled(parallel=True)


@_jit
def _params(mu, con, op, i, g):
    """Gaussian g of image i: ``(u, v, A, B, C, o)`` in float64."""
    return (np.float64(mu[i, g, 0]), np.float64(mu[i, g, 1]), np.float64(con[i, g, 0]), np.float64(con[i, g, 1]),
            np.float64(con[i, g, 2]), np.float64(op[i, g]))


@_jit
def _ellipse(u, v, A, B, C, o, H, alpha_min):
    """Rows ``[y0, y1)`` of one Gaussian's ellipse q <= qmax, with det and qmax
    (y1 = y0 where it draws nothing)."""
    det = A * C - B * B
    if not (o >= alpha_min and det > 0.0 and A > 0.0 and np.isfinite(u) and np.isfinite(v)):
        return 0, 0, 1.0, 0.0
    qmax = 2.0 * np.log(max(255.0 * o, 1.0)) * (1.0 + 1e-4) + 1e-4
    ry = np.sqrt(qmax * A / det)
    lim = H + 2.0
    y0 = min(max(int(np.ceil(min(max(v - ry - 0.5, -2.0), lim))), 0), H)
    y1 = min(max(int(np.floor(min(max(v + ry - 0.5, -2.0), lim))) + 1, 0), H)
    return y0, max(y1, y0), det, qmax


@_jit
def _row(y, u, v, A, B, det, qmax, W):
    """Span ``(x0, n)`` of row y of the ellipse (see ``rasterize._spans``) and its dy."""
    dy = (y + 0.5) - v
    disc = A * qmax - det * dy * dy
    if disc < 0.0:
        return 0, 0, dy
    half = np.sqrt(disc) / A
    xc = u - B * dy / A
    lim = W + 2.0
    x0 = min(max(int(np.ceil(min(max(xc - half - 0.5, -2.0), lim))), 0), W)
    x1 = min(max(int(np.floor(min(max(xc + half - 0.5, -2.0), lim))) + 1, 0), W)
    return x0, max(x1 - x0, 0), dy


@_pjit
def count_pairs(mu, con, op, order, H, W, alpha_min, counts):
    """counts ``(I, G)`` <- pixels of each Gaussian's spans, in depth order."""
    I, G = op.shape
    for i in prange(I):
        for k in range(G):
            u, v, A, B, C, o = _params(mu, con, op, i, order[i, k])
            y0, y1, det, qmax = _ellipse(u, v, A, B, C, o, H, alpha_min)
            n = 0
            for y in range(y0, y1):
                n += _row(y, u, v, A, B, det, qmax, W)[1]
            counts[i, k] = n


@_pjit
def forward(mu, con, op, col, order, offsets, bg, has_bg, H, W, alpha_min, alpha_max, stamp0,
            out, t_pair, a_pair, t_buf, stamps):
    """Composite every image into ``out`` ``(I, 3, H W)``; per pair T and alpha into
    ``t_pair``, ``a_pair`` ``(P,)`` at ``offsets`` ``(I G + 1,)`` (pairs of the k-th
    Gaussian of image i in depth order start at offsets[i G + k]). ``t_buf``, ``stamps``
    ``(chunks, H W)``: per chunk scratch."""
    I, G = op.shape
    nchunks = t_buf.shape[0]
    for c in prange(nchunks):
        T_img = t_buf[c]
        st = stamps[c]
        for i in range(c, I, nchunks):
            s = stamp0 + i
            img = out[i]
            for ch in range(3):
                img[ch, :] = bg[ch] if has_bg else 0.0
            for k in range(G):
                g = order[i, k]
                u, v, A, B, C, o = _params(mu, con, op, i, g)
                y0, y1, det, qmax = _ellipse(u, v, A, B, C, o, H, alpha_min)
                if y1 == y0:
                    continue
                c0, c1, c2 = np.float64(col[i, g, 0]), np.float64(col[i, g, 1]), np.float64(col[i, g, 2])
                log_o = np.log(o)
                # Along a row o exp(-q/2) = exp(f(dx)), f quadratic with f'' = -A: from one
                # pixel to the next it is multiplied by r, and r by exp(-A). Two exp a row
                # instead of one a pixel (for steep Gaussians, A > 16, one a pixel: r
                # could overflow there).
                steep = A > 16.0
                rr = np.exp(-A)
                at = offsets[i * G + k]
                for y in range(y0, y1):
                    x0, n, dy = _row(y, u, v, A, B, det, qmax, W)
                    a2, b2, e2 = -0.5 * A, -B * dy, log_o - 0.5 * C * dy * dy
                    dx = (x0 + 0.5) - u
                    E = np.exp((a2 * dx + b2) * dx + e2)
                    r = np.exp(a2 * (2.0 * dx + 1.0) + b2)
                    p = y * W + x0
                    for j in range(n):
                        if steep:
                            E = np.exp((a2 * dx + b2) * dx + e2)
                        alpha = min(E, alpha_max)
                        if alpha >= alpha_min:
                            T = T_img[p] if st[p] == s else 1.0
                            t_pair[at] = T
                            a_pair[at] = alpha
                            w = alpha * T
                            img[0, p] += w * c0
                            img[1, p] += w * c1
                            img[2, p] += w * c2
                            T_img[p] = T * (1.0 - alpha)
                            st[p] = s
                        else:
                            a_pair[at] = 0.0
                        at += 1
                        dx += 1.0
                        p += 1
                        E *= r
                        r *= rr
            if has_bg:
                _add_background(img, bg, order, i, mu, con, op, H, W, alpha_min, T_img, st, s)


@_jit
def _add_background(img, bg, order, i, mu, con, op, H, W, alpha_min, T_img, st, s):
    """C(p) += T_final(p) bg on the drawn pixels of image i (the image starts as bg: add
    (T - 1) bg once per pixel, then mark it with -s)."""
    for k in range(op.shape[1]):
        u, v, A, B, C, o = _params(mu, con, op, i, order[i, k])
        y0, y1, det, qmax = _ellipse(u, v, A, B, C, o, H, alpha_min)
        for y in range(y0, y1):
            x0, n, _ = _row(y, u, v, A, B, det, qmax, W)
            for p in range(y * W + x0, y * W + x0 + n):
                if st[p] == s:
                    d = T_img[p] - 1.0
                    for ch in range(3):
                        img[ch, p] += d * bg[ch]
                    st[p] = -s


@_pjit
def backward(mu, con, op, col, order, offsets, bg, has_bg, H, W, alpha_min, alpha_max, stamp0,
             grad, t_pair, a_pair, r_buf, stamps, d_mu, d_con, d_op, d_col, d_bg):
    """Gradients ``d_mu (I, G, 2)``, ``d_con (I, G, 3)``, ``d_op (I, G)``, ``d_col (I, G, 3)``
    in input order and, per image, the sum over drawn pixels of dL/dC (T_final - 1)
    ``d_bg (I, 3)``, from ``grad`` ``(I, 3, H W)``."""
    I, G = op.shape
    nchunks = r_buf.shape[0]
    for c in prange(nchunks):
        R_img = r_buf[c]
        st = stamps[c]
        for i in range(c, I, nchunks):
            s = stamp0 + i
            gr = grad[i]
            db0 = db1 = db2 = 0.0
            for k in range(G - 1, -1, -1):
                g = order[i, k]
                u, v, A, B, C, o = _params(mu, con, op, i, g)
                c0, c1, c2 = np.float64(col[i, g, 0]), np.float64(col[i, g, 1]), np.float64(col[i, g, 2])
                y0, y1, det, qmax = _ellipse(u, v, A, B, C, o, H, alpha_min)
                # Sums over the Gaussian's pairs of dL/dq dx^a dy^b (q's derivatives are
                # combinations of them), of s = alpha dL/dalpha and of dL/dc.
                mx = my = mxx = mxy = myy = mo = 0.0
                gc0 = gc1 = gc2 = 0.0
                at = offsets[i * G + k]
                for y in range(y0, y1):
                    x0, n, dy = _row(y, u, v, A, B, det, qmax, W)
                    ss = ssx = ssxx = 0.0
                    dx = (x0 + 0.5) - u
                    p = y * W + x0
                    for j in range(n):
                        alpha = a_pair[at]
                        if alpha > 0.0:
                            T = t_pair[at]
                            g0, g1, g2 = gr[0, p], gr[1, p], gr[2, p]
                            if st[p] == s:
                                R = R_img[p]
                            else:       # the pixel's last pair: start from the background
                                st[p] = s
                                R = 0.0
                                if has_bg:
                                    R = g0 * bg[0] + g1 * bg[1] + g2 * bg[2]
                                    e = T * (1.0 - alpha) - 1.0
                                    db0 += g0 * e
                                    db1 += g1 * e
                                    db2 += g2 * e
                            dot = g0 * c0 + g1 * c1 + g2 * c2
                            w = alpha * T
                            gc0 += w * g0
                            gc1 += w * g1
                            gc2 += w * g2
                            if alpha < alpha_max:          # the clamp passes no gradient
                                sp = alpha * T * (dot - R)
                                ss += sp
                                ssx += sp * dx
                                ssxx += sp * dx * dx
                            R_img[p] = alpha * dot + (1.0 - alpha) * R
                        at += 1
                        dx += 1.0
                        p += 1
                    mx += ssx
                    my += ss * dy
                    mxx += ssxx
                    mxy += ssx * dy
                    myy += ss * dy * dy
                    mo += ss
                # dL/dq = -s / 2; dq/du = -2 (A dx + B dy), dq/dv = -2 (B dx + C dy),
                # dq/dA = dx^2, dq/dB = 2 dx dy, dq/dC = dy^2; dL/do = s / o.
                d_mu[i, g, 0] = A * mx + B * my
                d_mu[i, g, 1] = B * mx + C * my
                d_con[i, g, 0] = -0.5 * mxx
                d_con[i, g, 1] = -mxy
                d_con[i, g, 2] = -0.5 * myy
                d_op[i, g] = mo / o if o > 0.0 else 0.0
                d_col[i, g, 0] = gc0
                d_col[i, g, 1] = gc1
                d_col[i, g, 2] = gc2
            d_bg[i, 0] = db0
            d_bg[i, 1] = db1
            d_bg[i, 2] = db2
