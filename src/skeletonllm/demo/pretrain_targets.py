"""What the head start's targets say: a clip's attributes (movement, side, body part, moving limbs),
its description, and the prompts and answers of the language phase, all read off the seen
classes' motion programs.

What makes zero-shot recognition possible is that every word is grounded on its own: "left"
is learnt from left-arm raises, left-leg swings and left-hand touches alike, "kick" from
kicks, whatever the side. An unseen class ("kick left leg") is a new combination of grounded
words.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..mllm import prompts as P
from ..synth import get_action
from ..synth.program import LIMB_GROUPS

#: The four limbs whose motion the per-limb head predicts, as ``moving_groups`` names them.
LIMBS = LIMB_GROUPS
#: Side words (a class's side, or "neither" for whole-body and torso classes).
SIDES = ("left", "right", "both", "neither")
#: The short question of the first language phase.
DESCRIBE = "Describe the movement, the side and the body part."
#: Multiple-choice attribute questions of the second language phase: (question, attribute).
ATTRIBUTE_QUESTIONS = (("Which movement does the person make?", "movement"),
                       ("Which side of the body does the movement use?", "side"),
                       ("Which body part performs the movement?", "part"))
#: The answers of a :class:`MotionQuestion`: where a limb's end (hand or foot) goes between two
#: frames, in the body's own directions, or ``still``.
DIRECTIONS = ("up", "down", "forward", "back", "out", "in", "still")
#: The joints (NTU-25 indices) a :class:`MotionQuestion` reads: each limb's end, the hips that
#: give the body's left-right axis, and the ankles and feet that give its facing.
_LIMB_ENDS = {"left arm": 7, "right arm": 11, "left leg": 15, "right leg": 19}
_HIPS, _ANKLES, _FEET = (12, 16), (14, 18), (15, 19)


@dataclass(frozen=True)
class Attributes:
    """The composition of a clip's class, plus which limbs actually move."""

    movement: str
    side: str
    part: str
    limbs: tuple[bool, ...]


def attributes(sample) -> Attributes:
    """Attributes of a :class:`~skeletonllm.synth.SyntheticSample` (read off its motion program)."""
    a = get_action(sample.label)
    moving = sample.program.moving_groups(0)
    return Attributes(a.movement, a.side if a.side in SIDES else "neither", a.part,
                      tuple(limb in moving for limb in LIMBS))


def limb_direction(pose: np.ndarray, limb: str, first: int, last: int, still: float = 0.25) -> str:
    """Where ``limb``'s end goes from frame ``first`` to frame ``last`` of ``pose`` ``(F, J, 3)``
    (NTU-25 joints, y up, centred and scaled as :func:`~skeletonllm.demo.pretrain_frames.pose_targets`
    writes them): the largest of its vertical, forward and sideways displacements as one of
    :data:`DIRECTIONS` (``out``: away from the body's midline), or ``still`` when the
    displacement is shorter than ``still`` (in the pose's units: the clip's joint spread).

    Forward is where the feet point at frame ``first`` (ankle to foot), sideways the hips' axis,
    both flattened to the ground: the answer follows the body, not the camera."""
    start, move = pose[first], pose[last, _LIMB_ENDS[limb]] - pose[first, _LIMB_ENDS[limb]]
    if np.linalg.norm(move) < still:
        return "still"
    left = _ground(start[_HIPS[0]] - start[_HIPS[1]])
    ahead = _ground((start[list(_FEET)] - start[list(_ANKLES)]).mean(0))
    ahead = _ground(ahead - (ahead @ left) * left)
    outward = left if limb.startswith("left") else -left
    parts = {"up": move[1], "forward": float(move @ ahead), "out": float(move @ outward)}
    key = max(parts, key=lambda k: abs(parts[k]))
    return key if parts[key] > 0 else {"up": "down", "forward": "back", "out": "in"}[key]


def _ground(v: np.ndarray) -> np.ndarray:
    """``v`` with its vertical part removed, as a unit vector (zero if nothing is left)."""
    flat = np.array([v[0], 0.0, v[2]])
    norm = np.linalg.norm(flat)
    return flat / norm if norm > 1e-6 else flat


@dataclass(frozen=True)
class MotionQuestion:
    """A language-phase question whose answer is read off the drawn frames' joints, not off any
    label: where ``limb``'s end goes between two frames (:func:`limb_direction`), so that the
    language model compares one limb's tokens across frames, which a movement word needs and no
    other head-start question asks for. ``span="pair"``: two frames drawn among those that hold
    a body, named in the question ("from Frame2 to Frame5"); ``"farthest"``: from the first such
    frame to the one where the limb's end is farthest from where it started, no frame named
    ("Where does the left hand go?": the way the limb moves, found by looking at all frames)."""

    limb: str
    span: str = "pair"

    def question(self, first: int, last: int) -> str:
        end = self.limb.replace("arm", "hand").replace("leg", "foot")
        if self.span == "farthest":
            return f"Where does the {end} go?"
        return f"Where does the {end} go from Frame{first + 1} to Frame{last + 1}?"

    def prompt(self, first: int, last: int, options: Sequence[str] = DIRECTIONS) -> str:
        return P.qa_prompt(self.question(first, last), list(options))

    def frames(self, pose: np.ndarray, present: np.ndarray, rng: np.random.Generator) -> tuple[int, int] | None:
        """The two frames the question is about (None when fewer than two hold a body)."""
        frames = np.flatnonzero(present)
        if len(frames) < 2:
            return None
        if self.span == "pair":
            first, last = sorted(rng.choice(frames, size=2, replace=False).tolist())
            return first, last
        end = pose[frames, _LIMB_ENDS[self.limb]]
        return int(frames[0]), int(frames[np.argmax(np.linalg.norm(end - end[0], axis=-1))])

    def ask(self, pose: np.ndarray, present: np.ndarray, rng: np.random.Generator) -> tuple[str, str]:
        """``(prompt, target)`` for a drawn sampling: ``pose`` ``(F, J, 3)``, ``present`` ``(F,)``
        (frames that hold a body; the target says ``still`` when fewer than two do), the options
        in a random order."""
        span = self.frames(pose, present, rng)
        first, last = span or (0, len(present) - 1)
        answer = "still" if span is None or first == last else limb_direction(pose, self.limb, first, last)
        options = [DIRECTIONS[i] for i in rng.permutation(len(DIRECTIONS))]
        return self.prompt(first, last, options), P.mqa_target(answer)

    def __str__(self) -> str:
        """A prompt of the length every asking has (what :class:`~skeletonllm.demo.pretrain.LengthBatches` buckets)."""
        return self.prompt(0, 7)


def describe(label: str) -> str:
    """A class's attributes as a phrase, movement first: ``"kick right leg"``, ``"lift sideways
    left arm"``, ``"bow torso"`` (no side word when the class has none). It uses the words of the
    class names in the order most of them have, so the language model learns to say a
    movement, a side and a part one after the other, each from what it sees."""
    a = get_action(label)
    return " ".join(w for w in (a.movement, a.side if a.side in SIDES[:3] else "", a.part) if w)


def attribute_vocab(seen: Sequence[str]) -> dict[str, list[str]]:
    """The values each attribute takes over the seen classes (the heads' and questions' options)."""
    acts = [get_action(c) for c in seen]
    return {"movement": sorted({a.movement for a in acts}), "side": list(SIDES),
            "part": sorted({a.part for a in acts})}


def offer(truth: str, values: Sequence[str], n: int, rng: np.random.Generator) -> list[str]:
    """A multiple-choice question's options: ``truth`` and ``n - 1`` other ``values`` (``n = 0``: all
    of them), in a random order."""
    others = [v for v in rng.permutation(values).tolist() if v != truth]
    offered = [truth, *others[:n - 1 if n > 0 else None]]
    return [offered[i] for i in rng.permutation(len(offered))]


def word_phrase(key: str, value: str) -> str:
    """The YES/NO check's phrase for one side or body-part word: ``"the left side"``, ``"both
    sides"``, ``"the leg"`` (the movement's check names the movement itself)."""
    if key == "side":
        return "both sides" if value == "both" else f"the {value} side"
    return f"the {value}"


def language_items(samples, seen: Sequence[str], rng: np.random.Generator, mqa: int = 0,
                   options: Sequence[int] = (4,), mqa_options: int = 0, word_checks: bool = False,
                   others: Sequence[str] = (), motion_questions: int = 0, motion_span: str = "pair"):
    """``(short, long)`` lists of ``(sequence, prompt, target)`` for the language phase.

    ``short``: one :data:`DESCRIBE` question per clip. ``long`` (the project's prompt formats):
    per clip, the three attribute questions as multiple choice (``Label: <option>``), each asked
    once per entry of ``options``: over the truth and ``n - 1`` other values of the attribute
    (``n = 0``: all its values, as the demo's evaluation asks them), in a random order,
    YES/NO checks of its movement, of another movement and of each limb (``disc_prompt``), the
    description, and with ``mqa`` > 0 that many recognition questions over the seen classes
    (``mqa_prompt``, candidates shuffled; ``mqa_options`` > 0: over the clip's class and
    ``mqa_options - 1`` other seen classes), the task a pretrained MLLM can already do.
    ``word_checks``: also YES/NO checks of the clip's side and body part, each word on its own
    (:func:`word_phrase`; a clip without a side is checked on its part only), against one other
    value of the same attribute, as the movement is checked.
    ``others``: classes outside the split whose clips are among ``samples`` (their words join the
    attributes' values; no recognition question is asked of them, as none offers them).
    ``motion_questions``: that many :class:`MotionQuestion` per clip in ``long``, the limbs in
    turn (:func:`motion_items`).
    """
    vocab = attribute_vocab([*seen, *others])
    short, long = [], []
    for s in samples:
        seq, att = s.sequence("ntu25"), attributes(s)
        short.append((seq, DESCRIBE, describe(s.label)))
        long.append((seq, P.qa_prompt(DESCRIBE), P.mqa_target(describe(s.label))))
        for question, key in ATTRIBUTE_QUESTIONS:
            truth = getattr(att, key)
            for n in options:
                offered = offer(truth, vocab[key], n, rng)
                long.append((seq, P.qa_prompt(question, offered), P.mqa_target(truth)))
        other = [m for m in vocab["movement"] if m != att.movement]
        checks = [(att.movement, True), (other[int(rng.integers(len(other)))], False)]
        checks += [(f"move the {limb}", moving) for limb, moving in zip(LIMBS, att.limbs)]
        if word_checks:
            checks += _word_checks(att, vocab, rng)
        for phrase, yes in checks:
            long.append((seq, P.disc_prompt(phrase), P.YES if yes else P.NO))
        for _ in range(mqa if s.label in seen else 0):
            # all seen classes: one shuffle, as before the subsets existed (the same draws, the same runs)
            offered = offer(s.label, seen, mqa_options, rng) if mqa_options else \
                [seen[i] for i in rng.permutation(len(seen))]
            long.append((seq, P.mqa_prompt(offered), P.mqa_target(s.label)))
        long += motion_items(seq, motion_questions, motion_span)
    return short, long


def motion_items(seq, count: int, span: str = "pair") -> list:
    """``count`` :class:`MotionQuestion` items about clip ``seq``, the limbs in turn, their frames
    picked as ``span`` says (:data:`~skeletonllm.demo.pretrain_settings.MOTION_SPANS`). The prompt
    and target are made when the clip is drawn (:meth:`MotionQuestion.ask`), so an item holds the
    question in the prompt's place and None as its target."""
    return [(seq, MotionQuestion(LIMBS[k % len(LIMBS)], span), None) for k in range(count)]


def free_motion_items(samples, motion_questions: int = 0, motion_span: str = "pair"):
    """Language-phase items ``(sequence, prompt, target)`` for free-motion clips
    (:mod:`skeletonllm.synth.free_motion`: no class, so no description, attribute or recognition
    question): a YES/NO check of each limb's moving, as the class clips get, and ``motion_questions``
    :class:`MotionQuestion` (the limbs in turn, made when the clip is drawn)."""
    items = []
    for s in samples:
        seq, moving = s.sequence("ntu25"), s.program.moving_groups(0)
        items += [(seq, P.disc_prompt(f"move the {limb}"), P.YES if limb in moving else P.NO) for limb in LIMBS]
        items += motion_items(seq, motion_questions, motion_span)
    return items


def _word_checks(att: Attributes, vocab: dict[str, list[str]], rng: np.random.Generator) -> list[tuple[str, bool]]:
    """``(phrase, yes)`` checks of a clip's side and part words: the true value and one other."""
    checks = []
    for key in ("side", "part"):
        truth = getattr(att, key)
        if truth == "neither":
            continue
        others = [v for v in vocab[key] if v not in (truth, "neither")]
        checks += [(word_phrase(key, truth), True), (word_phrase(key, others[int(rng.integers(len(others)))]), False)]
    return checks


def tokenizer_corpus(samples, seen: Sequence[str], others: Sequence[str] = (),
                     motion_span: str | None = None) -> list[str]:
    """Texts the demo's tokenizer is trained on: every prompt and target the demo writes, the
    seen class names, and the clips' captions, rationales and QA (``samples``: seen classes, and
    ``others`` outside the split; no unseen class name); with ``motion_span`` every
    :class:`MotionQuestion` of that span over eight frames and its answers."""
    rng = np.random.default_rng(0)
    short, long = language_items(samples, seen, rng, others=others)
    texts = list(seen) + [t for _, p, a in short + long for t in (p, a)]
    for s in samples:
        texts += [*s.captions, s.rationale] + [x for q in s.qa for x in (q.question, *q.options, q.reference)]
    texts += [P.mqa_prompt(list(seen)), P.student_prompt(), P.caption_prompt()] + [P.disc_prompt(c) for c in seen]
    if motion_span is not None:
        asked = [MotionQuestion(limb, motion_span).prompt(a, b)
                 for limb in LIMBS for a in range(8) for b in range(a + 1, 8)]
        texts += list(dict.fromkeys(asked))
        texts += [P.mqa_target(d) for d in DIRECTIONS]
    return texts


__all__ = ["ATTRIBUTE_QUESTIONS", "Attributes", "DESCRIBE", "DIRECTIONS", "LIMBS", "MotionQuestion", "SIDES",
           "attribute_vocab", "attributes", "describe", "free_motion_items", "language_items", "limb_direction",
           "motion_items", "offer", "tokenizer_corpus", "word_phrase"]
