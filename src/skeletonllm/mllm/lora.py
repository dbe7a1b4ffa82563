"""LoRA on the language model only (peft), saved and loaded in peft's own format.

The vision towers of both families have layers with the same names as the language
model's (``q_proj``, ``up_proj`` ...), so a plain name list would wrap them too. The target
is therefore a regex anchored at the language model's module path.

The projector is *not* handled by peft's ``modules_to_save``: that would replace it with a
wrapper holding a frozen original and a trainable copy, changing its module path and
parameters; and Disc-FT trains the projector without any LoRA. SkeletonLLM saves the
projector itself (``projector.safetensors``) and freezes/unfreezes it as its own group.

LoRA is injected in place (``peft.inject_adapter_in_model``), so the HF model keeps its
type and call signature. The adapter is written as ``adapter_config.json`` +
``adapter_model.safetensors`` with peft's key names, so
``peft.PeftModel.from_pretrained(base_model, dir)`` loads it as well.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from peft import LoraConfig, inject_adapter_in_model, set_peft_model_state_dict
from peft.utils import get_peft_model_state_dict
from safetensors.torch import load_file, save_file
import torch
from torch import nn

from .precision import keep_fp32

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
#: peft prefixes keys with the PeftModel/LoraModel wrappers; we write the same keys.
_PEFT_PREFIX = "base_model.model."

LLM_LINEAR_LAYERS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass
class LoraSettings:
    """The paper's LoRA: rank 32, alpha 64, dropout 0.05 on attention and MLP projections."""

    r: int = 32
    alpha: int = 64
    dropout: float = 0.05
    targets: tuple[str, ...] = LLM_LINEAR_LAYERS


def target_regex(language_model_path: str, targets=LLM_LINEAR_LAYERS) -> str:
    """A regex that peft matches (``re.fullmatch``) against module names: the LM's linear layers only.

    ``language_model_path`` is e.g. ``"model.language_model"``; layers below it are
    ``<path>.layers.<i>.(self_attn|mlp).<name>``.
    """
    names = "|".join(re.escape(t) for t in targets)
    return rf"{re.escape(language_model_path)}\.layers\.\d+\.(self_attn|mlp)\.({names})"


def lora_config(settings: LoraSettings, language_model_path: str) -> LoraConfig:
    return LoraConfig(r=settings.r, lora_alpha=settings.alpha, lora_dropout=settings.dropout, bias="none",
                      target_modules=target_regex(language_model_path, settings.targets))


def add_lora(model: nn.Module, settings: LoraSettings, language_model_path: str) -> LoraConfig:
    """Inject fresh LoRA layers into ``model`` (in place); returns the peft config used."""
    cfg = lora_config(settings, language_model_path)
    inject_adapter_in_model(cfg, model)
    return cfg


def is_lora_parameter(name: str) -> bool:
    return ".lora_" in name


def lora_wrapped_modules(model: nn.Module) -> list[str]:
    """Names of the modules that carry LoRA weights."""
    return [name for name, module in model.named_modules() if hasattr(module, "lora_A") and len(module.lora_A)]


def save_lora(model: nn.Module, config: LoraConfig, directory: str | os.PathLike) -> None:
    """Write the injected adapter in peft's format into ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    config.save_pretrained(directory)
    state = get_peft_model_state_dict(model, adapter_name="default")
    state = {_PEFT_PREFIX + k: v.detach().contiguous().cpu() for k, v in state.items()}
    save_file(state, str(directory / ADAPTER_WEIGHTS), metadata={"format": "pt"})


def load_lora(model: nn.Module, directory: str | os.PathLike) -> LoraConfig:
    """Inject the adapter saved in ``directory`` into ``model`` and load its weights."""
    directory = Path(directory)
    cfg = LoraConfig.from_pretrained(str(directory))
    inject_adapter_in_model(cfg, model)
    state = load_file(str(directory / ADAPTER_WEIGHTS))
    # An adapter trained in float32 beside a bf16 base (mllm.precision) is read back in float32.
    if any(v.dtype == torch.float32 for v in state.values()):
        keep_fp32(model, (p for n, p in model.named_parameters() if is_lora_parameter(n)))
    state = {k[len(_PEFT_PREFIX):] if k.startswith(_PEFT_PREFIX) else k: v for k, v in state.items()}
    result = set_peft_model_state_dict(model, state, adapter_name="default")
    missing = [k for k in result.missing_keys if is_lora_parameter(k)]
    if missing or result.unexpected_keys:
        raise ValueError(f"{directory / ADAPTER_WEIGHTS}: adapter does not fit the backbone "
                         f"(missing {missing[:3]}, unexpected {list(result.unexpected_keys)[:3]})")
    return cfg


__all__ = ["LLM_LINEAR_LAYERS", "LoraSettings", "add_lora", "is_lora_parameter", "load_lora", "lora_config",
           "lora_wrapped_modules", "save_lora", "target_regex"]
