"""Free motion: clips of one person moving one or two limbs at random, belonging to no action class.

A pretrained vision-language model has watched people move in every way before it meets any
data set's classes; the demo's tiny one has only the seen classes' clips. Free-motion clips
stand in for that experience: each limb that moves goes to a random pose (its plane, elevation
and bend drawn over the whole range the class builders use) and back, or swings between two
random poses, with the timing, body shapes, placement, sway, tracking dropouts and sensor noise
of the class clips (:func:`~skeletonllm.synth.dataset.stage_actors`,
:func:`~skeletonllm.synth.dataset.sensing`). What such a clip can be asked about is read off
its joints and its keys (which limbs move, where a hand or foot goes), never a class; its
label is :data:`FREE_MOTION`, and it carries no caption, rationale or QA.

Free motion covers every limb, so some clips resemble a class's motion (a random leg lift
looks like "raise left leg"); the words a class name is made of (raise, kick, swing, ...) are
never attached to them.
"""
from __future__ import annotations

import zlib

import numpy as np

from .body import NEUTRAL_POSE
from .dataset import SynthConfig, SyntheticSample, sensing, stage_actors
from .program import LIMB_GROUPS, MotionProgram, ProgramBuilder, _arm, _leg

#: The label of a free-motion clip (not an action class).
FREE_MOTION = "free motion"


def _random_pose(limb: str, rng: np.random.Generator) -> dict[str, float]:
    """Keys of a random pose of ``limb`` (``"left arm"``...): plane of elevation, elevation and the
    elbow's or knee's bend, over the ranges the class builders use (an arm from hanging to
    overhead, forward to sideways; a leg behind, or ahead or aside up to hip height)."""
    side, kind = limb.split()
    if kind == "arm":
        return _arm(side, plane=rng.uniform(-40, 100), elev=rng.uniform(25, 170), elbow=rng.uniform(3, 120))
    elev = rng.uniform(-25, -12) if rng.random() < 0.25 else rng.uniform(15, 75)     # behind, or ahead / aside
    return _leg(side, plane=rng.uniform(-10, 95), elev=elev, knee=rng.uniform(3, 100))


def _neutral(targets: dict[str, float]) -> dict[str, float]:
    return {dof: NEUTRAL_POSE[dof] for dof in targets}


def free_motion_program(rng: np.random.Generator, num_frames: int, fps: float, shapes, placements,
                        sway) -> MotionProgram:
    """One or two random limbs (:data:`~skeletonllm.synth.program.LIMB_GROUPS`; never both legs), each
    going to a random pose, then either holding it and coming back or swinging between it and a
    second random pose one to three times."""
    b = ProgramBuilder(rng, num_frames, fps, shapes, list(placements))
    limbs = [LIMB_GROUPS[i] for i in rng.choice(len(LIMB_GROUPS), size=int(rng.integers(1, 3)), replace=False)]
    if len(limbs) == 2 and all(limb.endswith("leg") for limb in limbs):
        limbs[1] = LIMB_GROUPS[int(rng.integers(2))]         # one leg stands: the body keeps its feet
    t = b.timeline(1.0, float(rng.uniform(0.2, 1.5)), 1.0)
    for limb in limbs:
        pose = _random_pose(limb, rng)
        b.move(t[0], t[1], pose)
        if rng.random() < 0.5:
            b.move(t[2], t[3], _neutral(pose))
        else:
            b.oscillate(t[1], t[3], pose, _random_pose(limb, rng), int(rng.integers(1, 4)))
    b.params["limbs"] = limbs
    return MotionProgram(action=FREE_MOTION, movement="", part="", side="", num_frames=num_frames, fps=fps,
                         keys=b.keys, phases=[], summary="moves freely", placements=b.placements, sway=sway,
                         params=b.params)


def free_motion_sample(k: int, seed: int, config: SynthConfig | None = None, index: int = 0) -> SyntheticSample:
    """Free-motion clip ``k`` (deterministic in ``seed`` and ``k``, as class clips are in theirs)."""
    cfg = config or SynthConfig()
    motion_ss, noise_ss = np.random.SeedSequence([seed, zlib.crc32(FREE_MOTION.encode()), k]).spawn(2)
    rng = np.random.default_rng(motion_ss)
    T, shapes, placements, sway = stage_actors(rng, cfg, 1)
    program = free_motion_program(rng, T, cfg.fps, shapes, placements, sway)
    present, view, noise_std = sensing(rng, T, 1, cfg)
    return SyntheticSample(index=index, label=FREE_MOTION, label_id=-1, k=k, program=program, captions=[],
                           rationale="", qa=[], present=present, view=view, noise_std=noise_std,
                           noise_entropy=int(noise_ss.generate_state(1)[0]), shapes=shapes)


__all__ = ["FREE_MOTION", "free_motion_program", "free_motion_sample"]
