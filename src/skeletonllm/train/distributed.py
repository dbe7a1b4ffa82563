"""Collectives a loss needs when it compares samples across the processes of a data-parallel run.

A contrastive loss over a batch (SUGAR's MIL-NCE) wants every sample of the *global* batch as a
negative, but each process holds only its own clips. :func:`gather_rows` concatenates a tensor's
rows from every process (process order) and is differentiable: the gradient that reaches a
process's own rows is the sum, over all processes, of what their losses send back to those rows.
With each process's loss scaled as :func:`global_share` says, DDP's gradient average then equals
the gradient of the single-process loss on the union of the batches, and the logged mean loss is
that loss too (tested on two CPU processes over gloo).

Outside a multi-process run (no process group, or one process) everything here is the identity.
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.distributed as dist


def world() -> tuple[int, int]:
    """``(rank, processes)`` of the default process group; ``(0, 1)`` without one."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class _GatherRows(torch.autograd.Function):
    """All processes' rows of ``x`` (padded to one length for the collective, then cut)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, counts: tuple[int, ...], rank: int) -> torch.Tensor:
        width = max(counts)
        padded = x.new_zeros((width, *x.shape[1:]))
        padded[: x.shape[0]] = x
        parts = [torch.empty_like(padded) for _ in counts]
        dist.all_gather(parts, padded.contiguous())
        ctx.counts, ctx.rank = counts, rank
        return torch.cat([p[:c] for p, c in zip(parts, counts)])

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        grad = grad.contiguous().clone()
        dist.all_reduce(grad)            # every process's loss sends gradient to every row
        start = sum(ctx.counts[: ctx.rank])
        return grad[start:start + ctx.counts[ctx.rank]], None, None


def row_counts(rows: int, device) -> tuple[int, ...]:
    """Rows held by every process (they may differ: a last, smaller batch)."""
    rank, size = world()
    if size == 1:
        return (rows,)
    mine = torch.tensor([rows], dtype=torch.long, device=device)
    counts = [torch.zeros_like(mine) for _ in range(size)]
    dist.all_gather(counts, mine)
    return tuple(int(c) for c in counts)


def gather_rows(x: torch.Tensor, counts: Sequence[int] | None = None) -> torch.Tensor:
    """``(sum of counts, ...)``: ``x``'s rows from every process in process order, differentiable."""
    rank, size = world()
    if size == 1:
        return x
    counts = tuple(counts) if counts is not None else row_counts(x.shape[0], x.device)
    return _GatherRows.apply(x, counts, rank)


def gather_objects(items: Sequence[Any]) -> list[Any]:
    """Every process's ``items`` (picklable), concatenated in process order."""
    rank, size = world()
    if size == 1:
        return list(items)
    out: list[Any] = [None] * size
    dist.all_gather_object(out, list(items))
    return [x for part in out for x in part]


def global_share(counts: Sequence[int]) -> tuple[int, float]:
    """``(offset, scale)`` for a loss over this process's rows of a gathered batch.

    ``offset``: where this process's rows start in the gathered batch. ``scale``: multiply the
    *sum* of this process's per-row losses by it, so that the mean of the processes' losses
    (what DDP's gradient average and the trainer's logged loss take) is the mean over the
    whole gathered batch.
    """
    rank, size = world()
    return sum(counts[:rank]), size / max(1, sum(counts))


__all__ = ["gather_objects", "gather_rows", "global_share", "row_counts", "world"]
