"""Captions, rationales and QA read off a motion program.

Everything here is derived from :class:`~skeletonllm.synth.program.Phase` s, so the words
always match the motion: which part moved, which side, in what order, how fast, how many
times and why. Randomness (template choice, option order) comes from the generator passed
in, so a sample's text is fixed by its seed.

``pool`` is the list of class names a text may mention besides the sample's own (the
contrastive question's options, the rationale's ruled-out class, distractor steps). For a
training sample of a zero-shot split it must hold seen classes only: unseen classes never
appear in a training prompt.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Sequence

import numpy as np

from .actions import ActionClass, build_program, get_action, similar_classes
from .body import BodyShape, Placement
from .program import BOTH_PEOPLE, LIMB_GROUPS, PERSON, MotionProgram, Phase

QA_TYPES = ("temporal", "causal", "fine-grained", "contrastive")

_SUBJECTS = ("a person", "someone", "a man", "a woman", "the person", "an individual")
_PAIR_SUBJECTS = ("two people", "a pair of people", "two persons")
# Used only when the pool is too small to give four distinct options.
_FILLER_CLAUSES = ("the person stands completely still", "the person walks out of view",
                   "the person sits down on the floor", "the person lies down")
_FILLER_PURPOSES = ("to tie a shoelace", "to check the time", "to sneeze", "to stretch after sleeping")
_FILLER_CLASSES = ("standing still", "walking in place", "lying down", "sitting on the floor")


@dataclass
class QAItem:
    """A multiple-choice question with a short reference answer.

    Attributes:
        type: one of :data:`QA_TYPES`.
        question: the question text.
        options: four distinct options.
        answer: index of the correct option.
        reference: a short free-text answer (for ROUGE-L / BertScore of open answers).
        meta: what the question was built from (phase indices, classes), for checks.
    """

    type: str
    question: str
    options: list[str]
    answer: int
    reference: str
    meta: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "QAItem":
        return cls(**d)


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def _speed(p: Phase, prog: MotionProgram) -> str:
    """An adverb for how fast a step is, from its duration in seconds."""
    sec = (p.end - p.start) * (prog.num_frames - 1) / prog.fps
    if p.kind == "hold" or "quickly" in p.act or "slowly" in p.act:
        return ""
    per = sec / max(p.reps, 1)
    if per < 0.3:
        return "quickly"
    if per > 1.2:
        return "slowly"
    return ""


@lru_cache(maxsize=None)
def canonical_program(name: str) -> MotionProgram:
    """A fixed, noise-free program of a class (distractors, class descriptions)."""
    cls = get_action(name)
    rng = np.random.default_rng(20240607)
    return build_program(cls, rng, 60, 30.0, [BodyShape.average()] * cls.actors,
                         [Placement() for _ in range(cls.actors)], [None] * cls.actors)


def key_phase(prog: MotionProgram) -> Phase:
    for p in prog.phases:
        if p.key:
            return p
    return prog.main_phases[0]


def describe_class(name: str) -> str:
    """A label-free description of what a class looks like (for prompts and zero-shot text)."""
    prog = canonical_program(name)
    steps = "; then ".join(p.clause for p in prog.main_phases)
    return f"{_summary_sentence(prog, 'a person')}. Step by step: {steps}."


def _summary_sentence(prog: MotionProgram, subject: str) -> str:
    if prog.num_actors == 1:
        return f"{subject} {prog.summary}"
    return prog.summary


def _group_phrase(groups: Sequence[str]) -> list[str]:
    """``["left arm", "right arm", "torso"]`` -> ``["both arms", "the torso"]``."""
    g = set(groups)
    out = []
    for limb in ("arm", "leg"):
        if {f"left {limb}", f"right {limb}"} <= g:
            out.append(f"both {limb}s")
        elif f"left {limb}" in g:
            out.append(f"the left {limb}")
        elif f"right {limb}" in g:
            out.append(f"the right {limb}")
    for single in ("torso", "head"):
        if single in g:
            out.append(f"the {single}")
    if "whole body" in g:
        out.append("the whole body")
    return out


def _join(items: Sequence[str]) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


# -- captions ---------------------------------------------------------------------------------

def captions(prog: MotionProgram, rng: np.random.Generator) -> list[str]:
    """Two or three different captions of the sample."""
    pair = prog.num_actors == 2
    subj = lambda: str(rng.choice(_PAIR_SUBJECTS if pair else _SUBJECTS))  # noqa: E731
    out = [_cap(_summary_sentence(prog, subj())) + "."]
    # The steps in order; the subject is repeated only when it changes.
    parts, last_who = [], None
    for i, p in enumerate(prog.main_phases):
        if p.kind == "hold" and i not in (0, len(prog.main_phases) - 1) and rng.random() < 0.5:
            continue
        who = p.who
        if who == last_who:
            text = p.act
        elif i == 0 and who in (PERSON, BOTH_PEOPLE):
            text = f"{subj()} {p.act}"
        else:
            text = p.clause
        last_who = who
        parts.append(text)
    link = str(rng.choice([", then ", " and then ", ", after that "]))
    out.append(_cap(link.join(parts[:-1]) + (", and finally " if len(parts) > 2 else link) + parts[-1]) + ".")
    if rng.random() < 0.6:
        k = key_phase(prog)
        adverb = _speed(k, prog)
        who = k.who if pair else subj()
        out.append(_cap(f"{who} {adverb + ' ' if adverb else ''}{k.act}") + ".")
    return out


# -- rationale -------------------------------------------------------------------------------

def rationale(prog: MotionProgram, rng: np.random.Generator, pool: Sequence[str] = ()) -> str:
    """A step-by-step body-part rationale, ending in the line ``Label: <action>``."""
    lines = []
    if prog.num_actors == 2:
        lines.append(f"Summary: {prog.summary} (two people facing each other).")
    else:
        moving = _join(_group_phrase(sorted(prog.moving_groups())))
        k = key_phase(prog)
        lines.append(f"Summary: one person {prog.summary}, mainly using {k.subject}"
                     + (f" (moving {moving})." if moving and moving != k.subject else "."))
    main = prog.main_phases
    extra = [p for p in prog.phases if not p.main]
    words = ["First", "Then", "Next", "After that", "Then"]
    for i, p in enumerate(main):
        lead = "Finally" if i == len(main) - 1 and i > 0 else words[min(i, len(words) - 1)]
        adverb = _speed(p, prog)
        s = f"Step {i + 1}: {lead}, {p.who} {adverb + ' ' if adverb else ''}{p.act}"
        if p.purpose:
            s += f", {p.purpose}" if p.purpose.startswith("to ") else f" {p.purpose}"
        s += "."
        for e in extra:
            if p.start <= e.start < p.end or (i == 0 and e.start < p.start):
                s += f" At the same time, {e.who} {e.act}" + (f", {e.purpose}" if e.purpose and
                                                               e.purpose.startswith("to ") else "") + "."
        lines.append(s)
    if prog.num_actors == 1:
        still = [g for g in (*LIMB_GROUPS, "torso", "head")
                 if g not in prog.moving_groups()]
        if still:
            lines.append(f"Meanwhile {_join(_group_phrase(still))} stay{'s' if len(still) == 1 else ''} "
                         "mostly still.")
    others = [n for n in pool if n != prog.action]
    if others:
        top = similar_classes(prog.action, others, k=2)
        rival = top[int(rng.integers(len(top)))]
        rk = key_phase(canonical_program(rival))
        lines.append(f"This is not '{rival}', which would show {rk.gerund}.")
    lines.append(f"Label: {prog.action}")
    return "\n".join(lines)


# -- QA ---------------------------------------------------------------------------------------

def _options(rng: np.random.Generator, correct: str, candidates: Sequence[str], fillers: Sequence[str]):
    """Four distinct options holding ``correct``; returns (options, answer index)."""
    seen = {correct.lower()}
    pick = []
    for c in list(candidates) + list(fillers):
        if c.lower() not in seen:
            seen.add(c.lower())
            pick.append(c)
        if len(pick) == 3:
            break
    opts = [correct] + pick
    order = rng.permutation(4)
    opts = [opts[i] for i in order]
    return opts, int(np.flatnonzero(order == 0)[0])


def _pool_phases(prog: MotionProgram, pool: Sequence[str], rng: np.random.Generator) -> list[Phase]:
    """Steps of other pool classes: those of the most similar classes (with as many actors)
    first, each group shuffled, so distractors are plausible rather than trivially wrong."""
    others = [n for n in pool if n != prog.action]
    same = [n for n in others if get_action(n).actors == prog.num_actors]
    near = similar_classes(prog.action, same, k=6)
    rest = [n for n in others if n not in near]
    out = []
    for group in (near, rest):
        phases = [p for n in group for p in canonical_program(n).phases]
        rng.shuffle(phases)
        out.extend(phases)
    return out


def temporal_question(prog: MotionProgram, rng: np.random.Generator, pool: Sequence[str]) -> QAItem:
    main = prog.main_phases
    variant = rng.integers(3)
    if variant == 0 and len(main) >= 2:
        i = int(rng.integers(len(main) - 1))
        ask = (f"What does the person do after {main[i].gerund}?" if prog.num_actors == 1
               else f"What happens after {main[i].gerund}?")
        j = i + 1
        ref = f"After {main[i].gerund}, {main[j].clause}."
    elif variant == 1:
        ask, j = "What is the first step of this action?", 0
        ref = f"First, {main[0].clause}."
    else:
        ask, j = "What is the last step of this action?", len(main) - 1
        ref = f"Finally, {main[j].clause}."
    own_wrong = [p.clause for k, p in enumerate(main) if k != j]
    rng.shuffle(own_wrong)
    others = [p.clause for p in _pool_phases(prog, pool, rng) if p.main]
    # A wrong step of this very motion first (order matters), then steps of similar classes.
    cands = own_wrong[:1] + others + own_wrong[1:]
    opts, ans = _options(rng, main[j].clause, cands, _FILLER_CLAUSES)
    return QAItem("temporal", ask, opts, ans, _cap(ref), {"phase": prog.phases.index(main[j])})


def causal_question(prog: MotionProgram, rng: np.random.Generator, pool: Sequence[str]) -> QAItem:
    cands = [p for p in prog.phases if p.purpose and p.kind != "hold"]
    p = cands[int(rng.integers(len(cands)))]
    ask = f"Why {'do' if p.plural else 'does'} {p.subject} {p.base}?"
    own = [q.purpose for q in prog.phases if q.purpose and q.purpose != p.purpose]
    rng.shuffle(own)
    others = [q.purpose for q in _pool_phases(prog, pool, rng) if q.purpose]
    opts, ans = _options(rng, p.purpose, own[:1] + others, _FILLER_PURPOSES)
    opts = [_cap(o) for o in opts]
    ref = f"{_cap(p.purpose)}: {p.clause}."
    return QAItem("causal", ask, opts, ans, ref, {"phase": prog.phases.index(p)})


def fine_question(prog: MotionProgram, rng: np.random.Generator) -> QAItem:
    cls: ActionClass = get_action(prog.action)
    if cls.fine is not None:
        ask, choices = cls.fine
        correct = choices[0]
        opts, ans = _options(rng, correct, choices[1:], ())
    else:
        noun = cls.part
        plural = {"arm": "arms", "hand": "hands", "leg": "legs"}[noun]
        choices = {"left": f"the left {noun}", "right": f"the right {noun}", "both": f"both {plural}"}
        correct = choices[cls.side]
        ask = cls.question
        opts, ans = _options(rng, correct, [v for k, v in choices.items() if k != cls.side] + [f"neither {noun}"], ())
    return QAItem("fine-grained", ask, opts, ans, _cap(correct) + ".", {"side": cls.side, "part": cls.part})


def contrastive_question(prog: MotionProgram, rng: np.random.Generator, pool: Sequence[str]) -> QAItem:
    others = [n for n in pool if n != prog.action]
    near = similar_classes(prog.action, others, k=5)
    if near:
        rival = near[int(rng.integers(min(2, len(near))))]
        rest = [n for n in near if n != rival]
        rng.shuffle(rest)
        a, b = (prog.action, rival) if rng.random() < 0.5 else (rival, prog.action)
        ask = f"Is this '{a}' or '{b}'?"
        opts, ans = _options(rng, prog.action, [rival] + rest, _FILLER_CLASSES)
        rk = key_phase(canonical_program(rival))
        ref = f"It is '{prog.action}': {key_phase(prog).clause}, whereas '{rival}' would show {rk.gerund}."
    else:
        rival = None
        ask = f"Is this '{prog.action}' or something else?"
        opts, ans = _options(rng, prog.action, [], _FILLER_CLASSES)
        ref = f"It is '{prog.action}': {key_phase(prog).clause}."
    return QAItem("contrastive", ask, opts, ans, ref, {"rival": rival})


def qa_items(prog: MotionProgram, rng: np.random.Generator, pool: Sequence[str] = ()) -> list[QAItem]:
    """One question of each type, in :data:`QA_TYPES` order."""
    return [temporal_question(prog, rng, pool), causal_question(prog, rng, pool), fine_question(prog, rng),
            contrastive_question(prog, rng, pool)]
