"""Every text SkeletonLLM sends to or expects from the language model, written once.

Training and evaluation both import from here, so a prompt can never drift between the
two. The texts follow the task descriptions of the paper's Appendix E.3 (its Figure 12)
in our own words. Prompts hold only the question: the model places the rendered frames
in front of it (see :mod:`skeletonllm.mllm.backbones`), and the chat template wraps both.

Answer format: every recognition-style answer ends with a line ``Label: <action>``.
:func:`parse_label` reads it back.
"""
from __future__ import annotations

import difflib
import re
from typing import Sequence

#: Targets of Disc-FT (stage 2): the answer is exactly one of these words.
YES, NO = "YES", "NO"

LABEL_PREFIX = "Label:"

#: Generation budget of a recognition answer. CR-Distill (stage 3) teaches the model to write the
#: teacher's rationale (a summary, then a numbered body-part chain) before its ``Label:`` line;
#: 64 tokens, the budget once used, cut such an answer off before the label. Short answers stop at
#: the end-of-turn token, so the room costs nothing when it is not used.
RECOGNITION_MAX_NEW_TOKENS = 512

_FRAMES_ARE = (
    "The frames above are pseudo-images rendered from a human skeleton sequence, in time order. "
    "They are not photographs: coloured blobs mark the joints and the bones between them, colour "
    "also encodes depth (near to far) and motion cues, and the background is empty."
)


def _candidate_lines(candidates: Sequence[str]) -> str:
    if not candidates:
        raise ValueError("a multiple-choice prompt needs at least one candidate")
    return "\n".join(f"- {c}" for c in candidates)


def mqa_prompt(candidates: Sequence[str]) -> str:
    """Recognition as multiple choice (stages 1 and 4, evaluation).

    Lists the candidate actions (seen classes in training, the evaluation split's classes
    at test time) and asks for a final ``Label: <action>`` line.
    """
    return (
        f"{_FRAMES_ARE}\n"
        "Which action does the person perform? Choose exactly one of these candidate actions:\n"
        f"{_candidate_lines(candidates)}\n"
        f"Finish your answer with a line of the form '{LABEL_PREFIX} <action>', "
        "copying the action exactly as it appears in the list."
    )


def mqa_target(label: str) -> str:
    """The MQA answer whose tokens carry the loss: ``"Label: <label>"``."""
    return f"{LABEL_PREFIX} {label}"


def disc_prompt(action: str) -> str:
    """Disc-FT (stage 2): a yes/no question about one named action; target :data:`YES` or :data:`NO`."""
    return (
        f"{_FRAMES_ARE}\n"
        f"Does this sequence show the action '{action}'? Answer with one word, {YES} or {NO}."
    )


def student_prompt() -> str:
    """CR-Distill student (stage 3): no label given; asks for a body-part rationale and a label line."""
    return (
        f"{_FRAMES_ARE}\n"
        "Watch how each body part moves from frame to frame: head, torso, arms, hands, legs and feet. "
        "Describe the movement step by step, explain what the person is doing and why the motion fits it, "
        f"and finish with a line of the form '{LABEL_PREFIX} <action>'."
    )


def teacher_prompt(label: str) -> str:
    """CR-Distill teacher (label-conditioned): the request sent to the teacher MLLM.

    The answer it asks for is the student's target: (1) a short summary, (2) a numbered
    causal chain over body parts and time, (3) the final ``Label: <label>`` line.
    """
    return (
        "The frames are pseudo-images rendered from 3D human skeleton data, in time order: coloured "
        "blobs mark joints and bones, colour encodes depth (near to far) and motion cues. "
        f"The person in this clip performs the action '{label}'.\n"
        "Explain how this action unfolds in the frames:\n"
        "1. Summarise the action in one sentence.\n"
        "2. Give a numbered, step-by-step causal chain: which body parts (head, torso, arms, hands, "
        "legs, feet) move, in which order and direction, and how each step leads to the next and to "
        "the goal of the action.\n"
        f"3. End with exactly this final line: {LABEL_PREFIX} {label}"
    )


def caption_prompt() -> str:
    """Motion captioning (HumanML3D): a free-text description of the motion."""
    return (
        f"{_FRAMES_ARE}\n"
        "Describe in one or two sentences what the person does, including how the body parts move."
    )


def qa_prompt(question: str, options: Sequence[str] | None = None) -> str:
    """Motion QA: an open question, or a multiple-choice one when ``options`` are given.

    With options the answer ends with ``Label: <option text>`` (scored with :func:`parse_label`
    against the options); without, the whole answer is free text.
    """
    question = question.strip()
    if options is None:
        return f"{_FRAMES_ARE}\n{question}\nAnswer in a few sentences."
    return (
        f"{_FRAMES_ARE}\n{question}\n"
        "Select the best match from these options:\n"
        f"{_candidate_lines(options)}\n"
        f"Describe your reasoning, then finish with a line of the form '{LABEL_PREFIX} <option>', "
        "copying the option exactly as it appears in the list."
    )


# -- reading answers back ------------------------------------------------------------------

_LABEL_LINE = re.compile(r"label\s*:[ \t]*([^\n\r]*)", re.IGNORECASE)
_EDGE_PUNCT = " \t\"'`*.,;:!?()[]<>"


def normalize_label(text: str) -> str:
    """The paper's text normalisation: lower-case, strip surrounding whitespace."""
    return text.strip().lower()


def raw_label(text: str) -> str | None:
    """What follows the last ``Label:`` in ``text`` (to the end of that line), normalised.

    This is the strict paper-protocol parse (regex + lower-case/strip): compare it with
    ``normalize_label(ground_truth)`` for exact-match scoring. ``None`` when no label line.
    """
    hits = _LABEL_LINE.findall(text)
    if not hits:
        return None
    return normalize_label(hits[-1])


def _loose(text: str) -> str:
    """Punctuation- and spacing-insensitive form: ``"Sneeze/Cough."`` -> ``"sneeze cough"``."""
    return " ".join(re.sub(r"[^0-9a-z]+", " ", text.lower()).split())


def parse_label(text: str, candidates: Sequence[str] | None = None, fuzzy: bool = True) -> str | None:
    """The action named on the last ``Label:`` line of a generated answer.

    Without ``candidates``: :func:`raw_label` (normalised string or ``None``).
    With ``candidates`` the result is one of them (the original spelling) or ``None``:

    1. exact match after lower-case/strip (the paper's protocol);
    2. with ``fuzzy``: the parse with surrounding quotes, brackets and final punctuation
       removed, then a punctuation/whitespace-insensitive comparison (``"sneeze cough"``
       matches ``"sneeze/cough"``);
    3. with ``fuzzy``: the single candidate whose similarity ratio (difflib) to the parse is
       at least 0.9 and at least 0.05 above every other candidate's (typos, a dropped
       article). Anything less certain returns ``None`` rather than a guess.

    For strict paper-protocol scoring use ``fuzzy=False`` (or :func:`raw_label`).
    """
    raw = raw_label(text)
    if raw is None or candidates is None:
        return raw
    by_norm = {normalize_label(c): c for c in candidates}
    if raw in by_norm:
        return by_norm[raw]
    if not fuzzy:
        return None
    trimmed = raw.strip(_EDGE_PUNCT)
    if trimmed in by_norm:
        return by_norm[trimmed]
    by_loose: dict[str, list[str]] = {}
    for c in candidates:
        by_loose.setdefault(_loose(c), []).append(c)
    loose = _loose(trimmed)
    if len(by_loose.get(loose, [])) == 1:
        return by_loose[loose][0]
    if not loose:
        return None
    scores = sorted(((difflib.SequenceMatcher(None, loose, key).ratio(), key) for key in by_loose), reverse=True)
    best, key = scores[0]
    runner_up = scores[1][0] if len(scores) > 1 else 0.0
    if best >= 0.9 and best - runner_up >= 0.05 and len(by_loose[key]) == 1:
        return by_loose[key][0]
    return None


__all__ = ["LABEL_PREFIX", "NO", "RECOGNITION_MAX_NEW_TOKENS", "YES", "caption_prompt", "disc_prompt", "mqa_prompt", "mqa_target",
           "normalize_label", "parse_label", "qa_prompt", "raw_label", "student_prompt", "teacher_prompt"]
