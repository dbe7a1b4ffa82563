"""``skeletonllm demo``: the whole SkeletonLLM method, end to end, on a CPU, in minutes.

No pretrained weights and no public data set are needed: the demo brings its own world,
procedural motions (:mod:`skeletonllm.synth`) whose classes are compositions of a movement,
a body part and a side. Read :func:`run_seed` and :func:`run_demo` top to bottom:

1. data: a zero-shot split (``synth_31_13``: 31 seen classes for training, 13 unseen ones, each
   a new combination of seen parts; 14 classes come in pairs told apart only by depth, speed or
   which crossing arm is in front), generated once and cached in ``DIR/data``;
2. head start: a tiny InternVL pretrained on frames of seen-class training clips drawn by every
   arm's starting renderer in equal shares, with movement-side-part descriptions, never an
   unseen class (:mod:`skeletonllm.demo.pretrain`);
3. the renderer study: the four-stage curriculum through the project's trainer, once per arm
   (DrAction; DrAction without NFM; fixed velocity, projection and JTM renderers), same steps,
   same seed (:mod:`skeletonllm.demo.ablation`). Each arm is evaluated three times on
   held-out clips: as it starts (the head start reading the arm's renderer, frozen), after the
   render warm-up (only the renderer trained, with the recognition loss: DrAction arms), and
   after the curriculum. The generator plays the teacher: Disc-FT's hard negatives are the
   classes sharing most movement / part / side with the true class, and CR-Distill's
   rationales are the ones it writes for each clip, ending in ``Label: <action>``;
4. for the demo's own model (DrAction): cross-format transfer, captioning and QA;
5. ``DIR/report.md`` + ``report.html`` (renders, what training changed in DrAction's pictures,
   loss curves, tables) and ``DIR/results.json``;
6. ``DIR`` itself is the trained SkeletonLLM checkpoint (DrAction arm):
   ``SkeletonLLM.from_pretrained(DIR)``, ``skeletonllm recognize FILE --checkpoint DIR ...``;
   ``DIR/sugar`` is the SUGAR arm's (``skeletonllm recognize FILE --checkpoint DIR/sugar``). Both
   remember the split's classes: ``recognize`` without candidates offers its unseen ones.

Each arm's outcome is written atomically to ``DIR/arms/<arm>.json``; :func:`run_seed` with
``resume`` skips the arms (and the head start, and the arm's finished stages) already done,
which is how ``skeletonllm demo-study`` (:mod:`skeletonllm.demo.study`) picks up a killed run.

The steps live in modules of their own: the settings (:mod:`~skeletonllm.demo.settings`), the
clips (:mod:`~skeletonllm.demo.data`), one arm as a job (:mod:`~skeletonllm.demo.arm_jobs`), the
renders (:mod:`~skeletonllm.demo.media`) and the report (:mod:`~skeletonllm.demo.report`).
"""
from __future__ import annotations

import json
import os
import platform
import shutil
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import torch

from ..atomic import atomic_write_text
from .ablation import ARM_TITLES, ARMS, MAIN_ARM, ArmRun
from .arm_jobs import (ARM_RUNNERS, ARMS_DIR, ArmJob, _configure_process, arm_result_path, evaluate_checkpoint,
                       load_arm_result, run_arm, run_curriculum_arm, run_sugar_arm_job, training_seconds_before)
from .data import (DemoData, _training_data,  # noqa: F401  (_training_data: re-exported, scripts/demo_sweep.py)
                   other_motion_clips)
from .pretrain import PretrainResult, load_pretrained, pretrain_backbone
from .settings import DemoSettings
from .workers import ArmWorkers

MARKER = "demo.json"          # marks a directory as a demo output (safe to refresh)
SUGAR_DIR = "sugar"           # the SUGAR arm's checkpoint, where a user finds it


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

def _prepare_out_dir(out_dir: Path, refresh: bool = True) -> None:
    """Create ``out_dir``; a previous demo output there is refreshed (its data cache is kept),
    or with ``refresh=False`` kept to be resumed."""
    if out_dir.exists() and not out_dir.is_dir():
        raise FileExistsError(f"{out_dir}: exists and is not a directory")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not (out_dir / MARKER).is_file():
        raise FileExistsError(f"{out_dir}: not empty and not a previous demo output (no {MARKER}); "
                              "choose another --out")
    out_dir.mkdir(parents=True, exist_ok=True)
    if refresh:
        for sub in ("runs", "eval", "media", ARMS_DIR, SUGAR_DIR):
            shutil.rmtree(out_dir / sub, ignore_errors=True)
    # Marked at once, so that a run that fails half-way can be run again into the same place.
    if not (out_dir / MARKER).is_file():
        atomic_write_text(out_dir / MARKER, json.dumps({"status": "running"}) + "\n")


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


def _cpu_model() -> str:
    """The CPU's model name (Linux), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _machine(settings: DemoSettings) -> dict:
    return {"platform": platform.platform(), "processor": _cpu_model(), "cpus": os.cpu_count(),
            "torch_threads": settings.threads, "workers": settings.workers, "torch": torch.__version__}


# -- one seed: data, head start, every arm ----------------------------------------------------------

@dataclass
class SeedRun:
    """Everything one seed produced (what the report and the study read)."""

    data: DemoData
    pretrained: PretrainResult
    arms: dict[str, dict]               # arm -> outcome (``run``, ``evaluations``, ``seconds``)
    timings: dict[str, float]
    composition: dict

    def arm_run(self, arm: str) -> ArmRun:
        return ArmRun.from_dict(self.arms[arm]["run"])

    @property
    def curriculum_arms(self) -> list[str]:
        """The arms that ran the SkeletonLLM curriculum with a renderer (not SUGAR)."""
        return [a for a in self.arms if ARMS[a].kind == "curriculum"]


def arm_order(arms) -> list[str]:
    """The order the arms are handed to the workers, so that two workers finish at about the same
    time (results keep the settings' order). An arm that reads no frames (SUGAR) first: it needs no
    head start, and with two workers it trains beside it, on the core the head start leaves idle.
    Then the learnable renderers (they train one more stage and are evaluated once more), then
    the fixed ones with JTM (the slowest of them) second, so that the worker that finishes its
    learnable arm first takes a short fixed arm, the other JTM, and the first one the last arm
    (with seed 14's arm times on the AMD machine: 312 s against 331 s with JTM first; 317 s measured)."""
    order = sorted(arms, key=lambda a: (ARMS[a].kind == "curriculum", not ARMS[a].learns))
    if "jtm" in order:
        order.remove("jtm")
        fixed = [a for a in order if ARMS[a].kind == "curriculum" and not ARMS[a].learns]
        order.insert(order.index(fixed[0]) + 1 if fixed else len(order), "jtm")
    return order


def run_seed(out_dir: Path, settings: DemoSettings, *, extras: bool, resume: bool, progress: bool = True,
             say: Callable[[str], None] = print, label: str = "") -> SeedRun:
    """Data, head start and every arm of ``settings.seed`` in ``out_dir``. With ``resume``, the
    head start and the arms already finished there are read back instead of run again."""
    from ..synth import check_compositional

    clock = _Clock()
    t = time.time()
    data = DemoData.prepare(settings, out_dir / "data")
    composition = check_compositional(data.ds.split)
    say(f"[1/6] {label}data: {len(data.train)} training clips of {len(data.seen)} seen classes, "
        f"{len(data.test_seen)} held-out seen clips, {len(data.test_unseen)} clips of {len(data.unseen)} unseen "
        f"classes ({'cached' if data.cached else 'generated'}, {clock.lap('data', t):.1f} s)")

    arms = {a: load_arm_result(out_dir, a) for a in settings.arms} if resume else {}
    todo = [a for a in settings.arms if arms.get(a) is None]
    todo = arm_order(todo)
    early = [a for a in todo if ARMS[a].kind != "curriculum"] if settings.workers > 1 else []
    with ArmWorkers(run_arm, settings.workers, progress, say, ARM_TITLES, label) as pool:
        for arm in early:
            pool.submit(ArmJob(arm, out_dir, None, settings, progress, extras))
        t = time.time()
        backbone = out_dir / "runs" / "backbone"
        pre = load_pretrained(backbone) if resume else None
        if pre is None:
            say(f"[2/6] {label}head start: pretraining the tiny InternVL on frames of seen-class clips drawn by "
                + ", ".join(settings.pretrain.renderers) + " in equal shares"
                + (f", with {settings.pretrain.other_motions} clips of each class outside the split"
                   if settings.pretrain.other_motions else "")
                + (f" (beside it: {', '.join(early)})" if early else ""))
            pre = pretrain_backbone(data.train, data.seen, settings.pretrain, backbone, settings.seed,
                                    progress=progress,
                                    other_samples=other_motion_clips(data.ds, settings.pretrain.other_motions))
            say(f"      done in {clock.lap('head start', t):.1f} s")
        else:
            say(f"[2/6] {label}head start: finished before, read back")
            clock.timings["head start"] = round(sum(pre.seconds.values()), 1)

        t = time.time()
        say(f"[3/6] {label}renderer study: {len(settings.arms)} arms ({', '.join(settings.arms)}), "
            + (f"{len(settings.arms) - len(todo)} finished before, " if len(todo) < len(settings.arms) else "")
            + "each renderer evaluated frozen, after the render warm-up (DrAction) and after the curriculum"
            + ("; SUGAR trained and evaluated on the same clips" if "sugar" in settings.arms else ""))
        for arm in todo:
            if arm not in early:
                pool.submit(ArmJob(arm, out_dir, pre, settings, progress, extras))
        arms.update(pool.wait())
    arms = {a: arms[a] for a in settings.arms}
    for arm, outcome in arms.items():
        for k, v in outcome["seconds"].items():
            clock.timings[f"{arm}: {k}"] = v
    clock.lap(f"renderer study, all arms ({settings.workers} processes)", t)
    return SeedRun(data, pre, arms, clock.timings, composition)


# -- the run -------------------------------------------------------------------------------------

def run_demo(out_dir: str | os.PathLike = "skeletonllm-demo", settings: DemoSettings | None = None,
             progress: bool = True, say: Callable[[str], None] = print) -> DemoSummary:
    """Run the demo into ``out_dir``; see the module docstring. ``say`` prints progress lines."""
    from ..mllm.model import SkeletonLLM  # noqa: F401  (fail early if the model stack cannot load)
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
    t0 = time.time()
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    try:
        seed_run = run_seed(out_dir, settings, extras=True, resume=False, progress=progress, say=say)
        data, pre, timings = seed_run.data, seed_run.pretrained, dict(seed_run.timings)

        # 4. How well the model reads its frames: its answers beside the linear pixel probe ----------
        main = seed_run.arms[MAIN_ARM]["evaluations"]
        frozen, final = main["frozen"], main["final"]
        say(f"[4/6] reading the frames (DrAction arm; its linear pixel probe in brackets): head start on unseen "
            "clips " + ", ".join(f"{k} {100 * frozen['attributes']['unseen'][k]:.0f} % "
                                 f"({100 * frozen['pixel_probe']['attributes'][k]['unseen']:.0f} %)"
                                 for k in ("movement", "side", "part"))
            + f"; after the curriculum ({'calibrated ' if settings.calibrate else ''}ranking), "
              f"seen top-1 {100 * final['seen_score']['top1']:.1f} % "
              f"({100 * final['pixel_probe']['seen_top1']:.1f} %), unseen {100 * final['unseen_score']['top1']:.1f} % "
              f"({100 * final['pixel_probe']['unseen_top1']:.1f} % composed)")

        # 5. Checkpoint, renders, results, report --------------------------------------------------
        t = time.time()
        say("[5/6] writing the checkpoint, renders, results and report")
        arms = {arm: seed_run.arm_run(arm) for arm in seed_run.curriculum_arms}
        install_checkpoint(arms[MAIN_ARM].final_dir, out_dir)
        if settings.calibrate:
            from ..skeleton.packing import write_npz
            from .evaluate import REFERENCE_FILE, reference_clips
            write_npz(out_dir / REFERENCE_FILE, {"what": "training clips that calibrate the demo's likelihood ranking"},
                      [c.sequence("ntu25") for c in reference_clips(data.train)], compress=True)
        if seed_run.arms.get("sugar"):
            (out_dir / SUGAR_DIR).mkdir(exist_ok=True)
            install_checkpoint(Path(seed_run.arms["sugar"]["checkpoint"]), out_dir / SUGAR_DIR)
        media = draw_media(out_dir / "media", data.ds, data.test_unseen, arms, pre, settings)
        timings["report"] = round(time.time() - t, 1)
        total = time.time() - t0
        evaluation = {"arms": {a: seed_run.arms[a]["evaluations"]["final"] for a in arms},
                      "phases": {a: seed_run.arms[a]["evaluations"] for a in arms},
                      "sugar": seed_run.arms.get("sugar"),
                      "chance_unseen": 1.0 / len(data.unseen), "chance_seen": 1.0 / len(data.seen)}
        info = {"settings": settings.to_dict(), "seconds": round(total, 1), "timings": timings,
                "load_average_at_start": load_before,
                "load_average_at_end": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
                "machine": _machine(settings),
                "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "data_cached": data.cached, "composition": seed_run.composition}
        headline = headline_numbers(evaluation)
        md, page, results_path = write_outputs(out_dir, settings, info, data.ds, data.train, data.test_seen,
                                               data.test_unseen, pre, arms, evaluation, media, headline)
        atomic_write_text(out_dir / MARKER, json.dumps({"headline": headline, **info}, indent=2, default=str) + "\n")
        say(f"[6/6] done in {total:.0f} s")
        return DemoSummary(out_dir, md, page, results_path, headline, total, timings)
    finally:
        torch.set_num_threads(threads_before)
        if hf_bars:
            hf_logging.enable_progress_bar()


__all__ = ["ARM_RUNNERS", "ArmJob", "arm_order", "DemoData", "DemoSettings", "DemoSummary", "SeedRun",
           "evaluate_checkpoint", "install_checkpoint", "load_arm_result", "run_arm", "run_demo", "run_seed"]

# At home in the modules above, importable from here as before the split.
__all__ += ["ARMS_DIR", "arm_result_path", "run_curriculum_arm", "run_sugar_arm_job",
            "training_seconds_before"]
