"""Time the renderers as the demo draws them: 28 px, 8 frames, the demo's fixed-renderer options.

    python benchmarks/fixed_renderers.py              # 32 clips of the procedural set, 5 repeats
    python benchmarks/fixed_renderers.py --frames 12 --clips 64

Each case draws the same batch of clips (NTU-25, at most two bodies, frames sampled evenly as
the evaluation samples them) without gradients, on one torch thread, and reports the minimum
and median wall-clock milliseconds per clip over ``--repeats`` runs after one warm-up. Beside the
renderers, JTM's trajectory panels are timed both ways in the same run: the layered drawing the
renderer uses (:func:`skeletonllm.render.fixed.draw_trajectories`, each step drawn once) and the
reference that draws every step again for each frame (:func:`draw_trajectories_reference`); the
script checks that both give the same pixels and prints the ratio. Figures are comparable only
within one run (the machine's load is printed with them).
"""
from __future__ import annotations

import argparse
import os
import statistics
import time


def _clips(count: int):
    from skeletonllm.synth.dataset import SyntheticMotionSet

    ds = SyntheticMotionSet(max(1, count // 40 + 1), seed=0)
    step = max(1, len(ds) // count)
    return [ds[i] for i in range(0, step * count, step)][:count]


def _time(fn, repeats: int) -> tuple[float, float]:
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times), statistics.median(times)


def _trajectory_inputs(batch, renderer):
    """The front view's ``(points, colors, valid, radius, size)`` as :class:`JTMRenderer` builds them."""
    import torch

    from skeletonllm.render.colormap import jet
    from skeletonllm.render.fixed import _speed

    joints, present = renderer._prepare(batch)
    B, F, M, J, _ = joints.shape
    half = renderer.draw_size // 2
    lo, hi = joints.flatten(1, 3).amin(1), joints.flatten(1, 3).amax(1)
    scale = (0.85 * half / (hi - lo).amax(1).clamp(min=1e-3)).view(B, 1, 1, 1)
    points = torch.stack([(joints[..., 0] - lo[:, 0].view(B, 1, 1, 1)) * scale,
                          (joints[..., 1] - lo[:, 1].view(B, 1, 1, 1)) * scale], -1)
    bright = renderer.min_brightness + (1 - renderer.min_brightness) * _speed(joints, present)
    colors = jet(torch.linspace(0, 1, F)).view(1, F, 1, 1, 3) * bright.unsqueeze(-1)
    valid = present.clone()
    valid[:, 1:] &= present[:, :-1]
    valid[:, 0] = False
    return points, colors, valid.unsqueeze(-1).expand(B, F, M, J), max(1.0, renderer.line_radius * 0.6), half


def main(argv=None) -> None:
    import torch

    from skeletonllm.demo.pretrain_settings import PretrainSettings
    from skeletonllm.render.fixed import build_renderer, draw_trajectories, draw_trajectories_reference
    from skeletonllm.skeleton import collate_sequences

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clips", type=int, default=32)
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--size", type=int, default=28)
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    clips = _clips(a.clips)
    batch = collate_sequences([s.sequence("ntu25") for s in clips], num_frames=a.frames, train=False, max_bodies=2)
    options = PretrainSettings().fixed_options
    print(f"{len(clips)} clips, {a.frames} frames, {a.size} px, 1 thread; load average {os.getloadavg()[0]:.2f}")
    per_clip = lambda t: 1000 * t / len(clips)  # noqa: E731
    with torch.no_grad():
        for name in ("draction", "velocity", "projection", "jtm"):
            renderer = build_renderer(name, image_size=a.size, **options.get(name, {}))
            best, median = _time(lambda: renderer(batch), a.repeats)
            print(f"{name:>10}: {per_clip(best):6.2f} ms per clip (median {per_clip(median):.2f})")
        args = _trajectory_inputs(batch, build_renderer("jtm", image_size=a.size, **options["jtm"]))
        same = torch.equal(draw_trajectories(*args), draw_trajectories_reference(*args))
        fast, _ = _time(lambda: draw_trajectories(*args), a.repeats)
        ref, _ = _time(lambda: draw_trajectories_reference(*args), a.repeats)
    print(f"JTM trajectories, one view: layered {per_clip(fast):.2f} ms per clip, reference {per_clip(ref):.2f}: "
          f"{ref / fast:.1f}x faster; same pixels: {same}")
    if not same:
        raise SystemExit("the layered trajectories differ from the reference")


if __name__ == "__main__":
    main()
