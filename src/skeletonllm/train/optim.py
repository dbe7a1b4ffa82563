"""A stage's optimiser and learning-rate schedule.

AdamW over the parameter groups the stage trains (each at its own learning rate where the
config gives one; no weight decay on 1-D tensors: biases and norm scales), a linear warm-up
over the first ``warmup_ratio`` of the steps then a cosine decay to 0, and a snapshot of the
parameters by group (for checking which groups a stage changed).
"""
from __future__ import annotations

import math

import torch

from .config import TrainSection
from .stages import Stage


def build_optimizer(model, stage: Stage, train: TrainSection, group_lr: dict[str, float] | None = None):
    """AdamW over the stage's trainable groups; no weight decay on 1-D tensors (biases, norm scales)."""
    return torch.optim.AdamW(optimizer_groups(model, stage, train, group_lr), lr=stage.lr,
                             betas=tuple(train.adam_betas), eps=train.adam_eps)


def optimizer_groups(model, stage: Stage, train: TrainSection, group_lr: dict[str, float] | None = None) -> list[dict]:
    """Optimiser parameter groups of the stage's trainable groups: each at its learning rate
    (``group_lr`` or the stage's), ``train.weight_decay`` except on 1-D tensors."""
    groups = model.parameter_groups()
    missing = [g for g in stage.trains if g not in groups]
    if missing:
        raise ValueError(f"stage '{stage.name}' trains group(s) {missing} that the model does not have "
                         f"(it has {sorted(groups)})")
    param_groups, seen = [], set()
    for gname in stage.trains:
        lr = (group_lr or {}).get(gname, stage.lr)
        decay, no_decay = [], []
        for p in groups[gname]:
            if id(p) in seen or not p.requires_grad:
                continue
            seen.add(id(p))
            (no_decay if p.ndim < 2 else decay).append(p)
        for params, wd in ((decay, train.weight_decay), (no_decay, 0.0)):
            if params:
                param_groups.append({"params": params, "lr": lr, "weight_decay": wd, "name": f"{gname}"})
    if not param_groups:
        raise ValueError(f"stage '{stage.name}': the groups {list(stage.trains)} have no parameters to train")
    return param_groups


class WarmupCosine:
    """LR multiplier at optimiser step ``s``: ``s / W`` during warm-up, then a half cosine to 0 at ``total``.

    (The schedule of the Hugging Face trainer's ``cosine`` option, written out here because
    importing ``transformers.optimization`` costs seconds per process.) Picklable, so the
    scheduler's ``state_dict`` round-trips.
    """

    def __init__(self, warmup: int, total: int):
        self.warmup, self.total = warmup, total

    def __call__(self, s: int) -> float:
        if s < self.warmup:
            return s / max(1, self.warmup)
        progress = (s - self.warmup) / max(1, self.total - self.warmup)
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * progress)))


def build_scheduler(optimizer, total_steps: int, warmup_ratio: float):
    """Linear warm-up over ``ceil(warmup_ratio * total)`` steps, then cosine decay to 0."""
    warmup = math.ceil(warmup_ratio * total_steps)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, WarmupCosine(warmup, total_steps))


def snapshot_groups(model) -> dict[str, dict[str, torch.Tensor]]:
    """A CPU copy of every parameter, by group (for checking which groups a stage changed)."""
    out = {}
    for gname, params in model.parameter_groups().items():
        out[gname] = {str(i): p.detach().float().cpu().clone() for i, p in enumerate(params)}
    return out
