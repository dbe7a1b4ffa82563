"""The skeleton encoder: CTR-GCN (Chen et al., ICCV 2021), written from the paper's description.

A stack of blocks, each a spatial graph convolution followed by a multi-scale temporal
convolution, with residual connections:

* **Channel-wise topology refinement graph convolution (CTR-GC).** For each of three
  subsets of the graph (every joint itself, the joints one step towards the root, the
  joints one step away from it) a shared topology ``A`` (trainable, initialised from the
  skeleton's bones) is refined per channel: two 1x1 convolutions reduce the input to a few
  channels, are averaged over time, and the pairwise differences of joints pass through
  ``tanh`` and a 1x1 convolution back to the output width, giving a correlation ``Q`` of
  shape ``(C_out, V, V)`` per clip. Each output channel aggregates its own transformed
  features over the refined topology ``A + alpha * Q`` (``alpha`` a learned scalar that
  starts at 0, so training starts from the plain graph convolution). The three subsets are
  summed, batch-normalised and added to a residual.
* **Multi-scale temporal convolution.** Four branches on ``C_out / 4`` channels each: two
  temporal convolutions (kernel 5, dilations 1 and 2), a temporal max-pool, and a plain
  1x1 branch; concatenated. A block's temporal stride sits here.

The graph is built from any :class:`~skeletonllm.skeleton.topology.Topology`'s bone list
(no hard-coded NTU graph): the root is the first joint, and "towards the root" follows the
bones' breadth-first order from it. SUGAR removes CTR-GCN's final global pooling over time:
:meth:`CTRGCN.forward` returns ``(B, L_s, d)``, one feature per remaining time step (the
joints averaged, the persons averaged over the bodies present in the clip; CTR-GCN folds
the persons into the batch and averages them after its pooling, which is the same up to the
mask), each step projected linearly into the width Step 2 aligns with text. A GCN is
tied to its graph: an encoder built for one topology reads that topology
only (:mod:`skeletonllm.sugar.retarget` maps other skeletons onto it).
"""
from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from ..skeleton.batch import SkeletonBatch
from ..skeleton.topology import Topology, get_topology


@dataclass
class EncoderConfig:
    """CTR-GCN's shape. Defaults are the paper's: 10 blocks of 64/128/256 channels, stride 2 at blocks 5 and 8.

    Attributes:
        topology: a built-in topology name or a topology dict (``Topology.to_dict``).
        channels: output channels of each block.
        strides: temporal stride of each block (same length as ``channels``).
        num_frames: frames sampled per clip (segment sampling), the encoder's input length.
        max_bodies: persons per clip (NTU interactions: 2); more are dropped, fewer padded.
        in_channels: coordinates per joint (x, y, z).
        kernel_size: temporal kernel of the multi-scale branches.
        dilations: dilations of the temporal convolution branches.
        reduction: channel reduction of the correlation branch (CTR-GCN: 8).
        center: subtract the first frame's root joint (translation invariance).
        dropout: dropout on the output features.
        embed_dim: width of the representation ``s``: each time step's CTR-GCN feature is
            projected linearly into the space Step 2 aligns with text (``None``: no projection,
            ``s`` is CTR-GCN's last block). The summary's ``s in R^{L_s x d}`` is both what
            MIL-NCE compares with text embeddings (averaged over time) and what TQP reads.
    """

    topology: str | dict[str, Any] = "ntu25"
    channels: list[int] = field(default_factory=lambda: [64, 64, 64, 64, 128, 128, 128, 256, 256, 256])
    strides: list[int] = field(default_factory=lambda: [1, 1, 1, 1, 2, 1, 1, 2, 1, 1])
    num_frames: int = 64
    max_bodies: int = 2
    in_channels: int = 3
    kernel_size: int = 5
    dilations: list[int] = field(default_factory=lambda: [1, 2])
    reduction: int = 8
    center: bool = True
    dropout: float = 0.0
    embed_dim: int | None = 512

    def __post_init__(self):
        if len(self.channels) != len(self.strides) or not self.channels:
            raise ValueError(f"encoder: {len(self.channels)} channel widths for {len(self.strides)} strides")
        if any(c % 4 for c in self.channels):
            raise ValueError(f"encoder: every block width must be a multiple of 4 (four temporal branches), "
                             f"got {self.channels}")

    def get_topology(self) -> Topology:
        if isinstance(self.topology, dict):
            return Topology.from_dict(self.topology, source="encoder.topology")
        return get_topology(self.topology)

    @property
    def out_dim(self) -> int:
        return self.embed_dim or self.channels[-1]

    @property
    def out_length(self) -> int:
        """L_s: time steps left after the strided blocks."""
        length = self.num_frames
        for s in self.strides:
            length = (length - 1) // s + 1
        return length

    def to_dict(self) -> dict:
        return asdict(self)


def topology_subsets(topology: Topology) -> np.ndarray:
    """``(3, V, V)`` row-normalised adjacency of the three CTR-GCN subsets.

    Subset 0 is the identity; subset 1 lets each joint gather from its neighbours nearer
    the root (hop distance from joint 0 over the bones), subset 2 from those farther
    away. Bones between joints at equal distance (cycles, e.g. COCO's face) count both ways.
    Rows are divided by their sums (a mean over the neighbours).
    """
    V = topology.num_joints
    nbrs = [[] for _ in range(V)]
    for a, b in topology.bones:
        nbrs[a].append(b)
        nbrs[b].append(a)
    hops = np.full(V, np.inf)
    for root in range(V):  # every connected component gets its own root (its first joint)
        if np.isfinite(hops[root]):
            continue
        hops[root] = 0
        queue = deque([root])
        while queue:
            u = queue.popleft()
            for w in nbrs[u]:
                if not np.isfinite(hops[w]):
                    hops[w] = hops[u] + 1
                    queue.append(w)
    A = np.zeros((3, V, V), np.float32)
    A[0] = np.eye(V, dtype=np.float32)
    for a, b in topology.bones:
        for u, w in ((a, b), (b, a)):
            if hops[w] <= hops[u]:
                A[1, u, w] = 1.0   # w is nearer the root (or level): centripetal
            if hops[w] >= hops[u]:
                A[2, u, w] = 1.0   # w is farther: centrifugal
    sums = A.sum(axis=2, keepdims=True)
    return np.divide(A, sums, out=np.zeros_like(A), where=sums > 0)


def _conv_init(conv: nn.Module) -> None:
    nn.init.kaiming_normal_(conv.weight, mode="fan_out")
    if conv.bias is not None:
        nn.init.zeros_(conv.bias)


class GraphConv(nn.Module):
    """The spatial part of a block: one CTR-GC per subset, summed, normalised, plus a residual.

    The subsets' 1x1 convolutions run fused (one convolution for all subsets, a grouped one
    for the expansion): the same arithmetic as separate modules, in fewer, larger operations.
    """

    def __init__(self, in_channels: int, out_channels: int, subsets: np.ndarray, reduction: int, residual: bool = True):
        super().__init__()
        K = subsets.shape[0]
        rel = max(8, in_channels // reduction)  # CTR-GCN keeps 8 relation channels for the 3-channel input
        self.K, self.rel, self.out_channels = K, rel, out_channels
        self.topology = nn.Parameter(torch.from_numpy(subsets.copy()))   # shared topologies A_k (learnable)
        self.alpha = nn.Parameter(torch.zeros(1))                         # refinement strength, starts at 0
        self.reduce = nn.Conv2d(in_channels, 2 * K * rel, 1)              # psi and phi of every subset
        self.transform = nn.Conv2d(in_channels, K * out_channels, 1)      # the features each subset aggregates
        self.expand = nn.Conv2d(K * rel, K * out_channels, 1, groups=K)   # xi: relations -> channel topologies
        for conv in (self.reduce, self.transform, self.expand):
            _conv_init(conv)
        self.bn = nn.BatchNorm2d(out_channels)
        nn.init.constant_(self.bn.weight, 1e-6)  # CTR-GCN: each block starts near its residual
        if not residual:
            self.residual = None
        elif in_channels == out_channels:
            self.residual = nn.Identity()
        else:
            self.residual = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1), nn.BatchNorm2d(out_channels))
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, T, V)`` -> ``(N, C_out, T, V)``."""
        N, _, T, V = x.shape
        K, R, C = self.K, self.rel, self.out_channels
        a, b = self.reduce(x).mean(dim=2).view(N, 2, K * R, V).unbind(dim=1)   # temporal pooling
        q = torch.tanh(a.unsqueeze(-1) - b.unsqueeze(-2))                       # (N, K*R, V, V): joint-pair differences
        refined = self.expand(q).view(N, K, C, V, V) * self.alpha + self.topology[None, :, None]
        feats = self.transform(x).view(N, K, C, T, V)
        y = self.bn(torch.einsum("nkcuv,nkctv->nctu", refined, feats))           # channel-wise aggregation, subsets summed
        if self.residual is not None:
            y = y + self.residual(x)
        return self.act(y)


class MultiScaleTemporalConv(nn.Module):
    """``(N, C, T, V)`` -> ``(N, C_out, T / stride, V)``: dilated temporal convolutions, max-pool and 1x1 branches."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int, dilations: list[int]):
        super().__init__()
        n_branches = len(dilations) + 2
        if out_channels % n_branches:
            raise ValueError(f"{out_channels} channels do not split into {n_branches} temporal branches")
        width = out_channels // n_branches
        branches = []
        for d in dilations:
            pad = (kernel_size + (kernel_size - 1) * (d - 1) - 1) // 2
            branches.append(nn.Sequential(
                nn.Conv2d(in_channels, width, 1), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
                nn.Conv2d(width, width, (kernel_size, 1), stride=(stride, 1), padding=(pad, 0), dilation=(d, 1)),
                nn.BatchNorm2d(width)))
        branches.append(nn.Sequential(
            nn.Conv2d(in_channels, width, 1), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
            nn.MaxPool2d((3, 1), stride=(stride, 1), padding=(1, 0)), nn.BatchNorm2d(width)))
        branches.append(nn.Sequential(nn.Conv2d(in_channels, width, 1, stride=(stride, 1)), nn.BatchNorm2d(width)))
        self.branches = nn.ModuleList(branches)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                _conv_init(m)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([b(x) for b in self.branches], dim=1)


class Block(nn.Module):
    """Graph convolution, then multi-scale temporal convolution, with a residual around both."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, subsets: np.ndarray, cfg: EncoderConfig,
                 residual: bool = True):
        super().__init__()
        self.gcn = GraphConv(in_channels, out_channels, subsets, cfg.reduction)
        self.tcn = MultiScaleTemporalConv(out_channels, out_channels, cfg.kernel_size, stride, cfg.dilations)
        if not residual:
            self.residual = None
        elif in_channels == out_channels and stride == 1:
            self.residual = nn.Identity()
        else:
            self.residual = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=(stride, 1)),
                                          nn.BatchNorm2d(out_channels))
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.tcn(self.gcn(x))
        if self.residual is not None:
            y = y + self.residual(x)
        return self.act(y)


class CTRGCN(nn.Module):
    """CTR-GCN without its final pooling: a :class:`SkeletonBatch` -> ``(B, L_s, d)`` features."""

    def __init__(self, config: EncoderConfig):
        super().__init__()
        self.config = config
        self.topology = config.get_topology()
        V, M, C = self.topology.num_joints, config.max_bodies, config.in_channels
        subsets = topology_subsets(self.topology)
        # Normalises every (person, joint, coordinate) channel over the batch and time, as CTR-GCN does.
        self.data_bn = nn.BatchNorm1d(M * V * C)
        blocks, width = [], C
        for k, (out, stride) in enumerate(zip(config.channels, config.strides)):
            blocks.append(Block(width, out, stride, subsets, config, residual=k > 0))
            width = out
        self.blocks = nn.ModuleList(blocks)
        self.dropout = nn.Dropout(config.dropout) if config.dropout > 0 else nn.Identity()
        self.project = nn.Linear(width, config.embed_dim) if config.embed_dim else nn.Identity()

    @property
    def out_dim(self) -> int:
        return self.config.out_dim

    def prepare(self, batch: SkeletonBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """``(N, C, T, V, M)`` input tensor and ``(N, M)`` mask of the bodies present in the clip."""
        if batch.topology != self.topology:
            raise ValueError(f"this encoder's graph is '{self.topology.name}' ({self.topology.num_joints} joints); "
                             f"got a batch of '{batch.topology.name}': retarget it first "
                             "(skeletonllm.sugar.retarget)")
        device = self.data_bn.weight.device
        joints = batch.joints.to(device=device, dtype=torch.float32)          # (N, T, M, V, 3)
        present = batch.present.to(device)                                    # (N, T, M)
        M = self.config.max_bodies
        N, T, m = joints.shape[:3]
        if m > M:
            joints, present = joints[:, :, :M], present[:, :, :M]
        elif m < M:
            joints = torch.cat([joints, joints.new_zeros(N, T, M - m, *joints.shape[3:])], dim=2)
            present = torch.cat([present, present.new_zeros(N, T, M - m)], dim=2)
        if self.config.center:
            # The root joint of each clip's first frame with a body moves to the origin.
            any_body = present.any(dim=2)                                      # (N, T)
            first = any_body.float().argmax(dim=1)                             # (N,)
            body = present[torch.arange(N), first].float().argmax(dim=1)       # (N,)
            origin = joints[torch.arange(N), first, body, 0]                   # (N, 3)
            joints = torch.where(present[..., None, None], joints - origin[:, None, None, None], 0.0)
        x = joints[..., : self.config.in_channels].permute(0, 4, 1, 3, 2)     # (N, C, T, V, M)
        return x.contiguous(), present.any(dim=1)

    def forward(self, batch: SkeletonBatch) -> torch.Tensor:
        """``(B, L_s, d)``: the joints averaged, the bodies present averaged, each step projected.

        Only the bodies present in a clip go through the blocks (an absent second person is
        not computed, and its zeros do not enter the batch-norm statistics).
        """
        x, bodies = self.prepare(batch)
        N, C, T, V, M = x.shape
        x = self.data_bn(x.permute(0, 4, 3, 1, 2).reshape(N, M * V * C, T))
        x = x.view(N, M, V, C, T).permute(0, 1, 3, 4, 2).reshape(N * M, C, T, V)
        rows = bodies.reshape(-1)
        if not bool(rows.all()):
            x = x[rows]
        for block in self.blocks:
            x = block(x)
        per_body = x.mean(dim=3)                                                # (R, d, L_s)
        feats = per_body.new_zeros(N * M, *per_body.shape[1:])
        feats[rows] = per_body
        w = bodies.float()
        w = w / w.sum(dim=1, keepdim=True).clamp_min(1.0)
        out = torch.einsum("nmdl,nm->nld", feats.view(N, M, *per_body.shape[1:]), w)
        return self.project(self.dropout(out))


__all__ = ["CTRGCN", "EncoderConfig", "topology_subsets"]
