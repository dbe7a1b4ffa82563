"""EWA splatting: project 3D Gaussians to 2D image-plane Gaussians (Zwicker et al. 2002).

The 3D covariance is mapped through the Jacobian of the perspective projection at the mean,
``Sigma2D = J Sigma J^T + eps I``. The ``eps`` = 0.3 px^2 low-pass term keeps every splat at
least about a pixel wide (anti-aliasing), as in 3D Gaussian Splatting. As there, the
Jacobian is evaluated with x/z and y/z clamped to 1.3 times the half field of view, which
keeps splats of points far outside the image from exploding.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .camera import Camera

LOW_PASS = 0.3


@dataclass
class Splats:
    """Projected Gaussians; all tensors share the leading shape ``(...,)``.

    Attributes:
        means2d: ``(..., 2)`` pixel coordinates (u, v).
        cov2d: ``(..., 3)`` 2D covariance entries (xx, xy, yy) in px^2, low-pass included.
        conics: ``(..., 3)`` inverse covariance entries (A, B, C):
            q(d) = A dx^2 + 2 B dx dy + C dy^2.
        depths: ``(...,)`` camera z of the means.
        valid: ``(...,)`` bool, in front of the near plane.
    """

    means2d: torch.Tensor
    cov2d: torch.Tensor
    conics: torch.Tensor
    depths: torch.Tensor
    valid: torch.Tensor


def _perspective(means: torch.Tensor, camera: Camera):
    """Screen position and the EWA Jacobian at each mean.

    Returns ``(u, v, z, valid, ja, jb, jc, jd)`` with J = [[ja, 0, jb], [0, jc, jd]] (rows: u, v),
    each ``(...,)``.
    """
    x, y, z = means.unbind(-1)
    valid = z > camera.near
    # Gaussians behind the near plane are dropped by the rasteriser; computing them at the
    # near plane keeps every intermediate finite (and their gradient exactly zero).
    z = torch.where(valid, z, torch.full_like(z, camera.near))
    tx, ty = camera.tan_half_fov
    xz = (x / z).clamp(-1.3 * tx, 1.3 * tx)
    yz = (y / z).clamp(-1.3 * ty, 1.3 * ty)
    fx, fy = camera.fx, camera.fy
    u = fx * x / z + camera.cx
    v = -fy * y / z + camera.cy
    return u, v, z, valid, fx / z, -fx * xz / z, -fy / z, fy * yz / z


def _splats(u, v, z, valid, cxx, cxy, cyy, low_pass: float) -> Splats:
    a = cxx + low_pass
    c = cyy + low_pass
    det = (a * c - cxy * cxy).clamp(min=1e-12)
    conics = torch.stack([c / det, -cxy / det, a / det], dim=-1)
    return Splats(torch.stack([u, v], -1), torch.stack([a, cxy, c], -1), conics, z, valid)


def project_gaussians(means: torch.Tensor, covs: torch.Tensor, camera: Camera,
                      low_pass: float = LOW_PASS) -> Splats:
    """EWA projection (the reference: full 3x3 covariances, ``J Sigma J^T`` by matmuls).

    Args:
        means: ``(..., 3)`` camera-space means.
        covs: ``(..., 3, 3)`` camera-space covariances.
        camera: the pinhole camera.
    Returns:
        :class:`Splats` with leading shape ``(...,)``.
    """
    u, v, z, valid, ja, jb, jc, jd = _perspective(means, camera)
    zero = torch.zeros_like(z)
    J = torch.stack([torch.stack([ja, zero, jb], -1), torch.stack([zero, jc, jd], -1)], dim=-2)  # (..., 2, 3)
    cov = J @ covs @ J.transpose(-1, -2)
    return _splats(u, v, z, valid, cov[..., 0, 0], 0.5 * (cov[..., 0, 1] + cov[..., 1, 0]), cov[..., 1, 1], low_pass)


def project_rotated_gaussians(means: torch.Tensor, rotations: torch.Tensor | None, scales: torch.Tensor,
                              camera: Camera, widen: tuple[torch.Tensor, torch.Tensor] | None = None,
                              low_pass: float = LOW_PASS) -> Splats:
    """EWA projection of Gaussians given as rotation and scales, Sigma = R diag(s^2) R^T,
    optionally widened along a unit direction d to a minimum variance m:
    Sigma + relu(m - d^T Sigma d) d d^T. Same result as :func:`project_gaussians` on those
    covariances, without forming them: with P = J R (2 x 3),
    J Sigma J^T = P diag(s^2) P^T (+ e (J d)(J d)^T), a handful of elementwise passes where
    the 3x3 route needs batched matmuls of tiny matrices (slow on CPU).

    Args:
        means: ``(..., 3)``; rotations: ``(..., 3, 3)`` or None (identity); scales: ``(..., 3)``
        standard deviations along the rotated axes (broadcastable to ``means``);
        widen: None or (d ``(..., 3)`` unit directions, m ``(...,)`` minimum variances).
    Returns:
        :class:`Splats` with leading shape ``(...,)``.
    """
    u, v, z, valid, ja, jb, jc, jd = _perspective(means, camera)
    s2 = scales.square()
    ja, jb, jc, jd = (x.unsqueeze(-1) for x in (ja, jb, jc, jd))
    if rotations is None:
        zero = torch.zeros_like(ja)
        p0 = torch.cat([ja, zero, jb], -1)                                         # rows of J R
        p1 = torch.cat([zero, jc, jd], -1)
    else:
        r0, r1, r2 = rotations.unbind(-2)
        p0 = ja * r0 + jb * r2
        p1 = jc * r1 + jd * r2
    s2p0 = s2 * p0
    s2p1 = s2 * p1
    cxx = (s2p0 * p0).sum(-1)
    cxy = (s2p0 * p1).sum(-1)
    cyy = (s2p1 * p1).sum(-1)
    if widen is not None:
        d, target = widen
        rtd = d if rotations is None else (rotations * d.unsqueeze(-1)).sum(-2)   # R^T d
        extra = torch.relu(target - (s2 * rtd.square()).sum(-1))
        jd0 = ja.squeeze(-1) * d[..., 0] + jb.squeeze(-1) * d[..., 2]
        jd1 = jc.squeeze(-1) * d[..., 1] + jd.squeeze(-1) * d[..., 2]
        cxx = cxx + extra * jd0 * jd0
        cxy = cxy + extra * jd0 * jd1
        cyy = cyy + extra * jd1 * jd1
    return _splats(u, v, z, valid, cxx, cxy, cyy, low_pass)
