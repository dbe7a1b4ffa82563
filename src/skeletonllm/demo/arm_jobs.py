"""One arm of one seed as a job (:class:`ArmJob`), run in a worker process when ``workers`` > 1:
train it (the curriculum with its renderer, or SUGAR), evaluate its checkpoints on the held-out
clips (:func:`evaluate_checkpoint`), and write its outcome atomically to ``DIR/arms/<arm>.json``
(:func:`run_arm`), which a resumed seed reads back (:func:`load_arm_result`)."""
from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from ..atomic import atomic_write_text
from .ablation import ARMS, MAIN_ARM, PHASE_TITLES, train_arm
from .data import DemoData, _spread, _training_data
from .evaluate import TRANSFER_FORMATS
from .pretrain_frames import renderer_options
from .pretrain_settings import PretrainResult
from .settings import DemoSettings
from .sugar_arm import run_sugar_arm

ARMS_DIR = "arms"             # one atomically written JSON per finished arm


# -- evaluation of one checkpoint ------------------------------------------------------------------

def evaluate_checkpoint(model_dir: Path, title: str, data: DemoData, settings: DemoSettings, where: Path,
                        greedy: bool = False, extras: bool = False, progress: bool = False,
                        attributes: bool = False, probe: bool = False, readouts: bool = False) -> dict:
    """A checkpoint's numbers on held-out clips: unseen and seen classes by likelihood ranking
    (with the spread of its answers), greedy decoding on the unseen ones with ``greedy``; with
    ``attributes`` its answers to the attribute questions (movement, side, part) on held-out seen
    and unseen clips; with ``probe`` the linear pixel probe on its renderer's frames of the same
    clips (:mod:`skeletonllm.demo.probe`); with ``readouts`` (and calibration) the unseen clips named
    three ways, by class name, by the attribute answers composed and by both
    (:func:`~skeletonllm.demo.evaluate.zero_shot_readouts`); with ``extras`` also cross-format
    transfer, captioning, QA and example answers."""
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
    # each batch of clips drawn once for all the questions below
    model = E.draw_once(SkeletonLLM.from_pretrained(model_dir, device="cpu").eval())
    res = {"num_unseen_clips": len(unseen_clips), "num_seen_clips": len(seen_clips)}
    seen_seqs = [s.sequence("ntu25") for s in seen_clips]
    # ``*_score``: the demo's ranking (calibrated on training clips when ``settings.calibrate``);
    # ``*_score_plain``: the plain one beside it.
    ref = E.reference_clips(data.train) if settings.calibrate else None
    for key, seqs, cands, split in (("unseen", unseen_seqs, unseen, "unseen"),
                                    ("seen", seen_seqs, seen, "seen (held-out clips)")):
        plain_dir = None if ref is None else where / f"{key}-score-plain"
        res[f"{key}_score"] = E.recognition(model, seqs, cands, where / f"{key}-score", mode="score",
                                            split=f"{settings.split} {split}", reference=ref, plain_dir=plain_dir,
                                            **common)
        if ref is not None:
            res[f"{key}_score_plain"] = res[f"{key}_score"].pop("plain")
    if greedy:
        res["unseen_generate"] = E.recognition(model, unseen_seqs, unseen, where / "unseen-generate", mode="generate",
                                               split=f"{settings.split} unseen", **common)
    for key in ("unseen", "seen"):
        res[f"{key}_answers"] = E.answer_spread(where / f"{key}-score")
        res[f"{key}_kinds"] = E.kind_accuracy(res[f"{key}_score"]["per_class"])
    scored = None
    if attributes:
        groups = {"seen": seen_clips, "unseen": unseen_clips}
        scored = E.attribute_scores(model, groups, seen, F, reference=ref)
        answers = E.attribute_accuracies(scored, groups)
        res["attributes"] = answers["calibrated" if ref is not None else "plain"]
        if ref is not None:
            res["attributes_plain"] = answers["plain"]
    if readouts and ref is not None:
        # the calibrated ranking above and the attribute answers already scored these clips
        names = E.recorded_scores(where / "unseen-score", unseen_seqs)
        given = None if scored is None else scored["calibrated"]["unseen"]
        res["readouts"] = {name: {**r, "kinds": E.kind_accuracy(r["per_class"])} for name, r in
                           E.zero_shot_readouts(model, unseen_clips, unseen, seen, F, ref, names=names,
                                                attributes=given).items()}
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
            evaluate("frozen", model_dir, attributes=True, probe=True, readouts=True)
        elif stage == "render_warmup" and model_dir is not None:
            evaluate("renderer_only", model_dir)
        if stage != "initial":
            notify(stage)

    run = train_arm(job.arm, _training_data(data.train, data.ds, attribute_questions=st.curriculum.attribute_qa),
                    job.out_dir / "runs" / job.arm,
                    job.pretrained.backbone_dir, renderer_options(st.pretrain, spec.renderer),
                    st.pretrain.num_frames, st.curriculum, st.seed, data.ds.split.name, progress=job.progress,
                    on_stage=on_stage, init_renderer=job.pretrained.renderer_dir)
    main = job.arm == MAIN_ARM
    evaluate("final", run.final_dir, greedy=main, extras=main and job.extras, probe=spec.learns, readouts=True)
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
                           dataclasses.replace(st.sugar, eval_limit=None,   # the clips above, all of them
                                               calibrate=st.calibrate),         # ranked as the other arms are
                           st.split, progress=job.progress,
                           transfer_unseen=_spread(unseen_clips, st.transfer_limit), resume=True)
    notify("trained and evaluated")
    res = result.results
    final = {"num_unseen_clips": result.num_unseen, "num_seen_clips": result.num_seen,
             **{k: res[k] for k in ("unseen_score", "seen_score", "unseen_score_plain", "seen_score_plain") if k in res},
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


__all__ = ["ARMS_DIR", "ARM_RUNNERS", "ArmJob", "arm_result_path", "evaluate_checkpoint", "load_arm_result",
           "run_arm", "run_curriculum_arm", "run_sugar_arm_job", "training_seconds_before"]
