"""Arm and hand movements: raise, wave, punch, swing, lift sideways, touch head, clap, cross, reach."""
from __future__ import annotations

from ..program import ProgramBuilder, _arm, count_word, side_words


def raise_arm(b: ProgramBuilder, side: str):
    w = side_words(side)
    t = b.timeline(3.0, 1.5, 3.0)
    b.move(t[0], t[1], _arm(side, plane=15, elev=min(178, 168 * b.amp), twist=0, elbow=8))
    b.move(t[2], t[3], b.neutral(f"arm:{side}"))
    b.phase(t[0], t[1], "raises {arm} forward and up until {hand_} above the head",
            "raising {arm} above the head", "{arm}", "rise above the head",
            "to lift {hand} high above the head", **w,
            hand_="both hands are" if side == "both" else f"the {side} hand is", key=True)
    b.phase(t[1], t[2], "holds {arm} up for a moment", "holding {arm} up", "{arm}", "stay up",
            "to keep {hand} raised", kind="hold", **w)
    b.phase(t[2], t[3], "lowers {arm} back down to the side", "lowering {arm}", "{arm}", "come back down",
            "to return to a relaxed standing pose", **w)
    b.summary = "raises {arm} above the head and lowers {it} again".format(**w)


def _wave(b: ProgramBuilder, side: str, t: list[float], n: int) -> dict[str, str]:
    """The hand comes up beside the head over ``t[0]..t[1]``, the forearm sweeps ``n`` times
    until ``t[2]``, the arm comes down by ``t[3]``; returns the side's words."""
    w = side_words(side)
    up = _arm(side, plane=80, elev=85 * b.amp, twist=80, elbow=80)
    b.move(t[0], t[1], up)
    b.oscillate(t[1], t[2], _arm(side, elbow=105), _arm(side, elbow=55), n)
    b.move(t[2], t[3], b.neutral(f"arm:{side}"))
    b.phase(t[0], t[1], "lifts {hand} up beside the head", "lifting {hand} beside the head", "{hand}",
            "come up beside the head", "to show the open palm to someone", **w)
    return w


def wave_hand(b: ProgramBuilder, side: str):
    n = b.reps(2, 4)
    t = b.timeline(2.0, 1.1 * n, 2.0)
    w = _wave(b, side, t, n)
    b.phase(t[1], t[2], "waves {hand} from side to side " + count_word(n), "waving {hand}", "{hand}",
            "swing from side to side", "to greet someone or say goodbye", kind="repeat", reps=n, **w, key=True)
    b.phase(t[2], t[3], "lowers {arm} to the side", "lowering {arm}", "{arm}", "come back down",
            "to end the greeting", **w)
    b.summary = ("waves {hand} " + count_word(n)).format(**w)


def punch(b: ProgramBuilder, side: str):
    w = side_words(side)
    n = b.reps(1, 2)
    twist = 14.0 if side == "right" else -14.0          # the chest turns into the punch
    weights = [2.0] + [0.55, 0.9] * n + [1.6]
    t = b.timeline(*weights)
    guard = {**_arm(side, plane=10, elev=35, twist=0, elbow=125), **_arm(w["other"], plane=10, elev=25, elbow=95)}
    b.move(t[0], t[1], guard)
    for k in range(n):
        a, m, e = t[1 + 2 * k], t[2 + 2 * k], t[3 + 2 * k]
        b.move(a, m, {**_arm(side, plane=-8, elev=88 * min(b.amp, 1.0), elbow=3), "torso_twist": twist})
        b.move(m, e, {**_arm(side, plane=10, elev=35, elbow=125), "torso_twist": 0.0})
    b.move(t[-2], t[-1], b.neutral("arm:both"))
    b.phase(t[0], t[1], "brings {fist} up in front of the chest", "raising {fist} to the chest", "{fist}",
            "come up to the chest", "to get ready to strike", **w)
    b.phase(t[1], t[-2], "quickly thrusts {arm} straight forward " + count_word(n) + " and pulls it back",
            "punching forward with {arm}", "{arm}", "shoot straight forward", "to hit a target in front",
            kind="repeat" if n > 1 else "move", reps=n, **w, key=True)
    b.phase(t[1], t[-2], "turns the chest slightly toward the {other} with each punch",
            "turning the chest into the punch", "the torso", "turn with the punch",
            "to put body weight behind the punch", main=False, **w)
    b.phase(t[-2], t[-1], "drops both arms back to the sides", "dropping both arms", "both arms", "drop",
            "to relax after striking", **w)
    b.summary = ("punches forward with {arm} " + count_word(n)).format(**w)


def swing_arm(b: ProgramBuilder, side: str):
    w = side_words(side)
    n = b.reps(2, 3)
    t = b.timeline(1.5, 2.0 * n, 1.5)
    fwd = _arm(side, plane=0, elev=55 * b.amp, elbow=12)
    back = _arm(side, plane=0, elev=-38 * b.amp, elbow=8)
    b.move(t[0], t[1], fwd)
    b.oscillate(t[1], t[2], fwd, back, n)
    b.move(t[2], t[3], b.neutral(f"arm:{side}"))
    b.phase(t[0], t[1], "swings {arm} forward", "swinging {arm} forward", "{arm}", "swing forward",
            "to start a loose pendulum motion", **w)
    b.phase(t[1], t[2], "swings {arm} backward and forward " + count_word(n), "swinging {arm} back and forth",
            "{arm}", "swing back and forth", "to loosen up the shoulder", kind="repeat", reps=n, **w, key=True)
    b.phase(t[2], t[3], "lets {arm} come to rest at the side", "letting {arm} come to rest", "{arm}",
            "slow down", "to end the exercise", **w)
    b.summary = ("swings {arm} back and forth " + count_word(n)).format(**w)


def lift_arm_sideways(b: ProgramBuilder, side: str):
    w = side_words(side)
    t = b.timeline(2.5, 1.5, 2.5)
    b.move(t[0], t[1], _arm(side, plane=90, elev=90 * b.amp, twist=0, elbow=3))
    b.move(t[2], t[3], b.neutral(f"arm:{side}"))
    b.phase(t[0], t[1], "lifts {arm} out to the side up to shoulder height", "lifting {arm} out to the side",
            "{arm}", "move out to the side", "to stretch {arm} out sideways", **w, key=True)
    b.phase(t[1], t[2], "keeps {arm} stretched out horizontally", "holding {arm} out", "{arm}", "stay level",
            "to hold the stretch", kind="hold", **w)
    b.phase(t[2], t[3], "brings {arm} back down to the side", "bringing {arm} down", "{arm}", "come down",
            "to return to a relaxed standing pose", **w)
    b.summary = "lifts {arm} sideways to shoulder height and lowers {it}".format(**w)


def touch_head(b: ProgramBuilder, side: str):
    w = side_words(side)
    n = b.reps(1, 3)
    t = b.timeline(2.5, 1.0 + 0.6 * n, 2.5)
    on = _arm(side, plane=57, elev=140, twist=48, elbow=112)
    b.move(t[0], t[1], on)
    if n > 1:
        b.oscillate(t[1], t[2], on, _arm(side, elev=132, elbow=118), n)
    b.move(t[2], t[3], b.neutral(f"arm:{side}"))
    b.phase(t[0], t[1], "lifts {hand} up to the top of the head", "lifting {hand} to the head", "{hand}",
            "go up to the head", "to reach the head", **w)
    b.phase(t[1], t[2], "rests {hand} on the head" + (" and pats it " + count_word(n) if n > 1 else ""),
            "touching the head with {hand}", "{hand}", "stay on the head", "to touch or scratch the head",
            kind="repeat" if n > 1 else "hold", reps=n, **w, key=True)
    b.phase(t[2], t[3], "lowers {hand} back to the side", "lowering {hand}", "{hand}", "come back down",
            "to return to a relaxed standing pose", **w)
    b.summary = "puts {hand} on top of the head and then lowers {it}".format(**w)


def clap_hands(b: ProgramBuilder, side: str = "both"):
    w = side_words("both")
    n = b.reps(2, 5)
    t = b.timeline(2.0, 0.8 * n, 2.0)
    apart = _arm("both", plane=12, elev=21, twist=0, elbow=84)
    together = _arm("both", plane=-41, elev=36, elbow=70)
    b.move(t[0], t[1], apart)
    b.oscillate(t[1], t[2], apart, together, n)
    b.move(t[2], t[3], b.neutral("arm:both"))
    b.phase(t[0], t[1], "brings both hands up in front of the chest", "bringing both hands up", "both hands",
            "come up in front of the chest", "to get ready to clap", **w)
    b.phase(t[1], t[2], "claps both hands together " + count_word(n), "clapping", "both hands",
            "meet in front of the chest", "to applaud", kind="repeat", reps=n, **w, key=True)
    b.phase(t[2], t[3], "lowers both hands to the sides", "lowering both hands", "both hands", "come down",
            "to stop clapping", **w)
    b.summary = "claps both hands " + count_word(n)


def cross_arms(b: ProgramBuilder, side: str = "both"):
    w = side_words("both")
    t = b.timeline(2.5, 2.0, 2.5)
    b.move(t[0], t[1], {**_arm("left", plane=-56, elev=25, twist=-48, elbow=80),
                        **_arm("right", plane=-55, elev=28, twist=-55, elbow=89)})
    b.move(t[2], t[3], b.neutral("arm:both"))
    b.phase(t[0], t[1], "folds both arms across the chest", "folding both arms", "both arms",
            "fold across the chest", "to cross the arms over the chest", **w, key=True)
    b.phase(t[1], t[2], "keeps both arms crossed", "keeping the arms crossed", "both arms", "stay crossed",
            "to hold a closed, waiting posture", kind="hold", **w)
    b.phase(t[2], t[3], "uncrosses both arms and lets them hang", "uncrossing the arms", "both arms",
            "open up", "to return to a relaxed standing pose", **w)
    b.summary = "crosses both arms over the chest and then uncrosses them"


def reach_forward(b: ProgramBuilder, side: str):
    w = side_words(side)
    t = b.timeline(3.5, 1.5, 3.0)
    b.move(t[0], t[1], {**_arm(side, plane=5, elev=95, twist=0, elbow=5, wrist=-15), "torso_bend": 18 * b.amp})
    b.move(t[1], t[2], _arm(side, wrist=25))
    b.move(t[2], t[3], {**b.neutral(f"arm:{side}"), "torso_bend": 0.0})
    b.phase(t[0], t[1], "slowly reaches {arm} forward while leaning in", "reaching forward with {arm}", "{arm}",
            "stretch forward", "to get hold of something in front", **w, key=True)
    b.phase(t[0], t[1], "leans the upper body forward", "leaning forward", "the torso", "lean forward",
            "to extend the reach of {arm}", main=False, **w)
    b.phase(t[1], t[2], "closes {hand} around the object", "grasping with {hand}", "{hand}", "close",
            "to grab the object", kind="hold", **w)
    b.phase(t[2], t[3], "pulls {arm} back to the body", "pulling {arm} back", "{arm}", "come back",
            "to bring the object closer", **w)
    b.summary = "reaches forward with {arm} and pulls {it} back".format(**w)
