"""Calibrated likelihood ranking: each candidate's log-likelihood minus its average over reference clips.

A language model that learnt its class names from the seen classes also learnt how names go on:
if the only kick it saw was "kick right leg", then after "kick" it expects "right", whatever the
frames show. An unseen class that recombines known words ("kick left leg") starts every
ranking behind, by the amount that prior costs, and the clip's evidence has to pay it back.
Calibration removes the prior: a candidate ``c`` is scored by

    log p(c | x) - log (1/R) sum_r p(c | x_r)

where ``x`` is the clip and ``x_r`` are ``R`` reference clips of the training distribution (the
pointwise mutual information between answer and clip, the prior estimated by averaging over
clips rather than by a blank input, which the model never saw). The second term depends on the
candidate only, so calibration changes which candidate wins, never the clip's own scores' order
under a fixed prior. Reference clips must come from training data (the demo uses training clips
of the seen classes), never from the clips being evaluated.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch

from ..skeleton.batch import collate_sequences
from ..skeleton.sequence import SkeletonSequence


def candidate_prior(model, reference: Sequence[SkeletonSequence], prompt: str, candidates: Sequence[str],
                    num_frames: int, batch_size: int = 16) -> torch.Tensor:
    """``(C,)`` log of each candidate's likelihood averaged over the ``reference`` clips.

    ``model`` is anything with ``score_candidates(batch, prompt, candidates)`` returning ``(B, C)``
    log-likelihoods (SkeletonLLM, SUGAR); ``prompt`` the recognition question the clips are asked.
    """
    reference = list(reference)
    if not reference:
        raise ValueError("calibration needs at least one reference clip")
    by_topology: dict[str, list[SkeletonSequence]] = {}
    for seq in reference:
        by_topology.setdefault(seq.topology, []).append(seq)
    rows = []
    with torch.no_grad():
        for seqs in by_topology.values():
            for lo in range(0, len(seqs), batch_size):
                batch = collate_sequences(seqs[lo:lo + batch_size], num_frames=num_frames, train=False, max_bodies=2)
                rows.append(model.score_candidates(batch, prompt, list(candidates)).float().cpu())
    return log_mean_likelihood(torch.cat(rows))


def log_mean_likelihood(scores: torch.Tensor) -> torch.Tensor:
    """``(C,)`` log of the mean over rows of ``exp(scores)``, ``scores`` ``(R, C)`` log-likelihoods
    of ``C`` answers on ``R`` reference clips (computed without leaving log space)."""
    return torch.logsumexp(scores, dim=0) - math.log(scores.shape[0])


def spread_per_class(labels: Sequence, per_class: int) -> list[int]:
    """Indices of up to ``per_class`` items of every label, evenly spaced over that label's items
    (a dataset's files are ordered by setup, camera and performer: the first few would share them).
    Items without a label (None) are never drawn. Sorted, so the reference reads in dataset order."""
    if per_class < 1:
        raise ValueError(f"per_class must be >= 1, got {per_class}")
    by_label: dict = {}
    for i, label in enumerate(labels):
        if label is not None:
            by_label.setdefault(label, []).append(i)
    picks = []
    for items in by_label.values():
        k = min(per_class, len(items))
        picks += [items[j * len(items) // k] for j in range(k)]
    return sorted(picks)


def calibrate(scores: torch.Tensor, prior: torch.Tensor) -> torch.Tensor:
    """``(B, C)`` calibrated scores: ``scores`` ``(B, C)`` minus ``prior`` ``(C,)``."""
    return scores - prior.to(scores.device, scores.dtype)[None, :]


__all__ = ["calibrate", "candidate_prior", "log_mean_likelihood", "spread_per_class"]
