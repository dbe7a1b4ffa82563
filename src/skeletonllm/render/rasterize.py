"""Differentiable rasterisation of 2D Gaussians: front-to-back alpha compositing (SPEC §3).

For pixel p with centre x_p and Gaussians sorted front to back by (depth, index):

    alpha_i = min(0.99, o_i exp(-q_i / 2)),  q_i = d^T Sigma2D_i^-1 d,  d = x_p - mu2D_i
    alpha_i := 0 where alpha_i < 1/255 (skipped, as in 3D Gaussian Splatting)
    C(p) = sum_i c_i alpha_i T_i + T_final bg,   T_i = prod_{k<i} (1 - alpha_k)

Three implementations compute exactly this:

* :func:`rasterize_dense` evaluates every Gaussian at every pixel with plain autograd. It
  is the readable reference and is only usable for tiny images.
* :func:`rasterize_fast` sends CPU float tensors to the compiled kernel of
  :mod:`.rasterize_numba` (numba; the same spans, each image composited in painter's order
  with no pair list) where numba is there, and everything else to the torch path below.
* :func:`rasterize_torch` evaluates each Gaussian only on the pixels of the ellipse where its
  alpha can reach 1/255 (q <= 2 ln(255 o), about 3.33 sigma), generated row by row, so
  nothing that the dense path would draw is left out. The (pixel, Gaussian) pairs are
  grouped by pixel with a stable integer sort (pairs are generated in depth order, so the
  sort keeps that order inside each pixel), transmittance is a segmented cumulative sum of
  log(1 - alpha) in float64 (float32 loses the small differences of large running sums),
  and a custom backward recomputes what it needs from a few saved per-pair tensors, with
  the "everything behind me" terms as one reverse (suffix) sum. Images are composited in
  parts of whole images, which bounds the temporaries for large batches. Pure torch: it
  runs on CPU and CUDA tensors alike (on a GPU a fused kernel such as gsplat's would be
  faster).

The sort is stable on (depth, Gaussian index): skeleton scenes are nearly flat and 2D input
puts every Gaussian at one depth, so ties are the rule; an unstable order would make the
output depend on the sorting algorithm.
"""
from __future__ import annotations

import bisect
import itertools

import torch

from . import rasterize_numba
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


#: PyTorch's CPU sort of integers is a radix sort from 32768 (= at::internal::GRAIN_SIZE)
#: elements on and a comparison sort below, and its radix sort slows down once keys and
#: indices outgrow the caches (on the 2-core test machine 15 ns per element at 200k, 9 at
#: 32k-64k). Pairs are therefore sorted in groups of whole images of at least this many.
SORT_GROUP = 32768
#: Images are composited in parts of whole images of at most about this many pairs, so that
#: a batch of many clips runs as a sequence of cache-sized parts instead of one pass over
#: tens of megabytes per temporary.
PART_PAIRS = 1 << 18
def _part_cuts(pairs_per_image: list[int]) -> list[int]:
    """Image boundaries ``[0, ..., I]`` of parts with about equal numbers of pairs, at most
    about PART_PAIRS each (one image at least)."""
    P = sum(pairs_per_image)
    n = max(-(-P // PART_PAIRS), 1)
    ends = list(itertools.accumulate(pairs_per_image))
    cuts = [0]
    for k in range(1, n):
        i = bisect.bisect_left(ends, k * P / n)       # image whose end first reaches the target
        if i < len(ends) and i + 1 > cuts[-1]:
            cuts.append(i + 1)
    if cuts[-1] != len(pairs_per_image):
        cuts.append(len(pairs_per_image))
    return cuts


def _cuts(counts: list[int], fits) -> list[int]:
    """Boundaries ``[0, ..., n]`` of consecutive groups of the n items with these counts:
    a group takes the next item while ``fits(group total, next count)`` (and always one)."""
    cuts, acc = [0], 0
    for i, n in enumerate(counts):
        if i > cuts[-1] and not fits(acc, n):
            cuts.append(i)
            acc = 0
        acc += n
    return cuts + [len(counts)]


def _sort_by_image(key: torch.Tensor, pairs_per_image: list[int]):
    """Stable sort of ``key`` (P,) whose pairs come image by image and whose values grow with
    the image: sorting groups of whole images separately is the same sort, and on CPU groups
    of SORT_GROUP to 2 SORT_GROUP pairs sort fastest."""
    P = key.numel()
    if key.device.type != "cpu" or P < 3 * SORT_GROUP:
        return torch.sort(key, stable=True)
    cuts = _cuts(pairs_per_image, lambda acc, n: acc < SORT_GROUP)
    if sum(pairs_per_image[cuts[-2]:]) < SORT_GROUP:                              # merge a short tail
        del cuts[-2]
    ends = torch.tensor(pairs_per_image).cumsum(0).tolist()
    bounds = [0] + [ends[c - 1] for c in cuts[1:]]
    sorted_key = torch.empty_like(key)
    perm = torch.empty(P, dtype=torch.long, device=key.device)
    for a, b in zip(bounds[:-1], bounds[1:]):
        torch.sort(key[a:b], stable=True, out=(sorted_key[a:b], perm[a:b]))
        perm[a:b] += a
    return sorted_key, perm


def _pairs(start: torch.Tensor, length: torch.Tensor, pairs_per_image: list[int]):
    """All (pixel, Gaussian) pairs of some spans, grouped by pixel, each pixel's front to back.

    Pairs are generated span by span (Gaussian by Gaussian in depth order, top to bottom,
    left to right) and grouped by pixel with a stable integer sort of their keys; stability
    keeps each pixel's pairs in depth order. A pair's key is its pixel's channel-0 index in
    the flat ``(I, 3, H, W)`` output, ``image * 3HW + y * W + x``, so the key also addresses
    the output and the upstream gradient.

    Args:
        start: ``(R,)`` key of each span's first pixel (int32 or int64).
        length: ``(R,)`` its number of pixels.
        pairs_per_image: pairs of each image the spans cover, in order.
    Returns:
        ``(key, span, j)``, each ``(P,)`` in pixel order: key (start's dtype), span (int64)
        and the pixel's offset within its span (start's dtype).
    """
    P = int(length.sum())
    first = torch.cumsum(length, 0) - length
    span = torch.repeat_interleave(torch.arange(start.numel(), device=start.device), length, output_size=P)
    # Pair p of span r sits at pixel x0 + (p - first[r]): its key is start[r] - first[r] + p.
    key = (start - first.to(start.dtype)).index_select(0, span) + torch.arange(P, device=start.device,
                                                                               dtype=start.dtype)
    key, perm = _sort_by_image(key, pairs_per_image)
    span = span.index_select(0, perm)
    return key, span, key - start.index_select(0, span)


def _segments(key: torch.Tensor):
    """Runs of equal values (one pixel each) in a sorted ``(P,)`` key, P > 0: per pair its
    run ``seg`` (P,), per run its first and last pair ``starts``, ``ends`` (S,)."""
    _, seg, counts = torch.unique_consecutive(key, return_inverse=True, return_counts=True)
    ends = torch.cumsum(counts, 0)
    starts = ends - counts
    ends -= 1
    return seg, starts, ends


def _at_least(x: torch.Tensor, limit: float) -> torch.Tensor:
    """``x`` where ``x >= limit`` (compared in x's dtype, like ``x >= limit``), else 0; one
    pass (``threshold`` keeps ``x > t`` for t the largest value below the limit)."""
    t = torch.tensor(limit, dtype=x.dtype)
    t = torch.nextafter(t, torch.tensor(-float("inf"), dtype=x.dtype)).item()
    return torch.nn.functional.threshold(x, t, 0.0)


def _below(x: torch.Tensor, limit: float) -> torch.Tensor:
    """``x`` where ``x < limit``, else 0 (one pass: ``threshold`` keeps ``-x > -limit``)."""
    return torch.nn.functional.threshold(x.neg(), -limit, 0.0).neg_()


def _composite(out: torch.Tensor, consts: torch.Tensor, start: torch.Tensor, length: torch.Tensor,
               pairs_per_image: list[int], HW: int, bg: torch.Tensor | None) -> dict:
    """Front-to-back compositing of the pairs of some spans into the flat output ``out``.

    Args:
        consts: ``(7, R)`` per span c0, -A/2, -b/2, -c/2 and the colour (see
            :class:`_RasterizeFast`).
        start, length: ``(R,)`` first pixel's key and pixel count of each span.
    Returns:
        what the backward needs (per pair, in pixel order).
    """
    key, span, j = _pairs(start, length, pairs_per_image)
    c0, a2, b2, c2, *col = (x.index_select(0, span) for x in consts)
    dx = j.to(consts.dtype).add_(c0)
    oE = torch.addcmul(c2, torch.addcmul(b2, a2, dx), dx).exp_()                  # o exp(-q/2)
    alpha = _at_least(oE.clamp_(max=ALPHA_MAX), ALPHA_MIN)
    del c0, a2, b2, c2, oE

    # T_i = exp(sum of log(1 - alpha) over the earlier pairs of the same pixel), the sums
    # in float64: float32 loses the small differences of large running sums.
    seg, starts, ends = _segments(key)
    la = torch.log(1 - alpha).to(torch.float64)
    cs = torch.cumsum(la, 0)
    excl = cs - la
    seg_base = excl.index_select(0, starts)                                        # (S,)
    T = (excl - seg_base.index_select(0, seg)).to(alpha.dtype).exp_()
    t_final = None if bg is None else torch.exp(cs.index_select(0, ends) - seg_base).to(alpha.dtype)
    del la, cs, excl
    w = alpha * T

    # C(p) = sum_i w_i c_i (+ T_final bg): accumulated straight into the output channels.
    for ch in range(3):
        out[ch * HW:].index_add_(0, key, w * col[ch])
    if bg is not None:
        first_key = key.index_select(0, starts)
        for ch in range(3):
            out[ch * HW:].index_add_(0, first_key, (t_final - 1) * bg[ch])
    return dict(key=key, span=span, dx=dx, alpha=alpha, T=T, w=w, col=col, seg=seg, starts=starts, ends=ends,
                t_final=t_final)


def _composite_backward(part: dict, g: torch.Tensor, HW: int, bg: torch.Tensor | None, R: int):
    """Per span sums ``(9, R)`` of the derivatives of one part (see :class:`_RasterizeFast`)
    and, with a background, its sum of dL/d bg over covered pixels ``(3,)``."""
    key, w, T, alpha, col, seg = part["key"], part["w"], part["T"], part["alpha"], part["col"], part["seg"]
    # dL/dC at each pair's pixel, read straight from the flat (I, 3, H, W) gradient.
    gp = [g[ch * HW:].index_select(0, key) for ch in range(3)]
    dot = gp[0] * col[0]
    dot.addcmul_(gp[1], col[1]).addcmul_(gp[2], col[2])                          # <dL/dC_p, c_i>

    # dC/dalpha_i = T_i c_i - (sum of later contributions) / (1 - alpha_i): a suffix sum
    # within the pixel = pixel total - inclusive prefix sum (one global cumsum).
    a = torch.cumsum((dot * w).to(torch.float64), 0)
    after = (a.index_select(0, part["ends"]).index_select(0, seg) - a).to(w.dtype)
    del a
    if bg is not None:
        gbg = gp[0] * bg[0] + gp[1] * bg[1] + gp[2] * bg[2]
        after += gbg * part["t_final"].index_select(0, seg)
    d_alpha = torch.addcdiv(T * dot, after, 1 - alpha, value=-1.0)
    del after, dot

    # alpha = min(0.99, o E) and 0 below 1/255: the gradient flows where 0 < alpha < 0.99,
    # and there alpha = o E. With s = dL/dalpha * alpha on those pairs: dL/dq = -s / 2,
    # dL/do = s / o; q is quadratic in dx with dy constant along a span.
    s = d_alpha.mul_(_below(alpha, ALPHA_MAX))
    sx = s * part["dx"]
    per_pair = [s, sx, sx * part["dx"]] + [w * gp[ch] for ch in range(3)]
    sums = torch.zeros(len(per_pair), R, dtype=w.dtype, device=w.device)
    for row, x in zip(sums, per_pair):
        row.scatter_add_(0, part["span"], x)
    g_bg = None
    if bg is not None:
        starts = part["starts"]
        g_bg = torch.stack([(gp[ch].index_select(0, starts) * (1 - part["t_final"])).sum() for ch in range(3)])
    return sums, g_bg


class _RasterizeFast(torch.autograd.Function):
    """Span-culled pair rasteriser with a hand-written backward (see module docstring).

    Along a span (row y of Gaussian g, pixels x0 .. x0 + n - 1) dy = y + 0.5 - v is constant
    and dx = c0 + j with c0 = x0 + 0.5 - u, so o exp(-q/2) = exp(-((A dx + b) dx + c) / 2)
    with b = 2 B dy and c = C dy^2 - 2 ln o. Per pair that is four span constants (kept
    times -1/2) and the colour, gathered once, and three elementwise passes. The backward
    sums its per-pair terms per span first (s, s dx, s dx^2 with s = dL/dalpha alpha) and
    combines them with dy there. Images are processed in parts of at most about PART_PAIRS
    pairs.
    """

    @staticmethod
    def forward(ctx, means2d, conics, opacities, colors, depths, background, height, width):
        I, G = opacities.shape
        H, W = height, width
        HW = H * W
        dev, dt = means2d.device, means2d.dtype
        bg = None if background is None else background.detach()

        # Gaussians in (image, depth, index) order: ordered position in 0..I*G-1.
        order = _depth_order(depths)
        gidx = (order + torch.arange(I, device=dev).view(I, 1) * G).reshape(-1)    # (IG,)
        table = torch.cat([means2d.reshape(-1, 2), conics.reshape(-1, 3), opacities.reshape(-1, 1),
                           colors.reshape(-1, 3)], 1).index_select(0, gidx).t().contiguous()
        u, v, A, B, C, o = table[:6]
        rg, y, x0, length = _spans(u, v, A, B, C, o, H, W)
        img = rg // G
        kt = torch.int32 if I * 3 * HW + length.sum() < 2**31 else torch.int64
        start = (img * (3 * HW) + y * W + x0).to(kt)                               # key of a span's first pixel
        # Span constants c0, -A/2, -b/2, -c/2 and the colour.
        sg = table.index_select(1, rg)                                              # (9, R)
        dy = (y.to(dt) + 0.5) - sg[1]
        consts = torch.stack([(x0.to(dt) + 0.5) - sg[0], -0.5 * sg[2], -sg[3] * dy,
                              torch.log(sg[5]) - 0.5 * sg[4] * dy * dy, sg[6], sg[7], sg[8]])
        del sg

        out = torch.zeros(I * 3 * HW, dtype=dt, device=dev)
        if bg is not None:
            out.view(I, 3, HW).copy_(bg.view(1, 3, 1).expand(I, 3, HW))
        per_image = torch.zeros(I, dtype=length.dtype, device=dev).index_add_(0, img, length).tolist()
        image_cuts = _part_cuts(per_image)
        span_cuts = torch.searchsorted(img, torch.tensor(image_cuts, device=dev)).tolist()
        parts = []
        for i0, i1, r0, r1 in zip(image_cuts[:-1], image_cuts[1:], span_cuts[:-1], span_cuts[1:]):
            if sum(per_image[i0:i1]):
                part = _composite(out, consts[:, r0:r1], start[r0:r1], length[r0:r1], per_image[i0:i1], HW, bg)
                parts.append((r0, r1, part))
        ctx.parts = parts
        ctx.dims = (I, G, H, W)
        ctx.save_for_backward(table, gidx, bg, rg, dy)
        return out.view(I, 3, H, W)

    @staticmethod
    def backward(ctx, grad_out):
        I, G, H, W = ctx.dims
        HW = H * W
        table, gidx, bg, rg, dy = ctx.saved_tensors
        g = grad_out.contiguous().view(-1)
        # Per span: sums of dL/dq dx^k (k = 0, 1, 2), of dL/do o and of dL/dc (3).
        per_span = torch.zeros(6, rg.numel(), dtype=table.dtype, device=table.device)
        g_bg = torch.zeros(3, dtype=table.dtype, device=table.device)
        for r0, r1, part in ctx.parts:
            sums, gb = _composite_backward(part, g, HW, bg, r1 - r0)
            per_span[:, r0:r1] = sums
            if gb is not None:
                g_bg += gb
        # dq/du = -2 (A dx + B dy), dq/dv = -2 (B dx + C dy), dq/dA = dx^2, dq/dB = 2 dx dy,
        # dq/dC = dy^2, dL/dq = -s / 2; dL/do = sum s / o.
        Ss, Ssx, Ssxx = per_span[:3] * -0.5
        terms = torch.stack([Ssx, Ss * dy, Ssxx, Ssx * dy, Ss * dy * dy, per_span[0], *per_span[3:]])
        M = torch.zeros(9, I * G, dtype=table.dtype, device=table.device).index_add_(1, rg, terms)
        A, B, C, o = table[2:6]
        Mx, My, Mxx, Mxy, Myy = M[:5]
        o_safe = torch.where(o > 0, o, torch.ones_like(o))  # Gaussians with o = 0 have no pairs
        grads = torch.stack([-2.0 * (A * Mx + B * My), -2.0 * (B * Mx + C * My), Mxx, 2.0 * Mxy, Myy,
                             M[5] / o_safe, M[6], M[7], M[8]])
        # Back from ordered position to input order.
        grads = torch.empty_like(grads).index_copy_(1, gidx, grads)
        d_bg = None
        if bg is not None and ctx.needs_input_grad[5]:
            d_bg = grad_out.sum((0, 2, 3)) - g_bg                # uncovered pixels see all of it
        return (grads[0:2].t().reshape(I, G, 2), grads[2:5].t().reshape(I, G, 3), grads[5].reshape(I, G),
                grads[6:9].t().reshape(I, G, 3), None, d_bg, None, None)


def rasterize_torch(means2d: torch.Tensor, conics: torch.Tensor, opacities: torch.Tensor,
                    colors: torch.Tensor, depths: torch.Tensor, height: int, width: int,
                    background=None) -> torch.Tensor:
    """The pure-torch fast path (any device): same contract as :func:`rasterize_dense`,
    evaluating each Gaussian only where it can contribute. ``(I, G, ...) -> (I, 3, H, W)``."""
    bg = _background(background, means2d.dtype, means2d.device)
    return _RasterizeFast.apply(means2d, conics, opacities, colors, depths.detach(), bg, height, width)


def rasterize_fast(means2d: torch.Tensor, conics: torch.Tensor, opacities: torch.Tensor,
                   colors: torch.Tensor, depths: torch.Tensor, height: int, width: int,
                   background=None) -> torch.Tensor:
    """Same contract as :func:`rasterize_dense`, evaluating each Gaussian only where it can
    contribute: CPU float tensors go to the compiled kernel of :mod:`.rasterize_numba` when
    numba is there (and ``SKELETONLLM_RASTERIZER`` is not ``torch``), everything else to
    :func:`rasterize_torch`. ``(I, G, ...) -> (I, 3, H, W)``."""
    if rasterize_numba.usable(means2d):
        bg = _background(background, means2d.dtype, means2d.device)
        return rasterize_numba.rasterize_numba(means2d, conics, opacities, colors, depths, height, width, bg,
                                               ALPHA_MIN, ALPHA_MAX)
    return rasterize_torch(means2d, conics, opacities, colors, depths, height, width, background)


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
        method: ``"fast"`` (default: the compiled kernel for CPU tensors where numba is
            there, else the torch path), ``"torch"`` (the pure-torch fast path) or ``"dense"``
            (reference, tiny images only).
    Returns:
        ``(I, 3, H, W)``.
    """
    if method == "fast":
        fn = rasterize_fast
    elif method == "torch":
        fn = rasterize_torch
    elif method == "dense":
        fn = rasterize_dense
    else:
        raise ValueError(f"unknown rasterisation method '{method}' (fast, torch or dense)")
    opacities = opacities * splats.valid.to(opacities.dtype)
    return fn(splats.means2d, splats.conics, opacities, colors, splats.depths, height, width, background)
