"""SUGAR: skeleton encoder (frozen after Step 2) -> bridge (TQP) -> LLM (+ LoRA) -> "Label: <action> ...".

    skeletons (SkeletonBatch)
      -> [retarget onto the encoder's joints, when the clip is of another topology]
      -> CTR-GCN, frozen                                features (B, L_s, d)
      -> Temporal Query Projection                      tokens (B, L, D_llm), L = S * k
      -> instruction template around the tokens -> LLM (+ LoRA) -> "Label: <action>\\nDescription: ..."

It offers SkeletonLLM's recognition interface, so one evaluation code path serves both
(:mod:`skeletonllm.eval.recognition`, :mod:`skeletonllm.inference`):
``recognition_prompt(candidates)``, ``generate(skeletons, prompt)`` (parsed by the strict
``Label:`` reader) and ``score_candidates(skeletons, prompt, candidates)`` (likelihood
ranking; top-5 comes from it). SUGAR answers recognition questions only (``tasks``).

Checkpoint (``save_pretrained``, written atomically; ``config.json`` says the method)::

    config.json          {"format": "skeletonllm-sugar", "version": 1, "method": "sugar", "config": {...},
                          "base": {"source", "embedded"}, "trained_groups": [...],
                          "classes": {"split", "classes", "seen", "unseen"} (when trained on a split)}
    encoder.safetensors  CTR-GCN (from Step 2)
    bridge.safetensors   the bridge
    adapter/             LoRA in peft's format
    base/                the language model + tokenizer, for small (tiny) models only;
                         large ones are referenced by ``base.source``
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Iterable, Sequence

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from ..atomic import atomic_directory
from ..mllm.backbones import default_device
from ..mllm.checkpoint import read_classes
from ..mllm.precision import keep_trainable_fp32
from ..skeleton.batch import SkeletonBatch
from . import prompts as SP
from .classifier import ClassifierConfig, LLMClassifier, load_llm
from .contrastive import read_meta
from .encoder import CTRGCN, EncoderConfig
from .tqp import BridgeConfig, build_bridge

log = logging.getLogger(__name__)

FORMAT, VERSION, METHOD = "skeletonllm-sugar", 1, "sugar"
GROUPS = ("encoder", "bridge", "lora", "language")
#: Language models smaller than this are saved inside the checkpoint.
EMBED_BELOW = 50_000_000


@dataclass
class SugarConfig:
    """Attributes:
        encoder: CTR-GCN (must match the Step 2 checkpoint the encoder comes from).
        bridge: the bridge (TQP by default, ``L = num_segments * num_queries`` tokens).
        llm: the language model and its LoRA.
        retarget: ``"auto"``: clips of another topology are mapped onto the encoder's joints
            (:mod:`skeletonllm.sugar.retarget`); ``"refuse"``: they raise an error.
    """

    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    bridge: BridgeConfig = field(default_factory=BridgeConfig)
    llm: ClassifierConfig = field(default_factory=ClassifierConfig)
    retarget: str = "auto"

    @property
    def num_frames(self) -> int:
        """Frames sampled per clip (inference and evaluation read it)."""
        return self.encoder.num_frames

    def to_dict(self) -> dict:
        return {"encoder": self.encoder.to_dict(), "bridge": self.bridge.to_dict(), "llm": self.llm.to_dict(),
                "retarget": self.retarget}

    @classmethod
    def from_dict(cls, data: dict) -> "SugarConfig":
        return cls(encoder=EncoderConfig(**data["encoder"]), bridge=BridgeConfig(**data["bridge"]),
                   llm=ClassifierConfig(**data["llm"]), retarget=data.get("retarget", "auto"))


class SugarModel(nn.Module):
    """The SUGAR recogniser.

    Args:
        config: the configuration.
        llm: an already loaded ``(model, tokenizer)`` (default: loaded / built from ``config.llm``).
        lora_dir: load this adapter instead of adding a fresh LoRA.
        corpus: texts a ``tiny:`` language model's tokenizer learns from (class names, descriptions).
        device: where a language model loaded from a checkpoint is placed as it is read.
    """

    config_class = SugarConfig
    #: What SUGAR answers: recognition only (no captions or free questions).
    tasks = ("recognition",)
    #: Row label in reports when none is given.
    report_name = "SUGAR (this run)"

    def __init__(self, config: SugarConfig, llm=None, lora_dir=None, corpus: Sequence[str] = (),
                 device: str | None = None):
        super().__init__()
        if config.retarget not in ("auto", "refuse"):
            raise ValueError(f"retarget must be 'auto' or 'refuse', got '{config.retarget}'")
        self.config = config
        self.encoder = CTRGCN(config.encoder)
        model, tok = llm if llm is not None else load_llm(config.llm, corpus, device=device)
        self.classifier = LLMClassifier(config.llm, model, tok, lora_dir=lora_dir)
        self.bridge = build_bridge(config.bridge, self.encoder.out_dim, self.classifier.hidden_size)
        self.trained_groups: set[str] = set()
        #: the classes it was trained on (:func:`skeletonllm.mllm.checkpoint.class_record`); None if unknown.
        self.classes: dict | None = None
        self._warned: set[str] = set()
        self.set_trainable(("bridge", "lora") if self.classifier.lora_config is not None else ("bridge",))

    @property
    def device(self) -> torch.device:
        return self.classifier.device

    # -- skeletons -> tokens -------------------------------------------------------------------
    def _on_encoder_graph(self, skeletons: SkeletonBatch) -> SkeletonBatch:
        topo = self.encoder.topology
        if skeletons.topology == topo:
            return skeletons
        if self.config.retarget == "refuse":
            raise ValueError(f"this SUGAR model's encoder reads '{topo.name}' skeletons, got '{skeletons.topology.name}'")
        from .retarget import retarget_batch
        if skeletons.topology.name not in self._warned:
            self._warned.add(skeletons.topology.name)
            log.warning("SUGAR: '%s' clips are retargeted onto the encoder's '%s' joints (by joint name and body "
                        "part); accuracy on a topology the encoder was not trained on is lower", skeletons.topology.name,
                        topo.name)
        return retarget_batch(skeletons, topo)

    def features(self, skeletons: SkeletonBatch) -> torch.Tensor:
        """``(B, L_s, d)`` encoder features (no gradient while the encoder is frozen)."""
        batch = self._on_encoder_graph(skeletons)
        if any(p.requires_grad for p in self.encoder.parameters()):
            return self.encoder(batch)
        with torch.no_grad():
            return self.encoder(batch)

    def tokens(self, skeletons: SkeletonBatch) -> torch.Tensor:
        """``(B, L, D_llm)`` skeleton tokens."""
        feats = self.features(skeletons).to(next(self.bridge.parameters()).device)
        return self.bridge(feats)

    # -- the recognition interface ---------------------------------------------------------------
    def recognition_prompt(self, candidates: Sequence[str]) -> str:
        return SP.instruction(list(candidates))

    @staticmethod
    def _per_sample(prompts, batch: int) -> list[str]:
        from ..mllm.model import SkeletonLLM
        return SkeletonLLM._per_sample(prompts, batch, "prompts")

    def forward(self, skeletons: SkeletonBatch, prompts: str | Sequence[str], targets: Sequence[str]):
        """Teacher-forced loss of ``targets`` (``prompts.target(label, description)``)."""
        B = skeletons.batch_size
        loss = self.classifier.loss(self.tokens(skeletons), self._per_sample(prompts, B), list(targets))
        return SimpleNamespace(loss=loss)

    @torch.no_grad()
    def generate(self, skeletons: SkeletonBatch, prompts: str | Sequence[str], max_new_tokens: int = 64,
                 **_ignored) -> list[str]:
        """Greedy answers to the instruction(s) ``prompts``."""
        with self._inference():
            return self.classifier.generate(self.tokens(skeletons), self._per_sample(prompts, skeletons.batch_size),
                                            max_new_tokens=max_new_tokens)

    @torch.no_grad()
    def score_candidates(self, skeletons: SkeletonBatch, prompt: str | Sequence[str], candidates: Sequence[str],
                         chunk_size: int = 16, **_ignored) -> torch.Tensor:
        """``(B, C)`` log-likelihoods of each candidate's label line (see :func:`prompts.label_line`)."""
        describe = self.config.llm.describe
        answers = [SP.label_line(c, describe) for c in candidates]
        with self._inference():
            return self.classifier.score(self.tokens(skeletons), self._per_sample(prompt, skeletons.batch_size),
                                         answers, with_end=not describe, chunk_size=chunk_size)

    @contextlib.contextmanager
    def _inference(self):
        was_training = self.training
        self.eval()
        try:
            yield
        finally:
            self.train(was_training)

    # -- parameter groups ----------------------------------------------------------------------
    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """``encoder`` (CTR-GCN), ``bridge``, ``lora`` (the adapter), ``language`` (the LM's own weights)."""
        from ..mllm.lora import is_lora_parameter
        lora, language = [], []
        for name, p in self.classifier.llm.named_parameters():
            (lora if is_lora_parameter(name) else language).append(p)
        return {"encoder": list(self.encoder.parameters()), "bridge": list(self.bridge.parameters()),
                "lora": lora, "language": language}

    def set_trainable(self, groups: Iterable[str]) -> None:
        groups = set(groups)
        unknown = groups - set(GROUPS)
        if unknown:
            raise ValueError(f"unknown parameter groups {sorted(unknown)}; expected some of {list(GROUPS)}")
        if "lora" in groups and self.classifier.lora_config is None:
            raise ValueError("'lora' cannot be trained: this model has no LoRA (llm.lora is false)")
        for name, params in self.parameter_groups().items():
            for p in params:
                p.requires_grad_(name in groups)
        keep_trainable_fp32(self)   # LoRA on a bf16 LLM would otherwise train in bf16
        self.trained_groups |= groups

    def train(self, mode: bool = True):
        """A frozen encoder stays in eval mode (its batch-norm statistics must not drift in Step 3)."""
        super().train(mode)
        if not any(p.requires_grad for p in self.encoder.parameters()):
            self.encoder.eval()
        return self

    # -- checkpoints ---------------------------------------------------------------------------
    def save_pretrained(self, directory: str | os.PathLike, embed_base: bool | None = None) -> Path:
        from ..mllm.checkpoint import _clean_backbone_state
        from ..mllm.lora import is_lora_parameter, save_lora

        llm = self.classifier.llm
        tiny = self.config.llm.source.startswith("tiny:")
        if embed_base is None:
            size = sum(p.numel() for n, p in llm.named_parameters() if not is_lora_parameter(n))
            embed_base = tiny or size < EMBED_BELOW
        if tiny and not embed_base:
            raise ValueError("a tiny language model built in memory exists nowhere else: it must be embedded")
        meta = {"format": FORMAT, "version": VERSION, "method": METHOD, "config": self.config.to_dict(),
                "base": {"source": "base" if embed_base else self.config.llm.source, "embedded": bool(embed_base)},
                "trained_groups": sorted(self.trained_groups)}
        if self.classes is not None:
            meta["classes"] = self.classes
        with atomic_directory(directory) as tmp:
            save_file(_state(self.encoder), str(tmp / "encoder.safetensors"))
            save_file(_state(self.bridge), str(tmp / "bridge.safetensors"))
            if self.classifier.lora_config is not None:
                save_lora(llm, self.classifier.lora_config, tmp / "adapter")
            if "language" in self.trained_groups and not embed_base:
                state = {n: p.detach().contiguous().cpu() for n, p in llm.named_parameters() if not is_lora_parameter(n)}
                save_file(state, str(tmp / "language.safetensors"))
            if embed_base:
                llm.save_pretrained(tmp / "base", state_dict=_clean_backbone_state(llm))
                self.classifier.tokenizer.save_pretrained(tmp / "base")
            (tmp / "config.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        return Path(directory)

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike, device: str | None = None,
                        dtype: str | None = None) -> "SugarModel":
        directory = Path(directory)
        meta = read_meta(directory, FORMAT)
        config = SugarConfig.from_dict(meta["config"])
        if dtype is not None:
            config.llm.dtype = dtype
        base = meta["base"]
        device = default_device(device)
        llm = load_llm(config.llm, source=directory / "base" if base["embedded"] else base["source"], device=device)
        adapter = directory / "adapter"
        if config.llm.lora and not adapter.is_dir():
            raise FileNotFoundError(f"{directory}: config has llm.lora true but there is no adapter/ directory")
        model = cls(config, llm=llm, lora_dir=adapter if config.llm.lora else None)
        model.encoder.load_state_dict(load_file(str(directory / "encoder.safetensors")))
        model.bridge.load_state_dict(load_file(str(directory / "bridge.safetensors")))
        if (directory / "language.safetensors").is_file():
            model.classifier.llm.load_state_dict(load_file(str(directory / "language.safetensors")), strict=False)
        model.trained_groups |= set(meta.get("trained_groups", []))
        model.classes = read_classes(meta, directory / "config.json")
        return model.to(device)

    @classmethod
    def from_aligner(cls, aligner_dir: str | os.PathLike, config: SugarConfig, corpus: Sequence[str] = (),
                     device: str | None = None) -> "SugarModel":
        """A fresh SUGAR (new bridge and LoRA) whose encoder comes from a Step 2 checkpoint."""
        aligner_dir = Path(aligner_dir)
        meta = read_meta(aligner_dir, "skeletonllm-sugar-aligner")
        trained = EncoderConfig(**meta["config"]["encoder"])
        if trained != config.encoder:
            raise ValueError(f"{aligner_dir}: its encoder config {trained} differs from this model's {config.encoder}; "
                             "Step 3 must use the encoder Step 2 trained")
        model = cls(config, corpus=corpus, device=device)
        model.encoder.load_state_dict(load_file(str(aligner_dir / "encoder.safetensors")))
        return model


def _state(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().contiguous().cpu() for k, v in module.state_dict().items()}


__all__ = ["GROUPS", "METHOD", "SugarConfig", "SugarModel"]
