"""SkeletonLLM checkpoints, in the transformers manner: a directory, loaded by ``from_pretrained``.

Layout (written atomically: a reader sees the old checkpoint or the new one, never a mix)::

    config.json              {"format": "skeletonllm", "version": 1, "config": SkeletonLLMConfig,
                              "base": {"source", "embedded", "kind", "dtype"}, "saved_groups": [...],
                              "classes": {"split", "classes", "seen", "unseen"} (when trained on a split)}
    renderer_config.json     the renderer (DrAction.save_pretrained)
    renderer.safetensors
    projector.safetensors    the vision-to-language projector (always: it is trained in stages 2-4)
    adapter/                 LoRA in peft's format (adapter_config.json, adapter_model.safetensors)
    vision.safetensors       only if the vision tower was ever trained (set_trainable)
    language.safetensors     only if the language model itself was ever trained
    base/                    the base backbone + tokenizer, for small (tiny) backbones only

The base backbone is referenced, not copied (an 8B model is not duplicated into every
checkpoint): ``base.source`` is the hub id or directory it was loaded from. Tiny backbones
(``tiny:*`` or under :data:`EMBED_BELOW` parameters) are saved inside, in ``base/``, so
the checkpoint is self-contained.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from ..atomic import atomic_directory
from ..errors import ConfigError
from .backbones import default_device, load_backbone
from .lora import is_lora_parameter, save_lora
from .precision import keep_fp32

FORMAT, VERSION = "skeletonllm", 1
CONFIG_FILE = "config.json"
PROJECTOR_FILE = "projector.safetensors"
ADAPTER_DIR = "adapter"
BASE_DIR = "base"
#: Backbones smaller than this are embedded in the checkpoint by default.
EMBED_BELOW = 50_000_000


def class_record(split: str | None, classes, seen, unseen) -> dict:
    """What a checkpoint remembers of the classes it was trained on: the split's name (None when the
    data named none), all its classes in label order, the seen (trained) and the unseen (held-out)
    ones. ``recognize`` without candidates offers the unseen ones (all with ``all_classes``)."""
    seen, unseen = [str(c) for c in seen], [str(c) for c in unseen]
    classes = [str(c) for c in classes] if classes else seen + unseen
    return {"split": split, "classes": classes, "seen": seen, "unseen": unseen}


def read_classes(meta: dict, path) -> dict | None:
    """A checkpoint's class record (:func:`class_record`), checked; None when it has none."""
    rec = meta.get("classes")
    if rec is None:
        return None
    ok = isinstance(rec, dict) and all(isinstance(rec.get(k), list) and all(isinstance(c, str) for c in rec[k])
                                       for k in ("classes", "seen", "unseen"))
    if not ok:
        raise ConfigError(path, "classes", "must hold lists of class names: classes, seen, unseen")
    return rec


def _clean_backbone_state(backbone: nn.Module) -> dict[str, torch.Tensor]:
    """The backbone's own weights with LoRA removed (``q_proj.base_layer.weight`` -> ``q_proj.weight``)."""
    state = {}
    for key, value in backbone.state_dict().items():
        if ".lora_" in key:
            continue
        state[key.replace(".base_layer.", ".")] = value
    return state


def _named(module: nn.Module, prefix: str) -> dict[str, torch.Tensor]:
    """``module``'s weights under their names in the backbone (``prefix`` = its path there)."""
    return {f"{prefix}.{k}" if prefix else k: v.detach().contiguous().cpu() for k, v in module.state_dict().items()}


def _group_state(model, group: str) -> dict[str, torch.Tensor]:
    """Weights of ``vision`` or ``language`` by their names in the backbone (LoRA matrices excluded)."""
    members = {id(p) for p in model.parameter_groups()[group]}
    return {name: p.detach().contiguous().cpu() for name, p in model.backbone.named_parameters()
            if id(p) in members and not is_lora_parameter(name)}


def save_checkpoint(model, directory: str | os.PathLike, embed_base: bool | None = None) -> Path:
    """Write ``model`` (a :class:`~skeletonllm.mllm.model.SkeletonLLM`) to ``directory``.

    ``embed_base``: save the base backbone inside; ``None`` decides by size (tiny ones only).
    """
    cfg = model.config
    backbone = model.backbone
    if embed_base is None:
        base_params = sum(p.numel() for n, p in backbone.named_parameters() if not is_lora_parameter(n))
        embed_base = cfg.backbone.startswith("tiny:") or cfg.random_init or base_params < EMBED_BELOW
    if not embed_base and (cfg.backbone.startswith("tiny:") or cfg.random_init):
        raise ValueError("a backbone built in memory (tiny: or random_init) exists nowhere else: it must be embedded")
    if not hasattr(model.renderer, "save_pretrained") and any(True for _ in model.renderer.parameters()):
        raise ValueError(f"renderer {type(model.renderer).__name__} has parameters but no save_pretrained")

    saved_groups = sorted(g for g in ("vision", "language") if g in model.trained_groups)
    meta = {
        "format": FORMAT, "version": VERSION, "config": cfg.to_dict(),
        "base": {"source": BASE_DIR if embed_base else cfg.backbone, "embedded": bool(embed_base),
                 "kind": model.adapter.kind, "dtype": str(backbone.dtype).replace("torch.", "")},
        "saved_groups": saved_groups,
    }
    if getattr(model, "classes", None) is not None:
        meta["classes"] = model.classes
    directory = Path(directory)
    with atomic_directory(directory) as tmp:
        if hasattr(model.renderer, "save_pretrained"):
            model.renderer.save_pretrained(tmp)
        projector_prefix = model.adapter.module_name(model.adapter.projector)
        save_file(_named(model.adapter.projector, projector_prefix), str(tmp / PROJECTOR_FILE))
        for group in saved_groups:
            save_file(_group_state(model, group), str(tmp / f"{group}.safetensors"))
        if model.lora_config is not None:
            save_lora(backbone, model.lora_config, tmp / ADAPTER_DIR)
        if embed_base:
            backbone.save_pretrained(tmp / BASE_DIR, state_dict=_clean_backbone_state(backbone))
            model.tokenizer.save_pretrained(tmp / BASE_DIR)
        (tmp / CONFIG_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return directory


def read_meta(directory: Path, fmt: str = FORMAT, version: int = VERSION, what: str = "SkeletonLLM checkpoint") -> dict:
    """A checkpoint directory's ``config.json``, checked to be of format ``fmt`` and ``version``."""
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{directory}: not a {what} (no {CONFIG_FILE})")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError(path, "<file>", f"invalid JSON: {exc}") from exc
    if meta.get("format") != fmt:
        raise ConfigError(path, "format", f"expected '{fmt}' (is this a {what}?), got {meta.get('format')!r}")
    if meta.get("version") != version:
        raise ConfigError(path, "version", f"this library reads version {version}, got {meta.get('version')!r}")
    return meta


def _load_renderer(directory: Path, name: str, options: dict) -> nn.Module:
    """The saved DrAction; fixed baselines (no weights) are rebuilt from their options."""
    from ..render import CONFIG_NAME, DrAction
    from ..render.fixed import build_renderer
    if name == "draction":
        if not (directory / CONFIG_NAME).is_file():
            raise FileNotFoundError(f"{directory}: DrAction checkpoint without {CONFIG_NAME}")
        return DrAction.from_pretrained(directory)
    return build_renderer(name, **options)


def _load_into(model: nn.Module, state: dict[str, torch.Tensor], path: Path) -> None:
    params = dict(model.named_parameters())
    params.update(dict(model.named_buffers()))
    missing = [k for k in state if k not in params]
    if missing:
        raise ValueError(f"{path}: weights do not fit the backbone (e.g. '{missing[0]}')")
    with torch.no_grad():
        for key, value in state.items():
            params[key].copy_(value.to(params[key].dtype))


def load_checkpoint(model_class, directory: str | os.PathLike, device: str | None = None, dtype: str | None = None):
    """Rebuild a ``model_class`` (:class:`~skeletonllm.mllm.model.SkeletonLLM`, which calls this
    from ``from_pretrained``) from ``directory``; its ``config_class`` reads the saved config.

    ``device`` / ``dtype`` override the saved choices (e.g. load a GPU-trained bf16
    checkpoint on CPU in float32).
    """
    directory = Path(directory)
    meta = read_meta(directory)
    config = model_class.config_class.from_dict(meta["config"], source=directory / CONFIG_FILE)
    if device is not None:
        config.device = device
    if dtype is not None:
        config.dtype = dtype
    base = meta["base"]
    source = directory / BASE_DIR if base["embedded"] else base["source"]
    backbone = load_backbone(source, dtype=config.dtype, device=default_device(config.device),
                             trust_remote_code=config.trust_remote_code,
                             attn_implementation=config.attn_implementation)
    renderer = _load_renderer(directory, config.renderer, config.renderer_options)
    adapter_dir = directory / ADAPTER_DIR
    if config.lora and not adapter_dir.is_dir():
        raise FileNotFoundError(f"{directory}: config has lora=true but there is no {ADAPTER_DIR}/ directory")
    model = model_class(config, renderer=renderer, backbone=backbone,
                        lora_dir=adapter_dir if config.lora else None)
    # Groups trained in float32 beside a bf16 backbone are read back in float32, not rounded.
    keep_fp32(model, (p for g in meta.get("saved_groups", []) for p in model.parameter_groups()[g]))
    for name in [PROJECTOR_FILE] + [f"{g}.safetensors" for g in meta.get("saved_groups", [])]:
        path = directory / name
        _load_into(model.backbone, load_file(str(path)), path)
    model.trained_groups |= set(meta.get("saved_groups", []))
    model.classes = read_classes(meta, directory / CONFIG_FILE)
    return model


__all__ = ["class_record", "load_checkpoint", "read_classes", "read_meta", "save_checkpoint"]
