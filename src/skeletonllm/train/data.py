"""Training data: what a run trains on, the order it comes in, and clips read when a batch needs them.

* :func:`load_training_data`: the clips, class list and split a config's ``data`` section names
  (a dataset, files, or the procedural set) as :class:`TrainingData`; :func:`build_stage_data`
  makes a stage's dataset from them (its tasks, mixed).
* :func:`epoch_plan`: the data order, a pure function of (seed, epoch): each epoch is one seeded
  permutation of the stage's items, split into global batches (per-device batch x processes x
  accumulation) and dealt to processes, so a resumed run skips exactly the batches already
  consumed and sees the same ones afterwards, and all processes agree without talking.
* :class:`LazyClips`, :class:`BadFileLog`: dataset clips read in the loader's workers, with bad
  files skipped up to a limit.

A real dataset is tens of thousands of text files. Parsing them all before the first step
(and again in every process) costs minutes and keeps every clip in memory; here the dataset
index (file names and small side files, :class:`~skeletonllm.skeleton.dataset.SkeletonDataset`)
gives each clip's class, and the clip itself is read in the ``DataLoader``'s worker processes
when its batch comes (through the dataset's ``.npz`` cache when ``data.cache_dir`` is set, so a
file is parsed once per run directory, not once per epoch and process).

A file that fails to parse does not stop the run: the failure is written to a shared JSONL log
(:class:`BadFileLog`; every process and worker appends to it) and the batch gets another clip of
the same class in its place (the next one in index order), so every process still does the same
number of steps and a resumed run sees the same data. Past ``limit`` distinct bad files the run
stops with :class:`TooManyBadFiles`: that many means a wrong folder or a broken copy, not noise.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import ConfigError, SkeletonLLMError
from ..skeleton.sequence import SkeletonSequence
from .stages import Stage, StageOrderError

log = logging.getLogger(__name__)

#: What reading a file may raise when the file (not the code) is at fault.
PARSE_ERRORS = (SkeletonLLMError, OSError, ValueError, EOFError)
#: Formats whose sample id (the key of cached rationales) is the file's stem.
_STEM_IS_SAMPLE_ID = ("ntu", "ntu_npy", "nw_ucla")


# -- clips read when a batch needs them ----------------------------------------------------------

class TooManyBadFiles(SkeletonLLMError, RuntimeError):
    """More training files failed to parse than ``data.max_bad_files`` allows."""


class BadFileLog:
    """Training files that failed to parse: one JSON line each in ``path`` (shared by processes).

    Args:
        path: the log file (``None``: kept in this process only).
        limit: distinct bad files tolerated; one more raises :class:`TooManyBadFiles`.
    """

    def __init__(self, path: str | os.PathLike | None, limit: int):
        self.path = Path(path) if path is not None else None
        self.limit = int(limit)
        self._local: dict[str, str] = {}

    def record(self, source: str | os.PathLike, error: BaseException) -> None:
        """Note that ``source`` failed with ``error``; raise once more than ``limit`` files have."""
        source, reason = str(source), f"{type(error).__name__}: {error}"
        if source not in self._local:
            log.warning("skipping a training file that fails to parse: %s (%s)", source, reason)
        self._local[source] = reason
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            line = json.dumps({"file": source, "error": reason}) + "\n"
            # One short O_APPEND write per line: lines from several processes do not interleave.
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line.encode("utf-8"))
            finally:
                os.close(fd)
        bad = self.files()
        if len(bad) > self.limit:
            where = f" (listed in {self.path})" if self.path is not None else ""
            raise TooManyBadFiles(f"{len(bad)} training files failed to parse, more than data.max_bad_files = "
                                  f"{self.limit}{where}; the last: {source}: {reason}")

    def files(self) -> dict[str, str]:
        """``{file: reason}`` of every bad file recorded so far (by any process, when shared)."""
        if self.path is None or not self.path.is_file():
            return dict(self._local)
        out = {}
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                rec = json.loads(line)
            except ValueError:  # a line cut by a kill mid-write
                continue
            out[rec["file"]] = rec["error"]
        return out


class LazyClips:
    """The clips of a :class:`~skeletonllm.skeleton.dataset.SkeletonDataset` as zero-argument loaders.

    Args:
        dataset: the index.
        class_names: the dataset's class list (``label_id`` -> name).
        bad_files: where failures go; ``None`` lets them raise.
    """

    def __init__(self, dataset, class_names: Sequence[str], bad_files: BadFileLog | None = None):
        self.dataset = dataset
        self.class_names = list(class_names)
        self.bad_files = bad_files
        self._same_class: dict[int | None, list[int]] = {}
        for i, it in enumerate(dataset.items):
            self._same_class.setdefault(it.label_id, []).append(i)

    def label(self, index: int) -> str | None:
        lid = self.dataset.items[index].label_id
        return self.class_names[lid] if lid is not None and 0 <= lid < len(self.class_names) else None

    def clips(self) -> list["LazyClip"]:
        """One loader per indexed sample, in index order."""
        out = []
        for i, it in enumerate(self.dataset.items):
            sid = it.name if it.format in _STEM_IS_SAMPLE_ID and it.index == 0 else None
            out.append(LazyClip(self, i, self.label(i), sid))
        return out

    def load(self, index: int) -> SkeletonSequence:
        """Sample ``index``; if its file fails to parse (and failures are logged), the next sample
        of the same class that parses, in index order, wrapping around."""
        try:
            return self.dataset[index]
        except PARSE_ERRORS as exc:
            if self.bad_files is None:
                raise
            self.bad_files.record(self.dataset.items[index].path, exc)
            first_error = exc
        ring = self._same_class[self.dataset.items[index].label_id]
        start = ring.index(index)
        for k in ring[start + 1:] + ring[:start]:
            try:
                return self.dataset[k]
            except PARSE_ERRORS as exc:
                self.bad_files.record(self.dataset.items[k].path, exc)
        raise TooManyBadFiles(f"no file of class {self.label(index)!r} parses (the first: "
                              f"{self.dataset.items[index].path}: {first_error})")


class LazyClip:
    """One training clip, read when called; its class (and, for NTU and NW-UCLA files, its
    sample id) comes from the dataset index without parsing the file.

    ``metadata`` is ``{"sample_id": ...}`` when the index knows the id (enough for looking up a
    cached rationale), else the clip's own metadata (the file is read).
    """

    __slots__ = ("source", "index", "label", "sample_id")

    def __init__(self, source: LazyClips, index: int, label: str | None, sample_id: str | None):
        self.source, self.index, self.label, self.sample_id = source, index, label, sample_id

    def __call__(self) -> SkeletonSequence:
        return self.source.load(self.index)

    @property
    def metadata(self) -> dict:
        if self.sample_id is not None:
            return {"sample_id": self.sample_id}
        return self().metadata

    def __repr__(self) -> str:
        return f"LazyClip({self.source.dataset.items[self.index].path}, label={self.label!r})"


def load_clips(patterns, max_bodies: int | None, bad_files: BadFileLog | None = None) -> list[SkeletonSequence]:
    """Every clip of the files ``patterns`` (paths or globs) name, in order; files that fail to
    parse are skipped and logged when ``bad_files`` is given."""
    import glob

    from ..skeleton.io import detect_format, load_all
    paths = []
    for pattern in patterns:
        hits = sorted(glob.glob(os.path.expanduser(pattern)))
        if not hits:
            raise FileNotFoundError(f"data.files: nothing matches '{pattern}'")
        paths.extend(hits)
    out = []
    for p in paths:
        try:
            fmt = detect_format(p)
            out += load_all(p, max_bodies=max_bodies) if fmt in ("ntu", "ntu_npy") else load_all(p)
        except PARSE_ERRORS as exc:
            if bad_files is None:
                raise
            bad_files.record(p, exc)
    return out


# -- data order -----------------------------------------------------------------------------

def epoch_plan(num_items: int, seed: int, epoch: int, num_processes: int, rank: int,
               batch_size: int, accumulation: int) -> list[list[int]]:
    """This process's micro-batches (lists of item indices) for one epoch.

    The epoch is a permutation of all items seeded by (seed, epoch), wrapped around to a
    whole number of optimiser steps (each step takes ``batch_size * num_processes *
    accumulation`` items), so every process does the same number of micro-batches and
    every optimiser step is complete. Micro-batch ``k`` of process ``r`` is slice
    ``[(k * P + r) * B, (k * P + r + 1) * B)`` of the permutation.
    """
    if num_items < 1:
        raise ValueError("a stage needs at least one training item")
    per_step = batch_size * num_processes * accumulation
    steps = math.ceil(num_items / per_step)
    order = np.random.default_rng([seed, epoch]).permutation(num_items)
    order = np.resize(order, steps * per_step)  # wraps around: a few items twice in the last step
    micro = []
    for k in range(steps * accumulation):
        start = (k * num_processes + rank) * batch_size
        micro.append(order[start:start + batch_size].tolist())
    return micro


def steps_per_epoch(num_items: int, batch_size: int, num_processes: int, accumulation: int) -> int:
    return math.ceil(num_items / (batch_size * num_processes * accumulation))


# -- what a run trains on ---------------------------------------------------------------------

@dataclass
class TrainingData:
    """What a run trains on.

    Attributes:
        sequences: the clips (all classes; tasks drop the unseen ones and count them).
        classes: the dataset's full class list (for validating a negatives file).
        seen, unseen: the split's class names; ``seen`` None when there is no split.
        rationales: a rationale source (``get(sample_id)``) that comes with the data
            (procedural sets write their own), else None (then ``data.rationales`` is read).
        neighbors: hard negatives ``{class: [names]}`` that come with the data, likewise.
    """

    sequences: list
    classes: list[str] | None = None
    seen: list[str] | None = None
    unseen: list[str] = dataclasses.field(default_factory=list)
    rationales: Any = None
    neighbors: dict[str, list[str]] | None = None

    def guard(self):
        from .tasks import ClassGuard
        return None if self.seen is None else ClassGuard(self.seen, self.unseen)

    def class_record(self, split: str | None) -> dict | None:
        """What the trained checkpoints remember of these classes (None without a class list)."""
        from ..mllm.checkpoint import class_record
        return None if self.seen is None else class_record(split, self.classes, self.seen, self.unseen)


def split_name(data) -> str | None:
    """The class split a data section trains on: ``data.split``, or the procedural set's split."""
    if data.split is not None:
        return data.split
    return (data.synth or {}).get("split", "synth_24_6") if data.synth is not None else None


def _synthetic_data(options: dict, seed: int) -> TrainingData:
    """The procedural motion set (:mod:`skeletonllm.synth`): its seen clips, split, rationales and
    hard negatives (the 5 most similar classes by the generator's own motion programs, mined
    over all classes like a teacher would; Disc-FT keeps the seen ones)."""
    from ..synth import SyntheticMotionSet, similar_classes

    options = dict(options)
    split = options.pop("split", "synth_24_6")
    topology = options.pop("topology", "ntu25")
    num_per_class = options.pop("num_per_class", 8)
    set_seed_ = options.pop("seed", seed)
    if options:
        raise ConfigError(None, f"data.synth.{next(iter(options))}",
                          "unknown key (known: split, topology, num_per_class, seed)")
    ds = SyntheticMotionSet.for_split(split, num_per_class=num_per_class, seed=set_seed_, topologies=(topology,))
    seqs, rationales = [], {}
    for i in ds.seen_indices():
        sample = ds[i]
        seq = sample.sequence(topology)
        sid = f"synth-{split}-{set_seed_}-{i}"
        qa = [{"question": q.question, "options": list(q.options), "answer": q.options[q.answer]} for q in sample.qa]
        seqs.append(dataclasses.replace(seq, metadata={**seq.metadata, "sample_id": sid, "qa": qa}))
        rationales[sid] = {"id": sid, "label": sample.label, "rationale": sample.rationale}
    classes = list(ds.split.classes)
    neighbors = {c: similar_classes(c, classes, 5) for c in classes}
    return TrainingData(seqs, classes, list(ds.split.seen), list(ds.split.unseen), rationales, neighbors)


def load_files(patterns, max_bodies: int | None, bad_files=None) -> list:
    """Every clip of the files that ``patterns`` (paths or globs, ``data.files``) name, in order
    (:func:`load_clips`)."""
    return load_clips(patterns, max_bodies, bad_files)


def _dataset_clips(data, bad_files) -> list:
    """The clips of ``data.dataset`` under ``data.root``: lazy loaders (read in the DataLoader's
    workers) when the dataset has a class list, else parsed now."""
    from ..skeleton.dataset import load_dataset
    from ..skeleton.splits import class_names
    options = {"max_bodies": data.max_bodies} if data.dataset in ("ntu60", "ntu120") else None
    ds = load_dataset(data.dataset, data.root, subset=data.subset, split=data.split,
                      cache_dir=data.cache_dir, options=options)
    if ds.excluded:
        log.info("%d NTU samples with missing skeletons left out (the dataset authors' lists)", len(ds.excluded))
    try:
        names = class_names(data.dataset)
    except KeyError:  # no class list (captions, QA): labels and metadata come from the files
        return [ds[i] for i in range(len(ds))]
    return LazyClips(ds, names, bad_files).clips()


def load_training_data(data, seed: int = 0, bad_files=None) -> TrainingData:
    """The clips, classes and split that ``data`` (a :class:`~.config.DataSection`) names.

    Dataset clips are loaders read when a batch needs them (:mod:`skeletonllm.train.data`);
    ``bad_files``, a :class:`~skeletonllm.train.data.BadFileLog`, takes the files that fail to
    parse (``None``: they raise).
    """
    if data.synth is not None:
        out = _synthetic_data(data.synth, seed)
    else:
        if data.files is not None:
            seqs = load_files(data.files, data.max_bodies, bad_files)
        else:
            seqs = _dataset_clips(data, bad_files)
        out = TrainingData(seqs)
        if data.split is not None:
            from ..skeleton.splits import class_names, get_split
            split = get_split(data.split)
            out.classes = list(class_names(split.dataset))
            out.seen, out.unseen = list(split.seen_names), list(split.unseen_names)
        else:  # no split: every labelled class is a training class
            labels = sorted({s.label for s in seqs if s.label is not None})
            out.classes, out.seen = (labels, labels) if labels else (None, None)
    if data.max_samples is not None:
        out.sequences = out.sequences[:data.max_samples]
    if not out.sequences:
        raise ConfigError(None, "data", "the configured data source holds no clips")
    return out


def build_stage_data(stage: Stage, training: TrainingData, data, seed: int):
    """The stage's dataset (its tasks, mixed) and per-task statistics for the log."""
    from .tasks import MixedTasks, build_task
    neighbors, rationales = training.neighbors, None
    if "disc" in stage.tasks and data.negatives is not None:
        from .negatives import load_negatives
        if training.classes is None:
            raise StageOrderError("data.negatives needs the dataset's class list: set data.split")
        neighbors = load_negatives(data.negatives, training.classes)
    if "cr_distill" in stage.tasks:
        if data.rationales is not None and Path(data.rationales).is_file():
            from .rationales import RationaleCache
            rationales = RationaleCache(data.rationales)
        elif training.rationales is not None:
            rationales = training.rationales
        else:
            raise StageOrderError(
                f"stage '{stage.name}' needs teacher rationales, but data.rationales "
                f"({data.rationales!r}) is not a file. Generate them from frames rendered by the "
                "stage-2 model (paper, appendix E.3.3), then run the remaining stages.")
    guard = training.guard()
    sequences = training.sequences
    tasks, stats = [], {}
    shares = dict(stage.task_share)
    for name in stage.tasks:
        task = build_task(name, sequences, guard, neighbors=neighbors, rationales=rationales, seed=seed,
                          num_frames=data.num_frames, train=True)
        stats[name] = {"items": len(task), "clips": task.stats.clips, "skipped": task.stats.skipped,
                       **({"share": shares[name]} if name in shares else {})}
        if len(task) == 0:
            raise ConfigError(None, "data", f"stage '{stage.name}': task '{name}' has no items "
                                            f"({task.stats.clips} clips; skipped: {task.stats.skipped})")
        tasks.append(task)
    if len(tasks) == 1 and not shares:
        return tasks[0], stats
    return MixedTasks(tasks, shares, seed=seed), stats



__all__ = ["BadFileLog", "LazyClip", "LazyClips", "PARSE_ERRORS", "TooManyBadFiles", "TrainingData",
           "build_stage_data", "epoch_plan", "load_clips", "load_files", "load_training_data", "split_name",
           "steps_per_epoch"]
