"""Two-person interactions: shake hands, push, hug, pass an object (two actors facing each other)."""
from __future__ import annotations

import numpy as np

from ..body import Placement
from ..program import BOTH_PEOPLE, FIRST, SECOND, ProgramBuilder, _arm, count_word


# -- two-person interactions -------------------------------------------------------------------

def _face_each_other(b: ProgramBuilder, sep: float):
    """Put actor 0 on the left facing right and actor 1 on the right facing left, ``sep`` apart."""
    x0 = float(b.rng.uniform(-0.2, 0.2))
    z = float(b.rng.uniform(2.9, 3.5))
    floor = b.placements[0].floor
    j0, j1 = b.rng.uniform(-8, 8, 2)
    b.placements[0] = Placement(x=x0 - sep / 2, z=z, floor=floor, facing=90.0 + float(j0))
    b.placements[1] = Placement(x=x0 + sep / 2, z=z, floor=floor, facing=-90.0 + float(j1))


def _midline_plane(b: ProgramBuilder, actor: int, side: str, pose: dict) -> float:
    """Plane angle that brings the hand of ``side`` to the body's midline (hands can meet)."""
    planes = np.linspace(-45, 15, 13)
    xs = b.limb_points(actor, [{**pose, f"{side}_shoulder_plane": p} for p in planes], f"{side}_hand")[:, 0]
    return float(planes[int(np.argmin(np.abs(xs)))])


def _meet(b: ProgramBuilder, poses: list[dict], side: str) -> float:
    """Distance between the pelvises at which the two ``side`` hands meet, and set planes."""
    reach = []
    for a in (0, 1):
        poses[a][f"{side}_shoulder_plane"] = _midline_plane(b, a, side, poses[a])
        reach.append(-b.limb_point(a, poses[a], f"{side}_hand")[2])      # forward is -z
    return float(sum(reach))


def shake_hands(b: ProgramBuilder, side: str = "right"):
    n = b.reps(2, 3)
    start = float(b.rng.uniform(1.3, 1.6))
    poses = [_arm("right", elev=32, twist=0, elbow=58, wrist=0) for _ in range(2)]
    meet = _meet(b, poses, "right")
    _face_each_other(b, start)
    step = (start - meet) / 2
    t = b.timeline(2.5, 1.5, 1.0 * n, 1.5, 2.0)
    for a in (0, 1):
        b.walk(t[0], t[1], step, actor=a)
        b.move(t[1], t[2], poses[a], actor=a)
        up, down = dict(poses[a]), {**poses[a], "right_elbow": 40.0, "right_shoulder_elev": 26.0}
        b.oscillate(t[2], t[3], up, down, n, actor=a)
        b.move(t[3], t[4], b.neutral("arm:right"), actor=a)
        b.walk(t[4], t[5], -step * 0.6, actor=a)
    b.phase(t[0], t[1], "step toward each other", "stepping toward each other", "the two people",
            "walk closer", "to get within arm's reach", who=BOTH_PEOPLE)
    b.phase(t[1], t[2], "extend their right hands until the hands meet", "extending their right hands",
            "their right hands", "reach out", "to grip each other's hand", who=BOTH_PEOPLE)
    b.phase(t[2], t[3], "shake the joined hands up and down " + count_word(n), "shaking hands",
            "their joined hands", "move up and down", "to greet each other", kind="repeat", reps=n,
            who=BOTH_PEOPLE, key=True)
    b.phase(t[3], t[4], "let go and lower their arms", "letting go", "their right arms", "come down",
            "to end the handshake", who=BOTH_PEOPLE)
    b.phase(t[4], t[5], "step back a little", "stepping back", "the two people", "move apart",
            "to return to a comfortable distance", who=BOTH_PEOPLE)
    b.summary = "two people walk up to each other and shake right hands"


def push(b: ProgramBuilder, side: str = "both"):
    start = float(b.rng.uniform(1.3, 1.6))
    bent = _arm("both", plane=-8, elev=80, twist=0, elbow=70, wrist=-30)
    contact = -b.limb_point(0, bent, "right_hand")[2] + 0.1 * b.shapes[1].scale
    _face_each_other(b, start)
    shove = float(b.rng.uniform(0.25, 0.4))
    t = b.timeline(2.5, 1.0, 0.7, 1.2, 2.0)
    b.walk(t[0], t[1], start - contact, actor=0)
    b.move(t[1], t[2], bent, actor=0)
    b.move(t[2], t[3], _arm("both", elbow=5, elev=85), actor=0)
    b.move(t[4], t[5], b.neutral("arm:both"), actor=0)
    b.move(t[2], t[3], {"torso_bend": -15.0, **_arm("both", plane=30, elev=35, elbow=30)}, actor=1)
    b.walk(t[2], t[4], -shove, actor=1)
    b.move(t[4], t[5], {"torso_bend": 0.0, **b.neutral("arm:both")}, actor=1)
    b.phase(t[0], t[1], "walks up to the second person", "walking up to the other person", "the first person",
            "approach", "to get close enough to push", who=FIRST)
    b.phase(t[1], t[2], "raises both hands to the second person's chest", "raising both hands",
            "both hands", "come up to the chest", "to make contact before pushing", who=FIRST)
    b.phase(t[2], t[3], "quickly straightens both arms and shoves", "shoving with both arms", "both arms",
            "straighten forcefully", "to push the second person away", who=FIRST, key=True)
    b.phase(t[2], t[4], "is pushed backward, leaning back and stepping away", "being pushed back",
            "the second person", "stumble backward", "because the push drives the chest backward",
            who=SECOND, main=False)
    b.phase(t[4], t[5], "lower their arms and stand still", "recovering", "the two people", "settle",
            "to regain a stable stance", who=BOTH_PEOPLE)
    b.summary = "one person walks up and pushes the other away with both hands"


def hug(b: ProgramBuilder, side: str = "both"):
    start = float(b.rng.uniform(1.3, 1.6))
    close = 0.32 * (b.shapes[0].scale + b.shapes[1].scale) / 2
    _face_each_other(b, start)
    t = b.timeline(2.5, 1.5, 1.8, 1.5, 1.8)
    wrap = [_arm("both", plane=-70, elev=80, twist=0, elbow=75), _arm("both", plane=-70, elev=55, twist=0, elbow=70)]
    for a in (0, 1):
        b.walk(t[0], t[1], (start - close) / 2, actor=a)
        b.move(t[1], t[2], wrap[a], actor=a)
        b.move(t[3], t[4], b.neutral("arm:both"), actor=a)
        b.walk(t[4], t[5], -(start - close) / 4, actor=a)
    b.phase(t[0], t[1], "walk toward each other", "walking toward each other", "the two people", "come closer",
            "to get close enough to embrace", who=BOTH_PEOPLE)
    b.phase(t[1], t[2], "wrap both arms around each other", "wrapping their arms around each other",
            "their arms", "wrap around the other person", "to hug each other", who=BOTH_PEOPLE, key=True)
    b.phase(t[2], t[3], "hold the embrace", "holding the embrace", "their arms", "stay wrapped",
            "to show affection", kind="hold", who=BOTH_PEOPLE)
    b.phase(t[3], t[4], "release each other", "releasing each other", "their arms", "open",
            "to end the hug", who=BOTH_PEOPLE)
    b.phase(t[4], t[5], "step apart", "stepping apart", "the two people", "move apart",
            "to return to a normal distance", who=BOTH_PEOPLE)
    b.summary = "two people walk up to each other and hug"


def pass_object(b: ProgramBuilder, side: str = "right"):
    start = float(b.rng.uniform(1.1, 1.4))
    poses = [_arm("right", elev=55, twist=0, elbow=35, wrist=-20) for _ in range(2)]
    meet = _meet(b, poses, "right")
    sep = max(start, meet + 0.05)
    _face_each_other(b, sep)
    step = (sep - meet) / 2
    t = b.timeline(2.0, 1.5, 1.5, 0.8, 1.2, 1.5)
    for a in (0, 1):
        b.walk(t[0], t[1], step, actor=a)
    b.move(t[1], t[2], poses[0], actor=0)
    b.move(t[2], t[3], poses[1], actor=1)
    b.move(t[4], t[5], b.neutral("arm:right"), actor=0)
    b.move(t[4], t[5], _arm("right", plane=0, elev=25, elbow=100), actor=1)
    b.move(t[5], t[6], b.neutral("arm:right"), actor=1)
    b.phase(t[0], t[1], "step closer to each other", "stepping closer", "the two people", "come closer",
            "to be within reach", who=BOTH_PEOPLE)
    b.phase(t[1], t[2], "holds out the right hand with an object", "holding out the object",
            "the first person's right hand", "reach out", "to offer the object", who=FIRST, key=True)
    b.phase(t[2], t[3], "reaches out with the right hand toward the object", "reaching for the object",
            "the second person's right hand", "reach out", "to receive the object", who=SECOND)
    b.phase(t[3], t[4], "hold the object between their hands for a moment", "holding the object together",
            "their right hands", "stay together", "to make sure the object is handed over safely",
            kind="hold", who=BOTH_PEOPLE)
    b.phase(t[4], t[5], "pulls the object back toward the chest", "pulling the object in",
            "the second person's right hand", "come back to the chest", "to keep the object", who=SECOND)
    b.phase(t[4], t[5], "lowers the empty right hand", "lowering the empty hand", "the first person's right arm",
            "come down", "because the object has been handed over", who=FIRST, main=False)
    b.phase(t[5], t[6], "lowers the right arm", "lowering the arm", "the second person's right arm",
            "come down", "to finish the exchange", who=SECOND)
    b.summary = "one person hands an object to the other"
