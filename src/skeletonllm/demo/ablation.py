"""One arm of the demo's renderer ablation: the SkeletonLLM curriculum with a given renderer.

Every arm starts from the same pretrained backbone, trains the same four stages
(:data:`skeletonllm.train.stages.CURRICULUM`) on the same clips in the same order with the
same seed, through the project's trainer (:func:`skeletonllm.train.trainer.train_stage`),
and differs only in the renderer in front of the vision tower (paper Table 4):

==================  ===============================================================
``draction``        DrAction with the Neural Feature Modulator (the full method)
``draction_no_nfm`` DrAction without the NFM (colour and opacity from the descriptors only)
``velocity``        fixed "3D + velocity" stick figure
``projection``      fixed plain 2D projection
``jtm``             fixed joint trajectory maps
==================  ===============================================================

Stage 1 (render warm-up) trains only the renderer; a fixed renderer has no parameters, so
for the fixed arms the stage would change nothing and is skipped (stage 2 starts from the
same initial model that stage 1 would have handed on).
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ARMS: dict[str, tuple[str, dict]] = {
    "draction": ("draction", {}),
    "draction_no_nfm": ("draction", {"use_nfm": False}),
    "velocity": ("velocity", {}),
    "projection": ("projection", {}),
    "jtm": ("jtm", {}),
}
ARM_TITLES = {"draction": "DrAction (with NFM)", "draction_no_nfm": "DrAction without NFM",
              "velocity": "fixed: 3D + velocity", "projection": "fixed: 2D projection", "jtm": "fixed: JTM"}


@dataclass
class CurriculumSettings:
    """How the demo runs the curriculum (the paper's table, sized for a CPU).

    Attributes:
        stage_lr: peak learning rate of every stage (the paper's 4e-5 is for an 8B
            pretrained model; the tiny one needs far larger steps).
        recognition_epochs: epochs of stage 4 (paper: 3).
        stage3_tasks: stage 3 trains on the teacher's rationales (CR-Distill) mixed with the
            clips' captions and QA, so that the model can also describe and answer.
        stage4_tasks: stage 4's tasks. The paper's is MQA alone; here the captions and QA stay
            mixed in, or the model answers every caption or question request with a
            ``Label:`` line (measured: BLEU@4 0 and QA below chance after an MQA-only stage 4).
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
    recognition_epochs: int = 3
    stage3_tasks: tuple[str, ...] = ("cr_distill", "caption", "qa")
    stage4_tasks: tuple[str, ...] = ("mqa", "caption", "qa")
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


def model_section(arm: str, backbone_dir: str | Path, image_size: int, num_frames: int, frame_fill: float,
                  settings: CurriculumSettings) -> dict[str, Any]:
    """The ``model:`` section of an arm's run config (:class:`~skeletonllm.mllm.model.SkeletonLLMConfig` fields)."""
    if arm not in ARMS:
        raise ValueError(f"unknown ablation arm '{arm}' (known: {', '.join(ARMS)})")
    renderer, extra = ARMS[arm]
    options = {"image_size": image_size, "auto_frame": True, "frame_fill": frame_fill, **extra}
    return {"backbone": str(backbone_dir), "renderer": renderer, "image_size": image_size,
            "renderer_options": options, "num_frames": num_frames, "lora": True, "lora_r": settings.lora_r,
            "lora_alpha": settings.lora_alpha, "lora_dropout": 0.05, "dtype": "float32", "device": "cpu"}


def run_config(arm: str, out_dir: Path, backbone_dir: Path, image_size: int, num_frames: int, frame_fill: float,
               settings: CurriculumSettings, seed: int, split: str):
    """The arm's validated :class:`~skeletonllm.train.config.RunConfig` (also written as ``config.yaml``)."""
    from ..train.config import config_from_dict
    from ..train.stages import CURRICULUM

    lr = settings.stage_lr
    stages = {"render_warmup": {}, "disc_ft": {}, "cr_distill": {"tasks": list(settings.stage3_tasks)},
              "recognition": {"epochs": settings.recognition_epochs, "tasks": list(settings.stage4_tasks)}}
    for stage in CURRICULUM:
        trains = [g for g in stage.trains if g not in settings.frozen]
        group_lr = settings.group_lr.get(stage.name, {})
        stages[stage.name].update(lr=lr, group_lr={g: v for g, v in group_lr.items() if g in trains},
                                  **({"trains": trains} if settings.frozen else {}))
    return config_from_dict({
        "run": {"name": f"demo-{arm}", "output_dir": str(out_dir), "seed": seed},
        "model": model_section(arm, backbone_dir, image_size, num_frames, frame_fill, settings),
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


def train_arm(arm: str, training, out_dir: str | Path, backbone_dir: str | Path, image_size: int, num_frames: int,
              frame_fill: float, settings: CurriculumSettings, seed: int, split: str,
              progress: bool = True, on_stage=None) -> ArmRun:
    """Train one arm through the four stages; returns the final model's directory and per-stage logs.

    Args:
        training: the clips, split, rationales and negatives
            (:class:`~skeletonllm.train.trainer.TrainingData`).
        out_dir: the arm's run directory (one sub-directory per stage; must not hold results).
        on_stage: called with the stage name after each stage (trained or skipped).
    """
    import time

    import yaml

    from ..atomic import atomic_write_text
    from ..mllm.model import SkeletonLLM
    from ..train.stages import curriculum
    from ..train.tasks import TaskCollator
    from ..train.trainer import build_stage_data, make_accelerator, train_stage

    t0 = time.time()
    out_dir = Path(out_dir)
    cfg = run_config(arm, out_dir, Path(backbone_dir), image_size, num_frames, frame_fill, settings, seed, split)
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_dir / "config.yaml", yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    table, _ = curriculum(cfg.stage_overrides())
    accelerator = make_accelerator(cfg.train, cpu=True)
    model_config = cfg.model_config()
    fixed = model_config.renderer != "draction"

    def fresh():
        return SkeletonLLM(model_config)

    def load(path):
        return SkeletonLLM.from_pretrained(path, device="cpu")

    runs, previous = [], None
    collator = TaskCollator(num_frames, cfg.data.max_bodies)
    for stage in table:
        if fixed and set(stage.trains) <= {"renderer"}:
            runs.append(StageRun(stage.name, stage.title, list(stage.tasks), list(stage.trains), 0, 0, 0.0, None,
                                 skipped="the fixed renderer has no parameters: nothing to train"))
            if on_stage is not None:
                on_stage(stage.name)
            continue
        init = fresh if previous is None else (lambda p=previous: load(p))
        dataset, stats = build_stage_data(stage, training, cfg.data, seed)
        result = train_stage(stage, dataset, init, load, out_dir / stage.dirname, cfg.train, collator, accelerator,
                             seed=seed, group_lr=cfg.stages[stage.name].group_lr, progress=progress,
                             extra_log={"tasks_data": stats, "arm": arm})
        previous = result.final_dir
        runs.append(StageRun(stage.name, stage.title, list(stage.tasks), list(stage.trains), result.steps,
                             result.items, result.seconds, result.last_loss,
                             curve=_curve(out_dir / stage.dirname / "log.jsonl")))
        if on_stage is not None:
            on_stage(stage.name)
    return ArmRun(arm, previous, runs, time.time() - t0)


__all__ = ["ARMS", "ARM_TITLES", "ArmRun", "CurriculumSettings", "StageRun", "model_section", "run_config",
           "train_arm"]
