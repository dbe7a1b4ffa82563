"""Where a head start loses what its frames show: the probe on its visual tokens, trained and random.

    python scripts/demo_sweep.py --name hs --seed 0 --validation --split-seed 1 --head-start /tmp/hs-0-1
    python scripts/token_probe.py --head-start /tmp/hs-0-1 --seed 0 --split-seed 1

On a validation split of the demo (eight seen classes held out, as ``demo_sweep.py --validation``;
no unseen class is drawn) the probe (:mod:`skeletonllm.demo.probe`: regressions fitted on the 23
training classes' clips, the held-out classes composed from the attribute regressions) reads four
inputs of the same clips, drawn by the head start's DrAction:

* ``pixels``: the frames themselves (the demo's probe);
* ``tokens``: the visual tokens the head start's language model reads (vision tower + projector);
* ``random projector``: the same with the projector drawn again at random;
* ``random tower``: the vision tower drawn again at random too (an untrained backbone's tokens).

If the tokens compose as well as the pixels, the vision side keeps what the frames show and
whatever the model's own answers lack is lost in its language model. Prints seen top-1,
composed zero-shot top-1 and each attribute's accuracy on the held-out classes.
"""
from __future__ import annotations

import argparse
import sys
from argparse import Namespace
from pathlib import Path

import torch


def redraw(model, parts: tuple[str, ...], seed: int) -> None:
    """Draw ``model``'s ``parts`` (``"vision"``, ``"projector"``) again as a newly built backbone
    of the same config starts them (its own initialisation, seeded)."""
    backbone = model.backbone
    torch.manual_seed(seed)
    fresh = type(backbone)(backbone.config)
    targets = {"vision": (model.adapter.vision_tower, fresh.model.vision_tower),
               "projector": (model.adapter.projector, fresh.model.multi_modal_projector)}
    for part in parts:
        mine, new = targets[part]
        mine.load_state_dict(new.state_dict())


def main(argv=None) -> None:
    from skeletonllm.demo.pretrain import load_pretrained

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from demo_sweep import (_check_head_start, _head_start_stamp, _probe, _token_probe, head_start_model,
                            validation_arguments, validation_data)

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--head-start", required=True, help="a head start trained by demo_sweep.py --validation "
                    "--head-start with the same seed and split")
    validation_arguments(ap, "/tmp/skeletonllm-token-probe")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    st, split, train, held, val = validation_data(a.seed, a.split_seed, a.work)
    p = st.pretrain
    _check_head_start(Path(a.head_start), _head_start_stamp(st, Namespace(validation=True, split_seed=a.split_seed)))
    pre = load_pretrained(a.head_start)
    if pre is None:
        raise SystemExit(f"{a.head_start}: no finished head start there")
    model = head_start_model(pre, p, "draction", st.seed)
    classes = list(split.unseen)
    rows = {"pixels": _probe(model.renderer, train, held, val, classes, p.num_frames),
            "tokens": _token_probe(model, train, held, p.num_frames, val, classes)}
    redraw(model, ("projector",), a.seed)
    rows["random projector"] = _token_probe(model, train, held, p.num_frames, val, classes)
    redraw(model, ("vision", "projector"), a.seed)
    rows["random tower"] = _token_probe(model, train, held, p.num_frames, val, classes)
    print(f"seed {a.seed}, validation split {a.split_seed} (held out: {', '.join(classes)})")
    for name, r in rows.items():
        atts = " ".join(f"{k} {100 * v['zero_shot']:.1f}" for k, v in r["attributes"].items())
        print(f"{name:17s} seen {100 * r['seen_top1']:.1f}  composed zero-shot {100 * r['zero_shot_top1']:.1f}  "
              f"held-out attributes: {atts}")


if __name__ == "__main__":
    main()
