"""The text encoder of Step 2: a CLIP text transformer (``transformers.CLIPTextModel``) and its tokenizer.

Real checkpoints load from a local directory or a hub id (``openai/clip-vit-base-patch32``;
its text tower is read out of the full CLIP checkpoint). ``tiny:clip`` builds a small,
randomly initialised ``CLIPTextModel`` with a byte-level BPE tokenizer trained here on the
texts it will see (no download): the same class and the same pooling (the end-of-text
token's state), only small. The tokenizer wraps every text in CLIP's start / end tokens.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Sequence

import torch
from torch import nn

TINY_PREFIX = "tiny:"
BOS, EOS, PAD = "<|startoftext|>", "<|endoftext|>", "<|pad|>"


@dataclass
class TextEncoderConfig:
    """Attributes:
        source: hub id or local directory of a CLIP (or CLIP text) checkpoint, or ``tiny:clip``.
        max_length: tokens per text (CLIP: 77); longer texts are cut.
        tiny_options: ``hidden``, ``layers``, ``heads``, ``vocab_size``, ``seed`` of ``tiny:clip``.
    """

    source: str = "openai/clip-vit-base-patch32"
    max_length: int = 77
    tiny_options: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def tiny_clip_tokenizer(corpus: Iterable[str], vocab_size: int = 1024):
    """A CLIP-style tokenizer (start and end token around every text) trained on ``corpus``."""
    from tokenizers import processors
    from transformers import PreTrainedTokenizerFast

    from ..mllm.tiny import train_bpe

    bpe = train_bpe([t.lower() for t in corpus], [PAD, BOS, EOS], vocab_size)
    bos, eos = bpe.token_to_id(BOS), bpe.token_to_id(EOS)
    bpe.post_processor = processors.TemplateProcessing(single=f"{BOS} $A {EOS}", special_tokens=[(BOS, bos), (EOS, eos)])
    return PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token=BOS, eos_token=EOS, pad_token=PAD,
                                   model_max_length=77)


def build_tiny_clip(corpus: Iterable[str], hidden: int = 64, layers: int = 2, heads: int = 4, vocab_size: int = 1024,
                    max_length: int = 77, seed: int = 0):
    """``(CLIPTextModel, tokenizer)``, randomly initialised from ``torch.manual_seed(seed)``."""
    from transformers import CLIPTextConfig, CLIPTextModel

    tok = tiny_clip_tokenizer(corpus, vocab_size)
    config = CLIPTextConfig(vocab_size=len(tok), hidden_size=hidden, intermediate_size=2 * hidden,
                            num_hidden_layers=layers, num_attention_heads=heads, max_position_embeddings=max_length,
                            projection_dim=hidden, pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id,
                            eos_token_id=tok.eos_token_id)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = CLIPTextModel(config)
    return model.eval(), tok


def load_text_encoder(config: TextEncoderConfig, corpus: Sequence[str] = ()):
    """``(CLIPTextModel, tokenizer)`` for ``config`` (``corpus``: the tiny tokenizer's training texts)."""
    if config.source.startswith(TINY_PREFIX):
        kind = config.source[len(TINY_PREFIX):]
        if kind != "clip":
            raise ValueError(f"unknown tiny text encoder '{config.source}' (known: tiny:clip)")
        opts = {**config.tiny_options}
        extra = opts.pop("corpus", [])
        return build_tiny_clip([*corpus, *extra], max_length=config.max_length, **opts)
    from transformers import AutoTokenizer, CLIPTextModel

    return CLIPTextModel.from_pretrained(config.source).eval(), AutoTokenizer.from_pretrained(config.source)


class TextEncoder(nn.Module):
    """Texts -> ``(N, hidden)`` pooled CLIP features (the end-of-text token's final state)."""

    def __init__(self, config: TextEncoderConfig, model: nn.Module, tokenizer):
        super().__init__()
        self.config = config
        self.model = model
        self.tokenizer = tokenizer

    @property
    def hidden_size(self) -> int:
        return self.model.config.hidden_size

    def forward(self, texts: Sequence[str]) -> torch.Tensor:
        enc = self.tokenizer([t.lower() if self._lower else t for t in texts], padding="max_length", truncation=True,
                             max_length=self.config.max_length, return_tensors="pt")
        device = self.model.get_input_embeddings().weight.device
        # Truncation may cut the end token away; put it back so the pooled state is the text's end.
        ids, mask = enc["input_ids"].to(device), enc["attention_mask"].to(device)
        eos = self.model.config.eos_token_id
        if isinstance(eos, int) and eos != 2:
            last = mask.sum(dim=1) - 1
            ids[torch.arange(len(texts), device=device), last] = eos
        return self.model(input_ids=ids, attention_mask=mask).pooler_output

    @property
    def _lower(self) -> bool:
        # CLIP's own tokenizer lower-cases; ours was trained on lower-case text.
        return self.config.source.startswith(TINY_PREFIX)


__all__ = ["TextEncoder", "TextEncoderConfig", "build_tiny_clip", "load_text_encoder", "tiny_clip_tokenizer"]
