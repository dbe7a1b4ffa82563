"""Posed rig -> :class:`SkeletonSequence` in any topology.

Every built-in topology's joints are rig joints (:data:`RIG_MAP`), so the same motion
comes out as NTU-25, Kinect v1-20, SMPL-22 or COCO-17 with no retargeting error. A user
topology whose joint names are rig joint names (or NTU / SMPL / COCO names) works too.

3D formats keep the world frame of :mod:`skeletonllm.synth.body` (camera at the origin,
actor about 3 m away). ``coco17`` is a 2D projection seen from a random viewpoint: the
scene is orbited around the actors by ``yaw`` / ``pitch``, projected through a pinhole
at ``distance``, scaled back to metres at that distance (nominal metres), centred on the
2D bounding box of the whole clip, y up, z = 0 (the dims=2 convention of ``sequence.py``).

Each format gets its own sensor noise (independent draws); frames a sensor dropped are
``present = False`` and zero.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..skeleton import SkeletonSequence, Topology, get_topology
from .body import RIG_INDEX, RIG_PARENTS, BodyMotion, matrix_to_quaternion, rot_x, rot_y

#: For each built-in topology, the rig joint behind each of its joints (in topology order).
RIG_MAP: dict[str, tuple[str, ...]] = {
    "ntu25": ("pelvis", "spine_mid", "neck", "head",
              "left_shoulder", "left_elbow", "left_wrist", "left_hand",
              "right_shoulder", "right_elbow", "right_wrist", "right_hand",
              "left_hip", "left_knee", "left_ankle", "left_foot",
              "right_hip", "right_knee", "right_ankle", "right_foot",
              "chest", "left_hand_tip", "left_thumb", "right_hand_tip", "right_thumb"),
    "kinect_v1_20": ("pelvis", "spine_mid", "chest", "head",
                     "left_shoulder", "left_elbow", "left_wrist", "left_hand",
                     "right_shoulder", "right_elbow", "right_wrist", "right_hand",
                     "left_hip", "left_knee", "left_ankle", "left_foot",
                     "right_hip", "right_knee", "right_ankle", "right_foot"),
    "smpl22": ("pelvis", "left_hip", "right_hip", "spine_low", "left_knee", "right_knee", "spine_mid",
               "left_ankle", "right_ankle", "spine_up", "left_foot", "right_foot", "neck",
               "left_collar", "right_collar", "head", "left_shoulder", "right_shoulder",
               "left_elbow", "right_elbow", "left_wrist", "right_wrist"),
    "coco17": ("nose", "left_eye", "right_eye", "left_ear", "right_ear",
               "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
               "left_wrist", "right_wrist", "left_hip", "right_hip",
               "left_knee", "right_knee", "left_ankle", "right_ankle"),
}

# Names other formats use for rig joints (a user topology may use any of them).
_ALIASES = {"spine_base": "pelvis", "hip_center": "pelvis", "spine": "spine_mid", "spine1": "spine_low",
            "spine2": "spine_mid", "spine3": "spine_up", "spine_shoulder": "chest", "shoulder_center": "chest"}
# Sensor noise multiplier per rig joint: Kinect hand tips and thumbs are the noisiest.
_NOISY = {"left_hand_tip": 2.0, "right_hand_tip": 2.0, "left_thumb": 2.0, "right_thumb": 2.0}


def rig_joints_for(topology: Topology) -> tuple[str, ...]:
    """The rig joint behind each joint of ``topology`` (built-in table, else by name)."""
    if topology.name in RIG_MAP and len(RIG_MAP[topology.name]) == topology.num_joints:
        return RIG_MAP[topology.name]
    names = []
    for j in topology.joint_names:
        n = _ALIASES.get(j.lower(), j.lower())
        if n not in RIG_INDEX:
            raise KeyError(f"topology '{topology.name}': joint '{j}' is not a synthetic-body joint; "
                           f"known joints are {sorted(RIG_INDEX)} (and aliases {sorted(_ALIASES)})")
        names.append(n)
    return tuple(names)


@dataclass
class View2D:
    """Virtual camera for 2D formats: orbit ``yaw`` / ``pitch`` (degrees) and ``distance`` (m)."""

    yaw: float = 0.0
    pitch: float = 10.0
    distance: float = 3.5

    @classmethod
    def sample(cls, rng: np.random.Generator) -> "View2D":
        return cls(yaw=float(rng.uniform(-50, 50)), pitch=float(rng.uniform(-5, 15)),
                   distance=float(rng.uniform(2.5, 4.5)))

    def to_dict(self) -> dict:
        return {"yaw": self.yaw, "pitch": self.pitch, "distance": self.distance}


def project_2d(points: np.ndarray, present: np.ndarray, view: View2D, centre: np.ndarray) -> np.ndarray:
    """``(T, M, J, 3)`` world points -> ``(T, M, J, 3)`` nominal-metre image coordinates, z = 0.

    ``centre`` ``(3,)`` is the world point the virtual camera orbits (the actors' middle).
    """
    R = rot_x(np.array(-view.pitch)) @ rot_y(np.array(view.yaw))   # camera above -> tops come closer
    cam = (points - centre) @ R.T
    z = cam[..., 2] + view.distance
    z = np.maximum(z, 0.3)                   # never divide by a point behind the camera
    out = np.zeros_like(points)
    out[..., 0] = cam[..., 0] * view.distance / z
    out[..., 1] = cam[..., 1] * view.distance / z
    vis = out[present]
    lo, hi = vis.reshape(-1, 3).min(0), vis.reshape(-1, 3).max(0)
    mid = (lo + hi) / 2
    mid[2] = 0.0
    out = out - mid
    out[~present] = 0.0
    return out


def emit_sequence(bodies: Sequence[BodyMotion], present: np.ndarray, topology: str | Topology, *,
                  noise_std: float = 0.0, rng: np.random.Generator | None = None,
                  view: View2D | None = None, fps: float = 30.0, label: str | None = None,
                  label_id: int | None = None, metadata: dict | None = None) -> SkeletonSequence:
    """Sample the posed rig of M actors as a sequence of ``topology``.

    Args:
        bodies: M posed rigs (``positions (T, K, 3)``, ``rotations (T, K, 3, 3)``).
        present: ``(T, M)`` bool, frames each body was tracked.
        noise_std: i.i.d. Gaussian sensor noise (metres) added to every tracked joint.
        view: the 2D camera (required for 2D topologies).

    3D formats with the name ``ntu25`` also get joint orientations: the world rotation of
    the bone that ends at each joint (Kinect v2 stores a bone's rotation in its child
    joint), relative to the rest pose facing the camera; the root gets the pelvis's.
    """
    topo = get_topology(topology)
    rig = rig_joints_for(topo)
    idx = np.array([RIG_INDEX[n] for n in rig])
    pts = np.stack([b.positions[:, idx] for b in bodies], 1)             # (T, M, J, 3)
    present = np.asarray(present, dtype=bool)
    if noise_std > 0:
        if rng is None:
            raise ValueError("emit_sequence: noise_std > 0 needs an rng")
        scale = np.array([_NOISY.get(n, 1.0) for n in rig])[None, None, :, None]
        pts = pts + rng.normal(0.0, noise_std, pts.shape) * scale
    orient = None
    if topo.dims == 2:
        if view is None:
            raise ValueError(f"emit_sequence: topology '{topo.name}' is 2D and needs a View2D")
        pelvis = np.stack([b.positions[:, RIG_INDEX["pelvis"]] for b in bodies], 1)
        centre = pelvis[present].mean(0)
        pts = project_2d(pts, present, view, centre)
    elif topo.name == "ntu25":
        bone = np.where(RIG_PARENTS[idx] >= 0, RIG_PARENTS[idx], idx)    # rotation of the bone into j
        orient = np.stack([matrix_to_quaternion(b.rotations[:, bone]) for b in bodies], 1)
    meta = {"format": "synthetic", "source": "<synthetic>"}
    meta.update(metadata or {})
    return SkeletonSequence(joints=pts.astype(np.float32), present=present, topology=topo,
                            orientations=None if orient is None else orient.astype(np.float32),
                            fps=fps, label=label, label_id=label_id, metadata=meta)
