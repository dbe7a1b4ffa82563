"""The chat templates of the two backbone families, as their released checkpoints ship them.

The Jinja files sit beside the true-shape configs in ``skeletonllm/configs/backbones/``
(their sources are named in those configs). Both are ChatML: InternVL3-*-hf writes an image
as ``<IMG_CONTEXT>\\n`` and a video as ``<video>\\n`` (the processor then expands them into
``<img>`` + context tokens + ``</img>`` runs); Qwen2.5-VL writes
``<|vision_start|><|image_pad|><|vision_end|>`` (or ``<|video_pad|>``) and adds a default
system message when none is given. The tiny test backbones carry the same templates, so they
format prompts exactly like the released models.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

FILES = {"internvl": "internvl3_hf.jinja", "qwen2_5_vl": "qwen2_5_vl.jinja"}


def family_chat_template(kind: str) -> str:
    """The chat template of family ``kind`` (``"internvl"`` or ``"qwen2_5_vl"``)."""
    if kind not in FILES:
        raise ValueError(f"unknown backbone family '{kind}', expected one of {sorted(FILES)}")
    path = Path(str(resources.files("skeletonllm") / "configs" / "backbones" / FILES[kind]))
    return path.read_text(encoding="utf-8")


__all__ = ["FILES", "family_chat_template"]
