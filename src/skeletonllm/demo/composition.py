"""Zero-shot recognition by composition, the rule shared by the pixel probe and the model's own answers.

Every unseen class of the demo is a new combination of attribute values (movement, body part,
side) that the seen classes teach one at a time. A reader that gives each value of each attribute
a log-probability on a clip can therefore score an unseen class by adding up the log-probabilities
of its three values, and name the best one. Two readers use this rule on the same clips:

* the linear pixel probe (:mod:`skeletonllm.demo.probe`): one regression per attribute on the raw
  pixels of the frames;
* the model itself (:func:`skeletonllm.demo.evaluate.attribute_answers`): its answers to the three
  attribute questions, each option's likelihood normalised over the options.

The model's own recognition names the class in words instead (likelihood of the class name). Set
side by side, the two readouts tell where a gap to the probe lies: a model whose composed answers
reach the probe but whose class names do not reads its frames and loses the reading when it names
the class.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np


def class_attributes(name: str) -> dict[str, str]:
    """A class's attribute values, as the head start names them: ``{"movement", "part", "side"}``
    (``"neither"`` for a class without a side)."""
    from ..synth import get_action
    from .pretrain_targets import SIDES
    a = get_action(name)
    return {"movement": a.movement, "part": a.part, "side": a.side if a.side in SIDES else "neither"}


def compose_scores(log_probs: dict[str, tuple[list[str], np.ndarray]], candidates: dict[str, dict[str, str]]) -> np.ndarray:
    """``(N, C)``: each candidate's score, the sum over attributes of the log-probability the
    attribute's reader gives its value. ``log_probs``: ``{attribute: (values, (N, K) array)}``;
    ``candidates``: ``{class: {attribute: value}}`` (in column order)."""
    cols = []
    for name, atts in candidates.items():
        total = 0.0
        for key, (values, lp) in log_probs.items():
            value = atts[key]
            if value not in values:
                raise ValueError(f"class '{name}': its {key} '{value}' never occurs in the training clips, so "
                                 "it cannot be composed")
            total = total + lp[:, values.index(value)]
        cols.append(total)
    return np.stack(cols, 1)


def composed_predictions(log_probs: dict[str, tuple[list[str], np.ndarray]], candidates: Sequence[str]) -> list[str]:
    """Each clip's best candidate class by :func:`compose_scores` (the classes' values read off
    their definitions, :func:`class_attributes`)."""
    names = list(candidates)
    scores = compose_scores(log_probs, {c: class_attributes(c) for c in names})
    return [names[i] for i in scores.argmax(1)]


__all__ = ["class_attributes", "compose_scores", "composed_predictions"]
