"""Time one SkeletonLLM training step, split into rendering, vision encoder and language model.

Each stage is timed forward and backward separately: the step runs stage by stage with a
detached hand-over (frames -> visual tokens -> language model), then back-propagates
stage by stage in reverse, so each number belongs to one part of the pipeline. Tiny random
backbones of both real classes, CPU by default; the same script times real checkpoints
with ``--backbone`` and ``--device cuda``.

    python benchmarks/step.py                       # both tiny backbones at 112, 224, 448
    python benchmarks/step.py --sizes 224 --frames 12 --batch 2 --repeats 3
"""
from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np
import torch

from skeletonllm.mllm import prompts as P
from skeletonllm.mllm.model import SkeletonLLM, SkeletonLLMConfig
from skeletonllm.skeleton import SkeletonSequence, collate_sequences, get_topology
from skeletonllm.render.demo import demo_sequence


def synthetic_sequence(frames: int = 40, seed: int = 0) -> SkeletonSequence:
    """A plausible NTU-25 figure at about 3 m with smooth random joint motion."""
    rng = np.random.default_rng(seed)
    rest = demo_sequence("ntu25", num_frames=1).joints[0, 0]
    t = np.linspace(0, 2 * np.pi, frames)[:, None, None]
    phase, amp = rng.uniform(0, 2 * np.pi, (1, 25, 3)), rng.uniform(0.0, 0.08, (1, 25, 3))
    joints = rest[None] + amp * np.sin(t + phase) + np.array([0.0, 0.0, 3.0])
    return SkeletonSequence(joints[:, None].astype(np.float32), np.ones((frames, 1), bool),
                            get_topology("ntu25"), label="wave")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_step(model: SkeletonLLM, batch, prompt: str, target: str) -> dict[str, float]:
    """Seconds per stage of one training step (forward and backward of each part, optimiser)."""
    dev = model.device
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.05)
    opt.zero_grad(set_to_none=True)
    t = {}
    _sync(dev); t0 = time.perf_counter()
    frames = model.render(batch)
    _sync(dev); t1 = time.perf_counter()
    frames_in = frames.detach().requires_grad_(True)
    visual = model.encode_frames(frames_in)
    _sync(dev); t2 = time.perf_counter()
    embeds_in = visual.embeds.detach().requires_grad_(True)
    out = model(None, prompt, [target] * batch.batch_size, visual=dataclasses.replace(visual, embeds=embeds_in))
    _sync(dev); t3 = time.perf_counter()
    out.loss.backward()
    _sync(dev); t4 = time.perf_counter()
    visual.embeds.backward(embeds_in.grad)
    _sync(dev); t5 = time.perf_counter()
    if frames.requires_grad:
        frames.backward(frames_in.grad)
    _sync(dev); t6 = time.perf_counter()
    opt.step()
    _sync(dev); t7 = time.perf_counter()
    t["render fwd"], t["render bwd"] = t1 - t0, t6 - t5
    t["vision fwd"], t["vision bwd"] = t2 - t1, t5 - t4
    t["LM fwd"], t["LM bwd"] = t3 - t2, t4 - t3
    t["optimiser"] = t7 - t6
    t["total"] = t7 - t0
    t["visual tokens"] = visual.embeds.shape[1]
    t["sequence"] = out.attention_mask.shape[1]
    return t


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backbones", nargs="+", default=["tiny:internvl", "tiny:qwen2_5_vl"])
    ap.add_argument("--sizes", nargs="+", type=int, default=[112, 224, 448])
    ap.add_argument("--frames", type=int, default=12)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=2, help="timed steps after one warm-up step (median)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    batch = collate_sequences([synthetic_sequence(seed=i) for i in range(args.batch)], num_frames=args.frames)
    candidates = ["wave", "throw", "drink water", "sit down"]
    prompt, target = P.mqa_prompt(candidates), P.mqa_target("wave")
    cols = ["render fwd", "render bwd", "vision fwd", "vision bwd", "LM fwd", "LM bwd", "optimiser", "total"]
    print(f"one training step, batch {args.batch} x {args.frames} frames, device {args.device}, "
          f"torch threads {torch.get_num_threads()}; seconds (median of {args.repeats})")
    print(f"{'backbone':<18}{'px':>5}{'vis tok':>8}{'seq':>6}" + "".join(f"{c:>11}" for c in cols))
    for backbone in args.backbones:
        for size in args.sizes:
            cfg = SkeletonLLMConfig(backbone=backbone, image_size=size, device=args.device,
                                    renderer_options={"image_size": size})
            model = SkeletonLLM(cfg).train()
            model.set_trainable(["renderer", "projector", "lora"])
            time_step(model, batch, prompt, target)  # warm-up (allocations, layouts)
            runs = [time_step(model, batch, prompt, target) for _ in range(args.repeats)]
            med = {k: float(np.median([r[k] for r in runs])) for k in runs[0]}
            print(f"{backbone:<18}{size:>5}{int(med['visual tokens']):>8}{int(med['sequence']):>6}"
                  + "".join(f"{med[c]:>11.3f}" for c in cols), flush=True)


if __name__ == "__main__":
    main()
