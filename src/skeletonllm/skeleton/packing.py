"""Sequences <-> plain arrays plus a JSON header, in one ``.npz`` (no pickles).

The layout behind the dataset cache (:mod:`.dataset`) and the ``convert --to npz`` store
(:mod:`.convert`): arrays ``joints{k}``, ``present{k}`` and, when a sequence has them,
``orientations{k}`` / ``scores{k}``; and ``header``, UTF-8 JSON bytes holding a dict whose
``sequences`` list gives each sequence's topology (a built-in's name, or the full
definition), fps, label, label id and metadata. Readers open it with
``allow_pickle=False``, so such a file can never run code.
"""
from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np

from ..atomic import atomic_write_bytes
from .sequence import SkeletonSequence
from .topology import BUILTIN_TOPOLOGIES, Topology

_TUPLE_KEYS = ("segments", "frame_range")  # metadata values that are tuples (JSON gives lists)


def _json_default(x):
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, Path):
        return str(x)
    raise TypeError(f"cannot store {type(x).__name__} in a header")


def pack(seqs: list[SkeletonSequence]) -> tuple[list[dict], dict[str, np.ndarray]]:
    """Per-sequence header entries and the arrays of ``seqs``."""
    entries, arrays = [], {}
    for k, s in enumerate(seqs):
        topo = s.topology.name if BUILTIN_TOPOLOGIES.get(s.topology.name) == s.topology else s.topology.to_dict()
        entries.append({"topology": topo, "fps": s.fps, "label": s.label, "label_id": s.label_id,
                        "metadata": s.metadata})
        arrays[f"joints{k}"], arrays[f"present{k}"] = s.joints, s.present
        if s.orientations is not None:
            arrays[f"orientations{k}"] = s.orientations
        if s.scores is not None:
            arrays[f"scores{k}"] = s.scores
    return entries, arrays


def unpack(entries: list[dict], arrays, where: str) -> list[SkeletonSequence]:
    """The inverse of :func:`pack`; ``arrays`` is any mapping (an open ``NpzFile``)."""
    out = []
    for k, h in enumerate(entries):
        topo = h["topology"]
        topo = BUILTIN_TOPOLOGIES[topo] if isinstance(topo, str) else Topology.from_dict(topo, where)
        meta = h["metadata"]
        for key in _TUPLE_KEYS:
            if key in meta and isinstance(meta[key], list):
                meta[key] = [tuple(v) for v in meta[key]] if key == "segments" else tuple(meta[key])
        out.append(SkeletonSequence(
            joints=arrays[f"joints{k}"], present=arrays[f"present{k}"], topology=topo,
            orientations=arrays[f"orientations{k}"] if f"orientations{k}" in arrays else None,
            scores=arrays[f"scores{k}"] if f"scores{k}" in arrays else None,
            fps=h["fps"], label=h["label"], label_id=h["label_id"], metadata=meta))
    return out


def write_npz(path: str | os.PathLike, header: dict, seqs: list[SkeletonSequence], compress: bool = False,
              fsync: bool = True) -> None:
    """``header`` (plus ``sequences``) and the arrays of ``seqs`` in one ``.npz``, written atomically
    (``fsync``: see :func:`~skeletonllm.atomic.atomic_write_bytes`)."""
    entries, arrays = pack(seqs)
    text = json.dumps({**header, "sequences": entries}, default=_json_default)
    arrays["header"] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    buf = io.BytesIO()
    (np.savez_compressed if compress else np.savez)(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue(), fsync=fsync)


def read_npz(path: str | os.PathLike) -> tuple[dict, list[SkeletonSequence]]:
    """``(header, sequences)`` of a file :func:`write_npz` wrote (raises on any damage)."""
    with np.load(path, allow_pickle=False) as z:
        header = json.loads(z["header"].tobytes().decode("utf-8"))
        return header, unpack(header["sequences"], z, str(path))


def read_header(path: str | os.PathLike) -> dict:
    """Only the header of such a file."""
    with np.load(path, allow_pickle=False) as z:
        return json.loads(z["header"].tobytes().decode("utf-8"))
