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


def project_gaussians(means: torch.Tensor, covs: torch.Tensor, camera: Camera,
                      low_pass: float = LOW_PASS) -> Splats:
    """EWA projection.

    Args:
        means: ``(..., 3)`` camera-space means.
        covs: ``(..., 3, 3)`` camera-space covariances.
        camera: the pinhole camera.
    Returns:
        :class:`Splats` with leading shape ``(...,)``.
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
    # J = [[fx/z, 0, -fx xz/z], [0, -fy/z, fy yz/z]] (rows: u, v).
    zero = torch.zeros_like(z)
    J = torch.stack([
        torch.stack([fx / z, zero, -fx * xz / z], -1),
        torch.stack([zero, -fy / z, fy * yz / z], -1),
    ], dim=-2)                                                                    # (..., 2, 3)
    cov = J @ covs @ J.transpose(-1, -2)
    a = cov[..., 0, 0] + low_pass
    b = 0.5 * (cov[..., 0, 1] + cov[..., 1, 0])
    c = cov[..., 1, 1] + low_pass
    det = (a * c - b * b).clamp(min=1e-12)
    conics = torch.stack([c / det, -b / det, a / det], dim=-1)
    return Splats(torch.stack([u, v], -1), torch.stack([a, b, c], -1), conics, z, valid)
