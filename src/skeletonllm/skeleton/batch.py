"""Batches of skeleton sequences as tensors: what renderers take as input."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from .sampling import segment_indices
from .sequence import SkeletonSequence
from .topology import Topology


@dataclass
class SkeletonBatch:
    """B sequences of one topology, sampled to F frames and padded to M bodies.

    Attributes:
        joints: ``(B, F, M, J, 3)`` float32 canonical coordinates.
        present: ``(B, F, M)`` bool; padded bodies and missing frames are False.
        orientations: ``(B, F, M, J, 4)`` quaternions (w, x, y, z), or None when no
            sequence of the batch has them (renderers then use identity rotations).
        topology: the shared topology.
        frame_indices: ``(B, F)`` int64 source frame of each sampled frame.
    """

    joints: torch.Tensor
    present: torch.Tensor
    topology: Topology
    orientations: torch.Tensor | None = None
    frame_indices: torch.Tensor | None = None

    @property
    def batch_size(self) -> int:
        return self.joints.shape[0]

    @property
    def num_frames(self) -> int:
        return self.joints.shape[1]

    @property
    def num_bodies(self) -> int:
        return self.joints.shape[2]

    @property
    def dims(self) -> int:
        return self.topology.dims

    def to(self, device=None, dtype: torch.dtype | None = None) -> "SkeletonBatch":
        """Move to a device; ``dtype`` applies to the floating tensors only."""
        def move(x):
            if x is None:
                return None
            if x.is_floating_point() and dtype is not None:
                return x.to(device=device, dtype=dtype)
            return x.to(device=device)
        return SkeletonBatch(move(self.joints), move(self.present), self.topology,
                             move(self.orientations), move(self.frame_indices))


def collate_sequences(sequences: Sequence[SkeletonSequence], num_frames: int = 12, train: bool = False,
                      rng: np.random.Generator | None = None, max_bodies: int | None = None) -> SkeletonBatch:
    """Sample each sequence to ``num_frames`` frames and stack them into a batch.

    Bodies beyond ``max_bodies`` are dropped (the ones present in the fewest frames
    first, so the main actors are kept). All sequences must share a topology.
    """
    if not sequences:
        raise ValueError("collate_sequences needs at least one sequence")
    topo = sequences[0].topology
    for s in sequences[1:]:
        if s.topology != topo:
            raise ValueError(f"one batch holds one topology: got '{topo.name}' and '{s.topology.name}' "
                             f"({s.source}); render different formats in separate batches")
    bodies = max(s.num_bodies for s in sequences)
    if max_bodies is not None:
        bodies = min(bodies, max_bodies)
    B, F, J = len(sequences), num_frames, topo.num_joints
    joints = np.zeros((B, F, bodies, J, 3), np.float32)
    present = np.zeros((B, F, bodies), bool)
    any_orient = any(s.orientations is not None for s in sequences)
    orient = np.zeros((B, F, bodies, J, 4), np.float32) if any_orient else None
    if orient is not None:
        orient[..., 0] = 1.0  # identity where a sequence has no orientations
    frames = np.zeros((B, F), np.int64)
    for b, s in enumerate(sequences):
        idx = segment_indices(s.num_frames, F, train=train, rng=rng)
        keep = np.argsort(-s.present.sum(axis=0), kind="stable")[:bodies]
        keep.sort()
        n = len(keep)
        joints[b, :, :n] = s.joints[idx][:, keep]
        present[b, :, :n] = s.present[idx][:, keep]
        if orient is not None and s.orientations is not None:
            orient[b, :, :n] = s.orientations[idx][:, keep]
        frames[b] = idx
    return SkeletonBatch(
        joints=torch.from_numpy(joints), present=torch.from_numpy(present), topology=topo,
        orientations=None if orient is None else torch.from_numpy(orient),
        frame_indices=torch.from_numpy(frames))
