"""The demo's clips: the zero-shot split of procedural motions, generated once and cached in
``DIR/data``; its three parts (:class:`DemoData`); the trainer's view of the training clips
(:func:`_training_data`); and the held-out clips every evaluation uses."""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .pretrain_targets import ATTRIBUTE_QUESTIONS, attribute_vocab, attributes
from .settings import DemoSettings


def _load_or_generate(settings: DemoSettings, cache: Path):
    """The synthetic set (all four topologies), from ``cache`` when it was made with these settings."""
    from ..synth import ALL_TOPOLOGIES, SyntheticMotionSet

    n = settings.train_per_class + settings.test_per_class
    index = cache / "index.json"
    if index.is_file():
        try:
            meta = json.loads(index.read_text())
            same = (meta.get("seed"), meta.get("num_per_class"), (meta.get("split") or {}).get("name"),
                    sorted(meta.get("topologies", []))) == (settings.seed, n, settings.split, sorted(ALL_TOPOLOGIES))
            if same:
                return SyntheticMotionSet.load(cache), True
        except (OSError, ValueError, KeyError):
            pass
    ds = SyntheticMotionSet.for_split(settings.split, num_per_class=n, seed=settings.seed, topologies=ALL_TOPOLOGIES)
    ds.save(cache)
    return ds, False


def _training_data(train, ds, split=None, attribute_questions: bool = False):
    """The trainer's view of the training clips: NTU-25 sequences with their id, captions and QA;
    the generator's rationales (the teacher's) and hard negatives (the classes most alike in
    movement, part and side, mined over all classes; Disc-FT keeps the seen ones). ``split``:
    another :class:`~skeletonllm.synth.ClassSplit` than the data set's (a validation split of its
    seen classes). ``attribute_questions``: every clip also brings one of the head start's
    attribute questions (movement, side, part in turn), all values offered as the evaluation
    offers them, so the curriculum's QA keeps the answers the attribute readout composes."""
    from ..synth import similar_classes
    from ..train.trainer import TrainingData

    split = split or ds.split
    vocab = attribute_vocab(split.seen)
    seqs, rationales = [], {}
    for s in train:
        seq = s.sequence("ntu25")
        sid = f"synth-{ds.split.name}-{ds.seed}-{s.index}"
        # Stage 3 mixes captions and QA into CR-Distill: every clip brings its rationale, and
        # either a caption target (even k) or one question (odd k; the four types in turn), which
        # keeps the stage at 2 items per clip.
        q = s.qa[(s.k // 2) % len(s.qa)]
        qa = [{"question": q.question, "options": list(q.options), "answer": q.options[q.answer]}] if s.k % 2 else []
        if attribute_questions:
            qa.append(_attribute_question(s, vocab))
        captions = list(s.captions) if s.k % 2 == 0 else []
        seqs.append(dataclasses.replace(seq, metadata={**seq.metadata, "sample_id": sid, "qa": qa,
                                                       "captions": captions}))
        rationales[sid] = {"id": sid, "label": s.label, "rationale": s.rationale}
    classes = list(split.classes)
    neighbors = {c: similar_classes(c, classes, 5) for c in classes}
    return TrainingData(seqs, classes, list(split.seen), list(split.unseen), rationales, neighbors)


def _attribute_question(sample, vocab: dict[str, list[str]]) -> dict:
    """One attribute question about ``sample`` (the ``k``-th clip of its class asks the ``k mod 3``-th
    of movement, side, part), as a QA item over all the attribute's values."""
    question, key = ATTRIBUTE_QUESTIONS[sample.k % len(ATTRIBUTE_QUESTIONS)]
    return {"question": question, "options": list(vocab[key]), "answer": getattr(attributes(sample), key)}


def other_motion_clips(ds, per_class: int) -> list:
    """``per_class`` clips of every class outside ``ds``'s split (neither seen nor unseen: the
    catalogue's other motions), generated as the set's own clips are (its seed and config), for
    the head start's broader corpus (:attr:`~skeletonllm.demo.pretrain_settings.PretrainSettings.other_motions`).
    No class of the split, seen or unseen, is among them."""
    from ..synth import ACTION_CLASSES
    from ..synth.dataset import _pose_all, generate_sample

    inside = set(ds.split.classes)
    others = [c for c in ACTION_CLASSES if c not in inside]
    clips = [generate_sample(c, k, ds.seed, ds.config, index=len(ds) + i * per_class + k)
             for i, c in enumerate(others) for k in range(per_class)]
    _pose_all(clips)
    return clips


def _spread(items: list, limit: int | None) -> list:
    if limit is None or limit >= len(items):
        return list(items)
    idx = np.unique(np.linspace(0, len(items) - 1, limit).round().astype(int))
    return [items[i] for i in idx]


@dataclass
class DemoData:
    """The synthetic set and its three parts: training clips (seen classes), held-out clips of
    seen classes, clips of unseen classes (none of which is ever trained on)."""

    ds: object
    train: list
    test_seen: list
    test_unseen: list
    cached: bool = False

    @classmethod
    def prepare(cls, settings: DemoSettings, cache: Path) -> "DemoData":
        ds, cached = _load_or_generate(settings, cache)
        n = settings.train_per_class
        return cls(ds, [ds[i] for i in ds.seen_indices() if ds[i].k < n],
                   [ds[i] for i in ds.seen_indices() if ds[i].k >= n], [ds[i] for i in ds.unseen_indices()], cached)

    @property
    def seen(self) -> list[str]:
        return list(self.ds.split.seen)

    @property
    def unseen(self) -> list[str]:
        return list(self.ds.split.unseen)

    def eval_clips(self, settings: DemoSettings) -> tuple[list, list]:
        """The held-out clips every evaluation uses: ``(unseen, seen)``."""
        return _spread(self.test_unseen, settings.unseen_limit), _spread(self.test_seen, settings.eval_limit)


__all__ = ["DemoData", "other_motion_clips"]
