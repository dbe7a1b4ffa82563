"""skeletonllm's own ``.npz`` files: ``skeletonllm convert --to npz`` stores (and dataset caches).

Arrays plus a JSON header (:mod:`..packing`), read with ``allow_pickle=False``. Every
sequence comes back as it was converted: topology, fps, label, scores, orientations and
metadata.
"""
from __future__ import annotations

from pathlib import Path

from ...errors import SkeletonFormatError
from ..packing import read_npz
from ..sequence import SkeletonSequence
from ._common import check_file, npz_members


def read(path) -> list[SkeletonSequence]:
    path = Path(check_file(path))
    try:
        _, seqs = read_npz(path)
    except SkeletonFormatError:
        raise
    except Exception as exc:  # zip, JSON or shape damage
        raise SkeletonFormatError(path, f"damaged skeletonllm .npz store ({type(exc).__name__}: {exc})") from None
    if not seqs:
        raise SkeletonFormatError(path, "the store holds no sequences")
    return seqs


def sniff(path: Path, head: bytes) -> bool:
    names = npz_members(path, head)
    return "header.npy" in names and "joints0.npy" in names
