"""The rasteriser: fast path == dense reference (values and gradients), closed forms, edge cases."""
import pytest
import torch
from torch.autograd import gradcheck

from skeletonllm.render.rasterize import ALPHA_MAX, ALPHA_MIN, count_pairs, rasterize_dense, rasterize_fast

D = torch.float64


def random_scene(I, G, H, W, seed, dtype=D, ties=True, spread=3.0):
    gen = torch.Generator().manual_seed(seed)
    mu = torch.rand(I, G, 2, generator=gen, dtype=dtype) * torch.tensor([W + 4, H + 4], dtype=dtype) - 2
    L = torch.randn(I, G, 2, 2, generator=gen, dtype=dtype)
    cov = L @ L.transpose(-1, -2) * spread + 0.3 * torch.eye(2, dtype=dtype)
    inv = torch.linalg.inv(cov)
    con = torch.stack([inv[..., 0, 0], inv[..., 0, 1], inv[..., 1, 1]], -1)
    o = torch.rand(I, G, generator=gen, dtype=dtype)
    col = torch.rand(I, G, 3, generator=gen, dtype=dtype)
    if ties:  # nearly flat scenes: many equal depths
        depth = torch.randint(0, 3, (I, G), generator=gen).to(dtype)
    else:
        depth = torch.rand(I, G, generator=gen, dtype=dtype)
    return mu, con, o, col, depth


@pytest.mark.parametrize("seed,background", [(0, None), (1, (0.2, 0.5, 0.1)), (2, None), (3, (1.0, 1.0, 1.0))])
def test_fast_equals_dense_values_and_gradients(seed, background):
    I, G, H, W = 2, 9, 17, 13
    mu, con, o, col, depth = random_scene(I, G, H, W, seed)
    o[0, 0] = 0.999                                      # exercises the 0.99 clamp
    o[1, 1] = 0.5 / 255                                  # never reaches 1/255: skipped everywhere
    inputs = [x.clone().requires_grad_(True) for x in (mu, con, o, col)]
    bg_d = None if background is None else torch.tensor(background, dtype=D, requires_grad=True)
    bg_f = None if background is None else bg_d.detach().clone().requires_grad_(True)
    dense = rasterize_dense(*inputs, depth, H, W, bg_d)
    inputs2 = [x.detach().clone().requires_grad_(True) for x in inputs]
    fast = rasterize_fast(*inputs2, depth, H, W, bg_f)
    assert torch.allclose(fast, dense, atol=1e-12)
    w = torch.randn(dense.shape, generator=torch.Generator().manual_seed(seed), dtype=D)
    (dense * w).sum().backward()
    (fast * w).sum().backward()
    for a, b in zip(inputs, inputs2):
        assert torch.allclose(a.grad, b.grad, atol=1e-10), (a.grad - b.grad).abs().max()
    if background is not None:
        assert torch.allclose(bg_d.grad, bg_f.grad, atol=1e-10)


def test_fast_equals_dense_float32_larger_scene():
    I, G, H, W = 3, 40, 48, 40
    mu, con, o, col, depth = random_scene(I, G, H, W, 5, dtype=torch.float32, spread=8.0)
    a = [x.clone().requires_grad_(True) for x in (mu, con, o, col)]
    b = [x.clone().requires_grad_(True) for x in (mu, con, o, col)]
    dense, fast = rasterize_dense(*a, depth, H, W), rasterize_fast(*b, depth, H, W)
    assert torch.allclose(fast, dense, atol=1e-5)
    dense.square().sum().backward()
    fast.square().sum().backward()
    for x, y in zip(a, b):
        assert torch.allclose(x.grad, y.grad, atol=1e-3, rtol=1e-3)


def test_fast_path_gradcheck():
    I, G, H, W = 1, 4, 9, 8
    mu, con, o, col, depth = random_scene(I, G, H, W, 7, ties=False)
    o = o * 0.8 + 0.1                                        # keep clear of the clamp kinks
    args = [x.requires_grad_(True) for x in (mu, con, o, col)]
    bg = torch.tensor([0.3, 0.1, 0.7], dtype=D, requires_grad=True)
    assert gradcheck(lambda m, c, op, cl, b: rasterize_fast(m, c, op, cl, depth, H, W, b),
                     (*args, bg), eps=1e-7, atol=1e-5)


def test_dense_compositing_gradcheck():
    I, G, H, W = 1, 3, 6, 5
    mu, con, o, col, depth = random_scene(I, G, H, W, 8, ties=False)
    o = o * 0.8 + 0.1
    args = [x.requires_grad_(True) for x in (mu, con, o, col)]
    assert gradcheck(lambda m, c, op, cl: rasterize_dense(m, c, op, cl, depth, H, W), args, eps=1e-7, atol=1e-5)


def test_single_gaussian_closed_form():
    H, W = 21, 25
    u, v, sx, sy, rho, o = 11.3, 9.6, 2.0, 3.0, 0.4, 0.8
    cov = torch.tensor([[sx * sx, rho * sx * sy], [rho * sx * sy, sy * sy]], dtype=D)
    inv = torch.linalg.inv(cov)
    con = torch.tensor([[[inv[0, 0], inv[0, 1], inv[1, 1]]]], dtype=D)
    colour = torch.tensor([[[0.2, 0.6, 1.0]]], dtype=D)
    img = rasterize_fast(torch.tensor([[[u, v]]], dtype=D), con, torch.tensor([[o]], dtype=D), colour,
                         torch.zeros(1, 1, dtype=D), H, W)
    ys, xs = torch.meshgrid(torch.arange(H, dtype=D) + 0.5, torch.arange(W, dtype=D) + 0.5, indexing="ij")
    d = torch.stack([xs - u, ys - v], -1)
    q = torch.einsum("hwi,ij,hwj->hw", d, inv, d)
    alpha = (o * torch.exp(-q / 2)).clamp(max=ALPHA_MAX)
    alpha = torch.where(alpha >= ALPHA_MIN, alpha, torch.zeros_like(alpha))
    assert torch.allclose(img[0], colour[0, 0].view(3, 1, 1) * alpha, atol=1e-12)
    # Its extent is the 1/255 ellipse (about 3.3 sigma), no more.
    assert (alpha > 0).sum() == (img[0, 2] > 0).sum() > 0


def test_stable_order_for_equal_depths():
    # Two opaque Gaussians at one pixel, same depth: the lower index is in front.
    mu = torch.tensor([[[2.5, 2.5], [2.5, 2.5]]], dtype=D)
    con = torch.tensor([[[1.0, 0.0, 1.0], [1.0, 0.0, 1.0]]], dtype=D)
    o = torch.tensor([[0.99, 0.99]], dtype=D)
    col = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]], dtype=D)
    for fn in (rasterize_fast, rasterize_dense):
        img = fn(mu, con, o, col, torch.zeros(1, 2, dtype=D), 5, 5)
        assert img[0, 0, 2, 2] > 0.98 and img[0, 2, 2, 2] < 0.01
        img = fn(mu, con, o, col, torch.tensor([[1.0, 0.0]], dtype=D), 5, 5)
        assert img[0, 2, 2, 2] > 0.98                         # nearer one wins


def test_empty_and_invisible_scenes():
    H, W = 8, 6
    mu = torch.tensor([[[-100.0, 3.0], [3.0, 3.0]]], dtype=D, requires_grad=True)  # off-screen; zero opacity
    con = torch.tensor([[[1.0, 0.0, 1.0], [1.0, 0.0, 1.0]]], dtype=D, requires_grad=True)
    o = torch.tensor([[0.9, 0.0]], dtype=D, requires_grad=True)
    col = torch.ones(1, 2, 3, dtype=D, requires_grad=True)
    img = rasterize_fast(mu, con, o, col, torch.zeros(1, 2, dtype=D), H, W, (0.1, 0.2, 0.3))
    assert torch.allclose(img, torch.tensor([0.1, 0.2, 0.3], dtype=D).view(1, 3, 1, 1).expand(1, 3, H, W))
    img.sum().backward()
    for x in (mu, con, o, col):
        assert torch.isfinite(x.grad).all() and (x.grad == 0).all()
    assert count_pairs(mu, con, o, H, W) == 0


def test_pairs_cover_exactly_the_drawn_ellipse():
    # The fast path's spans contain every pixel the dense path draws and few others.
    I, G, H, W = 1, 30, 64, 64
    mu, con, o, col, depth = random_scene(I, G, H, W, 9, spread=10.0)
    pairs = count_pairs(mu, con, o, H, W)
    dense_nonzero = 0
    ys, xs = torch.meshgrid(torch.arange(H, dtype=D) + 0.5, torch.arange(W, dtype=D) + 0.5, indexing="ij")
    for g in range(G):
        dx, dy = xs - mu[0, g, 0], ys - mu[0, g, 1]
        A, B, C = con[0, g]
        alpha = o[0, g] * torch.exp(-0.5 * (A * dx * dx + 2 * B * dx * dy + C * dy * dy))
        dense_nonzero += int((alpha >= ALPHA_MIN).sum())
    assert dense_nonzero <= pairs <= 1.1 * dense_nonzero + 4 * G
