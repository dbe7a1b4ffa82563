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
from .ablation import ARM_TITLES, ARMS, MAIN_ARM, PHASE_TITLES, ArmRun, CurriculumSettings, train_arm
from .evaluate import TRANSFER_FORMATS
from .pretrain import PretrainResult, PretrainSettings, load_pretrained, pretrain_backbone, renderer_options
from .sugar_arm import SugarArmSettings, run_sugar_arm
from .workers import ArmWorkers

MARKER = "demo.json"          # marks a directory as a demo output (safe to refresh)
ARMS_DIR = "arms"             # one atomically written JSON per finished arm
SUGAR_DIR = "sugar"           # the SUGAR arm's checkpoint, where a user finds it


@dataclass
class DemoSettings:
    """What the demo runs. :meth:`full` is the default; :meth:`quick` the test-suite size.

    Attributes:
        mode: ``"full"`` or ``"quick"`` (a label for the report).
        train_per_class / test_per_class: clips per seen class for training / held out.
            Unseen classes get as many clips in all, none of them trained on.
        arms: the arms of the study (:data:`skeletonllm.demo.ablation.ARMS`): the renderers under
            the curriculum, and ``sugar``, SUGAR on the same clips; the ``draction`` arm is the
            model the demo keeps.
        sugar: the SUGAR arm's recipe (:class:`~skeletonllm.demo.sugar_arm.SugarArmSettings`).
        eval_limit: held-out seen clips per evaluation (spread evenly over the classes); None = all.
        unseen_limit: clips of unseen classes per evaluation (spread evenly); None = all.
        qa_limit: clips for the QA evaluation.
        caption_limit: clips per set (held-out seen, unseen) that the main model captions.
        transfer_limit: unseen clips per format of the cross-format transfer.
        workers: arms trained and evaluated at once, each in its own process (one per core).
        threads: torch threads per process.
    """

    seed: int = 0
    mode: str = "full"
    split: str = "synth_31_13"
    train_per_class: int = 10
    test_per_class: int = 4
    pretrain: PretrainSettings = field(default_factory=PretrainSettings)
    curriculum: CurriculumSettings = field(default_factory=CurriculumSettings)
    arms: tuple[str, ...] = tuple(ARMS)
    sugar: SugarArmSettings = field(default_factory=SugarArmSettings)
    caption_tokens: int = 40
    eval_limit: int | None = None
    unseen_limit: int | None = 104
    qa_limit: int | None = 48
    caption_limit: int | None = 48
    transfer_limit: int | None = 52
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
                   curriculum=CurriculumSettings(max_steps=3, recognition_epochs=1), sugar=SugarArmSettings.quick(),
                   caption_tokens=8,
                   eval_limit=12, unseen_limit=13, qa_limit=4)

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


def _training_data(train, ds, split=None):
    """The trainer's view of the training clips: NTU-25 sequences with their id, captions and QA;
    the generator's rationales (the teacher's) and hard negatives (the classes most alike in
    movement, part and side, mined over all classes; Disc-FT keeps the seen ones). ``split``:
    another :class:`~skeletonllm.synth.ClassSplit` than the data set's (a validation split of its
    seen classes)."""
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
    split = split or ds.split
    classes = list(split.classes)
    neighbors = {c: similar_classes(c, classes, 5) for c in classes}
    return TrainingData(seqs, classes, list(split.seen), list(split.unseen), rationales, neighbors)


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

    def eval_clips(self, settings: DemoSettings) -> tuple[list, list]:
        """The held-out clips every evaluation uses: ``(unseen, seen)``."""
        return _spread(self.test_unseen, settings.unseen_limit), _spread(self.test_seen, settings.eval_limit)


# -- evaluation of one checkpoint ------------------------------------------------------------------

def evaluate_checkpoint(model_dir: Path, title: str, data: DemoData, settings: DemoSettings, where: Path,
                        greedy: bool = False, extras: bool = False, progress: bool = False,
                        attributes: bool = False, probe: bool = False) -> dict:
    """A checkpoint's numbers on held-out clips: unseen and seen classes by likelihood ranking
    (with the spread of its answers), greedy decoding on the unseen ones with ``greedy``; with
    ``attributes`` its answers to the attribute questions (movement, side, part) on held-out seen
    and unseen clips; with ``probe`` the linear pixel probe on its renderer's frames of the same
    clips (:mod:`skeletonllm.demo.probe`); with ``extras`` also cross-format transfer,
    captioning, QA and example answers."""
    from ..mllm import prompts as P
    from ..mllm.model import SkeletonLLM
    from ..skeleton import collate_sequences
    from . import evaluate as E

    F = settings.pretrain.num_frames
    unseen, seen = data.unseen, data.seen
    unseen_clips, seen_clips = data.eval_clips(settings)
    unseen_seqs = [s.sequence("ntu25") for s in unseen_clips]
    dataset, method = "Synthetic motions, NTU-25", f"SkeletonLLM demo, {title}"
    common = dict(seed=settings.seed, progress=progress, dataset=dataset, method=method)
    model = SkeletonLLM.from_pretrained(model_dir, device="cpu").eval()
    res = {"num_unseen_clips": len(unseen_clips), "num_seen_clips": len(seen_clips)}
    for mode in ("score", "generate") if greedy else ("score",):
        res[f"unseen_{mode}"] = E.recognition(model, unseen_seqs, unseen, where / f"unseen-{mode}", mode=mode,
                                              split=f"{settings.split} unseen", **common)
    res["seen_score"] = E.recognition(model, [s.sequence("ntu25") for s in seen_clips], seen, where / "seen-score",
                                      mode="score", split=f"{settings.split} seen (held-out clips)", **common)
    for key in ("unseen", "seen"):
        res[f"{key}_answers"] = E.answer_spread(where / f"{key}-score")
        res[f"{key}_kinds"] = E.kind_accuracy(res[f"{key}_score"]["per_class"])
    if attributes:
        res["attributes"] = {"seen": E.attribute_probes(model, seen_clips, seen, F),
                             "unseen": E.attribute_probes(model, unseen_clips, seen, F)}
    if probe:
        from .probe import pixel_probe
        res["pixel_probe"] = pixel_probe(model.renderer, data.train, seen_clips, unseen_clips, unseen, F)
    if not extras:
        return res
    res["transfer"] = {}
    for topo, name in TRANSFER_FORMATS:
        res["transfer"][topo] = E.recognition(
            model, [s.sequence(topo) for s in _spread(unseen_clips, settings.transfer_limit)], unseen,
            where / f"transfer-{topo}", mode="score",
            task="transfer", seed=settings.seed, progress=progress, dataset=f"Synthetic motions, {name}",
            method=method, extra={"source": "Synthetic motions (NTU-25)", "target": f"Synthetic motions ({name})",
                                  "source_format": "ntu25", "target_format": topo, "split": f"{settings.split} unseen"})
    res["captions"] = {}
    for name, clips in (("held-out seen", seen_clips), ("unseen", unseen_clips)):
        clips = _spread(clips, settings.caption_limit)
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


# -- one arm (runs in a worker process when workers > 1) -------------------------------------------

@dataclass
class ArmJob:
    """What a worker needs to run one arm of one seed (``pretrained``: None for an arm that
    reads no frames, which may start before the head start has finished)."""

    arm: str
    out_dir: Path
    pretrained: PretrainResult | None
    settings: DemoSettings
    progress: bool = True
    extras: bool = False            # transfer, captioning and QA of the main arm's final model


def _configure_process(threads: int) -> None:
    # The tiny model's tensors are too small to gain from intra-op threads, and on a machine
    # whose cores are busy two threads ran 5-10x slower than one (OpenMP spin-waiting).
    torch.set_num_threads(max(1, threads))
    from transformers.utils import logging as hf_logging
    hf_logging.disable_progress_bar()   # a "Loading weights" bar per stage would drown the demo's own


def run_curriculum_arm(job: ArmJob, notify: Callable[[str], None]) -> dict:
    """The curriculum with the arm's renderer, and its evaluations: before training (frozen),
    after the render warm-up (renderer only; learnable renderers) and at the end."""
    st = job.settings
    data = DemoData.prepare(st, job.out_dir / "data")
    spec = ARMS[job.arm]
    evaluations, seconds = {}, {}
    where = job.out_dir / "eval" / job.arm

    def evaluate(phase: str, model_dir: Path, **kw):
        t = time.time()
        evaluations[phase] = evaluate_checkpoint(model_dir, f"{spec.title}, {PHASE_TITLES[phase]}", data, st,
                                                 where / phase, progress=job.progress, **kw)
        seconds[f"evaluation: {phase}"] = round(time.time() - t, 1)
        notify(f"evaluated {phase}")

    def on_stage(stage: str, model_dir: Path | None):
        if stage == "initial":
            evaluate("frozen", model_dir, attributes=True, probe=True)
        elif stage == "render_warmup" and model_dir is not None:
            evaluate("renderer_only", model_dir)
        if stage != "initial":
            notify(stage)

    run = train_arm(job.arm, _training_data(data.train, data.ds), job.out_dir / "runs" / job.arm,
                    job.pretrained.backbone_dir, renderer_options(st.pretrain, spec.renderer),
                    st.pretrain.num_frames, st.curriculum, st.seed, data.ds.split.name, progress=job.progress,
                    on_stage=on_stage, init_renderer=job.pretrained.renderer_dir)
    main = job.arm == MAIN_ARM
    evaluate("final", run.final_dir, greedy=main, extras=main and job.extras, probe=spec.learns)
    if not spec.learns:         # a fixed renderer draws the same frames before and after: one probe
        evaluations["final"]["pixel_probe"] = {**evaluations["frozen"]["pixel_probe"], "same_frames_as": "frozen"}
    return {"arm": job.arm, "run": run.to_dict(), "evaluations": evaluations, "seconds": seconds}


def run_sugar_arm_job(job: ArmJob, notify: Callable[[str], None]) -> dict:
    """SUGAR (:mod:`skeletonllm.demo.sugar_arm`) trained on the same training clips and measured
    on the same held-out clips as the curriculum arms: unseen and seen top-1 by likelihood
    ranking, greedy decoding on the unseen clips, and transfer to the other topologies (which
    SUGAR's NTU-25 graph reads only after retargeting). A killed run resumes at its step: a
    finished Step 2 or 3 is read back, a step killed half-way continues from its newest checkpoint."""
    from . import evaluate as E

    st = job.settings
    data = DemoData.prepare(st, job.out_dir / "data")
    unseen_clips, seen_clips = data.eval_clips(st)
    result = run_sugar_arm(data.train, seen_clips, unseen_clips, data.seen, data.unseen,
                           job.out_dir / "runs" / "sugar", st.seed,
                           dataclasses.replace(st.sugar, eval_limit=None),   # the clips above, all of them
                           st.split, progress=job.progress,
                           transfer_unseen=_spread(unseen_clips, st.transfer_limit), resume=True)
    notify("trained and evaluated")
    res = result.results
    final = {"num_unseen_clips": result.num_unseen, "num_seen_clips": result.num_seen,
             "unseen_score": res["unseen_score"], "seen_score": res["seen_score"],
             "transfer": {topo: res[f"transfer_{topo}"] for topo in st.sugar.transfer}}
    if "unseen_generate" in res:
        final["unseen_generate"] = res["unseen_generate"]
    for key in ("unseen", "seen"):
        final[f"{key}_answers"] = E.answer_spread(res[f"{key}_score"]["settings"]["out_dir"])
        final[f"{key}_kinds"] = E.kind_accuracy(res[f"{key}_score"]["per_class"])
    return {"arm": job.arm, "run": None, "evaluations": {"final": final}, "seconds": dict(result.timings),
            "checkpoint": str(result.checkpoint)}


#: How each kind of arm (``ArmSpec.kind``) is run: ``runner(job, notify) -> outcome``, where the
#: outcome holds ``evaluations`` (``{phase: evaluate_checkpoint(...)}``, at least ``"final"``)
#: and ``run`` (an :class:`~skeletonllm.demo.ablation.ArmRun` as a dict; None for SUGAR).
ARM_RUNNERS: dict[str, Callable] = {"curriculum": run_curriculum_arm, "sugar": run_sugar_arm_job}


def arm_result_path(out_dir: Path, arm: str) -> Path:
    return out_dir / ARMS_DIR / f"{arm}.json"


def run_arm(job: ArmJob, events=None) -> dict:
    """Run one arm and write its outcome atomically to ``arms/<arm>.json``; ``events`` (a
    queue) gets ``(arm, what)`` after each stage and evaluation."""
    _configure_process(job.settings.threads)
    notify = (lambda what: events.put((job.arm, what))) if events is not None else (lambda what: None)
    t = time.time()
    outcome = ARM_RUNNERS[ARMS[job.arm].kind](job, notify)
    # A resumed arm counts the training its earlier sessions did too (what the arm cost in all).
    earlier = training_seconds_before(job.out_dir / "runs" / job.arm, t)
    outcome["seconds"]["total"] = round(time.time() - t + earlier, 1)
    if earlier:
        outcome["seconds"]["of which earlier sessions (training)"] = round(earlier, 1)
    path = arm_result_path(job.out_dir, job.arm)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(outcome, default=str) + "\n")
    notify("done")
    return outcome


def training_seconds_before(run_dir: Path, since: float) -> float:
    """Seconds of training logged under ``run_dir`` (every stage's or step's ``log.jsonl``) before
    ``since`` (a ``time.time()``): each session of a stage, from its start or resume record to its
    last record before ``since``. A stage killed and resumed counts the part before the kill."""
    total = 0.0
    for log in run_dir.rglob("log.jsonl"):
        first = last = None
        for line in log.read_text().splitlines():
            try:
                rec = json.loads(line)
                t = float(rec["time"])
            except (ValueError, KeyError, TypeError):
                continue                                  # a line cut by the kill
            if t >= since:
                break
            if rec.get("event") in ("start", "resume"):
                total += (last - first) if first is not None else 0.0
                first = t
            last = t
        total += (last - first) if first is not None else 0.0
    return total


def load_arm_result(out_dir: Path, arm: str) -> dict | None:
    path = arm_result_path(out_dir, arm)
    return json.loads(path.read_text()) if path.is_file() else None


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
    # Longest first (learnable renderers train one more stage and are evaluated once more; then
    # JTM and SUGAR), so that the two workers finish at about the same time; results keep the
    # settings' order. An arm that reads no frames (SUGAR) needs no head start: with two workers
    # it trains beside it, on the core the head start leaves idle.
    todo.sort(key=lambda a: (not ARMS[a].learns, a not in ("jtm", "sugar"), a != "jtm"))
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
                + (f" (beside it: {', '.join(early)})" if early else ""))
            pre = pretrain_backbone(data.train, data.seen, settings.pretrain, backbone, settings.seed,
                                    progress=progress)
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
            + f"; after the curriculum, seen top-1 {100 * final['seen_score']['top1']:.1f} % "
              f"({100 * final['pixel_probe']['seen_top1']:.1f} %), unseen {100 * final['unseen_score']['top1']:.1f} % "
              f"({100 * final['pixel_probe']['unseen_top1']:.1f} % composed)")

        # 5. Checkpoint, renders, results, report --------------------------------------------------
        t = time.time()
        say("[5/6] writing the checkpoint, renders, results and report")
        arms = {arm: seed_run.arm_run(arm) for arm in seed_run.curriculum_arms}
        install_checkpoint(arms[MAIN_ARM].final_dir, out_dir)
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


__all__ = ["ARM_RUNNERS", "ArmJob", "DemoData", "DemoSettings", "DemoSummary", "SeedRun",
           "evaluate_checkpoint", "install_checkpoint", "load_arm_result", "run_arm", "run_demo", "run_seed"]
