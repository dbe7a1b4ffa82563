"""``skeletonllm demo``: the whole SkeletonLLM method, end to end, on a CPU, in minutes.

No pretrained weights and no public data set are needed: the demo brings its own world,
procedural motions (:mod:`skeletonllm.synth`) whose classes are compositions of a movement,
a body part and a side. Read :func:`run_demo` top to bottom:

1. data: a zero-shot split (``synth_24_6``: 24 seen classes for training, 6 unseen ones, each
   a new combination of seen parts), generated once and cached in ``DIR/data``;
2. head start: a tiny InternVL pretrained on frames of seen-class training clips drawn by frozen
   renderers (the fixed velocity stick figure and DrAction as initialised)
   with movement-side-part descriptions, never an unseen class (:mod:`skeletonllm.demo.pretrain`);
3. the four-stage curriculum through the project's trainer, once per renderer of the ablation
   (DrAction; DrAction without NFM; fixed velocity, projection and JTM renderers), same
   steps, same seed (:mod:`skeletonllm.demo.ablation`). The generator plays the teacher:
   Disc-FT's hard negatives are the classes sharing most movement / part / side with the true
   class, and CR-Distill's rationales are the ones it writes for each clip, ending in
   ``Label: <action>``;
4. evaluation on held-out clips (:mod:`skeletonllm.demo.evaluate`): open-vocabulary top-1 on
   the unseen classes next to chance, seen-class accuracy, cross-format transfer, the
   ablation, captioning and QA;
5. ``DIR/report.md`` + ``report.html`` (renders, loss curves, tables) and ``DIR/results.json``;
6. ``DIR`` itself is the trained SkeletonLLM checkpoint (DrAction arm):
   ``SkeletonLLM.from_pretrained(DIR)``, ``skeletonllm recognize FILE --checkpoint DIR ...``.
"""
from __future__ import annotations

import dataclasses
import json
import os
import platform
import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..atomic import atomic_write_text
from .ablation import ARM_TITLES, ARMS, ArmRun, CurriculumSettings, train_arm
from .pretrain import PretrainSettings, pretrain_backbone

MARKER = "demo.json"          # marks a directory as a demo output (safe to refresh)
MAIN_ARM = "draction"
TRANSFER_FORMATS = (("smpl22", "SMPL-22"), ("kinect_v1_20", "Kinect v1-20"), ("coco17", "COCO-17 (2D)"))
TOPOLOGY_NAMES = {"ntu25": "NTU-25", **dict(TRANSFER_FORMATS)}


@dataclass
class DemoSettings:
    """What the demo runs. :meth:`full` is the default; :meth:`quick` the test-suite size.

    Attributes:
        mode: ``"full"`` or ``"quick"`` (a label for the report).
        train_per_class / test_per_class: clips per seen class for training / held out.
            Unseen classes get as many clips in all, none of them trained on.
        arms: the renderers of the ablation (:data:`skeletonllm.demo.ablation.ARMS`); the first
            DrAction arm is the model the demo keeps.
        eval_limit / qa_limit: clips per evaluation (spread evenly); None = all held-out clips.
        workers: arms trained and evaluated at once, each in its own process (one per core).
        threads: torch threads per process.
    """

    seed: int = 0
    mode: str = "full"
    split: str = "synth_24_6"
    train_per_class: int = 12
    test_per_class: int = 4
    pretrain: PretrainSettings = field(default_factory=PretrainSettings)
    curriculum: CurriculumSettings = field(default_factory=CurriculumSettings)
    arms: tuple[str, ...] = tuple(ARMS)
    caption_tokens: int = 40
    eval_limit: int | None = None
    qa_limit: int | None = 48
    workers: int = 2
    threads: int = 1

    @classmethod
    def full(cls, seed: int = 0) -> "DemoSettings":
        return cls(seed=seed)

    @classmethod
    def quick(cls, seed: int = 0) -> "DemoSettings":
        """Every step and every report section, on a handful of clips and steps (< 2 minutes)."""
        return cls(seed=seed, mode="quick", train_per_class=2, test_per_class=1,
                   pretrain=PretrainSettings(vision_steps=20, short_steps=12, language_steps=12, batch_size=4),
                   curriculum=CurriculumSettings(max_steps=3, recognition_epochs=1), caption_tokens=8,
                   eval_limit=12, qa_limit=4)

    @property
    def quick_mode(self) -> bool:
        return self.mode == "quick"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass
class DemoSummary:
    """What :func:`run_demo` returns (and the CLI prints)."""

    out_dir: Path
    report_md: Path
    report_html: Path
    results_json: Path
    headline: dict
    seconds: float
    timings: dict


# -- helpers -------------------------------------------------------------------------------------

def _prepare_out_dir(out_dir: Path) -> None:
    """Create ``out_dir``, or refresh a previous demo output in it (its data cache is kept)."""
    if out_dir.exists() and not out_dir.is_dir():
        raise FileExistsError(f"{out_dir}: exists and is not a directory")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not (out_dir / MARKER).is_file():
        raise FileExistsError(f"{out_dir}: not empty and not a previous demo output (no {MARKER}); "
                              "choose another --out")
    out_dir.mkdir(parents=True, exist_ok=True)
    for sub in ("runs", "eval", "media"):
        shutil.rmtree(out_dir / sub, ignore_errors=True)
    # Marked at once, so that a run that fails half-way can be run again into the same place.
    if not (out_dir / MARKER).is_file():
        atomic_write_text(out_dir / MARKER, json.dumps({"status": "running"}) + "\n")


def _load_or_generate(settings: DemoSettings, cache: Path):
    """The synthetic set (all four topologies), from ``cache`` when it was made with these settings."""
    from ..synth import ALL_TOPOLOGIES, SyntheticMotionSet

    n = settings.train_per_class + settings.test_per_class
    index = cache / "index.json"
    if index.is_file():
        try:
            meta = json.loads(index.read_text())
            same = (meta.get("seed"), meta.get("num_per_class"), (meta.get("split") or {}).get("name"),
                    sorted(meta.get("topologies", []))) == (settings.seed, n, settings.split, sorted(ALL_TOPOLOGIES))
            if same:
                return SyntheticMotionSet.load(cache), True
        except (OSError, ValueError, KeyError):
            pass
    ds = SyntheticMotionSet.for_split(settings.split, num_per_class=n, seed=settings.seed, topologies=ALL_TOPOLOGIES)
    ds.save(cache)
    return ds, False


def _training_data(train, ds):
    """The trainer's view of the training clips: NTU-25 sequences with their id, captions and QA;
    the generator's rationales (the teacher's) and hard negatives (the classes most alike in
    movement, part and side, mined over all classes; Disc-FT keeps the seen ones)."""
    from ..synth import similar_classes
    from ..train.trainer import TrainingData

    seqs, rationales = [], {}
    for s in train:
        seq = s.sequence("ntu25")
        sid = f"synth-{ds.split.name}-{ds.seed}-{s.index}"
        # Stage 3 mixes captions and QA into CR-Distill: every clip brings its rationale, and
        # either a caption target (even k) or one question (odd k; the four types in turn), which
        # keeps the stage at 2 items per clip.
        q = s.qa[(s.k // 2) % len(s.qa)]
        qa = [{"question": q.question, "options": list(q.options), "answer": q.options[q.answer]}] if s.k % 2 else []
        captions = list(s.captions) if s.k % 2 == 0 else []
        seqs.append(dataclasses.replace(seq, metadata={**seq.metadata, "sample_id": sid, "qa": qa,
                                                       "captions": captions}))
        rationales[sid] = {"id": sid, "label": s.label, "rationale": s.rationale}
    classes = list(ds.split.classes)
    neighbors = {c: similar_classes(c, classes, 5) for c in classes}
    return TrainingData(seqs, classes, list(ds.split.seen), list(ds.split.unseen), rationales, neighbors)


def _spread(items: list, limit: int | None) -> list:
    if limit is None or limit >= len(items):
        return list(items)
    idx = np.unique(np.linspace(0, len(items) - 1, limit).round().astype(int))
    return [items[i] for i in idx]


def install_checkpoint(src: Path, dst: Path) -> None:
    """Copy a ``save_pretrained`` directory's files into ``dst`` (which holds other files too),
    each by an atomic rename, ``config.json`` last: a reader sees the old checkpoint or the new."""
    from ..atomic import TMP_PREFIX
    names = sorted((p.name for p in src.iterdir() if p.name != "COMPLETE"), key=lambda n: n == "config.json")
    for name in names:
        tmp = dst / f"{TMP_PREFIX}{name}"
        shutil.rmtree(tmp, ignore_errors=True)
        (shutil.copytree if (src / name).is_dir() else shutil.copy2)(src / name, tmp)
        target = dst / name
        if target.is_dir():
            old = dst / f"{TMP_PREFIX}{name}.old"
            shutil.rmtree(old, ignore_errors=True)
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)


class _Clock:
    def __init__(self):
        self.t0 = time.time()
        self.timings: dict[str, float] = {}

    def lap(self, name: str, since: float) -> float:
        self.timings[name] = round(time.time() - since, 1)
        return self.timings[name]


# -- the clips ----------------------------------------------------------------------------------

@dataclass
class DemoData:
    """The synthetic set and its three parts: training clips (seen classes), held-out clips of
    seen classes, clips of unseen classes (none of which is ever trained on)."""

    ds: object
    train: list
    test_seen: list
    test_unseen: list
    cached: bool = False

    @classmethod
    def prepare(cls, settings: DemoSettings, cache: Path) -> "DemoData":
        ds, cached = _load_or_generate(settings, cache)
        n = settings.train_per_class
        return cls(ds, [ds[i] for i in ds.seen_indices() if ds[i].k < n],
                   [ds[i] for i in ds.seen_indices() if ds[i].k >= n], [ds[i] for i in ds.unseen_indices()], cached)

    @property
    def seen(self) -> list[str]:
        return list(self.ds.split.seen)

    @property
    def unseen(self) -> list[str]:
        return list(self.ds.split.unseen)


# -- one arm: curriculum + evaluation (runs in a worker process when workers > 1) ------------------

@dataclass
class ArmJob:
    arm: str
    out_dir: Path
    backbone_dir: Path
    settings: DemoSettings
    progress: bool = True


def _configure_process(threads: int) -> None:
    # The tiny model's tensors are too small to gain from intra-op threads, and on a machine
    # whose cores are busy two threads ran 5-10x slower than one (OpenMP spin-waiting).
    torch.set_num_threads(max(1, threads))
    from transformers.utils import logging as hf_logging
    hf_logging.disable_progress_bar()   # a "Loading weights" bar per stage would drown the demo's own


def run_arm(job: ArmJob, events=None) -> tuple[str, ArmRun, dict]:
    """Train one arm through the curriculum and evaluate it; ``events`` (a queue) gets
    ``(arm, stage name)`` after each stage and ``(arm, "evaluated")`` at the end."""
    _configure_process(job.settings.threads)
    st = job.settings
    data = DemoData.prepare(st, job.out_dir / "data")
    notify = (lambda what: events.put((job.arm, what))) if events is not None else None
    run = train_arm(job.arm, _training_data(data.train, data.ds), job.out_dir / "runs" / job.arm, job.backbone_dir,
                    st.pretrain.image_size, st.pretrain.num_frames, st.pretrain.frame_fill, st.curriculum, st.seed,
                    data.ds.split.name, progress=job.progress, on_stage=notify)
    t = time.time()
    result = evaluate_arm(job.arm, run.final_dir, data, st, job.out_dir, full=job.arm == MAIN_ARM,
                          progress=job.progress)
    result["seconds"] = round(time.time() - t, 1)
    if notify is not None:
        notify("evaluated")
    return job.arm, run, result


def evaluate_arm(arm: str, final_dir: Path, data: DemoData, settings: DemoSettings, out_dir: Path, full: bool,
                 progress: bool) -> dict:
    """An arm's numbers on held-out clips: unseen classes (likelihood and greedy), seen classes;
    with ``full`` also cross-format transfer, captioning, QA and example answers."""
    from ..mllm import prompts as P
    from ..mllm.model import SkeletonLLM
    from ..skeleton import collate_sequences
    from . import evaluate as E

    F = settings.pretrain.num_frames
    unseen, seen = data.unseen, data.seen
    unseen_clips = _spread(data.test_unseen, settings.eval_limit)
    seen_clips = _spread(data.test_seen, settings.eval_limit)
    unseen_seqs = [s.sequence("ntu25") for s in unseen_clips]
    dataset, method = "Synthetic motions, NTU-25", f"SkeletonLLM demo, {ARM_TITLES[arm]}"
    common = dict(seed=settings.seed, progress=progress, dataset=dataset, method=method)
    model = SkeletonLLM.from_pretrained(final_dir, device="cpu").eval()
    where = out_dir / "eval" / arm
    res = {"num_unseen_clips": len(unseen_clips), "num_seen_clips": len(seen_clips)}
    for mode in ("score", "generate"):
        res[f"unseen_{mode}"] = E.recognition(model, unseen_seqs, unseen, where / f"unseen-{mode}", mode=mode,
                                              split=f"{settings.split} unseen", **common)
    res["seen_score"] = E.recognition(model, [s.sequence("ntu25") for s in seen_clips], seen, where / "seen-score",
                                      mode="score", split=f"{settings.split} seen (held-out clips)", **common)
    if not full:
        return res
    res["transfer"] = {}
    for topo, name in TRANSFER_FORMATS:
        res["transfer"][topo] = E.recognition(
            model, [s.sequence(topo) for s in unseen_clips], unseen, where / f"transfer-{topo}", mode="score",
            task="transfer", seed=settings.seed, progress=progress, dataset=f"Synthetic motions, {name}",
            method=method, extra={"source": "Synthetic motions (NTU-25)", "target": f"Synthetic motions ({name})",
                                  "source_format": "ntu25", "target_format": topo, "split": f"{settings.split} unseen"})
    res["captions"] = {}
    for name, clips in (("held-out seen", seen_clips), ("unseen", unseen_clips)):
        preds = E.captions(model, clips, F, max_new_tokens=settings.caption_tokens)
        step = max(1, len(clips) // 4)
        res["captions"][name] = {"metrics": E.caption_scores(preds, clips),
                                 "examples": [(s.label, s.captions[0], preds[s.index]) for s in clips[::step][:4]]}
    half = settings.qa_limit // 2 if settings.qa_limit else None
    qa_clips = _spread(seen_clips, half) + _spread(unseen_clips, half)
    res["qa"], res["qa_clips"] = E.qa_scores(model, qa_clips, F), len(qa_clips)
    shown = unseen_clips[:: max(1, len(unseen_clips) // 6)][:6]
    batch = collate_sequences([s.sequence("ntu25") for s in shown], num_frames=F, max_bodies=2)
    res["answers"] = list(zip([s.label for s in shown], model.generate(batch, P.mqa_prompt(unseen), max_new_tokens=16),
                              model.generate(batch, P.student_prompt(), max_new_tokens=96)))
    return res


def _run_arms(jobs: list[ArmJob], workers: int, progress: bool, say) -> dict[str, tuple[ArmRun, dict]]:
    """Every arm, ``workers`` at a time in separate processes (or here, one after the other)."""
    out = {}
    if workers <= 1 or len(jobs) == 1:
        for k, job in enumerate(jobs):
            say(f"      arm {k + 1}/{len(jobs)}: {ARM_TITLES[job.arm]}")
            arm, run, res = run_arm(job)
            out[arm] = (run, res)
        return out
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from queue import Empty

    from tqdm.auto import tqdm

    ctx = mp.get_context("spawn")
    with ctx.Manager() as manager:
        events = manager.Queue()
        total = sum(5 for _ in jobs)                      # 4 stages + the evaluation per arm
        bar = tqdm(total=total, desc=f"curriculum + evaluation, {len(jobs)} arms x {workers} processes",
                   unit="step", disable=not progress, dynamic_ncols=True)
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            futures = {pool.submit(run_arm, dataclasses.replace(job, progress=False), events): job.arm for job in jobs}
            pending = set(futures)
            while pending:
                try:
                    arm, what = events.get(timeout=0.5)
                    bar.update(1)
                    bar.set_postfix_str(f"{arm}: {what}")
                except Empty:
                    pass
                for f in [f for f in pending if f.done()]:
                    pending.discard(f)
                    arm, run, res = f.result()
                    out[arm] = (run, res)
                    line = (f"      {ARM_TITLES[arm]}: trained in {run.seconds:.0f} s, unseen top-1 "
                            f"{100 * res['unseen_score']['top1']:.1f} %")
                    bar.write(line) if progress else say(line)
            while not events.empty():
                events.get()
                bar.update(1)
        bar.close()
    return {job.arm: out[job.arm] for job in jobs}


# -- the run -------------------------------------------------------------------------------------

def run_demo(out_dir: str | os.PathLike = "skeletonllm-demo", settings: DemoSettings | None = None,
             progress: bool = True, say: Callable[[str], None] = print) -> DemoSummary:
    """Run the demo into ``out_dir``; see the module docstring. ``say`` prints progress lines."""
    from ..mllm.model import SkeletonLLM  # noqa: F401  (fail early if the model stack cannot load)
    from ..synth import check_compositional
    from .evaluate import attribute_probes
    from .media import draw_media
    from .report import headline_numbers, write_outputs

    settings = settings or DemoSettings.full()
    if MAIN_ARM not in settings.arms:
        raise ValueError(f"the demo keeps the '{MAIN_ARM}' arm as its model: include it in settings.arms")
    out_dir = Path(out_dir).resolve()
    _prepare_out_dir(out_dir)
    threads_before = torch.get_num_threads()
    from transformers.utils import logging as hf_logging
    hf_bars = hf_logging.is_progress_bar_enabled()
    _configure_process(settings.threads)
    clock = _Clock()
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    try:
        # 1. Data ----------------------------------------------------------------------------------
        t = time.time()
        data = DemoData.prepare(settings, out_dir / "data")
        composition = check_compositional(data.ds.split)
        say(f"[1/6] data: {len(data.train)} training clips of {len(data.seen)} seen classes, {len(data.test_seen)} "
            f"held-out seen clips, {len(data.test_unseen)} clips of {len(data.unseen)} unseen classes "
            f"({'cached' if data.cached else 'generated'}, {clock.lap('data', t):.1f} s)")

        # 2. Head start: the tiny backbone learns to see skeleton drawings and name body parts ----
        t = time.time()
        say("[2/6] head start: pretraining the tiny InternVL on frames of seen-class clips (frozen renderers: "
            + ", ".join(settings.pretrain.renderers) + ")")
        pre = pretrain_backbone(data.train, data.seen, settings.pretrain, out_dir / "runs" / "backbone",
                                settings.seed, progress=progress)
        probe_model = _backbone_model(pre.backbone_dir, settings)
        probes = {name: attribute_probes(probe_model, _spread(clips, settings.eval_limit), data.seen,
                                         settings.pretrain.num_frames)
                  for name, clips in (("held-out seen", data.test_seen), ("unseen", data.test_unseen))}
        del probe_model
        say(f"      done in {clock.lap('head start', t):.1f} s; attribute questions on unseen clips: "
            + ", ".join(f"{k} {100 * probes['unseen'][k]:.0f} % (chance {100 * probes['unseen'][k + '_chance']:.0f} %)"
                        for k in ("movement", "side", "part")))

        # 3 + 4. The curriculum once per renderer, then each arm's evaluation on held-out clips ----
        t = time.time()
        say(f"[3/6] curriculum ({len(settings.arms)} renderers: {', '.join(settings.arms)}) and "
            "[4/6] evaluation on held-out clips")
        jobs = [ArmJob(arm, out_dir, pre.backbone_dir, settings, progress) for arm in settings.arms]
        done = _run_arms(jobs, settings.workers, progress, say)
        arms = {arm: run for arm, (run, _) in done.items()}
        evaluation = {"arms": {arm: res for arm, (_, res) in done.items()},
                      "chance_unseen": 1.0 / len(data.unseen), "chance_seen": 1.0 / len(data.seen)}
        for arm, run in arms.items():
            clock.timings[f"curriculum: {arm}"] = round(run.seconds, 1)
            clock.timings[f"evaluation: {arm}"] = evaluation["arms"][arm]["seconds"]
        clock.lap(f"curriculum + evaluation, all arms ({settings.workers} processes)", t)

        # 5. Checkpoint, renders, results, report --------------------------------------------------
        t = time.time()
        say("[5/6] writing the checkpoint, renders, results and report")
        install_checkpoint(arms[MAIN_ARM].final_dir, out_dir)
        media = draw_media(out_dir / "media", data.ds, data.test_unseen, arms, pre, settings)
        clock.lap("report", t)
        total = time.time() - clock.t0
        info = {"settings": settings.to_dict(), "seconds": round(total, 1), "timings": clock.timings,
                "load_average_at_start": load_before,
                "load_average_at_end": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
                "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch_threads": settings.threads,
                            "workers": settings.workers, "torch": torch.__version__},
                "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "data_cached": data.cached, "composition": composition}
        headline = headline_numbers(evaluation)
        md, page, results_path = write_outputs(out_dir, settings, info, data.ds, data.train, data.test_seen,
                                               data.test_unseen, pre, probes, arms, evaluation, media, headline)
        atomic_write_text(out_dir / MARKER, json.dumps({"headline": headline, **info}, indent=2, default=str) + "\n")
        say(f"[6/6] done in {total:.0f} s")
        return DemoSummary(out_dir, md, page, results_path, headline, total, clock.timings)
    finally:
        torch.set_num_threads(threads_before)
        if hf_bars:
            hf_logging.enable_progress_bar()


def _backbone_model(backbone_dir: Path, settings: DemoSettings):
    """The pretrained backbone behind the pretraining renderers (for the attribute probes)."""
    from ..mllm.model import SkeletonLLM, SkeletonLLMConfig
    p = settings.pretrain
    from .pretrain import StyleMix, renderer_options
    config = SkeletonLLMConfig(backbone=str(backbone_dir), renderer=p.renderers[0], image_size=p.image_size,
                               renderer_options=renderer_options(p), num_frames=p.num_frames, lora=False, device="cpu")
    renderer = StyleMix(p, settings.seed + 1)      # the same frozen renderers as in pretraining
    return SkeletonLLM(config, renderer=renderer).eval()


__all__ = ["ArmJob", "DemoData", "DemoSettings", "DemoSummary", "MAIN_ARM", "evaluate_arm", "install_checkpoint",
           "run_arm", "run_demo"]
