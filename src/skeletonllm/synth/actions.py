"""Action classes as compositional motion programs.

A class is (movement x body part x side), e.g. ``kick`` x ``leg`` x ``left`` ->
"kick left leg". Its builder writes a :class:`MotionProgram`: joint-angle keyframes for
each actor (eased in between, see :func:`evaluate_keys`) plus a list of :class:`Phase` s
that say in words what moved, when, how and why. Captions, rationales and QA
(``text.py``) are read off the phases, so the text always matches the motion.

Because builders are written per movement and take the side as an argument, a class
never seen in training ("kick left leg") is a new combination of pieces that training
did show ("kick right leg", "raise left leg"): that is what makes zero-shot transfer
possible, and what :func:`skeletonllm.synth.dataset.check_compositional` verifies.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache, partial
from typing import Callable, Sequence

import numpy as np

from .body import (DOFS, NEUTRAL_POSE, SIDES, BodyShape, Placement, RIG_INDEX, forward_kinematics,
                   local_rotations, rot_x, rot_y)

PERSON, FIRST, SECOND, BOTH_PEOPLE = "the person", "the first person", "the second person", "the two people"
_PLURAL_HEADS = {"arms", "hands", "legs", "feet", "knees", "hips", "people", "shoulders", "fists"}


@dataclass
class Phase:
    """One step of a program, in time and in words.

    ``act`` is a predicate agreeing with ``who`` ("raises the left arm ..."), ``gerund`` the
    same step as a noun phrase ("raising the left arm ..."), ``subject`` + ``base`` name the
    moving thing for "why does <subject> <base>?", and ``purpose`` answers it ("to ...").
    ``start`` / ``end`` are fractions of the clip. ``main`` steps form the temporal chain;
    other steps happen alongside them (a balancing arm, the partner's reaction). The ``key``
    step is the one that defines the action.
    """

    start: float
    end: float
    who: str
    act: str
    gerund: str
    subject: str
    base: str
    purpose: str | None = None
    kind: str = "move"          # "move", "hold" or "repeat"
    reps: int = 1
    main: bool = True
    key: bool = False           # the step that defines the action (what contrasts it with others)

    @property
    def plural(self) -> bool:
        return self.subject.split()[0] == "both" or self.subject.split()[-1] in _PLURAL_HEADS

    @property
    def clause(self) -> str:
        return f"{self.who} {self.act}"


@dataclass
class MotionProgram:
    """Everything one sample's motion is made of (JSON-serialisable through :meth:`to_dict`).

    Attributes:
        action / movement / part / side: the class and its composition.
        num_frames, fps: clip length.
        keys: per actor, DoF name -> list of ``(time in [0, 1], value)`` keyframes.
        phases: the steps, in start order.
        summary: a one-line predicate for captions ("waves the right hand three times").
        placements: per actor, where they stand (:class:`Placement` fields).
        sway: per actor, idle-sway parameters or None.
        params: random choices made by the builder (amplitude, repetitions, ...).
    """

    action: str
    movement: str
    part: str
    side: str
    num_frames: int
    fps: float
    keys: list[dict[str, list[tuple[float, float]]]]
    phases: list[Phase]
    summary: str
    placements: list[Placement]
    sway: list[dict | None]
    params: dict = field(default_factory=dict)

    @property
    def num_actors(self) -> int:
        return len(self.keys)

    @property
    def main_phases(self) -> list[Phase]:
        return [p for p in self.phases if p.main]

    def tracks(self, actor: int = 0) -> dict[str, np.ndarray]:
        """``(T,)`` degree / metre tracks of every keyed DoF of one actor, with idle sway."""
        out = evaluate_keys(self.keys[actor], self.num_frames)
        sw = self.sway[actor]
        if sw:
            t = np.arange(self.num_frames) / self.fps
            wave = np.sin(2 * np.pi * t / sw["period"] + sw["phase"])
            out["torso_lean"] = out.get("torso_lean", np.full(self.num_frames, NEUTRAL_POSE["torso_lean"])) \
                + sw["lean"] * wave
            out["root_left"] = out.get("root_left", np.zeros(self.num_frames)) + sw["shift"] * wave
        return out

    def moving_groups(self, actor: int | None = None, threshold: float = 6.0) -> set[str]:
        """Body groups whose keyed DoFs leave the neutral pose: ``left arm``, ``torso``, ..."""
        cache = self.__dict__.setdefault("_groups", {})
        if (actor, threshold) not in cache:
            cache[(actor, threshold)] = frozenset(self._moving_groups(actor, threshold))
        return set(cache[(actor, threshold)])

    def _moving_groups(self, actor: int | None, threshold: float) -> set[str]:
        groups = set()
        for a, keys in enumerate(self.keys):
            if actor is not None and a != actor:
                continue
            for dof, ks in keys.items():
                dev = max(abs(v - NEUTRAL_POSE[dof]) for _, v in ks)
                if dof.startswith("root_"):
                    if dev > (threshold if dof == "root_yaw" else 0.05):
                        groups.add("whole body")
                elif dev > threshold:
                    groups.add(_dof_group(dof))
        return groups

    def to_dict(self) -> dict:
        return {"action": self.action, "movement": self.movement, "part": self.part, "side": self.side,
                "num_frames": self.num_frames, "fps": self.fps,
                "keys": [{d: [list(k) for k in ks] for d, ks in keys.items()} for keys in self.keys],
                "phases": [asdict(p) for p in self.phases], "summary": self.summary,
                "placements": [asdict(p) for p in self.placements], "sway": self.sway, "params": self.params}

    @classmethod
    def from_dict(cls, d: dict) -> "MotionProgram":
        return cls(action=d["action"], movement=d["movement"], part=d["part"], side=d["side"],
                   num_frames=int(d["num_frames"]), fps=float(d["fps"]),
                   keys=[{k: [tuple(x) for x in v] for k, v in keys.items()} for keys in d["keys"]],
                   phases=[Phase(**p) for p in d["phases"]], summary=d["summary"],
                   placements=[Placement(**p) for p in d["placements"]], sway=d["sway"], params=d["params"])


def _dof_group(dof: str) -> str:
    if dof.startswith(("torso_",)):
        return "torso"
    if dof.startswith("neck_"):
        return "head"
    side, _, rest = dof.partition("_")
    return f"{side} arm" if rest.startswith(("shoulder", "elbow", "wrist")) else f"{side} leg"


def evaluate_keys(keys: dict[str, list[tuple[float, float]]], T: int) -> dict[str, np.ndarray]:
    """Keyframes -> ``(T,)`` tracks. Between keys the value eases (half-cosine: zero velocity
    at every key, so oscillations come out sinusoidal); before the first / after the last
    key it holds."""
    t = np.linspace(0.0, 1.0, T)
    out = {}
    for dof, ks in keys.items():
        arr = np.asarray(ks, dtype=np.float64)
        times, vals = arr[:, 0], arr[:, 1]
        if len(ks) == 1:
            out[dof] = np.full(T, vals[0])
            continue
        # Fractional key index of each frame (keys may share a time: a jump in value).
        f = np.interp(t, times, np.arange(len(ks), dtype=np.float64))
        i = np.minimum(f.astype(np.int64), len(ks) - 2)
        e = 0.5 - 0.5 * np.cos(np.pi * (f - i))
        out[dof] = vals[i] + (vals[i + 1] - vals[i]) * e
    return out


# -- words ----------------------------------------------------------------------------------

_NOUNS = {"arm": "arms", "hand": "hands", "leg": "legs", "foot": "feet", "knee": "knees", "fist": "fists"}
_COUNT = {1: "once", 2: "twice", 3: "three times", 4: "four times", 5: "five times"}


def count_word(n: int) -> str:
    return _COUNT.get(n, f"{n} times")


def side_words(side: str) -> dict[str, str]:
    """Format fields for phrase templates: ``{arm}`` -> "the left arm" / "both arms", ..."""
    w = {}
    for noun, plural in _NOUNS.items():
        w[noun] = f"both {plural}" if side == "both" else f"the {side} {noun}"
        w[noun + "s"] = plural
    other = {"left": "right", "right": "left"}.get(side, side)
    w.update(side=side, other=other, it="them" if side == "both" else "it",
             its="their" if side == "both" else "its",
             other_leg=f"the {other} leg", other_foot=f"the {other} foot", other_arm=f"the {other} arm")
    return w


def sides_of(side: str) -> tuple[str, ...]:
    return SIDES if side == "both" else (side,)


# -- the builder ------------------------------------------------------------------------------

class ProgramBuilder:
    """What a class builder writes into: keys, phases, timing, random choices.

    Args:
        rng: the sample's generator (every random choice comes from it, in a fixed order).
        num_frames, fps: clip length.
        shapes: one :class:`BodyShape` per actor (for reach distances in interactions).
        placements: one default :class:`Placement` per actor (interactions override them).
    """

    def __init__(self, rng: np.random.Generator, num_frames: int, fps: float,
                 shapes: list[BodyShape], placements: list[Placement]):
        self.rng = rng
        self.num_frames = num_frames
        self.fps = fps
        self.shapes = shapes
        self.placements = placements
        n = len(shapes)
        self.keys: list[dict[str, list[tuple[float, float]]]] = [{} for _ in range(n)]
        self.current = [dict(NEUTRAL_POSE) for _ in range(n)]
        self.phases: list[Phase] = []
        self.summary = ""
        self.amp = float(rng.uniform(0.85, 1.05))
        self.lead = float(rng.uniform(0.03, 0.15))
        self.active = float(min(rng.uniform(0.7, 0.92), 0.98 - self.lead))
        self.params: dict = {"amplitude": round(self.amp, 4)}

    # timing
    def timeline(self, *weights: float) -> list[float]:
        """Boundaries of consecutive steps with relative durations ``weights`` (each jittered
        +-15 %), placed in the clip's active window after a random lead-in."""
        w = np.asarray(weights, dtype=np.float64) * self.rng.uniform(0.85, 1.15, len(weights))
        cum = np.concatenate([[0.0], np.cumsum(w)]) / w.sum()
        return [float(self.lead + self.active * c) for c in cum]

    def reps(self, lo: int, hi: int) -> int:
        r = int(self.rng.integers(lo, hi + 1))
        self.params.setdefault("reps", r)
        return r

    # keys
    def _key(self, actor: int, dof: str, t: float, v: float):
        if dof not in NEUTRAL_POSE:
            raise KeyError(f"unknown DoF '{dof}'; known: {DOFS}")
        ks = self.keys[actor].setdefault(dof, [])
        if ks and t < ks[-1][0] - 1e-9:
            raise ValueError(f"key for '{dof}' at t={t:.3f} precedes the last key at {ks[-1][0]:.3f}")
        if ks and abs(t - ks[-1][0]) < 1e-9:
            ks[-1] = (t, float(v))
        else:
            ks.append((t, float(v)))
        self.current[actor][dof] = float(v)

    def start_pose(self, targets: dict[str, float], actor: int = 0):
        """Pose held from the start of the clip (e.g. seated before standing up)."""
        for dof, v in targets.items():
            self._key(actor, dof, 0.0, v)

    def move(self, t0: float, t1: float, targets: dict[str, float], actor: int = 0):
        """Ease each DoF in ``targets`` from its current value at ``t0`` to the target at ``t1``.

        A limb's plane of elevation hardly matters while the limb hangs, so when the limb
        leaves (or returns to) a hanging pose its plane turns early (or late): a raised arm
        then rises forward instead of sweeping out sideways first.
        """
        cur = self.current[actor]
        before = dict(cur)
        for dof, v in targets.items():
            ks = self.keys[actor].get(dof)
            if not ks or ks[-1][0] < t0 - 1e-9:
                self._key(actor, dof, t0, cur[dof])
            if dof.endswith("_plane"):
                elev = dof.replace("_plane", "_elev")
                start, end = before[elev], targets.get(elev, before[elev])
                if abs(start) < 20 <= abs(end):
                    self._key(actor, dof, t0 + 0.25 * (t1 - t0), v)
                elif abs(end) < 20 <= abs(start):
                    self._key(actor, dof, t1 - 0.25 * (t1 - t0), cur[dof])
            self._key(actor, dof, t1, v)

    def oscillate(self, t0: float, t1: float, a: dict[str, float], b: dict[str, float], reps: int,
                  actor: int = 0):
        """``reps`` cycles a -> b -> a between ``t0`` and ``t1`` (starts from the current pose)."""
        for k in range(reps):
            tm = t0 + (k + 0.5) / reps * (t1 - t0)
            te = t0 + (k + 1.0) / reps * (t1 - t0)
            if k == 0:
                for dof in set(a) | set(b):
                    ks = self.keys[actor].get(dof)
                    if not ks or ks[-1][0] < t0 - 1e-9:
                        self._key(actor, dof, t0, self.current[actor][dof])
            for dof, v in b.items():
                self._key(actor, dof, tm, v)
            for dof, v in a.items():
                self._key(actor, dof, te, v)

    def neutral(self, *groups: str) -> dict[str, float]:
        """Neutral values of DoF groups: ``arm:left``, ``leg:both``, ``torso``, ``neck``, ``root``."""
        out = {}
        for g in groups:
            kind, _, side = g.partition(":")
            if kind in ("arm", "leg"):
                names = ("shoulder_plane", "shoulder_elev", "shoulder_twist", "elbow", "wrist") if kind == "arm" \
                    else ("hip_plane", "hip_elev", "hip_twist", "knee", "ankle")
                for s in sides_of(side):
                    out.update({f"{s}_{n}": NEUTRAL_POSE[f"{s}_{n}"] for n in names})
            else:
                out.update({d: NEUTRAL_POSE[d] for d in DOFS if d.startswith(kind + "_")})
        return out

    def walk(self, t0: float, t1: float, distance: float, actor: int = 0, steps: int = 2):
        """Move the root ``distance`` metres forward (negative: back), stepping with the legs."""
        self.move(t0, t1, {"root_forward": self.current[actor]["root_forward"] + distance}, actor)
        bounds = np.linspace(t0, t1, steps + 1)
        for k in range(steps):
            s = SIDES[k % 2]
            mid = (bounds[k] + bounds[k + 1]) / 2
            lift, knee = (22.0, 35.0) if distance >= 0 else (-10.0, 25.0)
            self.move(bounds[k], mid, {f"{s}_hip_plane": 0.0, f"{s}_hip_elev": lift, f"{s}_knee": knee}, actor)
            self.move(mid, bounds[k + 1], {f"{s}_hip_plane": NEUTRAL_POSE[f"{s}_hip_plane"],
                                           f"{s}_hip_elev": NEUTRAL_POSE[f"{s}_hip_elev"],
                                           f"{s}_knee": NEUTRAL_POSE[f"{s}_knee"]}, actor)

    def limb_points(self, actor: int, poses: list[dict[str, float]], joint: str) -> np.ndarray:
        """``(len(poses), 3)`` body-frame positions of a rig joint relative to the pelvis."""
        n = len(poses)
        d = {k: np.array([p.get(k, v) for p in poses], dtype=np.float64) for k, v in NEUTRAL_POSE.items()}
        P, _ = forward_kinematics(self.shapes[actor].offsets, local_rotations(d, n), rot_y(np.zeros(n)),
                                  np.zeros((n, 3)))
        return P[:, RIG_INDEX[joint]]

    def limb_point(self, actor: int, pose: dict[str, float], joint: str) -> np.ndarray:
        """Body-frame position of a rig joint relative to the pelvis, for ``pose``."""
        return self.limb_points(actor, [pose], joint)[0]

    # words
    def phase(self, t0: float, t1: float, act: str, gerund: str, subject: str, base: str,
              purpose: str | None = None, kind: str = "move", reps: int = 1, main: bool = True,
              who: str = PERSON, key: bool = False, **fmt):
        f = lambda s: s.format(**fmt) if s is not None else None  # noqa: E731
        self.phases.append(Phase(start=float(t0), end=float(t1), who=who, act=f(act), gerund=f(gerund),
                                 subject=f(subject), base=f(base), purpose=f(purpose), kind=kind,
                                 reps=int(reps), main=main, key=key))


# -- class builders (one per movement; the side is an argument) --------------------------------

def _arm(side: str, plane=None, elev=None, twist=None, elbow=None, wrist=None) -> dict[str, float]:
    out = {}
    for s in sides_of(side):
        for name, v in (("shoulder_plane", plane), ("shoulder_elev", elev), ("shoulder_twist", twist),
                        ("elbow", elbow), ("wrist", wrist)):
            if v is not None:
                out[f"{s}_{name}"] = float(v)
    return out


def _leg(side: str, plane=None, elev=None, twist=None, knee=None, ankle=None) -> dict[str, float]:
    out = {}
    for s in sides_of(side):
        for name, v in (("hip_plane", plane), ("hip_elev", elev), ("hip_twist", twist),
                        ("knee", knee), ("ankle", ankle)):
            if v is not None:
                out[f"{s}_{name}"] = float(v)
    return out


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


def squat(b: ProgramBuilder, side: str = "none"):
    t = b.timeline(3.0, 1.5, 3.0)
    b.move(t[0], t[1], {**_leg("both", plane=10, elev=92 * b.amp, knee=112 * b.amp, ankle=20),
                        "torso_bend": 28.0, **_arm("both", plane=0, elev=75, elbow=8)})
    b.move(t[2], t[3], {**b.neutral("leg:both", "arm:both"), "torso_bend": 0.0})
    b.phase(t[0], t[1], "bends both knees and lowers the hips toward the floor", "bending both knees",
            "both knees", "bend deeply", "to lower the body into a squat", key=True)
    b.phase(t[0], t[1], "stretches both arms forward", "stretching the arms forward", "both arms",
            "reach forward", "to keep balance while squatting", main=False)
    b.phase(t[1], t[2], "stays low in the squat", "staying low", "the hips", "stay low",
            "to hold the squat", kind="hold")
    b.phase(t[2], t[3], "straightens both legs and stands back up", "standing back up", "both legs",
            "straighten", "to return to standing")
    b.summary = "squats down by bending both knees and stands back up"


def jump(b: ProgramBuilder, side: str = "none"):
    h = float(b.rng.uniform(0.18, 0.35)) * b.amp
    b.params["height"] = round(h, 4)
    t = b.timeline(2.0, 0.8, 1.4, 0.8, 2.0)
    crouch = {**_leg("both", plane=0, elev=50, knee=65, ankle=15), "torso_bend": 25.0,
              **_arm("both", plane=0, elev=-35, elbow=10)}
    b.move(t[0], t[1], crouch)
    b.move(t[1], t[2], {**_leg("both", plane=0, elev=3, knee=2, ankle=-25), "torso_bend": 0.0,
                        **_arm("both", elev=150, elbow=10)})
    b.move(t[1], t[2], {"root_up": 0.0})
    b.move(t[2], t[3], {"root_up": h})
    b.move(t[3], t[4], {"root_up": 0.0, **_leg("both", elev=40, knee=50, ankle=10), "torso_bend": 18.0,
                        **_arm("both", elev=40)})
    b.move(t[4], t[5], {**b.neutral("leg:both", "arm:both"), "torso_bend": 0.0})
    b.phase(t[0], t[1], "bends the knees and swings both arms back", "crouching", "both knees", "bend",
            "to gather force for the jump")
    b.phase(t[1], t[3], "pushes off with both legs and springs up into the air", "jumping up", "both feet",
            "leave the floor", "to lift the whole body off the ground", key=True)
    b.phase(t[1], t[2], "swings both arms up", "swinging the arms up", "both arms", "swing up",
            "to add momentum to the jump", main=False)
    b.phase(t[3], t[4], "lands and bends the knees", "landing", "both knees", "bend on landing",
            "to absorb the impact of the landing")
    b.phase(t[4], t[5], "stands up straight again", "standing up straight", "both legs", "straighten",
            "to recover a normal stance")
    b.summary = "jumps up into the air with both feet and lands"


def bow(b: ProgramBuilder, side: str = "none"):
    t = b.timeline(2.5, 1.5, 2.5)
    bend = 55.0 * b.amp
    b.move(t[0], t[1], {"torso_bend": bend, "neck_nod": 15.0, **_arm("both", plane=0, elev=bend * 0.8, elbow=10)})
    b.move(t[2], t[3], {"torso_bend": 0.0, "neck_nod": 0.0, **b.neutral("arm:both")})
    b.phase(t[0], t[1], "bends the upper body forward from the hips", "bending forward", "the torso",
            "lean forward", "to bow as a sign of respect", key=True)
    b.phase(t[1], t[2], "holds the bow briefly", "holding the bow", "the torso", "stay bent",
            "to show courtesy", kind="hold")
    b.phase(t[2], t[3], "straightens the upper body again", "straightening up", "the torso", "come back up",
            "to finish the greeting")
    b.summary = "bows by bending the upper body forward and straightens up"


def turn_around(b: ProgramBuilder, side: str = "none"):
    direction = "left" if b.rng.random() < 0.5 else "right"
    b.params["direction"] = direction
    yaw = 180.0 if direction == "left" else -180.0
    t = b.timeline(0.8, 4.0, 1.5)
    b.move(t[0], t[1], _arm("both", elev=15, elbow=25))
    b.move(t[1], t[2], {"root_yaw": yaw})
    b.walk(t[1], t[2], 0.0, steps=2)
    b.move(t[2], t[3], b.neutral("arm:both"))
    b.phase(t[0], t[1], "shifts the weight and starts to turn", "starting to turn", "the body", "start to turn",
            "to prepare the turn")
    b.phase(t[1], t[2], f"turns the whole body around toward the {direction}, stepping in place",
            "turning around", "the whole body", "rotate", "to face the opposite direction", key=True)
    b.phase(t[2], t[3], "stands still facing away from the starting direction", "standing still", "the body",
            "stop turning", "to stay facing the other way", kind="hold")
    b.summary = f"turns around toward the {direction}"


def lean_torso(b: ProgramBuilder, side: str):
    w = side_words(side)
    lean = (25.0 if side == "left" else -25.0) * b.amp
    t = b.timeline(2.5, 1.5, 2.5)
    b.move(t[0], t[1], {"torso_lean": lean})
    b.move(t[2], t[3], {"torso_lean": 0.0})
    b.phase(t[0], t[1], "leans the upper body to the {side}", "leaning to the {side}", "the torso",
            "tilt to the {side}", "to stretch the {other} side of the body", **w, key=True)
    b.phase(t[1], t[2], "holds the lean", "holding the lean", "the torso", "stay tilted", "to hold the stretch",
            kind="hold", **w)
    b.phase(t[2], t[3], "straightens up again", "straightening up", "the torso", "come back upright",
            "to return to an upright stance", **w)
    b.summary = "leans the upper body to the {side} and back".format(**w)


def twist_torso(b: ProgramBuilder, side: str):
    w = side_words(side)
    tw = (45.0 if side == "left" else -45.0) * b.amp
    t = b.timeline(2.5, 1.5, 2.5)
    b.move(t[0], t[1], {"torso_twist": tw, **_arm("both", plane=0, elev=35, elbow=95)})
    b.move(t[2], t[3], {"torso_twist": 0.0, **b.neutral("arm:both")})
    b.phase(t[0], t[1], "twists the upper body to the {side}", "twisting to the {side}", "the torso",
            "turn to the {side}", "to rotate the spine", **w, key=True)
    b.phase(t[0], t[1], "bends both elbows in front of the chest", "bending the elbows", "both arms",
            "bend", "to carry the arms with the chest", main=False, **w)
    b.phase(t[1], t[2], "holds the twist", "holding the twist", "the torso", "stay turned",
            "to stretch the waist", kind="hold", **w)
    b.phase(t[2], t[3], "turns the chest back to the front", "turning back to the front", "the torso",
            "turn back", "to face forward again", **w)
    b.summary = "twists the upper body to the {side} and back".format(**w)


_SEATED = {**_leg("both", plane=5, elev=85, knee=90), "torso_bend": 5.0, **_arm("both", plane=0, elev=30, elbow=40),
           "root_forward": -0.15}


def sit_down(b: ProgramBuilder, side: str = "none"):
    t = b.timeline(3.5, 2.0)
    b.move(t[0], t[1], {**_SEATED, "torso_bend": 22.0})
    b.move(t[1], t[2], {"torso_bend": 5.0})
    b.phase(t[0], t[1], "bends the knees and lowers the hips backward", "lowering the hips", "the hips",
            "go down and back", "to sit down on a chair", key=True)
    b.phase(t[0], t[1], "leans the upper body forward", "leaning forward", "the torso", "lean forward",
            "to keep balance while sitting down", main=False)
    b.phase(t[1], t[2], "settles on the seat with the back upright", "settling on the seat", "the torso",
            "straighten on the seat", "to rest in a seated position", kind="hold")
    b.summary = "sits down on a chair"


def stand_up(b: ProgramBuilder, side: str = "none"):
    t = b.timeline(1.5, 1.5, 2.5)
    b.start_pose(_SEATED)
    b.move(t[0], t[1], {"torso_bend": 35.0})
    b.move(t[1], t[2], {**b.neutral("leg:both", "arm:both"), "torso_bend": 10.0, "root_forward": 0.0})
    b.move(t[2], t[3], {"torso_bend": 0.0})
    b.phase(t[0], t[1], "leans the upper body forward while seated", "leaning forward", "the torso",
            "lean forward", "to shift the weight over the feet")
    b.phase(t[1], t[2], "pushes up with both legs and rises from the seat", "rising from the seat", "both legs",
            "straighten", "to lift the body off the seat", key=True)
    b.phase(t[2], t[3], "straightens the back and stands upright", "straightening the back", "the torso",
            "come upright", "to finish standing up")
    b.summary = "stands up from a seated position"


def nod_head(b: ProgramBuilder, side: str = "none"):
    n = b.reps(2, 3)
    t = b.timeline(1.0, 1.2 * n, 1.0)
    b.move(t[0], t[1], {"neck_nod": 5.0})
    b.oscillate(t[1], t[2], {"neck_nod": 5.0}, {"neck_nod": 28.0 * b.amp}, n)
    b.move(t[2], t[3], {"neck_nod": 0.0})
    b.phase(t[0], t[1], "looks straight ahead", "looking ahead", "the head", "stay level",
            "to face the other person", kind="hold")
    b.phase(t[1], t[2], "nods the head up and down " + count_word(n), "nodding", "the head", "move up and down",
            "to show agreement", kind="repeat", reps=n, key=True)
    b.phase(t[2], t[3], "holds the head still again", "holding the head still", "the head", "stop moving",
            "to end the gesture", kind="hold")
    b.summary = "nods the head " + count_word(n)


def shake_head(b: ProgramBuilder, side: str = "none"):
    n = b.reps(2, 3)
    t = b.timeline(1.0, 1.2 * n, 1.0)
    a = 32.0 * b.amp
    b.move(t[0], t[1], {"neck_turn": a})
    b.oscillate(t[1], t[2], {"neck_turn": a}, {"neck_turn": -a}, n)
    b.move(t[2], t[3], {"neck_turn": 0.0})
    b.phase(t[0], t[1], "turns the head to one side", "turning the head", "the head", "turn",
            "to begin the gesture", key=True)
    b.phase(t[1], t[2], "shakes the head from side to side " + count_word(n), "shaking the head", "the head",
            "turn from side to side", "to say no", kind="repeat", reps=n)
    b.phase(t[2], t[3], "faces forward again", "facing forward", "the head", "come back to the front",
            "to end the gesture")
    b.summary = "shakes the head from side to side " + count_word(n)


def turn_head(b: ProgramBuilder, side: str):
    w = side_words(side)
    a = (60.0 if side == "left" else -60.0) * b.amp
    t = b.timeline(2.0, 2.0, 2.0)
    b.move(t[0], t[1], {"neck_turn": a})
    b.move(t[2], t[3], {"neck_turn": 0.0})
    b.phase(t[0], t[1], "turns the head to the {side}", "turning the head to the {side}", "the head",
            "turn to the {side}", "to look at something on the {side}", **w, key=True)
    b.phase(t[1], t[2], "keeps looking to the {side}", "looking to the {side}", "the head", "stay turned",
            "to keep watching it", kind="hold", **w)
    b.phase(t[2], t[3], "turns the head back to the front", "turning the head back", "the head", "turn back",
            "to face forward again", **w)
    b.summary = "turns the head to the {side} and back".format(**w)


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


# -- the class list ---------------------------------------------------------------------------

@dataclass(frozen=True)
class ActionClass:
    """A named composition. ``fine`` is the fine-grained question: ``(question, options)``
    with the correct option first, or None for the generic "which <part>?" question."""

    name: str
    movement: str
    part: str
    side: str
    actors: int
    build: Callable[[ProgramBuilder], None]
    fine: tuple[str, tuple[str, ...]] | None = None
    question: str | None = None       # generic fine question, e.g. "Which arm is raised?"

    @property
    def atoms(self) -> tuple[str, str, str]:
        return (self.movement, self.part, self.side)


def _sided(template: str, movement: str, part: str, builder, sides, question: str, actors: int = 1):
    return [ActionClass(template.format(side=s), movement, part, s, actors, partial(builder, side=s),
                        question=question) for s in sides]


_LR = ("left", "right")
_LRB = ("left", "right", "both")


def _named(name, movement, part, side, builder, fine=None, question=None, actors=1):
    return ActionClass(name, movement, part, side, actors, partial(builder, side=side), fine=fine,
                       question=question)


def _build_classes() -> dict[str, ActionClass]:
    c: list[ActionClass] = []
    c += [ActionClass("raise both arms" if s == "both" else f"raise {s} arm", "raise", "arm", s, 1,
                      partial(raise_arm, side=s), question="Which arm is raised?") for s in _LRB]
    c += [ActionClass("wave both hands" if s == "both" else f"wave {s} hand", "wave", "hand", s, 1,
                      partial(wave_hand, side=s), question="Which hand waves?") for s in _LRB]
    c += _sided("punch with {side} arm", "punch", "arm", punch, _LR, "Which arm punches?")
    c += _sided("swing {side} arm", "swing", "arm", swing_arm, _LR, "Which arm swings?")
    c += _sided("lift {side} arm sideways", "lift sideways", "arm", lift_arm_sideways, _LR,
                "Which arm is lifted to the side?")
    c += _sided("touch head with {side} hand", "touch head", "hand", touch_head, _LR, "Which hand touches the head?")
    c += _sided("reach forward with {side} arm", "reach", "arm", reach_forward, _LR, "Which arm reaches forward?")
    c.append(_named("clap hands", "clap", "hand", "both", clap_hands, question="Which hands are used?"))
    c.append(_named("cross arms", "cross", "arm", "both", cross_arms, question="Which arms are folded?"))
    c += _sided("raise {side} leg", "raise", "leg", raise_leg, _LR, "Which leg is raised?")
    c += _sided("kick {side} leg", "kick", "leg", kick, _LR, "Which leg kicks?")
    c += _sided("swing {side} leg", "swing", "leg", swing_leg, _LR, "Which leg swings?")
    c += _sided("lift {side} leg sideways", "lift sideways", "leg", lift_leg_sideways, _LR,
                "Which leg is lifted to the side?")
    c += _sided("hop on {side} leg", "hop", "leg", hop, _LR, "Which leg does the person hop on?")
    ways = lambda s: ("to the " + s, "to the " + ("right" if s == "left" else "left"), "forward", "backward")  # noqa: E731
    c += [_named(f"lean torso {s}", "lean", "torso", s, lean_torso,
                 fine=("Which way does the torso lean?", ways(s))) for s in _LR]
    c += [_named(f"twist torso {s}", "twist", "torso", s, twist_torso,
                 fine=("Which way does the chest turn?", ways(s))) for s in _LR]
    c += [_named(f"turn head {s}", "turn", "head", s, turn_head,
                 fine=("Which way does the head turn?", ways(s)[:2] + ("up", "down"))) for s in _LR]
    c.append(_named("squat down", "squat", "leg", "both", squat, fine=(
        "What do the knees do?", ("they bend deeply and straighten again", "they stay straight the whole time",
                                  "only the left knee bends", "only the right knee bends"))))
    c.append(_named("jump up", "jump", "body", "none", jump, fine=(
        "Do the feet leave the floor?", ("yes, both feet leave the floor", "no, both feet stay on the floor",
                                         "only the left foot lifts", "only the right foot lifts"))))
    c.append(_named("bow", "bow", "torso", "none", bow, fine=(
        "Which way does the upper body move?", ("it bends forward", "it leans backward",
                                                "it leans to the left", "it twists to the right"))))
    c.append(_named("turn around", "turn around", "body", "none", turn_around, fine=(
        "Which way does the person face at the end?", ("away from the starting direction",
                                                       "the same direction as at the start",
                                                       "down at the floor", "up at the ceiling"))))
    c.append(_named("sit down", "sit down", "body", "none", sit_down, fine=(
        "How does the person end up?", ("seated", "standing", "lying on the floor", "kneeling on one knee"))))
    c.append(_named("stand up", "stand up", "body", "none", stand_up, fine=(
        "How does the person end up?", ("standing", "seated", "lying on the floor", "kneeling on one knee"))))
    c.append(_named("nod head", "nod", "head", "none", nod_head, fine=(
        "How does the head move?", ("up and down", "from side to side", "it stays still",
                                    "it tilts toward one shoulder"))))
    c.append(_named("shake head", "shake", "head", "none", shake_head, fine=(
        "How does the head move?", ("from side to side", "up and down", "it stays still",
                                    "it tilts toward one shoulder"))))
    c.append(_named("shake hands", "shake hands", "hand", "right", shake_hands, actors=2,
                    question="Which hands do they shake with?"))
    c.append(_named("push someone", "push", "arm", "both", push, actors=2, question="Which arms push?"))
    c.append(_named("hug someone", "hug", "arm", "both", hug, actors=2, question="Which arms wrap around?"))
    c.append(_named("pass an object", "pass", "hand", "right", pass_object, actors=2,
                    question="Which hand holds out the object?"))
    c += _depiction_classes()
    return {a.name: a for a in c}


def _first(correct: str, options: tuple[str, ...]) -> tuple[str, ...]:
    return (correct,) + tuple(o for o in options if o != correct)


def _depiction_classes() -> list[ActionClass]:
    """The classes of :data:`DEPICTION_CLASSES` (pairs told apart by depth, speed or depth order)."""
    c = []
    ways = ("forward, in front of the body", "backward, behind the body", "out to the side", "up above the head")
    for d, way in (("forward", ways[0]), ("backward", ways[1])):
        c += [_named(f"stretch {s} arm {d}", f"stretch {d}", "arm", s, partial(stretch_arm, direction=d),
                     fine=("Which way does the straight arm swing?", _first(way, ways))) for s in _LR]
    steps = ("forward", "backward", "to the left", "to the right")
    for d, word in (("forward", "forward"), ("back", "backward")):
        c += [_named(f"step {d} with {s} leg", f"step {d}", "leg", s, partial(step, direction=word),
                     fine=("Which way does the person step?", _first(word, steps))) for s in _LR]
    c += [_named(f"wave {s} hand slowly", "wave slowly", "hand", s, wave_hand_slowly,
                 fine=("How does the hand wave?", ("slowly, in long sweeps", "quickly, in short strokes",
                                                   "it does not move", "it draws circles"))) for s in _LR]
    for part, limb in (("arm", "arm"), ("hand", "wrist")):
        front = ("the left " + limb, "the right " + limb, f"neither, the {limb}s do not cross",
                 "both arms hang down")
        c += [_named(f"cross {s} {part} over {'right' if s == 'left' else 'left'}", "cross over", part, s,
                     partial(cross_over, part=part),
                     fine=(f"Which {limb} is in front where the {limb}s cross?", _first(f"the {s} {limb}", front)))
              for s in _LR]
    return c


#: Every action class, by name (60).
ACTION_CLASSES: dict[str, ActionClass] = _build_classes()

#: The 30-class core set the built-in splits use.
CORE_CLASSES: tuple[str, ...] = (
    "raise left arm", "raise right arm", "raise both arms", "wave left hand", "wave right hand", "wave both hands",
    "punch with left arm", "punch with right arm", "swing left arm", "swing right arm",
    "lift left arm sideways", "lift right arm sideways", "touch head with left hand", "touch head with right hand",
    "clap hands", "cross arms",
    "raise left leg", "raise right leg", "kick left leg", "kick right leg", "swing left leg", "swing right leg",
    "lift left leg sideways", "lift right leg sideways",
    "squat down", "jump up", "bow", "turn around", "shake hands", "push someone",
)


#: Classes whose pairs differ only in what a plain frontal drawing hides, by kind: the
#: direction of a motion along the camera axis (``depth``), its speed (``speed``, paired with
#: the quick :func:`wave_hand` classes), or which of two crossing limbs is nearer (``order``).
DEPICTION_CLASSES: dict[str, tuple[str, ...]] = {
    "depth": ("stretch left arm forward", "stretch right arm forward", "stretch left arm backward",
              "stretch right arm backward", "step forward with left leg", "step forward with right leg",
              "step back with left leg", "step back with right leg"),
    "speed": ("wave left hand slowly", "wave right hand slowly", "wave left hand", "wave right hand"),
    "order": ("cross left arm over right", "cross right arm over left", "cross left hand over right",
              "cross right hand over left"),
}


def depiction_kind(name: str) -> str | None:
    """``"depth"``, ``"speed"`` or ``"order"`` for a class of :data:`DEPICTION_CLASSES`, else None."""
    return next((k for k, names in DEPICTION_CLASSES.items() if name in names), None)


def get_action(name: str) -> ActionClass:
    try:
        return ACTION_CLASSES[name]
    except KeyError:
        raise KeyError(f"unknown synthetic action '{name}'; known: {sorted(ACTION_CLASSES)}") from None


def similarity(a: ActionClass, b: ActionClass) -> float:
    """How confusable two classes are by composition (shared movement, part, side, actors)."""
    return 3.0 * (a.movement == b.movement) + 2.0 * (a.part == b.part) + 1.5 * (a.side == b.side) \
        + 1.0 * (a.actors == b.actors) + 0.5 * ({a.part, b.part} <= {"arm", "hand"})


def similar_classes(name: str, pool, k: int = 5) -> list[str]:
    """The ``k`` classes of ``pool`` most confusable with ``name`` (ties broken by name)."""
    return list(_similar(name, tuple(pool), k))


@lru_cache(maxsize=4096)
def _similar(name: str, pool: tuple[str, ...], k: int) -> tuple[str, ...]:
    a = get_action(name)
    others = [n for n in pool if n != name]
    return tuple(sorted(others, key=lambda n: (-similarity(a, get_action(n)), n))[:k])


def build_program(action: str | ActionClass, rng: np.random.Generator, num_frames: int, fps: float,
                  shapes: list[BodyShape], placements: list[Placement], sway: list[dict | None]) -> MotionProgram:
    """Run a class builder: the motion program of one sample."""
    cls = get_action(action) if isinstance(action, str) else action
    if len(shapes) != cls.actors or len(placements) != cls.actors:
        raise ValueError(f"'{cls.name}' has {cls.actors} actor(s), got {len(shapes)} shapes")
    b = ProgramBuilder(rng, num_frames, fps, shapes, list(placements))
    cls.build(b)
    phases = sorted(b.phases, key=lambda p: (p.start, not p.main))
    return MotionProgram(action=cls.name, movement=cls.movement, part=cls.part, side=cls.side,
                         num_frames=num_frames, fps=fps, keys=b.keys, phases=phases, summary=b.summary,
                         placements=b.placements, sway=sway, params=b.params)
