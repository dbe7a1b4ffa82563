"""The cooperative curriculum (SPEC §5) as data.

Each stage names the tasks it trains on, the parameter groups it updates (the keys of
``SkeletonLLM.parameter_groups()``) and its epochs. The trainer reads this table and
nothing else, so a variant of the curriculum is a different table, not different code.

| # | stage | tasks | trains | epochs |
|---|---|---|---|---|
| 1 | render warm-up | MQA | renderer | 1 |
| 2 | Disc-FT | YES/NO on hard negatives | renderer + projector | 1 |
| 3 | CR-Distill | student prompt -> teacher rationale | renderer + projector + lora | 1 |
| 4 | recognition refinement | MQA | projector + lora | 3 |

The "joint" ablation is one stage that trains renderer + projector + LoRA from the start
on all recognition tasks mixed. The vision encoder and the language model's own weights
stay frozen in every stage, as in the paper (Appendix E.1).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

from ..errors import ConfigError, SkeletonLLMError

#: Parameter groups a model exposes (``SkeletonLLM.parameter_groups()`` keys).
PARAMETER_GROUPS = ("renderer", "vision", "projector", "language", "lora")
#: Task names understood by :mod:`skeletonllm.train.tasks`.
TASK_NAMES = ("mqa", "disc", "cr_distill", "caption", "qa")


@dataclass(frozen=True)
class Stage:
    """One step of the curriculum.

    Attributes:
        index: 1-based position in the curriculum (0 for the joint ablation).
        name: short identifier, used in directory names and configs.
        title: human-readable name.
        tasks: task names trained on (mixed, shuffled together, when more than one).
        trains: parameter groups updated; every other group is frozen.
        epochs: passes over the stage's data.
        lr: peak learning rate (cosine schedule with warm-up).
        task_share: ``((task, fraction), ...)``: of a task named here, each epoch draws that
            fraction of its items (a new draw per epoch); the others keep all their items.
            A way to keep a task in a stage at a small weight.
    """

    index: int
    name: str
    title: str
    tasks: tuple[str, ...]
    trains: tuple[str, ...]
    epochs: int
    lr: float = 4e-5
    task_share: tuple[tuple[str, float], ...] = ()

    def __post_init__(self):
        for t, share in self.task_share:
            if t not in self.tasks:
                raise ConfigError(None, f"stages.{self.name}.task_share",
                                  f"'{t}' is not one of the stage's tasks ({', '.join(self.tasks)})")
            if not 0 < share <= 1:
                raise ConfigError(None, f"stages.{self.name}.task_share.{t}", f"must be in (0, 1], got {share}")
        for t in self.tasks:
            if t not in TASK_NAMES:
                raise ConfigError(None, f"stages.{self.name}.tasks", f"unknown task '{t}' (known: {', '.join(TASK_NAMES)})")
        for g in self.trains:
            if g not in PARAMETER_GROUPS:
                raise ConfigError(None, f"stages.{self.name}.trains",
                                  f"unknown parameter group '{g}' (known: {', '.join(PARAMETER_GROUPS)})")
        if not self.tasks:
            raise ConfigError(None, f"stages.{self.name}.tasks", "a stage needs at least one task")
        if not self.trains:
            raise ConfigError(None, f"stages.{self.name}.trains", "a stage needs at least one trainable group")
        if self.epochs < 1:
            raise ConfigError(None, f"stages.{self.name}.epochs", f"must be >= 1, got {self.epochs}")
        if not self.lr > 0:
            raise ConfigError(None, f"stages.{self.name}.lr", f"must be > 0, got {self.lr}")

    @property
    def dirname(self) -> str:
        """Directory of this stage's outputs inside the run directory, e.g. ``stage1-render_warmup``."""
        return f"stage{self.index}-{self.name}" if self.index > 0 else self.name


# The learning rate was lost from the paper's text; 4e-5 is the LoRA fine-tuning rate of
# InternVL's own second-stage fine-tuning recipe, whose other settings (AdamW, weight
# decay 0.05, cosine, 3 % warm-up) are exactly the ones the paper reports.
CURRICULUM: tuple[Stage, ...] = (
    Stage(1, "render_warmup", "render warm-up", ("mqa",), ("renderer",), 1),
    Stage(2, "disc_ft", "discriminative fine-tuning (Disc-FT)", ("disc",), ("renderer", "projector"), 1),
    Stage(3, "cr_distill", "causal-reasoning distillation (CR-Distill)", ("cr_distill",),
          ("renderer", "projector", "lora"), 1),
    Stage(4, "recognition", "recognition refinement", ("mqa",), ("projector", "lora"), 3),
)

#: The ablation without a curriculum: everything the curriculum ever trains, from the start,
#: on all its tasks mixed.
JOINT = Stage(0, "joint", "joint training (ablation)", ("mqa", "disc", "cr_distill"),
              ("renderer", "projector", "lora"), 3)

STAGE_NAMES = tuple(s.name for s in CURRICULUM) + (JOINT.name,)


def curriculum(overrides: dict[str, dict] | None = None) -> tuple[tuple[Stage, ...], Stage]:
    """The curriculum and the joint stage with per-stage ``overrides`` applied.

    ``overrides`` maps a stage name to fields to replace (``lr``, ``epochs``, ``tasks``,
    ``trains``, ``task_share`` as ``{task: fraction}``), as read from a run config's ``stages:`` section.
    """
    overrides = dict(overrides or {})
    for name in overrides:
        if name not in STAGE_NAMES:
            raise ConfigError(None, f"stages.{name}", f"unknown stage (known: {', '.join(STAGE_NAMES)})")

    def apply(stage: Stage) -> Stage:
        o = {k: v for k, v in (overrides.get(stage.name) or {}).items() if v is not None}
        for k in ("tasks", "trains"):
            if k in o:
                o[k] = tuple(o[k])
        if "task_share" in o:
            o["task_share"] = tuple(sorted((str(t), float(v)) for t, v in dict(o["task_share"]).items()))
        return replace(stage, **o)

    return tuple(apply(s) for s in CURRICULUM), apply(JOINT)


def select_stages(spec: str | int | None, stages: Sequence[Stage] = CURRICULUM) -> list[Stage]:
    """The stages a ``--stage`` argument names: ``"all"``/None, ``"3"``, ``"2-4"``, or a stage name."""
    if spec is None or str(spec).strip().lower() == "all":
        return list(stages)
    text = str(spec).strip()
    by_index = {s.index: s for s in stages}
    by_name = {s.name: s for s in stages}
    if text in by_name:
        return [by_name[text]]
    try:
        if "-" in text:
            a, b = (int(x) for x in text.split("-", 1))
        else:
            a = b = int(text)
    except ValueError:
        raise ConfigError("--stage", "stage", f"expected N, A-B, 'all' or a stage name, got '{spec}'") from None
    if a > b or a not in by_index or b not in by_index:
        raise ConfigError("--stage", "stage",
                          f"'{spec}' is not a range of stages {min(by_index)}..{max(by_index)}")
    return [by_index[i] for i in range(a, b + 1)]


class StageOrderError(SkeletonLLMError, RuntimeError):
    """A stage cannot start: its predecessor has not finished, or its directory is already used."""

