"""Steps 2 and 3 through the project's trainer (:func:`skeletonllm.train.trainer.train_stage`).

Each step is one trainer stage: accelerate (one CPU, GPUs, DDP), a JSONL log, atomic
checkpoints every ``save_every`` steps, exact resume after a kill (model, optimiser,
scheduler, RNG and the position in the data), and a ``final/`` directory::

    <output_dir>/step2-alignment/final     SkeletonTextAligner (CTR-GCN + heads [+ text encoder])
    <output_dir>/step3-classifier/final    SugarModel: the checkpoint to evaluate and use

Step 2 trains the encoder (and the projection heads) with MIL-NCE and SGD; Step 3 starts
from Step 2's encoder, freezes it, and trains the bridge and LoRA with AdamW. In a
multi-process run the MIL-NCE negatives are the texts of the whole global batch (every
process's clips, gathered: :func:`skeletonllm.sugar.contrastive.global_mil_nce`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..atomic import atomic_write_text
from ..errors import ConfigError
from ..train import checkpointing as ck
from ..train.accelerator import make_accelerator
from ..train.data import load_files, split_name
from ..train.optim import optimizer_groups
from ..train.stages import Stage, StageOrderError
from ..train.tasks import ClassGuard, TaskCollator
from ..train.trainer import StageResult, stage_to_run, train_stage, with_classes
from .config import SugarRunConfig
from .knowledge import Knowledge, load_knowledge


@dataclass(frozen=True)
class SugarStep(Stage):
    """A SUGAR step as a trainer stage (its own task and group names)."""

    def __post_init__(self):
        if not self.trains:
            raise ConfigError(None, f"{self.name}.trains", "a step needs at least one trainable group")
        if self.epochs < 1 or not self.lr > 0:
            raise ConfigError(None, self.name, f"needs epochs >= 1 and lr > 0, got {self.epochs}, {self.lr}")

    @property
    def dirname(self) -> str:
        return f"step{self.index}-{self.name}"


def steps(cfg: SugarRunConfig) -> dict[int, SugarStep]:
    return {2: SugarStep(2, "alignment", "skeleton-text contrastive learning (MIL-NCE)", ("contrastive",),
                         tuple(cfg.step2.trains), cfg.step2.epochs, cfg.step2.lr),
            3: SugarStep(3, "classifier", "LLM classifier (frozen encoder, bridge + LoRA)", ("classify",),
                         tuple(cfg.step3.trains), cfg.step3.epochs, cfg.step3.lr)}


# -- training clips ----------------------------------------------------------------------------

@dataclass
class SugarTrainingData:
    """Clips to train on and the class split.

    Attributes:
        clips: ``(SkeletonSequence or zero-argument loader, class name)`` pairs.
        seen: the classes training may name; ``unseen`` the held-out ones (kept out of every text).
    """

    clips: list[tuple[object, str | None]]
    seen: list[str]
    unseen: list[str] = field(default_factory=list)

    def guard(self) -> ClassGuard:
        return ClassGuard(self.seen, self.unseen)

    def class_record(self, split: str | None, classes=None) -> dict:
        """What the Step 3 checkpoint remembers of these classes (``classes``: all, in label order)."""
        from ..mllm.checkpoint import class_record
        return class_record(split, classes, self.seen, self.unseen)


def _synth_data(options: dict, seed: int, max_samples: int | None) -> SugarTrainingData:
    from ..synth import SyntheticMotionSet

    options = dict(options)
    split, topology = options.pop("split", "synth_24_6"), options.pop("topology", "ntu25")
    num, set_seed = options.pop("num_per_class", 8), options.pop("seed", seed)
    if options:
        raise ConfigError(None, f"data.synth.{next(iter(options))}", "unknown key (known: split, topology, "
                                                                      "num_per_class, seed)")
    ds = SyntheticMotionSet.for_split(split, num_per_class=num, seed=set_seed, topologies=(topology,))
    clips = [(ds[i].sequence(topology), ds[i].label) for i in ds.seen_indices()]
    return SugarTrainingData(clips[:max_samples], list(ds.split.seen), list(ds.split.unseen))


def _dataset_data(d, bad_files=None) -> tuple[list, list[str]]:
    from ..skeleton.dataset import DEFAULT_PROTOCOL, SkeletonDataset
    from ..skeleton.splits import class_names
    from ..train.data import LazyClips

    names = list(class_names(d.dataset))
    protocol = DEFAULT_PROTOCOL.get(d.dataset) if d.protocol == "default" else (None if d.protocol == "none" else d.protocol)
    kw = {"options": {"max_bodies": d.max_bodies}} if d.dataset in ("ntu60", "ntu120") else {}
    ds = SkeletonDataset(d.root, cache_dir=d.cache_dir, class_ids=range(len(names)), protocol=protocol,
                         part=d.part if protocol else None, **kw)
    return [(clip, clip.label) for clip in LazyClips(ds, names, bad_files).clips()], names


def load_sugar_data(cfg: SugarRunConfig, bad_files=None) -> SugarTrainingData:
    """The clips and split ``cfg.data`` names (dataset clips are loaded when used); files that
    fail to parse go to ``bad_files`` (:class:`~skeletonllm.train.data.BadFileLog`)."""
    d = cfg.data
    if d.synth is not None:
        return _synth_data(d.synth, cfg.run.seed, d.max_samples)
    split = None
    if d.split is not None:
        from ..skeleton.splits import get_split
        split = get_split(d.split)
    if d.files is not None:
        seqs = load_files(d.files, d.max_bodies, bad_files)
        clips = [(s, s.label) for s in seqs]
        names = sorted({s.label for s in seqs if s.label is not None})
    else:
        clips, names = _dataset_data(d, bad_files)
    clips = clips[:d.max_samples] if d.max_samples is not None else clips
    if not clips:
        raise ConfigError(cfg.source, "data", "the configured data source holds no clips")
    if split is not None:
        return SugarTrainingData(clips, list(split.seen_names), list(split.unseen_names))
    present = sorted({label for _, label in clips if label is not None}, key=lambda n: names.index(n) if n in names else 0)
    return SugarTrainingData(clips, present)


# -- the optimiser of Step 2 --------------------------------------------------------------------

def sgd_factory(momentum: float, nesterov: bool):
    """``optimizer_fn`` for :func:`train_stage`: SGD over the step's groups, no weight decay on 1-D tensors."""

    def build(model, stage, train, group_lr=None):
        return torch.optim.SGD(optimizer_groups(model, stage, train, group_lr), lr=stage.lr, momentum=momentum,
                               nesterov=nesterov and momentum > 0)

    return build


# -- the run -------------------------------------------------------------------------------------

def select_steps(spec: str | int) -> list[int]:
    text = str(spec).strip().lower()
    if text in ("all", "2-3"):
        return [2, 3]
    if text in ("2", "3"):
        return [int(text)]
    raise ConfigError("--step", "step", f"expected 2, 3 or all, got '{spec}'")


def step_dir(cfg: SugarRunConfig, index: int) -> Path:
    return Path(cfg.run.output_dir) / steps(cfg)[index].dirname


def final_checkpoint(cfg: SugarRunConfig) -> Path:
    """Where the trained SUGAR model ends up (Step 3's final weights)."""
    return step_dir(cfg, 3) / "final"


def _all_classes(d) -> list[str] | None:
    """Every class of the data's dataset or split, in label order (None: seen + unseen will do)."""
    if d.split is not None:
        from ..skeleton.splits import class_names, get_split
        return list(class_names(get_split(d.split).dataset))
    if d.synth is not None:
        from ..synth import get_split as synth_split
        return list(synth_split(d.synth.get("split", "synth_24_6")).classes)
    return None


def _tokenizer_corpus(data: SugarTrainingData, knowledge: Knowledge | None) -> list[str]:
    """Texts a tiny language model's tokenizer learns its merges from: seen classes and their descriptions."""
    out = list(data.seen)
    if knowledge is not None:
        out += [knowledge.get(c).summary for c in data.seen if c in knowledge]
    return out


def _text_corpus(knowledge: Knowledge | None, seen) -> list[str]:
    if knowledge is None:
        return list(seen)
    return [t for c in seen if c in knowledge for t in (*knowledge.get(c).motion_texts(), *knowledge.get(c).visual)]


def run_sugar(cfg: SugarRunConfig, step: str | int = "all", resume: bool = False, progress: bool = True,
              cpu: bool = False, data: SugarTrainingData | None = None,
              knowledge: Knowledge | None = None) -> list[StageResult]:
    """Train the steps ``step`` names (``2``, ``3`` or ``all``) of ``cfg``.

    With ``resume`` finished steps are skipped and an interrupted one continues from its
    newest checkpoint; without it, a step whose directory holds results is an error.
    ``data`` / ``knowledge`` replace the config's clips / knowledge file (the demo passes
    its own).
    """
    import yaml

    from .contrastive import SkeletonTextAligner
    from .model import SugarModel
    from .tasks import ClassifyTask, ContrastiveCollator, ContrastiveTask

    table = steps(cfg)
    selected = [table[i] for i in select_steps(step)]
    out = Path(cfg.run.output_dir)
    need_knowledge = bool(set(cfg.step2.texts) & {"motion", "visual"}) or cfg.llm.describe
    if knowledge is None and need_knowledge:
        knowledge = load_knowledge(cfg.knowledge)
    from ..train.data import BadFileLog
    bad_files = BadFileLog(out / "bad_files.jsonl", cfg.data.max_bad_files)
    data = data or load_sugar_data(cfg, bad_files)
    guard = data.guard()
    if knowledge is not None:
        knowledge.require(guard.seen.values())
    seed = cfg.run.seed
    results = []
    accelerator = None
    for st in selected:
        sdir = out / st.dirname
        if not stage_to_run(st, sdir, resume):
            continue
        train = cfg.step2.train if st.index == 2 else cfg.step3.train
        if accelerator is None:   # one per process: accelerate's state is a singleton
            accelerator = make_accelerator(train, cpu=cpu)
        accelerator.gradient_accumulation_steps = train.gradient_accumulation_steps
        if accelerator.is_main_process:
            out.mkdir(parents=True, exist_ok=True)
            atomic_write_text(out / "config.yaml", yaml.safe_dump(cfg.to_dict(), sort_keys=False))
        device = str(accelerator.device)
        if st.index == 2:
            task = ContrastiveTask(data.clips, guard, knowledge, cfg.step2.texts, cfg.step2.visual_per_clip,
                                   seed=seed, num_frames=cfg.encoder.num_frames, train=True)
            strings = task.all_strings()
            acfg = cfg.aligner_config()

            def init(acfg=acfg, strings=strings):
                model = SkeletonTextAligner(acfg, text_corpus=_text_corpus(knowledge, data.seen) + strings)
                model.to(device).precompute_texts(strings)
                return model

            def load(path, strings=strings):
                model = SkeletonTextAligner.from_pretrained(path, device=device)
                model.precompute_texts(strings)
                return model

            collator = ContrastiveCollator(cfg.encoder.num_frames, cfg.data.max_bodies)
            opt = sgd_factory(cfg.step2.momentum, cfg.step2.nesterov) if cfg.step2.optimizer == "sgd" else None
        else:
            prev = out / table[2].dirname / "final"
            if not ck.is_complete(prev):
                raise StageOrderError(f"Step 3 starts from Step 2's encoder, but {prev} is missing or incomplete; "
                                     "run --step 2 first")
            task = ClassifyTask(data.clips, guard, knowledge, cfg.llm.describe, cfg.step3.num_candidates, seed=seed,
                                num_frames=cfg.encoder.num_frames, train=True)
            scfg, corpus = cfg.sugar_config(), _tokenizer_corpus(data, knowledge)

            def init(prev=prev, scfg=scfg, corpus=corpus):
                return SugarModel.from_aligner(prev, scfg, corpus=corpus, device=device).to(device)

            def load(path):
                return SugarModel.from_pretrained(path, device=device)

            classes = data.class_record(split_name(cfg.data), _all_classes(cfg.data))
            init, load = with_classes(init, classes), with_classes(load, classes)

            collator, opt = TaskCollator(cfg.encoder.num_frames, cfg.data.max_bodies), None
        if len(task) == 0:
            raise ConfigError(cfg.source, "data", f"step {st.index}: no training clips of seen classes "
                                                  f"({task.stats.clips} clips; skipped: {task.stats.skipped})")
        stats = {"items": len(task), "clips": task.stats.clips, "skipped": task.stats.skipped}
        results.append(train_stage(st, task, init, load, sdir, train, collator, accelerator, seed=seed,
                                   resume=resume, progress=progress, optimizer_fn=opt,
                                   group_lr=cfg.step3.group_lr if st.index == 3 else None,
                                   extra_log={"method": "sugar", "tasks_data": {st.tasks[0]: stats}}))
    return results


__all__ = ["SugarStep", "SugarTrainingData", "final_checkpoint", "load_sugar_data", "run_sugar",
           "select_steps", "sgd_factory", "step_dir", "steps"]
