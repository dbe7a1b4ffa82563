"""Small normalisations of :class:`SkeletonSequence` (all return a new sequence).

* :func:`center_on_root`: move a root joint of the first valid frame to the origin
  (all frames shifted by the same vector, so motion is kept).
* :func:`body_height`: a standing-height estimate, the vertical extent (y) of one body's
  joints in its first valid frame.
* :func:`scale_to_height`: scale about the origin so that estimate becomes a target.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from .sequence import SkeletonSequence


def _root_index(seq: SkeletonSequence, joint: int | str | None) -> int:
    if joint is None:
        return 0  # every built-in topology (and BVH hierarchies) lists the root first
    return seq.topology.index(joint) if isinstance(joint, str) else int(joint)


def center_on_root(seq: SkeletonSequence, joint: int | str | None = None, axes: str = "xyz") -> SkeletonSequence:
    """Shift so the root joint of the first frame with a body sits at 0 on ``axes`` (e.g. ``"xz"``)."""
    t = seq.first_valid_frame()
    m = int(np.flatnonzero(seq.present[t])[0])
    offset = np.zeros(3, np.float32)
    for a in axes:
        k = "xyz".index(a)
        offset[k] = seq.joints[t, m, _root_index(seq, joint), k]
    joints = np.where(seq.present[..., None, None], seq.joints - offset, 0.0)
    return replace(seq, joints=joints, metadata=dict(seq.metadata))


def body_height(seq: SkeletonSequence, body: int | None = None) -> float:
    """Vertical extent (y, canonical units) of a body's joints in its first valid frame."""
    t = seq.first_valid_frame(body)
    m = int(np.flatnonzero(seq.present[t])[0]) if body is None else body
    y = seq.joints[t, m, :, 1]
    return float(y.max() - y.min())


def scale_to_height(seq: SkeletonSequence, target: float = 1.7, body: int | None = None) -> SkeletonSequence:
    """Scale all coordinates about the origin so :func:`body_height` equals ``target``."""
    h = body_height(seq, body)
    if h <= 0:
        raise ValueError(f"{seq.source}: cannot scale a body of zero height")
    meta = dict(seq.metadata)
    meta["scale"] = meta.get("scale", 1.0) * target / h
    return replace(seq, joints=seq.joints * (target / h), metadata=meta)
