"""NTU RGB+D samples the dataset's authors ask to leave out: missing or incomplete skeletons.

The authors publish two lists (302 NTU-60 samples, 535 NTU-120 samples that include the 302),
shipped byte for byte in ``skeletonllm/data`` (provenance:
``data/NTU_missing_skeletons_PROVENANCE.md``). CTR-GCN's and PYSKL's data preparation leave
these samples out of every split; here the dataset index
(:class:`~skeletonllm.skeleton.dataset.SkeletonDataset`) and every standard protocol
(:func:`~skeletonllm.skeleton.splits.protocol_part`) do the same, so an NTU run never meets
the files whose skeleton is absent (the NTU reader raises on a file with no body in any frame).
"""
from __future__ import annotations

import functools
import re
from importlib import resources

#: The package files, NTU-60's list first (NTU-120's contains it).
LIST_FILES = ("NTU_RGBD_samples_with_missing_skeletons.txt", "NTU_RGBD120_samples_with_missing_skeletons.txt")
_SAMPLE = re.compile(r"S\d{3}C\d{3}P\d{3}R\d{3}A\d{3}")


def read_list(text: str) -> frozenset[str]:
    """Sample names of one authors' file: every line that is exactly an NTU sample name
    (the two header lines and the blank line are not)."""
    return frozenset(line.strip() for line in text.splitlines() if _SAMPLE.fullmatch(line.strip()))


@functools.lru_cache(maxsize=None)
def missing_skeleton_samples() -> frozenset[str]:
    """Every listed sample name (``S001C002P005R002A008``), NTU-60's and NTU-120's lists together."""
    out: set[str] = set()
    for name in LIST_FILES:
        out |= read_list(resources.files("skeletonllm").joinpath("data", name).read_text(encoding="ascii"))
    return frozenset(out)


def has_missing_skeleton(sample_name: str) -> bool:
    """Whether ``sample_name`` (a file name, stem or PYSKL ``frame_dir`` holding an NTU sample
    name) is on the authors' lists."""
    m = _SAMPLE.search(sample_name)
    return m is not None and m.group(0) in missing_skeleton_samples()


__all__ = ["LIST_FILES", "has_missing_skeleton", "missing_skeleton_samples", "read_list"]
