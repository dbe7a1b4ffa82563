"""Linear blend skinning with projection of blended rotations onto SO(3) (SPEC §3).

Per joint j at frame t: rotation R_j and translation T_j = p_j - R_j pbar_j. Per Gaussian i:
Rtilde_i = sum_j w_ij R_j, t_i = sum_j w_ij T_j, R_i = proj_SO3(Rtilde_i), mu_i = R_i mubar_i + t_i,
with positions taken relative to the Gaussian's first joint (see :func:`skin`).

R_j is the rotation that takes the joint from its canonical frame to frame t, i.e.
``rot(q_j^t) rot(q_j^canonical)^T`` for absolute orientation quaternions such as Kinect's; at
the canonical frame it is exactly the identity, so the identity pose reproduces the canonical
layout. Without orientations R_j = I ("translation-only" LBS).

The SO(3) projection is R = U diag(1, 1, det(U V^T)) V^T for Rtilde = U S V^T. Autograd
through ``torch.linalg.svd`` differentiates U and V separately, with 1 / (s_i - s_j) terms that
are infinite for the identity (all singular values equal), the most common input. The
projection itself is smooth there, and its derivative only involves 1 / (s_i + s_j) (see
:class:`_ProjectSO3`), so we give it its own backward.
"""
from __future__ import annotations

import torch

from .gaussians import GaussianLayout


def quaternion_to_matrix(q: torch.Tensor) -> torch.Tensor:
    """``(..., 4)`` quaternions (w, x, y, z) -> ``(..., 3, 3)`` rotation matrices.

    Quaternions are normalised; a (near-)zero quaternion, which Kinect writes for end
    joints, becomes the identity.
    """
    norm = q.square().sum(-1, keepdim=True)
    ok = norm > 1e-12
    ident = torch.zeros_like(q)
    ident[..., 0] = 1.0
    q = torch.where(ok, q, ident) / torch.where(ok, norm, torch.ones_like(norm)).sqrt()
    w, x, y, z = q.unbind(-1)
    m = torch.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    ], dim=-1)
    return m.reshape(*q.shape[:-1], 3, 3)


def _det3(M: torch.Tensor) -> torch.Tensor:
    """Determinant of ``(..., 3, 3)`` matrices (a triple product; torch.linalg.det runs an LU)."""
    return (M[..., 0, :] * torch.linalg.cross(M[..., 1, :], M[..., 2, :], dim=-1)).sum(-1)


class _ProjectSO3(torch.autograd.Function):
    """Nearest rotation R = U D V^T, D = diag(1, 1, det(U V^T)), with a stable backward.

    Write A = U' Sig V^T with U' = U D and signed singular values Sig = diag(s1, s2, d s3),
    so that R = U' V^T. For a perturbation dA, with M = U'^T dA V, dR = U' Y V^T where Y is
    skew with Y_ij = (M_ij - M_ji) / (sig_i + sig_j). Hence, for an upstream gradient G,
    H = U'^T G V and dL/dA = U' K V^T with K_ij = (H_ij - H_ji) / (sig_i + sig_j), K_ii = 0.
    The denominators are 2 at the identity; they vanish only where the nearest rotation is
    not unique (a genuine singularity), where we clamp them.
    """

    @staticmethod
    def forward(ctx, A):
        U, S, Vh = torch.linalg.svd(A)
        d = _det3(U @ Vh).sign()
        d = torch.where(d == 0, torch.ones_like(d), d)
        U = torch.cat([U[..., :2], U[..., 2:] * d[..., None, None]], dim=-1)
        sig = torch.cat([S[..., :2], S[..., 2:] * d[..., None]], dim=-1)
        R = U @ Vh
        ctx.save_for_backward(U, sig, Vh)
        return R

    @staticmethod
    def backward(ctx, G):
        U, sig, Vh = ctx.saved_tensors
        H = U.transpose(-1, -2) @ G @ Vh.transpose(-1, -2)
        denom = sig[..., :, None] + sig[..., None, :]
        eps = 1e-6 if sig.dtype == torch.float64 else 1e-4
        denom = torch.where(denom.abs() < eps, torch.full_like(denom, eps), denom)
        K = (H - H.transpose(-1, -2)) / denom
        return U @ K @ Vh


def project_so3(A: torch.Tensor) -> torch.Tensor:
    """``(..., 3, 3)`` -> nearest proper rotation ``(..., 3, 3)`` (det = +1)."""
    return _ProjectSO3.apply(A)


def joint_rotations(orientations: torch.Tensor, canonical_orientations: torch.Tensor) -> torch.Tensor:
    """Rotation of each joint from its canonical frame to each frame.

    Args:
        orientations: ``(B, F, M, J, 4)`` quaternions (w, x, y, z).
        canonical_orientations: ``(B, M, J, 4)`` quaternions at each body's canonical frame.
    Returns:
        ``(B, F, M, J, 3, 3)`` = rot(q^t) rot(q^c)^T.
    """
    R = quaternion_to_matrix(orientations)
    Rc = quaternion_to_matrix(canonical_orientations).unsqueeze(1)
    return R @ Rc.transpose(-1, -2)


def skin(joints: torch.Tensor, canonical: torch.Tensor, layout: GaussianLayout,
         rotations: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Posed Gaussian means (and rotations) by two-joint LBS.

    LBS is not translation-invariant once rotations differ between joints, and here the
    world origin is the camera, metres away from the body: blending transforms about it
    would throw bone Gaussians metres off their bones. So every Gaussian is skinned in a
    frame whose origin is its first joint a (pbar_a canonically, p_a at frame t); with
    T_j = (p_j - p_a) - R_j (pbar_j - pbar_a) this gives

        mu_i = p_a + R_i (mubar_i - pbar_a) + sum_j w_ij T_j
             = (1 - t) p_a + t p_b + t (R_i - R_b) (pbar_b - pbar_a),

    exactly on the bone segment when R_a = R_b (in particular without orientations), and
    never further from it than the bone is long.

    Args:
        joints: ``(B, F, M, J, 3)`` current joint positions p_j.
        canonical: ``(B, M, J, 3)`` canonical joint positions pbar_j.
        layout: the topology's Gaussians (on the same device).
        rotations: ``(B, F, M, J, 3, 3)`` per-joint rotations, or None for identity.
    Returns:
        means ``(B, F, M, N, 3)`` and rotations ``(B, F, M, N, 3, 3)`` (None when the input
        rotations are None: every Gaussian then keeps its canonical orientation).
    """
    a, b = layout.joint_a, layout.joint_b
    t = layout.t.to(joints.dtype)
    wa, wb = (1 - t)[:, None], t[:, None]
    # Translation part: sum_j w_j p_j (pbar cancels exactly without rotations).
    on_bone = wa * joints[..., a, :] + wb * joints[..., b, :]
    if rotations is None:
        return on_bone, None
    Rt = wa[..., None] * rotations[..., a, :, :] + wb[..., None] * rotations[..., b, :, :]
    # Joint Gaussians (and bones whose ends share a rotation) already hold a rotation; the
    # projection leaves them unchanged and its backward is finite there (see _ProjectSO3).
    R_i = project_so3(Rt)
    bone_bar = (canonical[..., b, :] - canonical[..., a, :]).unsqueeze(1).unsqueeze(-1)   # (B, 1, M, N, 3, 1)
    bend = ((R_i - rotations[..., b, :, :]) @ bone_bar).squeeze(-1)
    return on_bone + wb * bend, R_i


def covariances(scales: torch.Tensor, rotations: torch.Tensor | None) -> torch.Tensor:
    """Posed covariance R diag(s^2) R^T (canonical rotation is the identity).

    Args:
        scales: ``(..., N, 3)`` standard deviations along the canonical axes.
        rotations: ``(..., N, 3, 3)`` or None.
    Returns:
        ``(..., N, 3, 3)``.
    """
    if rotations is None:
        return torch.diag_embed(scales.square())
    RS = rotations * scales.unsqueeze(-2)
    return RS @ RS.transpose(-1, -2)
