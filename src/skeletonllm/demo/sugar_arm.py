"""The demo's SUGAR arm: SUGAR trained and measured on the demo's procedural world.

Given the demo's clips (seen-class training clips, held-out clips of the seen classes, clips
of the unseen classes), :func:`run_sugar_arm` runs Steps 2 and 3 through the project's
trainer on the seen training clips only, with the demo world's shipped knowledge
(:mod:`skeletonllm.demo.sugar_knowledge`; no teacher), then measures on held-out clips with
the project's recognition engine, by likelihood ranking as the demo's headline does:

* unseen-class top-1 (the split's unseen classes as candidates) next to chance, and by
  greedy decoding (the paper's protocol);
* seen-class top-1 on held-out clips (every seen class a candidate);
* transfer: the same unseen motions emitted in the other topologies (SMPL-22, Kinect v1-20,
  COCO-17 2D). A GCN is tied to its graph: SUGAR's encoder has weights per joint and edge of
  NTU-25. What SUGAR does on another topology is to map the clip onto NTU-25's joints by
  joint name and body part (:mod:`skeletonllm.sugar.retarget`) and read that; the arm
  measures how much survives.

Everything is small (a 4-block CTR-GCN, a tiny random CLIP text encoder and a tiny random
LLaMA, the real classes) so that the arm fits in about two and a half minutes on one core;
:class:`SugarArmSettings` says what departs from the paper and why.
"""
from __future__ import annotations

import dataclasses
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import torch

from .evaluate import TOPOLOGY_NAMES, TRANSFER_FORMATS, reference_clips

DEMO_SPLIT = "synth_31_13"     # the demo's split (skeletonllm.demo.settings.DemoSettings.split)
TRANSFER_TOPOLOGIES = tuple(topo for topo, _ in TRANSFER_FORMATS)


@dataclass
class SugarArmSettings:
    """The arm's recipe. Departures from the paper (all for a CPU budget of about two and a half
    minutes of one core, every network starting from random weights):

    * CTR-GCN with 4 blocks of 16-64 channels (paper: 10 blocks of 64-256), 32 frames;
    * a tiny random CLIP text encoder (paper: pretrained CLIP), frozen: its random features
      still tell the texts apart, and the trained text projection adapts them (training it too
      made a Step 2 step about 1.5 times as long);
    * Step 2: ``step2_epochs`` epochs at lr ``step2_lr``, batch 16 (paper: 200 epochs at 0.01,
      batch 200). The epochs of both steps were chosen on the demo's split synth_31_13, seed 0,
      by held-out *seen*-class top-1 (the unseen classes were not used to choose), among runs
      of at most 150 s: epochs (Step 2 / Step 3) 6/6 20.2 %, 12/12 65.3 %, 12/20 78.2 %,
      20/12 71.8 %, 12/30 82.3 %, 20/20 82.3 % (the cheaper of the last two kept; the 6/6 of the
      first SUGAR arm was chosen on synth_24_6's 24 classes, 12 clips each);
    * TQP with 4 segments x 4 queries = 16 tokens (paper: 128), one Q-Former layer;
    * a tiny random LLaMA (2 layers x 64; paper: LLaMA-2-7B) with LoRA r 16 / alpha 32
      (paper: r 64 / alpha 16, which at width 64 would be rank 64 of 64); Step 3 for
      ``step3_epochs`` epochs at lr ``step3_lr`` for LoRA and ``bridge_lr`` for TQP (paper: 1
      epoch at 2e-5: a pretrained LLM needs little, a random one much more; TQP's attention
      trained unstably at 1e-2: seen-class top-1 20 % against 33 % at 3e-3 in a tuning run),
      each instruction listing the true class and other seen classes, as many in all as the
      unseen classes the arm is tested on (``step3_candidates="unseen"``; paper: the fixed
      list; tuning run on synth_24_6: unseen top-1 42 % against 29 % with all 24 seen classes
      listed; seen 33 % against 38 %).
    * ``calibrate``: top-1 by likelihood ranking calibrated on training clips, exactly as the
      SkeletonLLM arms are ranked (:mod:`skeletonllm.eval.calibration`); the plain ranking is
      kept beside it (``unseen_score_plain``, ``seen_score_plain``).
    """

    num_frames: int = 32
    channels: tuple[int, ...] = (16, 32, 32, 64)
    strides: tuple[int, ...] = (1, 2, 1, 2)
    embed_dim: int = 64
    temperature: float = 0.1
    visual_per_clip: int = 2
    step2_epochs: int = 20
    step2_lr: float = 0.05
    step2_batch: int = 16
    step2_trains: tuple[str, ...] = ("encoder", "head")
    num_segments: int = 4
    num_queries: int = 4
    step3_epochs: int = 20
    step3_lr: float = 1e-2
    bridge_lr: float = 3e-3
    step3_batch: int = 8
    step3_candidates: int | str | None = "unseen"   # a number, "unseen" (as many as the unseen classes), None (all)
    lora_r: int = 16
    lora_alpha: int = 32
    llm_hidden: int = 64
    eval_limit: int | None = None
    generate: bool = True
    transfer: tuple[str, ...] = TRANSFER_TOPOLOGIES
    threads: int = 1
    calibrate: bool = True

    @classmethod
    def quick(cls) -> "SugarArmSettings":
        """Every step on a handful of steps (tests); the numbers mean nothing."""
        return cls(step2_epochs=1, step3_epochs=1, eval_limit=8, num_frames=16)

    def run_config(self, out_dir: Path, seed: int, split: str = DEMO_SPLIT, num_unseen: int | None = None):
        """The equivalent SUGAR run config (:mod:`skeletonllm.sugar.config`); ``num_unseen`` sizes
        ``step3_candidates="unseen"`` (default: the split's unseen classes)."""
        from ..sugar.config import config_from_dict

        # A checkpoint every 100 steps: a killed arm resumes inside the step it was in (cheap: tiny weights).
        train = {"weight_decay": 0.0004, "warmup_ratio": 0.05, "max_grad_norm": None, "mixed_precision": "no",
                 "log_every": 5, "save_every": 100, "keep_last": 1, "tensorboard": False}
        tiny = {"hidden": self.llm_hidden, "layers": 2, "heads": 4, "vocab_size": 800}
        return config_from_dict({
            "run": {"name": "sugar_demo", "output_dir": str(out_dir), "seed": seed},
            "knowledge": "synth",
            "encoder": {"topology": "ntu25", "channels": list(self.channels), "strides": list(self.strides),
                        "num_frames": self.num_frames, "max_bodies": 2, "embed_dim": self.embed_dim},
            "text": {"source": "tiny:clip", "max_length": 40, "tiny_options": {"hidden": 64, "layers": 2, "heads": 4,
                                                                             "vocab_size": 800, "seed": seed}},
            "bridge": {"kind": "tqp", "num_segments": self.num_segments, "num_queries": self.num_queries, "layers": 1,
                       "heads": 4, "hidden": 64, "dropout": 0.0},
            "llm": {"source": "tiny:llama", "lora_r": self.lora_r, "lora_alpha": self.lora_alpha, "lora_dropout": 0.0,
                    "describe": True, "tiny_options": {**tiny, "seed": seed}},
            "data": {"synth": {"split": split}, "max_bodies": 2},
            "step2": {"lr": self.step2_lr, "epochs": self.step2_epochs, "temperature": self.temperature,
                      "visual_per_clip": self.visual_per_clip,
                      "trains": list(self.step2_trains), "train": {"per_device_batch_size": self.step2_batch, **train}},
            "step3": {"lr": self.step3_lr, "epochs": self.step3_epochs, "group_lr": {"bridge": self.bridge_lr},
                      "num_candidates": self._candidates(split, num_unseen),
                      "train": {**train, "per_device_batch_size": self.step3_batch, "weight_decay": 0.0,
                                "max_grad_norm": 1.0, "warmup_ratio": 0.03}},
        }, "<demo sugar arm>")


    def _candidates(self, split: str, num_unseen: int | None) -> int | None:
        if self.step3_candidates != "unseen":
            return self.step3_candidates
        if num_unseen is None:
            from ..synth import get_split
            num_unseen = len(get_split(split).unseen)
        return max(2, num_unseen)


@dataclass
class SugarArmResult:
    """What the arm measured (fractions), where its files are, and how long it took."""

    unseen_top1: float
    unseen_top1_generate: float | None
    seen_top1: float
    transfer_top1: dict[str, float]
    chance_unseen: float
    chance_seen: float
    num_unseen: int
    num_seen: int
    checkpoint: Path
    results: dict = field(repr=False, default_factory=dict)
    seconds: float = 0.0
    timings: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["checkpoint"] = str(self.checkpoint)
        return d


def _spread(items: list, limit: int | None) -> list:
    from ..eval.recognition import subsample
    return list(items) if limit is None else subsample(items, limit)


def _keep_or_clear_runs(runs: Path, cfg) -> None:
    """Keep the steps an earlier run of the same recipe left in ``runs`` (to resume); anything
    written by another recipe is removed."""
    import yaml

    saved = runs / "config.yaml"
    if saved.is_file() and yaml.safe_load(saved.read_text()) == yaml.safe_load(yaml.safe_dump(cfg.to_dict(),
                                                                                              sort_keys=False)):
        return
    shutil.rmtree(runs, ignore_errors=True)


def run_sugar_arm(train: Sequence, test_seen: Sequence, test_unseen: Sequence, seen: Sequence[str],
                  unseen: Sequence[str], out_dir: str | Path, seed: int = 0, settings: SugarArmSettings | None = None,
                  split: str = DEMO_SPLIT, progress: bool = False,
                  transfer_unseen: Sequence | None = None, resume: bool = False) -> SugarArmResult:
    """Train SUGAR on ``train`` and measure it; see the module docstring.

    Args:
        train, test_seen, test_unseen: the demo's samples (anything with ``.label`` and
            ``.sequence(topology)``, e.g. :class:`skeletonllm.synth.SyntheticSample`).
        seen, unseen: the split's classes (training never names an unseen class).
        out_dir: the arm's directory: ``runs/`` (Steps 2 and 3, the final checkpoint) and
            ``eval/`` (predictions and results files of every measurement).
        transfer_unseen: the unseen clips the transfer measures (default: the unseen clips
            measured in NTU-25).
        resume: keep what an interrupted run of the same recipe trained in ``runs/``: a finished
            Step 2 (or 3) is not trained again, a step killed half-way continues from its newest
            checkpoint (every 100 steps). Without it (and for another recipe) ``runs/`` starts over.
            The measurements are always made again.
    """
    from ..eval.recognition import run_mqa_evaluation
    from ..sugar.knowledge import load_knowledge
    from ..sugar.model import SugarModel
    from ..sugar.training import SugarTrainingData, final_checkpoint, run_sugar

    st = settings or SugarArmSettings()
    out_dir = Path(out_dir)
    cfg = st.run_config(out_dir / "runs", seed, split, num_unseen=len(unseen))
    shutil.rmtree(out_dir / "eval", ignore_errors=True)      # the measurements are made again
    if resume:
        _keep_or_clear_runs(out_dir / "runs", cfg)
    else:
        shutil.rmtree(out_dir / "runs", ignore_errors=True)
    t0 = time.time()
    threads = torch.get_num_threads()
    torch.set_num_threads(st.threads)
    timings = {}
    try:
        data = SugarTrainingData([(s.sequence("ntu25"), s.label) for s in train], list(seen), list(unseen))
        run_sugar(cfg, "all", resume=resume, progress=progress, cpu=True, data=data, knowledge=load_knowledge("synth"))
        timings["train"] = round(time.time() - t0, 1)
        t = time.time()
        ckpt = final_checkpoint(cfg)
        model = SugarModel.from_pretrained(ckpt, device="cpu").eval()
        unseen_clips, seen_clips = _spread(list(test_unseen), st.eval_limit), _spread(list(test_seen), st.eval_limit)
        method = "SUGAR demo (CTR-GCN + TQP + tiny LLaMA)"

        reference = [s.sequence("ntu25") for s in reference_clips(train)] if st.calibrate else None

        def measure(name, clips, candidates, topology="ntu25", mode="score", task="recognition", extra=None,
                    calibrated=False):
            plain = st.calibrate and mode == "score" and not calibrated and task == "recognition"
            base = {"task": task, "method": method + (", plain likelihood ranking" if plain else ""),
                    "dataset": f"Synthetic motions, {TOPOLOGY_NAMES[topology]}",
                    **(extra or {})}
            if task == "recognition":
                base["split"] = name
            how = f"{mode}-calibrated" if calibrated else mode
            return run_mqa_evaluation(model, [s.sequence(topology) for s in clips], list(candidates), base,
                                      out_dir / "eval" / f"{name}-{topology}-{how}".replace(" ", "_"), mode=mode,
                                      batch_size=16, seed=seed, resume=False, progress=progress, max_new_tokens=24,
                                      title=f"SUGAR demo: {name} ({how})",
                                      reference=reference if calibrated else None)

        # The demo's ranking (calibrated when ``calibrate``, as for the SkeletonLLM arms) and the plain one.
        results = {"unseen_score": measure(f"{split} unseen", unseen_clips, unseen, calibrated=st.calibrate),
                   "seen_score": measure(f"{split} seen (held-out clips)", seen_clips, seen, calibrated=st.calibrate)}
        if st.calibrate:
            results["unseen_score_plain"] = measure(f"{split} unseen", unseen_clips, unseen)
            results["seen_score_plain"] = measure(f"{split} seen (held-out clips)", seen_clips, seen)
        if st.generate:
            results["unseen_generate"] = measure(f"{split} unseen", unseen_clips, unseen, mode="generate")
        transfer_clips = unseen_clips if transfer_unseen is None else list(transfer_unseen)
        for topo in st.transfer:
            results[f"transfer_{topo}"] = measure(
                f"{split} unseen", transfer_clips, unseen, topology=topo, task="transfer",
                extra={"source": "Synthetic motions (NTU-25)", "target": f"Synthetic motions ({TOPOLOGY_NAMES[topo]})",
                       "source_format": "ntu25", "target_format": topo})
        timings["evaluate"] = round(time.time() - t, 1)
    finally:
        torch.set_num_threads(threads)
    return SugarArmResult(
        unseen_top1=results["unseen_score"]["top1"],
        unseen_top1_generate=results["unseen_generate"]["top1"] if "unseen_generate" in results else None,
        seen_top1=results["seen_score"]["top1"],
        transfer_top1={topo: results[f"transfer_{topo}"]["top1"] for topo in st.transfer},
        chance_unseen=1.0 / len(unseen), chance_seen=1.0 / len(seen), num_unseen=len(unseen_clips),
        num_seen=len(seen_clips), checkpoint=ckpt, results=results, seconds=round(time.time() - t0, 1),
        timings=timings)


def demo_clips(split: str = DEMO_SPLIT, seed: int = 0, train_per_class: int = 10, test_per_class: int = 4):
    """The demo's clips, as :mod:`skeletonllm.demo.data` draws them: ``(train, test_seen, test_unseen,
    seen, unseen)``; unseen classes get ``train_per_class + test_per_class`` clips each, none trained on."""
    from ..synth import ALL_TOPOLOGIES, SyntheticMotionSet

    ds = SyntheticMotionSet.for_split(split, num_per_class=train_per_class + test_per_class, seed=seed,
                                      topologies=ALL_TOPOLOGIES)
    train = [ds[i] for i in ds.seen_indices() if ds[i].k < train_per_class]
    test_seen = [ds[i] for i in ds.seen_indices() if ds[i].k >= train_per_class]
    test_unseen = [ds[i] for i in ds.unseen_indices()]
    return train, test_seen, test_unseen, list(ds.split.seen), list(ds.split.unseen)


def run_sugar_arm_on_split(out_dir: str | Path, split: str = DEMO_SPLIT, seed: int = 0,
                           settings: SugarArmSettings | None = None, train_per_class: int = 10,
                           test_per_class: int = 4, progress: bool = False) -> SugarArmResult:
    """The arm on freshly generated demo data (the standalone ``skeletonllm sugar demo``)."""
    t = time.time()
    train, test_seen, test_unseen, seen, unseen = demo_clips(split, seed, train_per_class, test_per_class)
    data_s = time.time() - t
    result = run_sugar_arm(train, test_seen, test_unseen, seen, unseen, out_dir, seed, settings, split, progress)
    result.timings["data"] = round(data_s, 1)
    return result


__all__ = ["SugarArmResult", "SugarArmSettings", "TRANSFER_TOPOLOGIES", "demo_clips", "run_sugar_arm",
           "run_sugar_arm_on_split"]
