"""Bridges from the skeleton encoder's features ``(B, L_s, d)`` to LLM tokens ``(B, L, D)``.

* ``tqp`` — **Temporal Query Projection**, SUGAR's bridge. ``k`` learnable queries; the
  encoder's sequence is cut into ``S`` consecutive segments; one Q-Former (self-attention
  over the queries, cross-attention from the queries to the segment, a feed-forward layer;
  weights shared by every segment) reads the segments one after the other, and the query
  *output* of segment ``t`` is the query *input* of segment ``t + 1``: the queries carry what
  they saw forward in time. The ``S`` outputs of ``k`` queries are the ``L = S * k`` tokens
  (128 in the paper), projected into the LLM's embedding space.
* ``qformer`` — one Q-Former with ``L`` independent queries over the whole sequence (ablation).
* ``linear`` — the sequence average-pooled to ``L`` steps and one linear layer (ablation).
* ``cross_attention`` — ``L`` queries and one cross-attention layer, no self-attention or
  feed-forward (ablation).

The encoder's features are batch-normalised per channel, and a fixed sinusoidal position
code is added, so that attention knows where in time each feature sits.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn

KINDS = ("tqp", "qformer", "linear", "cross_attention")


@dataclass
class BridgeConfig:
    """Attributes:
        kind: one of :data:`KINDS`.
        num_segments: ``S`` (TQP only).
        num_queries: ``k`` queries per segment (TQP); the other bridges produce ``S * k`` tokens too.
        layers: Q-Former layers (TQP and ``qformer``).
        heads: attention heads; ``hidden`` must be a multiple.
        hidden: the bridge's width (``None``: the encoder's width).
        ffn_mult: feed-forward width / ``hidden``.
        dropout: attention and feed-forward dropout.
        input_norm: batch-normalise the encoder's features first (see :class:`Bridge`).
    """

    kind: str = "tqp"
    num_segments: int = 8
    num_queries: int = 16
    layers: int = 2
    heads: int = 8
    hidden: int | None = None
    ffn_mult: int = 4
    dropout: float = 0.1
    input_norm: bool = True

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"bridge kind must be one of {', '.join(KINDS)}, got '{self.kind}'")
        if min(self.num_segments, self.num_queries, self.layers, self.heads) < 1:
            raise ValueError("bridge: num_segments, num_queries, layers and heads must be at least 1")

    @property
    def num_tokens(self) -> int:
        """L, the number of tokens handed to the LLM."""
        return self.num_segments * self.num_queries

    def to_dict(self) -> dict:
        return asdict(self)


def sinusoid(length: int, dim: int, device=None) -> torch.Tensor:
    """``(length, dim)`` sinusoidal position code."""
    pos = torch.arange(length, dtype=torch.float32, device=device)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32, device=device) * (-math.log(10000.0) / dim))
    code = torch.zeros(length, dim, device=device)
    code[:, 0::2] = torch.sin(pos * freq)
    code[:, 1::2] = torch.cos(pos * freq)[:, : dim // 2]
    return code


def segment_bounds(length: int, segments: int) -> list[tuple[int, int]]:
    """``segments`` consecutive, non-empty ``[start, end)`` ranges covering ``range(length)``
    (when ``length < segments`` neighbouring segments share a step)."""
    edges = torch.linspace(0, length, segments + 1)
    out = []
    for a, b in zip(edges[:-1].tolist(), edges[1:].tolist()):
        lo = min(int(math.floor(a)), length - 1)
        out.append((lo, max(int(math.ceil(b)), lo + 1)))
    return out


class QFormerLayer(nn.Module):
    """Queries ``(B, k, h)`` attend to themselves, then to ``memory`` ``(B, n, h)``, then a feed-forward layer."""

    def __init__(self, hidden: int, heads: int, ffn_mult: int, dropout: float, self_attention: bool = True,
                 feed_forward: bool = True):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(hidden, heads, dropout=dropout, batch_first=True) if self_attention else None
        self.norm_self = nn.LayerNorm(hidden) if self_attention else None
        self.cross_attn = nn.MultiheadAttention(hidden, heads, dropout=dropout, batch_first=True)
        self.norm_query = nn.LayerNorm(hidden)
        self.norm_memory = nn.LayerNorm(hidden)
        self.ffn = nn.Sequential(nn.LayerNorm(hidden), nn.Linear(hidden, ffn_mult * hidden), nn.GELU(),
                                 nn.Dropout(dropout), nn.Linear(ffn_mult * hidden, hidden)) if feed_forward else None

    def forward(self, queries: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        q = queries
        if self.self_attn is not None:
            h = self.norm_self(q)
            q = q + self.self_attn(h, h, h, need_weights=False)[0]
        m = self.norm_memory(memory)
        q = q + self.cross_attn(self.norm_query(q), m, m, need_weights=False)[0]
        if self.ffn is not None:
            q = q + self.ffn(q)
        return q


class QFormer(nn.Module):
    def __init__(self, cfg: BridgeConfig, hidden: int, self_attention: bool = True, feed_forward: bool = True,
                 layers: int | None = None):
        super().__init__()
        self.layers = nn.ModuleList(QFormerLayer(hidden, cfg.heads, cfg.ffn_mult, cfg.dropout, self_attention,
                                                 feed_forward) for _ in range(layers or cfg.layers))

    def forward(self, queries: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            queries = layer(queries, memory)
        return queries


class Bridge(nn.Module):
    """Base: input projection + position code, the bridge proper (:meth:`tokens`), output projection."""

    def __init__(self, cfg: BridgeConfig, in_dim: int, out_dim: int):
        super().__init__()
        self.config = cfg
        hidden = cfg.hidden or in_dim
        if hidden % cfg.heads:
            raise ValueError(f"bridge width {hidden} is not a multiple of its {cfg.heads} heads")
        self.hidden = hidden
        # Standardises every feature channel over the batch and time: the encoder's features share
        # a large component across clips (post-ReLU means), which would otherwise drown what tells
        # the clips apart (measured on the demo: between-clip spread 0.06 of a feature std of 0.37).
        self.norm = nn.BatchNorm1d(in_dim) if cfg.input_norm else nn.Identity()
        self.input = nn.Linear(in_dim, hidden) if hidden != in_dim else nn.Identity()
        self.output = nn.Sequential(nn.LayerNorm(hidden), nn.Linear(hidden, out_dim))

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        """``(B, L_s, d)`` -> ``(B, L, out_dim)``."""
        x = self.input(self.norm(feats.transpose(1, 2)).transpose(1, 2))
        x = x + sinusoid(x.shape[1], x.shape[2], x.device).to(x.dtype)
        return self.output(self.tokens(x))

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class TemporalQueryProjection(Bridge):
    """TQP: ``k`` queries chained through ``S`` segments by one weight-shared Q-Former."""

    def __init__(self, cfg: BridgeConfig, in_dim: int, out_dim: int):
        super().__init__(cfg, in_dim, out_dim)
        self.queries = nn.Parameter(torch.randn(cfg.num_queries, self.hidden) * 0.02)
        self.qformer = QFormer(cfg, self.hidden)

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        q = self.queries.unsqueeze(0).expand(x.shape[0], -1, -1)
        outputs = []
        for lo, hi in segment_bounds(x.shape[1], self.config.num_segments):
            q = self.qformer(q, x[:, lo:hi])       # this segment's output is the next segment's query input
            outputs.append(q)
        return torch.cat(outputs, dim=1)


class SingleQFormer(Bridge):
    """One Q-Former, ``L`` independent queries over the whole sequence (ablation)."""

    def __init__(self, cfg: BridgeConfig, in_dim: int, out_dim: int):
        super().__init__(cfg, in_dim, out_dim)
        self.queries = nn.Parameter(torch.randn(cfg.num_tokens, self.hidden) * 0.02)
        self.qformer = QFormer(cfg, self.hidden)

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        return self.qformer(self.queries.unsqueeze(0).expand(x.shape[0], -1, -1), x)


class CrossAttentionBridge(Bridge):
    """``L`` queries, one cross-attention layer (ablation)."""

    def __init__(self, cfg: BridgeConfig, in_dim: int, out_dim: int):
        super().__init__(cfg, in_dim, out_dim)
        self.queries = nn.Parameter(torch.randn(cfg.num_tokens, self.hidden) * 0.02)
        self.attend = QFormer(cfg, self.hidden, self_attention=False, feed_forward=False, layers=1)

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        return self.attend(self.queries.unsqueeze(0).expand(x.shape[0], -1, -1), x)


class LinearBridge(Bridge):
    """The sequence average-pooled to ``L`` steps; the output projection is the one linear layer
    (ablation; keep ``hidden`` unset so no input projection is added)."""

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.adaptive_avg_pool1d(x.transpose(1, 2), self.config.num_tokens).transpose(1, 2)


BRIDGES = {"tqp": TemporalQueryProjection, "qformer": SingleQFormer, "linear": LinearBridge,
           "cross_attention": CrossAttentionBridge}


def build_bridge(cfg: BridgeConfig, in_dim: int, out_dim: int) -> Bridge:
    return BRIDGES[cfg.kind](cfg, in_dim, out_dim)


__all__ = ["BRIDGES", "BridgeConfig", "CrossAttentionBridge", "KINDS", "LinearBridge", "SingleQFormer",
           "TemporalQueryProjection", "build_bridge", "segment_bounds", "sinusoid"]
