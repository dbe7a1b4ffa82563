"""DrAction's fixed pinhole camera and the sequence-level depth normalisation (SPEC §3).

The camera sits at the origin looking along +z with world-to-camera = identity:
``u = fx x / z + cx``, ``v = -fy y / z + cy`` (image rows grow downwards, so +y is up on
screen and +x is the viewer's right). ``fx = W / (2 tan(fov_x / 2))``, likewise fy, and the
principal point is the image centre. Pixel (row i, column j) covers ``[j, j+1) x [i, i+1)``;
its centre is at ``(j + 0.5, i + 0.5)``.

Depth normalisation moves a sequence whose median joint depth is below ``threshold`` along z
by one constant so that its median lands at ``shift``: the same offset for all frames, so
motion towards the camera is kept. 2D formats (z = 0 everywhere) therefore end up at the
constant depth ``shift``. Optional auto-framing (off by default) also centres the sequence's
bounding box and picks the depth that makes it fill a fraction of the view.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Camera:
    """Pinhole intrinsics for a ``height x width`` image."""

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    near: float = 0.05

    @classmethod
    def from_fov(cls, width: int, height: int, fov_x_deg: float = 60.0, fov_y_deg: float | None = None,
                 near: float = 0.05) -> "Camera":
        fov_y_deg = fov_x_deg if fov_y_deg is None else fov_y_deg
        fx = width / (2.0 * math.tan(math.radians(fov_x_deg) / 2.0))
        fy = height / (2.0 * math.tan(math.radians(fov_y_deg) / 2.0))
        return cls(width, height, fx, fy, width / 2.0, height / 2.0, near)

    @property
    def tan_half_fov(self) -> tuple[float, float]:
        return self.cx / self.fx, self.cy / self.fy

    def project_points(self, xyz: torch.Tensor) -> torch.Tensor:
        """``(..., 3)`` camera-space points -> ``(..., 2)`` pixel coordinates (u, v)."""
        z = xyz[..., 2].clamp(min=self.near)
        u = self.fx * xyz[..., 0] / z + self.cx
        v = -self.fy * xyz[..., 1] / z + self.cy
        return torch.stack([u, v], dim=-1)


def _masked_median(z: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per row of ``(B, n)`` values, the median of the entries where ``mask`` holds (0 if none)."""
    big = torch.finfo(z.dtype).max
    srt = torch.where(mask, z, big).sort(dim=1).values
    n = mask.sum(1)
    lo = ((n - 1).clamp(min=0) // 2).unsqueeze(1)
    hi = (n // 2).clamp(max=z.shape[1] - 1).unsqueeze(1)
    med = 0.5 * (srt.gather(1, lo) + srt.gather(1, hi)).squeeze(1)
    return torch.where(n > 0, med, torch.zeros_like(med))


def depth_offset(joints: torch.Tensor, present: torch.Tensor, threshold: float, shift: float) -> torch.Tensor:
    """Constant z offset per sequence (a detached ``(B,)`` tensor).

    Args:
        joints: ``(B, F, M, J, 3)``.
        present: ``(B, F, M)`` bool.
    """
    B = joints.shape[0]
    J = joints.shape[3]
    with torch.no_grad():
        z = joints[..., 2].reshape(B, -1)
        mask = present.unsqueeze(-1).expand(*present.shape, J).reshape(B, -1)
        med = _masked_median(z, mask)
        return torch.where(med < threshold, shift - med, torch.zeros_like(med))


def frame_offset(joints: torch.Tensor, present: torch.Tensor, camera: Camera, fill: float = 0.8) -> torch.Tensor:
    """Auto-framing: a detached ``(B, 3)`` offset that centres each sequence's bounding box
    on the optical axis and puts its nearest point at the depth where the box fills
    ``fill`` of the view (over all frames, so the camera does not follow the motion)."""
    B, J = joints.shape[0], joints.shape[3]
    with torch.no_grad():
        pts = joints.reshape(B, -1, 3)
        mask = present.unsqueeze(-1).expand(*present.shape, J).reshape(B, -1, 1)
        big = torch.finfo(pts.dtype).max
        lo = torch.where(mask, pts, big).amin(1)
        hi = torch.where(mask, pts, -big).amax(1)
        any_ = mask.any(1)                                                       # (B, 1)
        lo = torch.where(any_, lo, torch.zeros_like(lo))
        hi = torch.where(any_, hi, torch.zeros_like(hi))
        centre = 0.5 * (lo + hi)
        half = 0.5 * (hi - lo)
        tx, ty = camera.tan_half_fov
        depth = torch.maximum(half[:, 0] / (fill * tx), half[:, 1] / (fill * ty)).clamp(min=0.5)
        off = -centre
        off[:, 2] = depth - lo[:, 2]
        return off


def normalise_depth(joints: torch.Tensor, present: torch.Tensor, threshold: float, shift: float,
                    camera: Camera | None = None, auto_frame: bool = False, fill: float = 0.8) -> torch.Tensor:
    """Joints moved in front of the camera: ``(B, F, M, J, 3) -> (B, F, M, J, 3)``.

    The offsets are constants (no gradient flows into them), so the gradient w.r.t. the
    joints is the identity.
    """
    if auto_frame:
        if camera is None:
            raise ValueError("auto_frame needs the camera")
        off = frame_offset(joints, present, camera, fill)
    else:
        off = torch.zeros(joints.shape[0], 3, dtype=joints.dtype, device=joints.device)
        off[:, 2] = depth_offset(joints, present, threshold, shift)
    return joints + off.view(-1, 1, 1, 1, 3)
