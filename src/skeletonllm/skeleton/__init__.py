"""Skeleton data: topologies, sequences, batches, sampling and loaders for native formats.

Names are imported on first use, so that reading files (``skeletonllm.load``, the
``inspect`` and ``convert`` commands and their worker processes) does not import torch,
which only :class:`SkeletonBatch` needs.
"""
import importlib

_WHERE = {"SkeletonBatch": "batch", "collate_sequences": "batch", "segment_indices": "sampling",
          "SkeletonSequence": "sequence", "BODY_PARTS": "topology", "BUILTIN_TOPOLOGIES": "topology",
          "Topology": "topology", "get_topology": "topology"}

__all__ = sorted(_WHERE)


def __getattr__(name):
    if name in _WHERE:
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
