"""Linear blend skinning with projection of blended rotations onto SO(3) (SPEC §3).

Per joint j at frame t: rotation R_j and translation T_j = p_j - R_j pbar_j. Per Gaussian i:
Rtilde_i = sum_j w_ij R_j, t_i = sum_j w_ij T_j, R_i = proj_SO3(Rtilde_i), mu_i = R_i mubar_i + t_i,
with positions taken relative to the Gaussian's first joint (see :func:`skin`).

R_j is the rotation that takes the joint from its canonical frame to frame t, i.e.
``rot(q_j^t) rot(q_j^canonical)^T`` for absolute orientation quaternions such as Kinect's; at
the canonical frame it is exactly the identity, so the identity pose reproduces the canonical
layout. Without orientations R_j = I ("translation-only" LBS).

The SO(3) projection is R = U diag(1, 1, det(U V^T)) V^T for Rtilde = U S V^T: the rotation
nearest to Rtilde. Two implementations compute it:

* :func:`project_so3_svd`, the readable reference: ``torch.linalg.svd`` and the formula above,
  with a backward written in the SVD factors (:class:`_ProjectSO3SVD`).
* :func:`project_so3`, the fast path. Where det(Rtilde) > 0 (in LBS a blend of two rotations
  with weights 1 - t, t has det |1 - t + t e^(i theta)|^2 >= (1 - 2t)^2, positive unless
  t = 1/2 and the rotations differ by a half turn), the nearest rotation is the orthogonal
  polar factor of Rtilde, which the scaled Newton iteration X <- (g X + X^-T / g) / 2 reaches
  in a few elementwise steps (X^-T = cofactors / det, the cofactors being cross products of
  rows). A general batched 3x3 SVD costs far more. Other matrices (det <= 0, or not
  converged) go to the SVD reference.

Both backwards stay finite where singular values repeat (the identity, the most common
input), where autograd through ``torch.linalg.svd`` is infinite. The fast path's is closed
form: with S = R^T Rtilde (symmetric at the nearest rotation), dR = R [w]x with
(tr(S) I - S) w = vee(R^T dA - dA^T R), which gives dL/dA = R [h]x, h = (tr(S) I - S)^-1 g,
g = vee(R^T G - G^T R) for an upstream gradient G. The eigenvalues of tr(S) I - S are the
sums s_i + s_j of (signed) singular values: 2 at the identity, 0 only where the nearest
rotation is not unique (a genuine singularity, clamped).
"""
from __future__ import annotations

import torch

from . import mat3
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


def _nearest_rotation_grad(A: torch.Tensor, R: torch.Tensor, G: torch.Tensor) -> torch.Tensor:
    """dL/dA for R = nearest rotation to A ``(..., 3, 3)``, given G = dL/dR (module docstring).

    Uses two identities for rows r_i of R: vee(R^T G - G^T R) = -sum_i r_i x g_i, and
    (R [h]x)_i = r_i x h.
    """
    A9, R9 = mat3.to9(A), mat3.to9(R)
    n = A9.shape[1]
    g = -mat3.row_cross(R9, mat3.to9(G)).view(3, 3, n).sum(0)                     # (3, n)
    S = mat3.matmul(R9, A9, transpose_a=True)
    K = (S + mat3.transpose(S)).mul_(-0.5)
    K[0::4] -= K[0::4].sum(0)                                                      # tr(S) I - S
    cof = mat3.cofactors(K)                                                        # symmetric
    det = mat3.det(K, cof)
    # det K = (s1 + s2)(s1 + s3)(s2 + s3): clamp where a pair sum vanishes (R not unique).
    eps = (1e-6 if A.dtype == torch.float64 else 1e-4) * A9.square().sum(0)
    det = torch.where(det.abs() < eps, torch.where(det < 0, -eps, eps), det)
    h = (cof.view(3, 3, n) * (g / det).unsqueeze(0)).sum(1)                       # K^-1 g
    return mat3.from9(mat3.row_cross(R9, h.repeat(3, 1)), A.shape)


def _nearest_rotation_newton(A: torch.Tensor, max_iter: int = 30):
    """Polar factor of ``(9, n)`` matrices by the scaled Newton iteration
    X <- (g X + X^-T / g) / 2 (Higham), X^-T = cofactors / det.

    Every step maps each singular value s to (g s + 1 / (g s)) / 2 >= 1, so after the first
    det(X) >= 1 with equality only at a rotation, and det(X) - 1 bounds the distance to
    convergence: the loop stops one unscaled step after det(X) - 1 < sqrt(eps). The Frobenius
    scaling g = sqrt(||X^-1|| / ||X||) is dropped once det(X) < 1.1.

    Returns ``(R, ok)``: ``ok`` (n,) marks the matrices with det > 0 where it converged; the
    others hold garbage (finite) and need :func:`_nearest_rotation_svd`.
    """
    eps = torch.finfo(A.dtype).eps
    norm2 = A.square().sum(0)
    cof = mat3.cofactors(A)
    det = mat3.det(A, cof)
    # Well-conditioned enough for the iteration: det / ||A||^3 > sqrt(eps) (an LBS blend
    # (1 - t) R_a + t R_b has det >= (1 - 2t)^2: 1/121 for K = 10 samples per bone).
    ok = (det > eps ** 0.5 * norm2 ** 1.5) & torch.isfinite(det)
    if not bool(ok.all()):
        eye = torch.eye(3, dtype=A.dtype, device=A.device).reshape(9, 1)
        A = torch.where(ok, A, eye)
        cof = torch.where(ok, cof, eye)
        det = torch.where(ok, det, torch.ones_like(det))
        norm2 = torch.where(ok, norm2, torch.full_like(norm2, 3.0))
    X = A
    scaled = True
    for it in range(max_iter):
        if it > 0:
            cof = mat3.cofactors(X)
            det = mat3.det(X, cof)
            excess = float(det.max()) - 1.0
            if excess < eps ** 0.5:
                return torch.addcmul(0.5 * X, cof, 0.5 / det), ok
            scaled = excess > 0.1
            norm2 = X.square().sum(0)
        if scaled:
            # g^4 = ||X^-1||^2 / ||X||^2 = ||cof||^2 / (det^2 ||X||^2)
            g = (cof.square().sum(0) / (det.square() * norm2)).pow(0.25)
            X = torch.addcmul((0.5 * g) * X, cof, 0.5 / (g * det))
        else:
            X = torch.addcmul(0.5 * X, cof, 0.5 / det)
    return X, torch.zeros_like(ok)


class _ProjectSO3(torch.autograd.Function):
    """Nearest rotation, fast path: Newton polar iteration, the SVD where it does not apply."""

    @staticmethod
    def forward(ctx, A):
        flat = A.reshape(-1, 3, 3)
        if flat.shape[0] == 0:
            R = A.clone()
        else:
            R, ok = _nearest_rotation_newton(mat3.to9(flat))
            R = mat3.from9(R, flat.shape)
            if not bool(ok.all()):
                bad = (~ok).nonzero().squeeze(1)
                R = R.index_copy(0, bad, _nearest_rotation_svd(flat.index_select(0, bad)))
            R = R.reshape(A.shape)
        ctx.save_for_backward(A, R)
        return R

    @staticmethod
    def backward(ctx, G):
        A, R = ctx.saved_tensors
        return _nearest_rotation_grad(A, R, G)


class _ProjectSO3SVD(torch.autograd.Function):
    """Nearest rotation R = U D V^T, D = diag(1, 1, det(U V^T)), from torch.linalg.svd (the
    reference), with its own backward in terms of the SVD factors.

    Write A = U' Sig V^T with U' = U D and signed singular values Sig = diag(s1, s2, d s3),
    so that R = U' V^T. For a perturbation dA, with M = U'^T dA V, dR = U' Y V^T where Y is
    skew with Y_ij = (M_ij - M_ji) / (sig_i + sig_j). Hence, for an upstream gradient G,
    H = U'^T G V and dL/dA = U' K V^T with K_ij = (H_ij - H_ji) / (sig_i + sig_j), K_ii = 0.
    """

    @staticmethod
    def forward(ctx, A):
        U, sig, Vh = _signed_svd(A)
        ctx.save_for_backward(U, sig, Vh)
        return U @ Vh

    @staticmethod
    def backward(ctx, G):
        U, sig, Vh = ctx.saved_tensors
        H = U.transpose(-1, -2) @ G @ Vh.transpose(-1, -2)
        denom = sig[..., :, None] + sig[..., None, :]
        eps = 1e-6 if sig.dtype == torch.float64 else 1e-4
        denom = torch.where(denom.abs() < eps, torch.full_like(denom, eps), denom)
        K = (H - H.transpose(-1, -2)) / denom
        return U @ K @ Vh


def _signed_svd(A: torch.Tensor):
    """A = U' diag(sig) V^T with det(U' V^T) = +1 (the last singular value takes the sign)."""
    U, S, Vh = torch.linalg.svd(A)
    d = _det3(U @ Vh).sign()
    d = torch.where(d == 0, torch.ones_like(d), d)
    U = torch.cat([U[..., :2], U[..., 2:] * d[..., None, None]], dim=-1)
    sig = torch.cat([S[..., :2], S[..., 2:] * d[..., None]], dim=-1)
    return U, sig, Vh


def _nearest_rotation_svd(A: torch.Tensor) -> torch.Tensor:
    U, _, Vh = _signed_svd(A)
    return U @ Vh


def project_so3(A: torch.Tensor) -> torch.Tensor:
    """``(..., 3, 3)`` -> nearest proper rotation ``(..., 3, 3)`` (det = +1). Fast path."""
    return _ProjectSO3.apply(A)


def project_so3_svd(A: torch.Tensor) -> torch.Tensor:
    """Same as :func:`project_so3` by ``torch.linalg.svd`` (the reference)."""
    return _ProjectSO3SVD.apply(A)


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
         rotations: torch.Tensor | None = None, so3=None) -> tuple[torch.Tensor, torch.Tensor | None]:
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
        so3: the projection onto SO(3) (default :func:`project_so3`; :func:`project_so3_svd`
            for the reference).
    Returns:
        means ``(B, F, M, N, 3)`` and rotations ``(B, F, M, N, 3, 3)`` (None when the input
        rotations are None: every Gaussian then keeps its canonical orientation).
    """
    t = layout.t.to(joints.dtype)[:, None]
    # Translation part: sum_j w_j p_j = (1 - t) p_a + t p_b (pbar cancels without rotations).
    on_bone = torch.lerp(*layout.ends(joints), t)
    if rotations is None:
        return on_bone, None
    R_a, R_b = layout.ends(rotations, dim=-3)
    Rt = torch.lerp(R_a, R_b, t[..., None])
    # Joint Gaussians (and bones whose ends share a rotation) already hold a rotation; the
    # projection leaves them unchanged and its backward is finite there (see _ProjectSO3).
    R_i = (so3 or project_so3)(Rt)
    c_a, c_b = layout.ends(canonical)
    bone_bar = (c_b - c_a).unsqueeze(1).unsqueeze(-2)                              # (B, 1, M, N, 1, 3)
    bend = ((R_i - R_b) * bone_bar).sum(-1)                                        # (R_i - R_b) bone_bar
    return torch.addcmul(on_bone, t, bend), R_i


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
