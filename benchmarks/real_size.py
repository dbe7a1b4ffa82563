"""One training step of InternVL3-1B at its true shape on CPU, and a checkpoint round trip.

The backbone is the shipped true-shape config (``skeletonllm.mllm.presets``) with random
weights, written first as a hub-style directory (sharded safetensors + tokenizer with the
real special-token ids) and then loaded through the ordinary ``from_pretrained`` path, as a
downloaded checkpoint would be. DrAction + LoRA (r32/a64) go in front and on top; one
training step (renderer + projector + LoRA) runs on a real NTU clip. Each part (render,
vision encoder + projector, language model) is timed forward and backward separately with
detached hand-overs (as benchmarks/step.py does), and the resident memory is sampled every
few milliseconds to give each part's peak. Then the model is saved with ``save_pretrained``,
reloaded with ``from_pretrained`` and must give the same loss.

Memory is compared with ``skeletonllm plan``'s estimate for the same case: measured = peak
resident memory during the step minus the resident memory before the model was loaded
(the interpreter and libraries), so both count the model and its step only.

Run it alone on a shared machine (it needs ~6 GB, ~10 GB with glibc's default malloc settings):

    flock /tmp/skeletonllm-bigmem.lock nice -n 5 python benchmarks/real_size.py [--frames 12] [--size 448]
"""
from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import multiprocessing as mp
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
#: glibc's malloc keeps freed blocks under its dynamic mmap threshold (up to 32 MB) in the heap,
#: so the resident size would stay at its high-water mark from one phase to the next. A fixed
#: threshold of 64 KiB hands every larger tensor back to the system when it is freed, so the
#: sampled resident memory follows the live tensors. It must be set before the process starts.
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": "65536"}

import torch  # noqa: E402

NTU_CLIP = Path(__file__).resolve().parent.parent / "tests" / "data" / "ntu_skeleton" / "S001C003P008R002A058.skeleton"
PRESET = "internvl3-1b-hf"
_PAGE = os.sysconf("SC_PAGE_SIZE")


def rss() -> int:
    """Resident set size of this process, bytes."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * _PAGE


class PeakSampler:
    """Samples the resident memory in a thread; ``mark(name)`` closes one phase and records its peak."""

    def __init__(self, every: float = 0.005):
        self.every, self.peaks, self._peak, self._stop = every, {}, rss(), False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop:
            self._peak = max(self._peak, rss())
            time.sleep(self.every)

    def mark(self, name: str) -> None:
        self._peak = max(self._peak, rss())
        self.peaks[name] = self._peak
        self._peak = rss()

    def close(self):
        self._stop = True
        self._thread.join()


def _write_base(out_dir: str, max_shard_size: str) -> None:
    from skeletonllm.mllm.presets import write_random_backbone
    write_random_backbone(PRESET, out_dir, max_shard_size=max_shard_size)


def run(frames: int = 12, size: int = 448, workdir: str | None = None, max_shard_size: str = "1GB",
        verbose: bool = True, base: str | None = None, check_frames: int = 2) -> dict:
    """Build, step, save, reload; returns the measurements (seconds, bytes, losses)."""
    import skeletonllm
    from skeletonllm.mllm import prompts as P
    from skeletonllm.mllm.model import SkeletonLLM, SkeletonLLMConfig
    from skeletonllm.skeleton import collate_sequences
    from skeletonllm.skeleton.splits import get_split
    from skeletonllm.train.plan import PlanRequest, make_plan

    say = print if verbose else (lambda *a, **k: None)
    tmp = tempfile.TemporaryDirectory(dir=workdir)
    base_dir, ckpt_dir = Path(base or Path(tmp.name) / "InternVL3-1B-hf-random"), Path(tmp.name) / "ckpt"
    out: dict = {"frames": frames, "size": size}
    t0 = time.perf_counter()
    if not (base_dir / "config.json").is_file():
        # A child process writes the random checkpoint, so this process's memory counts the step only.
        proc = mp.get_context("spawn").Process(target=_write_base, args=(str(base_dir), max_shard_size))
        proc.start()
        proc.join()
        if proc.exitcode != 0:
            raise RuntimeError(f"writing the random backbone failed (exit code {proc.exitcode})")
    out["write_base_s"] = time.perf_counter() - t0
    shards = sorted(p.name for p in base_dir.glob("model-*.safetensors"))
    out["base_shards"] = len(shards)
    say(f"random {PRESET} as {len(shards)} safetensors shards ({out['write_base_s']:.1f} s to write)")

    seq = skeletonllm.load(NTU_CLIP)
    batch = collate_sequences([seq], num_frames=frames)
    # The round trip compares losses of the full-size model on a shorter clip (same frame size):
    # a forward of all frames without gradients costs minutes on 2 cores and checks nothing more.
    check_batch = collate_sequences([seq], num_frames=min(frames, check_frames))
    prompt = P.mqa_prompt(list(get_split("ntu60_48_12").seen_names))
    target = P.mqa_target(seq.label)

    # The plan first: it imports everything the model needs, so the baseline below holds the
    # interpreter and all libraries, and the measured peak only the model and its step.
    req = PlanRequest(model={"backbone": PRESET, "gradient_checkpointing": True}, num_frames=frames,
                      image_size=size, batch=1, processes=1, text_tokens=0)
    make_plan(req)
    gc.collect()
    baseline = rss()
    t0 = time.perf_counter()
    cfg = SkeletonLLMConfig(backbone=str(base_dir), image_size=size, num_frames=frames, device="cpu",
                            renderer_options={"image_size": size}, gradient_checkpointing=True)
    torch.manual_seed(0)
    model = SkeletonLLM(cfg).train()
    out["load_s"] = time.perf_counter() - t0
    out["loaded_rss"] = rss() - baseline
    checkpointed = sum(1 for m in model.backbone.modules() if getattr(m, "gradient_checkpointing", False))
    say(f"loaded through from_pretrained in {out['load_s']:.1f} s; +{out['loaded_rss'] / 2**30:.2f} GiB resident; "
        f"{checkpointed} checkpointed layers")

    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-5, weight_decay=0.05)
    sampler = PeakSampler()
    t = {}
    t["render fwd"] = time.perf_counter()
    frames_out = model.render(batch)
    sampler.mark("render fwd")
    t["vision fwd"] = time.perf_counter()
    frames_in = frames_out.detach().requires_grad_(True)
    visual = model.encode_frames(frames_in)
    sampler.mark("vision fwd")
    t["LM fwd"] = time.perf_counter()
    embeds_in = visual.embeds.detach().requires_grad_(True)
    step_out = model(None, prompt, [target], visual=dataclasses.replace(visual, embeds=embeds_in))
    sampler.mark("LM fwd")
    t["LM bwd"] = time.perf_counter()
    step_out.loss.backward()
    sampler.mark("LM bwd")
    t["vision bwd"] = time.perf_counter()
    visual.embeds.backward(embeds_in.grad)
    sampler.mark("vision bwd")
    t["render bwd"] = time.perf_counter()
    frames_out.backward(frames_in.grad)
    sampler.mark("render bwd")
    t["optimiser"] = time.perf_counter()
    opt.step()
    sampler.mark("optimiser")
    t["end"] = time.perf_counter()
    sampler.close()
    names = list(t)
    seconds = {names[i]: t[names[i + 1]] - t[names[i]] for i in range(len(names) - 1)}
    out["seconds"] = seconds
    out["peaks"] = {k: v - baseline for k, v in sampler.peaks.items()}
    out["step_s"] = sum(seconds.values())
    out["peak"] = max(out["peaks"].values())
    out["train_loss"] = float(step_out.loss.detach())
    out["visual_tokens"] = int(visual.embeds.shape[1])
    out["sequence"] = int(step_out.attention_mask.shape[1])
    grads = [p.grad for p in model.renderer.parameters()]
    out["renderer_grads_nonzero"] = all(g is not None and bool(g.abs().sum() > 0) for g in grads)
    render_s = seconds["render fwd"] + seconds["render bwd"]
    out["render_share"] = render_s / out["step_s"]
    del step_out, visual, embeds_in, frames_in, frames_out, opt
    gc.collect()

    req = dataclasses.replace(req, text_tokens=out["sequence"] - out["visual_tokens"])
    out["plan_bytes"] = make_plan(req).memory["fp32"]["ddp"]
    out["plan_ratio"] = out["peak"] / out["plan_bytes"]

    model.eval()
    with torch.no_grad():
        out["eval_loss"] = float(model(check_batch, prompt, [target]).loss)
    t0 = time.perf_counter()
    model.save_pretrained(ckpt_dir)
    out["save_s"] = time.perf_counter() - t0
    out["checkpoint_files"] = sorted(p.name for p in ckpt_dir.iterdir())
    out["base_embedded"] = json.loads((ckpt_dir / "config.json").read_text())["base"]["embedded"]
    del model
    gc.collect()
    t0 = time.perf_counter()
    reloaded = SkeletonLLM.from_pretrained(ckpt_dir, device="cpu").eval()
    out["reload_s"] = time.perf_counter() - t0
    with torch.no_grad():
        out["reloaded_loss"] = float(reloaded(check_batch, prompt, [target]).loss)
    del reloaded
    tmp.cleanup()

    gib = 2 ** 30
    say(f"\none training step, InternVL3-1B (random weights, fp32), 1 clip x {frames} frames at {size} px, "
        f"{out['visual_tokens']} visual tokens, sequence {out['sequence']}, torch threads {torch.get_num_threads()}")
    say(f"{'part':<12}{'seconds':>10}{'peak GiB':>10}")
    for k, v in seconds.items():
        say(f"{k:<12}{v:>10.2f}{out['peaks'][k] / gib:>10.2f}")
    say(f"{'step':<12}{out['step_s']:>10.2f}{out['peak'] / gib:>10.2f}   (peak above the {baseline / gib:.2f} GiB "
        f"of the interpreter and libraries)")
    say(f"renderer share of the step: {100 * out['render_share']:.2f} % of the time; its peak "
        f"{out['peaks']['render bwd'] / gib:.2f} GiB is reached with the whole model resident")
    say(f"plan estimate {out['plan_bytes'] / gib:.2f} GiB; measured / estimated = {out['plan_ratio']:.3f}")
    say(f"loss: train {out['train_loss']:.5f}; round trip on {min(frames, check_frames)} frames: eval before save {out['eval_loss']:.6f}, after from_pretrained "
        f"{out['reloaded_loss']:.6f}; save {out['save_s']:.1f} s, reload {out['reload_s']:.1f} s; "
        f"checkpoint: {', '.join(out['checkpoint_files'])}")
    return out


def main(argv=None) -> None:
    if any(os.environ.get(k) != v for k, v in MALLOC_ENV.items()):
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **MALLOC_ENV})
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=12)
    ap.add_argument("--size", type=int, default=448)
    ap.add_argument("--workdir", default=None, help="where the random checkpoint is written (default: the temp dir)")
    ap.add_argument("--base", default=None, help="reuse (or write once) the random backbone directory here")
    ap.add_argument("--json", default=None, help="also write the measurements to this JSON file")
    args = ap.parse_args(argv)
    out = run(args.frames, args.size, args.workdir, base=args.base)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
