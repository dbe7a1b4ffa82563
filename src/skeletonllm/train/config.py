"""Run configuration: YAML -> dataclasses, validated.

A run config has four sections::

    run:    name, output_dir, seed
    model:  the model's own config dataclass (``SkeletonLLMConfig`` fields), passed through
    data:   where the skeletons come from, the class split, negatives and rationales
    train:  optimiser, batching, precision, logging and checkpoint cadence
    stages: per-stage overrides of the curriculum table (lr, epochs, tasks, trains, group_lr, task_share)

Every key is checked against the dataclass it fills: an unknown key, a value of the wrong
type or an out-of-range value raises :class:`~skeletonllm.errors.ConfigError` naming the
file and the dotted key (``train.per_device_batch_size``). Shipped configs live in
``skeletonllm/configs/`` (see :func:`shipped_config`).
"""
from __future__ import annotations

import dataclasses
import importlib
import os
import types
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml

from ..errors import ConfigError
from .stages import PARAMETER_GROUPS, STAGE_NAMES, TASK_NAMES

DEFAULT_MODEL_CLASS = "skeletonllm.mllm.model:SkeletonLLM"


@dataclass
class RunSection:
    """Identity of the run. ``output_dir`` holds one sub-directory per stage."""

    name: str = "run"
    output_dir: str = "runs/run"
    seed: int = 0


@dataclass
class DataSource:
    """Where the training clips come from, and their class split: the ``data`` keys that the
    curriculum's :class:`DataSection` and SUGAR's
    :class:`~skeletonllm.sugar.config.SugarDataSection` share, checked the same way for both
    (:meth:`check_source`).

    Exactly one source: ``dataset`` + ``root`` (a dataset known to
    :mod:`skeletonllm.skeleton.dataset`), ``files`` (skeleton files or globs, read with
    :func:`skeletonllm.load`), or ``synth`` (the procedural motion set, options passed to
    :mod:`skeletonllm.synth`).

    Attributes:
        dataset: the dataset's name (``ntu60``, ``ntu120``, ``pku_mmd``, ``nw_ucla`` ...).
        root: the dataset's folder (searched recursively).
        files: skeleton files or globs.
        synth: options of the procedural set: ``split`` (``synth_24_6``), ``topology``
            (``ntu25``), ``num_per_class`` (8), ``seed`` (run seed); its clips carry their
            own captions, QA and rationales.
        split: a class split of :mod:`skeletonllm.skeleton.splits` (``ntu60_55_5``); training
            uses only its seen classes.
    """

    dataset: str | None = None
    root: str | None = None
    files: list[str] | None = None
    synth: dict[str, Any] | None = None
    split: str | None = None

    def check_source(self, source: str) -> None:
        """Exactly one data source, and a ``root`` with a ``dataset``; else a
        :class:`~skeletonllm.errors.ConfigError` naming the config ``source``."""
        sources = [k for k in ("dataset", "files", "synth") if getattr(self, k) is not None]
        if len(sources) != 1:
            raise ConfigError(source, "data", "give exactly one data source: 'dataset' (+ 'root'), 'files' or 'synth'"
                              + (f" (got {', '.join(sources)})" if sources else ""))
        if self.dataset is not None and self.root is None:
            raise ConfigError(source, "data.root",
                              f"is required with data.dataset '{self.dataset}' (the dataset's directory)")


@dataclass
class DataSection(DataSource):
    """Training data: a :class:`DataSource` (``dataset`` + ``root``, ``files`` or ``synth``, and
    ``split``) and how the curriculum reads it.

    Attributes:
        split: as in :class:`DataSource`; ``None`` for caption/QA data without classes (and for
            procedural data, whose classes are all seen).
        subset: which part of the dataset to read (``train``; the dataset index decides what
            that means for the split's protocol).
        num_frames: frames sampled per clip (segment-based, F=12 in the paper).
        max_bodies: bodies kept per frame (2 for NTU interactions).
        negatives: hard-negative file for Disc-FT (``{"neighbors": {class: [5 names]}}``);
            ``None`` draws negatives uniformly from the other seen classes.
        rationales: teacher-rationale cache (JSONL) for CR-Distill.
        max_samples: use only the first N clips (smoke runs).
        cache_dir: where ``dataset`` sources keep parsed files (``.npz``), so a file is
            parsed once, not in every epoch, process and run (the paper configs set one).
        max_bad_files: training files that may fail to parse before the run stops; each is
            skipped (another clip of its class takes its place in the batch) and listed in
            ``<output_dir>/bad_files.jsonl`` (:mod:`skeletonllm.train.data`).
    """

    subset: str = "train"
    num_frames: int = 12
    max_bodies: int | None = 2
    negatives: str | None = None
    rationales: str | None = None
    max_samples: int | None = None
    cache_dir: str | None = None
    max_bad_files: int = 20


@dataclass
class TrainSection:
    """Optimisation and bookkeeping shared by all stages (the paper's values as defaults).

    Attributes:
        per_device_batch_size: clips per device per micro-batch (2 in the paper).
        gradient_accumulation_steps: micro-batches per optimiser step.
        weight_decay: AdamW decoupled weight decay (0.05), not applied to biases and
            norm scales (1-D parameters), as in the Hugging Face trainer the paper's
            recipe comes from.
        warmup_ratio: fraction of a stage's steps with linear warm-up (0.03), then cosine.
        max_grad_norm: gradient clipping (``None`` or 0 to disable).
        mixed_precision: ``auto`` (bf16 on a GPU that has it, else fp32), ``no``, ``bf16``, ``fp16``.
        max_steps: cap on optimiser steps per stage (smoke runs); ``None`` for full epochs.
        log_every: optimiser steps between log lines.
        save_every: optimiser steps between checkpoints (0 = only the stage's final weights).
        keep_last: checkpoints kept per stage (older ones are deleted).
        num_workers: DataLoader worker processes.
        find_unused_parameters: DDP option, for models whose trainable parameters may get
            no gradient in some steps.
        tensorboard: also log to TensorBoard when the ``tensorboard`` package is installed.
    """

    per_device_batch_size: int = 2
    gradient_accumulation_steps: int = 1
    weight_decay: float = 0.05
    warmup_ratio: float = 0.03
    max_grad_norm: float | None = 1.0
    adam_betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    adam_eps: float = 1e-8
    mixed_precision: Literal["auto", "no", "bf16", "fp16"] = "auto"
    max_steps: int | None = None
    log_every: int = 10
    save_every: int = 500
    keep_last: int = 2
    num_workers: int = 0
    find_unused_parameters: bool = False
    tensorboard: bool = True


@dataclass
class StageOverride:
    """Per-stage changes to the curriculum table (:mod:`skeletonllm.train.stages`)."""

    lr: float | None = None
    epochs: int | None = None
    tasks: list[str] | None = None
    trains: list[str] | None = None
    group_lr: dict[str, float] | None = None  # e.g. {renderer: 1e-3}: a learning rate per group
    task_share: dict[str, float] | None = None  # e.g. {caption: 0.25}: a fraction of a task's items per epoch


@dataclass
class RunConfig:
    """A whole run. ``model`` stays a dict here; :meth:`model_config` builds the model's dataclass."""

    run: RunSection = field(default_factory=RunSection)
    model_class: str = DEFAULT_MODEL_CLASS
    model: dict[str, Any] = field(default_factory=dict)
    data: DataSection = field(default_factory=DataSection)
    train: TrainSection = field(default_factory=TrainSection)
    stages: dict[str, StageOverride] = field(default_factory=dict)
    source: str = field(default="<config>", metadata={"internal": True})

    # -- model ------------------------------------------------------------------------
    def model_cls(self):
        """The model class named by ``model_class`` (``package.module:Class``)."""
        return import_object(self.model_class, self.source, "model_class")

    def model_config(self):
        """The model's config dataclass filled from the ``model:`` section (validated the same way)."""
        cls = self.model_cls()
        cfg_cls = model_config_class(cls)
        return from_dict(cfg_cls, self.model, self.source, "model")

    def stage_overrides(self) -> dict[str, dict]:
        return {name: {k: v for k, v in dataclasses.asdict(o).items() if k != "group_lr"}
                for name, o in self.stages.items()}

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d.pop("source")
        return d


# -- loading ------------------------------------------------------------------------------

def load_config(path: str | os.PathLike, overrides: dict[str, Any] | None = None) -> RunConfig:
    """Read a YAML run config (a path, or the name of a shipped config) and validate it.

    ``overrides`` maps dotted keys to values (``{"train.max_steps": 2}``), applied before
    validation, so they are checked like the file's own keys.
    """
    p = resolve_config_path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
        raise ConfigError(p, "<file>", f"is not valid YAML ({where}: {getattr(e, 'problem', e)})") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(p, "<file>", f"must be a mapping of sections, got {type(data).__name__}")
    for key, value in (overrides or {}).items():
        _set_dotted(data, key, value)
    return config_from_dict(data, str(p))


def config_from_dict(data: dict, source: str = "<config>") -> RunConfig:
    """Validate a config mapping (as read from YAML) into a :class:`RunConfig`."""
    cfg = from_dict(RunConfig, data, source, "")
    cfg.source = source
    _check_values(cfg)
    # Build the model config now so that its keys are checked before any training starts.
    cfg.model_config()
    return cfg


def resolve_config_path(path: str | os.PathLike) -> Path:
    p = Path(path)
    if p.is_file():
        return p
    shipped = shipped_config(str(path))
    if shipped is not None:
        return shipped
    raise ConfigError(path, "<file>", f"no such file, and no shipped config of that name "
                                      f"(shipped: {', '.join(list_shipped_configs())})")


def shipped_config(name: str) -> Path | None:
    """Path of a config shipped in ``skeletonllm/configs`` (``"ntu60_55_5"`` or ``"ntu60_55_5.yaml"``)."""
    root = Path(str(resources.files("skeletonllm") / "configs"))
    stem = name[:-5] if name.endswith(".yaml") else name
    p = root / f"{stem}.yaml"
    return p if p.is_file() else None


def list_shipped_configs() -> list[str]:
    root = Path(str(resources.files("skeletonllm") / "configs"))
    return sorted(p.stem for p in root.glob("*.yaml"))


def _set_dotted(data: dict, key: str, value: Any) -> None:
    parts = key.split(".")
    node = data
    for part in parts[:-1]:
        nxt = node.setdefault(part, {})
        if not isinstance(nxt, dict):
            raise ConfigError("<override>", key, f"'{part}' is not a section")
        node = nxt
    node[parts[-1]] = value


def _check_values(cfg: RunConfig) -> None:
    """Range checks the type system cannot express."""
    src = cfg.source
    t, d = cfg.train, cfg.data

    def positive(value, key, allow_zero=False):
        if value is not None and (value < 0 or (value == 0 and not allow_zero)):
            raise ConfigError(src, key, f"must be {'>= 0' if allow_zero else '> 0'}, got {value}")

    positive(t.per_device_batch_size, "train.per_device_batch_size")
    positive(t.gradient_accumulation_steps, "train.gradient_accumulation_steps")
    positive(t.weight_decay, "train.weight_decay", allow_zero=True)
    if not 0 <= t.warmup_ratio < 1:
        raise ConfigError(src, "train.warmup_ratio", f"must be in [0, 1), got {t.warmup_ratio}")
    positive(t.max_grad_norm, "train.max_grad_norm", allow_zero=True)
    if len(t.adam_betas) != 2 or not all(0 <= b < 1 for b in t.adam_betas):
        raise ConfigError(src, "train.adam_betas", f"must be two numbers in [0, 1), got {t.adam_betas}")
    positive(t.adam_eps, "train.adam_eps")
    positive(t.max_steps, "train.max_steps")
    positive(t.log_every, "train.log_every")
    positive(t.save_every, "train.save_every", allow_zero=True)
    positive(t.keep_last, "train.keep_last")
    positive(t.num_workers, "train.num_workers", allow_zero=True)
    positive(d.num_frames, "data.num_frames")
    positive(d.max_bodies, "data.max_bodies")
    positive(d.max_samples, "data.max_samples")
    positive(d.max_bad_files, "data.max_bad_files", allow_zero=True)
    d.check_source(src)
    for name, o in cfg.stages.items():
        if name not in STAGE_NAMES:
            raise ConfigError(src, f"stages.{name}", f"unknown stage (known: {', '.join(STAGE_NAMES)})")
        positive(o.lr, f"stages.{name}.lr")
        positive(o.epochs, f"stages.{name}.epochs")
        for task in o.tasks or []:
            if task not in TASK_NAMES:
                raise ConfigError(src, f"stages.{name}.tasks", f"unknown task '{task}' (known: {', '.join(TASK_NAMES)})")
        for group in list(o.trains or []) + list((o.group_lr or {}).keys()):
            if group not in PARAMETER_GROUPS:
                raise ConfigError(src, f"stages.{name}", f"unknown parameter group '{group}' "
                                                         f"(known: {', '.join(PARAMETER_GROUPS)})")
        for group, lr in (o.group_lr or {}).items():
            positive(lr, f"stages.{name}.group_lr.{group}")
        for task, share in (o.task_share or {}).items():
            if task not in TASK_NAMES:
                raise ConfigError(src, f"stages.{name}.task_share", f"unknown task '{task}' (known: {', '.join(TASK_NAMES)})")
            if not 0 < share <= 1:
                raise ConfigError(src, f"stages.{name}.task_share.{task}", f"must be in (0, 1], got {share}")


# -- generic dataclass filling ------------------------------------------------------------

def import_object(spec: str, source: str = "<config>", key: str = "model_class"):
    """``"package.module:Name"`` -> the object."""
    if ":" not in spec:
        raise ConfigError(source, key, f"expected 'package.module:Class', got '{spec}'")
    module_name, attr = spec.split(":", 1)
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ConfigError(source, key, f"cannot import module '{module_name}': {e}") from None
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ConfigError(source, key, f"module '{module_name}' has no '{attr}'") from None


def model_config_class(model_cls):
    """The config dataclass of a model class: its ``config_class`` attribute, else ``<Name>Config`` in its module."""
    cfg_cls = getattr(model_cls, "config_class", None)
    if cfg_cls is None or not dataclasses.is_dataclass(cfg_cls):
        module = importlib.import_module(model_cls.__module__)
        cfg_cls = getattr(module, f"{model_cls.__name__}Config", None)
    if cfg_cls is None or not dataclasses.is_dataclass(cfg_cls):
        raise ConfigError(None, "model_class", f"{model_cls.__name__} has no config dataclass "
                                               f"(a 'config_class' attribute or '{model_cls.__name__}Config')")
    return cfg_cls


def from_dict(cls, data: Any, source: str, prefix: str):
    """Fill dataclass ``cls`` from ``data``, checking keys and types recursively."""
    where = prefix or "<root>"
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(source, where, f"must be a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
    unknown = [k for k in data if k not in fields]
    if unknown:
        key = f"{prefix}.{unknown[0]}" if prefix else str(unknown[0])
        raise ConfigError(source, key, f"unknown key (known keys here: {', '.join(fields)})")
    kwargs = {}
    for name, value in data.items():
        key = f"{prefix}.{name}" if prefix else name
        kwargs[name] = _coerce(hints[name], value, source, key)
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except (TypeError, ValueError) as e:
        raise ConfigError(source, where, str(e)) from None


def _type_name(tp) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(tp, value, source: str, key: str):
    """Check ``value`` against annotation ``tp``; returns the value (ints widen to float)."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(arg, value, source, key)
            except ConfigError as e:
                errors.append(e.problem)
        raise ConfigError(source, key, f"expected {' or '.join(_type_name(a) for a in args)}, "
                                       f"got {type(value).__name__} {value!r}")
    if origin is Literal:
        if value not in args:
            raise ConfigError(source, key, f"must be one of {', '.join(map(repr, args))}, got {value!r}")
        return value
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, source, key)
    if origin in (list, tuple, typing.Sequence) or tp in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(source, key, f"expected a list, got {type(value).__name__} {value!r}")
        item_tp = args[0] if args else Any
        out = [_coerce(item_tp, v, source, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(out) if (origin is tuple or tp is tuple) else out
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise ConfigError(source, key, f"expected a mapping, got {type(value).__name__} {value!r}")
        kt, vt = args if args else (Any, Any)
        return {_coerce(kt, k, source, f"{key}"): _coerce(vt, v, source, f"{key}.{k}") for k, v in value.items()}
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(source, key, f"expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(source, key, f"expected an integer, got {type(value).__name__} {value!r}")
        return value
    if tp is float:
        # YAML reads "1e-4" (no dot) as a string; accept numeric strings for floats only.
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(source, key, f"expected a number, got {type(value).__name__} {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(source, key, f"expected a string, got {type(value).__name__} {value!r}")
        return value
    if isinstance(tp, type):
        if not isinstance(value, tp):
            raise ConfigError(source, key, f"expected {tp.__name__}, got {type(value).__name__} {value!r}")
        return value
    return value
