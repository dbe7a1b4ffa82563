"""Step 3's classifier: a causal language model (+ LoRA) reading skeleton tokens in a fixed template.

Any ``AutoModelForCausalLM`` checkpoint with LLaMA-style decoder layers (``model.layers.N.
self_attn / mlp``: LLaMA-2, the paper's; Qwen2, Mistral ...) loads by hub id or directory.
``tiny:llama`` / ``tiny:qwen2`` build small, randomly initialised ``LlamaForCausalLM`` /
``Qwen2ForCausalLM`` with a byte-level BPE tokenizer trained here (offline). LoRA (peft,
the paper's r 64, alpha 16) wraps the language model's attention and MLP projections only
(:mod:`skeletonllm.mllm.lora`); the model's own weights stay frozen.

The skeleton tokens enter as embeddings between the instruction and the response header
(:mod:`skeletonllm.sugar.prompts`); no placeholder token is added to the vocabulary.
Recognition works as SkeletonLLM's: greedy generation (the ``Label:`` line is parsed), or
likelihood ranking of each candidate's label line, the prompt's KV cache shared by all
candidates without a copy (:mod:`skeletonllm.mllm.scoring`).
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..mllm.scoring import score_answers
from . import prompts as SP

TINY_PREFIX = "tiny:"
TINY_KINDS = ("llama", "qwen2")
_TINY_SPECIALS = {"bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>"}


@dataclass
class ClassifierConfig:
    """Attributes:
        source: hub id or directory of a causal LM, or ``tiny:llama`` / ``tiny:qwen2``.
        dtype: ``float32``, ``bfloat16``, ``float16`` or ``auto``.
        lora, lora_r, lora_alpha, lora_dropout: LoRA on the LM (paper: r 64, alpha 16).
        describe: the target holds the class's description after the ``Label:`` line.
        trust_remote_code, attn_implementation, gradient_checkpointing: passed to transformers.
        tiny_options: ``hidden``, ``layers``, ``heads``, ``vocab_size``, ``seed``, ``corpus`` of tiny models.
    """

    source: str = "meta-llama/Llama-2-7b-hf"
    dtype: str = "float32"
    lora: bool = True
    lora_r: int = 64
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    describe: bool = True
    trust_remote_code: bool = False
    attn_implementation: str | None = None
    gradient_checkpointing: bool = False
    tiny_options: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def tiny_corpus(extra: Sequence[str] = ()) -> list[str]:
    """Texts the tiny tokenizer learns its merges from: the template and ``extra`` (class names, descriptions)."""
    sample = ["drink water", "pick up", "throw", "sit down", "hand waving", "kick something"]
    return [SP.prefix_text(SP.instruction(sample)), SP.RESPONSE_HEAD,
            *(SP.target(s, "the person moves the arms and legs.") for s in sample),
            "head hands arms hips legs feet left right both forward backward up down", *extra]


def build_tiny_llm(kind: str, corpus: Sequence[str] = (), hidden: int = 64, layers: int = 2, heads: int = 4,
                   vocab_size: int = 1024, seed: int = 0, layer_std: float | None = None):
    """``(model, tokenizer)``: a random tiny ``LlamaForCausalLM`` or ``Qwen2ForCausalLM``.

    Embeddings and LM head are drawn with std 2/sqrt(hidden), as for the tiny VLM backbones
    (:func:`skeletonllm.mllm.tiny.tiny_config`): with the usual 0.02 a frozen LM head at width
    64 cannot give any token a confident logit, and LoRA alone cannot learn. The decoder
    layers get ``layer_std`` (default 0.8/sqrt(hidden)): at 2/sqrt(hidden) their random
    attention is so peaked that LoRA took about twice the steps to make the answer depend on
    the skeleton tokens (measured on the demo: seen-class top-1 15 % vs 22 % after 6 epochs).
    """
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    from ..mllm.tiny import train_bpe

    if kind not in TINY_KINDS:
        raise ValueError(f"unknown tiny language model '{kind}' (known: {', '.join(TINY_KINDS)})")
    bpe = train_bpe(tiny_corpus(list(corpus)), list(_TINY_SPECIALS.values()), vocab_size)
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe, **_TINY_SPECIALS)
    common = dict(vocab_size=len(tok), hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
                  num_attention_heads=heads, num_key_value_heads=max(1, heads // 2), max_position_embeddings=4096,
                  pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                  tie_word_embeddings=False, initializer_range=2.0 * hidden ** -0.5)
    config, cls = (LlamaConfig(**common), LlamaForCausalLM) if kind == "llama" else (Qwen2Config(**common), Qwen2ForCausalLM)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = cls(config)
        std = 0.8 * hidden ** -0.5 if layer_std is None else layer_std
        with torch.no_grad():
            for p in model.model.layers.parameters():
                if p.ndim == 2:
                    p.normal_(0.0, std)
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    return model.eval(), tok


def _torch_dtype(name: str):
    if name == "auto":
        return "auto"
    try:
        return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[name]
    except KeyError:
        raise ValueError(f"dtype must be float32, bfloat16, float16 or auto, got '{name}'") from None


def load_llm(config: ClassifierConfig, corpus: Sequence[str] = (), source: str | os.PathLike | None = None,
             device: str | None = None):
    """``(model, tokenizer)``: ``source`` (default ``config.source``) loaded, or a tiny one built.

    A checkpoint is loaded straight onto ``device`` in its dtype (``device_map``), not into host
    memory first; ``None`` leaves it on the CPU.
    """
    source = str(source or config.source)
    if source.startswith(TINY_PREFIX):
        opts = dict(config.tiny_options)
        extra = opts.pop("corpus", [])
        model, tok = build_tiny_llm(source[len(TINY_PREFIX):], [*corpus, *extra], **opts)
        dtype = _torch_dtype(config.dtype)
        return (model if dtype == "auto" else model.to(dtype)), tok
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kw = {"dtype": _torch_dtype(config.dtype), "trust_remote_code": config.trust_remote_code}
    if config.attn_implementation:
        kw["attn_implementation"] = config.attn_implementation
    if device is not None:
        kw["device_map"] = {"": str(device)}
    model = AutoModelForCausalLM.from_pretrained(source, **kw)
    tok = AutoTokenizer.from_pretrained(source, trust_remote_code=config.trust_remote_code)
    return model.eval(), tok


def decoder_path(model: nn.Module) -> str:
    """Module path of the module holding the decoder ``layers`` (``"model"`` for LLaMA / Qwen2)."""
    for name, module in model.named_modules():
        if isinstance(getattr(module, "layers", None), nn.ModuleList) and name:
            return name
    raise ValueError(f"{type(model).__name__}: no decoder 'layers' list found; LoRA targets LLaMA-style "
                     "'<path>.layers.N.self_attn/mlp' projections")


class LLMClassifier(nn.Module):
    """A causal LM that answers the SUGAR instruction about ``(B, L, D)`` skeleton tokens.

    Args:
        config: the configuration.
        model, tokenizer: the loaded language model.
        lora_dir: load this saved adapter instead of adding a fresh one.
    """

    def __init__(self, config: ClassifierConfig, model: nn.Module, tokenizer, lora_dir=None):
        super().__init__()
        from ..mllm.lora import LoraSettings, add_lora, load_lora

        self.config = config
        self.llm = model
        self.tokenizer = tokenizer
        for p in model.parameters():
            p.requires_grad_(False)
        self.lora_config = None
        if lora_dir is not None:
            self.lora_config = load_lora(model, lora_dir)
        elif config.lora:
            settings = LoraSettings(r=config.lora_r, alpha=config.lora_alpha, dropout=config.lora_dropout)
            self.lora_config = add_lora(model, settings, decoder_path(model))
        if config.gradient_checkpointing:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        eos = tokenizer.eos_token_id
        if eos is None:
            raise ValueError("the language model's tokenizer has no end-of-sequence token")
        self.eos_id = int(eos)
        self.pad_id = int(tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos)
        self.bos = [int(tokenizer.bos_token_id)] if tokenizer.bos_token_id is not None else []
        self._response = self._ids(SP.RESPONSE_HEAD)

    @property
    def hidden_size(self) -> int:
        return self.llm.get_input_embeddings().weight.shape[1]

    @property
    def device(self) -> torch.device:
        return self.llm.get_input_embeddings().weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.llm.get_input_embeddings().weight.dtype

    def _ids(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    # -- batches of embeddings -----------------------------------------------------------------
    def _rows(self, tokens: torch.Tensor, instructions: Sequence[str], answers: Sequence[list[int]] | None):
        """Per row: the embeddings ``(n, D)`` of prompt [+ answer] and where the answer starts."""
        embed = self.llm.get_input_embeddings()
        rows, starts = [], []
        for b, text in enumerate(instructions):
            head = torch.tensor(self.bos + self._ids(SP.prefix_text(text)), device=self.device)
            tail = self._response + (list(answers[b]) if answers is not None else [])
            tail = torch.tensor(tail, device=self.device, dtype=torch.long)
            rows.append(torch.cat([embed(head), tokens[b].to(self.dtype), embed(tail)]))
            starts.append(len(head) + tokens.shape[1] + len(self._response))
        return rows, starts

    @staticmethod
    def _stack(rows: list[torch.Tensor], side: str):
        """Pad rows of embeddings to one length: ``(B, n, D)`` and the ``(B, n)`` mask."""
        n = max(len(r) for r in rows)
        out = rows[0].new_zeros(len(rows), n, rows[0].shape[1])
        mask = torch.zeros(len(rows), n, dtype=torch.long, device=rows[0].device)
        for b, r in enumerate(rows):
            sl = slice(n - len(r), n) if side == "left" else slice(0, len(r))
            out[b, sl] = r
            mask[b, sl] = 1
        return out, mask

    @staticmethod
    def _positions(mask: torch.Tensor) -> torch.Tensor:
        return (mask.cumsum(dim=1) - 1).clamp_min(0)

    # -- training ----------------------------------------------------------------------------
    def loss(self, tokens: torch.Tensor, instructions: Sequence[str], targets: Sequence[str]) -> torch.Tensor:
        """Mean cross-entropy over the target tokens (their end token included)."""
        answers = [self._ids(t) + [self.eos_id] for t in targets]
        rows, starts = self._rows(tokens, instructions, answers)
        embeds, mask = self._stack(rows, "right")
        labels = torch.full(mask.shape, -100, dtype=torch.long, device=self.device)
        for b, (start, ans) in enumerate(zip(starts, answers)):
            labels[b, start:start + len(ans)] = torch.tensor(ans, device=self.device)
        first = min(starts) - 1   # logits before the first answer token are never needed
        out = self.llm(inputs_embeds=embeds, attention_mask=mask, position_ids=self._positions(mask),
                       logits_to_keep=embeds.shape[1] - first, use_cache=False)
        logits = out.logits[:, :-1].float()
        return F.cross_entropy(logits.flatten(0, 1), labels[:, first + 1:].flatten(), ignore_index=-100)

    # -- inference ---------------------------------------------------------------------------
    def _prompt_pass(self, tokens, instructions):
        rows, _ = self._rows(tokens, instructions, None)
        embeds, mask = self._stack(rows, "left")
        positions = self._positions(mask)
        out = self.llm(inputs_embeds=embeds, attention_mask=mask, position_ids=positions, logits_to_keep=1,
                       use_cache=True)
        return out, mask, positions[:, -1:]

    @torch.no_grad()
    def generate(self, tokens: torch.Tensor, instructions: Sequence[str], max_new_tokens: int = 64) -> list[str]:
        """Greedy answers (stopping at the end token), decoded without special tokens."""
        out, mask, last = self._prompt_pass(tokens, instructions)
        B = tokens.shape[0]
        done = torch.zeros(B, dtype=torch.bool, device=self.device)
        generated, logits, cache = [], out.logits[:, -1], out.past_key_values
        for step in range(max_new_tokens):
            token = torch.where(done, torch.full((B,), self.pad_id, device=self.device), logits.argmax(dim=-1))
            generated.append(token)
            done |= token == self.eos_id
            if bool(done.all()) or step == max_new_tokens - 1:
                break
            mask = torch.cat([mask, mask.new_ones(B, 1)], dim=1)
            last = last + 1
            out = self.llm(input_ids=token[:, None], attention_mask=mask, position_ids=last, past_key_values=cache,
                           use_cache=True)
            logits, cache = out.logits[:, -1], out.past_key_values
        texts = []
        for row in torch.stack(generated, dim=1).tolist():
            cut = row.index(self.eos_id) if self.eos_id in row else len(row)
            texts.append(self.tokenizer.decode(row[:cut], skip_special_tokens=True).strip())
        return texts

    @torch.no_grad()
    def score(self, tokens: torch.Tensor, instructions: Sequence[str], answers: Sequence[str], with_end: bool,
              chunk_size: int = 16) -> torch.Tensor:
        """``(B, C)`` log-likelihoods of each answer text (``with_end``: followed by the end token)."""
        seqs = [self._ids(a) + ([self.eos_id] if with_end else []) for a in answers]
        out, mask, last = self._prompt_pass(tokens, instructions)
        first = torch.log_softmax(out.logits[:, -1].float(), dim=-1)
        steps = lambda n: last + torch.arange(1, n + 1, device=self.device)  # noqa: E731
        scores = score_answers(self.llm, out.past_key_values, mask, first, seqs, steps, chunk_size)
        return scores


__all__ = ["ClassifierConfig", "LLMClassifier", "build_tiny_llm", "decoder_path", "load_llm", "tiny_corpus"]
