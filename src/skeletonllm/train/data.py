"""Training clips of a dataset, read when a batch needs them, with bad files skipped up to a limit.

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

import json
import logging
import os
from pathlib import Path
from typing import Sequence

from ..errors import SkeletonLLMError
from ..skeleton.sequence import SkeletonSequence

log = logging.getLogger(__name__)

#: What reading a file may raise when the file (not the code) is at fault.
PARSE_ERRORS = (SkeletonLLMError, OSError, ValueError, EOFError)
#: Formats whose sample id (the key of cached rationales) is the file's stem.
_STEM_IS_SAMPLE_ID = ("ntu", "ntu_npy", "nw_ucla")


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


__all__ = ["BadFileLog", "LazyClip", "LazyClips", "PARSE_ERRORS", "TooManyBadFiles", "load_clips"]
