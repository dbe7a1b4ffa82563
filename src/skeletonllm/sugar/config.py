"""SUGAR run configs: YAML -> validated dataclasses (the same checks as the curriculum's configs).

A SUGAR config has these sections::

    run:        name, output_dir, seed
    knowledge:  the Step 1 file (a path, or ``synth`` for the demo world's shipped file)
    encoder:    CTR-GCN (EncoderConfig)                  text:   the CLIP text encoder
    bridge:     TQP or an ablation bridge (BridgeConfig) llm:    the language model and LoRA
    retarget:   auto | refuse (clips of another topology)
    data:       where the training clips come from (SugarDataSection)
    step2:      contrastive learning: lr, epochs, temperature, optimiser, texts, train: {...}
    step3:      the LLM classifier: lr, epochs, trains, train: {...}

``train`` is the curriculum's :class:`~skeletonllm.train.config.TrainSection` (batch,
precision, logging, checkpoints), one per step (the paper: batch 200 in Step 2, 128 in
Step 3). Unknown keys, wrong types and bad values raise
:class:`~skeletonllm.errors.ConfigError` naming the file and the dotted key. Shipped
configs live in ``skeletonllm/configs/sugar/``.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml

from ..errors import ConfigError
from ..train.config import DataSource, RunSection, TrainSection, _set_dotted, from_dict
from .classifier import ClassifierConfig
from .encoder import EncoderConfig
from .tqp import BridgeConfig
from .text import TextEncoderConfig


@dataclass
class SugarDataSection(DataSource):
    """Training clips: a :class:`~skeletonllm.train.config.DataSource` (exactly one of
    ``dataset`` + ``root``, ``files`` or ``synth``; ``split``, a zero-shot split such as
    ``ntu60_48_12``: train on its seen classes only), checked as the curriculum checks its own.

    Attributes:
        dataset: ``ntu60``, ``ntu120``, ``pku_mmd`` or ``nw_ucla``: the class list labels index
            into. ``ntu60`` keeps actions A001-A060 only (a folder may hold all of NTU-120).
        files: labelled clips.
        protocol: ``default`` (cross-subject for NTU / PKU-MMD), ``none`` (every clip), or a
            protocol name (``ntu60_xview``, ``ntu120_xset`` ...).
        part: the protocol's part to train on.
        max_bodies: persons read per NTU clip.
        max_samples: use the first N clips only (smoke runs).
        cache_dir: parsed-file cache of the dataset index.
        max_bad_files: training files that may fail to parse (each skipped and listed in
            ``<output_dir>/bad_files.jsonl``) before the run stops.
    """

    protocol: str = "default"
    part: Literal["train", "test"] = "train"
    max_bodies: int = 2
    max_samples: int | None = None
    cache_dir: str | None = None
    max_bad_files: int = 20


@dataclass
class Step2Section:
    """Skeleton-text contrastive learning (the paper: SGD, lr 0.01, 200 epochs, batch 200).

    Attributes:
        temperature: MIL-NCE's tau (the shared width is ``encoder.embed_dim``).
        optimizer: ``sgd`` (the paper's) or ``adamw``; SGD uses ``momentum`` / ``nesterov`` and
            ``train.weight_decay``.
        texts: positives per clip: some of ``motion``, ``visual`` (the paper: both), ``name``
            (the class name in a template: the no-knowledge ablation).
        visual_per_clip: visual descriptions drawn per clip and epoch.
        trains: parameter groups trained: ``encoder``, ``head``, ``text``.
    """

    lr: float = 0.01
    epochs: int = 200
    temperature: float = 0.1
    optimizer: Literal["sgd", "adamw"] = "sgd"
    momentum: float = 0.9
    nesterov: bool = True
    texts: list[str] = field(default_factory=lambda: ["motion", "visual"])
    visual_per_clip: int = 2
    trains: list[str] = field(default_factory=lambda: ["encoder", "head"])
    train: TrainSection = field(default_factory=lambda: TrainSection(per_device_batch_size=200, weight_decay=4e-4,
                                                                     warmup_ratio=0.025, max_grad_norm=None))


@dataclass
class Step3Section:
    """The LLM classifier (the paper: lr 2e-5, 1 epoch, batch 128, encoder frozen).

    Attributes:
        group_lr: a learning rate per parameter group (``{bridge: 3e-3}``), else ``lr``.
        num_candidates: candidates listed per training instruction: the true class and others
            drawn per item (default: every seen class, the paper's fixed list).
    """

    lr: float = 2e-5
    epochs: int = 1
    trains: list[str] = field(default_factory=lambda: ["bridge", "lora"])
    group_lr: dict[str, float] | None = None
    num_candidates: int | None = None
    train: TrainSection = field(default_factory=lambda: TrainSection(per_device_batch_size=128))


@dataclass
class SugarRunConfig:
    run: RunSection = field(default_factory=RunSection)
    knowledge: str = "knowledge.json"
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    text: TextEncoderConfig = field(default_factory=TextEncoderConfig)
    bridge: BridgeConfig = field(default_factory=BridgeConfig)
    llm: ClassifierConfig = field(default_factory=ClassifierConfig)
    retarget: Literal["auto", "refuse"] = "auto"
    data: SugarDataSection = field(default_factory=SugarDataSection)
    step2: Step2Section = field(default_factory=Step2Section)
    step3: Step3Section = field(default_factory=Step3Section)
    source: str = field(default="<config>", metadata={"internal": True})

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("source")
        return d

    def aligner_config(self):
        from .contrastive import AlignerConfig
        return AlignerConfig(encoder=self.encoder, text=self.text, temperature=self.step2.temperature)

    def sugar_config(self):
        from .model import SugarConfig
        return SugarConfig(encoder=self.encoder, bridge=self.bridge, llm=self.llm, retarget=self.retarget)


def _check(cfg: SugarRunConfig) -> None:
    src, d = cfg.source, cfg.data
    d.check_source(src)
    for key, value in (("step2.lr", cfg.step2.lr), ("step3.lr", cfg.step3.lr), ("step2.temperature", cfg.step2.temperature)):
        if not value > 0:
            raise ConfigError(src, key, f"must be > 0, got {value}")
    for key, value in (("step2.epochs", cfg.step2.epochs), ("step3.epochs", cfg.step3.epochs),
                       ("step2.visual_per_clip", cfg.step2.visual_per_clip), ("data.max_bodies", d.max_bodies)):
        if value < 1:
            raise ConfigError(src, key, f"must be >= 1, got {value}")
    from .contrastive import GROUPS as STEP2_GROUPS
    from .model import GROUPS as STEP3_GROUPS
    from .tasks import TEXT_KINDS
    for key, groups, known in (("step2.trains", cfg.step2.trains, STEP2_GROUPS),
                               ("step3.trains", cfg.step3.trains, STEP3_GROUPS),
                               ("step2.texts", cfg.step2.texts, TEXT_KINDS)):
        bad = [g for g in groups if g not in known]
        if bad or not groups:
            raise ConfigError(src, key, f"must be a non-empty list of {', '.join(known)}, got {groups}")
    if cfg.step2.train.mixed_precision != cfg.step3.train.mixed_precision:
        raise ConfigError(src, "step3.train.mixed_precision", "must equal step2.train.mixed_precision (one "
                                                              "accelerator serves both steps)")
    if d.max_bad_files < 0:
        raise ConfigError(src, "data.max_bad_files", f"must be >= 0, got {d.max_bad_files}")
    for group, lr in (cfg.step3.group_lr or {}).items():
        if group not in cfg.step3.trains or not lr > 0:
            raise ConfigError(src, f"step3.group_lr.{group}", "must name a trained group (step3.trains) with a "
                                                             f"learning rate > 0, got {lr}")
    if cfg.step3.num_candidates is not None and cfg.step3.num_candidates < 2:
        raise ConfigError(src, "step3.num_candidates", f"must be at least 2, got {cfg.step3.num_candidates}")
    if "encoder" in cfg.step3.trains:
        raise ConfigError(src, "step3.trains", "SUGAR freezes the encoder in Step 3; remove 'encoder'")
    if cfg.encoder.max_bodies != d.max_bodies:
        raise ConfigError(src, "encoder.max_bodies", f"is {cfg.encoder.max_bodies} but data.max_bodies is "
                                                     f"{d.max_bodies}; make them equal")


def config_from_dict(data: dict, source: str = "<config>") -> SugarRunConfig:
    cfg = from_dict(SugarRunConfig, data, source, "")
    cfg.source = source
    _check(cfg)
    return cfg


def shipped_dir() -> Path:
    return Path(str(resources.files("skeletonllm") / "configs" / "sugar"))


def list_shipped() -> list[str]:
    return sorted(p.stem for p in shipped_dir().glob("*.yaml"))


def load_sugar_config(path: str | os.PathLike, overrides: dict[str, Any] | None = None) -> SugarRunConfig:
    """A SUGAR config from a YAML file or the name of a shipped one (``tiny_cpu``, ``ntu60_xsub`` ...);
    ``overrides`` maps dotted keys to values (``{"step2.epochs": 1}``)."""
    p = Path(path)
    if not p.is_file():
        stem = str(path)[:-5] if str(path).endswith(".yaml") else str(path)
        p = shipped_dir() / f"{stem}.yaml"
        if not p.is_file():
            raise ConfigError(path, "<file>", f"no such file, and no shipped SUGAR config of that name "
                                              f"(shipped: {', '.join(list_shipped())})")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise ConfigError(p, "<file>", f"is not valid YAML ({e})") from None
    if not isinstance(data, dict):
        raise ConfigError(p, "<file>", f"must be a mapping of sections, got {type(data).__name__}")
    for key, value in (overrides or {}).items():
        _set_dotted(data, key, value)
    return config_from_dict(data, str(p))


__all__ = ["Step2Section", "Step3Section", "SugarDataSection", "SugarRunConfig", "config_from_dict", "list_shipped",
           "load_sugar_config"]
