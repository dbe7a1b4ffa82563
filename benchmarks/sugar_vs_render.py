"""How long each method takes to turn one clip into LLM tokens: SUGAR's encoder + TQP against
SkeletonLLM's renderer + vision tower (+ projector), on the same clips, measured in the same run.

* SUGAR: CTR-GCN (the demo's 4 blocks at 32 frames, and the paper's shape: 10 blocks of 64-256
  channels at 256 frames) + Temporal Query Projection (16 / 128 tokens) into the LLM width.
* SkeletonLLM: DrAction renders 12 frames, the tiny InternVL vision tower (2 layers x 64, the real
  class) and projector read them, at 224 and 448 px; ``--real-vision`` adds InternVL3's real
  vision shape (InternViT-300M: 24 layers x 1024, random weights) at 224 px (slow on a CPU).

Times are per clip (batch 1), the median of ``--repeats`` after a warm-up: inference (forward,
no gradient) and training (forward + backward into every trainable part: for SUGAR Step 3 the
bridge, the encoder being frozen; for SkeletonLLM the renderer). Ratios are printed against
SUGAR's paper-shaped encoder + TQP, measured in the same run.

    python benchmarks/sugar_vs_render.py [--repeats 5] [--real-vision] [--threads 2]
"""
from __future__ import annotations

import argparse
import glob
import statistics
import time
from pathlib import Path

import torch

import skeletonllm
from skeletonllm.skeleton import collate_sequences

ROOT = Path(__file__).resolve().parents[1]


def clips():
    """The real NTU sample files (a one-person and a two-person clip)."""
    files = sorted(glob.glob(str(ROOT / "tests" / "data" / "ntu_skeleton" / "*.skeleton")))
    return [skeletonllm.load(f) for f in files]


def timed(fn, repeats: int) -> float:
    fn()
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return statistics.median(out)


def sugar_part(channels, strides, frames, embed_dim, segments, queries, layers, heads, llm_width):
    from skeletonllm.sugar.encoder import CTRGCN, EncoderConfig
    from skeletonllm.sugar.tqp import BridgeConfig, build_bridge

    enc = CTRGCN(EncoderConfig(channels=list(channels), strides=list(strides), num_frames=frames, embed_dim=embed_dim))
    bridge = build_bridge(BridgeConfig(num_segments=segments, num_queries=queries, layers=layers, heads=heads,
                                       dropout=0.0), embed_dim, llm_width)
    enc.eval()
    for p in enc.parameters():
        p.requires_grad_(False)

    def infer(batch):
        with torch.no_grad():
            return bridge.eval()(enc(batch))

    def train(batch):
        bridge.train()
        with torch.no_grad():
            feats = enc(batch)
        bridge(feats).float().pow(2).mean().backward()

    return infer, train, frames


def skeletonllm_part(size: int, real_vision: bool):
    from skeletonllm.mllm.model import SkeletonLLM, SkeletonLLMConfig

    tiny = {} if not real_vision else {"hidden": 64}
    cfg = SkeletonLLMConfig(backbone="tiny:internvl", image_size=size, renderer_options={"image_size": size},
                            device="cpu", lora=False, tiny_options=tiny)
    model = SkeletonLLM(cfg)
    if real_vision:
        from transformers import InternVLConfig, InternVLForConditionalGeneration
        big = InternVLConfig(vision_config={"image_size": [size, size], "patch_size": [14, 14]},
                             text_config=model.backbone.config.text_config.to_dict(),
                             image_token_id=model.backbone.config.image_token_id,
                             image_seq_length=(size // 14) ** 2 // 4, downsample_ratio=0.5)
        backbone = InternVLForConditionalGeneration(big)
        n = sum(p.numel() for p in backbone.model.vision_tower.parameters())
        print(f"InternViT shape: {big.vision_config.num_hidden_layers} layers x {big.vision_config.hidden_size}, "
              f"{n / 1e6:.0f} M parameters")
        model = SkeletonLLM(cfg, renderer=model.renderer, backbone=(backbone, model.tokenizer))
    model.set_trainable(["renderer"])

    def infer(batch):
        with torch.no_grad():
            return model.encode_frames(model.render(batch)).embeds

    def train(batch):
        model.encode_frames(model.render(batch)).embeds.float().pow(2).mean().backward()

    return infer, train, 12


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--real-vision", action="store_true", help="also InternViT-300M's shape at 224 px (slow)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    seqs = clips()
    arms = {
        "SUGAR paper shape: CTR-GCN 10x64-256, 256 fr + TQP 128 tok -> 4096": sugar_part(
            (64, 64, 64, 64, 128, 128, 128, 256, 256, 256), (1, 1, 1, 1, 2, 1, 1, 2, 1, 1), 256, 512, 8, 16, 2, 8, 4096),
        "SUGAR demo: CTR-GCN 4x16-64, 32 fr + TQP 16 tok -> 64": sugar_part(
            (16, 32, 32, 64), (1, 2, 1, 2), 32, 64, 4, 4, 1, 4, 64),
        "SkeletonLLM: DrAction 12 fr + tiny InternVL vision, 224 px": skeletonllm_part(224, False),
        "SkeletonLLM: DrAction 12 fr + tiny InternVL vision, 448 px": skeletonllm_part(448, False),
    }
    if args.real_vision:
        arms["SkeletonLLM: DrAction 12 fr + InternViT-300M shape, 224 px"] = skeletonllm_part(224, True)
    print(f"per clip (batch 1, median of {args.repeats} over {len(seqs)} NTU clips), torch threads "
          f"{torch.get_num_threads()}")
    rows = []
    for name, (infer, train, frames) in arms.items():
        batches = [collate_sequences([s], num_frames=frames, max_bodies=2) for s in seqs]
        t_inf = statistics.mean(timed(lambda b=b: infer(b), args.repeats) for b in batches)
        t_train = statistics.mean(timed(lambda b=b: train(b), args.repeats) for b in batches)
        rows.append((name, t_inf, t_train))
    ref_inf, ref_train = rows[0][1], rows[0][2]
    print(f"{'':<64}{'inference s':>12}{'x SUGAR':>9}{'train s':>10}{'x SUGAR':>9}")
    for name, t_inf, t_train in rows:
        print(f"{name:<64}{t_inf:>12.4f}{t_inf / ref_inf:>9.2f}{t_train:>10.4f}{t_train / ref_train:>9.2f}")


if __name__ == "__main__":
    main()
