"""Segment-based frame sampling (TSN-style, SPEC §1).

The sequence is cut into F equal segments and one frame is taken from each: a random one
for training (temporal jitter as augmentation), the middle one for evaluation (so results
are reproducible).
"""
from __future__ import annotations

import numpy as np


def segment_indices(num_frames: int, num_segments: int, train: bool = False,
                    rng: np.random.Generator | None = None) -> np.ndarray:
    """Indices ``(F,)`` of the frames to keep.

    Args:
        num_frames: T, the sequence length (>= 1).
        num_segments: F, how many frames to return.
        train: random position inside each segment when True, the middle when False.
        rng: generator for the training jitter (a fresh default one if omitted).

    Sequences shorter than F repeat frames (each segment still gets one index), so the
    output always has F entries in non-decreasing order.
    """
    if num_frames < 1 or num_segments < 1:
        raise ValueError(f"need num_frames >= 1 and num_segments >= 1, got {num_frames}, {num_segments}")
    edges = np.linspace(0.0, float(num_frames), num_segments + 1)
    starts, ends = edges[:-1], edges[1:]
    if train:
        rng = rng if rng is not None else np.random.default_rng()
        pos = starts + rng.random(num_segments) * (ends - starts)
    else:
        pos = (starts + ends) / 2.0
    return np.clip(np.floor(pos).astype(np.int64), 0, num_frames - 1)
