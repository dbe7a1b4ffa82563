"""Matching answers to class names.

A generated answer becomes a record with the strictly matched candidate (the paper's
protocol: the last ``Label:`` line, lower-cased and stripped, equal to a candidate) and the
leniently matched one (:func:`~skeletonllm.mllm.prompts.parse_label`); a row of likelihood
scores becomes the best-scored candidate; a clip's true class (its label id in the dataset's
class list, or its label, through ``label_map``) becomes the candidate it is spelled as.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..errors import SkeletonFormatError
from ..mllm import prompts as P
from ..skeleton.sequence import SkeletonSequence


def _answer_record(text: str, candidates: Sequence[str]) -> dict:
    return {"text": text, "raw_label": P.raw_label(text),
            "prediction": P.parse_label(text, candidates, fuzzy=False),
            "fuzzy_prediction": P.parse_label(text, candidates, fuzzy=True)}


def _score_record(scores: Sequence[float], candidates: Sequence[str]) -> dict:
    best = candidates[int(np.argmax(scores))]
    return {"scores": [float(s) for s in scores], "prediction": best, "fuzzy_prediction": best}



def _true_label(seq: SkeletonSequence, sid: str, class_names, label_map: dict, by_norm: dict,
                must_be_candidate: bool = True) -> str:
    name = None
    # ``class_names`` is the evaluated dataset's list; extra t-SNE clips may come from elsewhere
    # and keep the name their loader gave them.
    if (must_be_candidate or seq.label is None) and class_names is not None and seq.label_id is not None \
            and 0 <= seq.label_id < len(class_names):
        name = class_names[seq.label_id]
    name = name or seq.label
    if name is None:
        raise SkeletonFormatError(seq.metadata.get("source", sid), "has no action label: "
                                  "evaluation needs labelled clips")
    mapped = label_map.get(name, name)
    key = P.normalize_label(mapped)
    if key not in by_norm and not must_be_candidate:
        return mapped
    if key not in by_norm:
        raise ValueError(f"{seq.metadata.get('source', sid)}: true class '{mapped}' is not one of the "
                         f"{len(by_norm)} candidates {list(by_norm.values())}")
    return by_norm[key]
