"""The renderer's fast paths against their references: the rasteriser's parts and grouped
sort, float32 against float64 compositing at full size, the Newton SO(3) fit against the SVD,
the EWA projection from rotation and scales against the 3x3 route, the 3x3 helpers, and
DrAction's fast path against its reference path end to end."""
import pytest
import torch
from torch.autograd import gradcheck

from skeletonllm.render import DrAction, DrActionConfig, mat3
from skeletonllm.render import rasterize as R
from skeletonllm.render.camera import Camera
from skeletonllm.render.demo import demo_sequence
from skeletonllm.render.projection import project_gaussians, project_rotated_gaussians
from skeletonllm.render.skinning import covariances, project_so3, project_so3_svd, quaternion_to_matrix
from skeletonllm.skeleton import collate_sequences
from test_render_rasterize import random_scene as scene

D = torch.float64


def rotations(n, gen, dtype=D):
    return quaternion_to_matrix(torch.randn(n, 4, generator=gen, dtype=dtype))


def values_and_grads(fn, inputs, depth, H, W, bg, weight):
    leaves = [x.detach().clone().requires_grad_(True) for x in inputs]
    b = None if bg is None else torch.tensor(bg, dtype=inputs[0].dtype, requires_grad=True)
    img = fn(*leaves, depth, H, W, b)
    (img * weight).sum().backward()
    return img, [x.grad for x in leaves] + ([] if b is None else [b.grad])


# --------------------------------------------------------------------------------------
# Rasteriser
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("background", [None, (0.3, 0.1, 0.6)])
def test_fast_rasteriser_in_parts_and_sort_groups_equals_dense(monkeypatch, background):
    # Tiny parts and sort groups: many parts (some images without pairs), several sort
    # groups per part with a merged short tail; nothing may change.
    I, G, H, W = 7, 10, 15, 13
    mu, con, o, col, depth = scene(I, G, H, W, 11)
    mu[2, :, 0] = -100.0                                    # an image with no pairs at all
    weight = torch.randn(I, 3, H, W, generator=torch.Generator().manual_seed(1), dtype=D)
    ref, ref_g = values_and_grads(R.rasterize_dense, (mu, con, o, col), depth, H, W, background, weight)
    monkeypatch.setattr(R, "PART_PAIRS", 150)
    monkeypatch.setattr(R, "SORT_GROUP", 40)
    assert R.count_pairs(mu, con, o, H, W) > 3 * 150
    img, g = values_and_grads(R.rasterize_fast, (mu, con, o, col), depth, H, W, background, weight)
    assert torch.allclose(img, ref, atol=1e-12)
    for a, b in zip(g, ref_g):
        assert torch.allclose(a, b, atol=1e-10), (a - b).abs().max()


def test_parts_split_images_evenly(monkeypatch):
    assert R._part_cuts([10] * 12) == [0, 12]                                 # few pairs: one part
    monkeypatch.setattr(R, "PART_PAIRS", 60)
    assert R._part_cuts([10] * 12) == [0, 6, 12]
    assert R._part_cuts([0, 50, 0, 0, 10, 10, 10, 0]) == [0, 2, 8]
    monkeypatch.setattr(R, "PART_PAIRS", 25)
    cuts = R._part_cuts([10] * 12)
    assert cuts[0] == 0 and cuts[-1] == 12 and all(b - a <= 3 for a, b in zip(cuts[:-1], cuts[1:]))


def test_grouped_sort_is_the_stable_sort(monkeypatch):
    monkeypatch.setattr(R, "SORT_GROUP", 50)
    gen = torch.Generator().manual_seed(3)
    counts = [0, 70, 10, 31, 120, 5, 0, 44, 12]             # pairs per image, keys grow with the image
    key = torch.cat([torch.randint(0, 20, (n,), generator=gen) + 100 * i for i, n in enumerate(counts)]).int()
    ref = torch.sort(key, stable=True)
    got = R._sort_by_image(key, counts)
    assert torch.equal(got[0], ref.values) and torch.equal(got[1], ref.indices)


def test_float32_compositing_agrees_with_float64_at_full_size():
    # The benchmark's scale: 12 frames of 265 Gaussians at 448 px, about 200k pairs. Log-
    # transmittance sums stay in float64 inside the float32 path, so it agrees with a float64
    # run to float32 precision, in values and gradients.
    I, G, H, W = 12, 265, 448, 448
    gen = torch.Generator().manual_seed(5)
    mu = torch.rand(I, G, 2, generator=gen, dtype=D) * 200 + 124
    s = torch.rand(I, G, 2, generator=gen, dtype=D) * 4 + 1.0
    con = torch.stack([1 / s[..., 0] ** 2, torch.zeros(I, G, dtype=D), 1 / s[..., 1] ** 2], -1)
    o = torch.rand(I, G, generator=gen, dtype=D) * 0.9 + 0.05
    col = torch.rand(I, G, 3, generator=gen, dtype=D)
    depth = torch.rand(I, G, generator=gen, dtype=D)
    weight = torch.randn(I, 3, H, W, generator=gen, dtype=D)
    # Both runs on the same (float32-representable) inputs.
    mu, con, o, col, depth, weight = (x.float().double() for x in (mu, con, o, col, depth, weight))
    ref, ref_g = values_and_grads(R.rasterize_fast, (mu, con, o, col), depth, H, W, None, weight)
    img, g = values_and_grads(R.rasterize_fast, [x.float() for x in (mu, con, o, col)], depth.float(), H, W, None,
                              weight.float())
    assert R.count_pairs(mu, con, o, H, W) > 100_000
    assert (img.double() - ref).abs().max() < 1e-6
    for a, b in zip(g, ref_g):
        assert (a.double() - b).abs().max() <= 1e-5 * b.abs().max()


# --------------------------------------------------------------------------------------
# SO(3) fit and 3x3 helpers
# --------------------------------------------------------------------------------------
def test_mat3_helpers_match_torch():
    gen = torch.Generator().manual_seed(0)
    A, B = torch.randn(2, 17, 3, 3, generator=gen, dtype=D)
    A9, B9 = mat3.to9(A), mat3.to9(B)
    assert torch.allclose(mat3.from9(mat3.matmul(A9, B9), A.shape), A @ B)
    assert torch.allclose(mat3.from9(mat3.matmul(A9, B9, transpose_a=True), A.shape), A.transpose(-1, -2) @ B)
    assert torch.allclose(mat3.from9(mat3.transpose(A9), A.shape), A.transpose(-1, -2))
    assert torch.allclose(mat3.det(A9), torch.linalg.det(A))
    cof = torch.linalg.det(A)[:, None, None] * torch.linalg.inv(A).transpose(-1, -2)
    assert torch.allclose(mat3.from9(mat3.cofactors(A9), A.shape), cof)
    assert torch.allclose(mat3.from9(mat3.row_cross(A9, B9), A.shape), torch.linalg.cross(A, B, dim=-1))


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-12), (torch.float32, 2e-6)])
def test_newton_so3_equals_svd_reference(dtype, tol):
    gen = torch.Generator().manual_seed(1)
    Ra, Rb = rotations(2 * 500, gen, D).view(2, 500, 3, 3)
    t = torch.arange(1, 11, dtype=D).repeat(50)[:, None, None] / 11        # LBS blends, K = 10
    blends = (1 - t) * Ra + t * Rb
    general = torch.randn(300, 3, 3, generator=gen, dtype=D)                # half with det < 0: SVD fallback
    singular = torch.stack([torch.diag(torch.tensor([1.0, 1.0, 0.0], dtype=D)), torch.zeros(3, 3, dtype=D)])
    A = torch.cat([blends, general, singular, torch.eye(3, dtype=D)[None]]).to(dtype)
    fast, ref = project_so3(A), project_so3_svd(A)
    assert torch.allclose(fast[:-3], ref[:-3], atol=tol)                   # singular ones: any nearest rotation
    assert torch.allclose(torch.linalg.det(fast.double()), torch.ones(A.shape[0], dtype=D), atol=10 * tol)
    eye = torch.eye(3, dtype=D).expand(A.shape[0], 3, 3)
    assert torch.allclose(fast.double() @ fast.double().transpose(-1, -2), eye, atol=10 * tol)
    # Same gradient as the reference's own (SVD-factor) backward, finite at the identity.
    A64 = A[:-3].double().requires_grad_(True)
    G = torch.randn(A64.shape, generator=gen, dtype=D)
    g_fast, = torch.autograd.grad(project_so3(A64), A64, G)
    g_ref, = torch.autograd.grad(project_so3_svd(A64), A64, G)
    assert torch.allclose(g_fast, g_ref, atol=1e-9)
    I3 = torch.eye(3, dtype=D).requires_grad_(True)
    g_id, = torch.autograd.grad(project_so3(I3)[0, 1], I3)
    skew = torch.tensor([[0, 0.5, 0], [-0.5, 0, 0], [0, 0, 0]], dtype=D)         # dR = (dA - dA^T) / 2 at I
    assert torch.isfinite(g_id).all() and torch.allclose(g_id, skew)


def test_so3_reference_gradcheck():
    gen = torch.Generator().manual_seed(2)
    A = (0.6 * rotations(3, gen) + 0.4 * rotations(3, gen)).requires_grad_(True)
    assert gradcheck(project_so3_svd, (A,), eps=1e-6, atol=1e-6)
    assert gradcheck(project_so3, (A,), eps=1e-6, atol=1e-6)


# --------------------------------------------------------------------------------------
# EWA projection from rotation and scales
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("with_rotation,with_widen", [(True, True), (True, False), (False, True), (False, False)])
def test_projection_from_rotation_and_scales_equals_covariance_route(with_rotation, with_widen):
    cam = Camera.from_fov(64, 48, 60.0)
    gen = torch.Generator().manual_seed(4)
    n = 40
    means = torch.randn(n, 3, generator=gen, dtype=D) * 0.4 + torch.tensor([0, 0, 2.0], dtype=D)
    means[0] = torch.tensor([3.0, -2.5, 2.0], dtype=D)       # far outside the view: clamped Jacobian
    means[1, 2] = -1.0                                       # behind the camera
    R = rotations(n, gen) if with_rotation else None
    scales = torch.rand(n, 3, generator=gen, dtype=D) * 0.05 + 0.01
    d = torch.nn.functional.normalize(torch.randn(n, 3, generator=gen, dtype=D), dim=-1)
    d[:5] = 0.0                                              # joint Gaussians: no direction
    target = torch.rand(n, generator=gen, dtype=D) * 0.01
    leaves = [x.clone().requires_grad_(True) for x in (means, scales, d, target)] + \
        ([R.clone().requires_grad_(True)] if with_rotation else [])

    def ref(m, s, dd, tg, *r):
        cov = covariances(s, r[0] if r else None)
        if with_widen:
            along = (dd.unsqueeze(-2) @ cov @ dd.unsqueeze(-1))[..., 0, 0]
            cov = cov + torch.relu(tg - along)[..., None, None] * (dd.unsqueeze(-1) * dd.unsqueeze(-2))
        return project_gaussians(m, cov, cam)

    def fast(m, s, dd, tg, *r):
        return project_rotated_gaussians(m, r[0] if r else None, s, cam, (dd, tg) if with_widen else None)

    a, b = ref(*leaves), fast(*leaves)
    for x, y in ((a.means2d, b.means2d), (a.cov2d, b.cov2d), (a.conics, b.conics), (a.depths, b.depths)):
        assert torch.allclose(x, y, atol=1e-10)
    assert torch.equal(a.valid, b.valid)
    w = torch.randn(n, 3, generator=gen, dtype=D)
    ga = torch.autograd.grad((a.conics * w).sum() + a.means2d.sum(), leaves, allow_unused=True)
    gb = torch.autograd.grad((b.conics * w).sum() + b.means2d.sum(), leaves, allow_unused=True)
    for x, y in zip(ga, gb):
        if x is None or y is None:                     # unused on one side: must be unused on both
            assert x is None and y is None
        else:
            assert torch.allclose(x, y, atol=1e-8)


# --------------------------------------------------------------------------------------
# DrAction end to end
# --------------------------------------------------------------------------------------
def test_draction_fast_path_equals_reference_path_in_float64():
    batch = collate_sequences([demo_sequence("ntu25", 5, bodies=2, with_orientations=True)], 3)
    batch.joints = batch.joints.double()
    batch.orientations = batch.orientations.double()
    torch.manual_seed(0)
    fast = DrAction(DrActionConfig(image_size=24)).double()
    ref = DrAction(DrActionConfig(image_size=24, rasterizer="dense")).double()
    ref.load_state_dict(fast.state_dict())
    a, b = fast(batch), ref(batch)
    assert torch.allclose(a, b, atol=1e-10)
    w = torch.randn(a.shape, generator=torch.Generator().manual_seed(1), dtype=D)
    ga = torch.autograd.grad((a * w).sum(), list(fast.parameters()))
    gb = torch.autograd.grad((b * w).sum(), list(ref.parameters()))
    for x, y in zip(ga, gb):
        assert torch.allclose(x, y, atol=1e-8, rtol=1e-6)
