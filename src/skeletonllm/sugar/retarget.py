"""Skeletons of one topology mapped onto another's joints, for an encoder tied to its graph.

A GCN learns weights per joint and per edge of one skeleton, so a SUGAR model trained on
NTU-25 cannot read a SMPL-22 or COCO-17 clip as it is. What it *can* do is read the clip
re-expressed on its own joints. :func:`retarget_matrix` builds, for every joint of the
encoder's topology, a weighted average of the input's joints:

1. the joint of the same (canonical) name: NTU's ``spine_base``, Kinect v1's ``hip_center``
   and SMPL's ``pelvis`` are one joint; ``left_wrist`` is ``left_wrist`` everywhere;
2. else a definition from joints the input has: the pelvis is the middle of the hips, the
   upper spine the middle of the shoulders, a hand tip or thumb is the hand, the hand is the
   wrist, a foot is the ankle (and the other way round), the head is the middle of the face
   points;
3. else the average of the input's joints with the same body-part label, else of all joints.

This is an approximation, and SUGAR's accuracy on a topology it was not trained on is
measured, not assumed (the demo reports it). 2D input (COCO-17) keeps z = 0.
"""
from __future__ import annotations

import numpy as np
import torch

from ..skeleton.batch import SkeletonBatch
from ..skeleton.topology import Topology

# Spellings of one joint in the built-in topologies -> one canonical name.
_ALIASES = {
    "spine_base": "pelvis", "hip_center": "pelvis", "hips": "pelvis", "root": "pelvis",
    "spine": "spine_mid", "spine2": "spine_mid",
    "spine_shoulder": "chest", "shoulder_center": "chest", "spine3": "chest",
}

# Canonical joints defined from others (tried in order, when the input lacks the joint).
_DEFINITIONS = {
    "pelvis": [("left_hip", "right_hip")],
    "chest": [("left_shoulder", "right_shoulder")],
    "neck": [("chest", "head"), ("chest",)],
    "spine_mid": [("pelvis", "chest")],
    "spine1": [("pelvis", "spine_mid")],
    "head": [("nose",), ("neck",)],
    "left_collar": [("chest", "left_shoulder")], "right_collar": [("chest", "right_shoulder")],
    "left_hand": [("left_wrist",)], "right_hand": [("right_wrist",)],
    "left_wrist": [("left_hand",)], "right_wrist": [("right_hand",)],
    "left_hand_tip": [("left_hand",)], "right_hand_tip": [("right_hand",)],
    "left_thumb": [("left_hand",)], "right_thumb": [("right_hand",)],
    "left_foot": [("left_ankle",)], "right_foot": [("right_ankle",)],
    "left_ankle": [("left_foot",)], "right_ankle": [("right_foot",)],
    "nose": [("head",)], "left_eye": [("head",)], "right_eye": [("head",)],
    "left_ear": [("head",)], "right_ear": [("head",)],
}


def canonical(name: str) -> str:
    key = name.lower().replace(" ", "_").replace("-", "_")
    return _ALIASES.get(key, key)


def retarget_matrix(source: Topology, target: Topology) -> np.ndarray:
    """``(J_target, J_source)`` weights, rows summing to 1: target joint = weighted mean of source joints."""
    names = {canonical(n): i for i, n in enumerate(source.joint_names)}
    face = [i for i, (n, p) in enumerate(zip(source.joint_names, source.parts)) if p == "head" and canonical(n) != "neck"]

    def resolve(key: str, depth: int = 0) -> np.ndarray | None:
        if key in names:
            row = np.zeros(source.num_joints)
            row[names[key]] = 1.0
            return row
        if key == "head" and face:
            row = np.zeros(source.num_joints)
            row[face] = 1.0 / len(face)
            return row
        if depth > 4:
            return None
        for parts in _DEFINITIONS.get(key, []):
            rows = [resolve(p, depth + 1) for p in parts]
            if all(r is not None for r in rows):
                return np.mean(rows, axis=0)
        return None

    out = np.zeros((target.num_joints, source.num_joints))
    for j, (name, part) in enumerate(zip(target.joint_names, target.parts)):
        row = resolve(canonical(name))
        if row is None:
            same = [i for i, p in enumerate(source.parts) if p == part]
            row = np.zeros(source.num_joints)
            row[same or list(range(source.num_joints))] = 1.0 / len(same or range(source.num_joints))
        out[j] = row
    return out


def retarget_batch(batch: SkeletonBatch, target: Topology) -> SkeletonBatch:
    """``batch`` re-expressed on ``target``'s joints (orientations dropped: they belong to the source joints)."""
    if batch.topology == target:
        return batch
    W = torch.as_tensor(retarget_matrix(batch.topology, target), dtype=batch.joints.dtype, device=batch.joints.device)
    joints = torch.einsum("ij,bfmjc->bfmic", W, batch.joints)
    return SkeletonBatch(joints=joints, present=batch.present, topology=target, orientations=None,
                         frame_indices=batch.frame_indices)


__all__ = ["canonical", "retarget_batch", "retarget_matrix"]
