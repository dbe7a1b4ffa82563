"""Open-vocabulary recognition: a trained model answers MQA over a split's unseen classes (SPEC §6).

Protocol (the paper's): for every clip of the unseen classes, render it, ask the MQA prompt
listing the candidate actions (:func:`~skeletonllm.mllm.prompts.mqa_prompt`), decode
greedily, read the last ``Label:`` line, lower-case/strip it and count it correct when it
equals the true class name exactly (:func:`~skeletonllm.mllm.prompts.parse_label` with
``fuzzy=False``). Reported beside it, never instead of it: the accuracy when answers are
matched leniently (``top1_fuzzy``: punctuation, quotes, near-typos) and the number of
answers that matched no candidate. ``mode="score"`` replaces decoding by likelihood
ranking of every ``Label: <candidate>`` answer (:meth:`SkeletonLLM.score_candidates`): the
prediction is always a candidate.

Where things live: the clips (:mod:`~skeletonllm.eval.samples`), the engine and the files it
writes (:mod:`~skeletonllm.eval.mqa_engine`), matching answers to class names
(:mod:`~skeletonllm.eval.answers`), the resumable predictions log and feature store
(:mod:`~skeletonllm.eval.predictions`), the accuracy figures
(:mod:`~skeletonllm.eval.recognition_metrics`). This module is the recognition benchmark on top
of them, and every name it had before the split is still importable from it.

The engine (:func:`run_mqa_evaluation`) also serves cross-format transfer
(:mod:`skeletonllm.eval.transfer`); only the result's task fields differ.
"""
from __future__ import annotations

import os
from typing import Sequence

from ..mllm import prompts as P
from .mqa_engine import (CONFUSION, FEATURES, PREDICTIONS, RESULTS, TSNE, frames_for, recognition_prompt,
                         run_mqa_evaluation)
from .predictions import FeatureStore, PredictionLog
from .recognition_metrics import recognition_metrics
from .samples import EvalSample, as_samples, samples_from_dataset, samples_from_sequences, subsample

#: Display names of datasets, as the report and the paper write them.
DATASET_NAMES = {"ntu60": "NTU-60", "ntu120": "NTU-120", "pku_mmd": "PKU-MMD", "nw_ucla": "NW-UCLA",
                 "humanml3d": "HumanML3D"}


# -- the recognition benchmark -------------------------------------------------------------------------
def canonical_split_id(name: str) -> str:
    """The report's split id: ``pku_46_5`` -> ``pku51_46_5``; other names unchanged."""
    from ..skeleton.splits import _canonical_split_name, _split_table
    key = _canonical_split_name(name)
    return key if key in _split_table()["splits"] else name


def evaluate_recognition(model, data, candidates: Sequence[str] | None = None, split_name: str | None = None, *,
                         mode: str = "generate", batch_size: int = 8, num_frames: int | None = None, seed: int = 0,
                         out_dir: str | os.PathLike = "eval", resume: bool = True, tsne: bool = False,
                         tsne_data=None, progress: bool = True, protocol: str | None = None,
                         dataset_name: str | None = None, class_names: Sequence[str] | None = None,
                         limit: int | None = None, max_new_tokens: int = P.RECOGNITION_MAX_NEW_TOKENS,
                         checkpoint: str | os.PathLike | None = None, method: str | None = None,
                         settings: dict | None = None, reference=None) -> dict:
    """Open-vocabulary recognition of ``data`` (the split's unseen clips); returns the result dict.

    Args:
        model: a SkeletonLLM (eval mode and ``torch.no_grad`` are applied here).
        data: SkeletonDataset (e.g. ``SkeletonDataset(root, split=s, subset="unseen")``),
            SkeletonSequence objects or EvalSample objects.
        candidates: the classes offered; default the unseen class names of ``split_name``.
        split_name: a zero-shot split (``ntu60_48_12``, ``pku_46_5`` ...) or, with
            ``candidates``, any name for a custom split.
        mode: ``"generate"`` (greedy decoding, the paper's protocol) or ``"score"``.
        protocol: ``"xsub"``, ``"xview"`` or ``"xset"``, recorded in the result.
        tsne, tsne_data: also collect hidden states (of ``data`` and of ``tsne_data``,
            e.g. the seen classes) and draw ``tsne.png``.
        reference: score mode: clips of the seen classes (training clips) to calibrate the
            ranking on (:mod:`skeletonllm.eval.calibration`).
        Other arguments: see :func:`run_mqa_evaluation`.
    """
    from ..skeleton.splits import class_names as dataset_classes, get_split

    split = None
    if split_name is not None:
        try:
            split = get_split(split_name)
        except KeyError:
            if candidates is None:
                raise
    if candidates is None:
        if split is None:
            raise ValueError("give candidates or a known split_name")
        candidates = split.unseen_names
    if split_name is None:
        split_name = "custom"
    if class_names is None and split is not None:
        class_names = dataset_classes(split.dataset)
    if dataset_name is None:
        dataset_name = DATASET_NAMES.get(split.dataset, split.dataset) if split is not None else None
    base = {"task": "recognition", "split": canonical_split_id(split_name)}
    if method:
        base["method"] = method
    if dataset_name:
        base["dataset"] = dataset_name
    if protocol:
        base["protocol"] = protocol
    title = f"{dataset_name or ''} {split_name}{f' {protocol}' if protocol else ''} ({mode})".strip()
    return run_mqa_evaluation(model, data, candidates, base, out_dir, mode=mode, batch_size=batch_size,
                              num_frames=num_frames, seed=seed, resume=resume, tsne=tsne, tsne_data=tsne_data,
                              progress=progress, class_names=class_names, limit=limit,
                              max_new_tokens=max_new_tokens, checkpoint=checkpoint, settings=settings, title=title,
                              reference=reference)


# -- from a checkpoint and a data folder (what ``skeletonllm eval`` runs) ----------------------------
def protocol_name(dataset: str, protocol: str) -> str:
    """``("ntu60", "xsub")`` -> ``"ntu60_xsub"``; ``("pku_mmd", "xview")`` -> ``"pku_xview"``;
    a full protocol name is checked against the dataset and returned."""
    from ..skeleton.splits import PROTOCOLS

    prefix = {"ntu60": "ntu60", "ntu120": "ntu120", "pku_mmd": "pku"}.get(dataset)
    if prefix is None:
        raise ValueError(f"dataset '{dataset}' has no train/test protocols")
    name = protocol if protocol in PROTOCOLS else f"{prefix}_{protocol.lower()}"
    if name not in PROTOCOLS or not name.startswith(prefix + "_"):
        choices = [p.split("_", 1)[1] for p in PROTOCOLS if p.startswith(prefix + "_")]
        raise ValueError(f"protocol '{protocol}' does not apply to {dataset}: choose {', '.join(choices)}")
    return name


__all__ = ["DATASET_NAMES", "EvalSample", "FeatureStore", "PredictionLog", "as_samples", "canonical_split_id",
           "frames_for", "evaluate_recognition", "protocol_name", "recognition_metrics", "recognition_prompt", "run_mqa_evaluation", "samples_from_dataset",
           "samples_from_sequences", "subsample",
           # the names of the files the engine writes (skeletonllm.eval.mqa_engine)
           "CONFUSION", "FEATURES", "PREDICTIONS", "RESULTS", "TSNE"]
