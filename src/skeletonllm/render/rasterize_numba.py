"""The CPU rasteriser as one compiled kernel (numba): the same compositing as
:func:`skeletonllm.render.rasterize.rasterize_fast`, without its per-pair tensors and sort.

Each image is drawn in painter's order: its Gaussians front to back by (depth, index), each
on the rows and spans of its ellipse q(d) <= 2 ln(255 o) (the torch path's spans, computed
here in float64), every pixel updating that image's running transmittance T(p) (float64)
and colour:

    alpha = min(0.99, o exp(-q/2)), skipped below 1/255;  C(p) += alpha T(p) c;  T(p) *= 1 - alpha

Per pixel that is exactly front-to-back compositing, with no pair list to sort. T before
each pair and its alpha are kept (16 bytes a pair) for the backward, which walks the same
pairs back to front with the colour "seen behind" each pair, R <- alpha <c, dL/dC> +
(1 - alpha) R (starting at <bg, dL/dC>), so that dL/dalpha = T (<c, dL/dC> - R): no division
by 1 - alpha, and no cancellation of large running sums. Gradients for means, conics,
opacities and colours are summed per span (s, s dx, s dx^2 with s = alpha dL/dalpha) and
combined with dy per span, as the torch path does, in float64.

Images run in parallel (``prange`` over as many chunks as torch has threads); each chunk
keeps its own per-pixel buffers, which are kept between calls and need no reset: a pixel's
entry counts only when it carries the stamp of the current image.

This module is optional at run time: :func:`usable` says whether numba imported and its
kernels compiled (or loaded from numba's cache) for a dtype; where not, callers use the
torch path. ``SKELETONLLM_RASTERIZER=torch`` turns the kernel off.
"""
from __future__ import annotations

import os
import threading
import warnings

import numpy as np
import torch

try:
    import numba
    from numba import njit, prange
except Exception as err:  # noqa: BLE001 - any failure to import means: use the torch path
    numba = None
    _IMPORT_ERROR = err
else:
    _IMPORT_ERROR = None
    # numba's default threading layer here is OpenMP, whose idle workers spin: on a machine
    # shared with other jobs a launch then waits milliseconds for a descheduled spinner
    # (measured on 2 cores at load 2.7: 4-7 ms per launch against 0.02 ms with the workqueue
    # layer). Unless the user chose a layer, or numba has already started one, take workqueue;
    # it must not be entered from two threads at once, hence the lock below.
    from numba.np.ufunc import parallel as _parallel
    if "NUMBA_THREADING_LAYER" not in os.environ and not getattr(_parallel, "_is_initialized", True):
        numba.config.THREADING_LAYER = "workqueue"

ENV_SWITCH = "SKELETONLLM_RASTERIZER"
#: dtypes the kernels are compiled for (arithmetic is float64 inside; inputs and outputs keep theirs).
DTYPES = (torch.float32, torch.float64)


# --------------------------------------------------------------------------------------
# Kernels
# --------------------------------------------------------------------------------------
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


if numba is not None:
    _jit = _compiled()
    _pjit = _compiled(parallel=True)

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
    def _count_pairs(mu, con, op, order, H, W, alpha_min, counts):
        """counts ``(I, G)`` <- pixels of each Gaussian's spans, in depth order."""
        I, G = op.shape
        for i in prange(I):
            for k in range(G):
                g = order[i, k]
                u, v = np.float64(mu[i, g, 0]), np.float64(mu[i, g, 1])
                A, B = np.float64(con[i, g, 0]), np.float64(con[i, g, 1])
                y0, y1, det, qmax = _ellipse(u, v, A, B, np.float64(con[i, g, 2]), np.float64(op[i, g]), H,
                                             alpha_min)
                n = 0
                for y in range(y0, y1):
                    n += _row(y, u, v, A, B, det, qmax, W)[1]
                counts[i, k] = n

    @_pjit
    def _forward(mu, con, op, col, order, offsets, bg, has_bg, H, W, alpha_min, alpha_max, stamp0,
                 out, t_pair, a_pair, t_buf, stamps):
        """Composite every image into ``out`` ``(I, 3, H, W)``; per pair T and alpha into
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
                    u, v = np.float64(mu[i, g, 0]), np.float64(mu[i, g, 1])
                    A, B, C = np.float64(con[i, g, 0]), np.float64(con[i, g, 1]), np.float64(con[i, g, 2])
                    o = np.float64(op[i, g])
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
                    _add_background(img, bg, order[i], offsets, i, mu[i], con[i], op[i], H, W, alpha_min,
                                    T_img, st, s)

    @_jit
    def _add_background(img, bg, order, offsets, i, mu, con, op, H, W, alpha_min, T_img, st, s):
        """C(p) += T_final(p) bg on the drawn pixels (the image starts as bg: add (T - 1) bg
        once per pixel, then mark it with -s)."""
        G = op.shape[0]
        for k in range(G):
            g = order[k]
            u, v, A, B = np.float64(mu[g, 0]), np.float64(mu[g, 1]), np.float64(con[g, 0]), np.float64(con[g, 1])
            y0, y1, det, qmax = _ellipse(u, v, A, B, np.float64(con[g, 2]), np.float64(op[g]), H, alpha_min)
            for y in range(y0, y1):
                x0, n, _ = _row(y, u, v, A, B, det, qmax, W)
                for p in range(y * W + x0, y * W + x0 + n):
                    if st[p] == s:
                        d = T_img[p] - 1.0
                        for ch in range(3):
                            img[ch, p] += d * bg[ch]
                        st[p] = -s

    @_pjit
    def _backward(mu, con, op, col, order, offsets, bg, has_bg, H, W, alpha_min, alpha_max, stamp0,
                  grad, t_pair, a_pair, r_buf, stamps, d_mu, d_con, d_op, d_col, d_bg):
        """Gradients ``d_mu (I, G, 2)``, ``d_con (I, G, 3)``, ``d_op (I, G)``, ``d_col (I, G, 3)``
        in input order and, per image, the sum over drawn pixels of dL/dC (T_final - 1)
        ``d_bg (I, 3)``, from ``grad`` ``(I, 3, H, W)``."""
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
                    u, v = np.float64(mu[i, g, 0]), np.float64(mu[i, g, 1])
                    A, B, C = np.float64(con[i, g, 0]), np.float64(con[i, g, 1]), np.float64(con[i, g, 2])
                    o = np.float64(op[i, g])
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


# --------------------------------------------------------------------------------------
# Availability, scratch buffers
# --------------------------------------------------------------------------------------
_state = {"warned": False, "ready": {}}
_lock = threading.Lock()          # numba's workqueue threading layer must not be entered twice at once
_local = threading.local()


def _warn_once(message: str) -> None:
    if not _state["warned"]:
        _state["warned"] = True
        warnings.warn(message + "; the rasteriser uses its torch path instead", RuntimeWarning, stacklevel=3)


def disabled_by_env() -> bool:
    """True when ``SKELETONLLM_RASTERIZER=torch`` asks for the torch path."""
    return os.environ.get(ENV_SWITCH, "").strip().lower() == "torch"


def usable(x: torch.Tensor) -> bool:
    """Whether the kernel can rasterise tensors like ``x``: a CPU float32/float64 tensor,
    numba imported and its kernels compiled (or loaded from cache) for that dtype, and not
    switched off by ``SKELETONLLM_RASTERIZER=torch``. A failure warns once."""
    if x.device.type != "cpu" or x.dtype not in DTYPES or disabled_by_env():
        return False
    if numba is None:
        _warn_once(f"numba is not importable ({_IMPORT_ERROR!r})")
        return False
    ready = _state["ready"]
    if x.dtype not in ready:
        ready[x.dtype] = _compile(x.dtype)
    return ready[x.dtype]


def _compile(dtype: torch.dtype) -> bool:
    """Compile (or load from cache) the kernels for ``dtype`` by running them on a tiny scene."""
    try:
        with torch.enable_grad():
            return _try_kernels(dtype)
    except Exception as err:  # noqa: BLE001 - any failure to compile means: use the torch path
        _warn_once(f"the numba rasteriser kernel did not compile ({type(err).__name__}: {err})")
        return False


def _try_kernels(dtype: torch.dtype) -> bool:
    """Forward and backward of a two-Gaussian scene (compiles or loads the kernels)."""
    mu = torch.tensor([[[2.0, 2.0], [1.5, 2.5]]], dtype=dtype, requires_grad=True)
    con = torch.tensor([[[1.0, 0.1, 1.0], [0.5, 0.0, 0.5]]], dtype=dtype)
    op = torch.tensor([[0.9, 0.5]], dtype=dtype)
    col = torch.ones(1, 2, 3, dtype=dtype)
    bg = torch.tensor([0.1, 0.2, 0.3], dtype=dtype)
    img = _RasterizeNumba.apply(mu, con, op, col, torch.zeros(1, 2, dtype=dtype), bg, 4, 4, 1 / 255, 0.99)
    img.sum().backward()
    return bool(torch.isfinite(mu.grad).all())


def _threads() -> int:
    return max(1, min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS))


def _scratch(chunks: int, pixels: int):
    """Per chunk (float64 values, int64 stamps) ``(chunks, pixels)`` and the first stamp of
    a call, kept per Python thread: the buffers are never reset, and a stamp is never reused."""
    bufs = getattr(_local, "bufs", None)
    if bufs is None or bufs[0].shape != (chunks, pixels):
        bufs = (np.empty((chunks, pixels)), np.zeros((chunks, pixels), np.int32))
        _local.bufs = bufs
        _local.stamp = 1
    return bufs[0], bufs[1], _local.stamp


def _next_stamp(images: int) -> None:
    """Advance past the stamps of ``images`` images (int32 stamps: wrap around with a reset)."""
    _local.stamp += images
    if _local.stamp > 2**30:
        _local.bufs[1].fill(0)
        _local.stamp = 1


def _run(kernel, *args):
    """Run a parallel kernel on as many threads as torch uses (numba's setting restored)."""
    with _lock:
        before = numba.get_num_threads()
        numba.set_num_threads(_threads())
        try:
            kernel(*args)
        finally:
            numba.set_num_threads(before)


# --------------------------------------------------------------------------------------
# Autograd
# --------------------------------------------------------------------------------------
def _np(x: torch.Tensor) -> np.ndarray:
    return x.detach().contiguous().numpy()


class _RasterizeNumba(torch.autograd.Function):
    """The kernels above as an autograd Function (CPU tensors; see module docstring)."""

    @staticmethod
    def forward(ctx, means2d, conics, opacities, colors, depths, background, height, width, alpha_min, alpha_max):
        I, G = opacities.shape
        H, W = height, width
        order = torch.sort(depths.detach(), dim=1, stable=True).indices.numpy()
        arrays = [_np(x) for x in (means2d, conics, opacities, colors)]
        bg = np.zeros(3) if background is None else _np(background).astype(np.float64)
        counts = np.empty((I, G), np.int64)
        _run(_count_pairs, *arrays[:3], order, H, W, alpha_min, counts)
        offsets = np.zeros(I * G + 1, np.int64)
        np.cumsum(counts.reshape(-1), out=offsets[1:])
        P = int(offsets[-1])
        out = torch.empty(I, 3, H, W, dtype=means2d.dtype)
        t_pair, a_pair = np.empty(P, out.numpy().dtype), np.empty(P, out.numpy().dtype)
        chunks = min(_threads(), I)
        t_buf, stamps, stamp0 = _scratch(chunks, H * W)
        _run(_forward, *arrays, order, offsets, bg, background is not None, H, W, alpha_min, alpha_max, stamp0,
             out.numpy().reshape(I, 3, H * W), t_pair, a_pair, t_buf, stamps)
        _next_stamp(I)
        ctx.save_for_backward(means2d, conics, opacities, colors, background)
        ctx.pairs = (order, offsets, t_pair, a_pair, bg, H, W, alpha_min, alpha_max)
        return out

    @staticmethod
    def backward(ctx, grad_out):
        means2d, conics, opacities, colors, background = ctx.saved_tensors
        order, offsets, t_pair, a_pair, bg, H, W, alpha_min, alpha_max = ctx.pairs
        I, G = opacities.shape
        dtype = means2d.dtype
        nd = np.float64 if dtype == torch.float64 else np.float32
        grads = [np.empty((I, G, 2), nd), np.empty((I, G, 3), nd), np.empty((I, G), nd), np.empty((I, G, 3), nd)]
        d_bg = np.empty((I, 3))
        chunks = min(_threads(), I)
        r_buf, stamps, stamp0 = _scratch(chunks, H * W)
        g = _np(grad_out.to(dtype)).reshape(I, 3, H * W)
        _run(_backward, *(_np(x) for x in (means2d, conics, opacities, colors)), order, offsets, bg,
             background is not None, H, W, alpha_min, alpha_max, stamp0, g, t_pair, a_pair, r_buf, stamps, *grads,
             d_bg)
        _next_stamp(I)
        d_background = None
        if background is not None and ctx.needs_input_grad[5]:
            # Undrawn pixels pass all of dL/dC to the background, drawn ones T_final of it.
            total = grad_out.sum((0, 2, 3), dtype=torch.float64) + torch.from_numpy(d_bg.sum(0))
            d_background = total.to(background.dtype)
        return (*(torch.from_numpy(x) for x in grads), None, d_background, None, None, None, None)


def rasterize_numba(means2d: torch.Tensor, conics: torch.Tensor, opacities: torch.Tensor, colors: torch.Tensor,
                    depths: torch.Tensor, height: int, width: int, background: torch.Tensor | None,
                    alpha_min: float, alpha_max: float) -> torch.Tensor:
    """``(I, G, ...) -> (I, 3, H, W)`` by the kernels (CPU tensors; check :func:`usable`
    first). ``background``: None (black) or a ``(3,)`` tensor; ``alpha_min``, ``alpha_max``:
    the skip threshold and the clamp."""
    return _RasterizeNumba.apply(means2d, conics, opacities, colors, depths.detach(), background, height, width,
                                 alpha_min, alpha_max)
