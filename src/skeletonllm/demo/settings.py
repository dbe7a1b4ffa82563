"""What the demo runs: :class:`DemoSettings`, the full demo (:meth:`~DemoSettings.full`) or the
test-suite size (:meth:`~DemoSettings.quick`), every part's recipe in one dataclass."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from .ablation import ARMS, CurriculumSettings
from .pretrain_settings import PretrainSettings
from .sugar_arm import SugarArmSettings


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
        calibrate: rank the candidates by likelihood calibrated on training clips (every
            arm, SUGAR too; :mod:`skeletonllm.eval.calibration`): each candidate's log-likelihood
            minus its average over four training clips per seen class. The plain ranking is
            measured beside it. Chosen on the validation split (eight seen classes held out as
            zero-shot classes, ``scripts/demo_sweep.py --validation``), no unseen class involved.
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
    calibrate: bool = True
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

    def with_overrides(self, overrides: dict[str, Any]) -> "DemoSettings":
        """A copy with ``{"pretrain.downsample_ratio": 0.5, "curriculum.stage4_tasks": ["mqa"], "calibrate":
        False}`` applied: a dotted key names a field of ``pretrain``, ``curriculum`` or ``sugar``; lists
        become tuples where the field holds a tuple. An unknown key, or a value of another type than the
        field's, is a ``ValueError`` naming the setting."""
        top, nested = {}, {}
        for key, value in overrides.items():
            section, _, name = key.rpartition(".")
            if section and section not in SECTIONS:
                raise ValueError(f"unknown demo setting '{key}' (sections: {', '.join(SECTIONS)})")
            owner = getattr(self, section) if section else self
            fields = {f.name for f in dataclasses.fields(owner)} - (set() if section else set(SECTIONS) | OWN_OPTIONS)
            if name not in fields:
                raise ValueError(f"unknown demo setting '{key}' (known{' in ' + section if section else ''}: "
                                 f"{', '.join(sorted(fields))}{'' if section else ', ' + ', '.join(s + '.*' for s in SECTIONS)})")
            current = getattr(owner, name)
            if isinstance(current, tuple) and isinstance(value, list):
                value = tuple(value)
            if not _same_kind(current, value):
                raise ValueError(f"demo setting '{key}': expected a value like {current!r}, got {value!r}")
            (nested.setdefault(section, {}) if section else top)[name] = value
        sections = {s: dataclasses.replace(getattr(self, s), **v) for s, v in nested.items()}
        return dataclasses.replace(self, **top, **sections)

    def changes(self) -> list[str]:
        """``"pretrain.downsample_ratio = 0.5 (default 1.0)"`` for each setting that differs from
        :meth:`full` / :meth:`quick` of the same mode (the settings with their own option left out)."""
        base = (DemoSettings.quick if self.quick_mode else DemoSettings.full)(self.seed).to_dict()
        out = []
        for key, value in self.to_dict().items():
            if key in OWN_OPTIONS:
                continue
            pairs = value.items() if key in SECTIONS else [(None, value)]
            for name, v in pairs:
                was = base[key] if name is None else base[key][name]
                if v != was:
                    out.append(f"{key if name is None else key + '.' + name} = {v!r} (default {was!r})")
        return out


#: Demo settings grouped in their own dataclass (``--set pretrain.KEY=VALUE``).
SECTIONS = ("pretrain", "curriculum", "sugar")
#: Settings with their own command-line option, not set through ``--set``.
OWN_OPTIONS = {"seed", "mode", "workers", "threads"}


def _same_kind(current, value) -> bool:
    """Whether ``value`` may replace ``current`` (numbers for numbers, None for optional fields)."""
    if current is None or value is None:
        return True
    if isinstance(current, bool) or isinstance(value, bool):
        return isinstance(current, bool) and isinstance(value, bool)
    if isinstance(current, (int, float)):
        return isinstance(value, (int, float))
    return isinstance(value, type(current))


__all__ = ["DemoSettings", "SECTIONS"]
