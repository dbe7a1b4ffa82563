"""Render a skeleton file to a GIF / MP4 / PNG contact sheet (what ``skeletonllm render`` runs)."""
from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from ..skeleton.batch import collate_sequences
from ..skeleton.sequence import SkeletonSequence
from .draction import DrAction, DrActionConfig
from .fixed import RENDERERS, build_renderer
from .video import write_frames

RENDERER_NAMES = ("draction",) + tuple(RENDERERS)


def load_renderer(name: str = "draction", checkpoint: str | os.PathLike | None = None,
                  image_size: int | None = None, auto_frame: bool | None = None, device: str = "cpu") -> nn.Module:
    """A renderer ready to draw.

    ``draction`` comes from ``checkpoint`` (a directory holding ``renderer.safetensors`` and
    ``renderer_config.json``, e.g. a SkeletonLLM checkpoint) or, without one, is the
    untrained default. ``image_size`` / ``auto_frame`` override the saved options when given.
    """
    overrides = {}
    if image_size is not None:
        overrides["image_size"] = int(image_size)
    if auto_frame is not None:
        overrides["auto_frame"] = bool(auto_frame)
    if name == "draction":
        if checkpoint is not None:
            model = DrAction.from_pretrained(checkpoint, **overrides)
        else:
            model = DrAction(DrActionConfig(**overrides))
    else:
        if checkpoint is not None:
            raise ValueError(f"--checkpoint only applies to the draction renderer, not '{name}'")
        model = build_renderer(name, **overrides)
    return model.to(device).eval()


@torch.no_grad()
def render_sequence(renderer: nn.Module, seq: SkeletonSequence, num_frames: int = 12) -> torch.Tensor:
    """``-> (F, 3, H, W)`` frames of one sequence, evenly sampled (evaluation sampling)."""
    device = next((p.device for p in renderer.parameters()), torch.device("cpu"))
    batch = collate_sequences([seq], num_frames=num_frames).to(device)
    return renderer(batch)[0].cpu()


def render_file(path: str | os.PathLike, out: str | os.PathLike, renderer: str = "draction", num_frames: int = 12,
                image_size: int | None = None, checkpoint: str | os.PathLike | None = None,
                format: str | None = None, sample: int | None = None, auto_frame: bool | None = None,
                fps: float = 4.0, device: str = "cpu") -> Path:
    """Load ``path`` (any supported format), render it and write ``out`` (.gif/.mp4/.png).

    ``sample`` picks one sample of a multi-sample file (``skeletonllm.load_all``: PYSKL
    pickles, the labelled clips of a PKU-MMD recording); by default the whole file is one
    sequence (``skeletonllm.load``).
    """
    from ..skeleton.io import load, load_all

    if sample is None:
        seq = load(path, format=format)
    else:
        seqs = load_all(path, format=format)
        if not 0 <= sample < len(seqs):
            raise IndexError(f"{path}: sample {sample} requested, the file holds {len(seqs)} (0..{len(seqs) - 1})")
        seq = seqs[sample]
    model = load_renderer(renderer, checkpoint, image_size, auto_frame, device)
    frames = render_sequence(model, seq, num_frames)
    return write_frames(frames, out, fps=fps)
