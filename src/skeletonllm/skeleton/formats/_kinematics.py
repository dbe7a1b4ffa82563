"""Forward kinematics shared by the motion-capture readers (BVH, ASF/AMC, SMPL-family).

All three describe a pose as a tree of joints, each with a rest offset from its parent and
a rotation per frame; only how the rotations are written differs (BVH: Euler channels;
ASF/AMC: Euler angles inside a per-bone axis frame; SMPL: axis-angle vectors). They meet
here: :func:`chain` turns local rotations and offsets into world positions,
:func:`face_camera` turns a y-up, right-handed world into the canonical camera frame, and
:func:`choose_units` guesses the length unit of a rig from its size.
"""
from __future__ import annotations

import numpy as np

#: Metres per file unit for the units a motion-capture file may use. ``cmu``: the CMU
#: mocap convention, lengths in inches times 0.45 (the ASF ``:units length 0.45`` line),
#: so 1 unit = 1/0.45 inch.
UNITS = {"m": 1.0, "cm": 0.01, "mm": 0.001, "inch": 0.0254, "cmu": 0.0254 / 0.45}


def axis_rotation(axis: str, angle: np.ndarray, degrees: bool = True) -> np.ndarray:
    """``(..., 3, 3)`` rotations about the principal axis ``"X"``, ``"Y"`` or ``"Z"``."""
    a = np.deg2rad(angle) if degrees else np.asarray(angle, dtype=np.float64)
    c, s = np.cos(a), np.sin(a)
    R = np.zeros(np.shape(a) + (3, 3))
    i = "XYZ".index(axis.upper())
    j, k = (i + 1) % 3, (i + 2) % 3
    R[..., i, i] = 1.0
    R[..., j, j], R[..., j, k], R[..., k, j], R[..., k, k] = c, -s, s, c
    return R


def axis_angle_to_matrix(aa: np.ndarray) -> np.ndarray:
    """Rodrigues' formula: ``(..., 3)`` axis-angle vectors (radians) -> ``(..., 3, 3)``."""
    aa = np.asarray(aa, dtype=np.float64)
    theta = np.linalg.norm(aa, axis=-1)[..., None, None]
    k = aa / np.maximum(theta[..., 0], 1e-12)
    K = np.zeros(aa.shape[:-1] + (3, 3))
    K[..., 0, 1], K[..., 0, 2] = -k[..., 2], k[..., 1]
    K[..., 1, 0], K[..., 1, 2] = k[..., 2], -k[..., 0]
    K[..., 2, 0], K[..., 2, 1] = -k[..., 1], k[..., 0]
    return np.eye(3) + np.sin(theta) * K + (1.0 - np.cos(theta)) * (K @ K)


def chain(parents, offsets: np.ndarray, local_rot: np.ndarray, root_pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World positions and rotations of a joint tree.

    ``pos[j] = pos[parent] + rot[parent] @ offsets[j]`` and ``rot[j] = rot[parent] @ local_rot[j]``;
    a root sits at ``root_pos`` (plus its own offset) with rotation ``local_rot[root]``.

    Args:
        parents: J parent indices, -1 for a root; every parent precedes its children.
        offsets: ``(J, 3)`` or ``(T, J, 3)`` offset of each joint from its parent.
        local_rot: ``(T, J, 3, 3)`` rotation of each joint relative to its parent.
        root_pos: ``(T, 3)`` translation of the roots.
    Returns:
        ``(T, J, 3)`` positions and ``(T, J, 3, 3)`` world rotations.
    """
    T, J = local_rot.shape[:2]
    offsets = np.broadcast_to(offsets, (T, J, 3))
    pos = np.zeros((T, J, 3))
    rot = np.zeros((T, J, 3, 3))
    for j, p in enumerate(parents):
        if p < 0:
            rot[:, j] = local_rot[:, j]
            pos[:, j] = root_pos + offsets[:, j]
        else:
            if p >= j:
                raise ValueError(f"joint {j}'s parent {p} does not precede it")
            rot[:, j] = rot[:, p] @ local_rot[:, j]
            pos[:, j] = pos[:, p] + np.einsum("tab,tb->ta", rot[:, p], offsets[:, j])
    return pos, rot


def face_camera(pos: np.ndarray, left, right) -> tuple[np.ndarray, float]:
    """A y-up, right-handed world ``(T, J, 3)`` -> the canonical camera frame.

    The figure is turned about y so that in its first frame it faces +z (forward = up x
    (right - left), from the mean of the ``right`` joints to the mean of the ``left`` ones),
    then z is reflected, so it faces the camera with its right side on the viewer's left.
    With no left/right joints the turn is skipped. Returns the new array and the turn (degrees).
    """
    pos = np.array(pos, dtype=np.float64, copy=True)
    turned = 0.0
    if len(left) and len(right):
        r = pos[0, list(right)].mean(axis=0) - pos[0, list(left)].mean(axis=0)
        f = np.cross([0.0, 1.0, 0.0], r)
        if np.hypot(f[0], f[2]) > 1e-9:
            turned = float(np.arctan2(f[0], f[2]))  # heading of f, from +z towards +x
            c, s = np.cos(-turned), np.sin(-turned)
            x, z = pos[..., 0].copy(), pos[..., 2].copy()
            pos[..., 0], pos[..., 2] = c * x + s * z, -s * x + c * z
    pos[..., 2] *= -1.0
    return pos, float(np.rad2deg(turned))


def resolve_units(units, rest_size) -> tuple[float, str]:
    """``(metres per file unit, unit name)`` for a ``units=`` option.

    ``units`` is a number (metres per unit, named ``"given"``), a name in :data:`UNITS`, or
    ``"auto"``: the unit that puts the figure's size in file units (``rest_size()``, called
    only then; in practice the largest extent of its rest pose) closest to 1.7 m. Returns
    ``(0.0, "auto")`` when that size is zero, for the caller to report.
    """
    if isinstance(units, (int, float)) and not isinstance(units, bool):
        if units <= 0:
            raise ValueError(f"units must be positive metres per unit, got {units}")
        return float(units), "given"
    if units != "auto":
        if units not in UNITS:
            raise ValueError(f"units must be 'auto', one of {sorted(UNITS)} or a number, got {units!r}")
        return UNITS[units], units
    size = float(rest_size())
    if not size > 0:
        return 0.0, "auto"
    best = min(UNITS, key=lambda u: abs(np.log(size * UNITS[u] / 1.7)))
    return UNITS[best], best


def side_joints(parts, limb: str = "leg") -> tuple[list[int], list[int]]:
    """Indices of left and right joints (``left_leg`` ... or any left/right part as a fallback)."""
    def side(s: str) -> list[int]:
        return [k for k, p in enumerate(parts) if p == f"{s}_{limb}"] or [k for k, p in enumerate(parts)
                                                                        if p.startswith(s)]
    return side("left"), side("right")
