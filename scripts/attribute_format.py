"""How a demo's head start answers its attribute questions as it learnt them and as the demo asks them.

    python scripts/attribute_format.py DEMO_DIR [--arm draction] [--offered 4]

The head start learns each attribute question (movement, side, body part) offering a few of the
attribute's values (``PretrainSettings.attribute_options``: the truth and three others); the demo's
evaluation asks it offering all of them, as the attribute probes choose among all values. This
loads the arm's checkpoint before the curriculum (``DEMO_DIR/runs/<arm>/initial``: the head start
reading the arm's starting frames), the demo's held-out clips of seen and unseen classes, and prints
each attribute's accuracy both ways: all values (plain and calibrated likelihood ranking, as the
demo's report) and ``--offered`` values drawn anew per clip (plain ranking), with chance levels.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def demo_settings(out_dir: Path):
    """The :class:`~skeletonllm.demo.settings.DemoSettings` a demo output was made with (its
    ``demo.json``): the mode's defaults with the stored top-level and head-start settings applied."""
    from skeletonllm.demo.settings import OWN_OPTIONS, SECTIONS, DemoSettings

    marker = out_dir / "demo.json"
    if not marker.is_file():
        raise FileNotFoundError(f"{marker}: not found; DEMO_DIR must be the output of `skeletonllm demo`")
    stored = json.loads(marker.read_text()).get("settings")
    if not stored:
        raise ValueError(f"{marker}: no settings (is the demo still running?)")
    base = (DemoSettings.quick if stored["mode"] == "quick" else DemoSettings.full)(stored["seed"])
    keys = {k: v for k, v in stored.items() if k not in SECTIONS and k not in OWN_OPTIONS}
    keys.update({f"pretrain.{k}": v for k, v in stored["pretrain"].items()})
    return base.with_overrides(keys)


def measure(out_dir: Path, arm: str = "draction", offered: int = 4) -> dict:
    """``{group: {"all values": {...}, "all values, calibrated": {...}, f"{offered} values": {...}}}``
    for the held-out ``seen`` and ``unseen`` clips; each inner dict as
    :func:`~skeletonllm.demo.evaluate.attribute_answers` gives it."""
    import torch

    from skeletonllm.demo import evaluate as E
    from skeletonllm.demo.data import DemoData
    from skeletonllm.mllm.model import SkeletonLLM

    torch.set_num_threads(1)
    st = demo_settings(out_dir)
    checkpoint = out_dir / "runs" / arm / "initial"
    if not checkpoint.is_dir():
        raise FileNotFoundError(f"{checkpoint}: no such checkpoint (arms: "
                                f"{', '.join(sorted(p.name for p in (out_dir / 'runs').glob('*'))) or 'none'})")
    data = DemoData.prepare(st, out_dir / "data")
    unseen_clips, seen_clips = data.eval_clips(st)
    groups = {"seen": seen_clips, "unseen": unseen_clips}
    model = SkeletonLLM.from_pretrained(checkpoint, device="cpu").eval()
    F = st.pretrain.num_frames
    every = E.attribute_answers(model, groups, data.seen, F, reference=E.reference_clips(data.train))
    return {g: {"all values": every["plain"][g], "all values, calibrated": every["calibrated"][g],
                f"{offered} values": E.attribute_answers_offering(model, clips, data.seen, F, offered, st.seed)}
            for g, clips in groups.items()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("demo_dir", type=Path)
    ap.add_argument("--arm", default="draction", help="whose starting frames the head start reads")
    ap.add_argument("--offered", type=int, default=4, help="values each question offers (the head start's)")
    a = ap.parse_args(argv)
    try:
        res = measure(a.demo_dir, a.arm, a.offered)
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    keys = ("movement", "side", "part")
    print(f"{'clips':8s} {'question offers':24s} " + " ".join(f"{k:>18s}" for k in keys))
    for group, ways in res.items():
        for way, acc in ways.items():
            cells = [f"{100 * acc[k]:5.1f} % (chance {100 * acc[k + '_chance']:4.1f})" for k in keys]
            print(f"{group:8s} {way:24s} " + " ".join(f"{c:>18s}" for c in cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
