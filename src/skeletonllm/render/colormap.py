"""Colormaps used by the renderers (torch, differentiable almost everywhere).

DrAction blends its learned colours with D(depth): a triangular "jet" ramp over normalised
depth, red (near) -> yellow -> green -> cyan -> blue (far). The ramp runs over the bright
middle of jet (pure red to pure blue) so both ends stay visible on black.
"""
from __future__ import annotations

import torch


def jet(t: torch.Tensor) -> torch.Tensor:
    """Triangular jet colormap: ``(...,)`` values in [0, 1] -> ``(..., 3)`` RGB in [0, 1].

    0 -> pure blue, 0.5 -> green, 1 -> pure red (the 1/8 .. 7/8 stretch of classic jet).
    """
    s = 0.125 + 0.75 * t.clamp(0.0, 1.0)
    r = (1.5 - (4 * s - 3).abs()).clamp(0.0, 1.0)
    g = (1.5 - (4 * s - 2).abs()).clamp(0.0, 1.0)
    b = (1.5 - (4 * s - 1).abs()).clamp(0.0, 1.0)
    return torch.stack([r, g, b], dim=-1)


def depth_colors(depth: torch.Tensor, near: torch.Tensor, far: torch.Tensor, min_range: float) -> torch.Tensor:
    """D(depth): red for ``near``, blue for ``far``.

    The range is widened to at least ``min_range`` around its middle, so a flat scene (2D
    input: every depth equal) gets the middle colour instead of amplified noise.

    Args:
        depth: ``(...,)``; near, far: tensors broadcastable to ``depth``.
    Returns:
        ``(..., 3)``.
    """
    mid = 0.5 * (near + far)
    span = (far - near).clamp(min=min_range)
    t = 0.5 + (depth - mid) / span
    return jet(1.0 - t)


def hot(t: torch.Tensor) -> torch.Tensor:
    """Black-body ramp for magnitudes: ``(...,)`` in [0, 1] -> ``(..., 3)``; starts at dark red
    (not black) so small values stay visible on a black background."""
    s = 0.25 + 0.75 * t.clamp(0.0, 1.0)
    r = (3 * s).clamp(0.0, 1.0)
    g = (3 * s - 1).clamp(0.0, 1.0)
    b = (3 * s - 2).clamp(0.0, 1.0)
    return torch.stack([r, g, b], dim=-1)
