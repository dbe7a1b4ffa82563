"""Step 2: skeleton-text contrastive learning with the MIL-NCE loss.

Each clip ``i`` of a batch has a skeleton embedding ``s_i`` (its representation ``s``, CTR-GCN's
projected features, averaged over time and L2-normalised) and ``N`` positive texts ``t_{i,n}``: its class's
motion description and a random draw of its visual descriptions (:mod:`skeletonllm.sugar.tasks`),
each CLIP-encoded, projected and normalised. The loss (the paper's equation) is::

    L = -1/|B| sum_i log( sum_{j in P(i)} sum_n exp(s_i . t_{j,n} / tau)
                          / sum_k        sum_n exp(s_i . t_{k,n} / tau) )

where ``P(i)`` holds the clips of the batch with ``i``'s class (``i`` itself included): a
skeleton is positive with every text of its class, and the texts of every other clip are
its negatives. The batch is the *global* one: in a multi-process run each process's clips
meet the texts of every process's clips (:func:`global_mil_nce`), as on the paper's two GPUs
with a batch of 200, and the loss equals the single-process loss on the union. A motion
description is six sentences, one per body part; CLIP reads at most 77 tokens, so each
sentence is encoded on its own and the six embeddings are averaged into ``m``.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Iterable, Sequence

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from ..atomic import atomic_directory
from ..skeleton.batch import SkeletonBatch
from ..train.distributed import gather_objects, gather_rows, global_share, row_counts
from .encoder import CTRGCN, EncoderConfig
from .text import TextEncoder, TextEncoderConfig, load_text_encoder

FORMAT, VERSION = "skeletonllm-sugar-aligner", 1
GROUPS = ("encoder", "head", "text")


def mil_nce(skeleton: torch.Tensor, texts: torch.Tensor, positives: torch.Tensor, temperature: float) -> torch.Tensor:
    """The MIL-NCE loss.

    Args:
        skeleton: ``(b, D)`` skeleton embeddings ``s_i`` (this process's clips).
        texts: ``(B, N, D)`` the ``N`` texts ``t_{j,n}`` of every clip ``j`` (``B >= b``: all clips).
        positives: ``(b, B)`` bool, ``positives[i, j]`` when clip ``j``'s texts are positives of clip ``i``.
        temperature: ``tau``.
    Returns the scalar mean over the batch of ``-log(positive mass / total mass)``.
    """
    B, N, D = texts.shape
    logits = skeleton @ texts.reshape(B * N, D).T / temperature          # (B, B*N)
    pos = positives.repeat_interleave(N, dim=1)
    positive = torch.logsumexp(logits.masked_fill(~pos, float("-inf")), dim=1)
    return (torch.logsumexp(logits, dim=1) - positive).mean()


def global_mil_nce(skeleton: torch.Tensor, texts: torch.Tensor, classes: Sequence[str],
                   temperature: float) -> torch.Tensor:
    """MIL-NCE of this process's ``(b, D)`` clips against the ``(B, N, D)`` texts of every
    process's clips (:mod:`skeletonllm.train.distributed`); one process: :func:`mil_nce`.

    The returned loss is scaled so that the mean over processes is the mean over all ``B``
    clips, and DDP's averaged gradient is that of the loss on the union.
    """
    counts = row_counts(skeleton.shape[0], skeleton.device)
    all_texts = gather_rows(texts, counts)
    all_classes = gather_objects(list(classes))
    _, scale = global_share(counts)
    positives = torch.tensor([[a == b for b in all_classes] for a in classes], device=skeleton.device)
    return mil_nce(skeleton, all_texts, positives, temperature) * (skeleton.shape[0] * scale)


@dataclass
class AlignerConfig:
    """The Step 2 model: CTR-GCN (its projection gives ``s``) + CLIP text encoder + a projection of the text.

    Attributes:
        temperature: MIL-NCE's tau. The shared width is ``encoder.out_dim``.
    """

    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    text: TextEncoderConfig = field(default_factory=TextEncoderConfig)
    temperature: float = 0.1

    def to_dict(self) -> dict:
        return {"encoder": self.encoder.to_dict(), "text": self.text.to_dict(), "temperature": self.temperature}

    @classmethod
    def from_dict(cls, data: dict) -> "AlignerConfig":
        return cls(encoder=EncoderConfig(**data["encoder"]), text=TextEncoderConfig(**data["text"]),
                   temperature=data["temperature"])


class SkeletonTextAligner(nn.Module):
    """Aligns CTR-GCN's skeleton embeddings with CLIP embeddings of the knowledge texts.

    Args:
        config: the configuration.
        text_corpus: the texts a ``tiny:clip`` tokenizer is trained on (the knowledge).
        text: an already loaded ``(CLIPTextModel, tokenizer)`` (checkpoints).
    """

    config_class = AlignerConfig

    def __init__(self, config: AlignerConfig, text_corpus: Sequence[str] = (), text=None):
        super().__init__()
        self.config = config
        self.encoder = CTRGCN(config.encoder)
        model, tok = text if text is not None else load_text_encoder(config.text, text_corpus)
        self.text = TextEncoder(config.text, model, tok)
        self.text_head = nn.Linear(self.text.hidden_size, self.encoder.out_dim)
        self._bank: dict[str, torch.Tensor] = {}   # pooled text features while the text encoder is frozen
        self.trained_groups: set[str] = set()
        self.set_trainable(("encoder", "head"))

    # -- embeddings -----------------------------------------------------------------------
    def embed_skeletons(self, skeletons: SkeletonBatch) -> torch.Tensor:
        """``(B, D)`` normalised skeleton embeddings: ``s`` averaged over time."""
        return F.normalize(self.encoder(skeletons).mean(dim=1), dim=-1)

    def _text_frozen(self) -> bool:
        return not any(p.requires_grad for p in self.text.parameters())

    @torch.no_grad()
    def precompute_texts(self, texts: Iterable[str], chunk: int = 64) -> None:
        """Fill the bank of pooled features of a frozen text encoder, in a fixed order and
        fixed chunks (so a resumed run reuses bit-identical features)."""
        todo = sorted({t for t in texts if t not in self._bank})
        for lo in range(0, len(todo), chunk):
            part = todo[lo:lo + chunk]
            for t, f in zip(part, self.text(part)):
                self._bank[t] = f.detach()

    def _pooled(self, strings: list[str]) -> torch.Tensor:
        if not self._text_frozen():
            return self.text(strings)
        self.precompute_texts(strings)
        return torch.stack([self._bank[s] for s in strings]).to(self.text_head.weight.device)

    def embed_texts(self, groups: Sequence[Sequence[str]]) -> torch.Tensor:
        """``(G, D)`` normalised embeddings of text groups; a group's strings are averaged
        (a motion description's six sentences)."""
        strings = sorted({s for g in groups for s in g})
        if not strings:
            raise ValueError("no texts to embed")
        index = {s: i for i, s in enumerate(strings)}
        feats = F.normalize(self.text_head(self._pooled(strings)), dim=-1)
        out = torch.stack([feats[[index[s] for s in g]].mean(dim=0) for g in groups])
        return F.normalize(out, dim=-1)

    def forward(self, skeletons: SkeletonBatch, texts: Sequence[Sequence[Sequence[str]]], classes: Sequence[str]):
        """The MIL-NCE loss of a batch.

        Args:
            skeletons: B clips.
            texts: per clip, ``N`` positive texts, each a group of strings averaged into one
                embedding (``N`` equal for all clips).
            classes: per clip, its class (clips of one class share positives).
        """
        B = skeletons.batch_size
        if len(texts) != B or len(classes) != B:
            raise ValueError(f"{len(texts)} text lists and {len(classes)} classes for {B} clips")
        n = {len(t) for t in texts}
        if len(n) != 1:
            raise ValueError(f"every clip needs the same number of texts, got {sorted(n)}")
        s = self.embed_skeletons(skeletons)
        t = self.embed_texts([g for clip in texts for g in clip]).view(B, n.pop(), -1)
        loss = global_mil_nce(s, t.to(s.dtype), list(classes), self.config.temperature)
        return SimpleNamespace(loss=loss, skeleton=s, texts=t)

    # -- parameter groups -----------------------------------------------------------------
    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """``encoder`` (CTR-GCN and its projection), ``head`` (the text projection), ``text`` (CLIP's text encoder)."""
        return {"encoder": list(self.encoder.parameters()), "head": list(self.text_head.parameters()),
                "text": list(self.text.parameters())}

    def set_trainable(self, groups: Iterable[str]) -> None:
        groups = set(groups)
        unknown = groups - set(GROUPS)
        if unknown:
            raise ValueError(f"unknown parameter groups {sorted(unknown)}; expected some of {list(GROUPS)}")
        for name, params in self.parameter_groups().items():
            for p in params:
                p.requires_grad_(name in groups)
        if "text" in groups:
            self._bank.clear()
        self.trained_groups |= groups

    def train(self, mode: bool = True):
        super().train(mode)
        if self._text_frozen():
            self.text.eval()
        return self

    # -- checkpoints ----------------------------------------------------------------------
    def save_pretrained(self, directory: str | os.PathLike) -> Path:
        """``config.json``, ``encoder.safetensors``, ``text_head.safetensors`` and, when the text
        encoder is tiny or was trained, ``text/`` (model + tokenizer); written atomically."""
        embed_text = self.config.text.source.startswith("tiny:") or "text" in self.trained_groups
        meta = {"format": FORMAT, "version": VERSION, "config": self.config.to_dict(), "text_embedded": embed_text,
                "trained_groups": sorted(self.trained_groups)}
        with atomic_directory(directory) as tmp:
            save_file(_state(self.encoder), str(tmp / "encoder.safetensors"))
            save_file(_state(self.text_head), str(tmp / "text_head.safetensors"))
            if embed_text:
                self.text.model.save_pretrained(tmp / "text")
                self.text.tokenizer.save_pretrained(tmp / "text")
            (tmp / "config.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        return Path(directory)

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike, device: str | None = None) -> "SkeletonTextAligner":
        directory = Path(directory)
        meta = read_meta(directory, FORMAT)
        config = AlignerConfig.from_dict(meta["config"])
        if meta.get("text_embedded"):
            from transformers import AutoTokenizer, CLIPTextModel
            text = (CLIPTextModel.from_pretrained(directory / "text").eval(), AutoTokenizer.from_pretrained(directory / "text"))
        else:
            text = load_text_encoder(config.text)
        model = cls(config, text=text)
        model.encoder.load_state_dict(load_file(str(directory / "encoder.safetensors")))
        model.text_head.load_state_dict(load_file(str(directory / "text_head.safetensors")))
        model.trained_groups |= set(meta.get("trained_groups", []))
        return model.to(device) if device else model


def _state(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().contiguous().cpu() for k, v in module.state_dict().items()}


def read_meta(directory: Path, expected: str) -> dict:
    """A SUGAR checkpoint's ``config.json``, checked to be of format ``expected``."""
    from ..mllm.checkpoint import read_meta as read_checkpoint_meta
    return read_checkpoint_meta(directory, expected, VERSION, what="SUGAR checkpoint")


__all__ = ["AlignerConfig", "SkeletonTextAligner", "mil_nce", "read_meta"]
