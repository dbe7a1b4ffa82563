"""The curriculum trainer, on ``accelerate``.

One script for one CPU, one GPU, DDP, FSDP or DeepSpeed ZeRO: run ``skeletonllm train``
plainly, or under ``accelerate launch --config_file skeletonllm/configs/accelerate/<x>.yaml
-m skeletonllm.cli train ...`` (shipped: one GPU, 8-GPU DDP, 8-GPU ZeRO-2), or under
``torchrun --nproc_per_node N -m skeletonllm.cli train ... --cpu`` for DDP over gloo on
CPUs. Checked here: one CPU process, two-process CPU DDP (torchrun and ``accelerate
launch``), two-process CPU FSDP v2 and DeepSpeed ZeRO-2 over gloo (``accelerate launch`` with
an FSDP or DeepSpeed config; see :func:`_fsdp_on_cpu`, :func:`_deepspeed_on_cpu`), each with
a kill and resume. FSDP v1 trains on CPU but its checkpoint save fails there (safetensors:
"invalid shape, data type, or offset"); the GPU paths follow accelerate's documented API but
are not run on this machine. Per stage (:mod:`skeletonllm.train.stages`) it

1. starts from the previous stage's final weights (stage 1 and the joint ablation from a
   freshly built model), or from the stage's newest checkpoint with ``resume``;
2. freezes every parameter group the stage does not train (``model.set_trainable``);
3. runs AdamW (weight decay 0.05, none on biases and norm scales) with a linear warm-up
   over the first 3 % of steps and a cosine decay, clipping gradients;
4. logs loss, learning rate and throughput to ``log.jsonl`` (and TensorBoard when
   installed), with a progress bar;
5. writes a checkpoint every ``save_every`` steps (atomically, keeping the last k) and the
   stage's final weights, from which the next stage starts.

Data order is a pure function of (seed, epoch): each epoch is one seeded permutation of
the stage's items, split into global batches (per-device batch x processes x
accumulation) and dealt to processes, so a resumed run skips exactly the batches already
consumed and sees the same ones afterwards, and all processes agree without talking.
"""
from __future__ import annotations

import dataclasses
import inspect
import json
import logging
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from ..atomic import atomic_write_text
from ..errors import ConfigError, SkeletonLLMError
from ..mllm.precision import keep_trainable_fp32
from . import checkpointing as ck
from .config import RunConfig, TrainSection
from .stages import Stage
from .tasks import TaskCollator

log = logging.getLogger(__name__)


# -- data order -----------------------------------------------------------------------------

def epoch_plan(num_items: int, seed: int, epoch: int, num_processes: int, rank: int,
               batch_size: int, accumulation: int) -> list[list[int]]:
    """This process's micro-batches (lists of item indices) for one epoch.

    The epoch is a permutation of all items seeded by (seed, epoch), wrapped around to a
    whole number of optimiser steps (each step takes ``batch_size * num_processes *
    accumulation`` items), so every process does the same number of micro-batches and
    every optimiser step is complete. Micro-batch ``k`` of process ``r`` is slice
    ``[(k * P + r) * B, (k * P + r + 1) * B)`` of the permutation.
    """
    if num_items < 1:
        raise ValueError("a stage needs at least one training item")
    per_step = batch_size * num_processes * accumulation
    steps = math.ceil(num_items / per_step)
    order = np.random.default_rng([seed, epoch]).permutation(num_items)
    order = np.resize(order, steps * per_step)  # wraps around: a few items twice in the last step
    micro = []
    for k in range(steps * accumulation):
        start = (k * num_processes + rank) * batch_size
        micro.append(order[start:start + batch_size].tolist())
    return micro


def steps_per_epoch(num_items: int, batch_size: int, num_processes: int, accumulation: int) -> int:
    return math.ceil(num_items / (batch_size * num_processes * accumulation))


# -- optimiser ------------------------------------------------------------------------------

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


# -- logging --------------------------------------------------------------------------------

class RunLogger:
    """JSONL log (one object per line, appended and flushed) plus TensorBoard when available."""

    def __init__(self, path: Path, tensorboard: bool, enabled: bool):
        self.enabled = enabled
        self.path = path
        self.tb = None
        if not enabled:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        if tensorboard:
            try:
                import importlib.util
                if importlib.util.find_spec("tensorboard") is not None:
                    from torch.utils.tensorboard import SummaryWriter
                    self.tb = SummaryWriter(str(path.parent / "tensorboard"))
            except Exception as e:  # TensorBoard is optional; the JSONL log is the record
                log.warning("TensorBoard logging disabled: %s", e)

    def write(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        record = {"time": round(time.time(), 3), **record}
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, default=str) + "\n")
            fh.flush()
        if self.tb is not None and "step" in record:
            for k, v in record.items():
                if k not in ("step", "time") and isinstance(v, (int, float)) and not isinstance(v, bool):
                    self.tb.add_scalar(k, v, record["step"])

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


# -- one stage ------------------------------------------------------------------------------

@dataclass
class StageResult:
    stage: str
    final_dir: Path
    steps: int
    items: int
    resumed_from: str | None
    seconds: float
    last_loss: float | None


def trainable_digest(model) -> str:
    """SHA-256 of every trainable parameter's bytes, in order (frozen ones cannot drift)."""
    import hashlib
    h = hashlib.sha256()
    for name, p in model.named_parameters():
        if p.requires_grad:
            h.update(name.encode())
            h.update(p.detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def check_replicas(accelerator, model) -> bool | None:
    """Whether all processes hold bit-identical trainable weights (None: one process, or
    sharded weights under FSDP). Logged at the end of each stage; a mismatch is an error,
    since the final weights are written by process 0 alone."""
    from accelerate.utils import DistributedType, gather_object
    if accelerator.num_processes == 1 or accelerator.distributed_type == DistributedType.FSDP:
        return None
    digests = gather_object([trainable_digest(model)])
    if len(set(digests)) != 1:
        raise RuntimeError(f"the {accelerator.num_processes} processes ended the stage with different weights "
                           f"(digests {digests}); the data-parallel replicas diverged")
    return True


def stage_seed(seed: int, stage: Stage) -> int:
    """The global seed set before a stage builds its model (so a fresh model is reproducible)."""
    return seed * 1000 + stage.index


def make_accelerator(train: TrainSection, cpu: bool = False):
    """An :class:`accelerate.Accelerator` for ``train``: bf16 when ``auto`` and the GPU supports it."""
    from accelerate import Accelerator
    from accelerate.utils import DistributedDataParallelKwargs

    mp = train.mixed_precision
    if mp == "auto":
        mp = "bf16" if (torch.cuda.is_available() and torch.cuda.is_bf16_supported() and not cpu) else "no"
    accelerator = Accelerator(mixed_precision=mp, cpu=cpu, gradient_accumulation_steps=train.gradient_accumulation_steps,
                              kwargs_handlers=[DistributedDataParallelKwargs(
                                  find_unused_parameters=train.find_unused_parameters)])
    _fsdp_on_cpu(accelerator)
    _deepspeed_on_cpu(accelerator)
    return accelerator


def _fsdp_on_cpu(accelerator) -> None:
    """Honour an FSDP launch config on CPU processes (gloo).

    accelerate 1.15 turns ``ACCELERATE_USE_FSDP`` into FSDP only for accelerator devices; on
    CPU processes it silently falls back to DDP (``MULTI_CPU``). torch's FSDP runs on CPU
    tensors over gloo, so the state is promoted here and the same FSDP code path runs: this
    is how the FSDP path is tested on machines without a GPU.
    """
    from accelerate.state import PartialState
    from accelerate.utils import DistributedType, FullyShardedDataParallelPlugin
    state = accelerator.state
    if os.environ.get("ACCELERATE_USE_FSDP", "false").lower() != "true" \
            or state.distributed_type != DistributedType.MULTI_CPU:
        return
    plugin = FullyShardedDataParallelPlugin()  # reads the FSDP_* variables accelerate launch sets
    if accelerator.mixed_precision != "no":
        plugin.set_mixed_precision(accelerator.mixed_precision)
    state.distributed_type = DistributedType.FSDP
    state.fsdp_plugin = plugin
    # AcceleratorState re-reads PartialState's shared fields whenever it is instantiated again,
    # as accelerate itself does after choosing FSDP.
    PartialState._shared_state["distributed_type"] = DistributedType.FSDP
    # MULTI_CPU names the device "cpu:<rank>"; FSDP v1 compares device_id with its compute
    # device ("cpu") and refuses the indexed form.
    state.device = torch.device("cpu")


def _deepspeed_on_cpu(accelerator) -> None:
    """Honour a DeepSpeed launch config on CPU processes (gloo), as :func:`_fsdp_on_cpu` does for FSDP.

    accelerate 1.15 turns ``ACCELERATE_USE_DEEPSPEED`` into DeepSpeed only when the processes are
    not put on the CPU; with ``--cpu`` it silently runs plain DDP (``MULTI_CPU``). Without
    ``--cpu`` on a machine without a GPU it is worse: DeepSpeed's process group has every
    process but accelerate's state counts one, and DeepSpeed stops at start-up ("train_batch_size
    is not equal to micro_batch_per_gpu * gradient_acc_step * world_size 1 != 1 * 1 * 2").
    DeepSpeed runs on CPU tensors (its CPU accelerator), so the state, which counts the processes
    right under ``MULTI_CPU``, is promoted here and the same DeepSpeed code path runs.
    """
    from accelerate.state import PartialState
    from accelerate.utils import DeepSpeedPlugin, DistributedType
    state = accelerator.state
    if os.environ.get("ACCELERATE_USE_DEEPSPEED", "false").lower() != "true" \
            or state.distributed_type != DistributedType.MULTI_CPU:
        return
    plugin = DeepSpeedPlugin()  # reads the ACCELERATE_DEEPSPEED_* variables accelerate launch sets
    plugin.set_mixed_precision(accelerator.mixed_precision)
    plugin.select(_from_accelerator_state=True)
    state.deepspeed_plugins = plugin
    state.distributed_type = DistributedType.DEEPSPEED
    PartialState._shared_state["distributed_type"] = DistributedType.DEEPSPEED
    state.device = torch.device("cpu")
    if accelerator.mixed_precision != "fp8":
        state._mixed_precision = "no"  # DeepSpeed casts by its own config, as accelerate does on GPUs


def _deepspeed_batch_fields(accelerator, train: TrainSection) -> None:
    """DeepSpeed's batch geometry from the run config.

    Our data loader is not accelerate's, so accelerate cannot read the micro-batch from it: that
    one is set here. ``train_batch_size`` and ``gradient_accumulation_steps`` are left ``"auto"``
    for accelerate to fill from its own process count and accumulation (micro-batch x
    accumulation x processes), the numbers DeepSpeed checks at start-up. A DeepSpeed config file
    that names other numbers than the run config is refused.
    """
    plugin = getattr(accelerator.state, "deepspeed_plugin", None)
    if plugin is None:
        return
    cfg = plugin.deepspeed_config
    P, B, A = accelerator.num_processes, train.per_device_batch_size, train.gradient_accumulation_steps
    for key, ours in (("train_micro_batch_size_per_gpu", B), ("gradient_accumulation_steps", A),
                      ("train_batch_size", B * A * P)):
        given = cfg.get(key, "auto")
        if given != "auto" and given != ours:
            raise ConfigError(None, f"deepspeed_config.{key}", f"is {given}, but the run config gives {ours} "
                              "(per_device_batch_size, gradient_accumulation_steps, processes): set it to \"auto\"")
        cfg[key] = "auto"
    cfg["train_micro_batch_size_per_gpu"] = B
    cfg["gradient_clipping"] = float(train.max_grad_norm or 0.0)


def keep_renderer_fp32(accelerator, model) -> None:
    """Under FSDP v2 with mixed precision, shard the renderer as a unit of its own that computes in float32.

    FSDP's mixed-precision policy gathers every parameter of a unit in bf16 for the forward; the
    renderer would otherwise sit in the root unit and rasterise with bf16 weights (autocast being
    off around it does not help). Called before the optimiser is built, so that it holds the
    renderer's sharded parameters.
    """
    from accelerate.utils import DistributedType
    renderer = getattr(model, "renderer", None)
    if (accelerator.distributed_type != DistributedType.FSDP or accelerator.mixed_precision == "no"
            or getattr(accelerator.state.fsdp_plugin, "fsdp_version", 1) != 2
            or renderer is None or not any(True for _ in renderer.parameters())):
        return
    from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard
    fully_shard(renderer, mp_policy=MixedPrecisionPolicy(param_dtype=torch.float32, reduce_dtype=torch.float32))


def _sharded(accelerator) -> bool:
    from accelerate.utils import DistributedType
    return accelerator.distributed_type in (DistributedType.DEEPSPEED, DistributedType.FSDP)


def train_stage(stage: Stage, dataset: Dataset, init_model: Callable[[], Any], load_model: Callable[[Path], Any],
                stage_dir: Path, train: TrainSection, collator: TaskCollator, accelerator, seed: int = 0,
                resume: bool = False, group_lr: dict[str, float] | None = None,
                progress: bool = True, extra_log: dict | None = None,
                optimizer_fn: Callable | None = None) -> StageResult:
    """Train one stage; returns where its final weights are.

    Args:
        dataset: the stage's items (:class:`~skeletonllm.train.tasks.TaskItem`); must have
            ``set_epoch(epoch)``.
        init_model: builds the model the stage starts from (previous stage's weights).
        load_model: loads a model from a ``save_pretrained`` directory (for resuming).
        stage_dir: the stage's output directory (``checkpoints/``, ``final/``, ``log.jsonl``).
        resume: continue from the newest complete checkpoint in ``stage_dir`` if any.
        collator: items -> a batch: ``(skeletons, prompts, targets)``, passed to the model as
            those keywords, or a mapping of keyword arguments with a ``skeletons`` entry (other
            models, e.g. SUGAR's skeleton-text alignment, take other inputs).
        optimizer_fn: ``(model, stage, train, group_lr) -> optimizer``; default
            :func:`build_optimizer` (AdamW).
    """
    from accelerate.utils import set_seed

    t_start = time.time()
    ckpt_root = stage_dir / "checkpoints"
    final_dir = stage_dir / "final"
    is_main = accelerator.is_main_process
    if is_main:
        ck.remove_stale_tmp(ckpt_root)
        ck.remove_stale_tmp(stage_dir)
    accelerator.wait_for_everyone()

    resume_from = ck.latest_checkpoint(ckpt_root) if resume else None
    # Same seed on every process: identical initial weights without a broadcast.
    set_seed(stage_seed(seed, stage))
    model = load_model(resume_from / "model") if resume_from is not None else init_model()
    model.set_trainable(stage.trains)
    keep_trainable_fp32(model)   # any model class: updates of bf16 weights round away (mllm.precision)
    keep_renderer_fp32(accelerator, model)

    n_items = len(dataset)
    B, A, P = train.per_device_batch_size, train.gradient_accumulation_steps, accelerator.num_processes
    per_epoch = steps_per_epoch(n_items, B, P, A)
    total = per_epoch * stage.epochs
    if train.max_steps is not None:
        total = min(total, train.max_steps)
    optimizer = (optimizer_fn or build_optimizer)(model, stage, train, group_lr)
    scheduler = build_scheduler(optimizer, total, train.warmup_ratio)
    _deepspeed_batch_fields(accelerator, train)
    model, optimizer = accelerator.prepare(model, optimizer)
    sharded = _sharded(accelerator)

    step, epoch, step_in_epoch = 0, 0, 0
    logger = RunLogger(stage_dir / "log.jsonl", train.tensorboard, is_main)
    if resume_from is not None:
        state = ck.load_trainer_state(resume_from, accelerator, optimizer, scheduler, sharded)
        saved = (state.get("seed"), state.get("items"), state.get("total_steps"))
        if saved != (seed, n_items, total):
            raise RuntimeError(f"{resume_from}: written by a run with (seed, items, steps) = {saved}, but this run "
                               f"has {(seed, n_items, total)}; resume with the same config and data")
        step, epoch, step_in_epoch = state["step"], state["epoch"], state["step_in_epoch"]
        logger.write({"event": "resume", "stage": stage.name, "step": step, "from": str(resume_from)})
    else:
        logger.write({"event": "start", "stage": stage.name, "items": n_items, "steps": total,
                      "steps_per_epoch": per_epoch, "epochs": stage.epochs, "lr": stage.lr,
                      "trains": list(stage.trains), "tasks": list(stage.tasks), "processes": P,
                      "distributed_type": accelerator.distributed_type.value,
                      "mixed_precision": accelerator.mixed_precision, **(extra_log or {})})

    def state_dict() -> dict:
        return {"stage": stage.name, "step": step, "epoch": epoch, "step_in_epoch": step_in_epoch,
                "seed": seed, "items": n_items, "total_steps": total}

    bar = None
    if progress and is_main:
        from tqdm.auto import tqdm
        bar = tqdm(total=total, initial=step, desc=f"stage {stage.index} {stage.name}", unit="step",
                   dynamic_ncols=True)
    model.train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    last_loss = None
    # Summed on the device: reading a loss back every micro-batch would stall a GPU.
    zero = torch.zeros((), dtype=torch.float64, device=accelerator.device)
    window_loss, window_n, window_items, window_t = zero, 0, 0, time.time()
    while step < total:
        dataset.set_epoch(epoch)
        plan = epoch_plan(n_items, seed, epoch, P, accelerator.process_index, B, A)
        plan = plan[step_in_epoch * A:]
        # The loader gets its own generator: creating an iterator must not draw from the global
        # RNG, or a run resumed mid-epoch would see different dropout masks from then on.
        loader = DataLoader(dataset, batch_sampler=plan, collate_fn=collator, num_workers=train.num_workers,
                            pin_memory=accelerator.device.type == "cuda",
                            generator=torch.Generator().manual_seed(seed * 100003 + epoch))
        accelerator.step = 0  # accumulation counts restart at an optimiser-step boundary
        for batch in loader:
            inputs = dict(batch) if isinstance(batch, Mapping) else dict(zip(("skeletons", "prompts", "targets"), batch))
            inputs["skeletons"] = inputs["skeletons"].to(accelerator.device)
            with accelerator.accumulate(model):
                out = model(**inputs)
                loss = out.loss
                accelerator.backward(loss)
                if accelerator.sync_gradients and train.max_grad_norm:
                    accelerator.clip_grad_norm_(trainable, train.max_grad_norm)
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
            window_loss = window_loss + loss.detach().double()
            window_n += 1
            window_items += inputs["skeletons"].batch_size
            if not accelerator.sync_gradients:
                continue
            scheduler.step()
            step += 1
            step_in_epoch += 1
            if step_in_epoch == per_epoch:
                epoch, step_in_epoch = epoch + 1, 0
            if step % train.log_every == 0 or step == total:
                counts = torch.tensor([window_n, window_items], dtype=torch.float64, device=accelerator.device)
                stats = accelerator.reduce(torch.cat([window_loss[None], counts]), reduction="sum")
                elapsed = max(time.time() - window_t, 1e-9)
                last_loss = float(stats[0] / max(stats[1], 1))
                if not math.isfinite(last_loss):
                    raise FloatingPointError(f"stage '{stage.name}': the loss became {last_loss} at step {step}; "
                                             "lower the learning rate or check the data")
                rec = {"stage": stage.name, "step": step, "epoch": epoch, "loss": last_loss,
                       "lr": scheduler.get_last_lr()[0], "samples_per_s": float(stats[2]) / elapsed,
                       "seconds_per_step": elapsed / max(window_n / A, 1)}
                logger.write(rec)
                if bar is not None:
                    bar.set_postfix(loss=f"{last_loss:.4f}", samples_s=f"{rec['samples_per_s']:.2f}")
                window_loss, window_n, window_items, window_t = zero, 0, 0, time.time()
            if bar is not None:
                bar.update(1)
            if train.save_every and step % train.save_every == 0 and step < total:
                ck.save_checkpoint(accelerator, ckpt_root / ck.checkpoint_name(step), model, optimizer, scheduler,
                                   state_dict(), sharded)
                if is_main:
                    ck.prune_checkpoints(ckpt_root, train.keep_last)
                    logger.write({"event": "checkpoint", "step": step})
            if step >= total:
                break
    if bar is not None:
        bar.close()

    accelerator.wait_for_everyone()
    unwrapped = accelerator.unwrap_model(model)
    in_sync = check_replicas(accelerator, unwrapped)
    ck.write_final(accelerator, final_dir, model, {**state_dict(), "stage_index": stage.index,
                                                   "trains": list(stage.trains), "tasks": list(stage.tasks)})
    if is_main:
        logger.write({"event": "done", "stage": stage.name, "step": step, "replicas_identical": in_sync,
                      "seconds": round(time.time() - t_start, 3)})
    logger.close()
    accelerator.wait_for_everyone()
    result = StageResult(stage.name, final_dir, step, n_items, str(resume_from) if resume_from else None,
                         time.time() - t_start, last_loss)
    accelerator.free_memory()
    del model, optimizer
    return result


# -- a whole run from a config --------------------------------------------------------------

class StageOrderError(SkeletonLLMError, RuntimeError):
    """A stage cannot start: its predecessor has not finished, or its directory is already used."""


def _model_factories(cfg: RunConfig, device: torch.device):
    """(fresh, load) builders for the configured model class, placed on ``device`` directly
    (so that eight processes do not all first load an 8B model onto GPU 0)."""
    cls = cfg.model_cls()
    mcfg = cfg.model_config()
    names = {f.name for f in dataclasses.fields(mcfg)}
    if "device" in names and getattr(mcfg, "device") is None:
        mcfg = dataclasses.replace(mcfg, device=str(device))
    if "num_frames" in names:  # the checkpoint remembers how many frames it was trained on
        mcfg = dataclasses.replace(mcfg, num_frames=cfg.data.num_frames)
    takes_device = "device" in inspect.signature(cls.from_pretrained).parameters

    def fresh():
        return cls(mcfg)

    def load(path: Path):
        return cls.from_pretrained(path, device=str(device)) if takes_device else cls.from_pretrained(path)

    return fresh, load


@dataclass
class TrainingData:
    """What a run trains on.

    Attributes:
        sequences: the clips (all classes; tasks drop the unseen ones and count them).
        classes: the dataset's full class list (for validating a negatives file).
        seen, unseen: the split's class names; ``seen`` None when there is no split.
        rationales: a rationale source (``get(sample_id)``) that comes with the data
            (procedural sets write their own), else None (then ``data.rationales`` is read).
        neighbors: hard negatives ``{class: [names]}`` that come with the data, likewise.
    """

    sequences: list
    classes: list[str] | None = None
    seen: list[str] | None = None
    unseen: list[str] = dataclasses.field(default_factory=list)
    rationales: Any = None
    neighbors: dict[str, list[str]] | None = None

    def guard(self):
        from .tasks import ClassGuard
        return None if self.seen is None else ClassGuard(self.seen, self.unseen)

    def class_record(self, split: str | None) -> dict | None:
        """What the trained checkpoints remember of these classes (None without a class list)."""
        from ..mllm.checkpoint import class_record
        return None if self.seen is None else class_record(split, self.classes, self.seen, self.unseen)


def with_classes(build: Callable, classes: dict | None) -> Callable:
    """``build`` (a model factory), with the model's ``classes`` set, so that its checkpoints carry them."""
    if classes is None:
        return build

    def built(*args):
        model = build(*args)
        model.classes = classes
        return model

    return built


def split_name(data) -> str | None:
    """The class split a data section trains on: ``data.split``, or the procedural set's split."""
    if data.split is not None:
        return data.split
    return (data.synth or {}).get("split", "synth_24_6") if data.synth is not None else None


def _synthetic_data(options: dict, seed: int) -> TrainingData:
    """The procedural motion set (:mod:`skeletonllm.synth`): its seen clips, split, rationales and
    hard negatives (the 5 most similar classes by the generator's own motion programs, mined
    over all classes like a teacher would; Disc-FT keeps the seen ones)."""
    from ..synth import SyntheticMotionSet, similar_classes

    options = dict(options)
    split = options.pop("split", "synth_24_6")
    topology = options.pop("topology", "ntu25")
    num_per_class = options.pop("num_per_class", 8)
    set_seed_ = options.pop("seed", seed)
    if options:
        raise ConfigError(None, f"data.synth.{next(iter(options))}",
                          "unknown key (known: split, topology, num_per_class, seed)")
    ds = SyntheticMotionSet.for_split(split, num_per_class=num_per_class, seed=set_seed_, topologies=(topology,))
    seqs, rationales = [], {}
    for i in ds.seen_indices():
        sample = ds[i]
        seq = sample.sequence(topology)
        sid = f"synth-{split}-{set_seed_}-{i}"
        qa = [{"question": q.question, "options": list(q.options), "answer": q.options[q.answer]} for q in sample.qa]
        seqs.append(dataclasses.replace(seq, metadata={**seq.metadata, "sample_id": sid, "qa": qa}))
        rationales[sid] = {"id": sid, "label": sample.label, "rationale": sample.rationale}
    classes = list(ds.split.classes)
    neighbors = {c: similar_classes(c, classes, 5) for c in classes}
    return TrainingData(seqs, classes, list(ds.split.seen), list(ds.split.unseen), rationales, neighbors)


def load_files(patterns, max_bodies: int | None, bad_files=None) -> list:
    """Every clip of the files that ``patterns`` (paths or globs, ``data.files``) name, in order
    (:func:`skeletonllm.train.data.load_clips`)."""
    from .data import load_clips
    return load_clips(patterns, max_bodies, bad_files)


def _dataset_clips(data, bad_files) -> list:
    """The clips of ``data.dataset`` under ``data.root``: lazy loaders (read in the DataLoader's
    workers) when the dataset has a class list, else parsed now."""
    from ..skeleton.dataset import load_dataset
    from ..skeleton.splits import class_names
    from .data import LazyClips
    options = {"max_bodies": data.max_bodies} if data.dataset in ("ntu60", "ntu120") else None
    ds = load_dataset(data.dataset, data.root, subset=data.subset, split=data.split,
                      cache_dir=data.cache_dir, options=options)
    if ds.excluded:
        log.info("%d NTU samples with missing skeletons left out (the dataset authors' lists)", len(ds.excluded))
    try:
        names = class_names(data.dataset)
    except KeyError:  # no class list (captions, QA): labels and metadata come from the files
        return [ds[i] for i in range(len(ds))]
    return LazyClips(ds, names, bad_files).clips()


def load_training_data(data, seed: int = 0, bad_files=None) -> TrainingData:
    """The clips, classes and split that ``data`` (a :class:`~.config.DataSection`) names.

    Dataset clips are loaders read when a batch needs them (:mod:`skeletonllm.train.data`);
    ``bad_files``, a :class:`~skeletonllm.train.data.BadFileLog`, takes the files that fail to
    parse (``None``: they raise).
    """
    if data.synth is not None:
        out = _synthetic_data(data.synth, seed)
    else:
        if data.files is not None:
            seqs = load_files(data.files, data.max_bodies, bad_files)
        else:
            seqs = _dataset_clips(data, bad_files)
        out = TrainingData(seqs)
        if data.split is not None:
            from ..skeleton.splits import class_names, get_split
            split = get_split(data.split)
            out.classes = list(class_names(split.dataset))
            out.seen, out.unseen = list(split.seen_names), list(split.unseen_names)
        else:  # no split: every labelled class is a training class
            labels = sorted({s.label for s in seqs if s.label is not None})
            out.classes, out.seen = (labels, labels) if labels else (None, None)
    if data.max_samples is not None:
        out.sequences = out.sequences[:data.max_samples]
    if not out.sequences:
        raise ConfigError(None, "data", "the configured data source holds no clips")
    return out


def build_stage_data(stage: Stage, training: TrainingData, data, seed: int):
    """The stage's dataset (its tasks, mixed) and per-task statistics for the log."""
    from .tasks import MixedTasks, build_task
    neighbors, rationales = training.neighbors, None
    if "disc" in stage.tasks and data.negatives is not None:
        from .negatives import load_negatives
        if training.classes is None:
            raise StageOrderError("data.negatives needs the dataset's class list: set data.split")
        neighbors = load_negatives(data.negatives, training.classes)
    if "cr_distill" in stage.tasks:
        if data.rationales is not None and Path(data.rationales).is_file():
            from .rationales import RationaleCache
            rationales = RationaleCache(data.rationales)
        elif training.rationales is not None:
            rationales = training.rationales
        else:
            raise StageOrderError(
                f"stage '{stage.name}' needs teacher rationales, but data.rationales "
                f"({data.rationales!r}) is not a file. Generate them from frames rendered by the "
                "stage-2 model (paper, appendix E.3.3), then run the remaining stages.")
    guard = training.guard()
    sequences = training.sequences
    tasks, stats = [], {}
    for name in stage.tasks:
        task = build_task(name, sequences, guard, neighbors=neighbors, rationales=rationales, seed=seed,
                          num_frames=data.num_frames, train=True)
        stats[name] = {"items": len(task), "clips": task.stats.clips, "skipped": task.stats.skipped}
        if len(task) == 0:
            raise ConfigError(None, "data", f"stage '{stage.name}': task '{name}' has no items "
                                            f"({task.stats.clips} clips; skipped: {task.stats.skipped})")
        tasks.append(task)
    return (tasks[0] if len(tasks) == 1 else MixedTasks(tasks)), stats


def stage_to_run(stage: Stage, stage_dir: Path, resume: bool) -> bool:
    """Whether ``stage`` is to be trained into ``stage_dir``: False when it finished and ``resume``
    skips it; :class:`StageOrderError` when, without ``resume``, the directory holds its result or
    an interrupted run's checkpoints (nothing is overwritten)."""
    if ck.is_complete(stage_dir / "final"):
        if resume:
            log.info("stage %s already finished (%s): skipped", stage.name, stage_dir / "final")
            return False
        raise StageOrderError(f"{stage_dir / 'final'} already holds this stage's result; pass --resume to "
                              "skip finished stages, or choose another run.output_dir")
    if not resume and ck.list_checkpoints(stage_dir / "checkpoints"):
        raise StageOrderError(f"{stage_dir / 'checkpoints'} holds checkpoints of an interrupted run; pass "
                              "--resume to continue it, or delete the directory to start the stage over")
    return True


def run_training(cfg: RunConfig, stages: str | int | None = "all", resume: bool = False, joint: bool = False,
                 progress: bool = True, cpu: bool = False, training: TrainingData | None = None) -> list[StageResult]:
    """Train the stages ``stages`` names (``"all"``, ``3``, ``"2-4"``) of ``cfg``'s curriculum, or the joint ablation.

    Each stage reads the previous stage's ``final/`` weights and writes its own under
    ``run.output_dir``. With ``resume`` finished stages are skipped and an interrupted one
    continues from its newest checkpoint; without it, a stage whose directory already holds
    results is an error (nothing is overwritten). ``training`` replaces the config's data
    source with clips already in memory (``data.negatives`` / ``rationales`` still apply).
    """
    import yaml

    from .stages import curriculum, select_stages

    table, joint_stage = curriculum(cfg.stage_overrides())
    selected = [joint_stage] if joint else select_stages(stages, table)
    out = Path(cfg.run.output_dir)
    accelerator = make_accelerator(cfg.train, cpu=cpu)
    if accelerator.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / "config.yaml", yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    fresh, load = _model_factories(cfg, accelerator.device)
    from .data import BadFileLog
    bad_files = BadFileLog(out / "bad_files.jsonl", cfg.data.max_bad_files)
    if training is None:
        training = load_training_data(cfg.data, cfg.run.seed, bad_files)
    classes = training.class_record(split_name(cfg.data))
    fresh, load = with_classes(fresh, classes), with_classes(load, classes)
    results = []
    for stage in selected:
        stage_dir = out / stage.dirname
        if not stage_to_run(stage, stage_dir, resume):
            continue
        if stage.index <= 1:
            init = fresh
        else:
            prev = next(s for s in table if s.index == stage.index - 1)
            prev_final = out / prev.dirname / "final"
            if not ck.is_complete(prev_final):
                raise StageOrderError(f"stage {stage.index} ({stage.name}) starts from stage {prev.index}'s "
                                      f"weights, but {prev_final} is missing or incomplete; run stage {prev.index} first")
            init = (lambda p=prev_final: load(p))
        dataset, stats = build_stage_data(stage, training, cfg.data, cfg.run.seed)
        group_lr = cfg.stages[stage.name].group_lr if stage.name in cfg.stages else None
        collator = TaskCollator(cfg.data.num_frames, cfg.data.max_bodies)
        results.append(train_stage(stage, dataset, init, load, stage_dir, cfg.train, collator, accelerator,
                                   seed=cfg.run.seed, resume=resume, group_lr=group_lr, progress=progress,
                                   extra_log={"tasks_data": stats}))
    if accelerator.is_main_process and bad_files.files():
        log.warning("%d training files failed to parse and were skipped: %s", len(bad_files.files()), bad_files.path)
    return results
