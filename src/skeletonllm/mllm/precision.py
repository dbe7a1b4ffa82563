"""Trainable weights in float32 beside a frozen backbone in bfloat16 or float16.

The paper configs load the backbone in bf16 to halve its memory. Its trainable parts must
not follow it there: bf16 keeps 8 significant bits, so near a weight of 0.05 the spacing of
representable values is 2.4e-4, and an AdamW step at the configs' learning rate (4e-5; 2e-5
in SUGAR's Step 3) is smaller than half of it: the update rounds away and the weight never
moves. peft's ``inject_adapter_in_model`` creates LoRA in the base layer's dtype (only
``PeftModel`` upcasts adapters), and the projector is part of the bf16 backbone.

So every module that owns a trainable parameter (the projector, each LoRA matrix, any
unfrozen encoder layer) gets its own parameters in float32 (and so does the optimiser
state built on them), and a pair of forward hooks: floating inputs are cast to float32 on
the way in (to the weights' dtype at that moment: under FSDP's bf16 policy the gathered
weights are bf16, and nothing is cast) and outputs back to the input's dtype on the way out. The frozen backbone
around it stays in bf16 and sees the dtypes it saw before. Under autocast (accelerate's
``bf16`` mixed precision) matrix products still run in bf16; only the weights and their
updates are kept in float32, as in any mixed-precision recipe.
"""
from __future__ import annotations

from typing import Any, Iterable

import torch
from torch import nn

LOW_PRECISION = (torch.bfloat16, torch.float16)
_FLAG = "_skeletonllm_fp32_hooks"


def keep_trainable_fp32(model: nn.Module) -> int:
    """Upcast every module that owns a trainable low-precision parameter; returns how many
    parameter elements were upcast (0 when the model is already float32)."""
    return keep_fp32(model, (p for p in model.parameters() if p.requires_grad))


def keep_fp32(model: nn.Module, params: Iterable[nn.Parameter]) -> int:
    """Upcast the modules of ``model`` that own any of ``params`` (all their own parameters)."""
    wanted = {id(p) for p in params}
    upcast = 0
    for module in model.modules():
        own = list(module.parameters(recurse=False))
        if any(id(p) in wanted and p.dtype in LOW_PRECISION for p in own):
            upcast += _upcast_module(module, own)
    return upcast


def _upcast_module(module: nn.Module, own: list[nn.Parameter]) -> int:
    """The module's own floating parameters to float32 (the Parameter objects stay the same, so
    optimisers and parameter groups that hold them keep working), and its dtype hooks, once."""
    n = 0
    with torch.no_grad():
        for p in own:
            if p.dtype in LOW_PRECISION:
                p.data = p.data.float()
                n += p.numel()
    if not getattr(module, _FLAG, False):
        module.register_forward_pre_hook(_inputs_to_fp32, with_kwargs=True)
        module.register_forward_hook(_outputs_back)
        setattr(module, _FLAG, True)
        module._skeletonllm_dtypes = []
    return n


def _first_float_dtype(values) -> torch.dtype | None:
    for v in values:
        if torch.is_tensor(v) and v.is_floating_point():
            return v.dtype
    return None


def _cast(value: Any, src: tuple[torch.dtype, ...], dst: torch.dtype) -> Any:
    if torch.is_tensor(value):
        return value.to(dst) if value.dtype in src else value
    if isinstance(value, (tuple, list)) and not hasattr(value, "_fields"):
        return type(value)(_cast(v, src, dst) for v in value)
    return value


def _own_dtype(module) -> torch.dtype:
    """The dtype the module's own weights have now (float32; bf16 while FSDP's mixed-precision
    policy has gathered them in bf16 for the forward)."""
    own = next((p for p in module.parameters(recurse=False) if p.is_floating_point()), None)
    return own.dtype if own is not None else torch.float32


def _inputs_to_fp32(module, args, kwargs):
    dtype, target = _first_float_dtype(list(args) + list(kwargs.values())), _own_dtype(module)
    cast = dtype in LOW_PRECISION and target != dtype
    module._skeletonllm_dtypes.append((dtype, target) if cast else None)
    if not cast:
        return None
    return _cast(args, LOW_PRECISION, target), {k: _cast(v, LOW_PRECISION, target) for k, v in kwargs.items()}


def _outputs_back(module, args, output):
    pushed = module._skeletonllm_dtypes.pop() if module._skeletonllm_dtypes else None
    if pushed is None:
        return None
    dtype, target = pushed
    return _cast(output, (target,), dtype)


def trainable_dtypes(model: nn.Module) -> dict[torch.dtype, int]:
    """``{dtype: elements}`` of the trainable parameters (for logs and tests)."""
    out: dict[torch.dtype, int] = {}
    for p in model.parameters():
        if p.requires_grad:
            out[p.dtype] = out.get(p.dtype, 0) + p.numel()
    return out


__all__ = ["LOW_PRECISION", "keep_fp32", "keep_trainable_fp32", "trainable_dtypes"]
