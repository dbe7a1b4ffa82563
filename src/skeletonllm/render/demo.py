"""A procedural demo figure for any built-in topology: a person facing the camera who waves
the right hand and steps towards the camera. Used by the tests, the benchmark and the
``render --demo`` command to look at a renderer without any data file.

Positions come from one table of named body landmarks in the canonical frame (metres, x to
the viewer's right, y up, z away from the camera). The subject faces the camera, so the
subject's left side is on the viewer's right (+x).
"""
from __future__ import annotations

import math

import numpy as np

from ..skeleton.sequence import SkeletonSequence
from ..skeleton.topology import Topology, get_topology

# Standing pose, subject's left = +x. Names cover ntu25, kinect_v1_20, smpl22 and coco17.
_REST = {
    "pelvis": (0.0, 0.0, 0.0), "spine_base": (0.0, 0.0, 0.0), "hip_center": (0.0, 0.0, 0.0),
    "spine1": (0.0, 0.12, 0.0), "spine_mid": (0.0, 0.22, 0.0), "spine": (0.0, 0.22, 0.0),
    "spine2": (0.0, 0.25, 0.0), "spine3": (0.0, 0.38, 0.0),
    "spine_shoulder": (0.0, 0.45, 0.0), "shoulder_center": (0.0, 0.45, 0.0),
    "neck": (0.0, 0.52, 0.0), "head": (0.0, 0.68, 0.0),
    "nose": (0.0, 0.66, -0.08), "left_eye": (0.035, 0.70, -0.07), "right_eye": (-0.035, 0.70, -0.07),
    "left_ear": (0.075, 0.68, 0.0), "right_ear": (-0.075, 0.68, 0.0),
    "left_collar": (0.08, 0.44, 0.0), "right_collar": (-0.08, 0.44, 0.0),
    "left_shoulder": (0.19, 0.44, 0.0), "right_shoulder": (-0.19, 0.44, 0.0),
    "left_elbow": (0.24, 0.17, 0.0), "right_elbow": (-0.24, 0.17, 0.0),
    "left_wrist": (0.27, -0.08, 0.0), "right_wrist": (-0.27, -0.08, 0.0),
    "left_hand": (0.28, -0.15, 0.0), "right_hand": (-0.28, -0.15, 0.0),
    "left_hand_tip": (0.29, -0.21, 0.0), "right_hand_tip": (-0.29, -0.21, 0.0),
    "left_thumb": (0.24, -0.14, -0.03), "right_thumb": (-0.24, -0.14, -0.03),
    "left_hip": (0.10, -0.03, 0.0), "right_hip": (-0.10, -0.03, 0.0),
    "left_knee": (0.11, -0.45, 0.0), "right_knee": (-0.11, -0.45, 0.0),
    "left_ankle": (0.11, -0.85, 0.0), "right_ankle": (-0.11, -0.85, 0.0),
    "left_foot": (0.12, -0.90, -0.10), "right_foot": (-0.12, -0.90, -0.10),
}

# Joints of the waving arm, with their distance from the shoulder along the rest arm.
_ARM = ("right_elbow", "right_wrist", "right_hand", "right_hand_tip", "right_thumb")


def _rest_pose(topology: Topology) -> np.ndarray:
    missing = [n for n in topology.joint_names if n not in _REST]
    if missing:
        raise KeyError(f"demo pose has no position for joints {missing} of topology '{topology.name}'")
    return np.array([_REST[n] for n in topology.joint_names], np.float32)


def _rot_z(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]], np.float32)


def demo_sequence(topology: str | Topology = "ntu25", num_frames: int = 24, bodies: int = 1,
                  with_orientations: bool = False, depth: float = 0.0) -> SkeletonSequence:
    """A waving, approaching figure (``bodies`` copies side by side).

    Args:
        topology: a built-in topology (or one whose joint names the demo table knows).
        num_frames: T.
        bodies: M people, 0.9 m apart.
        with_orientations: attach joint orientation quaternions (rotation of the waving arm
            about the camera axis; identity elsewhere), as NTU files have.
        depth: z of the figure's pelvis at the first frame (0 lets the renderer's depth
            normalisation place it). 2D topologies always get z = 0.
    """
    topo = get_topology(topology)
    rest = _rest_pose(topo)
    J = topo.num_joints
    joints = np.zeros((num_frames, bodies, J, 3), np.float32)
    quats = np.zeros((num_frames, bodies, J, 4), np.float32)
    quats[..., 0] = 1.0
    shoulder = np.array(_REST["right_shoulder"], np.float32)
    arm = [topo.joint_names.index(n) for n in _ARM if n in topo.joint_names]
    for t in range(num_frames):
        phase = t / max(num_frames - 1, 1)
        # Raise the right arm sideways and up (about the camera axis), then wave.
        angle = -(0.3 + 2.2 * min(1.0, 2 * phase) + 0.35 * math.sin(6 * math.pi * phase))
        R = _rot_z(angle)
        pose = rest.copy()
        pose[arm] = (pose[arm] - shoulder) @ R.T + shoulder
        pose[:, 2] += depth - 0.6 * phase                       # step towards the camera
        pose[:, 1] += 0.02 * math.sin(4 * math.pi * phase)      # bob
        for m in range(bodies):
            joints[t, m] = pose + np.array([0.9 * (m - (bodies - 1) / 2), 0.0, 0.0], np.float32)
            quats[t, m, arm] = (math.cos(angle / 2), 0.0, 0.0, math.sin(angle / 2))
    if topo.dims == 2:
        joints[..., 2] = 0.0
    return SkeletonSequence(joints=joints, present=np.ones((num_frames, bodies), bool), topology=topo,
                            orientations=quats if with_orientations else None, fps=30.0,
                            label="wave", metadata={"source": f"<demo:{topo.name}>", "format": "demo"})
