"""The head start's model: the tiny InternVL built from scratch (:func:`build_backbone`), and the
vision phase's heads on its visual tokens (:class:`AttributeHeads`, :class:`PoseHeads`), thrown
away after that phase.

Why the standard initialisation (0.02) of the text tower, and a projector whose output is centred
(measured while building the demo): with the tiny config's large initialisation the visual tokens
were 35x the size of text embeddings and nearly identical across clips, and the language model
never read them.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .pretrain_settings import POOLS, PretrainSettings
from .pretrain_targets import LIMBS, Attributes


def build_backbone(settings: PretrainSettings, corpus: Sequence[str], seed: int = 0):
    """A randomly initialised tiny InternVL and its tokenizer trained on ``corpus``.

    The same config as :func:`skeletonllm.mllm.tiny.tiny_config`, but with the usual
    initialisation (std 0.02) of the text tower: that builder's larger one suits training
    LoRA alone on a random model, but makes attention so peaked that a model trained from
    scratch learns to read its visual tokens far more slowly (measured).
    """
    from transformers import InternVLForConditionalGeneration

    from ..mllm.tiny import tiny_config, train_tiny_tokenizer

    tok = train_tiny_tokenizer("internvl", corpus, settings.vocab_size)
    config = tiny_config("internvl", tok, image_size=settings.image_size, hidden=settings.hidden,
                         layers=settings.layers, patch_size=settings.patch_size,
                         downsample_ratio=settings.downsample_ratio, vision_hidden=settings.vision_hidden,
                         vision_layers=settings.vision_layers)
    config.text_config.initializer_range = 0.02
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = InternVLForConditionalGeneration(config)
        # A wide projector initialisation makes the visual tokens differ strongly from clip
        # to clip, which the vision phase needs; its scale is reset after that phase.
        for lin in (model.model.multi_modal_projector.linear_1, model.model.multi_modal_projector.linear_2):
            nn.init.normal_(lin.weight, std=2.0 * settings.hidden ** -0.5)
            nn.init.zeros_(lin.bias)
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    return model, tok


class PoseHeads(nn.Module):
    """Per-frame heads on the visual tokens: each frame's pose (its tokens -> the 3D joints) and
    each step's motion (two consecutive frames' tokens -> the joints' displacement), read off
    the skeleton. ``(B, F * T, D)`` tokens, ``(B, F, J * 3)`` targets -> loss."""

    def __init__(self, dim: int, tokens_per_frame: int, num_frames: int, targets: int):
        super().__init__()
        self.num_frames, width = num_frames, dim * tokens_per_frame
        self.pose = nn.Linear(width, targets)
        self.motion = nn.Linear(2 * width, targets)

    def forward(self, tokens: torch.Tensor, poses: torch.Tensor) -> torch.Tensor:
        x = tokens - tokens.mean((0, 1), keepdim=True).detach()
        x = x / x.pow(2).mean(-1, keepdim=True).add(1e-6).sqrt()
        x = x.reshape(x.shape[0], self.num_frames, -1)                               # (B, F, T * D)
        loss = F.mse_loss(self.pose(x), poses)
        if self.num_frames > 1:
            steps = torch.cat([x[:, :-1], x[:, 1:]], dim=-1)
            loss = loss + F.mse_loss(self.motion(steps), (poses[:, 1:] - poses[:, :-1]) * 4.0)
        return loss


class AttributeHeads(nn.Module):
    """Linear heads on centred, RMS-normalised visual tokens ``(B, N, D) -> loss``.

    ``pool="mean"`` reads the mean over all tokens (``(B, D)``: what a language model gets when
    its attention spreads evenly; frame order and position are lost); ``pool="tokens"`` reads
    every token in its place (``(B, N * D)``: frame order and where each token sits are kept);
    ``pool="frames"`` reads the mean over frames of each of a frame's ``tokens_per_frame``
    tokens in its place (``(B, T * D)``: frame order is lost, where in the frame is kept; the
    same as ``"mean"`` with one token per frame); ``pool="frames_motion"`` reads that and, beside
    it, each position's mean absolute change from frame to frame (``(B, 2 * T * D)``: how much
    each place in the frame moves, which the mean over frames blurs into a still trace).
    ``classes``: also a head over these (seen) class names.

    ``shared_movement`` > 0: also one movement head shared by every token position (the positions
    the pool keeps: each of a frame's tokens with ``"frames"``, every token with ``"tokens"``),
    the clip's movement scores being the log-sum-exp of the positions' scores, weighted by
    ``shared_movement`` in the loss. Whichever token shows the movement must say it in the same
    words: a swing drawn where the arms are and one drawn where the legs are are one movement to
    it, which the joint head (its own weights per position) never asks for."""

    def __init__(self, dim: int, vocab: dict[str, list[str]], pool: str = "mean", num_tokens: int = 1,
                 classes: Sequence[str] = (), tokens_per_frame: int = 1, shared_movement: float = 0.0):
        super().__init__()
        if pool not in POOLS:
            raise ValueError(f"pool must be one of {', '.join(repr(p) for p in POOLS)}, got '{pool}'")
        if pool.startswith("frames") and num_tokens % tokens_per_frame:
            raise ValueError(f"{num_tokens} tokens are not whole frames of {tokens_per_frame} tokens")
        self.vocab, self.pool, self.classes, self.tokens_per_frame = vocab, pool, list(classes), tokens_per_frame
        width = dim * {"mean": 1, "tokens": num_tokens, "frames": tokens_per_frame,
                       "frames_motion": 2 * tokens_per_frame}[pool]
        self.heads = nn.ModuleDict({k: nn.Linear(width, len(v)) for k, v in vocab.items()})
        self.limbs = nn.Linear(width, len(LIMBS))
        self.class_head = nn.Linear(width, len(self.classes)) if self.classes else None
        self.shared_weight = shared_movement
        self.shared_movement = nn.Linear(dim, len(vocab["movement"])) if shared_movement > 0 else None

    def forward(self, tokens: torch.Tensor, atts: Sequence[Attributes], labels: Sequence[str] = ()) -> torch.Tensor:
        x = tokens - tokens.mean((0, 1), keepdim=True).detach()
        x = x / x.pow(2).mean(-1, keepdim=True).add(1e-6).sqrt()
        target = lambda values: torch.tensor(values, device=x.device)  # noqa: E731
        loss = 0.0
        if self.shared_movement is not None:
            scores = self.shared_movement(self._positions(x)).logsumexp(1)           # (B, movements)
            truth = target([self.vocab["movement"].index(a.movement) for a in atts])
            loss = self.shared_weight * F.cross_entropy(scores, truth)
        x = self._pool(x)                                             # (B, D), (B, N * D) or (B, T * D)
        loss = loss + sum(F.cross_entropy(head(x), target([self.vocab[k].index(getattr(a, k)) for a in atts]))
                          for k, head in self.heads.items())
        limbs = torch.tensor([a.limbs for a in atts], dtype=x.dtype, device=x.device)
        loss = loss + F.binary_cross_entropy_with_logits(self.limbs(x), limbs)
        if self.class_head is not None:
            loss = loss + F.cross_entropy(self.class_head(x), target([self.classes.index(c) for c in labels]))
        return loss

    def _positions(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, N, D)`` tokens -> ``(B, P, D)``: the token positions the pool keeps apart."""
        if self.pool == "mean":
            return x.mean(1, keepdim=True)
        if self.pool.startswith("frames"):
            return self._frames(x).mean(1)
        return x

    def _frames(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, N, D)`` -> ``(B, F, T, D)``: the tokens frame by frame."""
        return x.reshape(x.shape[0], -1, self.tokens_per_frame, x.shape[-1])

    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        """What the heads read: ``(B, D)``, ``(B, N * D)``, ``(B, T * D)`` or ``(B, 2 * T * D)``."""
        positions = self._positions(x)
        if self.pool == "frames_motion":
            frames = self._frames(x)
            change = (frames[:, 1:] - frames[:, :-1]).abs().mean(1) if frames.shape[1] > 1 else torch.zeros_like(positions)
            positions = torch.cat([positions, change], 1)
        return positions.flatten(1)


__all__ = ["AttributeHeads", "PoseHeads", "build_backbone"]
