"""Accuracy figures of recognition predictions: top-1 (strict and lenient), top-5 from likelihood
ranking, unmatched answers, per-class accuracy and the confusion matrix."""
from __future__ import annotations

from typing import Sequence

import numpy as np


def top1_by_class(predictions: Sequence[str], labels: Sequence[str], classes: Sequence[str]) -> tuple[float, dict]:
    """Top-1 of ``predictions`` against the true ``labels`` (NaN without any), and per class
    ``{class: {"top1", "num_samples"}}`` for each of ``classes`` that has samples, in their order."""
    hits = [p == t for p, t in zip(predictions, labels)]
    per_class = {}
    for c in classes:
        mine = [h for h, t in zip(hits, labels) if t == c]
        if mine:
            per_class[c] = {"top1": sum(mine) / len(mine), "num_samples": len(mine)}
    return (sum(hits) / len(hits) if hits else float("nan")), per_class


def recognition_metrics(records: Sequence[dict], candidates: Sequence[str]) -> dict:
    """Accuracy figures of prediction records against their true labels.

    Each record has ``label`` (true class, spelled as a candidate), ``prediction`` (the
    strictly matched candidate or None), ``fuzzy_prediction`` and, from likelihood ranking,
    ``scores`` (one per candidate). Returns ``top1``, ``top5`` (ranking, more than 5 candidates),
    ``top1_fuzzy``, ``unmatched``, ``unmatched_fuzzy``, ``num_samples``, ``per_class``
    ``{class: {"top1", "top1_fuzzy", "num_samples"}}`` (classes with samples, candidate
    order) and ``confusion`` ``(C, C)`` counts of the strict predictions (unmatched answers
    fall in no column).
    """
    from .plots import confusion_matrix

    index = {c: i for i, c in enumerate(candidates)}
    n = len(records)
    if n == 0:
        raise ValueError("no predictions to score")
    correct = sum(r["prediction"] == r["label"] for r in records)
    correct_fuzzy = sum(r["fuzzy_prediction"] == r["label"] for r in records)
    per_class = {}
    for c in candidates:
        rs = [r for r in records if r["label"] == c]
        if rs:
            per_class[c] = {"top1": sum(r["prediction"] == c for r in rs) / len(rs),
                            "top1_fuzzy": sum(r["fuzzy_prediction"] == c for r in rs) / len(rs),
                            "num_samples": len(rs)}
    cm = confusion_matrix([index[r["label"]] for r in records],
                          [index.get(r["prediction"], -1) if r["prediction"] is not None else -1 for r in records],
                          len(candidates))
    out = {"top1": correct / n, "top1_fuzzy": correct_fuzzy / n, "num_samples": n,
           "unmatched": sum(r["prediction"] is None for r in records),
           "unmatched_fuzzy": sum(r["fuzzy_prediction"] is None for r in records),
           "per_class": per_class, "confusion": cm}
    if len(candidates) > 5 and all("scores" in r for r in records):
        out["top5"] = sum(index[r["label"]] in np.argsort(r["scores"])[::-1][:5] for r in records) / n
    return out
