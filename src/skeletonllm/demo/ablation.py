"""The arms of the demo's renderer study: the SkeletonLLM curriculum with a given renderer.

Every arm starts from the same pretrained backbone (whose head start drew with every arm's
starting renderer in equal shares, :mod:`skeletonllm.demo.pretrain`), trains the same four
stages (:data:`skeletonllm.train.stages.CURRICULUM`) on the same clips in the same order with
the same seed, through the project's trainer (:func:`skeletonllm.train.trainer.train_stage`),
and differs only in the renderer in front of the vision tower (paper Table 4):

==================  ===============================================================
``draction``        DrAction with the Neural Feature Modulator (the full method)
``draction_no_nfm`` DrAction without the NFM (colour and opacity from the descriptors only)
``velocity``        fixed "3D + velocity" stick figure
``projection``      fixed plain 2D projection
``jtm``             fixed joint trajectory maps
``sugar``           SUGAR on the same clips: no renderer, its own Steps 2 and 3
==================  ===============================================================

Both DrAction arms start from the head start's DrAction (the no-NFM arm from its weights
outside the NFM). Stage 1 (render warm-up) trains only the renderer, with the recognition
loss, while backbone, projector and LoRA stay frozen: it is the study's renderer-only
experiment, evaluated on its own. A fixed renderer has no parameters, so for the fixed arms
the stage would change nothing and is skipped (stage 2 starts from the same initial model
that stage 1 would have handed on).

An arm is an :class:`ArmSpec`; ``kind`` names how it is run (``"curriculum"``: :func:`train_arm`),
so an arm of another method, with its own training and the same evaluations, is one more
:data:`ARMS` entry and one more runner in :data:`skeletonllm.demo.arm_jobs.ARM_RUNNERS`.
"""
from __future__ import annotations

import dataclasses
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ArmSpec:
    """One arm of the demo's study: a renderer under the SkeletonLLM curriculum, or SUGAR.

    Attributes:
        name / title: key and display name.
        renderer / options: what draws the frames (a name for
            :func:`~skeletonllm.render.fixed.build_renderer`, and options beyond image size and
            framing); empty for an arm that renders nothing (SUGAR).
        learns: the renderer has parameters that the curriculum trains.
        kind: how the pipeline runs the arm (a key of ``pipeline.ARM_RUNNERS``).
    """

    name: str
    title: str
    renderer: str
    options: dict = field(default_factory=dict)
    learns: bool = False
    kind: str = "curriculum"

    @property
    def fixed(self) -> bool:
        return self.kind == "curriculum" and not self.learns


ARMS: dict[str, ArmSpec] = {a.name: a for a in (
    ArmSpec("draction", "DrAction (with NFM)", "draction", learns=True),
    ArmSpec("draction_no_nfm", "DrAction without NFM", "draction", {"use_nfm": False}, learns=True),
    ArmSpec("velocity", "fixed: 3D + velocity", "velocity"),
    ArmSpec("projection", "fixed: 2D projection", "projection"),
    ArmSpec("jtm", "fixed: JTM", "jtm"),
    # The other method on the same clips: no renderer, no curriculum (skeletonllm.demo.sugar_arm).
    ArmSpec("sugar", "SUGAR (CTR-GCN + TQP + LLM)", "", kind="sugar"),
)}
ARM_TITLES = {name: a.title for name, a in ARMS.items()}
#: The arm whose final model the demo keeps (its output directory is that checkpoint).
MAIN_ARM = "draction"
#: The checkpoints of an arm that are evaluated: the model as it starts (head start + the
#: arm's renderer, nothing trained), after the render warm-up (only the renderer trained;
#: learnable renderers only) and after the curriculum.
PHASES = ("frozen", "renderer_only", "final")
PHASE_TITLES = {"frozen": "frozen (head start only)", "renderer_only": "renderer only (render warm-up)",
                "final": "curriculum (4 stages)"}


def phase_title(arm: str, phase: str) -> str:
    """What an evaluation of ``arm`` is called: SUGAR's one evaluation follows its Steps 2 and 3."""
    return "Steps 2 + 3 (SUGAR)" if ARMS[arm].kind == "sugar" and phase == "final" else PHASE_TITLES[phase]


@dataclass
class CurriculumSettings:
    """How the demo runs the curriculum (the paper's table, sized for a CPU).

    Attributes:
        stage_lr: peak learning rate of every stage (the paper's 4e-5 is for an 8B
            pretrained model; the tiny one needs far larger steps).
        recognition_epochs: epochs of stage 4 (paper: 3). Two, chosen on both validation splits
            (``scripts/demo_sweep.py --validation --split-seed 0 / 1``, seeds 0-4 each, the same head
            starts, calibrated): zero-shot after the curriculum 48.6 against 47.3 % on the first
            split (per seed +7, +2, +4, -8, +1 points) and 29.1 against 25.0 % on the second (-1,
            +9, +0, +8, +4), higher in 7 of 10 pairs, seen top-1 95.9 / 94.6 against 96.3 / 93.0 %.
            The third epoch fits the seen class names further at the held-out classes' expense
            (the curriculum's trace: the stage loses part of what CR-Distill gained).
        distill_epochs: epochs of stage 3, CR-Distill (paper: 1).
        stage3_tasks: stage 3 trains on the teacher's rationales (CR-Distill) mixed with the
            clips' captions and QA, so that the model can also describe and answer.
        stage4_tasks: stage 4's tasks. The paper's is MQA alone; here the captions and QA stay
            mixed in, or the model answers every caption or question request with a
            ``Label:`` line (measured when the demo was built: BLEU@4 0 and QA below chance after
            an MQA-only stage 4; again on the validation split, seeds 0-2: captions are ``Label:``
            lines, QA 40.6 % against 49.7 %, and zero-shot no better, 40.2 % against 41.1 %).
        attribute_qa: the curriculum's QA also asks each training clip one of the head start's
            attribute questions (movement, side, part in turn; all values offered), so that stages
            3 and 4 keep the answers the composed readout reads
            (:func:`~skeletonllm.demo.evaluate.zero_shot_readouts`). On both validation splits
            (seeds 0-3, runs ``tr-aqa`` / ``tr1-aqa`` against ``tr-ref`` / ``tr1-ref``, calibrated
            zero-shot after the curriculum) +2.9 ± 7.2 and +4.2 ± 10.6 points, higher in 4 of 8
            pairs, seen +1.2; stages 3 and 4 half as long again (292 / 674 steps against 177 /
            444 on the first split): off. Again with today's head start (runs ``tr-lang2xaqa`` /
            ``tr1-lang2xaqa`` against ``tr-lang2x`` / ``tr1-lang2x``, seeds 0-4): -4.2 ± 6.1, higher
            in 3 of 10; on a head start that also saw the other motions
            (:attr:`~skeletonllm.demo.pretrain_settings.PretrainSettings.other_motions`, runs
            ``tr-other10aqa``): +2.0 ± 11.7 against that head start without it (7 of 10), +2.1 ± 16.2
            against the defaults (5 of 10), the held-out attribute answers kept through CR-Distill.
        task_share: ``{stage name: {task: fraction}}``: the fraction of a task's items a stage
            draws each epoch (:attr:`skeletonllm.train.stages.Stage.task_share`).
        group_lr: ``{stage name: {parameter group: learning rate}}``, exceptions to ``stage_lr``.
            The renderer learns at the full rate in the render warm-up and at a tenth of it
            afterwards: Disc-FT's YES/NO loss stays flat for the tiny model (it cannot yet tell
            a class name from another), and at the full rate its gradients drove DrAction to
            frames on which every clip got the same answer (measured, one seed of two).
        frozen: parameter groups taken out of every stage's ``trains``. The projector, which
            the paper trains in stages 2-4, stays as the head start left it: trained in
            Disc-FT at any rate from 5e-5 up, it collapsed every prediction to one class.
        batch_size: clips per step (paper: 2).
        max_steps: cap on the steps of every stage (the quick demo), None for full epochs.
        lora_r / lora_alpha: LoRA on the language model.
    """

    stage_lr: float = 5e-3
    recognition_epochs: int = 2
    distill_epochs: int = 1
    stage3_tasks: tuple[str, ...] = ("cr_distill", "caption", "qa")
    stage4_tasks: tuple[str, ...] = ("mqa", "caption", "qa")
    attribute_qa: bool = False
    task_share: dict[str, dict[str, float]] = field(default_factory=dict)
    group_lr: dict[str, dict[str, float]] = field(default_factory=lambda: {
        "disc_ft": {"renderer": 5e-4}, "cr_distill": {"renderer": 5e-4}})
    frozen: tuple[str, ...] = ("projector",)
    batch_size: int = 2
    max_steps: int | None = None
    lora_r: int = 8
    lora_alpha: int = 16

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass
class StageRun:
    stage: str
    title: str
    tasks: list[str]
    trains: list[str]
    steps: int
    items: int
    seconds: float
    last_loss: float | None
    skipped: str | None = None
    curve: list[tuple[int, float]] = field(default_factory=list)


@dataclass
class ArmRun:
    arm: str
    final_dir: Path | None
    stages: list[StageRun]
    seconds: float
    initial_dir: Path | None = None

    def to_dict(self) -> dict:
        return {"arm": self.arm, "final_dir": None if self.final_dir is None else str(self.final_dir),
                "initial_dir": None if self.initial_dir is None else str(self.initial_dir),
                "stages": [dataclasses.asdict(s) for s in self.stages], "seconds": self.seconds}

    @classmethod
    def from_dict(cls, d: dict) -> "ArmRun":
        stages = [StageRun(**{**s, "curve": [tuple(p) for p in s["curve"]]}) for s in d["stages"]]
        path = lambda p: None if p is None else Path(p)  # noqa: E731
        return cls(d["arm"], path(d["final_dir"]), stages, d["seconds"], path(d.get("initial_dir")))


def model_section(arm: str, backbone_dir: str | Path, frame_options: dict, num_frames: int,
                  settings: CurriculumSettings) -> dict[str, Any]:
    """The ``model:`` section of an arm's run config (:class:`~skeletonllm.mllm.model.SkeletonLLMConfig`
    fields). ``frame_options``: the renderer's options shared with the head start (``image_size``, framing)."""
    if arm not in ARMS:
        raise ValueError(f"unknown ablation arm '{arm}' (known: {', '.join(ARMS)})")
    spec = ARMS[arm]
    options = {**frame_options, **spec.options}
    image_size = options["image_size"]
    return {"backbone": str(backbone_dir), "renderer": spec.renderer, "image_size": image_size,
            "renderer_options": options, "num_frames": num_frames, "lora": True, "lora_r": settings.lora_r,
            "lora_alpha": settings.lora_alpha, "lora_dropout": 0.05, "dtype": "float32", "device": "cpu"}


def run_config(arm: str, out_dir: Path, backbone_dir: Path, frame_options: dict, num_frames: int,
               settings: CurriculumSettings, seed: int, split: str):
    """The arm's validated :class:`~skeletonllm.train.config.RunConfig` (also written as ``config.yaml``)."""
    from ..train.config import config_from_dict
    from ..train.stages import CURRICULUM

    lr = settings.stage_lr
    stages = {"render_warmup": {}, "disc_ft": {}, "cr_distill": {"epochs": settings.distill_epochs,
                                                                  "tasks": list(settings.stage3_tasks)},
              "recognition": {"epochs": settings.recognition_epochs, "tasks": list(settings.stage4_tasks)}}
    for stage in CURRICULUM:
        trains = [g for g in stage.trains if g not in settings.frozen]
        group_lr = settings.group_lr.get(stage.name, {})
        if settings.task_share.get(stage.name):
            stages[stage.name]["task_share"] = dict(settings.task_share[stage.name])
        stages[stage.name].update(lr=lr, group_lr={g: v for g, v in group_lr.items() if g in trains},
                                  **({"trains": trains} if settings.frozen else {}))
    return config_from_dict({
        "run": {"name": f"demo-{arm}", "output_dir": str(out_dir), "seed": seed},
        "model": model_section(arm, backbone_dir, frame_options, num_frames, settings),
        # The clips are handed to the trainer in memory; this records where they come from.
        "data": {"synth": {"split": split, "seed": seed}, "num_frames": num_frames, "max_bodies": 2},
        "train": {"per_device_batch_size": settings.batch_size, "mixed_precision": "no", "max_steps": settings.max_steps,
                  "log_every": 5, "save_every": 0, "tensorboard": False, "num_workers": 0},
        "stages": stages,
    }, source=f"<demo arm {arm}>")


def _curve(log_path: Path) -> list[tuple[int, float]]:
    if not log_path.is_file():
        return []
    rows = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
    return [(r["step"], r["loss"]) for r in rows if "loss" in r]


def train_arm(arm: str, training, out_dir: str | Path, backbone_dir: str | Path, frame_options: dict,
              num_frames: int, settings: CurriculumSettings, seed: int, split: str,
              progress: bool = True, on_stage=None, init_renderer: str | Path | None = None) -> ArmRun:
    """Train one arm through the four stages; returns the final model's directory and per-stage logs.

    Args:
        training: the clips, split, rationales and negatives
            (:class:`~skeletonllm.train.trainer.TrainingData`).
        frame_options: the renderer's options shared with the head start (image size, framing;
            :func:`skeletonllm.demo.pretrain_frames.renderer_options`).
        out_dir: the arm's run directory: ``initial/`` (the model before any stage), one
            sub-directory per stage. A stage whose ``final/`` is complete is not trained again
            (a killed run resumes at the stage where it stopped).
        on_stage: called with ``(stage name, its final directory or None when skipped)`` after
            each stage, and with ``("initial", directory)`` once the initial model is saved.
        init_renderer: a ``DrAction.save_pretrained`` directory: a learnable renderer starts
            from these weights (those it has; the no-NFM DrAction has no NFM) instead of new ones.
    """
    import time

    import yaml
    from accelerate.utils import set_seed

    from ..atomic import atomic_write_text
    from ..mllm.model import SkeletonLLM
    from ..train.stages import curriculum
    from ..train.tasks import TaskCollator
    from ..train.trainer import build_stage_data, make_accelerator, stage_seed, train_stage

    t0 = time.time()
    out_dir = Path(out_dir)
    cfg = run_config(arm, out_dir, Path(backbone_dir), frame_options, num_frames, settings, seed, split)
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_dir / "config.yaml", yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    table, _ = curriculum(cfg.stage_overrides())
    accelerator = make_accelerator(cfg.train, cpu=True)
    model_config = cfg.model_config()
    fixed = not ARMS[arm].learns

    def load(path):
        return SkeletonLLM.from_pretrained(path, device="cpu")

    initial = out_dir / "initial"
    if not (initial / "config.json").is_file():        # save_pretrained writes it atomically
        set_seed(stage_seed(seed, table[0]))
        model = SkeletonLLM(model_config)
        model.classes = training.class_record(split)    # every stage's checkpoint carries it on
        if init_renderer is not None and not fixed:
            _load_renderer_weights(model.renderer, Path(init_renderer))
        model.save_pretrained(initial)
        del model
    if on_stage is not None:
        on_stage("initial", initial)

    runs, previous = [], initial
    collator = TaskCollator(num_frames, cfg.data.max_bodies)
    for stage in table:
        if fixed and set(stage.trains) <= {"renderer"}:
            runs.append(StageRun(stage.name, stage.title, list(stage.tasks), list(stage.trains), 0, 0, 0.0, None,
                                 skipped="the fixed renderer has no parameters: nothing to train"))
            if on_stage is not None:
                on_stage(stage.name, None)
            continue
        stage_dir = out_dir / stage.dirname
        done = _finished_stage(stage_dir)
        if done is not None:        # finished by an earlier, interrupted run of this arm
            previous = stage_dir / "final"
            runs.append(StageRun(stage.name, stage.title, list(stage.tasks), list(stage.trains), done["step"],
                                 done.get("items", 0), done.get("seconds", 0.0), done.get("loss"),
                                 curve=_curve(stage_dir / "log.jsonl")))
        else:
            shutil.rmtree(stage_dir, ignore_errors=True)      # a stage killed half-way starts over
            dataset, stats = build_stage_data(stage, training, cfg.data, seed)
            result = train_stage(stage, dataset, lambda p=previous: load(p), load, stage_dir, cfg.train, collator,
                                 accelerator, seed=seed, group_lr=cfg.stages[stage.name].group_lr,
                                 progress=progress, extra_log={"tasks_data": stats, "arm": arm})
            previous = result.final_dir
            runs.append(StageRun(stage.name, stage.title, list(stage.tasks), list(stage.trains), result.steps,
                                 result.items, result.seconds, result.last_loss,
                                 curve=_curve(stage_dir / "log.jsonl")))
        if on_stage is not None:
            on_stage(stage.name, previous)
    return ArmRun(arm, previous, runs, time.time() - t0, initial)


def _finished_stage(stage_dir: Path) -> dict | None:
    """What the log says about a stage whose ``final/`` is complete, else None."""
    from ..train import checkpointing as ck
    if not ck.is_complete(stage_dir / "final"):
        return None
    rows = [json.loads(x) for x in (stage_dir / "log.jsonl").read_text().splitlines() if x.strip()] \
        if (stage_dir / "log.jsonl").is_file() else []
    start = next((r for r in rows if r.get("event") == "start"), {})
    done = next((r for r in reversed(rows) if r.get("event") == "done"), {})
    losses = [r["loss"] for r in rows if "loss" in r]
    return {"step": done.get("step", 0), "items": start.get("items", 0), "seconds": done.get("seconds", 0.0),
            "loss": losses[-1] if losses else None}


def _load_renderer_weights(renderer, directory: Path) -> None:
    """Copy the saved DrAction's weights into ``renderer`` (every tensor both have; the no-NFM
    DrAction has no NFM); anything else missing is an error."""
    from safetensors.torch import load_file

    from ..render.draction import WEIGHTS_NAME
    state = load_file(str(directory / WEIGHTS_NAME))
    own = renderer.state_dict()
    missing = [k for k in own if k not in state]
    if any(not k.startswith("nfm.") for k in missing):
        raise ValueError(f"{directory}: no weights for {missing}")
    renderer.load_state_dict({k: v for k, v in state.items() if k in own}, strict=False)


__all__ = ["ARMS", "ARM_TITLES", "MAIN_ARM", "PHASES", "PHASE_TITLES", "ArmRun", "ArmSpec", "CurriculumSettings", "StageRun", "model_section", "phase_title",
           "run_config", "train_arm"]
