"""SUGAR's fixed instruction template, written once for training and recognition.

The language model reads::

    ### Instruction:
    <instruction naming the candidate actions>
    ### Action tokens:
    <L skeleton tokens from the bridge>
    ### Response:
    Label: <action>
    Description: <one sentence>

A plain instruction layout (no chat template) works with base models such as LLaMA-2-7B,
the paper's classifier. The answer starts with the class on a ``Label:`` line (read back by
the same strict parser as SkeletonLLM's, :func:`skeletonllm.mllm.prompts.raw_label`), then
the class's description (the paper: "y contains the ground-truth category and action
description").
"""
from __future__ import annotations

from typing import Sequence

from ..mllm.prompts import LABEL_PREFIX

INSTRUCTION_HEAD = "### Instruction:\n"
TOKENS_HEAD = "\n### Action tokens:\n"
RESPONSE_HEAD = "\n### Response:\n"
DESCRIPTION_PREFIX = "Description:"


def instruction(candidates: Sequence[str]) -> str:
    """The question: which of ``candidates`` do the action tokens show."""
    if not candidates:
        raise ValueError("a SUGAR instruction needs at least one candidate action")
    listing = "\n".join(f"- {c}" for c in candidates)
    return ("The action tokens below encode a human skeleton sequence. Which action does the person perform? "
            f"Choose exactly one of these candidate actions:\n{listing}\n"
            f"Answer with a line '{LABEL_PREFIX} <action>', copying the action exactly as it appears in the list, "
            "then describe the action in one sentence.")


def prefix_text(instruction_text: str) -> str:
    """Everything before the skeleton tokens."""
    return f"{INSTRUCTION_HEAD}{instruction_text}{TOKENS_HEAD}"


def target(label: str, description: str | None = None) -> str:
    """The answer trained on: the class, then (when given) its description."""
    out = f"{LABEL_PREFIX} {label}"
    return f"{out}\n{DESCRIPTION_PREFIX} {description}" if description else out


def label_line(label: str, describe: bool) -> str:
    """The part of the answer that names the class, as it is scored in likelihood ranking: the
    ``Label:`` line with its newline when a description follows (so ``pick up`` is not a
    prefix of ``pick up with one hand``), else the whole answer (the end token is added)."""
    return f"{LABEL_PREFIX} {label}\n" if describe else f"{LABEL_PREFIX} {label}"


__all__ = ["DESCRIPTION_PREFIX", "INSTRUCTION_HEAD", "RESPONSE_HEAD", "TOKENS_HEAD", "instruction", "label_line",
           "prefix_text", "target"]
