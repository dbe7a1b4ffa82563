"""Training tasks: (skeleton sequence, prompt, target) datasets for each curriculum stage.

* ``mqa``: recognition as multiple choice over the split's seen classes (stages 1 and 4).
* ``disc``: "Does this show <action>?" -> YES/NO, one positive and one hard negative per
  clip (1:1), negatives from the true class's mined neighbours that are seen (stage 2).
* ``cr_distill``: student prompt (no label) -> the teacher's rationale (stage 3); clips
  without a cached rationale are skipped and counted.
* ``caption`` / ``qa``: for datasets whose clips carry ``metadata["captions"]`` /
  ``metadata["qa"]`` (HumanML3D, Skeleton-QA).

Zero-shot hygiene: unseen classes never appear in a training prompt or target. Clips of
unseen classes are dropped when a task is built, and every class name written into a
prompt or a target goes through :class:`ClassGuard`, which raises :class:`UnseenClassLeak`
rather than write an unseen name. Free text (rationales, captions, QA answers) that
mentions an unseen class is dropped and counted.

Randomness (candidate order, which negative, which caption, the frames sampled) comes
from a generator seeded by (seed, task, epoch, index), so an item is the same whichever
process or worker builds it, and a resumed run sees exactly the data it would have seen.
"""
from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field
from typing import Iterable, Mapping, NamedTuple, Sequence

import numpy as np
from torch.utils.data import Dataset

from ..errors import SkeletonLLMError
from ..mllm import prompts as P
from ..skeleton import SkeletonBatch, SkeletonSequence, collate_sequences, segment_indices


class UnseenClassLeak(SkeletonLLMError):
    """An unseen class name was about to be written into a training prompt or target."""


class TaskItem(NamedTuple):
    """One training example: a clip, the question asked about it, and the answer to learn."""

    sequence: SkeletonSequence
    prompt: str
    target: str


def _norm(name: str) -> str:
    return " ".join(str(name).lower().split())


class ClassGuard:
    """Checks that only seen class names are written into training text.

    Args:
        seen: the split's seen class names (the only names training may write).
        unseen: its unseen class names (searched for in free text).
    """

    def __init__(self, seen: Iterable[str], unseen: Iterable[str] = ()):
        self.seen = {_norm(n): n for n in seen}
        self.unseen = {_norm(n): n for n in unseen}
        both = set(self.seen) & set(self.unseen)
        if both:
            raise ValueError(f"classes both seen and unseen: {sorted(both)}")
        # Seen names are masked out of free text before unseen names are searched for, so
        # "throw" (unseen) is not found inside "throw up cap/hat" (seen).
        ordered = sorted(self.seen, key=len, reverse=True)
        self._seen_re = re.compile("|".join(_phrase(n) for n in ordered)) if ordered else None
        self._unseen_re = {n: re.compile(_phrase(n)) for n in self.unseen}

    def canonical(self, name: str) -> str | None:
        """The seen class's spelling for ``name``, or ``None`` if it is not seen."""
        return self.seen.get(_norm(name))

    def label(self, name: str, where: str = "a training prompt") -> str:
        """``name`` as a seen class (canonical spelling); raises if it is not a seen class."""
        canon = self.canonical(name)
        if canon is None:
            kind = "an unseen class" if _norm(name) in self.unseen else "not a seen class of the split"
            raise UnseenClassLeak(f"refusing to write '{name}' into {where}: it is {kind}")
        return canon

    def leaks(self, text: str) -> list[str]:
        """Unseen class names mentioned in ``text`` (case-insensitive, whole words)."""
        if not self.unseen:
            return []
        low = text.lower()
        if self._seen_re is not None:
            low = self._seen_re.sub(" ", low)
        return [self.unseen[n] for n, rx in self._unseen_re.items() if rx.search(low)]

    def text(self, text: str, where: str = "a training target") -> str:
        """``text`` unchanged; raises :class:`UnseenClassLeak` if it names an unseen class."""
        found = self.leaks(text)
        if found:
            raise UnseenClassLeak(f"refusing to write {where} that names unseen class(es) {found}: {text[:120]!r}")
        return text


def _phrase(name: str) -> str:
    return r"(?<![0-9a-z])" + re.escape(name) + r"(?![0-9a-z])"


def sample_id(seq: SkeletonSequence) -> str:
    """The key a clip's cached rationale is stored under.

    ``metadata["sample_id"]`` when the loader set one; else the file stem
    (``S001C001P001R001A001``), followed by ``#<start>-<end>`` for a clip cut from a
    longer recording (``0036-L#206-266``, PKU-MMD) or ``#<clip>`` when only its index is known.
    """
    sid = seq.metadata.get("sample_id")
    if sid is not None:
        return str(sid)
    src = seq.metadata.get("source")
    if src is None:
        raise ValueError("a clip needs metadata['sample_id'] or metadata['source'] to be looked up in a cache")
    name = str(src).replace("\\", "/").rsplit("/", 1)[-1]
    for ext in (".skeleton.npy", ".skeleton", ".npy", ".json", ".txt", ".bvh", ".pkl"):
        if name.endswith(ext):
            name = name[: -len(ext)]
            break
    if seq.metadata.get("frame_range") is not None:
        start, end = seq.metadata["frame_range"]
        name += f"#{int(start)}-{int(end)}"
    elif seq.metadata.get("clip") is not None:
        name += f"#{seq.metadata['clip']}"
    return name


@dataclass
class TaskStats:
    """What building a task kept and dropped (reported in the training log)."""

    clips: int = 0
    items: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


class TaskDataset(Dataset):
    """Base class: a list of (clip, payload) entries turned into :class:`TaskItem` on access.

    A clip is a :class:`SkeletonSequence` or a zero-argument callable returning one.

    Args:
        seed: run seed; items depend on (seed, task, epoch, index) only.
        num_frames: when set, each item's clip is cut to this many frames with the
            segment sampler (random position in each segment when ``train``, the middle
            otherwise), so that a batch needs no further randomness.
    """

    name = "task"

    def __init__(self, seed: int = 0, num_frames: int | None = None, train: bool = True):
        self.seed = int(seed)
        self.num_frames = num_frames
        self.train = train
        self.epoch = 0
        self.stats = TaskStats()
        self._entries: list[tuple[SkeletonSequence, object]] = []

    def set_epoch(self, epoch: int) -> None:
        """Items (candidate order, negatives, frames) change with the epoch, deterministically."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self._entries)

    def rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, zlib.crc32(self.name.encode()), self.epoch, int(index)])

    def __getitem__(self, index: int) -> TaskItem:
        seq, payload = self._entries[index]
        if callable(seq):  # a loader: clips of large datasets are read when they are used
            seq = seq()
        rng = self.rng(index)
        prompt, target = self.make(seq, payload, rng)
        if self.num_frames is not None:
            seq = seq.select_frames(segment_indices(seq.num_frames, self.num_frames, train=self.train, rng=rng))
        return TaskItem(seq, prompt, target)

    def make(self, seq: SkeletonSequence, payload, rng: np.random.Generator) -> tuple[str, str]:
        raise NotImplementedError


def _labelled_seen(sequences: Iterable[SkeletonSequence], guard: ClassGuard, stats: TaskStats):
    """Clips whose label is a seen class, with the seen spelling; the rest are counted."""
    for seq in sequences:
        stats.clips += 1
        if seq.label is None:
            stats.skip("no_label")
            continue
        canon = guard.canonical(seq.label)
        if canon is None:
            stats.skip("unseen_class" if _norm(seq.label) in guard.unseen else "unknown_class")
            continue
        yield seq, canon


class MQATask(TaskDataset):
    """Multiple-choice recognition: candidates are all seen classes, shuffled per item; target ``Label: <action>``."""

    name = "mqa"

    def __init__(self, sequences: Iterable[SkeletonSequence], guard: ClassGuard, **kw):
        super().__init__(**kw)
        self.guard = guard
        self.candidates = list(guard.seen.values())
        self._entries = list(_labelled_seen(sequences, guard, self.stats))
        self.stats.items = len(self._entries)

    def make(self, seq, label, rng):
        order = rng.permutation(len(self.candidates))
        names = [self.guard.label(self.candidates[i], "an MQA candidate list") for i in order]
        return P.mqa_prompt(names), P.mqa_target(self.guard.label(label, "an MQA target"))


class DiscTask(TaskDataset):
    """Disc-FT: each clip gives a YES item (its own class) and a NO item (a seen hard negative).

    Args:
        neighbors: ``{class: [mined neighbours]}`` (:func:`skeletonllm.train.negatives.load_negatives`);
            only seen neighbours are used. ``None``, or a class with no seen neighbour,
            falls back to a uniformly drawn other seen class (counted as ``random_negative``).
    """

    name = "disc"

    def __init__(self, sequences: Iterable[SkeletonSequence], guard: ClassGuard,
                 neighbors: Mapping[str, Sequence[str]] | None = None, **kw):
        super().__init__(**kw)
        self.guard = guard
        if len(guard.seen) < 2:
            raise ValueError("Disc-FT needs at least two seen classes to draw negatives from")
        hard: dict[str, list[str]] = {}
        for anchor, names in (neighbors or {}).items():
            a = guard.canonical(anchor)
            if a is not None:
                hard[a] = [c for c in (guard.canonical(n) for n in names) if c is not None and c != a]
        self.neighbors = hard
        self.seen = list(guard.seen.values())
        for seq, label in _labelled_seen(sequences, guard, self.stats):
            self._entries.append((seq, (label, True)))
            self._entries.append((seq, (label, False)))
            if not self.neighbors.get(label):
                self.stats.skip("random_negative")
        self.stats.items = len(self._entries)

    def make(self, seq, payload, rng):
        label, positive = payload
        if positive:
            action = label
        else:
            pool = self.neighbors.get(label) or [c for c in self.seen if c != label]
            action = pool[int(rng.integers(len(pool)))]
        action = self.guard.label(action, "a Disc-FT question")
        return P.disc_prompt(action), P.YES if positive else P.NO


class CRDistillTask(TaskDataset):
    """CR-Distill: the student prompt (no label) -> the teacher's cached rationale.

    Args:
        rationales: anything with ``get(sample_id) -> str | None`` (a
            :class:`~skeletonllm.train.rationales.RationaleCache` or a dict).
    Clips with no rationale are skipped (``no_rationale``), as are rationales whose final
    ``Label:`` line is not the clip's class (``label_mismatch``) or that name an unseen
    class (``mentions_unseen``).
    """

    name = "cr_distill"

    def __init__(self, sequences: Iterable[SkeletonSequence], guard: ClassGuard, rationales, **kw):
        super().__init__(**kw)
        self.guard = guard
        for seq, label in _labelled_seen(sequences, guard, self.stats):
            text = _rationale_text(rationales, sample_id(seq))
            if not text:
                self.stats.skip("no_rationale")
                continue
            said = P.raw_label(text)
            if said is None or said != P.normalize_label(label):
                self.stats.skip("label_mismatch")
                continue
            if guard.leaks(text):
                self.stats.skip("mentions_unseen")
                continue
            self._entries.append((seq, text))
        self.stats.items = len(self._entries)

    def make(self, seq, text, rng):
        return P.student_prompt(), self.guard.text(text, "a CR-Distill target")


def _rationale_text(cache, sid: str) -> str | None:
    value = cache.get(sid)
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        for key in ("rationale", "text", "answer"):
            if isinstance(value.get(key), str):
                return value[key]
    text = getattr(value, "rationale", None) or getattr(value, "text", None)
    return text if isinstance(text, str) else None


class CaptionTask(TaskDataset):
    """Motion captioning: ``caption_prompt()`` -> one of the clip's captions (drawn per epoch)."""

    name = "caption"

    def __init__(self, sequences: Iterable[SkeletonSequence], guard: ClassGuard | None = None, **kw):
        super().__init__(**kw)
        self.guard = guard
        for seq in sequences:
            self.stats.clips += 1
            caps = [c.strip() for c in (seq.metadata.get("captions") or []) if isinstance(c, str) and c.strip()]
            if guard is not None:
                clean = [c for c in caps if not guard.leaks(c)]
                if len(clean) < len(caps):
                    self.stats.skip("caption_mentions_unseen")
                caps = clean
            if not caps:
                self.stats.skip("no_caption")
                continue
            self._entries.append((seq, caps))
        self.stats.items = len(self._entries)

    def make(self, seq, caps, rng):
        caption = caps[int(rng.integers(len(caps)))]
        if self.guard is not None:
            caption = self.guard.text(caption, "a caption target")
        return P.caption_prompt(), caption


class QATask(TaskDataset):
    """Motion QA from ``metadata["qa"]``: a list of ``{"question", "answer", "options"?}``.

    With options the target is ``Label: <answer>`` (the answer must be one of the options);
    without, the answer text itself. Each question is one item.
    """

    name = "qa"

    def __init__(self, sequences: Iterable[SkeletonSequence], guard: ClassGuard | None = None, **kw):
        super().__init__(**kw)
        self.guard = guard
        for seq in sequences:
            self.stats.clips += 1
            entries = seq.metadata.get("qa") or []
            if not entries:
                self.stats.skip("no_qa")
            for i, qa in enumerate(entries):
                if not isinstance(qa, Mapping) or not isinstance(qa.get("question"), str) \
                        or not isinstance(qa.get("answer"), str):
                    raise ValueError(f"{seq.source}: metadata['qa'][{i}] must be a mapping with string "
                                     f"'question' and 'answer' (and optionally a list 'options')")
                options = qa.get("options")
                if options is not None:
                    options = [str(o) for o in options]
                    if qa["answer"] not in options:
                        raise ValueError(f"{seq.source}: metadata['qa'][{i}]: answer {qa['answer']!r} "
                                         f"is not one of its options {options}")
                texts = [qa["question"], qa["answer"], *(options or [])]
                if guard is not None and any(guard.leaks(t) for t in texts):
                    self.stats.skip("qa_mentions_unseen")
                    continue
                self._entries.append((seq, (qa["question"], options, qa["answer"])))
        self.stats.items = len(self._entries)

    def make(self, seq, payload, rng):
        question, options, answer = payload
        prompt = P.qa_prompt(question, options)
        target = P.mqa_target(answer) if options is not None else answer
        if self.guard is not None:
            for t in [question, answer, *(options or [])]:
                self.guard.text(t, "a QA prompt or target")
        return prompt, target


class MixedTasks(Dataset):
    """Several tasks as one dataset (the joint ablation, or a stage with several tasks).

    Args:
        shares: ``{task name: fraction}``: each epoch draws that fraction of the task's items
            (a new draw per epoch, fixed by ``seed`` and the epoch), so a task can stay in a
            stage at a small weight without being repeated less often than the others.
            Tasks not named keep all their items.
    """

    def __init__(self, tasks: Sequence[TaskDataset], shares: Mapping[str, float] | None = None, seed: int = 0):
        self.tasks = [t for t in tasks]
        self.shares = {t.name: float((shares or {}).get(t.name, 1.0)) for t in self.tasks}
        self.seed = int(seed)
        self.drawn = [len(t) if self.shares[t.name] >= 1 else max(1, round(self.shares[t.name] * len(t)))
                      for t in self.tasks]
        self.offsets = np.cumsum([0] + self.drawn)
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        self._picks = []
        for t, m in zip(self.tasks, self.drawn):
            t.set_epoch(epoch)
            rng = np.random.default_rng([self.seed, zlib.crc32(t.name.encode()), int(epoch)])
            self._picks.append(None if m == len(t) else np.sort(rng.permutation(len(t))[:m]))

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def __getitem__(self, index: int) -> TaskItem:
        k = int(np.searchsorted(self.offsets, index, side="right") - 1)
        i = index - int(self.offsets[k])
        picks = self._picks[k]
        return self.tasks[k][i if picks is None else int(picks[i])]


def build_task(name: str, sequences: Sequence[SkeletonSequence], guard: ClassGuard | None, *,
               neighbors=None, rationales=None, seed: int = 0, num_frames: int | None = None,
               train: bool = True) -> TaskDataset:
    """One task dataset by name (``mqa``, ``disc``, ``cr_distill``, ``caption``, ``qa``)."""
    kw = dict(seed=seed, num_frames=num_frames, train=train)
    if name in ("mqa", "disc", "cr_distill") and guard is None:
        raise ValueError(f"task '{name}' needs a class split (the seen classes)")
    if name == "mqa":
        return MQATask(sequences, guard, **kw)
    if name == "disc":
        return DiscTask(sequences, guard, neighbors, **kw)
    if name == "cr_distill":
        if rationales is None:
            raise ValueError("task 'cr_distill' needs a rationale cache (data.rationales)")
        return CRDistillTask(sequences, guard, rationales, **kw)
    if name == "caption":
        return CaptionTask(sequences, guard, **kw)
    if name == "qa":
        return QATask(sequences, guard, **kw)
    raise ValueError(f"unknown task '{name}'")


class TaskCollator:
    """Items -> ``(SkeletonBatch, prompts, targets)``.

    Clips already cut to ``num_frames`` by their task pass through unchanged (the
    sampler's evaluation mode is the identity on F frames); longer ones get the middle
    frame of each segment. Picklable, so DataLoader workers can use it.
    """

    def __init__(self, num_frames: int = 12, max_bodies: int | None = None):
        self.num_frames = num_frames
        self.max_bodies = max_bodies

    def __call__(self, items: Sequence[TaskItem]) -> tuple[SkeletonBatch, list[str], list[str]]:
        batch = collate_sequences([it.sequence for it in items], num_frames=self.num_frames, train=False,
                                  max_bodies=self.max_bodies)
        return batch, [it.prompt for it in items], [it.target for it in items]
