"""Likelihood of several candidate answers after one shared prompt, without copying its KV cache.

Scoring C candidates after a prompt of L tokens (3072 visual tokens and more) once repeated the
prompt's KV cache C times (``batch_repeat_interleave`` on a deep copy): C x the prompt's cache in
memory at once, for answers of a few tokens each. Here the candidates of a chunk are packed into
one short sequence after the prompt instead, and a 4-D attention mask keeps them apart: each
answer token sees the prompt (its padding excluded) and the earlier tokens of its own answer,
never another candidate's. Its position ids continue the prompt's as if it were the only answer.
The cache holds the prompt once; the chunk's tokens are appended to it for the pass and cropped
away afterwards. The result equals scoring each candidate on its own (tested against full
teacher-forced passes).
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn


def _packed(chunk: Sequence[Sequence[int]], device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Inputs, targets, owning candidate and step of every packed answer token after the first."""
    inputs, targets, owner, step = [], [], [], []
    for c, ans in enumerate(chunk):
        for k in range(len(ans) - 1):
            inputs.append(ans[k])
            targets.append(ans[k + 1])
            owner.append(c)
            step.append(k)
    as_long = lambda xs: torch.tensor(xs, dtype=torch.long, device=device)  # noqa: E731
    return as_long(inputs), as_long(targets), as_long(owner), as_long(step)


def packed_mask(prefix_mask: torch.Tensor, owner: torch.Tensor, step: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``(B, 1, n, L + n)`` additive mask: 0 where a packed token may attend, the dtype's minimum elsewhere.

    ``prefix_mask`` ``(B, L)`` is the prompt's padding mask; ``owner`` / ``step`` ``(n,)`` say which
    candidate each packed token belongs to and where in it.
    """
    B, L = prefix_mask.shape
    n = owner.shape[0]
    own = (owner[:, None] == owner[None, :]) & (step[None, :] <= step[:, None])            # (n, n)
    allowed = torch.cat([prefix_mask.bool()[:, None, None, :].expand(B, 1, n, L),
                         own[None, None].expand(B, 1, n, n)], dim=-1)
    return torch.zeros(allowed.shape, dtype=dtype, device=prefix_mask.device).masked_fill(
        ~allowed, torch.finfo(dtype).min)


def score_answers(lm: nn.Module, cache, prefix_mask: torch.Tensor, first_logp: torch.Tensor,
                  answers: Sequence[Sequence[int]], next_positions: Callable[[int], torch.Tensor],
                  chunk_size: int = 16) -> torch.Tensor:
    """``(B, C)`` summed log-probabilities of each answer's tokens after the prompt.

    Args:
        lm: the language model (called with ``input_ids``, a 4-D ``attention_mask``,
            ``position_ids`` and ``past_key_values``).
        cache: the prompt's KV cache (a transformers ``Cache``; left as it was on return).
        prefix_mask: ``(B, L)`` the prompt's attention mask.
        first_logp: ``(B, V)`` log-probabilities of the token after the prompt.
        answers: C token-id lists (each at least one token).
        next_positions: ``steps -> (B, steps)`` (or ``(3, B, steps)`` for M-RoPE) position ids
            of ``steps`` tokens following the prompt.
        chunk_size: candidates per pass.
    """
    B, L = prefix_mask.shape
    device = prefix_mask.device
    dtype = lm.get_input_embeddings().weight.dtype
    out = []
    for lo in range(0, len(answers), chunk_size):
        chunk = answers[lo:lo + chunk_size]
        logp = first_logp[:, [a[0] for a in chunk]]                                         # (B, c)
        inputs, targets, owner, step = _packed(chunk, device)
        if inputs.numel():
            positions = next_positions(int(step.max()) + 1)[..., step]                      # (.., B, n)
            result = lm(input_ids=inputs.expand(B, -1), attention_mask=packed_mask(prefix_mask, owner, step, dtype),
                        position_ids=positions, past_key_values=cache, use_cache=True)
            cache.crop(-inputs.numel())                                                      # the prompt only, again
            picked = F.log_softmax(result.logits.float(), dim=-1).gather(2, targets.expand(B, -1)[..., None])[..., 0]
            logp = logp.index_add(1, owner, picked)
        out.append(logp)
    return torch.cat(out, dim=1)


__all__ = ["packed_mask", "score_answers"]
