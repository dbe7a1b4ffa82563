"""Training checkpoints that survive being killed at any moment.

A checkpoint is a directory ``step-00000120/`` holding::

    model/               the model's save_pretrained() output
    trainer_state.pt     optimiser, scheduler, step, epoch, position in the data, seed
    rng_rank<r>.pt       Python / NumPy / torch (CPU and CUDA) RNG states of each process
    optimizer_rank<r>.pt the optimiser shard of each process (ZeRO / FSDP only)
    COMPLETE             JSON marker written last: {"step": ..., "epoch": ..., ...}

It is assembled in a ``.tmp-*`` sibling and renamed into place in one step
(:func:`skeletonllm.atomic.atomic_directory`), so a process killed mid-write leaves only
a ``.tmp-*`` directory. :func:`list_checkpoints` accepts only directories named
``step-N`` that hold a ``COMPLETE`` marker naming the same step: a half-written
checkpoint is never resumed from.
"""
from __future__ import annotations

import contextlib
import json
import random
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..atomic import TMP_PREFIX, atomic_directory, atomic_write_text

MARKER = "COMPLETE"
_STEP_DIR = re.compile(r"^step-(\d+)$")


def checkpoint_name(step: int) -> str:
    return f"step-{step:08d}"


def is_complete(path: str | Path) -> bool:
    """True for a fully written checkpoint (or final model) directory."""
    path = Path(path)
    if path.name.startswith(TMP_PREFIX) or not path.is_dir():
        return False
    marker = path / MARKER
    try:
        info = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    m = _STEP_DIR.match(path.name)
    if m is not None and info.get("step") != int(m.group(1)):
        return False
    return True


def list_checkpoints(root: str | Path) -> list[Path]:
    """Complete checkpoints under ``root``, oldest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = []
    for p in root.iterdir():
        m = _STEP_DIR.match(p.name)
        if m and is_complete(p):
            found.append((int(m.group(1)), p))
    return [p for _, p in sorted(found)]


def latest_checkpoint(root: str | Path) -> Path | None:
    ckpts = list_checkpoints(root)
    return ckpts[-1] if ckpts else None


def prune_checkpoints(root: str | Path, keep_last: int) -> None:
    """Delete all but the newest ``keep_last`` complete checkpoints, and stale ``.tmp-*`` leftovers."""
    root = Path(root)
    for old in list_checkpoints(root)[:-keep_last] if keep_last > 0 else []:
        shutil.rmtree(old, ignore_errors=True)


def remove_stale_tmp(root: str | Path) -> None:
    """Remove ``.tmp-*`` directories left by a process killed mid-write (call before training starts)."""
    root = Path(root)
    if root.is_dir():
        for p in root.iterdir():
            if p.name.startswith(TMP_PREFIX):
                shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)


# -- RNG state ----------------------------------------------------------------------------

def rng_state() -> dict[str, Any]:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# -- save / load --------------------------------------------------------------------------

@contextlib.contextmanager
def full_weights(accelerator, model):
    """Inside, ``accelerator.unwrap_model(model)`` holds the full weights on the main process.

    A no-op except under FSDP, where the shards are gathered for the duration (a collective:
    every process must enter). FSDP v1: ``summon_full_params`` (rank 0 only, on the CPU).
    FSDP v2 (``fully_shard``): every sharded module is unsharded, so its parameters are whole
    tensors again (on every process, once per save), and resharded on the way out. DDP and
    ZeRO-2 keep whole weights on every process anyway.
    """
    from accelerate.utils import DistributedType
    if accelerator.distributed_type != DistributedType.FSDP:
        yield
        return
    from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
    if isinstance(model, FSDP):
        with FSDP.summon_full_params(model, writeback=False, rank0_only=True, offload_to_cpu=True):
            yield
        return
    from torch.distributed.fsdp import FSDPModule
    sharded = [m for m in model.modules() if isinstance(m, FSDPModule)]
    if not sharded:
        raise RuntimeError("FSDP is on, but the model holds neither FullyShardedDataParallel nor fully_shard modules")
    for m in sharded:
        m.unshard()
    # fully_shard registers state_dict pre-hooks that put the sharded DTensors back (so that
    # state_dict() returns shards); they are silenced while the whole tensors are saved.
    hooks = {m: dict(m._state_dict_pre_hooks) for m in model.modules() if m._state_dict_pre_hooks}
    for m in hooks:
        m._state_dict_pre_hooks.clear()
    try:
        yield
    finally:
        for m, saved in hooks.items():
            m._state_dict_pre_hooks.update(saved)
        for m in sharded:
            m.reshard()


def save_checkpoint(accelerator, path: Path, model, optimizer, scheduler, state: dict[str, Any],
                    sharded_optimizer: bool = False) -> None:
    """Write a checkpoint from every process of ``accelerator`` into ``path`` atomically.

    The main process owns the temporary directory and the final rename; every process
    writes its RNG state (and its optimiser shard when ``sharded_optimizer``) into it
    first. Assumes the processes share a filesystem (one machine, or a shared disk).
    """
    from accelerate.utils import broadcast_object_list

    rank = accelerator.process_index
    ctx = atomic_directory(path) if accelerator.is_main_process else None
    tmp = [str(ctx.__enter__()) if ctx is not None else None]
    try:
        if accelerator.num_processes > 1:
            broadcast_object_list(tmp, from_process=0)
        tmp_dir = Path(tmp[0])
        torch.save(rng_state(), tmp_dir / f"rng_rank{rank}.pt")
        if sharded_optimizer:
            torch.save(optimizer.state_dict(), tmp_dir / f"optimizer_rank{rank}.pt")
        with full_weights(accelerator, model):
            if ctx is not None:
                accelerator.unwrap_model(model).save_pretrained(tmp_dir / "model")
        accelerator.wait_for_everyone()
        if ctx is not None:
            trainer_state = dict(state)
            trainer_state["scheduler"] = scheduler.state_dict()
            trainer_state["num_processes"] = accelerator.num_processes
            if not sharded_optimizer:
                trainer_state["optimizer"] = optimizer.state_dict()
            torch.save(trainer_state, tmp_dir / "trainer_state.pt")
            marker = {k: v for k, v in state.items() if isinstance(v, (int, float, str, bool))}
            (tmp_dir / MARKER).write_text(json.dumps(marker, sort_keys=True) + "\n")
    except BaseException as e:
        if ctx is not None:
            ctx.__exit__(type(e), e, e.__traceback__)
        raise
    if ctx is not None:
        ctx.__exit__(None, None, None)
    accelerator.wait_for_everyone()


def load_trainer_state(path: Path, accelerator, optimizer, scheduler, sharded_optimizer: bool = False) -> dict:
    """Restore optimiser, scheduler and this process's RNG from checkpoint ``path``; returns the state dict."""
    state = torch.load(path / "trainer_state.pt", map_location="cpu", weights_only=False)
    saved_procs = state.get("num_processes", 1)
    if saved_procs != accelerator.num_processes:
        raise RuntimeError(f"{path}: written by {saved_procs} process(es), resumed with {accelerator.num_processes}; "
                           "resume with the same number of processes (the data order depends on it)")
    from accelerate.utils import DistributedType
    if sharded_optimizer and accelerator.distributed_type == DistributedType.DEEPSPEED:
        _load_zero_optimizer(path, optimizer, saved_procs)
    elif sharded_optimizer:
        optimizer.load_state_dict(torch.load(path / f"optimizer_rank{accelerator.process_index}.pt",
                                             map_location="cpu", weights_only=False))
    else:
        optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    set_rng_state(torch.load(path / f"rng_rank{accelerator.process_index}.pt", weights_only=False))
    return state


def _load_zero_optimizer(path: Path, optimizer, num_processes: int) -> None:
    """Restore a DeepSpeed ZeRO optimiser from the shards every process wrote.

    DeepSpeed's ZeRO loader takes the list of all saved partitions (it picks its own by rank, and
    needs the others when a checkpoint was written with another partitioning); the fp32 master
    weights come back from the checkpoint too, not re-derived from the model's weights (which
    loses precision under bf16). ``optimizer`` is accelerate's wrapper around the ZeRO optimiser.
    """
    shards = [torch.load(path / f"optimizer_rank{r}.pt", map_location="cpu", weights_only=False)
              for r in range(num_processes)]
    optimizer.optimizer.load_state_dict(shards, load_from_fp32_weights=True)


def write_final(accelerator, path: Path, model, info: dict[str, Any]) -> None:
    """Save a stage's final model (``save_pretrained`` output) with its completion marker, atomically.

    Called by every process (the weights may have to be gathered); the main one writes.
    """
    with full_weights(accelerator, model):
        if accelerator.is_main_process:
            with atomic_directory(path) as tmp:
                accelerator.unwrap_model(model).save_pretrained(tmp)
                (tmp / MARKER).write_text(json.dumps(info, sort_keys=True) + "\n")
    accelerator.wait_for_everyone()


def write_json(path: Path, data: dict) -> None:
    atomic_write_text(path, json.dumps(data, indent=1, sort_keys=True, default=str) + "\n")
