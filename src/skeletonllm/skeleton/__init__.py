"""Skeleton data: topologies, sequences, batches, sampling and loaders for native formats."""
from .batch import SkeletonBatch, collate_sequences
from .sampling import segment_indices
from .sequence import SkeletonSequence
from .topology import BODY_PARTS, BUILTIN_TOPOLOGIES, Topology, get_topology

__all__ = ["BODY_PARTS", "BUILTIN_TOPOLOGIES", "SkeletonBatch", "SkeletonSequence", "Topology",
           "collate_sequences", "get_topology", "segment_indices"]
