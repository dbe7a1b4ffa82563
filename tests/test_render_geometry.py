"""DrAction geometry: Gaussians, LBS, SO(3) projection, camera and EWA projection."""
import math

import numpy as np
import pytest
import torch
from torch.autograd import gradcheck

from skeletonllm.render.camera import Camera, normalise_depth
from skeletonllm.render.gaussians import (DESCRIPTOR_DIM, build_layout, canonical_joints, canonical_scales)
from skeletonllm.render.projection import LOW_PASS, project_gaussians
from skeletonllm.render.skinning import covariances, project_so3, quaternion_to_matrix, skin
from skeletonllm.skeleton import BUILTIN_TOPOLOGIES, get_topology

D = torch.float64


def random_rotations(n, gen):
    q = torch.randn(n, 4, generator=gen, dtype=D)
    return quaternion_to_matrix(q)


def test_layout_counts_and_descriptors():
    for topo in BUILTIN_TOPOLOGIES.values():
        lay = build_layout(topo, 10)
        J, E = topo.num_joints, topo.num_bones
        assert lay.num_gaussians == J + 10 * E
        assert lay.descriptors.shape == (J + 10 * E, DESCRIPTOR_DIM)
        # t_k = k / (K + 1) on bones, 0 on joints; joint Gaussians skin to their own joint only.
        assert torch.equal(lay.joint_a[:J], torch.arange(J)) and torch.equal(lay.joint_b[:J], torch.arange(J))
        assert torch.allclose(lay.t[J:J + 10], torch.arange(1, 11) / 11.0)
        # Part one-hots (blended) sum to 1, side one-hots too.
        assert torch.allclose(lay.descriptors[:, :10].sum(1), torch.ones(lay.num_gaussians))
        assert torch.allclose(lay.descriptors[:, 10:13].sum(1), torch.ones(lay.num_gaussians))


def test_descriptors_do_not_depend_on_bone_direction():
    from skeletonllm.skeleton.topology import Topology
    fwd = Topology("f", ("a", "b"), ((0, 1),), ("left_arm", "left_hand"))
    rev = Topology("r", ("a", "b"), ((1, 0),), ("left_arm", "left_hand"))
    d1, d2 = build_layout(fwd, 4).descriptors[2:], build_layout(rev, 4).descriptors[2:]
    assert torch.allclose(d1, d2.flip(0))


def test_quaternion_to_matrix_orthonormal_and_zero_is_identity():
    gen = torch.Generator().manual_seed(0)
    R = random_rotations(50, gen)
    assert torch.allclose(R @ R.transpose(-1, -2), torch.eye(3, dtype=D).expand(50, 3, 3), atol=1e-12)
    assert torch.allclose(torch.linalg.det(R), torch.ones(50, dtype=D))
    assert torch.equal(quaternion_to_matrix(torch.zeros(4, dtype=D)), torch.eye(3, dtype=D))


def test_so3_projection_values_and_det():
    gen = torch.Generator().manual_seed(1)
    A = torch.randn(200, 3, 3, generator=gen, dtype=D)          # about half have det < 0
    R = project_so3(A)
    assert torch.allclose(torch.linalg.det(R), torch.ones(200, dtype=D), atol=1e-10)
    assert torch.allclose(R @ R.transpose(-1, -2), torch.eye(3, dtype=D).expand(200, 3, 3), atol=1e-10)
    # A proper rotation projects to itself; a blend of two rotations to a rotation between them.
    Q = random_rotations(10, gen)
    assert torch.allclose(project_so3(Q), Q, atol=1e-10)
    # Reference: the nearest rotation maximises trace(R^T A) among rotations.
    for a, r in zip(A[:20], R[:20]):
        others = random_rotations(500, gen)
        assert (r * a).sum() >= (others * a).sum(dim=(1, 2)).max() - 1e-9


@pytest.mark.parametrize("case", ["identity", "same_rotation", "blend", "random"])
def test_so3_projection_gradcheck_including_repeated_singular_values(case):
    gen = torch.Generator().manual_seed(2)
    R1, R2 = random_rotations(2, gen)
    if case == "identity":
        A = torch.eye(3, dtype=D).expand(2, 3, 3).clone()
    elif case == "same_rotation":
        A = torch.stack([R1, 0.3 * R1 + 0.7 * R1])
    elif case == "blend":
        A = torch.stack([0.5 * R1 + 0.5 * R2, 0.9 * R1 + 0.1 * R2])
    else:
        A = torch.randn(2, 3, 3, generator=gen, dtype=D)
    A.requires_grad_(True)
    assert gradcheck(project_so3, (A,), eps=1e-6, atol=1e-6)
    # torch.linalg.svd's own backward is not finite at the identity; ours is.
    g, = torch.autograd.grad(project_so3(A).square().sum() + project_so3(A)[..., 0, 1].sum(), A)
    assert torch.isfinite(g).all()


def test_bone_gaussians_stay_on_bone_translation_only():
    topo = get_topology("ntu25")
    lay = build_layout(topo, 10)
    gen = torch.Generator().manual_seed(3)
    joints = torch.randn(2, 5, 1, 25, 3, generator=gen, dtype=D)
    canon = canonical_joints(joints, torch.ones(2, 5, 1, dtype=torch.bool))
    means, R = skin(joints, canon, lay, None)
    assert R is None
    a, b, t = lay.joint_a, lay.joint_b, lay.t.to(D)[:, None]
    expect = (1 - t) * joints[..., a, :] + t * joints[..., b, :]
    assert torch.allclose(means, expect, atol=1e-12)


def test_bone_gaussians_on_bone_when_both_ends_share_rotation_and_identity_reproduces_canonical():
    topo = get_topology("kinect_v1_20")
    lay = build_layout(topo, 10)
    gen = torch.Generator().manual_seed(4)
    canon = torch.randn(1, 1, 20, 3, generator=gen, dtype=D)
    # Identity pose: p = pbar, R = I -> canonical layout mubar.
    eye = torch.eye(3, dtype=D).expand(1, 1, 1, 20, 3, 3)
    means, R = skin(canon.unsqueeze(1), canon, lay, eye)
    t = lay.t.to(D)[:, None]
    mubar = (1 - t) * canon[..., lay.joint_a, :] + t * canon[..., lay.joint_b, :]
    assert torch.allclose(means[:, 0], mubar, atol=1e-12)
    assert torch.allclose(R, torch.eye(3, dtype=D).expand_as(R), atol=1e-12)
    # A rigid motion of the whole body (same rotation everywhere) keeps Gaussians on bones.
    Q = random_rotations(1, gen)[0]
    moved = canon @ Q.T + torch.tensor([0.3, -0.2, 1.0], dtype=D)
    means, R = skin(moved.unsqueeze(1), canon, lay, Q.expand(1, 1, 1, 20, 3, 3))
    expect = (1 - t) * moved[..., lay.joint_a, :] + t * moved[..., lay.joint_b, :]
    assert torch.allclose(means[:, 0], expect, atol=1e-10)
    assert torch.allclose(torch.linalg.det(R), torch.ones(R.shape[:-2], dtype=D), atol=1e-10)


def test_lbs_gradcheck_with_rotations():
    from skeletonllm.skeleton.topology import Topology
    topo = Topology("chain", ("a", "b", "c"), ((0, 1), (1, 2)), ("torso", "left_arm", "left_hand"))
    lay = build_layout(topo, 2)
    gen = torch.Generator().manual_seed(5)
    joints = torch.randn(1, 2, 1, 3, 3, generator=gen, dtype=D, requires_grad=True)
    canon = torch.randn(1, 1, 3, 3, generator=gen, dtype=D, requires_grad=True)
    rots = random_rotations(6, gen).reshape(1, 2, 1, 3, 3, 3)
    rots[0, 0, 0, 1] = rots[0, 0, 0, 0]                      # equal rotations: repeated singular values
    rots.requires_grad_(True)
    scales = torch.rand(1, 1, 1, lay.num_gaussians, 3, generator=gen, dtype=D) + 0.1

    def f(j, c, r):
        means, R = skin(j, c, lay, r)
        return means, covariances(scales, R)
    assert gradcheck(f, (joints, canon, rots), eps=1e-6, atol=1e-6)


def test_canonical_scales():
    topo = get_topology("ntu25")
    lay = build_layout(topo, 10)
    gen = torch.Generator().manual_seed(6)
    canon = torch.randn(25, 3, generator=gen, dtype=D)
    s = canonical_scales(canon, lay, alpha=0.1, beta=0.05)
    bones = torch.tensor(topo.bones)
    lengths = (canon[bones[:, 1]] - canon[bones[:, 0]]).norm(dim=-1)
    assert torch.allclose(s[25:], 0.05 * lengths.repeat_interleave(10))
    for j in range(25):
        mine = lengths[[e for e, (a, b) in enumerate(topo.bones) if j in (a, b)]]
        assert torch.isclose(s[j], 0.1 * torch.tensor(np.median(mine.numpy()), dtype=D))
    # Zero-length bones: finite values and gradients.
    c = torch.zeros(25, 3, dtype=D, requires_grad=True)
    s = canonical_scales(c, lay, 0.1, 0.05, min_scale=1e-3)
    s.sum().backward()
    assert torch.isfinite(s).all() and torch.isfinite(c.grad).all() and (s >= 1e-3).all()


def test_camera_orientation_and_intrinsics():
    cam = Camera.from_fov(448, 448, 60.0)
    assert math.isclose(cam.fx, 448 / (2 * math.tan(math.radians(30))))
    uv = cam.project_points(torch.tensor([[0.0, 0.0, 3.0], [0.5, 0.0, 3.0], [0.0, 0.5, 3.0]]))
    assert torch.allclose(uv[0], torch.tensor([224.0, 224.0]))
    assert uv[1, 0] > 224 and uv[1, 1] == 224          # +x -> viewer's right
    assert uv[2, 1] < 224 and uv[2, 0] == 224          # +y -> up (smaller row)


def test_depth_normalisation():
    joints = torch.zeros(2, 3, 1, 4, 3)
    joints[0, ..., 2] = torch.tensor([0.1, 0.2, -0.3, 0.0])
    joints[1, ..., 2] = 3.5                               # already in front: untouched
    present = torch.ones(2, 3, 1, dtype=torch.bool)
    out = normalise_depth(joints, present, threshold=1.0, shift=3.0)
    assert torch.isclose(out[0, ..., 2].median(), torch.tensor(3.0), atol=0.06)
    # One constant for the whole sequence: relative depths are kept.
    assert torch.allclose(out[0, ..., 2] - joints[0, ..., 2], (out[0, ..., 2] - joints[0, ..., 2]).flatten()[0].expand(3, 1, 4))
    assert torch.equal(out[1], joints[1])
    # 2D input (z = 0) ends up at the constant depth; absent bodies are ignored.
    flat = torch.zeros(1, 2, 2, 4, 3)
    pres = torch.tensor([[[True, False], [True, False]]])
    flat[0, :, 1] = 50.0
    assert torch.allclose(normalise_depth(flat, pres, 1.0, 3.0)[0, :, 0, :, 2], torch.full((2, 4), 3.0))
    # Auto-framing centres the sequence's bounding box.
    cam = Camera.from_fov(64, 64)
    j = torch.rand(1, 3, 1, 5, 3) + torch.tensor([2.0, 1.0, 0.0])
    framed = normalise_depth(j, torch.ones(1, 3, 1, dtype=torch.bool), 1.0, 3.0, cam, auto_frame=True)
    pts = framed.reshape(-1, 3)
    assert torch.allclose((pts.amax(0) + pts.amin(0))[:2] / 2, torch.zeros(2), atol=1e-5)
    uv = cam.project_points(pts)
    assert (uv >= 0).all() and (uv <= 64).all()


def test_ewa_closed_form_and_behind_camera():
    cam = Camera.from_fov(100, 80, 60.0)
    mean = torch.tensor([[0.0, 0.0, 2.0], [0.0, 0.0, -1.0]], dtype=D)
    cov = torch.diag_embed(torch.tensor([[0.01, 0.04, 0.09], [0.01, 0.01, 0.01]], dtype=D))
    sp = project_gaussians(mean, cov, cam)
    assert torch.allclose(sp.means2d[0], torch.tensor([50.0, 40.0], dtype=D))
    a = cam.fx ** 2 * 0.01 / 4 + LOW_PASS
    c = cam.fy ** 2 * 0.04 / 4 + LOW_PASS
    assert torch.allclose(sp.cov2d[0], torch.tensor([a, 0.0, c], dtype=D))
    assert torch.allclose(sp.conics[0], torch.tensor([1 / a, 0.0, 1 / c], dtype=D))
    assert sp.valid.tolist() == [True, False]
    assert torch.isfinite(sp.conics).all() and torch.isfinite(sp.means2d).all()


def test_ewa_gradcheck():
    cam = Camera.from_fov(40, 30, 60.0)
    gen = torch.Generator().manual_seed(7)
    mean = (torch.randn(4, 3, generator=gen, dtype=D) * 0.3 + torch.tensor([0, 0, 2.0], dtype=D)).requires_grad_(True)
    L = torch.randn(4, 3, 3, generator=gen, dtype=D) * 0.1
    cov = (L @ L.transpose(-1, -2) + 0.01 * torch.eye(3, dtype=D)).requires_grad_(True)

    def f(m, c):
        sp = project_gaussians(m, c, cam)
        return sp.means2d, sp.conics
    assert gradcheck(f, (mean, cov), eps=1e-6, atol=1e-5)


def test_ewa_matches_gsplat_reference_when_installed():
    pytest.importorskip("gsplat")
    impl = pytest.importorskip("gsplat.cuda._torch_impl")
    cam = Camera.from_fov(64, 48, 60.0)
    gen = torch.Generator().manual_seed(8)
    mean = torch.randn(6, 3, generator=gen) * 0.3 + torch.tensor([0, 0, 2.0])
    mean[0] = torch.tensor([3.0, -2.5, 2.0])                # far outside the view: clamped Jacobian
    L = torch.randn(6, 3, 3, generator=gen) * 0.1
    cov = L @ L.transpose(-1, -2) + 0.01 * torch.eye(3)
    K = torch.tensor([[cam.fx, 0, cam.cx], [0, cam.fy, cam.cy], [0, 0, 1.0]])
    # gsplat's image rows grow with +y; ours with -y: flip y for the comparison.
    flip = torch.diag(torch.tensor([1.0, -1.0, 1.0]))
    means2d_ref, cov2d_ref = impl._persp_proj((mean @ flip)[None], (flip @ cov @ flip)[None], K[None], 64, 48)
    sp = project_gaussians(mean, cov, cam, low_pass=0.0)
    assert torch.allclose(sp.means2d, means2d_ref[0], atol=1e-3)
    # Our Jacobian is gsplat's times the flip, so the 2D covariances agree as they are.
    ref = cov2d_ref[0]
    assert torch.allclose(sp.cov2d, torch.stack([ref[:, 0, 0], ref[:, 0, 1], ref[:, 1, 1]], -1), rtol=1e-4, atol=1e-3)
