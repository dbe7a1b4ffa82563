"""The demo's pictures: renders (GIF), what the model actually sees (PNG), loss curves (PNG).

All renders show one held-out clip of an unseen class. The model sees small frames
(``image_size``, 28 px by default); the GIFs draw the same clip with the same renderer
weights at a display size (DrAction's parameters do not depend on the image size).
"""
from __future__ import annotations

from pathlib import Path

import torch

from ..render.video import write_frames

DISPLAY_SIZE = 112


def _offset(curves: dict[str, list[tuple[int, float]]]) -> dict[str, list[tuple[int, float]]]:
    """Stages / phases one after the other on a global step axis."""
    out, base = {}, 0
    for name, pts in curves.items():
        if pts:
            out[name] = [(base + s, l) for s, l in pts]
            base += pts[-1][0]
    return out


def _upscale(frames: torch.Tensor, factor: int) -> torch.Tensor:
    return frames.repeat_interleave(factor, dim=-1).repeat_interleave(factor, dim=-2)


def draw_media(media_dir: Path, ds, test_unseen, arms: dict, pretrain, settings) -> dict:
    """Write every picture of the report into ``media_dir``; returns ``{key: path relative to its parent}``."""
    from accelerate.utils import set_seed

    from ..eval.plots import plot_loss_curves
    from ..render import DrAction, DrActionConfig
    from ..render.draction import render_grouped
    from ..render.fixed import build_renderer
    from ..train.stages import CURRICULUM
    from ..train.trainer import stage_seed
    from .ablation import ARM_TITLES
    from .pipeline import MAIN_ARM, TOPOLOGY_NAMES

    media_dir.mkdir(parents=True, exist_ok=True)
    rel = lambda p: f"{media_dir.name}/{p.name}"  # noqa: E731
    F = settings.pretrain.num_frames
    fill = settings.pretrain.frame_fill
    # A clip whose every frame is tracked, so that no frame of the GIF is empty.
    sample = next((s for s in test_unseen if s.present.all()), test_unseen[0])
    seq = sample.sequence("ntu25")
    out = {"clip": sample.label, "gifs": {}}
    opts = {"image_size": DISPLAY_SIZE, "auto_frame": True, "frame_fill": fill}

    with torch.no_grad():
        for name in ("velocity", "projection", "jtm"):
            path = write_frames(render_grouped(build_renderer(name, **opts), [seq], F), media_dir / f"fixed-{name}.gif")
            out["gifs"][f"fixed: {name}"] = rel(path)
        if any(a.startswith("draction") for a in arms):
            # The renderer every DrAction arm starts from: built under the seed the trainer sets
            # before stage 1 (the renderer is the model's first module, so it draws first).
            set_seed(stage_seed(settings.seed, CURRICULUM[0]))
            before = DrAction(DrActionConfig(**opts))
            out["gifs"]["DrAction before training"] = rel(write_frames(render_grouped(before, [seq], F),
                                                                         media_dir / "draction-before.gif"))
        shown = {}     # each trained DrAction at the display size, loaded once
        for arm in ("draction", "draction_no_nfm"):
            if arm in arms and arms[arm].final_dir is not None:
                shown[arm] = DrAction.from_pretrained(arms[arm].final_dir, image_size=DISPLAY_SIZE).eval()
                out["gifs"][f"{ARM_TITLES[arm]}, trained"] = rel(write_frames(render_grouped(shown[arm], [seq], F),
                                                                              media_dir / f"{arm}-after.gif"))
        if MAIN_ARM in shown:
            trained = shown[MAIN_ARM]
            out["topologies"] = {}
            for topo, name in TOPOLOGY_NAMES.items():
                path = write_frames(render_grouped(trained, [sample.sequence(topo)], F), media_dir / f"topology-{topo}.gif")
                out["topologies"][name] = rel(path)
            small = DrAction.from_pretrained(arms[MAIN_ARM].final_dir).eval()
            factor = max(1, DISPLAY_SIZE // small.config.image_size)
            path = write_frames(_upscale(render_grouped(small, [seq], F), factor), media_dir / "model-view.png",
                                columns=F)
            out["model_view"] = rel(path)

    curves = {k: v for k, v in pretrain.curves.items() if v}
    if curves:
        plot_loss_curves(_offset(curves), media_dir / "loss-head-start.png", title="head start (pretraining) loss")
        out["loss_head_start"] = rel(media_dir / "loss-head-start.png")
    out["loss"] = {}
    for arm, run in arms.items():
        stages = {f"{s.stage}": s.curve for s in run.stages if s.curve}
        if stages:
            path = media_dir / f"loss-{arm}.png"
            plot_loss_curves(_offset(stages), path, title=f"curriculum loss, {ARM_TITLES[arm]}")
            out["loss"][arm] = rel(path)
    return out


__all__ = ["DISPLAY_SIZE", "draw_media"]
