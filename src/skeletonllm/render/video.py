"""Write rendered frames to disk: GIF, MP4 or a PNG contact sheet (by the file extension).

Frames are ``(F, 3, H, W)`` for one sequence or ``(B, F, 3, H, W)`` for several; values in
[0, 1]. A contact sheet puts one sequence per block of rows, frames left to right; a video
of several sequences shows them side by side.
"""
from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

import numpy as np
import torch

from ..atomic import TMP_PREFIX, atomic_write_bytes

VIDEO_SUFFIXES = (".gif", ".mp4", ".png")


def to_uint8(frames: torch.Tensor) -> np.ndarray:
    """``(..., 3, H, W)`` floats in [0, 1] -> ``(..., H, W, 3)`` uint8."""
    x = frames.detach().float().clamp(0, 1).mul(255).round().to(torch.uint8).cpu()
    return x.movedim(-3, -1).numpy()


def _as_batch(frames: torch.Tensor) -> torch.Tensor:
    if frames.dim() == 4:
        frames = frames.unsqueeze(0)
    if frames.dim() != 5 or frames.shape[2] != 3:
        raise ValueError(f"frames must be (F, 3, H, W) or (B, F, 3, H, W), got {tuple(frames.shape)}")
    return frames


def contact_sheet(frames: torch.Tensor, columns: int | None = None, gap: int = 2) -> np.ndarray:
    """One image holding every frame: ``(H', W', 3)`` uint8.

    Args:
        frames: ``(F, 3, H, W)`` or ``(B, F, 3, H, W)``.
        columns: frames per row (default: up to 6, so 12 frames make 2 rows).
        gap: grey pixels between tiles (frames are black-backed; the gap shows their edges).
    """
    x = to_uint8(_as_batch(frames))                                               # (B, F, H, W, 3)
    B, F, H, W, _ = x.shape
    cols = columns or min(F, 6)
    rows_per = math.ceil(F / cols)
    rows = B * rows_per
    sheet = np.full((rows * H + (rows - 1) * gap, cols * W + (cols - 1) * gap, 3), 64, np.uint8)
    for b in range(B):
        for f in range(F):
            r, c = b * rows_per + f // cols, f % cols
            sheet[r * (H + gap):r * (H + gap) + H, c * (W + gap):c * (W + gap) + W] = x[b, f]
    return sheet


def _side_by_side(frames: torch.Tensor, gap: int = 2) -> np.ndarray:
    """``(B, F, 3, H, W)`` -> ``(F, H, B*W + gaps, 3)`` uint8 video frames."""
    x = to_uint8(frames)
    B, F, H, W, _ = x.shape
    out = np.full((F, H, B * W + (B - 1) * gap, 3), 64, np.uint8)
    for b in range(B):
        out[:, :, b * (W + gap):b * (W + gap) + W] = x[b]
    return out


def write_frames(frames: torch.Tensor, path: str | os.PathLike, fps: float = 4.0, columns: int | None = None) -> Path:
    """Save frames as ``.gif`` / ``.mp4`` (animation at ``fps``) or ``.png`` (contact sheet).

    The file is written atomically. Returns the path.
    """
    import imageio.v3 as iio

    path = Path(path)
    suffix = path.suffix.lower()
    frames = _as_batch(frames)
    if suffix == ".png":
        data = iio.imwrite("<bytes>", contact_sheet(frames, columns), extension=".png")
    elif suffix == ".gif":
        video = _side_by_side(frames)
        data = iio.imwrite("<bytes>", video, extension=".gif", duration=int(round(1000 / fps)), loop=0)
    elif suffix == ".mp4":
        video = _side_by_side(frames)
        # H.264 with yuv420p needs even sizes: pad by a black row/column if needed.
        F, H, W, _ = video.shape
        video = np.pad(video, ((0, 0), (0, H % 2), (0, W % 2), (0, 0)))
        # ffmpeg writes to a path, not a buffer: encode into a temporary sibling and read it.
        import imageio
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX + path.name + ".", suffix=".mp4", dir=path.parent)
        os.close(fd)
        try:
            with imageio.get_writer(tmp, format="FFMPEG", mode="I", fps=fps, codec="libx264",
                                    pixelformat="yuv420p", macro_block_size=1) as w:
                for frame in video:
                    w.append_data(frame)
            data = Path(tmp).read_bytes()
        finally:
            Path(tmp).unlink(missing_ok=True)
    else:
        raise ValueError(f"{path}: unknown output type '{suffix}' (use one of {', '.join(VIDEO_SUFFIXES)})")
    atomic_write_bytes(path, data)
    return path
