"""The ``accelerate`` set-up a run trains under, and the end-of-stage check that its replicas agree.

:func:`make_accelerator` builds the :class:`accelerate.Accelerator` (mixed precision, DDP
options) and promotes an FSDP or DeepSpeed launch config to FSDP / DeepSpeed on CPU processes
over gloo (:func:`_fsdp_on_cpu`, :func:`_deepspeed_on_cpu`: accelerate itself falls back to
plain DDP there), which is how those paths are tested on machines without a GPU.
:func:`_deepspeed_batch_fields` gives DeepSpeed the run's batch geometry,
:func:`keep_renderer_fp32` shards the renderer as a float32 unit under FSDP v2 mixed precision,
and :func:`check_replicas` compares the data-parallel replicas' trainable weights at the end of
a stage.
"""
from __future__ import annotations

import os

import torch

from ..errors import ConfigError
from .config import TrainSection


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

