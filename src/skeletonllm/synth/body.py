"""A canonical articulated body, posed by joint angles through forward kinematics.

The rig is a superset of every built-in skeleton: each topology's joints are rig joints
(``emit.py`` picks them), so one motion yields the same movement in every format.

Frames. The *body frame* has x to the actor's left, y up and z to the actor's back (the
actor looks along -z). At facing yaw 0 it coincides with the canonical world frame of
:mod:`skeletonllm.skeleton.sequence` (x to the viewer's right, y up, z away from the
camera) for an actor who faces the camera, as NTU subjects do.

Degrees of freedom (all angles in degrees, all 0 in the rest pose: upright, limbs hanging):

* ``root_yaw`` (+ turns to the actor's left), ``root_forward`` / ``root_left`` (metres,
  in the body frame at facing yaw), ``root_up`` (metres above the grounded height: a jump).
* ``torso_bend`` (+ forward), ``torso_lean`` (+ to the actor's left), ``torso_twist``
  (+ chest turns left); spread over the three spine joints.
* ``neck_nod`` (+ chin down), ``neck_turn`` (+ look left), ``neck_tilt`` (+ left ear down).
* per side (``left_`` / ``right_``): ``shoulder_plane`` (0 = the arm moves in the sagittal
  plane, 90 = out to the side, < 0 = across the body), ``shoulder_elev`` (0 = hanging,
  90 = horizontal, 180 = overhead, < 0 = behind), ``shoulder_twist`` (+ external),
  ``elbow`` (flexion), ``wrist`` (flexion), and the same four for the leg: ``hip_plane``,
  ``hip_elev``, ``hip_twist``, ``knee`` (flexion, shank goes back), ``ankle`` (+ toes up).

The shoulder and hip use a plane-of-elevation / elevation / axial-rotation decomposition
(as the ISB convention does for the shoulder): a swing about a horizontal axis chosen by
the plane angle, then a twist about the limb, signs mirrored for the right side so that
every DoF means the same thing on both sides.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

#: (joint, parent) in an order where every parent precedes its children.
RIG: tuple[tuple[str, str | None], ...] = (
    ("pelvis", None), ("spine_low", "pelvis"), ("spine_mid", "spine_low"), ("spine_up", "spine_mid"),
    ("chest", "spine_up"), ("neck", "chest"), ("head", "neck"),
    ("nose", "head"), ("left_eye", "head"), ("right_eye", "head"), ("left_ear", "head"), ("right_ear", "head"),
    ("left_collar", "chest"), ("left_shoulder", "left_collar"), ("left_elbow", "left_shoulder"),
    ("left_wrist", "left_elbow"), ("left_hand", "left_wrist"), ("left_hand_tip", "left_hand"),
    ("left_thumb", "left_wrist"),
    ("right_collar", "chest"), ("right_shoulder", "right_collar"), ("right_elbow", "right_shoulder"),
    ("right_wrist", "right_elbow"), ("right_hand", "right_wrist"), ("right_hand_tip", "right_hand"),
    ("right_thumb", "right_wrist"),
    ("left_hip", "pelvis"), ("left_knee", "left_hip"), ("left_ankle", "left_knee"), ("left_foot", "left_ankle"),
    ("right_hip", "pelvis"), ("right_knee", "right_hip"), ("right_ankle", "right_knee"), ("right_foot", "right_ankle"),
)
RIG_JOINTS: tuple[str, ...] = tuple(j for j, _ in RIG)
RIG_INDEX: dict[str, int] = {j: i for i, j in enumerate(RIG_JOINTS)}
RIG_PARENTS: np.ndarray = np.array([-1 if p is None else RIG_INDEX[p] for _, p in RIG], dtype=np.int64)
NUM_RIG_JOINTS = len(RIG)

# Rest offsets (child relative to parent, body frame, metres) of a 1.75 m adult. For the
# left side x > 0; the right side mirrors x. Heights above the floor in the rest pose:
# ankle 0.08, knee 0.50, hip 0.93, pelvis 0.98, chest 1.44, head centre 1.63.
_REST_LEFT: dict[str, tuple[float, float, float]] = {
    "spine_low": (0.0, 0.10, 0.0), "spine_mid": (0.0, 0.12, 0.0), "spine_up": (0.0, 0.12, 0.0),
    "chest": (0.0, 0.12, 0.0), "neck": (0.0, 0.08, 0.0), "head": (0.0, 0.11, 0.0),
    "nose": (0.0, -0.01, -0.10), "left_eye": (0.033, 0.025, -0.085), "left_ear": (0.075, 0.0, 0.0),
    "left_collar": (0.07, -0.02, 0.0), "left_shoulder": (0.11, -0.02, 0.0), "left_elbow": (0.0, -0.29, 0.0),
    "left_wrist": (0.0, -0.26, 0.0), "left_hand": (0.0, -0.07, 0.0), "left_hand_tip": (0.0, -0.08, 0.0),
    "left_thumb": (-0.01, -0.045, -0.04),
    "left_hip": (0.09, -0.05, 0.0), "left_knee": (0.0, -0.43, 0.0), "left_ankle": (0.0, -0.42, 0.0),
    "left_foot": (0.0, -0.06, -0.13),
}
REFERENCE_HEIGHT = 1.75
ANKLE_HEIGHT = 0.08      # ankle joint above the sole, at the reference height
TOE_HEIGHT = 0.02        # toe joint above the floor

# Which spine joint takes which share of the torso DoFs (they sum to 1).
SPINE_SHARES = {"spine_low": 0.4, "spine_mid": 0.3, "spine_up": 0.3}

SIDES = ("left", "right")
LIMB_DOFS = ("shoulder_plane", "shoulder_elev", "shoulder_twist", "elbow", "wrist",
             "hip_plane", "hip_elev", "hip_twist", "knee", "ankle")
#: Every degree of freedom a motion program can key.
DOFS: tuple[str, ...] = (
    "root_yaw", "root_forward", "root_left", "root_up",
    "torso_bend", "torso_lean", "torso_twist", "neck_nod", "neck_turn", "neck_tilt",
) + tuple(f"{s}_{d}" for s in SIDES for d in LIMB_DOFS)

#: The relaxed standing pose (arms slightly away from the body, elbows and knees soft).
NEUTRAL_POSE: dict[str, float] = {d: 0.0 for d in DOFS}
for _s in SIDES:
    NEUTRAL_POSE.update({f"{_s}_shoulder_plane": 90.0, f"{_s}_shoulder_elev": 8.0, f"{_s}_elbow": 12.0,
                         f"{_s}_hip_plane": 90.0, f"{_s}_hip_elev": 3.0, f"{_s}_knee": 4.0})


def _mirror(name: str) -> str:
    if name.startswith("left_"):
        return "right_" + name[5:]
    return name


def _rest_offsets() -> np.ndarray:
    out = np.zeros((NUM_RIG_JOINTS, 3))
    for j, name in enumerate(RIG_JOINTS):
        if name == "pelvis":
            continue
        if name.startswith("right_"):
            x, y, z = _REST_LEFT["left_" + name[6:]]
            out[j] = (-x, y, z)
        else:
            out[j] = _REST_LEFT[name]
    return out


REST_OFFSETS: np.ndarray = _rest_offsets()


# Segments whose lengths vary together between actors (a segment and its mirror image).
_SHAPE_GROUPS = (("pelvis", "nose", "eye", "ear"), ("spine_low", "spine_mid", "spine_up", "chest"), ("neck", "head"),
                 ("collar", "shoulder"), ("elbow",), ("wrist",), ("hand", "hand_tip", "thumb"), ("hip",), ("knee",),
                 ("ankle", "foot"))
_SHAPE_GROUP_OF = np.array([next(g for g, members in enumerate(_SHAPE_GROUPS)
                                 if n.removeprefix("left_").removeprefix("right_") in members) for n in RIG_JOINTS])


@dataclass(frozen=True)
class BodyShape:
    """One actor's proportions.

    Attributes:
        height: stature in metres (floor to the top of the head).
        offsets: ``(K, 3)`` rest offsets of the rig joints from their parents, metres.
    """

    height: float
    offsets: np.ndarray

    @classmethod
    def average(cls, height: float = REFERENCE_HEIGHT) -> "BodyShape":
        return cls(height, REST_OFFSETS * (height / REFERENCE_HEIGHT))

    @classmethod
    def sample(cls, rng: np.random.Generator, height_range=(1.55, 1.92), jitter: float = 0.06) -> "BodyShape":
        """Random stature and segment proportions (each segment +-``jitter``, sides symmetric)."""
        height = float(rng.uniform(*height_range))
        factors = 1.0 + rng.uniform(-jitter, jitter, len(_SHAPE_GROUPS))
        offsets = REST_OFFSETS * (height / REFERENCE_HEIGHT) * factors[_SHAPE_GROUP_OF][:, None]
        return cls(height, offsets)

    @property
    def scale(self) -> float:
        return self.height / REFERENCE_HEIGHT


# -- rotations ------------------------------------------------------------------------------

def rot_x(deg: np.ndarray) -> np.ndarray:
    """``(T,)`` degrees -> ``(T, 3, 3)`` rotations about x."""
    a = np.radians(deg)
    c, s = np.cos(a), np.sin(a)
    R = np.zeros(a.shape + (3, 3))
    R[..., 0, 0] = 1.0
    R[..., 1, 1], R[..., 1, 2], R[..., 2, 1], R[..., 2, 2] = c, -s, s, c
    return R


def rot_y(deg: np.ndarray) -> np.ndarray:
    a = np.radians(deg)
    c, s = np.cos(a), np.sin(a)
    R = np.zeros(a.shape + (3, 3))
    R[..., 1, 1] = 1.0
    R[..., 0, 0], R[..., 0, 2], R[..., 2, 0], R[..., 2, 2] = c, s, -s, c
    return R


def rot_z(deg: np.ndarray) -> np.ndarray:
    a = np.radians(deg)
    c, s = np.cos(a), np.sin(a)
    R = np.zeros(a.shape + (3, 3))
    R[..., 2, 2] = 1.0
    R[..., 0, 0], R[..., 0, 1], R[..., 1, 0], R[..., 1, 1] = c, -s, s, c
    return R


def matrix_to_quaternion(R: np.ndarray) -> np.ndarray:
    """``(..., 3, 3)`` rotation matrices -> ``(..., 4)`` unit quaternions ``(w, x, y, z)``, w >= 0."""
    m = R.reshape(-1, 3, 3)
    m00, m01, m02 = m[:, 0, 0], m[:, 0, 1], m[:, 0, 2]
    m10, m11, m12 = m[:, 1, 0], m[:, 1, 1], m[:, 1, 2]
    m20, m21, m22 = m[:, 2, 0], m[:, 2, 1], m[:, 2, 2]
    # Four formulas, each numerically stable where its own component is the largest.
    c = np.empty((len(m), 4, 4))
    c[:, 0] = np.stack([1 + m00 + m11 + m22, m21 - m12, m02 - m20, m10 - m01], -1)
    c[:, 1] = np.stack([m21 - m12, 1 + m00 - m11 - m22, m01 + m10, m02 + m20], -1)
    c[:, 2] = np.stack([m02 - m20, m01 + m10, 1 - m00 + m11 - m22, m12 + m21], -1)
    c[:, 3] = np.stack([m10 - m01, m02 + m20, m12 + m21, 1 - m00 - m11 + m22], -1)
    best = np.stack([m00 + m11 + m22, m00, m11, m22], -1).argmax(-1)
    q = c[np.arange(len(m)), best]
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    q = np.where(q[:, :1] < 0, -q, q)
    return q.reshape(R.shape[:-2] + (4,))


def _swing_twist(plane: np.ndarray, elev: np.ndarray, twist: np.ndarray) -> np.ndarray:
    """Ball joint: swing the limb by ``elev`` in the vertical plane at azimuth ``plane``
    (0 = forward, +90 = toward +x), then twist it about its own axis.

    The swing is a rotation about a horizontal axis (``Ry(-plane) Rx(elev) Ry(plane)``),
    so at ``elev = 0`` the plane angle does not spin the limb (a hanging arm keeps its palm
    and thumb where they were, a standing foot keeps pointing forward).
    """
    return rot_y(-plane) @ rot_x(elev) @ rot_y(plane - twist)


def local_rotations(dofs: Mapping[str, np.ndarray], T: int) -> dict[int, np.ndarray]:
    """Joint-angle tracks -> local rotations ``{rig joint index: (T, 3, 3)}``.

    Only joints that can rotate appear; the others are rigid (identity). ``dofs`` maps DoF
    names to ``(T,)`` degree arrays; missing DoFs take their :data:`NEUTRAL_POSE` value. The
    root's yaw is applied by :func:`pose_body`.
    """
    def get(name):
        v = dofs.get(name)
        return np.full(T, NEUTRAL_POSE[name]) if v is None else np.asarray(v, dtype=np.float64)

    R = {}
    bend, lean, twist = get("torso_bend"), get("torso_lean"), get("torso_twist")
    for joint, share in SPINE_SHARES.items():
        R[RIG_INDEX[joint]] = rot_y(-twist * share) @ rot_x(-bend * share) @ rot_z(-lean * share)
    R[RIG_INDEX["neck"]] = rot_y(-get("neck_turn")) @ rot_x(-get("neck_nod")) @ rot_z(-get("neck_tilt"))
    for side in SIDES:
        m = 1.0 if side == "left" else -1.0      # mirror: "outward" is +x on the left, -x on the right
        R[RIG_INDEX[f"{side}_shoulder"]] = _swing_twist(m * get(f"{side}_shoulder_plane"),
                                                        get(f"{side}_shoulder_elev"),
                                                        m * get(f"{side}_shoulder_twist"))
        R[RIG_INDEX[f"{side}_elbow"]] = rot_x(get(f"{side}_elbow"))
        R[RIG_INDEX[f"{side}_wrist"]] = rot_x(get(f"{side}_wrist"))
        R[RIG_INDEX[f"{side}_hip"]] = _swing_twist(m * get(f"{side}_hip_plane"), get(f"{side}_hip_elev"),
                                                   m * get(f"{side}_hip_twist"))
        R[RIG_INDEX[f"{side}_knee"]] = rot_x(-get(f"{side}_knee"))
        R[RIG_INDEX[f"{side}_ankle"]] = rot_x(get(f"{side}_ankle"))
    return R


def forward_kinematics(offsets: np.ndarray, local: Mapping[int, np.ndarray], root_rot: np.ndarray,
                       root_pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pose the rig.

    Args:
        offsets: ``(K, 3)`` rest offsets from each joint's parent, or ``(T, K, 3)`` per frame.
        local: ``{k: (T, 3, 3)}`` local rotations; joint k's rotation turns its children.
            Joints not in it are rigid.
        root_rot: ``(T, 3, 3)`` world rotation of the root (pelvis) frame.
        root_pos: ``(T, 3)`` world position of the root joint.

    Returns:
        positions ``(T, K, 3)`` and global rotations ``(T, K, 3, 3)`` (world from joint frame).
    """
    T = root_rot.shape[0]
    K = offsets.shape[-2]
    G: list[np.ndarray] = []      # rigid joints share their parent's array (no copy)
    P: list[np.ndarray] = []
    for k in range(K):  # vectorised over frames; K is ~34
        p = RIG_PARENTS[k]
        parent_rot = root_rot if p < 0 else G[p]
        if p < 0:
            P.append(np.asarray(root_pos, dtype=np.float64))
        else:
            off = offsets[..., k, :]
            off = np.broadcast_to(off, (T, 3)) if off.ndim == 1 else off
            # parent_rot @ off, written out: much faster than batched matmul / einsum for 3x3
            P.append(P[p] + parent_rot[:, :, 0] * off[:, 0:1] + parent_rot[:, :, 1] * off[:, 1:2]
                     + parent_rot[:, :, 2] * off[:, 2:3])
        G.append(parent_rot @ local[k] if k in local else parent_rot)
    P, G = np.stack(P, axis=1), np.stack(G, axis=1)
    return P, G


@dataclass
class Placement:
    """Where one actor stands in the world.

    Attributes:
        x, z: world position of the pelvis on the floor plane, metres.
        floor: world y of the floor (the camera sits at y = 0, like a Kinect on a tripod).
        facing: yaw in degrees; 0 faces the camera, + turns to the actor's left.
    """

    x: float = 0.0
    z: float = 3.0
    floor: float = -0.95
    facing: float = 0.0


@dataclass
class BodyMotion:
    """A posed body: ``positions (T, K, 3)`` and ``rotations (T, K, 3, 3)`` in the world frame."""

    positions: np.ndarray
    rotations: np.ndarray


def pose_body(shape: BodyShape, dofs: Mapping[str, np.ndarray], T: int, place: Placement) -> BodyMotion:
    """Joint-angle tracks -> world positions and rotations of every rig joint.

    The root height is found per frame so the lowest foot touches the floor (a squat or a
    sit lowers the pelvis, one-legged moves stand on the other foot); ``root_up`` then lifts
    the body off the floor (jumps, hops).
    """
    return pose_bodies([(shape, dofs, T, place)])[0]


def pose_bodies(items: Sequence[tuple[BodyShape, Mapping[str, np.ndarray], int, Placement]]) -> list[BodyMotion]:
    """:func:`pose_body` for many bodies at once: their frames are stacked into one batch,
    so the per-joint loop of forward kinematics runs once for the whole set."""
    lengths = [int(T) for _, _, T, _ in items]
    N = sum(lengths)

    def cat(name):
        return np.concatenate([np.full(T, NEUTRAL_POSE[name]) if d.get(name) is None
                               else np.asarray(d[name], dtype=np.float64) for (_, d, T, _) in items])

    def per_frame(values):
        return np.repeat(np.asarray(values, dtype=np.float64), lengths, axis=0)

    dofs = {name: cat(name) for name in DOFS}
    facing = per_frame([p.facing for *_, p in items])
    offsets = per_frame([s.offsets for s, *_ in items])                  # (N, K, 3)
    scale = per_frame([s.scale for s, *_ in items])
    local = local_rotations(dofs, N)
    P, G = forward_kinematics(offsets, local, rot_y(-(facing + dofs["root_yaw"])), np.zeros((N, 3)))
    # Ground contact: ankles sit ANKLE_HEIGHT above the sole, toes TOE_HEIGHT above it.
    feet_y = np.stack([P[:, RIG_INDEX[f"{s}_ankle"], 1] - ANKLE_HEIGHT * scale for s in SIDES]
                      + [P[:, RIG_INDEX[f"{s}_foot"], 1] - TOE_HEIGHT * scale for s in SIDES], -1)
    lift = -feet_y.min(-1) + dofs["root_up"]
    # Horizontal root motion is expressed in the body frame at the facing yaw.
    fwd, left = dofs["root_forward"], dofs["root_left"]
    a = np.radians(facing)
    dx = left * np.cos(a) + fwd * np.sin(a)           # Ry(-facing) applied to (left, 0, -fwd)
    dz = left * np.sin(a) - fwd * np.cos(a)
    root = np.stack([per_frame([p.x for *_, p in items]) + dx, per_frame([p.floor for *_, p in items]) + lift,
                     per_frame([p.z for *_, p in items]) + dz], -1)
    P = P + root[:, None, :]
    bounds = np.cumsum([0] + lengths)
    return [BodyMotion(positions=P[a:b], rotations=G[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
