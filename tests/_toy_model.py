"""A small stand-in with SkeletonLLM's training interface, for trainer tests.

It is a real model, not a fake: a per-frame "renderer" MLP over joint coordinates, a
"vision" layer, a "projector", and a byte-level recurrent "language" model with LoRA
adapters (and dropout, so RNG state matters for resumption). Its loss is the
cross-entropy of the target bytes given the skeleton and the prompt. It lets the trainer
be checked quickly and independently of the full model.

Two environment variables let tests interrupt a training subprocess at a chosen moment:
``TOY_STEP_SLEEP`` (seconds added to every forward pass, so a run lasts long enough to be
killed mid-way) and ``TOY_HANG_AT_SAVE=N`` (the N-th ``save_pretrained`` call of the
process writes its weights, then hangs: a kill then lands in the middle of a checkpoint).
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from skeletonllm.skeleton import SkeletonBatch


@dataclass
class ToyOutput:
    """A dataclass, like SkeletonLLMOutput: FSDP finds the loss in it to hook its backward
    (in a SimpleNamespace it would not, and sharded gradients would never be reduced)."""

    loss: torch.Tensor


@dataclass
class ToyModelConfig:
    hidden: int = 16
    rank: int = 4
    dropout: float = 0.1
    max_target_bytes: int = 48


class LoRALinear(nn.Module):
    """A frozen-able base linear layer plus a low-rank update ``B @ A`` with dropout on its input."""

    def __init__(self, d_in: int, d_out: int, rank: int, dropout: float):
        super().__init__()
        self.base = nn.Linear(d_in, d_out)
        self.lora_a = nn.Parameter(torch.randn(rank, d_in) * 0.1)
        self.lora_b = nn.Parameter(torch.zeros(d_out, rank))
        self.drop = nn.Dropout(dropout)

    def forward(self, x):
        return self.base(x) + self.drop(x) @ self.lora_a.T @ self.lora_b.T


class ToyModel(nn.Module):
    config_class = ToyModelConfig
    _saves = 0  # save_pretrained calls in this process (TOY_HANG_AT_SAVE)
    instances: list = []  # every model built in this process, newest last (to inspect replicas)

    def __init__(self, config: ToyModelConfig | None = None):
        super().__init__()
        self.config = config or ToyModelConfig()
        h = self.config.hidden
        self.renderer = nn.Sequential(nn.Linear(3, h), nn.Tanh(), nn.Linear(h, h))
        self.vision = nn.Linear(h, h)
        self.projector = nn.Linear(h, h)
        self.embed = nn.Embedding(256, h)
        self.cell = nn.GRUCell(h, h)
        self.head = LoRALinear(h, 256, self.config.rank, self.config.dropout)
        ToyModel.instances.append(self)

    # -- SkeletonLLM's training interface ------------------------------------------------
    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        lora = [self.head.lora_a, self.head.lora_b]
        language = list(self.embed.parameters()) + list(self.cell.parameters()) + list(self.head.base.parameters())
        return {"renderer": list(self.renderer.parameters()), "vision": list(self.vision.parameters()),
                "projector": list(self.projector.parameters()), "language": language, "lora": lora}

    def set_trainable(self, groups) -> None:
        groups = set(groups)
        for name, params in self.parameter_groups().items():
            for p in params:
                p.requires_grad_(name in groups)

    def forward(self, skeletons: SkeletonBatch, prompts: list[str], targets: list[str]):
        """Loss of ``targets`` given the skeletons ``(B, F, M, J, 3)`` and ``prompts``."""
        if os.environ.get("TOY_STEP_SLEEP"):
            time.sleep(float(os.environ["TOY_STEP_SLEEP"]))
        joints = skeletons.joints  # (B, F, M, J, 3)
        mask = skeletons.present[..., None, None].to(joints.dtype)
        feats = self.renderer(joints) * mask  # (B, F, M, J, h)
        pooled = feats.sum(dim=(1, 2, 3)) / mask.sum(dim=(1, 2, 3)).clamp(min=1)
        visual = self.projector(torch.tanh(self.vision(pooled)))  # (B, h)
        device = joints.device
        losses = []
        for b, (prompt, target) in enumerate(zip(prompts, targets)):
            p_ids = torch.tensor(list(prompt.encode()[-64:]) or [0], device=device)
            t_ids = torch.tensor(list(target.encode()[: self.config.max_target_bytes]), device=device)
            state = visual[b] + self.embed(p_ids).mean(0)
            prev = torch.zeros((), dtype=torch.long, device=device)
            logits = []
            for t in range(len(t_ids)):
                state = self.cell(self.embed(prev)[None], state[None])[0]
                logits.append(self.head(state))
                prev = t_ids[t]
            losses.append(nn.functional.cross_entropy(torch.stack(logits), t_ids))
        return ToyOutput(loss=torch.stack(losses).mean())

    def save_pretrained(self, directory) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "config.json").write_text(json.dumps(asdict(self.config)))
        save_file({k: v.detach().contiguous() for k, v in self.state_dict().items()}, str(directory / "model.safetensors"))
        ToyModel._saves += 1
        if os.environ.get("TOY_HANG_AT_SAVE") and ToyModel._saves == int(os.environ["TOY_HANG_AT_SAVE"]):
            (directory / "HANGING").write_text(str(os.getpid()))
            time.sleep(600)

    @classmethod
    def from_pretrained(cls, directory) -> "ToyModel":
        directory = Path(directory)
        model = cls(ToyModelConfig(**json.loads((directory / "config.json").read_text())))
        model.load_state_dict(load_file(str(directory / "model.safetensors")))
        return model


# -- helpers shared by the training tests ------------------------------------------------------

DATA = Path(__file__).parent / "data"
#: Real sample files: 2 NTU clips and a PKU-MMD recording of 7 labelled clips (all Kinect v2).
SAMPLE_FILES = [str(DATA / "ntu_skeleton" / "*.skeleton"), str(DATA / "pku_mmd" / "skeleton" / "0036-L.txt")]


def write_rationales(path, sequences) -> None:
    """A rationale cache (JSONL, the teacher's format) for every labelled clip."""
    from skeletonllm.train.tasks import sample_id
    lines = []
    for s in sequences:
        if s.label is not None:
            text = f"1. The arms and hands move.\n2. The body follows the motion.\nLabel: {s.label}"
            lines.append(json.dumps({"id": sample_id(s), "label": s.label, "rationale": text}))
    Path(path).write_text("\n".join(lines) + "\n")


def toy_config(out_dir, **train) -> dict:
    """A run config (as a dict) for the toy model on the sample files, split pku_46_5."""
    import skeletonllm
    import glob
    seqs = [q for pattern in SAMPLE_FILES for f in sorted(glob.glob(pattern)) for q in skeletonllm.load_all(f)]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_rationales(out_dir / "rationales.jsonl", seqs)
    return {
        "run": {"name": "toy", "output_dir": str(out_dir / "run"), "seed": 0},
        "model_class": "_toy_model:ToyModel",
        "model": {"hidden": 16},
        "data": {"files": SAMPLE_FILES, "split": "pku_46_5", "num_frames": 4, "max_bodies": 2,
                 "rationales": str(out_dir / "rationales.jsonl")},
        "train": {"per_device_batch_size": 2, "log_every": 1, "save_every": 0, "mixed_precision": "no",
                  "tensorboard": False, **train},
        "stages": {name: {"lr": 0.01} for name in ("render_warmup", "disc_ft", "cr_distill", "recognition", "joint")},
    }


def assert_same_final_weights(run_dir, reference_dir, stage_dir: str) -> None:
    """The stage's final weights of two runs are bit-identical (a resumed run against an uninterrupted one)."""
    final = load_file(str(Path(run_dir) / stage_dir / "final" / "model.safetensors"))
    expected = load_file(str(Path(reference_dir) / stage_dir / "final" / "model.safetensors"))
    assert final.keys() == expected.keys()
    for k in final:
        assert torch.equal(final[k], expected[k]), k
