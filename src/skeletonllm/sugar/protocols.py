"""The SUGAR paper's evaluation protocols, on the project's recognition engine.

Supervised (train on the protocol's training part, all classes; test on its test part, every
class a candidate):

* ``ntu60_xsub`` / ``ntu60_xview`` — NTU-60 cross-subject / cross-view, 60 candidates;
* ``ntu120_xsub`` / ``ntu120_xset`` — NTU-120 cross-subject / cross-setup, 120 candidates
  (the summary's "NTU120 X-view" column: NTU-120's second standard protocol is cross-setup).

Zero-shot (train on NTU-60, every class; :file:`configs/sugar/ntu60_zeroshot.yaml`):

* ``sugar_p1`` — Protocol 1: every NTU-120 clip of the 60 classes NTU-60 does not have
  (A061-A120), those 60 names as candidates;
* ``sugar_p2`` — Protocol 2: every PKU-MMD clip, PKU-MMD's 51 class names as candidates
  (a different dataset and vocabulary; nothing of PKU-MMD is trained on).

Every zero-shot split the project ships (``ntu60_48_12`` ...) is evaluated by
``skeletonllm eval CKPT --split S`` as for SkeletonLLM. Top-5 needs a ranking: it comes with
``mode="score"`` (likelihood ranking of every candidate). Any checkpoint works here
(SkeletonLLM or SUGAR), so both methods fill one table (``skeletonllm report``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..eval.recognition import DATASET_NAMES, run_mqa_evaluation
from ..mllm.prompts import RECOGNITION_MAX_NEW_TOKENS


@dataclass(frozen=True)
class Protocol:
    """Attributes:
        name: the result's split id.
        dataset: the test data's dataset (its class list labels index into).
        class_ids: the test classes (0-based ids of ``dataset``), also the candidates.
        part_of: a standard protocol whose test part is used, or None (every clip).
        short: ``xsub`` / ``xview`` / ``xset`` for the results file, or None.
    """

    name: str
    title: str
    dataset: str
    class_ids: tuple[int, ...]
    part_of: str | None
    short: str | None
    zero_shot: bool

    def candidates(self) -> list[str]:
        from ..skeleton.splits import class_names
        names = class_names(self.dataset)
        return [names[i] for i in self.class_ids]


PROTOCOLS: dict[str, Protocol] = {p.name: p for p in (
    Protocol("ntu60_xsub", "NTU-60 cross-subject", "ntu60", tuple(range(60)), "ntu60_xsub", "xsub", False),
    Protocol("ntu60_xview", "NTU-60 cross-view", "ntu60", tuple(range(60)), "ntu60_xview", "xview", False),
    Protocol("ntu120_xsub", "NTU-120 cross-subject", "ntu120", tuple(range(120)), "ntu120_xsub", "xsub", False),
    Protocol("ntu120_xset", "NTU-120 cross-setup", "ntu120", tuple(range(120)), "ntu120_xset", "xset", False),
    Protocol("sugar_p1", "zero-shot Protocol 1: NTU-60 -> the 60 NTU-120 classes absent from NTU-60", "ntu120",
             tuple(range(60, 120)), None, None, True),
    Protocol("sugar_p2", "zero-shot Protocol 2: NTU-60 -> PKU-MMD", "pku_mmd", tuple(range(51)), None, None, True),
)}


def get_protocol(name: str) -> Protocol:
    key = {"p1": "sugar_p1", "p2": "sugar_p2"}.get(name.lower(), name.lower())
    if key not in PROTOCOLS:
        raise KeyError(f"unknown protocol '{name}': expected one of {', '.join(PROTOCOLS)} (or p1, p2)")
    return PROTOCOLS[key]


def protocol_dataset(protocol: Protocol, data: str | os.PathLike, cache_dir=None, format: str | None = None):
    """The test clips of ``protocol`` under ``data`` (a :class:`~skeletonllm.skeleton.dataset.SkeletonDataset`)."""
    from ..skeleton.dataset import SkeletonDataset

    part = {"protocol": protocol.part_of, "part": "test"} if protocol.part_of else {}
    ds = SkeletonDataset(data, format=format, cache_dir=cache_dir, class_ids=protocol.class_ids, **part)
    if len(ds) == 0:
        raise ValueError(f"{data}: no clips of {protocol.title} (classes {protocol.class_ids[0] + 1}-"
                         f"{protocol.class_ids[-1] + 1} of {protocol.dataset}"
                         + (f", {protocol.part_of} test part" if protocol.part_of else "") + ")")
    return ds


def evaluate_protocol(model, data, protocol: str | Protocol, out_dir: str | os.PathLike, *, mode: str = "score",
                      batch_size: int = 8, limit: int | None = None, seed: int = 0, resume: bool = True,
                      cache_dir=None, format: str | None = None, method: str | None = None,
                      checkpoint: str | None = None, max_new_tokens: int = RECOGNITION_MAX_NEW_TOKENS, progress: bool = True) -> dict:
    """Evaluate ``model`` on ``protocol``'s test clips under ``data`` (a folder) or on a
    :class:`SkeletonDataset` / clips already chosen; returns the result (also ``out_dir/results.json``)."""
    from ..skeleton.splits import class_names

    p = get_protocol(protocol) if isinstance(protocol, str) else protocol
    if isinstance(data, (str, os.PathLike)):
        data = protocol_dataset(p, data, cache_dir=cache_dir, format=format)
    base = {"task": "recognition", "split": p.name, "dataset": DATASET_NAMES.get(p.dataset, p.dataset)}
    if p.short:
        base["protocol"] = p.short
    if method:
        base["method"] = method
    return run_mqa_evaluation(model, data, p.candidates(), base, Path(out_dir), mode=mode, batch_size=batch_size,
                              seed=seed, resume=resume, progress=progress, class_names=class_names(p.dataset),
                              limit=limit, max_new_tokens=max_new_tokens, checkpoint=checkpoint,
                              settings={"protocol": p.title, "zero_shot": p.zero_shot},
                              title=f"{p.title} ({mode})")


__all__ = ["PROTOCOLS", "Protocol", "evaluate_protocol", "get_protocol", "protocol_dataset"]
