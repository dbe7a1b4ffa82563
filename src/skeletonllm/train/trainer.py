"""The curriculum trainer, on ``accelerate``.

One script for one CPU, one GPU, DDP, FSDP or DeepSpeed ZeRO: run ``skeletonllm train``
plainly, or under ``accelerate launch --config_file skeletonllm/configs/accelerate/<x>.yaml
-m skeletonllm.cli train ...`` (shipped: one GPU, 8-GPU DDP, 8-GPU ZeRO-2), or under
``torchrun --nproc_per_node N -m skeletonllm.cli train ... --cpu`` for DDP over gloo on
CPUs. Checked here: one CPU process, two-process CPU DDP (torchrun and ``accelerate
launch``), two-process CPU FSDP v2 and DeepSpeed ZeRO-2 over gloo (``accelerate launch`` with
an FSDP or DeepSpeed config; see :mod:`skeletonllm.train.accelerator`), each with
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

This module holds the loop (:func:`train_stage`) and the run over the stages
(:func:`run_training`); the parts they are made of live beside it, and every name that used
to be defined here is still importable from here:

* :mod:`~skeletonllm.train.data`           what a run trains on, the stage's dataset, the data order
* :mod:`~skeletonllm.train.optim`          AdamW over the stage's groups, warm-up + cosine schedule
* :mod:`~skeletonllm.train.accelerator`    the accelerate set-up (FSDP / DeepSpeed on CPU), replica check
* :mod:`~skeletonllm.train.checkpointing`  checkpoints written atomically, resumed from exactly
* :mod:`~skeletonllm.train.runlog`         ``log.jsonl`` and TensorBoard
"""
from __future__ import annotations

import dataclasses
import inspect
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import torch
from torch.utils.data import DataLoader, Dataset

from ..atomic import atomic_write_text
from ..mllm.precision import keep_trainable_fp32
from . import checkpointing as ck
from .accelerator import (_deepspeed_batch_fields, _deepspeed_on_cpu, _fsdp_on_cpu, _sharded, check_replicas,
                          keep_renderer_fp32, make_accelerator, trainable_digest)
from .config import RunConfig, TrainSection
from .data import (BadFileLog, TrainingData, build_stage_data, epoch_plan, load_files, load_training_data,
                   split_name, steps_per_epoch)
from .optim import WarmupCosine, build_optimizer, build_scheduler, optimizer_groups, snapshot_groups
from .runlog import RunLogger
from .stages import Stage, StageOrderError
from .tasks import TaskCollator

log = logging.getLogger(__name__)


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


def stage_seed(seed: int, stage: Stage) -> int:
    """The global seed set before a stage builds its model (so a fresh model is reproducible)."""
    return seed * 1000 + stage.index


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


def with_classes(build: Callable, classes: dict | None) -> Callable:
    """``build`` (a model factory), with the model's ``classes`` set, so that its checkpoints carry them."""
    if classes is None:
        return build

    def built(*args):
        model = build(*args)
        model.classes = classes
        return model

    return built


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


__all__ = [
    # this module: one stage, a whole run
    "StageResult", "run_training", "stage_seed", "stage_to_run", "train_stage", "with_classes",
    # re-exported from where they live now
    "StageOrderError",                                                                     # .stages
    "TrainingData", "build_stage_data", "epoch_plan", "load_files", "load_training_data",  # .data
    "split_name", "steps_per_epoch",
    "WarmupCosine", "build_optimizer", "build_scheduler", "optimizer_groups", "snapshot_groups",  # .optim
    "RunLogger",                                                                           # .runlog
    "_deepspeed_batch_fields", "_deepspeed_on_cpu", "_fsdp_on_cpu", "_sharded", "check_replicas",  # .accelerator
    "keep_renderer_fp32", "make_accelerator", "trainable_digest",
]
