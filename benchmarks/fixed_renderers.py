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


def _trajectory_inputs(batch, renderer) -> list[tuple]:
    """The arguments :class:`JTMRenderer` passes to :func:`draw_trajectories` for ``batch``, one
    tuple per view (caught while it draws)."""
    from skeletonllm.render import fixed

    calls, draw = [], fixed.draw_trajectories

    def spy(*args):
        calls.append(args)
        return draw(*args)
    fixed.draw_trajectories = spy
    try:
        renderer(batch)
    finally:
        fixed.draw_trajectories = draw
    return calls


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
        views = _trajectory_inputs(batch, build_renderer("jtm", image_size=a.size, **options["jtm"]))
        same = all(torch.equal(draw_trajectories(*args), draw_trajectories_reference(*args)) for args in views)
        fast, _ = _time(lambda: [draw_trajectories(*args) for args in views], a.repeats)
        ref, _ = _time(lambda: [draw_trajectories_reference(*args) for args in views], a.repeats)
    print(f"JTM trajectories, {len(views)} views: layered {per_clip(fast):.2f} ms per clip, reference "
          f"{per_clip(ref):.2f}: {ref / fast:.1f}x faster; same pixels: {same}")
    if not same:
        raise SystemExit("the layered trajectories differ from the reference")


if __name__ == "__main__":
    main()
