"""The clips an evaluation runs over: :class:`EvalSample` (a stable id, the resume key, and a
loader), made from a dataset, from in-memory sequences, or given; and an even subsample."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import numpy as np

from ..skeleton.sequence import SkeletonSequence


@dataclass(frozen=True)
class EvalSample:
    """One clip to evaluate: a stable ``id`` (the resume key) and how to load it.

    ``group`` orders loading (clips of one format come together, so batches of one
    topology fill up); batches are formed by the loaded sequence's topology.
    """

    id: str
    load: Callable[[], SkeletonSequence]
    group: str = ""


def samples_from_dataset(dataset) -> list[EvalSample]:
    """Samples of a :class:`~skeletonllm.skeleton.dataset.SkeletonDataset`, loaded lazily.

    Ids are the file's path below the dataset root, plus ``#<k>`` for the k-th clip of a
    multi-clip file (PKU-MMD recordings, PYSKL pickles).
    """
    root = dataset.root if dataset.root.is_dir() else dataset.root.parent
    out = []
    for i, item in enumerate(dataset.items):
        try:
            rel = item.path.relative_to(root).as_posix()
        except ValueError:
            rel = item.path.as_posix()
        sid = f"{rel}#{item.index}" if item.format in ("pku_mmd", "pyskl") else rel
        out.append(EvalSample(sid, (lambda i=i: dataset[i]), item.format))
    return out


def samples_from_sequences(sequences: Iterable[SkeletonSequence]) -> list[EvalSample]:
    """Samples of in-memory sequences; ids from :func:`skeletonllm.train.tasks.sample_id`
    (file stem, clip range), or the position when a sequence has no source."""
    from ..train.tasks import sample_id

    out, seen = [], set()
    for k, seq in enumerate(sequences):
        try:
            sid = sample_id(seq)
        except ValueError:
            sid = f"sample{k}"
        if sid in seen:
            sid = f"{sid}@{k}"
        seen.add(sid)
        out.append(EvalSample(sid, (lambda s=seq: s), seq.topology.name))
    return out


def as_samples(data) -> list[EvalSample]:
    """A dataset, a list of sequences or a list of :class:`EvalSample` -> samples."""
    if hasattr(data, "items") and hasattr(data, "root"):
        return samples_from_dataset(data)
    data = list(data)
    if all(isinstance(d, EvalSample) for d in data):
        return data
    if all(isinstance(d, SkeletonSequence) for d in data):
        return samples_from_sequences(data)
    raise TypeError("data must be a SkeletonDataset, SkeletonSequence objects or EvalSample objects")


def subsample(samples: Sequence[EvalSample], limit: int | None) -> list[EvalSample]:
    """``limit`` samples spread evenly over the list (deterministic, covers every part of a
    sorted dataset rather than its first classes only); all when ``limit`` is None."""
    samples = list(samples)
    if limit is None or limit >= len(samples):
        return samples
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    idx = np.unique(np.linspace(0, len(samples) - 1, limit).round().astype(int))
    return [samples[i] for i in idx]
