"""Differentiable rasterisation of 2D Gaussians: front-to-back alpha compositing (SPEC §3).

For pixel p with centre x_p and Gaussians sorted front to back by (depth, index):

    alpha_i = min(0.99, o_i exp(-q_i / 2)),  q_i = d^T Sigma2D_i^-1 d,  d = x_p - mu2D_i
    alpha_i := 0 where alpha_i < 1/255 (skipped, as in 3D Gaussian Splatting)
    C(p) = sum_i c_i alpha_i T_i + T_final bg,   T_i = prod_{k<i} (1 - alpha_k)

Two implementations compute exactly this:

* :func:`rasterize_dense` evaluates every Gaussian at every pixel with plain autograd. It
  is the readable reference and is only usable for tiny images.
* :func:`rasterize_fast` evaluates each Gaussian only on the pixels of the ellipse where its
  alpha can reach 1/255 (q <= 2 ln(255 o), about 3.33 sigma), generated row by row, so
  nothing that the dense path would draw is left out. The (pixel, Gaussian) pairs are
  grouped by pixel with one stable integer sort (pairs are generated in depth order, so the
  sort keeps that order inside each pixel), transmittance is a segmented cumulative sum of
  log(1 - alpha) in float64 (float32 loses the small differences of large running sums),
  and a custom backward recomputes what it needs from a few saved per-pair tensors, with
  the "everything behind me" terms as one reverse (suffix) sum. Pure torch: it runs on CPU
  and CUDA tensors alike (on a GPU a fused kernel such as gsplat's would be faster).

The sort is stable on (depth, Gaussian index): skeleton scenes are nearly flat and 2D input
puts every Gaussian at one depth, so ties are the rule; an unstable order would make the
output depend on the sorting algorithm.
"""
from __future__ import annotations


import torch

from .projection import Splats

ALPHA_MIN = 1.0 / 255.0
ALPHA_MAX = 0.99


def _depth_order(depths: torch.Tensor) -> torch.Tensor:
    """``(I, G)`` -> per-image Gaussian order by (depth, index)."""
    return torch.sort(depths.detach(), dim=1, stable=True).indices


def _background(background, dtype, device) -> torch.Tensor | None:
    if background is None:
        return None
    bg = torch.as_tensor(background, dtype=dtype, device=device).reshape(3)
    return None if (not bg.requires_grad and bool((bg == 0).all())) else bg


# --------------------------------------------------------------------------------------
# Dense reference
# --------------------------------------------------------------------------------------
def rasterize_dense(means2d: torch.Tensor, conics: torch.Tensor, opacities: torch.Tensor,
                    colors: torch.Tensor, depths: torch.Tensor, height: int, width: int,
                    background=None) -> torch.Tensor:
    """Every Gaussian at every pixel, plain autograd (reference; O(I H W G) memory).

    Args:
        means2d: ``(I, G, 2)`` pixel coordinates; conics: ``(I, G, 3)`` (A, B, C);
        opacities: ``(I, G)`` (0 for Gaussians that must not be drawn); colors: ``(I, G, 3)``;
        depths: ``(I, G)`` sort keys; background: None (black) or 3 values.
    Returns:
        ``(I, 3, H, W)`` images.
    """
    I, G = opacities.shape
    order = _depth_order(depths)
    take = lambda x: x.gather(1, order.view(I, G, *([1] * (x.dim() - 2))).expand_as(x))  # noqa: E731
    mu, con, o, col = take(means2d), take(conics), take(opacities), take(colors)
    dev, dt = means2d.device, means2d.dtype
    ys, xs = torch.meshgrid(torch.arange(height, device=dev, dtype=dt) + 0.5,
                            torch.arange(width, device=dev, dtype=dt) + 0.5, indexing="ij")
    dx = xs.reshape(1, -1, 1) - mu[:, None, :, 0]                                # (I, HW, G)
    dy = ys.reshape(1, -1, 1) - mu[:, None, :, 1]
    A, B, C = (con[:, None, :, k] for k in range(3))
    q = A * dx * dx + 2 * B * dx * dy + C * dy * dy
    alpha = (o[:, None, :] * torch.exp(-0.5 * q)).clamp(max=ALPHA_MAX)
    alpha = torch.where(alpha >= ALPHA_MIN, alpha, torch.zeros_like(alpha))
    trans = torch.cumprod(1 - alpha, dim=-1)
    T = torch.cat([torch.ones_like(trans[..., :1]), trans[..., :-1]], dim=-1)
    img = torch.einsum("ipg,igc->icp", alpha * T, col)
    bg = _background(background, dt, dev)
    if bg is not None:
        img = img + bg.view(1, 3, 1) * trans[..., -1].unsqueeze(1)
    return img.reshape(I, 3, height, width)


# --------------------------------------------------------------------------------------
# Fast path
# --------------------------------------------------------------------------------------
def _spans(u, v, A, B, C, o, height: int, width: int):
    """Rows and per-row pixel spans covering, for each Gaussian, every pixel where its alpha
    can reach 1/255: the ellipse q(d) <= 2 ln(255 o) (about 3.33 sigma for o near 1).

    Returns ``(row_gauss, row_y, row_x0, row_len)`` for R rows, Gaussian by Gaussian and top
    to bottom. The ellipse is widened by a hair (relative 1e-4) so that rounding can never
    drop a pixel that the dense reference would draw; such extra pixels get alpha < 1/255
    and are skipped exactly as there.
    """
    dev = u.device
    det = A * C - B * B
    ok = (o >= ALPHA_MIN) & (det > 0) & (A > 0) & torch.isfinite(u) & torch.isfinite(v)
    qmax = 2.0 * torch.log((255.0 * o).clamp(min=1.0)) * (1 + 1e-4) + 1e-4
    det = torch.where(ok, det, torch.ones_like(det))
    A = torch.where(ok, A, torch.ones_like(A))
    ry = torch.sqrt(qmax * A / det)                                               # sqrt(qmax Sigma_yy)
    lim = float(height + 2)
    y0 = torch.ceil((v - ry - 0.5).clamp(-2, lim)).long().clamp(0, height)
    y1 = (torch.floor((v + ry - 0.5).clamp(-2, lim)).long() + 1).clamp(0, height)
    nrows = torch.where(ok, (y1 - y0).clamp(min=0), torch.zeros_like(y0))
    R = int(nrows.sum())
    rg = torch.repeat_interleave(torch.arange(u.numel(), device=dev), nrows, output_size=R)
    first = (torch.cumsum(nrows, 0) - nrows).index_select(0, rg)
    y = y0.index_select(0, rg) + (torch.arange(R, device=dev) - first)
    # Row y: A dx^2 + 2 B dx dy + C dy^2 <= qmax  <=>  |dx + B dy / A| <= sqrt(A qmax - det dy^2) / A.
    Ar = A.index_select(0, rg)
    dy = (y.to(u.dtype) + 0.5) - v.index_select(0, rg)
    disc = Ar * qmax.index_select(0, rg) - det.index_select(0, rg) * dy * dy
    half = torch.sqrt(disc.clamp(min=0)) / Ar
    xc = u.index_select(0, rg) - B.index_select(0, rg) * dy / Ar
    lim = float(width + 2)
    x0 = torch.ceil((xc - half - 0.5).clamp(-2, lim)).long().clamp(0, width)
    x1 = (torch.floor((xc + half - 0.5).clamp(-2, lim)).long() + 1).clamp(0, width)
    length = torch.where(disc >= 0, (x1 - x0).clamp(min=0), torch.zeros_like(x0))
    return rg, y, x0, length


def _pairs(u, v, A, B, C, o, G: int, height: int, width: int):
    """All (pixel, Gaussian) pairs, in Gaussian order and left to right within each span.

    Returns ``(key, k)``: the pixel's global index ``image * H * W + y * W + x`` and the
    Gaussian's (ordered) position, both ``(P,)`` int64. Both are built as cumulative sums of
    jumps at span starts rather than by dividing a flat pair index, which is cheaper.
    """
    dev = u.device
    rg, y, x0, length = _spans(u, v, A, B, C, o, height, width)
    keep = length > 0
    rg, y, x0, length = rg[keep], y[keep], x0[keep], length[keep]
    P = int(length.sum())
    if P == 0:
        empty = torch.zeros(0, dtype=torch.long, device=dev)
        return empty, empty
    first = torch.cumsum(length, 0) - length                                       # span starts
    start_key = (rg // G) * (height * width) + y * width + x0
    last_key = start_key + length - 1
    jump = start_key.clone()
    jump[1:] -= last_key[:-1]
    key = torch.ones(P, dtype=torch.long, device=dev)
    key.index_copy_(0, first, jump)
    key = torch.cumsum(key, 0)
    gj = rg.clone()
    gj[1:] -= rg[:-1]
    k = torch.zeros(P, dtype=torch.long, device=dev)
    k.index_copy_(0, first, gj)
    k = torch.cumsum(k, 0)
    return key, k


def _alpha(px, py, u, v, A, B, C, o):
    """Per-pair alpha (clamped, skipped below 1/255), exp(-q/2) and the offsets d = (dx, dy)."""
    dx = px - u
    dy = py - v
    E = torch.exp(-0.5 * (dx * (A * dx + 2 * B * dy) + C * dy * dy))
    alpha = (o * E).clamp_(max=ALPHA_MAX)
    alpha = torch.where(alpha >= ALPHA_MIN, alpha, torch.zeros_like(alpha))
    return alpha, E, dx, dy


def _take(table: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    # index_select is an order of magnitude faster than advanced indexing on CPU.
    return table.index_select(0, index)


class _RasterizeFast(torch.autograd.Function):
    """Span-culled pair rasteriser with a hand-written backward (see module docstring)."""

    @staticmethod
    def forward(ctx, means2d, conics, opacities, colors, depths, background, height, width):
        I, G = opacities.shape
        H, W = height, width
        dev, dt = means2d.device, means2d.dtype
        acc = torch.float64  # log-transmittance sums run over all pairs of the batch

        # Gaussians in (image, depth, index) order: ordered position in 0..I*G-1.
        order = _depth_order(depths)
        gidx = (order + torch.arange(I, device=dev).view(I, 1) * G).reshape(-1)    # (IG,)
        table = torch.cat([means2d.reshape(-1, 2), conics.reshape(-1, 3), opacities.reshape(-1, 1),
                           colors.reshape(-1, 3)], 1).index_select(0, gidx).t().contiguous()
        u, v, A, B, C, o = table[:6]
        key, k = _pairs(u, v, A, B, C, o, G, H, W)
        P = key.numel()

        # Group by pixel. Pairs come in depth order and the sort is stable, so each pixel's
        # pairs stay front to back; int32 keys take PyTorch's fast radix sort on CPU.
        small = I * 3 * H * W < 2**31  # keys and per-channel pixel indices fit in int32
        key, perm = torch.sort(key.int() if small else key, stable=True)
        k = _take(k, perm)
        del perm

        px = (key % W).to(dt) + 0.5
        py = ((key // W) % H).to(dt) + 0.5
        alpha, E, dx, dy = _alpha(px, py, _take(u, k), _take(v, k), _take(A, k), _take(B, k),
                                  _take(C, k), _take(o, k))
        del px, py

        # Segments = runs of one pixel.
        newseg = torch.ones(P, dtype=torch.bool, device=dev)
        if P > 1:
            torch.ne(key[1:], key[:-1], out=newseg[1:])
        starts = newseg.nonzero().squeeze(1)                                      # (S,)
        ends = torch.cat([starts[1:], starts.new_tensor([P])])[:starts.numel()] - 1
        seg = torch.cumsum(newseg, 0) - 1
        del newseg
        S = starts.numel()

        # T_i = exp(sum of log(1 - alpha) over the earlier pairs of the same pixel).
        la = torch.log1p(-alpha.to(acc))
        cs = torch.cumsum(la, 0)
        excl = cs - la
        seg_base = _take(excl, starts)
        T = torch.exp(excl - _take(seg_base, seg)).to(dt)
        t_final = torch.exp(_take(cs, ends) - seg_base).to(dt)                   # (S,)
        del la, cs, excl, seg_base
        w = alpha * T

        pix = _take(key, starts).long()                                           # (S,)
        flat = pix + (pix // (H * W)) * (2 * H * W)                               # channel 0 index
        out = torch.zeros(I, 3, H * W, dtype=dt, device=dev)
        bg = background
        if bg is not None:
            out.copy_(bg.detach().view(1, 3, 1).expand(I, 3, H * W))
        out = out.view(-1)
        for c in range(3):
            val = torch.zeros(S, dtype=dt, device=dev).scatter_add_(0, seg, w * _take(table[6 + c], k))
            if bg is not None:
                val += bg.detach()[c] * t_final
            out.index_copy_(0, flat + c * (H * W), val)

        ctx.save_for_backward(table, gidx, background if bg is not None else None,
                              k, key, alpha, E, dx, dy, T, seg, starts, ends, t_final)
        ctx.dims = (I, G, H, W)
        return out.view(I, 3, H, W)

    @staticmethod
    def backward(ctx, grad_out):
        table, gidx, bg, k, key, alpha, E, dx, dy, T, seg, starts, ends, t_final = ctx.saved_tensors
        I, G, H, W = ctx.dims
        dev, dt = table.device, table.dtype
        acc = torch.float64
        u, v, A, B, C, o, c0, c1, c2 = table

        # dL/dC at each pair's pixel, read straight from the (I, 3, H, W) gradient.
        g = grad_out.contiguous().view(-1)
        HW = H * W
        chan0 = key + (key // HW) * (2 * HW)                                       # channel-0 index
        gp = [_take(g, chan0 + c * HW) for c in range(3)]
        dot = gp[0] * _take(c0, k) + gp[1] * _take(c1, k) + gp[2] * _take(c2, k)  # <dL/dC_p, c_i>
        w = alpha * T

        # dC/dalpha_i = T_i c_i - (sum of later contributions) / (1 - alpha_i): a suffix sum
        # within the pixel = pixel total - inclusive prefix sum (one global cumsum).
        a = torch.cumsum((dot * w).to(acc), 0)
        after = (_take(_take(a, ends), seg) - a).to(dt)
        del a
        if bg is not None:
            gbg = gp[0] * bg[0] + gp[1] * bg[1] + gp[2] * bg[2]
            after += gbg * _take(t_final, seg)
        d_alpha = T * dot - after / (1 - alpha)
        del after, dot

        # alpha = min(0.99, o E), E = exp(-q/2): zero gradient where clamped or skipped.
        raw = _take(o, k) * E
        d_alpha = torch.where((alpha > 0) & (raw < ALPHA_MAX), d_alpha, torch.zeros_like(d_alpha))
        d_q = -0.5 * d_alpha * raw
        del raw
        # dq/du = -2 (A dx + B dy), dq/dv = -2 (B dx + C dy), dq/dA = dx^2, dq/dB = 2 dx dy,
        # dq/dC = dy^2. A, B, C are constant per Gaussian, so we sum the moments of d_q per
        # Gaussian and combine them with A, B, C afterwards (fewer passes over the pairs).
        qx, qy = d_q * dx, d_q * dy
        moments = [qx, qy, qx * dx, qx * dy, qy * dy, d_alpha * E] + [w * gp[c] for c in range(3)]
        IG = I * G
        sums = torch.zeros(9, IG, dtype=dt, device=dev)
        for j, x in enumerate(moments):
            sums[j].scatter_add_(0, k, x)
        del moments, qx, qy
        Mx, My, Mxx, Mxy, Myy, Mo = sums[:6]
        grads = torch.stack([-2.0 * (A * Mx + B * My), -2.0 * (B * Mx + C * My), Mxx, 2.0 * Mxy, Myy, Mo,
                             sums[6], sums[7], sums[8]])
        # Back from ordered position to input order.
        grads = torch.zeros_like(grads).index_copy_(1, gidx, grads)
        d_means = grads[0:2].t().reshape(I, G, 2)
        d_conics = grads[2:5].t().reshape(I, G, 3)
        d_opac = grads[5].reshape(I, G)
        d_colors = grads[6:9].t().reshape(I, G, 3)
        d_bg = None
        if bg is not None and ctx.needs_input_grad[5]:
            # Uncovered pixels see the background fully (T = 1).
            gcov = torch.stack([_take(gp[c], starts) for c in range(3)])                # (3, S)
            d_bg = grad_out.sum((0, 2, 3)) - (gcov * (1 - t_final)).sum(1)
        return d_means, d_conics, d_opac, d_colors, None, d_bg, None, None


def rasterize_fast(means2d: torch.Tensor, conics: torch.Tensor, opacities: torch.Tensor,
                   colors: torch.Tensor, depths: torch.Tensor, height: int, width: int,
                   background=None) -> torch.Tensor:
    """Same contract as :func:`rasterize_dense`, evaluating each Gaussian only where it can
    contribute. ``(I, G, ...) -> (I, 3, H, W)``."""
    bg = _background(background, means2d.dtype, means2d.device)
    return _RasterizeFast.apply(means2d, conics, opacities, colors, depths.detach(), bg, height, width)


def count_pairs(means2d, conics, opacities, height: int, width: int) -> int:
    """How many (pixel, Gaussian) pairs the fast path evaluates (for benchmarks)."""
    with torch.no_grad():
        u, v = means2d.reshape(-1, 2).t()
        A, B, C = conics.reshape(-1, 3).t()
        return int(_spans(u, v, A, B, C, opacities.reshape(-1), height, width)[3].sum())


def rasterize(splats: Splats, colors: torch.Tensor, opacities: torch.Tensor, height: int, width: int,
              background=None, method: str = "fast") -> torch.Tensor:
    """Rasterise projected Gaussians.

    Args:
        splats: :class:`Splats` with leading shape ``(I, G)`` (I images of G Gaussians).
        colors: ``(I, G, 3)``; opacities: ``(I, G)``.
        method: ``"fast"`` (default) or ``"dense"`` (reference, tiny images only).
    Returns:
        ``(I, 3, H, W)``.
    """
    opacities = opacities * splats.valid.to(opacities.dtype)
    if method == "fast":
        fn = rasterize_fast
    elif method == "dense":
        fn = rasterize_dense
    else:
        raise ValueError(f"unknown rasterisation method '{method}' (fast or dense)")
    return fn(splats.means2d, splats.conics, opacities, colors, splats.depths, height, width, background)
