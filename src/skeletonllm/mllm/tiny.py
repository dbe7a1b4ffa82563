"""Tiny, randomly initialised backbones of the real model classes, fully offline.

There are no pretrained weights on a CPU-only machine without internet, yet everything
(tests, the demo, the benchmark) must run through the same code as the paper's 8B models.
These builders make configs of the real ``transformers`` classes
(``InternVLForConditionalGeneration`` and ``Qwen2_5_VLForConditionalGeneration``) with
2-layer x 64-wide vision and text towers, and a byte-level BPE tokenizer trained in-process
on our own prompts (plus any extra corpus, e.g. class names, so words tokenise compactly).
The special tokens carry the real models' names, so the adapters cannot tell them apart
from the released checkpoints.

``write_tiny_backbone(kind, dir)`` saves model + tokenizer so that they load back through
the ordinary path (``AutoModelForImageTextToText`` / ``AutoTokenizer``) with
``HF_HUB_OFFLINE=1``.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (InternVLConfig, InternVLForConditionalGeneration, PreTrainedTokenizerFast,
                          Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration)

from ..atomic import atomic_directory
from ..skeleton.topology import BODY_PARTS
from . import prompts
from .templates import family_chat_template

KINDS = ("internvl", "qwen2_5_vl")

#: Plain ChatML (string content only). The tiny tokenizers now carry their family's released
#: template (:mod:`skeletonllm.mllm.templates`); checkpoints written before that carry this one.
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

_CHAT_TOKENS = {"pad_token": "<|endoftext|>", "eos_token": "<|im_end|>"}
_CHAT_EXTRA = ["<|im_start|>"]

# Named special tokens of the released tokenizers (InternVL3-*-hf and Qwen2.5-VL-*-Instruct).
_VISION_TOKENS = {
    "internvl": {"start_image_token": "<img>", "end_image_token": "</img>",
                 "context_image_token": "<IMG_CONTEXT>", "video_token": "<video>"},
    "qwen2_5_vl": {"vision_start_token": "<|vision_start|>", "vision_end_token": "<|vision_end|>",
                   "image_token": "<|image_pad|>", "video_token": "<|video_pad|>"},
}


def _check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown backbone kind '{kind}', expected one of {list(KINDS)}")
    return kind


def default_corpus() -> list[str]:
    """Texts the tiny tokenizer is trained on: every prompt we send, and the answer formats."""
    sample = ["drink water", "pick up", "throw", "sit down", "hand waving", "clapping", "kicking something"]
    texts = [
        prompts.mqa_prompt(sample), prompts.disc_prompt(sample[0]), prompts.student_prompt(),
        prompts.teacher_prompt(sample[1]), prompts.caption_prompt(),
        prompts.qa_prompt("Which body parts are primarily involved?", sample[:4]),
        prompts.qa_prompt("What is the first step of this action?"),
        *(prompts.mqa_target(s) for s in sample), prompts.YES, prompts.NO,
        " ".join(p.replace("_", " ") for p in BODY_PARTS),
        "The person raises the right hand to the head, then lowers the left arm and steps forward. "
        "First the torso bends, next the legs and feet move, finally the hands return.",
        "".join(f"Frame{i}: " for i in range(1, 65)), "0123456789 abcdefghijklmnopqrstuvwxyz",
        "user assistant system",
    ]
    return texts


def train_bpe(corpus: Iterable[str], special_tokens: Iterable[str], vocab_size: int = 1024) -> Tokenizer:
    """A byte-level BPE (``tokenizers``) trained on ``corpus``; special tokens get the first ids, in order."""
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(special_tokens), show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    bpe.train_from_iterator(list(corpus), trainer=trainer)
    return bpe


def train_tiny_tokenizer(kind: str, corpus: Iterable[str] = (), vocab_size: int = 1024) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer trained here, on :func:`default_corpus` plus ``corpus``.

    Byte-level means any text can be encoded (no unknown token); merges learned from the
    corpus make its words short. Special tokens: ChatML (``<|im_start|>``, ``<|im_end|>`` =
    eos, ``<|endoftext|>`` = pad) and the vision tokens of ``kind`` under the real names,
    registered as named special tokens (``tokenizer.start_image_token`` etc.). The chat
    template is the released family's (:mod:`skeletonllm.mllm.templates`).
    """
    _check_kind(kind)
    vision = _VISION_TOKENS[kind]
    specials = [_CHAT_TOKENS["pad_token"], *_CHAT_EXTRA, _CHAT_TOKENS["eos_token"], *vision.values()]
    bpe = train_bpe([*default_corpus(), *corpus], specials, vocab_size)
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe, **_CHAT_TOKENS,
                                  additional_special_tokens=_CHAT_EXTRA, extra_special_tokens=dict(vision))
    tok.chat_template = family_chat_template(kind)
    return tok


def tiny_config(kind: str, tokenizer: PreTrainedTokenizerFast, image_size: int = 448, hidden: int = 64,
                layers: int = 2, heads: int = 4, patch_size: int = 14, downsample_ratio: float = 0.5,
                vision_hidden: int | None = None, vision_layers: int | None = None):
    """The config of a tiny ``kind`` model whose special-token ids match ``tokenizer``.

    ``hidden`` / ``layers`` / ``heads`` size both towers; ``vision_hidden`` / ``vision_layers``
    size the vision tower apart. InternVL only: ``patch_size`` and ``downsample_ratio`` (the
    pixel shuffle: 0.5 folds 2 x 2 patches into one token, 1.0 keeps a token per patch) set how
    many visual tokens a frame becomes, ``(image_size / (patch_size / downsample_ratio))^2``.

    The text tower is initialised with std 2/sqrt(hidden) instead of the usual 0.02. At
    width 64, 0.02 gives LM-head rows of norm ~0.16: even a perfectly aligned hidden state
    then yields logits of about 1, below the spread of ~800 random competitors, and a frozen
    head (LoRA training) cannot express a confident answer (measured: loss stuck at ~6;
    with 1/sqrt(hidden) at ~0.6; with 2/sqrt(hidden) it falls below 0.01 in 20 steps).
    """
    _check_kind(kind)
    text_init = 2.0 * hidden ** -0.5
    ids = tokenizer.convert_tokens_to_ids
    vocab = len(tokenizer)
    text = dict(vocab_size=vocab, hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
                num_attention_heads=heads, num_key_value_heads=max(1, heads // 2), max_position_embeddings=16384,
                pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, bos_token_id=None,
                tie_word_embeddings=False, initializer_range=text_init)
    v_hidden, v_layers = vision_hidden or hidden, vision_layers or layers
    if kind == "internvl":
        vision = dict(hidden_size=v_hidden, num_hidden_layers=v_layers, num_attention_heads=heads,
                      intermediate_size=2 * v_hidden, image_size=[image_size, image_size],
                      patch_size=[patch_size, patch_size])
        stride = patch_size * round(1 / downsample_ratio)
        return InternVLConfig(vision_config=vision, text_config={"model_type": "qwen2", **text},
                              image_token_id=ids(_VISION_TOKENS[kind]["context_image_token"]),
                              image_seq_length=(image_size // stride) ** 2, downsample_ratio=downsample_ratio,
                              tie_word_embeddings=False)
    head_dim = hidden // heads
    if head_dim % 2:
        raise ValueError(f"hidden/heads = {head_dim} must be even for rotary embeddings")
    half = head_dim // 2
    # M-RoPE splits the rotary frequencies between time, height and width; the three
    # sections must add up to head_dim / 2 (measured: anything else fails at the first forward).
    mrope = [half - 2 * (half // 3), half // 3, half // 3]
    vision = dict(depth=v_layers, hidden_size=v_hidden, intermediate_size=2 * v_hidden, num_heads=heads,
                  out_hidden_size=hidden, patch_size=14, spatial_merge_size=2, temporal_patch_size=2,
                  window_size=112, fullatt_block_indexes=[v_layers - 1], tokens_per_second=2)
    text["rope_parameters"] = {"rope_type": "default", "rope_theta": 1_000_000.0, "mrope_section": mrope}
    return Qwen2_5_VLConfig(vision_config=vision, text_config=text, image_token_id=ids("<|image_pad|>"),
                            video_token_id=ids("<|video_pad|>"), vision_start_token_id=ids("<|vision_start|>"),
                            vision_end_token_id=ids("<|vision_end|>"), tie_word_embeddings=False)


def build_tiny_backbone(kind: str, image_size: int = 448, corpus: Iterable[str] = (), vocab_size: int = 1024,
                        hidden: int = 64, layers: int = 2, seed: int = 0):
    """``(model, tokenizer)``: a randomly initialised tiny ``kind`` model and its tokenizer.

    Args:
        kind: ``"internvl"`` or ``"qwen2_5_vl"``.
        image_size: frame size the InternVL vision tower is configured for (its position
            embeddings; other sizes are interpolated). Qwen2.5-VL has no fixed size.
        corpus: extra texts for the tokenizer (class names, captions).
        seed: weights are drawn from ``torch.manual_seed(seed)``, so builds are reproducible.
    """
    tok = train_tiny_tokenizer(kind, corpus, vocab_size)
    config = tiny_config(kind, tok, image_size=image_size, hidden=hidden, layers=layers)
    cls = InternVLForConditionalGeneration if kind == "internvl" else Qwen2_5_VLForConditionalGeneration
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = cls(config)
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    return model.eval(), tok


def write_tiny_backbone(kind: str, out_dir: str | os.PathLike, **kwargs) -> Path:
    """Build a tiny backbone and save model + tokenizer to ``out_dir`` (atomically).

    The directory then loads like any downloaded checkpoint, e.g. with
    ``SkeletonLLMConfig(backbone=str(out_dir))``. ``kwargs`` go to :func:`build_tiny_backbone`.
    """
    model, tok = build_tiny_backbone(kind, **kwargs)
    with atomic_directory(out_dir) as tmp:
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
    return Path(out_dir)


__all__ = ["CHATML_TEMPLATE", "KINDS", "build_tiny_backbone", "default_corpus", "tiny_config", "train_bpe",
           "train_tiny_tokenizer", "write_tiny_backbone"]
