"""Skeleton topologies: joint names, bones and body-part labels.

A :class:`Topology` is everything DrAction and the loaders need to know about a skeleton
format. Body parts come from one shared vocabulary (:data:`BODY_PARTS`) so that anything
learned from part labels (DrAction's appearance features) transfers between formats.

Built-ins (see :data:`BUILTIN_TOPOLOGIES`):
    ``ntu25``         Kinect v2 / NTU RGB+D / PKU-MMD, 25 joints, 24 bones.
    ``kinect_v1_20``  Kinect v1 / NW-UCLA, 20 joints, 19 bones.
    ``smpl22``        SMPL body joints as used by HumanML3D, 22 joints, 21 bones.
    ``coco17``        COCO-17 keypoints (2D), 17 joints, 19 bones.
    ``openpose18``    OpenPose COCO-18 (2D; Kinetics-skeleton), 18 joints, 17 bones.
    ``openpose25``    OpenPose BODY_25 (2D), 25 joints, 24 bones.
    ``mediapipe33``   MediaPipe Pose landmarks (3D), 33 joints, 37 bones.

A new topology is declared in a JSON or YAML file, no code change::

    {"name": "my_rig", "dims": 3,
     "joints": ["pelvis", "spine", ...],
     "bones": [["pelvis", "spine"], ...],          # names or 0-based indices
     "parts": {"pelvis": "torso", "spine": "torso", ...}}   # or a list aligned with joints
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

from ..errors import SkeletonFormatError

#: The shared body-part vocabulary. Its order is part of DrAction's checkpoints (one-hot
#: descriptors): append, never reorder.
BODY_PARTS: tuple[str, ...] = (
    "head", "torso",
    "left_arm", "left_hand", "right_arm", "right_hand",
    "left_leg", "left_foot", "right_leg", "right_foot",
)


@dataclass(frozen=True)
class Topology:
    """A skeleton format's structure.

    Attributes:
        name: short identifier (``"ntu25"``).
        joint_names: J names, in the order of the joint axis of the data.
        bones: E pairs ``(parent, child)`` of 0-based joint indices.
        parts: J body-part labels, each one of :data:`BODY_PARTS`.
        dims: 3 for 3D formats, 2 for image-plane formats (COCO-17).
    """

    name: str
    joint_names: tuple[str, ...]
    bones: tuple[tuple[int, int], ...]
    parts: tuple[str, ...]
    dims: int = 3
    _index: Mapping[str, int] = field(default=None, repr=False, compare=False, hash=False)

    def __post_init__(self):
        where = f"topology '{self.name}'"
        object.__setattr__(self, "joint_names", tuple(self.joint_names))
        object.__setattr__(self, "bones", tuple((int(a), int(b)) for a, b in self.bones))
        object.__setattr__(self, "parts", tuple(self.parts))
        J = len(self.joint_names)
        if J == 0:
            raise SkeletonFormatError(where, "a topology needs at least one joint")
        if len(set(self.joint_names)) != J:
            raise SkeletonFormatError(where, "joint names must be unique")
        if len(self.parts) != J:
            raise SkeletonFormatError(where, f"{len(self.parts)} part labels for {J} joints")
        for name, part in zip(self.joint_names, self.parts):
            if part not in BODY_PARTS:
                raise SkeletonFormatError(
                    where, f"joint '{name}' has part '{part}', expected one of {list(BODY_PARTS)}")
        for a, b in self.bones:
            if not (0 <= a < J and 0 <= b < J) or a == b:
                raise SkeletonFormatError(where, f"bone ({a}, {b}) is not a pair of distinct joints in 0..{J - 1}")
        if self.dims not in (2, 3):
            raise SkeletonFormatError(where, f"dims must be 2 or 3, got {self.dims}")
        object.__setattr__(self, "_index", {n: i for i, n in enumerate(self.joint_names)})

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    @property
    def num_bones(self) -> int:
        return len(self.bones)

    def index(self, joint_name: str) -> int:
        """0-based index of a joint by name."""
        try:
            return self._index[joint_name]
        except KeyError:
            raise KeyError(f"topology '{self.name}' has no joint '{joint_name}'") from None

    def to_dict(self) -> dict:
        return {"name": self.name, "dims": self.dims, "joints": list(self.joint_names),
                "bones": [list(b) for b in self.bones], "parts": list(self.parts)}

    @classmethod
    def from_dict(cls, data: Mapping, source: str = "<dict>") -> "Topology":
        """Build from the JSON/YAML layout in the module docstring; bones by name or index."""
        for key in ("name", "joints", "bones", "parts"):
            if key not in data:
                raise SkeletonFormatError(source, f"missing key '{key}' (need name, joints, bones, parts)")
        joints = [str(j) for j in data["joints"]]
        index = {n: i for i, n in enumerate(joints)}

        def resolve(x, k):
            if isinstance(x, str):
                if x not in index:
                    raise SkeletonFormatError(source, f"bone names unknown joint '{x}'", f"bones[{k}]")
                return index[x]
            return int(x)

        try:
            bones = [(resolve(a, k), resolve(b, k)) for k, (a, b) in enumerate(data["bones"])]
        except (TypeError, ValueError) as exc:
            raise SkeletonFormatError(source, f"each bone must be a [parent, child] pair ({exc})", "bones") from None
        parts = data["parts"]
        if isinstance(parts, Mapping):
            missing = [j for j in joints if j not in parts]
            if missing:
                raise SkeletonFormatError(source, f"no part label for joints {missing}", "parts")
            parts = [parts[j] for j in joints]
        try:
            return cls(name=str(data["name"]), joint_names=tuple(joints), bones=tuple(bones),
                       parts=tuple(parts), dims=int(data.get("dims", 3)))
        except SkeletonFormatError as exc:
            raise SkeletonFormatError(source, exc.problem, exc.location) from None

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> "Topology":
        """Read a topology declared in a ``.json``, ``.yaml`` or ``.yml`` file."""
        path = Path(path)
        try:
            text = path.read_text()
        except OSError as exc:
            raise SkeletonFormatError(path, f"cannot read topology file ({exc.strerror})") from None
        try:
            if path.suffix.lower() in (".yaml", ".yml"):
                import yaml
                data = yaml.safe_load(text)
            else:
                data = json.loads(text)
        except Exception as exc:  # yaml and json raise different types
            raise SkeletonFormatError(path, f"not valid {path.suffix[1:] or 'json'}: {exc}") from None
        if not isinstance(data, Mapping):
            raise SkeletonFormatError(path, "expected a mapping with name, joints, bones, parts")
        return cls.from_dict(data, source=str(path))


def _build(name: str, dims: int, joints_parts: Sequence[tuple[str, str]], bones_by_name) -> Topology:
    names = [j for j, _ in joints_parts]
    index = {n: i for i, n in enumerate(names)}
    return Topology(name=name, dims=dims, joint_names=tuple(names),
                    bones=tuple((index[a], index[b]) for a, b in bones_by_name),
                    parts=tuple(p for _, p in joints_parts))


# Kinect v2 (NTU RGB+D, PKU-MMD): joint order of the NTU .skeleton files (1-based in the
# NTU paper). "left"/"right" are the subject's own sides.
NTU25 = _build("ntu25", 3, [
    ("spine_base", "torso"), ("spine_mid", "torso"), ("neck", "head"), ("head", "head"),
    ("left_shoulder", "left_arm"), ("left_elbow", "left_arm"), ("left_wrist", "left_hand"), ("left_hand", "left_hand"),
    ("right_shoulder", "right_arm"), ("right_elbow", "right_arm"), ("right_wrist", "right_hand"), ("right_hand", "right_hand"),
    ("left_hip", "left_leg"), ("left_knee", "left_leg"), ("left_ankle", "left_foot"), ("left_foot", "left_foot"),
    ("right_hip", "right_leg"), ("right_knee", "right_leg"), ("right_ankle", "right_foot"), ("right_foot", "right_foot"),
    ("spine_shoulder", "torso"), ("left_hand_tip", "left_hand"), ("left_thumb", "left_hand"),
    ("right_hand_tip", "right_hand"), ("right_thumb", "right_hand"),
], [
    ("spine_base", "spine_mid"), ("spine_mid", "spine_shoulder"), ("spine_shoulder", "neck"), ("neck", "head"),
    ("spine_shoulder", "left_shoulder"), ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"), ("left_wrist", "left_hand"),
    ("spine_shoulder", "right_shoulder"), ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"), ("right_wrist", "right_hand"),
    ("spine_base", "left_hip"), ("left_hip", "left_knee"), ("left_knee", "left_ankle"), ("left_ankle", "left_foot"),
    ("spine_base", "right_hip"), ("right_hip", "right_knee"), ("right_knee", "right_ankle"), ("right_ankle", "right_foot"),
    ("left_hand", "left_hand_tip"), ("left_wrist", "left_thumb"),
    ("right_hand", "right_hand_tip"), ("right_wrist", "right_thumb"),
])

# Kinect v1 (NW-UCLA), joint order of the CTR-GCN json files.
KINECT_V1_20 = _build("kinect_v1_20", 3, [
    ("hip_center", "torso"), ("spine", "torso"), ("shoulder_center", "torso"), ("head", "head"),
    ("left_shoulder", "left_arm"), ("left_elbow", "left_arm"), ("left_wrist", "left_hand"), ("left_hand", "left_hand"),
    ("right_shoulder", "right_arm"), ("right_elbow", "right_arm"), ("right_wrist", "right_hand"), ("right_hand", "right_hand"),
    ("left_hip", "left_leg"), ("left_knee", "left_leg"), ("left_ankle", "left_foot"), ("left_foot", "left_foot"),
    ("right_hip", "right_leg"), ("right_knee", "right_leg"), ("right_ankle", "right_foot"), ("right_foot", "right_foot"),
], [
    ("hip_center", "spine"), ("spine", "shoulder_center"), ("shoulder_center", "head"),
    ("shoulder_center", "left_shoulder"), ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"), ("left_wrist", "left_hand"),
    ("shoulder_center", "right_shoulder"), ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"), ("right_wrist", "right_hand"),
    ("hip_center", "left_hip"), ("left_hip", "left_knee"), ("left_knee", "left_ankle"), ("left_ankle", "left_foot"),
    ("hip_center", "right_hip"), ("right_hip", "right_knee"), ("right_knee", "right_ankle"), ("right_ankle", "right_foot"),
])

# SMPL body joints 0..21 (HumanML3D new_joints), SMPL kinematic tree.
SMPL22 = _build("smpl22", 3, [
    ("pelvis", "torso"), ("left_hip", "left_leg"), ("right_hip", "right_leg"), ("spine1", "torso"),
    ("left_knee", "left_leg"), ("right_knee", "right_leg"), ("spine2", "torso"),
    ("left_ankle", "left_foot"), ("right_ankle", "right_foot"), ("spine3", "torso"),
    ("left_foot", "left_foot"), ("right_foot", "right_foot"), ("neck", "head"),
    ("left_collar", "torso"), ("right_collar", "torso"), ("head", "head"),
    ("left_shoulder", "left_arm"), ("right_shoulder", "right_arm"),
    ("left_elbow", "left_arm"), ("right_elbow", "right_arm"),
    ("left_wrist", "left_hand"), ("right_wrist", "right_hand"),
], [
    ("pelvis", "left_hip"), ("pelvis", "right_hip"), ("pelvis", "spine1"),
    ("left_hip", "left_knee"), ("right_hip", "right_knee"), ("spine1", "spine2"),
    ("left_knee", "left_ankle"), ("right_knee", "right_ankle"), ("spine2", "spine3"),
    ("left_ankle", "left_foot"), ("right_ankle", "right_foot"), ("spine3", "neck"),
    ("spine3", "left_collar"), ("spine3", "right_collar"), ("neck", "head"),
    ("left_collar", "left_shoulder"), ("right_collar", "right_shoulder"),
    ("left_shoulder", "left_elbow"), ("right_shoulder", "right_elbow"),
    ("left_elbow", "left_wrist"), ("right_elbow", "right_wrist"),
])

# COCO-17 keypoints (image plane).
COCO17 = _build("coco17", 2, [
    ("nose", "head"), ("left_eye", "head"), ("right_eye", "head"), ("left_ear", "head"), ("right_ear", "head"),
    ("left_shoulder", "left_arm"), ("right_shoulder", "right_arm"),
    ("left_elbow", "left_arm"), ("right_elbow", "right_arm"),
    ("left_wrist", "left_hand"), ("right_wrist", "right_hand"),
    ("left_hip", "left_leg"), ("right_hip", "right_leg"),
    ("left_knee", "left_leg"), ("right_knee", "right_leg"),
    ("left_ankle", "left_foot"), ("right_ankle", "right_foot"),
], [
    ("left_ankle", "left_knee"), ("left_knee", "left_hip"), ("right_ankle", "right_knee"), ("right_knee", "right_hip"),
    ("left_hip", "right_hip"), ("left_shoulder", "left_hip"), ("right_shoulder", "right_hip"),
    ("left_shoulder", "right_shoulder"), ("left_shoulder", "left_elbow"), ("right_shoulder", "right_elbow"),
    ("left_elbow", "left_wrist"), ("right_elbow", "right_wrist"),
    ("left_eye", "right_eye"), ("nose", "left_eye"), ("nose", "right_eye"),
    ("left_eye", "left_ear"), ("right_eye", "right_ear"), ("left_ear", "left_shoulder"), ("right_ear", "right_shoulder"),
])

# OpenPose COCO-18 (the keypoint order of OpenPose's COCO model and of Kinetics-skeleton).
# Bones: the tree of the model's limb pairs (neck to shoulders, hips and nose; nose to eyes
# to ears), without the ear-shoulder pairs that only its part-affinity fields use.
_OPENPOSE_HEAD_ARMS = [
    ("nose", "head"), ("neck", "head"),
    ("right_shoulder", "right_arm"), ("right_elbow", "right_arm"), ("right_wrist", "right_hand"),
    ("left_shoulder", "left_arm"), ("left_elbow", "left_arm"), ("left_wrist", "left_hand"),
]
OPENPOSE18 = _build("openpose18", 2, _OPENPOSE_HEAD_ARMS + [
    ("right_hip", "right_leg"), ("right_knee", "right_leg"), ("right_ankle", "right_foot"),
    ("left_hip", "left_leg"), ("left_knee", "left_leg"), ("left_ankle", "left_foot"),
    ("right_eye", "head"), ("left_eye", "head"), ("right_ear", "head"), ("left_ear", "head"),
], [
    ("neck", "right_shoulder"), ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"),
    ("neck", "left_shoulder"), ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
    ("neck", "right_hip"), ("right_hip", "right_knee"), ("right_knee", "right_ankle"),
    ("neck", "left_hip"), ("left_hip", "left_knee"), ("left_knee", "left_ankle"),
    ("neck", "nose"), ("nose", "right_eye"), ("right_eye", "right_ear"), ("nose", "left_eye"), ("left_eye", "left_ear"),
])

# OpenPose BODY_25: COCO-18 plus a mid-hip joint (index 8) and three points per foot.
OPENPOSE25 = _build("openpose25", 2, _OPENPOSE_HEAD_ARMS + [
    ("mid_hip", "torso"),
    ("right_hip", "right_leg"), ("right_knee", "right_leg"), ("right_ankle", "right_foot"),
    ("left_hip", "left_leg"), ("left_knee", "left_leg"), ("left_ankle", "left_foot"),
    ("right_eye", "head"), ("left_eye", "head"), ("right_ear", "head"), ("left_ear", "head"),
    ("left_big_toe", "left_foot"), ("left_small_toe", "left_foot"), ("left_heel", "left_foot"),
    ("right_big_toe", "right_foot"), ("right_small_toe", "right_foot"), ("right_heel", "right_foot"),
], [
    ("neck", "mid_hip"), ("neck", "right_shoulder"), ("neck", "left_shoulder"),
    ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"),
    ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
    ("mid_hip", "right_hip"), ("right_hip", "right_knee"), ("right_knee", "right_ankle"),
    ("mid_hip", "left_hip"), ("left_hip", "left_knee"), ("left_knee", "left_ankle"),
    ("neck", "nose"), ("nose", "right_eye"), ("right_eye", "right_ear"), ("nose", "left_eye"), ("left_eye", "left_ear"),
    ("left_ankle", "left_big_toe"), ("left_big_toe", "left_small_toe"), ("left_ankle", "left_heel"),
    ("right_ankle", "right_big_toe"), ("right_big_toe", "right_small_toe"), ("right_ankle", "right_heel"),
])

# MediaPipe Pose, 33 landmarks in MediaPipe's order; bones follow its documented
# connection graph (the face points link eyes to ears and the two mouth corners together),
# plus mouth corner to shoulder on each side: MediaPipe's graph leaves the face unattached,
# which would draw a head floating above the body.
MEDIAPIPE33 = _build("mediapipe33", 3, [
    ("nose", "head"), ("left_eye_inner", "head"), ("left_eye", "head"), ("left_eye_outer", "head"),
    ("right_eye_inner", "head"), ("right_eye", "head"), ("right_eye_outer", "head"),
    ("left_ear", "head"), ("right_ear", "head"), ("mouth_left", "head"), ("mouth_right", "head"),
    ("left_shoulder", "left_arm"), ("right_shoulder", "right_arm"),
    ("left_elbow", "left_arm"), ("right_elbow", "right_arm"),
    ("left_wrist", "left_hand"), ("right_wrist", "right_hand"),
    ("left_pinky", "left_hand"), ("right_pinky", "right_hand"),
    ("left_index", "left_hand"), ("right_index", "right_hand"),
    ("left_thumb", "left_hand"), ("right_thumb", "right_hand"),
    ("left_hip", "left_leg"), ("right_hip", "right_leg"),
    ("left_knee", "left_leg"), ("right_knee", "right_leg"),
    ("left_ankle", "left_foot"), ("right_ankle", "right_foot"),
    ("left_heel", "left_foot"), ("right_heel", "right_foot"),
    ("left_foot_index", "left_foot"), ("right_foot_index", "right_foot"),
], [
    ("nose", "left_eye_inner"), ("left_eye_inner", "left_eye"), ("left_eye", "left_eye_outer"),
    ("left_eye_outer", "left_ear"), ("nose", "right_eye_inner"), ("right_eye_inner", "right_eye"),
    ("right_eye", "right_eye_outer"), ("right_eye_outer", "right_ear"), ("mouth_left", "mouth_right"),
    ("left_shoulder", "right_shoulder"), ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
    ("left_wrist", "left_pinky"), ("left_wrist", "left_index"), ("left_wrist", "left_thumb"),
    ("left_pinky", "left_index"), ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"),
    ("right_wrist", "right_pinky"), ("right_wrist", "right_index"), ("right_wrist", "right_thumb"),
    ("right_pinky", "right_index"), ("left_shoulder", "left_hip"), ("right_shoulder", "right_hip"),
    ("left_hip", "right_hip"), ("left_hip", "left_knee"), ("right_hip", "right_knee"),
    ("left_knee", "left_ankle"), ("right_knee", "right_ankle"), ("left_ankle", "left_heel"),
    ("right_ankle", "right_heel"), ("left_heel", "left_foot_index"), ("right_heel", "right_foot_index"),
    ("left_ankle", "left_foot_index"), ("right_ankle", "right_foot_index"),
    ("mouth_left", "left_shoulder"), ("mouth_right", "right_shoulder"),
])

BUILTIN_TOPOLOGIES: dict[str, Topology] = {t.name: t for t in (NTU25, KINECT_V1_20, SMPL22, COCO17, OPENPOSE18,
                                                                 OPENPOSE25, MEDIAPIPE33)}


def get_topology(name_or_path: str | os.PathLike | Topology) -> Topology:
    """A built-in topology by name, or one declared in a JSON/YAML file."""
    if isinstance(name_or_path, Topology):
        return name_or_path
    key = str(name_or_path)
    if key in BUILTIN_TOPOLOGIES:
        return BUILTIN_TOPOLOGIES[key]
    if Path(key).suffix.lower() in (".json", ".yaml", ".yml"):
        return Topology.from_file(key)
    raise KeyError(f"unknown topology '{key}': built-ins are {sorted(BUILTIN_TOPOLOGIES)}, "
                   "or give a .json/.yaml file")
