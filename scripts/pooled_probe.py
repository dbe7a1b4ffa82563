"""The linear pixel probe on pooled frames: what a head that pools over frames can still read.

    python scripts/pooled_probe.py --seed 0 --split-seed 1

On a validation split of the demo (eight seen classes held out, as ``demo_sweep.py --validation``;
no unseen class is drawn), DrAction as the arms start from it draws every clip's 8 frames at
28 px, and the probe (:mod:`skeletonllm.demo.probe`) is fitted on the 23 training classes' clips
with each of these features, then composes the held-out classes from its attribute regressions:

* ``all``: every frame's pixels (what the demo's probe reads);
* ``mean``: the pixels averaged over the frames (what ``head_pool="frames"`` heads see of a clip);
* ``halves``: the first and the second half of the frames averaged apart (coarse order);
* ``mean+change``: the mean and each pixel's mean absolute change between frames
  (``head_pool="frames_motion"``).

Prints seen top-1, composed zero-shot top-1 and each attribute's accuracy (seen / held-out).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

POOLS = {
    "all": lambda x: x,
    "mean": lambda x: x.mean(1),
    "halves": lambda x: np.concatenate([x[:, :x.shape[1] // 2].mean(1), x[:, x.shape[1] // 2:].mean(1)], 1),
    "mean+change": lambda x: np.concatenate([x.mean(1), np.abs(np.diff(x, axis=1)).mean(1)], 1),
}


def main(argv=None) -> None:
    from skeletonllm.demo.composition import class_attributes
    from skeletonllm.demo.pretrain import initial_draction
    from skeletonllm.demo.probe import clip_attributes, clip_pixels, fit_probe

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from demo_sweep import validation_arguments, validation_data

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    validation_arguments(ap, "/tmp/skeletonllm-pooled-probe")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    st, split, train, held, val = validation_data(a.seed, a.split_seed, a.work)
    F, size = st.pretrain.num_frames, st.pretrain.image_size
    renderer = initial_draction(st.pretrain, st.seed + 1)       # as the head start draws it (StyleMix's seed)
    sets = [train, held, val]
    frames = [clip_pixels(renderer, c, F).reshape(len(c), F, -1) for c in sets]
    labels = [[s.label for s in c] for c in sets]
    atts = [[clip_attributes(s) for s in c] for c in sets]
    print(f"seed {a.seed}, validation split {a.split_seed} (held out: {', '.join(split.unseen)}); "
          f"{F} frames at {size} px")
    for name, pool in POOLS.items():
        X = [pool(x).reshape(len(x), -1) for x in frames]
        out = fit_probe(X[0], labels[0], atts[0], X[1], labels[1], atts[1], X[2], labels[2], atts[2],
                        {c: class_attributes(c) for c in split.unseen})
        print(f"{name:>12}: seen {100 * out['seen_top1']:.1f} %, composed zero-shot {100 * out['unseen_top1']:.1f} %; "
              + ", ".join(f"{k} {100 * v['seen']:.0f} / {100 * v['unseen']:.0f} %" for k, v in out["attributes"].items()))


if __name__ == "__main__":
    main()
