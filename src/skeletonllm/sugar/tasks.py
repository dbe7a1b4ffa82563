"""Training items of Steps 2 and 3, on the project's task machinery (:mod:`skeletonllm.train.tasks`).

* :class:`ContrastiveTask` (Step 2): a clip and its positive texts: the class's motion
  description (six part sentences, averaged into one embedding) and ``visual_per_clip``
  of its visual descriptions drawn at random per item and epoch (the paper's random
  combination ``t = {m, v_i | i in I_v}``); or only one kind, or the class name in a
  template (the knowledge ablation).
* :class:`ClassifyTask` (Step 3): the instruction listing every seen class (shuffled per
  item) -> ``Label: <class>`` and the class's description.

Both inherit :class:`~skeletonllm.train.tasks.TaskDataset`: items depend on (seed, task,
epoch, index) only, clips may be loaders (large datasets are read lazily), and a
:class:`~skeletonllm.train.tasks.ClassGuard` keeps unseen classes out of every text.
"""
from __future__ import annotations

from typing import Iterable, Sequence

from ..skeleton.batch import SkeletonBatch, collate_sequences
from ..train.tasks import ClassGuard, TaskDataset, TaskItem
from . import prompts as SP
from .knowledge import Knowledge

TEXT_KINDS = ("motion", "visual", "name")


def name_text(label: str) -> str:
    """The no-knowledge baseline's text for a class."""
    return f"a person performs the action {label}."


class _SeenClips(TaskDataset):
    """Entries ``(clip or loader, seen class)``; clips of other classes are dropped and counted."""

    def __init__(self, clips: Iterable[tuple[object, str | None]], guard: ClassGuard, **kw):
        super().__init__(**kw)
        self.guard = guard
        for clip, label in clips:
            self.stats.clips += 1
            canon = guard.canonical(label) if label is not None else None
            if canon is None:
                self.stats.skip("no_label" if label is None else
                                "unseen_class" if " ".join(label.lower().split()) in guard.unseen else "unknown_class")
                continue
            self._entries.append((clip, canon))
        self.stats.items = len(self._entries)


class ContrastiveTask(_SeenClips):
    """Step 2 items: ``TaskItem(clip, texts, class)``, ``texts`` a list of string groups.

    A text that names an unseen class is left out (counted as ``text_mentions_unseen``); a
    class left without visual descriptions draws its motion description in their place.
    """

    name = "sugar_contrastive"

    def __init__(self, clips, guard: ClassGuard, knowledge: Knowledge | None, texts: Sequence[str] = ("motion", "visual"),
                 visual_per_clip: int = 2, **kw):
        super().__init__(clips, guard, **kw)
        bad = [t for t in texts if t not in TEXT_KINDS]
        if bad or not texts:
            raise ValueError(f"step2 texts must be some of {', '.join(TEXT_KINDS)}, got {list(texts)}")
        if set(texts) & {"motion", "visual"}:
            if knowledge is None:
                raise ValueError("motion and visual texts need a knowledge file")
            knowledge.require(guard.seen.values())
        if "visual" in texts and visual_per_clip < 1:
            raise ValueError("visual_per_clip must be at least 1")
        self.kinds, self.visual_per_clip = tuple(texts), visual_per_clip
        self._groups = {label: self._class_groups(knowledge, label) for label in guard.seen.values()}

    def _class_groups(self, knowledge, label: str) -> dict[str, list[tuple[str, ...]]]:
        out = {}
        if "motion" in self.kinds:
            out["motion"] = [tuple(knowledge.get(label).motion_texts())]
        if "visual" in self.kinds:
            out["visual"] = [(v,) for v in knowledge.get(label).visual]
        if "name" in self.kinds:
            out["name"] = [(name_text(label),)]
        for kind, groups in out.items():
            clean = [g for g in groups if not any(self.guard.leaks(t) for t in g)]
            for _ in range(len(groups) - len(clean)):
                self.stats.skip("text_mentions_unseen")
            out[kind] = clean
        if "visual" in out and not out["visual"]:
            out["visual"] = out.get("motion") or [tuple(knowledge.get(label).motion_texts())]
        if not any(out.values()):
            raise ValueError(f"class '{label}': every text names an unseen class")
        return out

    def all_strings(self) -> list[str]:
        """Every string any item can contain (to precompute a frozen text encoder's features)."""
        return sorted({s for groups in self._groups.values() for gs in groups.values() for g in gs for s in g})

    def make(self, seq, label, rng):
        groups = self._groups[label]
        texts = []
        for kind in self.kinds:
            pool = groups[kind]
            if kind == "visual":
                pick = rng.choice(len(pool), size=self.visual_per_clip, replace=len(pool) < self.visual_per_clip)
                texts += [pool[int(i)] for i in pick]
            else:
                texts += pool
        return texts, label


class ContrastiveCollator:
    """Items -> ``{"skeletons", "texts", "classes"}`` (the aligner's keyword arguments)."""

    def __init__(self, num_frames: int, max_bodies: int | None = None):
        self.num_frames, self.max_bodies = num_frames, max_bodies

    def __call__(self, items: Sequence[TaskItem]) -> dict:
        batch: SkeletonBatch = collate_sequences([it.sequence for it in items], num_frames=self.num_frames,
                                                 train=False, max_bodies=self.max_bodies)
        return {"skeletons": batch, "texts": [it.prompt for it in items], "classes": [it.target for it in items]}


class ClassifyTask(_SeenClips):
    """Step 3 items: the instruction over the seen classes -> ``Label: <class>`` [+ description].

    ``num_candidates``: list the true class and this many minus one other seen classes drawn
    per item (default: every seen class, the paper's fixed list).

    A description that names an unseen class is left out of that class's targets (counted
    as ``description_mentions_unseen``).
    """

    name = "sugar_classify"

    def __init__(self, clips, guard: ClassGuard, knowledge: Knowledge | None, describe: bool = True,
                 num_candidates: int | None = None, **kw):
        super().__init__(clips, guard, **kw)
        self.candidates = list(guard.seen.values())
        if num_candidates is not None and num_candidates < 2:
            raise ValueError(f"num_candidates must be at least 2, got {num_candidates}")
        self.num_candidates = num_candidates
        self.descriptions: dict[str, str | None] = {c: None for c in self.candidates}
        if describe:
            if knowledge is None:
                raise ValueError("targets with descriptions need a knowledge file")
            knowledge.require(self.candidates)
            for c in self.candidates:
                text = knowledge.get(c).summary
                if guard.leaks(text):
                    self.stats.skip("description_mentions_unseen")
                else:
                    self.descriptions[c] = text

    def make(self, seq, label, rng):
        order = rng.permutation(len(self.candidates))
        if self.num_candidates is not None and self.num_candidates < len(self.candidates):
            others = [i for i in order if self.candidates[i] != label][: self.num_candidates - 1]
            order = rng.permutation(others + [self.candidates.index(label)])
        names = [self.guard.label(self.candidates[i], "a SUGAR instruction") for i in order]
        target = SP.target(self.guard.label(label, "a SUGAR target"), self.descriptions[label])
        return SP.instruction(names), self.guard.text(target, "a SUGAR target")


__all__ = ["ClassifyTask", "ContrastiveCollator", "ContrastiveTask", "TEXT_KINDS", "name_text"]
