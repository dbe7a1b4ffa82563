"""The motion-program machinery every action class is written in.

A class builder (:mod:`skeletonllm.synth.movements`) writes into a :class:`ProgramBuilder`:
joint-angle keyframes for each actor (eased in between, see :func:`evaluate_keys`) plus a list
of :class:`Phase` s that say in words what moved, when, how and why; the result is a
:class:`MotionProgram`. Here too: the phrase helpers the builders fill their templates with
(:func:`side_words`, :func:`count_word`) and the limb-pose shorthands (``_arm``, ``_leg``).
The class list itself is :mod:`skeletonllm.synth.actions`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from .body import (DOFS, NEUTRAL_POSE, SIDES, BodyShape, Placement, RIG_INDEX, forward_kinematics,
                   local_rotations, rot_y)

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


#: The four limbs, as :meth:`MotionProgram.moving_groups` names them.
LIMB_GROUPS = ("left arm", "right arm", "left leg", "right leg")


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


# -- limb poses for the class builders (the side is an argument) -------------------------------

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
