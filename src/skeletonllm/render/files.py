"""Render a skeleton file to a GIF / MP4 / PNG contact sheet (what ``skeletonllm render`` runs)."""
from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from ..errors import SkeletonFormatError
from ..skeleton.batch import collate_sequences
from ..skeleton.sampling import segment_indices
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


def _check_not_blank(path, seq: SkeletonSequence, num_frames: int) -> None:
    """Refuse a clip whose ``num_frames`` evenly sampled frames show no body: all would be blank."""
    idx = segment_indices(seq.num_frames, num_frames)
    if seq.present[idx].any():
        return
    have = [int(t) for t in seq.present.any(axis=1).nonzero()[0]]
    where = f"frame {have[0]}" if len(have) == 1 else f"{len(have)} frames between {have[0]} and {have[-1]}"
    raise SkeletonFormatError(path, f"every one of the {num_frames} frames sampled from its {seq.num_frames} is "
                              f"empty (a body is present only in {where}): the render would be blank; sample "
                              f"more frames (--frames {seq.num_frames}) or cut the clip to where the body is")


def render_file(path: str | os.PathLike, out: str | os.PathLike, renderer: str = "draction", num_frames: int = 12,
                image_size: int | None = None, checkpoint: str | os.PathLike | None = None,
                format: str | None = None, sample: int | None = None, auto_frame: bool | None = None,
                fps: float = 4.0, device: str = "cpu") -> Path:
    """Load ``path`` (any supported format), render it and write ``out`` (.gif/.mp4/.png).

    ``sample`` picks one sample of a multi-sample file (``skeletonllm.load_all``: PYSKL
    pickles, the labelled clips of a PKU-MMD recording); by default the whole file is one
    sequence (``skeletonllm.load``). A clip whose sampled frames hold no body at all (a body
    present only between them) is an error naming the file, not a blank picture.
    """
    from ..skeleton.io import load, load_all

    if sample is None:
        seq = load(path, format=format)
    else:
        seqs = load_all(path, format=format)
        if not 0 <= sample < len(seqs):
            raise IndexError(f"{path}: sample {sample} requested, the file holds {len(seqs)} (0..{len(seqs) - 1})")
        seq = seqs[sample]
    _check_not_blank(path, seq, num_frames)
    model = load_renderer(renderer, checkpoint, image_size, auto_frame, device)
    frames = render_sequence(model, seq, num_frames)
    return write_frames(frames, out, fps=fps)
