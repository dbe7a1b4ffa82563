"""Classes told apart by what a frontal drawing hides: the depth of a motion, its speed, the
depth order of two crossing limbs (:data:`~skeletonllm.synth.actions.DEPICTION_CLASSES`).

Also here: the closed-form arm inverse kinematics (:func:`arm_angles`) and the crossing path
(:func:`crossing_path`) that give left-over-right and right-over-left the same x-y picture.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Sequence

import numpy as np

from ..body import NEUTRAL_POSE, SIDES, BodyShape, RIG_INDEX, forward_kinematics, local_rotations, rot_x, rot_y
from ..program import ProgramBuilder, _arm, _leg, count_word, side_words
from .arms import _wave

# -- classes told apart by what a frontal drawing hides: depth, speed, depth order ---------------
#
# Each pair below differs only in information that a plain frontal 2D projection (x, y) drops:
# the direction of a motion along the camera axis, its speed, or which of two crossing limbs
# is nearer. The builders keep everything else identical between the two members of a pair
# (same random draws, same timing, the same x-y path), so a renderer that shows depth, speed
# or occlusion order has something to win. ``tests/test_synth.py`` checks the signal
# numerically: present in the 3D joints, absent from the x-y projection.

#: Facing jitter (degrees) of the depth and depth-order classes. The generator turns actors up
#: to 30 degrees away from the camera, and then a step forward also moves sideways in the
#: picture, the way the toes point; these classes keep the actor facing the camera.
DEPICTION_FACING = 8.0


def _face_camera(b: ProgramBuilder) -> None:
    b.placements[0] = replace(b.placements[0], facing=float(b.rng.uniform(-DEPICTION_FACING, DEPICTION_FACING)))


def stretch_arm(b: ProgramBuilder, side: str, direction: str = "forward"):
    """The straight arm swings up in the sagittal plane to the front (``forward``) or to the
    back (``backward``) by the same angle: the hand rises by the same height either way, only
    its depth tells the two apart."""
    w = side_words(side)
    _face_camera(b)
    sign = 1.0 if direction == "forward" else -1.0
    elev = sign * 50.0 * b.amp
    t = b.timeline(2.5, 1.5, 2.5)
    # Hanging straight down in the sagittal plane (no sideways component, elbow and wrist
    # straight), so the forward and backward swings mirror each other in depth exactly.
    # The palm faces the body (twist 90), so the thumb too moves in the swing's plane.
    b.start_pose(_arm(side, plane=0, elev=0, twist=90, elbow=0, wrist=0))
    b.move(t[0], t[1], _arm(side, elev=elev))
    b.move(t[2], t[3], _arm(side, elev=0))
    where, place = ("forward", "in front of the body") if sign > 0 else ("backward", "behind the body")
    b.phase(t[0], t[1], "swings {arm} straight " + where + " to " + place, "stretching {arm} " + where, "{arm}",
            "swing " + where, "to stretch the shoulder " + where, **w, key=True)
    b.phase(t[1], t[2], "holds {arm} stretched out " + place, "holding {arm} " + place, "{arm}",
            "stay " + place, "to hold the stretch", kind="hold", **w)
    b.phase(t[2], t[3], "lowers {arm} back down to the side", "lowering {arm}", "{arm}", "come back down",
            "to return to a relaxed standing pose", **w)
    b.summary = ("stretches {arm} " + where + " and lowers {it}").format(**w)


def step(b: ProgramBuilder, side: str, direction: str = "forward"):
    """A step along the facing direction, forward or back, led by the ``side`` leg: the leg
    swings (knee straight, foot kept level) by the same angle either way while the body moves
    the same distance, so only the depth of the motion tells the two apart."""
    w = side_words(side)
    _face_camera(b)
    sign = 1.0 if direction == "forward" else -1.0
    dist = float(b.rng.uniform(0.3, 0.45)) * b.amp
    swing = 24.0 * b.amp
    b.params["distance"] = round(dist, 4)
    t = b.timeline(1.5, 1.5, 1.5, 2.0)
    b.start_pose(_leg(side, plane=0, elev=0, twist=0, knee=0, ankle=0))
    b.move(t[0], t[1], _leg(side, elev=sign * swing, ankle=-sign * swing))
    b.move(t[1], t[3], {"root_forward": sign * dist})
    b.move(t[1], t[2], _leg(side, elev=0, ankle=0))
    where = "forward" if sign > 0 else "backward"
    b.phase(t[0], t[1], "swings {leg} " + where, "swinging {leg} " + where, "{leg}", "swing " + where,
            "to take a step " + where, **w)
    b.phase(t[1], t[3], "steps " + where + " onto {foot}, moving the whole body " + where,
            "stepping " + where, "the whole body", "move " + where, "to change place", **w, key=True)
    b.phase(t[3], t[4], "stands still at the new place", "standing still", "the body", "stay still",
            "to finish the step", kind="hold", **w)
    b.summary = ("takes a step " + where + " with {leg}").format(**w)


def wave_hand_slowly(b: ProgramBuilder, side: str):
    """:func:`wave_hand` at a third of its speed or less: the same raised hand and the same
    sweeps of the forearm, one or two long ones instead of two to four short ones. Every
    frame, taken alone, looks the same as a frame of the quick wave."""
    n = b.reps(1, 2)
    t = b.timeline(1.5, 3.2 * n, 1.5)
    w = _wave(b, side, t, n)
    b.phase(t[1], t[2], "slowly waves {hand} from side to side " + count_word(n) + " in long sweeps",
            "waving {hand} slowly", "{hand}", "sweep slowly from side to side", "to greet someone far away",
            kind="repeat", reps=n, **w, key=True)
    b.phase(t[2], t[3], "lowers {arm} to the side", "lowering {arm}", "{arm}", "come back down",
            "to end the greeting", **w)
    b.summary = ("slowly waves {hand} " + count_word(n)).format(**w)


# Where the limbs cross: the LEFT elbow's x-y position in the body frame relative to the pelvis
# (metres of a 1.75 m body; x to the actor's left, y up; mirrored for the right arm) and the
# x-y direction of its forearm. "arm": forearms crossing in front of the chest; "hand": wrists
# crossing in front of the face. The forearm's x-y extent is _CROSS_REACH of its length, so
# the remaining share points along the camera axis: forward for the front arm, back for the other.
_CROSSINGS = {"arm": {"elbow": (0.20, 0.24), "forearm": (-0.98, 0.2)},
              "hand": {"elbow": (0.20, 0.62), "forearm": (-0.91, 0.41)}}
_CROSS_REACH = 0.9


def arm_angles(side: str, shoulder: np.ndarray, elbow: np.ndarray, wrist: np.ndarray) -> dict[str, float]:
    """Shoulder plane / elevation / twist and elbow flexion (degrees, wrist straight) that put
    the elbow and the wrist of the ``side`` arm at ``elbow`` / ``wrist`` (body frame, the spine
    in its neutral pose; the points must be at the arm's segment lengths). The inverse of
    :func:`~skeletonllm.synth.body.local_rotations` for one arm, in closed form."""
    flip = np.array([1.0 if side == "left" else -1.0, 1.0, 1.0])        # the right arm mirrors the left
    S, E, W = shoulder * flip, elbow * flip, wrist * flip
    u = (E - S) / np.linalg.norm(E - S)
    elev = np.arccos(np.clip(-u[1], -1.0, 1.0))
    plane = np.arctan2(u[0], -u[2])                                        # u = (sin e sin p, -cos e, -sin e cos p)
    swing = rot_y(np.degrees(-plane)) @ rot_x(np.degrees(elev))
    v = swing.T @ ((W - E) / np.linalg.norm(W - E))                        # = Ry(p - twist) (0, -cos k, -sin k)
    flex = np.arccos(np.clip(-v[1], -1.0, 1.0))
    twist = plane - np.arctan2(-v[0], -v[2])
    deg = lambda a: float(np.degrees(a))                                    # noqa: E731
    return _arm(side, plane=deg(plane), elev=deg(elev), twist=(deg(twist) + 180.0) % 360.0 - 180.0,
                elbow=deg(flex), wrist=0.0)


def crossing_path(shape: BodyShape, part: str, front: str, fractions: Sequence[float]) -> list[dict[str, float]]:
    """Arm poses along the way from the relaxed stance (as seen from the front) to both arms
    crossed at ``part`` (see :data:`_CROSSINGS`), the ``front`` arm nearer the camera, one per
    fraction of the way (0: the start, 1: crossed).

    At every key the two arms' elbows and wrists sit at mirror-image x-y positions on straight
    x-y paths; the front arm's forearm points forward from its elbow, the other's back. So
    left-over-right and right-over-left give the same x-y picture at every key and differ only
    in depth (between keys the joint angles are eased, which leaves a small x-y difference).
    """
    def joints(pose):
        d = {k: np.array([pose.get(k, v)]) for k, v in NEUTRAL_POSE.items()}
        return forward_kinematics(shape.offsets, local_rotations(d, 1), rot_y(np.zeros(1)), np.zeros((1, 3)))[0][0]

    rest = joints({})
    s = shape.scale
    poses = [{} for _ in fractions]
    for side in SIDES:
        m = 1.0 if side == "left" else -1.0
        ji = {j: RIG_INDEX[f"{side}_{j}"] for j in ("shoulder", "elbow", "wrist")}
        S = rest[ji["shoulder"]]
        upper, fore = (float(np.linalg.norm(shape.offsets[ji[j]])) for j in ("elbow", "wrist"))
        spec = _CROSSINGS[part]
        goal = {"elbow": np.array([m * spec["elbow"][0], spec["elbow"][1]]) * s}
        way = np.array([m * spec["forearm"][0], spec["forearm"][1]])
        goal["wrist"] = goal["elbow"] + _CROSS_REACH * fore * way / np.linalg.norm(way)
        previous: dict[str, float] = {}
        for pose, f in zip(poses, fractions):
            exy = (1 - f) * rest[ji["elbow"], :2] + f * goal["elbow"]
            wxy = (1 - f) * rest[ji["wrist"], :2] + f * goal["wrist"]
            ez = S[2] - np.sqrt(max(upper ** 2 - np.sum((exy - S[:2]) ** 2), 0.0))          # elbow in front
            dz = np.sqrt(max(fore ** 2 - np.sum((wxy - exy) ** 2), 0.0))
            wz = ez - dz if side == front else ez + dz                                     # forward is -z
            angles = arm_angles(side, S, np.array([*exy, ez]), np.array([*wxy, wz]))
            for dof in (f"{side}_shoulder_plane", f"{side}_shoulder_twist"):       # no turn the long way round
                before = previous.get(dof, NEUTRAL_POSE[dof])
                angles[dof] = before + (angles[dof] - before + 180.0) % 360.0 - 180.0
            previous = angles
            pose.update(angles)
    return poses


_CROSSING_KEYS = 12       # keys on the way to the crossing, and again on the way back


def cross_over(b: ProgramBuilder, side: str, part: str = "arm"):
    """Both arms cross, the ``side`` arm in front: forearms in front of the chest (``part``
    "arm") or wrists in front of the face ("hand"). Left-over-right and right-over-left give
    the same x-y picture (:func:`crossing_path`)."""
    w = side_words(side)
    _face_camera(b)
    t = b.timeline(2.5, 2.0, 2.5)
    n = _CROSSING_KEYS
    path = crossing_path(b.shapes[0], part, side, [k / n for k in range(n + 1)])
    # Keyed straight into the tracks (``move`` would turn the shoulder plane early), from the
    # path's start (the relaxed stance's x-y picture) to the crossing and back. Between two keys
    # every angle eases, so the keys are dense: the arms follow the x-y path closely.
    way = [(t[0] + k / n * (t[1] - t[0]), pose) for k, pose in enumerate(path)]
    way += [(t[2] + k / n * (t[3] - t[2]), pose) for k, pose in enumerate(path[::-1])]
    for time, pose in way:
        for dof, v in pose.items():
            b._key(0, dof, time, v)
    where = "in front of the chest" if part == "arm" else "in front of the face"
    limb = "arm" if part == "arm" else "wrist"
    b.phase(t[0], t[1], f"crosses both {limb}s {where} with the {side} {limb} in front",
            f"crossing the {limb}s {where}", f"both {limb}s", f"cross {where}",
            f"to make a cross sign {where}", **w, key=True)
    b.phase(t[1], t[2], f"keeps the {limb}s crossed, the {side} one nearer", f"holding the {limb}s crossed",
            f"both {limb}s", "stay crossed", "to hold the cross sign", kind="hold", **w)
    b.phase(t[2], t[3], "uncrosses both arms and lowers them to the sides", "uncrossing the arms", "both arms",
            "come back down", "to return to a relaxed standing pose", **w)
    b.summary = f"crosses both {limb}s {where} with the {side} {limb} in front, then lowers them"
