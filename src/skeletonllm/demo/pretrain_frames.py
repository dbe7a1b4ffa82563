"""The head start's frames: frozen renderers taking turns clip by clip (:class:`StyleMix`), every
training clip drawn once per renderer and sampling (:class:`FrameBank`), and the pose targets of
the same samplings; :func:`renderer_options`, the options of every renderer the demo uses.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn

from ..skeleton import collate_sequences
from .pretrain_settings import PretrainSettings


def renderer_options(settings: PretrainSettings, renderer: str | None = None) -> dict:
    """Options of a renderer the demo uses: its image size, each clip centred and fitted into
    ``frame_fill`` of the view (so that the small frames show the body large), and for a fixed
    renderer its ``fixed_options``."""
    return {"image_size": settings.image_size, "auto_frame": True, "frame_fill": settings.frame_fill,
            **settings.fixed_options.get(renderer, {})}


def initial_draction(settings: PretrainSettings, seed: int, **overrides):
    """DrAction as every DrAction arm starts from it: its parameters drawn under ``seed``
    (without touching the global random state)."""
    from ..render.fixed import build_renderer
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return build_renderer("draction", **{**renderer_options(settings, "draction"), **overrides})


class StyleMix(nn.Module):
    """Frozen renderers taking turns clip by clip: the ``i``-th clip drawn since the mix was
    built goes to renderer ``i % len(renderers)``, so every renderer draws the same number of
    clips (within one) whatever the batch size. ``forward(batch) -> (B, F, 3, H, W)``.

    ``seed`` draws DrAction's initial parameters (:func:`initial_draction`).
    """

    def __init__(self, settings: PretrainSettings, seed: int):
        super().__init__()
        from ..render.fixed import build_renderer
        self.renderers = nn.ModuleList(initial_draction(settings, seed) if n == "draction"
                                       else build_renderer(n, **renderer_options(settings, n)) for n in settings.renderers)
        self.requires_grad_(False)
        self.drawn = 0
        self.counts = [0] * len(self.renderers)

    def draction(self):
        """The mix's DrAction, or None."""
        from ..render.draction import DrAction
        return next((r for r in self.renderers if isinstance(r, DrAction)), None)

    def forward(self, batch):
        from ..skeleton.batch import SkeletonBatch
        B, n = batch.joints.shape[0], len(self.renderers)
        which = (self.drawn + torch.arange(B)) % n
        self.drawn += B
        out = [None] * B
        for r in range(n):      # one call per renderer on its share of the batch
            idx = (which == r).nonzero().flatten()
            if idx.numel() == 0:
                continue
            self.counts[r] += idx.numel()
            part = SkeletonBatch(batch.joints[idx], batch.present[idx], batch.topology,
                                 None if batch.orientations is None else batch.orientations[idx])
            for i, frames in zip(idx.tolist(), self.renderers[r](part)):
                out[i] = frames
        return torch.stack(out)


class FrameBank:
    """Every training clip drawn once by each of the head start's frozen renderers, for
    ``variants`` random frame samplings (segment sampling, as in training), kept as uint8.

    The renderers are frozen, so drawing a clip again would only repeat work; on the tiny
    backbone, drawing was nine tenths of a head-start step (measured). :meth:`frames` deals
    renderers in turn, as :class:`StyleMix` does (the ``i``-th clip drawn goes to renderer
    ``i % R``: equal shares), and a random sampling of the clip.
    """

    def __init__(self, mix: StyleMix, samples, settings: PretrainSettings, variants: int,
                 rng: np.random.Generator, chunk: int = 32):
        seqs = [s.sequence("ntu25") for s in samples]
        self.images = []                                                   # [renderer][variant]: (N, F, 3, H, W)
        draws = [collate_sequences(seqs[lo:lo + chunk], num_frames=settings.num_frames, train=True, rng=rng,
                                   max_bodies=2) for _ in range(variants) for lo in range(0, len(seqs), chunk)]
        per_variant = len(draws) // variants
        # [variant]: (N, F, J * 3) the first body's 3D joints of the same samplings (pose targets)
        self.poses = [torch.cat([pose_targets(b) for b in draws[v * per_variant:(v + 1) * per_variant]])
                      for v in range(variants)]
        # [variant]: (N, F) the frames of the same samplings that hold the first body
        self.present = [torch.cat([b.present[:, :, 0] for b in draws[v * per_variant:(v + 1) * per_variant]])
                        for v in range(variants)]
        with torch.no_grad():
            for renderer in mix.renderers:
                rows = [torch.cat([(renderer(b) * 255).round().to(torch.uint8)
                                   for b in draws[v * per_variant:(v + 1) * per_variant]]) for v in range(variants)]
                self.images.append(rows)
        self.variants = variants
        self.drawn = 0
        self.counts = [0] * len(self.images)

    def frames(self, clips: Sequence[int], rng: np.random.Generator, poses: bool = False):
        """``(B, F, 3, H, W)`` floats in [0, 1] for the clips at these indices; with ``poses``
        also their pose targets ``(B, F, J * 3)`` (:func:`pose_targets`) and which of their frames
        hold a body ``(B, F)``, of the same samplings."""
        out, pose, present = [], [], []
        for i in clips:
            r = self.drawn % len(self.images)
            self.drawn += 1
            self.counts[r] += 1
            v = int(rng.integers(self.variants))
            out.append(self.images[r][v][i])
            pose.append(self.poses[v][i])
            present.append(self.present[v][i])
        frames = torch.stack(out).float() / 255.0
        return (frames, torch.stack(pose), torch.stack(present)) if poses else frames


def pose_targets(batch) -> torch.Tensor:
    """``(B, F, J * 3)``: the first body's 3D joints, centred on the clip's mean joint and scaled
    by the clip's spread (class-agnostic targets read off the skeleton, not off any label)."""
    joints = batch.joints[:, :, 0]                                               # (B, F, J, 3)
    present = batch.present[:, :, 0, None, None].to(joints.dtype)               # (B, F, 1, 1)
    count = (present.sum((1, 2, 3)) * joints.shape[2]).clamp(min=1)            # joints seen per clip
    centre = (joints * present).sum((1, 2)) / count[:, None]                    # (B, 3)
    x = (joints - centre[:, None, None]) * present
    spread = (x.pow(2).sum((1, 2, 3)) / (3 * count)).sqrt().clamp(min=1e-6)      # (B,)
    return (x / spread[:, None, None, None]).flatten(2)


__all__ = ["FrameBank", "StyleMix", "initial_draction", "pose_targets", "renderer_options"]
