"""Action classes as compositional motion programs: the class list.

A class is (movement x body part x side), e.g. ``kick`` x ``leg`` x ``left`` ->
"kick left leg". Its builder writes a :class:`MotionProgram`: joint-angle keyframes for
each actor (eased in between, see :func:`evaluate_keys`) plus a list of :class:`Phase` s
that say in words what moved, when, how and why. Captions, rationales and QA
(``text.py``) are read off the phases, so the text always matches the motion.

Because builders are written per movement and take the side as an argument, a class
never seen in training ("kick left leg") is a new combination of pieces that training
did show ("kick right leg", "raise left leg"): that is what makes zero-shot transfer
possible, and what :func:`skeletonllm.synth.dataset.check_compositional` verifies.

Where things live: the program machinery (:class:`Phase`, :class:`MotionProgram`,
:class:`ProgramBuilder`, :func:`evaluate_keys`, the phrase helpers) in
:mod:`skeletonllm.synth.program`; the class builders, one module per movement family, in
:mod:`skeletonllm.synth.movements`; here the class list (:data:`ACTION_CLASSES`,
:data:`CORE_CLASSES`, :data:`DEPICTION_CLASSES`), look-up, similarity and
:func:`build_program`. Every name this module had before the split is still importable
from it.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Callable

import numpy as np

from .body import BodyShape, Placement
from .movements.arms import (clap_hands, cross_arms, lift_arm_sideways, punch, raise_arm, reach_forward,
                             swing_arm, touch_head, wave_hand)
from .movements.depiction import (DEPICTION_FACING, arm_angles, cross_over, crossing_path, step, stretch_arm,
                                  wave_hand_slowly)
from .movements.interactions import hug, pass_object, push, shake_hands
from .movements.legs import hop, kick, lift_leg_sideways, raise_leg, swing_leg
from .movements.whole_body import (bow, jump, lean_torso, nod_head, shake_head, sit_down, squat, stand_up,
                                   turn_around, turn_head, twist_torso)
from .program import (BOTH_PEOPLE, FIRST, PERSON, SECOND, MotionProgram, Phase, ProgramBuilder, count_word,
                      evaluate_keys, side_words, sides_of)


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


__all__ = [
    # the class list (this module)
    "ACTION_CLASSES", "ActionClass", "CORE_CLASSES", "DEPICTION_CLASSES", "build_program", "depiction_kind",
    "get_action", "similar_classes", "similarity",
    # the program machinery (skeletonllm.synth.program)
    "BOTH_PEOPLE", "FIRST", "MotionProgram", "PERSON", "Phase", "ProgramBuilder", "SECOND", "count_word",
    "evaluate_keys", "side_words", "sides_of",
    # the class builders (skeletonllm.synth.movements)
    "clap_hands", "cross_arms", "lift_arm_sideways", "punch", "raise_arm", "reach_forward", "swing_arm",
    "touch_head", "wave_hand",
    "hop", "kick", "lift_leg_sideways", "raise_leg", "swing_leg",
    "bow", "jump", "lean_torso", "nod_head", "shake_head", "sit_down", "squat", "stand_up", "turn_around",
    "turn_head", "twist_torso",
    "DEPICTION_FACING", "arm_angles", "cross_over", "crossing_path", "step", "stretch_arm", "wave_hand_slowly",
    "hug", "pass_object", "push", "shake_hands",
]
