"""Which files a reader used, so that a cached parse is keyed on all of them.

A reader's result depends on more than its source file: an ``.amc`` on its ``.asf``, a PKU-MMD
recording on its label file, a HumanML3D motion on its caption file, an OpenPose folder on every
frame file in it, a class list a user passed. Readers report each such file as they use it
(:func:`note_file`, :func:`note_folder`; :func:`~.formats._common.check_file` does it for every
file a reader opens), including the places they looked and found nothing (a label file that
appears later changes the result too). :func:`recording` collects the reports of one parse, and
:func:`signature` / :func:`unchanged` tell whether any of those files changed since.

A file is compared by size and modification time (ns), a folder by the names it holds; an edit
that keeps both a file's size and its modification time is not seen. :func:`loader_version` is
a digest of the readers' own code and the class lists shipped with the package, so a cache
written by another version of a reader is not served either.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import os
from contextvars import ContextVar
from importlib import resources
from pathlib import Path
from typing import Iterator

_READS: ContextVar[dict | None] = ContextVar("skeletonllm_reads", default=None)


def note_file(path) -> None:
    """A reader used (or looked for) the file ``path``."""
    reads = _READS.get()
    if reads is not None:
        reads.setdefault(("file", os.path.abspath(path)), None)


def note_folder(path) -> None:
    """A reader used the list of names in the folder ``path``."""
    reads = _READS.get()
    if reads is not None:
        reads.setdefault(("folder", os.path.abspath(path)), None)


@contextlib.contextmanager
def recording() -> Iterator[list]:
    """Collect the files reported inside; the yielded list is filled when the block ends."""
    reads: dict = {}
    token = _READS.set(reads)
    out: list = []
    try:
        yield out
    finally:
        _READS.reset(token)
        out.extend(sorted(reads))


def _state(kind: str, path: str):
    """What a file or folder is now: ``[size, mtime_ns]``, a digest of a folder's names, or None if absent."""
    try:
        if kind == "folder":
            names = "\n".join(sorted(os.listdir(path)))
            return hashlib.sha1(names.encode("utf-8", "surrogateescape")).hexdigest()
        st = os.stat(path)
        return [st.st_size, st.st_mtime_ns]
    except OSError:
        return None


def signature(reads) -> list:
    """``[[kind, path, state], ...]`` of recorded reads (JSON-able, for a cache header)."""
    return [[kind, path, _state(kind, path)] for kind, path in reads]


def unchanged(saved) -> bool:
    """Whether every file and folder of a :func:`signature` is still as it was."""
    try:
        return all(_state(kind, path) == state for kind, path, state in saved)
    except (TypeError, ValueError):  # a damaged or older header
        return False


@functools.lru_cache(maxsize=None)
def loader_version() -> str:
    """A digest of the readers' code (``skeletonllm/skeleton/**.py``) and the package's data files."""
    h = hashlib.sha1()
    root = Path(__file__).resolve().parent
    data = resources.files("skeletonllm").joinpath("data")
    files = sorted(root.rglob("*.py")) + sorted(Path(str(data)).rglob("*"))
    for f in files:
        if f.is_file() and "__pycache__" not in f.parts:
            h.update(f.name.encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


__all__ = ["loader_version", "note_file", "note_folder", "recording", "signature", "unchanged"]
