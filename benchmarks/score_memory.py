"""Peak memory of score-mode recognition with 16 candidates, InternVL3-1B at its true shape, on CPU.

Score mode ranks every candidate label by the likelihood of ``Label: <candidate>`` after one
prompt (12 frames at 448 px: 3072 visual tokens). ``SkeletonLLM.score_candidates`` scores all
candidates on one copy of the prompt's KV cache (:mod:`skeletonllm.mllm.scoring`). The in-run
reference is the method it replaced, written out below: the prompt's cache deep-copied and
repeated once per candidate (``batch_repeat_interleave``), then one batched pass over the
answers. Both score the same prompt, frames and candidates on the same model; their scores
must agree, and the script prints each one's peak resident memory above the memory held before
the call (the model, the frames and the visual tokens), and its time.

The vision encoder runs once (its peak is printed too) and its tokens are reused by both
methods, so the comparison isolates the language-model part that differs. Needs ~6 GiB; run it
alone on a shared machine:

    flock /tmp/skeletonllm-bigmem.lock nice -n 5 python benchmarks/score_memory.py [--base DIR]
"""
from __future__ import annotations

import argparse
import copy
import gc
import json
import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from real_size import MALLOC_ENV, NTU_CLIP, PeakSampler, _write_base, rss  # noqa: E402

import torch  # noqa: E402

GIB = 2 ** 30


def repeated_cache_scores(model, ids, mask, out, answers) -> torch.Tensor:
    """The replaced method: per candidate chunk, deep-copy the prompt's cache and repeat it per candidate."""
    B, C = ids.shape[0], len(answers)
    first = torch.log_softmax(out.logits[:, -1].float(), dim=-1)
    ans = model._pad(answers, "right", model._pad_id)
    ans_mask = model._pad([[1] * len(a) for a in answers], "right", 0)
    logp = first.gather(1, ans[:, 0].repeat(B, 1))
    cache = copy.deepcopy(out.past_key_values)
    cache.batch_repeat_interleave(C)
    steps = ans.shape[1] - 1
    full_mask = torch.cat([mask.repeat_interleave(C, 0), ans_mask[:, :-1].repeat(B, 1)], dim=1)
    pos = model.adapter.next_positions(out.position_ids, steps).repeat_interleave(C, dim=-2)
    step_out = model.backbone(input_ids=ans[:, :-1].repeat(B, 1), attention_mask=full_mask, position_ids=pos,
                              past_key_values=cache, use_cache=True)
    rest = torch.log_softmax(step_out.logits.float(), dim=-1).gather(2, ans[:, 1:].repeat(B, 1).unsqueeze(-1))[..., 0]
    return logp + (rest * ans_mask[:, 1:].repeat(B, 1)).sum(dim=1).view(B, C)


def _measure(fn):
    gc.collect()
    before = rss()
    sampler = PeakSampler(every=0.002)
    t0 = time.perf_counter()
    with torch.no_grad():
        result = fn()
    seconds = time.perf_counter() - t0
    sampler.mark("call")
    sampler.close()
    return result, sampler.peaks["call"] - before, seconds


def run(base: str | None, frames: int = 12, size: int = 448, candidates: int = 16) -> dict:
    import skeletonllm
    from skeletonllm.mllm import prompts as P
    from skeletonllm.mllm.model import SkeletonLLM, SkeletonLLMConfig
    from skeletonllm.skeleton import collate_sequences
    from skeletonllm.skeleton.splits import get_split

    tmp = tempfile.TemporaryDirectory()
    base_dir = Path(base or Path(tmp.name) / "InternVL3-1B-hf-random")
    if not (base_dir / "config.json").is_file():
        proc = mp.get_context("spawn").Process(target=_write_base, args=(str(base_dir), "1GB"))
        proc.start()
        proc.join()
    model = SkeletonLLM(SkeletonLLMConfig(backbone=str(base_dir), image_size=size, num_frames=frames, device="cpu",
                                          renderer_options={"image_size": size})).eval()
    names = list(get_split("ntu60_40_20").unseen_names)[:candidates]
    prompt = P.mqa_prompt(names)
    batch = collate_sequences([skeletonllm.load(NTU_CLIP)], num_frames=frames)
    out = {"frames": frames, "size": size, "candidates": len(names), "threads": torch.get_num_threads()}
    with torch.no_grad():
        rendered = model.render(batch)
    visual, out["vision_peak"], out["vision_s"] = _measure(lambda: model.encode_frames(rendered))
    model.encode_frames = lambda f: visual            # both methods reuse the tokens above
    answers = [model._ids(model.format_target(P.mqa_target(c))) for c in names]

    def replaced():
        ids, mask = model._prompt_batch([prompt], frames)
        prompt_out = model.language_forward(ids, mask, visual, logits_to_keep=1, use_cache=True)
        out["prompt_tokens"] = int(ids.shape[1])
        out["prompt_cache_bytes"] = sum(t.numel() * t.element_size() for layer in prompt_out.past_key_values.layers
                                        for t in (layer.keys, layer.values))
        return repeated_cache_scores(model, ids, mask, prompt_out, answers)

    ref, out["replaced_peak"], out["replaced_s"] = _measure(replaced)
    got, out["shared_peak"], out["shared_s"] = _measure(
        lambda: model.score_candidates(None, prompt, names, frames=rendered))
    out["max_score_difference"] = float((got - ref).abs().max())
    out["same_ranking"] = bool(torch.equal(got.argsort(dim=1), ref.argsort(dim=1)))
    tmp.cleanup()
    return out


def main(argv=None) -> None:
    if any(os.environ.get(k) != v for k, v in MALLOC_ENV.items()):
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **MALLOC_ENV})
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", default=None, help="reuse (or write once) the random InternVL3-1B directory here")
    ap.add_argument("--frames", type=int, default=12)
    ap.add_argument("--size", type=int, default=448)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    out = run(args.base, args.frames, args.size)
    print(f"InternVL3-1B (random weights, fp32), 1 clip x {out['frames']} frames at {out['size']} px, prompt of "
          f"{out['prompt_tokens']} tokens (its KV cache {out['prompt_cache_bytes'] / GIB:.3f} GiB), "
          f"{out['candidates']} candidates, {out['threads']} threads")
    print(f"vision encoder (once, shared): {out['vision_s']:.1f} s, peak +{out['vision_peak'] / GIB:.2f} GiB")
    print(f"{'language model part':<44}{'peak GiB':>10}{'seconds':>10}")
    print(f"{'cache repeated per candidate (replaced)':<44}{out['replaced_peak'] / GIB:>10.2f}{out['replaced_s']:>10.1f}")
    print(f"{'one shared cache (score_candidates)':<44}{out['shared_peak'] / GIB:>10.2f}{out['shared_s']:>10.1f}")
    print(f"peak ratio shared / replaced: {out['shared_peak'] / out['replaced_peak']:.3f}; scores differ by at most "
          f"{out['max_score_difference']:.2e}; same ranking: {out['same_ranking']}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
