"""Canonical Gaussians of a topology: placement, LBS weights, descriptors and scales (SPEC §3).

A topology with J joints and E bones gets N = J + E*K Gaussians: Gaussian i < J sits on
joint i, and bone e = (a, b) gets K Gaussians at (1 - t_k) p_a + t_k p_b, t_k = k / (K + 1).

Everything here is parameter-free and depends only on the topology (the :class:`GaussianLayout`)
or on the data (canonical positions and scales). The learnable parts of DrAction read the
*descriptors*, which are the same for any topology, so no learnable tensor is ever indexed by
Gaussian number (cross-format transfer, SPEC §3).

LBS weights are stored sparsely: every Gaussian depends on at most two joints, ``joint_a``
with weight ``1 - t`` and ``joint_b`` with weight ``t`` (t = 0 and a = b for joint Gaussians).
With identity rotations a bone Gaussian's posed mean is then exactly (1 - t) p_a + t p_b: it
stays on the moving bone segment.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch

from ..skeleton.topology import BODY_PARTS, Topology

#: Side of the body of each part in :data:`BODY_PARTS` (0 left, 1 centre, 2 right).
_SIDES = {"left": 0, "right": 2}


def _side(part: str) -> int:
    return _SIDES.get(part.split("_")[0], 1)


#: Descriptor layout: blended part one-hot, blended side one-hot (left/centre/right),
#: joint-or-bone flag, centre-ness 4 t (1 - t) along the bone.
DESCRIPTOR_DIM = len(BODY_PARTS) + 3 + 1 + 1


@dataclass(frozen=True)
class GaussianLayout:
    """The Gaussians of one topology (CPU tensors; move with :meth:`to`).

    Attributes:
        topology: the skeleton format.
        bones_samples: K, Gaussians per bone.
        joint_a: ``(N,)`` long, first skinning joint (the joint itself, or the bone's parent).
        joint_b: ``(N,)`` long, second skinning joint (the joint itself, or the bone's child).
        t: ``(N,)`` float, weight of ``joint_b`` = position along the bone (0 for joints).
        bone: ``(N,)`` long, bone index, -1 for joint Gaussians.
        descriptors: ``(N, DESCRIPTOR_DIM)`` topology-independent features of each Gaussian.
    """

    topology: Topology
    bones_samples: int
    joint_a: torch.Tensor
    joint_b: torch.Tensor
    t: torch.Tensor
    bone: torch.Tensor
    descriptors: torch.Tensor

    @property
    def num_gaussians(self) -> int:
        return self.joint_a.shape[0]

    @property
    def is_bone(self) -> torch.Tensor:
        return self.bone >= 0

    def ends(self, x: torch.Tensor, dim: int = -2) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-joint values ``x`` (J along ``dim``) at each Gaussian's ``joint_a`` and
        ``joint_b``: two tensors with N along ``dim`` (one ``index_select``)."""
        both = x.index_select(dim, torch.cat([self.joint_a, self.joint_b]))
        return both.split(self.num_gaussians, dim)

    def to(self, device) -> "GaussianLayout":
        return GaussianLayout(self.topology, self.bones_samples, self.joint_a.to(device),
                              self.joint_b.to(device), self.t.to(device), self.bone.to(device),
                              self.descriptors.to(device))


@lru_cache(maxsize=64)
def build_layout(topology: Topology, bones_samples: int = 10) -> GaussianLayout:
    """Gaussian placement and descriptors for ``topology`` with K = ``bones_samples``."""
    if bones_samples < 0:
        raise ValueError(f"bones_samples must be >= 0, got {bones_samples}")
    J, E, K = topology.num_joints, topology.num_bones, bones_samples
    part_idx = torch.tensor([BODY_PARTS.index(p) for p in topology.parts])
    side_idx = torch.tensor([_side(p) for p in topology.parts])
    bones = torch.tensor(topology.bones, dtype=torch.long).reshape(E, 2)

    tk = torch.arange(1, K + 1, dtype=torch.float32) / (K + 1)                  # (K,)
    joint_a = torch.cat([torch.arange(J), bones[:, 0].repeat_interleave(K)])
    joint_b = torch.cat([torch.arange(J), bones[:, 1].repeat_interleave(K)])
    t = torch.cat([torch.zeros(J), tk.repeat(E)])
    bone = torch.cat([torch.full((J,), -1), torch.arange(E).repeat_interleave(K)])

    # Blend the two ends' part/side one-hots by the LBS weights: a bone Gaussian near the
    # elbow looks like "arm", one near the wrist like "hand". 4t(1-t) rather than t makes the
    # descriptor independent of which end a format calls the parent.
    onehot_part = torch.nn.functional.one_hot(part_idx, len(BODY_PARTS)).float()
    onehot_side = torch.nn.functional.one_hot(side_idx, 3).float()
    w = t[:, None]
    parts = (1 - w) * onehot_part[joint_a] + w * onehot_part[joint_b]
    sides = (1 - w) * onehot_side[joint_a] + w * onehot_side[joint_b]
    flag = (bone >= 0).float()[:, None]
    centre = (4 * t * (1 - t))[:, None]
    descriptors = torch.cat([parts, sides, flag, centre], dim=1)
    return GaussianLayout(topology, K, joint_a, joint_b, t, bone, descriptors)


def canonical_frame_index(present: torch.Tensor) -> torch.Tensor:
    """First frame where each body is present.

    Args:
        present: ``(B, F, M)`` bool.
    Returns:
        ``(B, M)`` long; 0 for a body that is never present (its Gaussians are never drawn).
    """
    F = present.shape[1]
    frames = torch.arange(F, device=present.device).view(1, F, 1)
    return torch.where(present, frames, F).amin(dim=1).clamp(max=F - 1)


def canonical_joints(joints: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
    """Canonical joint positions pbar: each body's joints at its first valid frame.

    Args:
        joints: ``(B, F, M, J, 3)``.
        present: ``(B, F, M)`` bool.
    Returns:
        ``(B, M, J, 3)``.
    """
    B, F, M, J, C = joints.shape
    f0 = canonical_frame_index(present)                                           # (B, M)
    idx = f0.view(B, 1, M, 1, 1).expand(B, 1, M, J, C)
    return joints.gather(1, idx).squeeze(1)


def _safe_norm(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    # sqrt(|x|^2 + eps^2) - eps: exactly 0 for zero-length bones, with a finite gradient there.
    eps = 1e-12
    return (x.square().sum(dim) + eps * eps).sqrt() - eps


def bone_lengths(joints: torch.Tensor, topology: Topology) -> torch.Tensor:
    """``(..., J, 3) -> (..., E)`` Euclidean length of each bone."""
    bones = torch.tensor(topology.bones, dtype=torch.long, device=joints.device).reshape(-1, 2)
    return _safe_norm(joints[..., bones[:, 1], :] - joints[..., bones[:, 0], :])


@lru_cache(maxsize=64)
def _incidence(topology: Topology) -> tuple[torch.Tensor, torch.Tensor]:
    """Per joint, the indices of its bones padded to the max degree, and the valid mask."""
    J, E = topology.num_joints, topology.num_bones
    lists = [[] for _ in range(J)]
    for e, (a, b) in enumerate(topology.bones):
        lists[a].append(e)
        lists[b].append(e)
    deg = max([len(x) for x in lists] + [1])
    idx = torch.zeros(J, deg, dtype=torch.long)
    mask = torch.zeros(J, deg, dtype=torch.bool)
    for j, es in enumerate(lists):
        idx[j, :len(es)] = torch.tensor(es, dtype=torch.long) if es else 0
        mask[j, :len(es)] = True
    return idx, mask


def _masked_median(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Median over the last axis of the entries where ``mask`` holds (mean of the two middle
    ones for an even count); rows with no entry give NaN (callers replace them)."""
    big = torch.finfo(values.dtype).max
    srt = torch.where(mask, values, big).sort(dim=-1).values
    n = mask.sum(-1, keepdim=True)
    lo = ((n - 1).clamp(min=0) // 2)
    hi = (n // 2).clamp(max=values.shape[-1] - 1)
    med = 0.5 * (srt.gather(-1, lo) + srt.gather(-1, hi))
    return torch.where(n > 0, med, torch.nan).squeeze(-1)


def canonical_scales(canonical: torch.Tensor, layout: GaussianLayout, alpha: float, beta: float,
                     min_scale: float = 0.0) -> torch.Tensor:
    """Isotropic canonical scale (standard deviation) of every Gaussian.

    Joint Gaussian: ``alpha * median length of the bones at the joint``; bone Gaussian:
    ``beta * length of its bone`` (SPEC §3). A joint without bones uses the median of all
    bones. ``min_scale`` is a floor (in the data's units) so degenerate bones stay drawable.

    Args:
        canonical: ``(..., J, 3)`` canonical joint positions.
    Returns:
        ``(..., N)`` scales.
    """
    topo = layout.topology
    J = topo.num_joints
    if topo.num_bones == 0:
        # A cloud of points: fall back to a scale from the spread of the joints.
        spread = _safe_norm(canonical - canonical.mean(-2, keepdim=True)).mean(-1, keepdim=True)
        return (alpha * spread).expand(*canonical.shape[:-2], J).clamp(min=min_scale)
    lengths = bone_lengths(canonical, topo)                                       # (..., E)
    idx, mask = _incidence(topo)
    idx, mask = idx.to(canonical.device), mask.to(canonical.device)
    per_joint = lengths[..., idx]                                                 # (..., J, deg)
    med = _masked_median(per_joint, mask.expand_as(per_joint))
    overall = _masked_median(lengths, torch.ones_like(lengths, dtype=torch.bool))
    med = torch.where(torch.isnan(med), overall[..., None], med)
    joint_scale = alpha * med
    bone_scale = beta * lengths[..., layout.bone[J:]]
    return torch.cat([joint_scale, bone_scale], dim=-1).clamp(min=min_scale)
