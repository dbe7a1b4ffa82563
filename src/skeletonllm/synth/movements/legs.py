"""Leg movements: raise, kick, swing, lift sideways, hop."""
from __future__ import annotations

from ..program import ProgramBuilder, _arm, _leg, count_word, side_words


def raise_leg(b: ProgramBuilder, side: str):
    w = side_words(side)
    t = b.timeline(2.5, 1.5, 2.5)
    b.move(t[0], t[1], {**_leg(side, plane=0, elev=55 * b.amp, knee=4), "torso_bend": -6.0,
                        **_arm("both", elev=25)})
    b.move(t[2], t[3], {**b.neutral(f"leg:{side}"), "torso_bend": 0.0, **b.neutral("arm:both")})
    b.phase(t[0], t[1], "lifts {leg} forward with the knee straight", "lifting {leg} forward", "{leg}",
            "rise forward", "to raise {foot} off the floor", **w, key=True)
    b.phase(t[1], t[2], "holds {leg} up while balancing on {other_leg}", "holding {leg} up", "{leg}",
            "stay up", "to keep {leg} raised", kind="hold", **w)
    b.phase(t[0], t[1], "spreads both arms a little", "spreading the arms", "both arms", "move outward",
            "to keep balance on one leg", main=False, **w)
    b.phase(t[2], t[3], "puts {foot} back down on the floor", "putting {foot} down", "{leg}",
            "come back down", "to stand on both feet again", **w)
    b.summary = "raises {leg} straight forward and puts it down again".format(**w)


def kick(b: ProgramBuilder, side: str):
    w = side_words(side)
    t = b.timeline(1.8, 0.6, 1.0, 1.8)
    b.move(t[0], t[1], {**_leg(side, plane=0, elev=62 * b.amp, knee=95), **_arm("both", plane=20, elev=25, elbow=80)})
    b.move(t[1], t[2], {**_leg(side, elev=78 * b.amp, knee=4, ankle=-20), "torso_bend": -10.0})
    b.move(t[2], t[3], {**_leg(side, elev=60 * b.amp, knee=90, ankle=0), "torso_bend": 0.0})
    b.move(t[3], t[4], {**b.neutral(f"leg:{side}"), **b.neutral("arm:both")})
    b.phase(t[0], t[1], "raises {knee} up in front of the body", "raising {knee}", "{knee}", "come up",
            "to load the kick", **w)
    b.phase(t[1], t[2], "quickly snaps the lower {side} leg forward", "snapping {leg} forward",
            "the lower {side} leg", "snap forward", "to strike forward with {foot}", **w, key=True)
    b.phase(t[1], t[2], "leans the upper body back", "leaning back", "the torso", "lean back",
            "to keep balance during the kick", main=False, **w)
    b.phase(t[2], t[3], "pulls {foot} back toward the body", "pulling {foot} back", "{foot}", "come back",
            "to recover from the kick", **w)
    b.phase(t[3], t[4], "puts {foot} back on the floor", "putting {foot} down", "{leg}", "come down",
            "to stand on both feet again", **w)
    b.summary = "kicks forward with {leg}".format(**w)


def swing_leg(b: ProgramBuilder, side: str):
    w = side_words(side)
    n = b.reps(2, 3)
    t = b.timeline(1.5, 2.2 * n, 1.5)
    fwd = _leg(side, plane=0, elev=45 * b.amp, knee=8)
    back = _leg(side, plane=0, elev=-25 * b.amp, knee=12)
    b.move(t[0], t[1], {**fwd, **_arm("both", elev=30)})
    b.oscillate(t[1], t[2], fwd, back, n)
    b.move(t[2], t[3], {**b.neutral(f"leg:{side}"), **b.neutral("arm:both")})
    b.phase(t[0], t[1], "swings {leg} forward", "swinging {leg} forward", "{leg}", "swing forward",
            "to start a pendulum motion of the leg", **w)
    b.phase(t[1], t[2], "swings {leg} backward and forward " + count_word(n), "swinging {leg} back and forth",
            "{leg}", "swing back and forth", "to loosen up the hip", kind="repeat", reps=n, **w, key=True)
    b.phase(t[0], t[1], "holds both arms slightly out", "holding the arms out", "both arms", "move outward",
            "to keep balance on {other_leg}", main=False, **w)
    b.phase(t[2], t[3], "puts {foot} back on the floor", "putting {foot} down", "{leg}", "come to rest",
            "to stand on both feet again", **w)
    b.summary = ("swings {leg} back and forth " + count_word(n)).format(**w)


def lift_leg_sideways(b: ProgramBuilder, side: str):
    w = side_words(side)
    lean = -10.0 if side == "left" else 10.0             # lean away from the lifted leg
    t = b.timeline(2.5, 1.5, 2.5)
    b.move(t[0], t[1], {**_leg(side, plane=90, elev=40 * b.amp, knee=3), "torso_lean": lean})
    b.move(t[2], t[3], {**b.neutral(f"leg:{side}"), "torso_lean": 0.0})
    b.phase(t[0], t[1], "lifts {leg} out to the side", "lifting {leg} out to the side", "{leg}",
            "move out to the side", "to stretch {leg} sideways", **w, key=True)
    b.phase(t[0], t[1], "tilts the upper body toward the {other}", "tilting the torso", "the torso",
            "tilt toward the {other}", "to balance over {other_foot}", main=False, **w)
    b.phase(t[1], t[2], "holds {leg} out to the side", "holding {leg} out", "{leg}", "stay out",
            "to hold the stretch", kind="hold", **w)
    b.phase(t[2], t[3], "brings {leg} back next to {other_leg}", "bringing {leg} back", "{leg}",
            "come back in", "to stand on both feet again", **w)
    b.summary = "lifts {leg} out to the side and brings it back".format(**w)


def hop(b: ProgramBuilder, side: str):
    w = side_words(side)
    o = w["other"]
    n = b.reps(2, 4)
    h = float(b.rng.uniform(0.08, 0.16))
    t = b.timeline(1.5, 1.3 * n, 1.5)
    b.move(t[0], t[1], {**_leg(o, plane=0, elev=18, knee=80), **_arm("both", elev=25, elbow=40)})
    b.oscillate(t[1], t[2], {f"{side}_knee": 25.0, "root_up": 0.0}, {f"{side}_knee": 3.0, "root_up": h}, n)
    b.move(t[2], t[3], {**b.neutral(f"leg:{o}"), **b.neutral("arm:both")})
    b.phase(t[0], t[1], "lifts {other_foot} off the floor and balances on {leg}", "lifting {other_foot}",
            "{other_foot}", "leave the floor", "to stand on {leg} alone", **w)
    b.phase(t[1], t[2], "hops up and down on {leg} " + count_word(n), "hopping on {leg}", "{leg}",
            "push the body up", "to hop on one leg", kind="repeat", reps=n, **w, key=True)
    b.phase(t[2], t[3], "puts {other_foot} back down", "putting {other_foot} down", "{other_foot}",
            "come back down", "to stand on both feet again", **w)
    b.summary = ("hops on {leg} " + count_word(n)).format(**w)
