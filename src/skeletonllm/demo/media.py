"""The demo's pictures: renders (GIF), what the model actually sees (PNG), what training
changed in DrAction's frames and the NFM's saliency (PNG), loss curves (PNG).

Renders show held-out clips of unseen classes. The model sees small frames (``image_size``,
28 px by default); the pictures draw the same clips with the same renderer weights at a
display size (DrAction's parameters do not depend on the image size).
"""
from __future__ import annotations

import dataclasses
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


def _clips_by_kind(test_unseen) -> list:
    """One unseen clip of each depiction kind (depth, speed, order) and one other class, each
    tracked in every frame where possible: the clips of the "what training changed" pictures."""
    from ..synth import depiction_kind
    from .evaluate import KINDS

    out = []
    for kind in KINDS:
        pool = [s for s in test_unseen if (depiction_kind(s.label) or "other") == kind]
        if pool:
            out.append(next((s for s in pool if s.present.all()), pool[0]))
    return out


def learned_pictures(media_dir: Path, clips, before, after, num_frames: int, model_size: int) -> list[dict]:
    """For each clip, one PNG with DrAction's frames before and after training, the NFM's
    saliency gate before and after (white: kept, black: faded out), all at the display size, and
    the two at the size the model sees (enlarged). ``before`` / ``after``: DrAction at the display
    size. Returns ``[{"clip": label, "path": file name, "rows": [row titles]}]``."""
    from ..render import DrAction
    from ..render.draction import render_grouped
    from ..skeleton import collate_sequences

    out = []
    small = [DrAction(dataclasses.replace(r.config, image_size=model_size)) for r in (before, after)]
    for r, s in zip((before, after), small):
        s.load_state_dict(r.state_dict())
    for k, sample in enumerate(clips):
        seq = sample.sequence("ntu25")
        rows, titles = [], []
        with torch.no_grad():
            for name, r in (("before", before), ("after", after)):
                rows.append(render_grouped(r, [seq], num_frames)[0])
                titles.append(f"DrAction {name} training")
            batch = collate_sequences([seq], num_frames=num_frames, max_bodies=2)
            for name, r in (("before", before), ("after", after)):
                if r.nfm is not None:
                    rows.append(r.render_saliency(batch)[0])
                    titles.append(f"NFM saliency {name} training")
            factor = max(1, before.config.image_size // model_size)
            for name, r in zip(("before", "after"), small):
                rows.append(_upscale(render_grouped(r, [seq], num_frames)[0], factor))
                titles.append(f"{name} training, as the model sees it ({model_size} px, enlarged)")
        path = write_frames(torch.stack(rows), media_dir / f"learned-{k}.png", columns=num_frames)
        out.append({"clip": sample.label, "path": path.name, "rows": titles})
    return out


def draw_media(media_dir: Path, ds, test_unseen, arms: dict, pretrain, settings) -> dict:
    """Write every picture of the report into ``media_dir``; returns ``{key: path relative to its parent}``."""
    from ..eval.plots import plot_loss_curves
    from ..render import DrAction
    from ..render.draction import render_grouped
    from ..render.fixed import build_renderer
    from .ablation import ARM_TITLES, MAIN_ARM
    from .evaluate import TOPOLOGY_NAMES

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
            # The demo's options of the renderer (no supersampling needed at the display size).
            extra = {k: v for k, v in settings.pretrain.fixed_options.get(name, {}).items() if k != "supersample"}
            path = write_frames(render_grouped(build_renderer(name, **opts, **extra), [seq], F),
                                media_dir / f"fixed-{name}.gif")
            out["gifs"][f"fixed: {name}"] = rel(path)
        before = None
        if MAIN_ARM in arms and arms[MAIN_ARM].initial_dir is not None:
            # The renderer every DrAction arm starts from (the head start's DrAction).
            before = DrAction.from_pretrained(arms[MAIN_ARM].initial_dir, image_size=DISPLAY_SIZE).eval()
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
            if before is not None:
                out["learned"] = [{**x, "path": f"{media_dir.name}/{x['path']}"} for x in learned_pictures(
                    media_dir, _clips_by_kind(test_unseen), before, trained, F, settings.pretrain.image_size)]

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


__all__ = ["DISPLAY_SIZE", "draw_media", "learned_pictures"]
