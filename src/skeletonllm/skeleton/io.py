"""Entry points: load any supported skeleton file into :class:`SkeletonSequence` objects.

>>> seq = load("S001C001P001R001A001.skeleton")          # one sample
>>> clips = load_all("pku_mmd/skeleton/0036-L.txt")       # every labelled clip

``format=`` names a reader (see :mod:`skeletonllm.skeleton.formats`); without it the
format is detected from the extension and, where that is ambiguous, the content. Extra
keyword arguments go to the reader (``max_bodies`` for NTU, ``label_path`` for PKU-MMD,
``units`` for BVH, ``max_people``/``gate``/``fps`` for COCO json). Every problem with a
file raises :class:`~skeletonllm.errors.SkeletonFormatError` naming the file.
"""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import SkeletonFormatError
from .formats import FORMATS, explain_unknown, sniff_format
from .formats._common import check_file
from .sequence import SkeletonSequence


def _check_source(path) -> Path:
    """A file (checked by ``check_file``) or a folder that a folder format claims."""
    path = Path(path)
    if path.is_dir() and sniff_format(path) is not None:
        return path
    return check_file(path)


def detect_format(path: str | os.PathLike) -> str:
    """The format name of a file (or OpenPose folder); raises :class:`SkeletonFormatError` if none fits."""
    path = _check_source(path)
    name = sniff_format(path)
    if name is None:
        raise SkeletonFormatError(path, f"cannot tell the skeleton format: {explain_unknown(path)}. "
                                  f"Known formats: {', '.join(FORMATS)} (pass format=NAME)")
    return name


def _resolve(path, format: str | None):
    path = Path(path)
    if format is not None and format not in FORMATS:
        raise SkeletonFormatError(path, f"unknown format '{format}': expected one of {sorted(FORMATS)}")
    if not (path.is_dir() and format is not None and FORMATS[format].folders):
        path = _check_source(path)
    return path, FORMATS[format or detect_format(path)]


def load_all(path: str | os.PathLike, format: str | None = None, **options) -> list[SkeletonSequence]:
    """Every sample in a file: PKU-MMD recordings give their labelled clips, PYSKL pickles
    every annotation, single-sample formats a one-element list."""
    path, fmt = _resolve(path, format)
    return fmt.read(path, **options)


def load(path: str | os.PathLike, format: str | None = None, **options) -> SkeletonSequence:
    """A single-sample file as one sequence.

    A PKU-MMD recording comes back whole with ``metadata["segments"]`` =
    ``[(label_id, start, end, confidence), ...]``; a file holding several samples (a
    PYSKL pickle) raises and points to :func:`load_all`.
    """
    path, fmt = _resolve(path, format)
    if fmt.read_one is not None:
        return fmt.read_one(path, **options)
    seqs = fmt.read(path, **options)
    if len(seqs) != 1:
        raise SkeletonFormatError(path, f"holds {len(seqs)} samples; use skeletonllm.load_all() to get all of them")
    return seqs[0]


def summarize(path: str | os.PathLike, format: str | None = None) -> dict:
    """What the ``inspect`` command prints: :meth:`SkeletonSequence.summary` plus sample counts."""
    path, fmt = _resolve(path, format)
    if fmt.read_one is not None:
        seq = fmt.read_one(path)
        info = seq.summary()
        info["segments"] = len(seq.metadata.get("segments", []))
        info["samples"] = max(info["segments"], 1)
    else:
        seqs = fmt.read(path)
        info = seqs[0].summary()
        info["samples"] = len(seqs)
    info["format"] = fmt.name
    return info


__all__ = ["detect_format", "load", "load_all", "summarize"]
