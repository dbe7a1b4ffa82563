"""The linear pixel probe: how much of what a renderer draws a linear model can read.

A reference for the demo's model on the very frames it reads. For one renderer, every clip is
drawn as the evaluation draws it (``num_frames`` frames sampled evenly, at the model's image
size), and the raw pixels of all frames, ``(F * 3 * H * W)`` numbers per clip, are the
features of a logistic regression (standardised, L2, ``C`` = 0.05), fitted on the training
clips of the seen classes only:

* **seen top-1**: one regression over the seen classes, on the held-out seen clips;
* **attributes**: one regression per attribute (movement, body part, side), each scored on
  held-out seen clips and on unseen clips (whose attribute values all occur in seen classes);
* **composed zero-shot top-1**: an unseen class is scored by the sum of its attributes'
  log-probabilities under the three attribute regressions, and the best unseen class is the
  answer: zero-shot recognition by composition, with no unseen class or clip in any fit.

The fit is exact and quick: with an L2 penalty the weights lie in the span of the training
clips (fewer than the features), so each regression is fitted on the clips' coordinates in
that span (:func:`span_basis`), which gives the same decision function as the fit on all
pixels.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from ..eval.recognition_metrics import top1_by_class
from .composition import class_attributes, compose_scores

#: The attributes the probe composes (the head start's attribute questions ask the same).
PROBE_ATTRIBUTES = ("movement", "part", "side")


@dataclass(frozen=True)
class ProbeSettings:
    """The probe's regression: L2 strength ``C`` (sklearn's inverse) and the solver's iteration cap."""

    C: float = 0.05
    max_iter: int = 5000


@torch.no_grad()
def clip_pixels(renderer, clips, num_frames: int, batch_size: int = 32) -> np.ndarray:
    """``(N, F * 3 * H * W)`` float32: each synthetic clip (NTU-25) drawn by ``renderer`` as the
    evaluation draws it (frames sampled evenly, at most two bodies)."""
    from ..skeleton import collate_sequences

    out = []
    for lo in range(0, len(clips), batch_size):
        batch = collate_sequences([s.sequence("ntu25") for s in clips[lo:lo + batch_size]], num_frames=num_frames,
                                  train=False, max_bodies=2)
        out.append(renderer(batch).flatten(1).float().cpu().numpy())
    return np.concatenate(out)


def span_basis(X: np.ndarray, tol: float = 1e-6) -> np.ndarray:
    """``(D, r)`` orthonormal basis of the row space of ``X`` ``(N, D)`` (the span of its rows)."""
    _, s, vt = np.linalg.svd(X, full_matrices=False)
    keep = s > tol * max(float(s[0]), 1e-12) if len(s) else s > 0
    return vt[keep].T


class SpanLogistic:
    """Standardised L2 logistic regression, fitted in the span of the training rows.

    ``fit(X, y)`` then ``log_proba(X) -> (N, K)`` over ``classes``. Equivalent to sklearn's
    ``LogisticRegression(C=C)`` on the standardised features (the L2 optimum lies in that span).
    ``span``: a :class:`Span` of the same training rows, shared by several regressions (the
    standardisation and the basis are computed once).
    """

    def __init__(self, settings: ProbeSettings = ProbeSettings()):
        self.settings = settings

    def fit(self, X: np.ndarray, y: Sequence[str], span: "Span | None" = None) -> "SpanLogistic":
        from sklearn.linear_model import LogisticRegression

        self.span = span if span is not None else Span(X)
        self.model = LogisticRegression(C=self.settings.C, max_iter=self.settings.max_iter)
        self.model.fit(self.span.coordinates(X), list(y))
        self.classes = [str(c) for c in self.model.classes_]
        return self

    def log_proba(self, X: np.ndarray) -> np.ndarray:
        coords = self.span.coordinates(X)
        if len(self.classes) == 1:                  # one class seen: certain
            return np.zeros((len(coords), 1))
        return self.model.predict_log_proba(coords)

    def predict(self, X: np.ndarray) -> list[str]:
        return [self.classes[i] for i in self.log_proba(X).argmax(1)]


class Span:
    """The standardisation (per feature, from the training rows ``X``) and the orthonormal basis
    of the standardised rows' span; :meth:`coordinates` maps rows into it ``(N, D) -> (N, r)``.
    The last rows mapped are remembered, so that the regressions sharing a span map a test
    set once."""

    def __init__(self, X: np.ndarray):
        X = np.asarray(X, dtype=np.float64)
        self.mean = X.mean(0)
        self.scale = X.std(0)
        self.scale[self.scale == 0] = 1.0           # constant pixels (never drawn on): left as zeros
        self.basis = span_basis((X - self.mean) / self.scale)
        self._last: tuple[int, np.ndarray] | None = None

    def coordinates(self, X: np.ndarray) -> np.ndarray:
        if self._last is not None and self._last[0] == id(X):
            return self._last[1]
        coords = ((np.asarray(X, dtype=np.float64) - self.mean) / self.scale) @ self.basis
        self._last = (id(X), coords)
        return coords


def _accuracy(pred: Sequence[str], truth: Sequence[str]) -> float:
    return float(np.mean(np.asarray(pred) == np.asarray(truth))) if len(truth) else float("nan")


def fit_probe(train_X: np.ndarray, train_labels: Sequence[str], train_atts: Sequence[dict[str, str]],
              seen_X: np.ndarray, seen_labels: Sequence[str], seen_atts: Sequence[dict[str, str]],
              unseen_X: np.ndarray, unseen_labels: Sequence[str], unseen_atts: Sequence[dict[str, str]],
              unseen_classes: dict[str, dict[str, str]], settings: ProbeSettings = ProbeSettings(),
              attributes: Sequence[str] = PROBE_ATTRIBUTES) -> dict:
    """The probe's numbers from features (fractions).

    Fitted on ``train_X`` (clips of seen classes only); scored on held-out seen clips
    (``seen_X``) and unseen clips (``unseen_X``). ``*_atts``: each clip's attribute values;
    ``unseen_classes``: each unseen class's attribute values (the zero-shot candidates).

    Returns ``{"seen_top1", "unseen_top1" (composed zero-shot), "attributes": {key: {"seen",
    "unseen", "chance"}}, "unseen_per_class": {class: {"top1", "num_samples"}}, "num_features",
    "num_train", "num_seen", "num_unseen"}``.
    """
    overlap = set(unseen_classes) & set(train_labels)
    if overlap:
        raise ValueError(f"the probe's training clips include unseen classes: {sorted(overlap)}")
    span = Span(train_X)
    classes = SpanLogistic(settings).fit(train_X, train_labels, span)
    out = {"seen_top1": _accuracy(classes.predict(seen_X), seen_labels), "attributes": {},
           "num_features": int(train_X.shape[1]), "num_train": len(train_labels), "num_seen": len(seen_labels),
           "num_unseen": len(unseen_labels)}
    log_probs = {}
    for key in attributes:
        probe = SpanLogistic(settings).fit(train_X, [a[key] for a in train_atts], span)
        lp = probe.log_proba(unseen_X)
        log_probs[key] = (probe.classes, lp)
        out["attributes"][key] = {
            "seen": _accuracy(probe.predict(seen_X), [a[key] for a in seen_atts]),
            "unseen": _accuracy([probe.classes[i] for i in lp.argmax(1)], [a[key] for a in unseen_atts]),
            "chance": 1.0 / len(probe.classes)}
    names = list(unseen_classes)
    pred = [names[i] for i in compose_scores(log_probs, unseen_classes).argmax(1)]
    out["unseen_top1"], out["unseen_per_class"] = top1_by_class(pred, list(unseen_labels), names)
    return out


def clip_attributes(sample) -> dict[str, str]:
    """A synthetic clip's attribute values, as the head start names them."""
    from .pretrain_targets import attributes
    a = attributes(sample)
    return {k: getattr(a, k) for k in PROBE_ATTRIBUTES}


def pixel_probe(renderer, train, seen_clips, unseen_clips, unseen: Sequence[str], num_frames: int,
                settings: ProbeSettings = ProbeSettings()) -> dict:
    """:func:`fit_probe` on ``renderer``'s frames of the synthetic clips: fitted on ``train``
    (clips of seen classes only), scored on ``seen_clips`` and ``unseen_clips`` (zero-shot
    over the ``unseen`` classes). Adds ``"kinds"``: composed zero-shot top-1 per kind of class."""
    from .evaluate import kind_accuracy

    features = [clip_pixels(renderer, clips, num_frames) for clips in (train, seen_clips, unseen_clips)]
    labels = [[s.label for s in clips] for clips in (train, seen_clips, unseen_clips)]
    atts = [[clip_attributes(s) for s in clips] for clips in (train, seen_clips, unseen_clips)]
    out = fit_probe(features[0], labels[0], atts[0], features[1], labels[1], atts[1], features[2], labels[2],
                    atts[2], {c: class_attributes(c) for c in unseen}, settings)
    out["unseen_kinds"] = kind_accuracy(out["unseen_per_class"])
    return out


__all__ = ["PROBE_ATTRIBUTES", "ProbeSettings", "Span", "SpanLogistic", "clip_attributes", "clip_pixels", "fit_probe",
           "pixel_probe", "span_basis"]
