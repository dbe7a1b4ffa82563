"""The curriculum end to end on real sample files: each stage changes exactly its groups."""
import json
import sys
from pathlib import Path

import pytest
import torch
from accelerate.utils import set_seed

sys.path.insert(0, str(Path(__file__).parent))
from _toy_model import toy_config  # noqa: E402

from skeletonllm.skeleton.splits import class_names, get_split  # noqa: E402
from skeletonllm.train import checkpointing as ck  # noqa: E402
from skeletonllm.train.config import config_from_dict  # noqa: E402
from skeletonllm.train.stages import CURRICULUM, JOINT  # noqa: E402
from skeletonllm.train.trainer import StageOrderError, run_training, snapshot_groups, stage_seed  # noqa: E402

GROUPS = ("renderer", "vision", "projector", "language", "lora")


def tiny_model_section():
    """The real SkeletonLLM with a tiny random InternVL backbone, small frames."""
    return {"backbone": "tiny:internvl", "image_size": 56, "renderer_options": {"image_size": 56},
            "lora_r": 4, "lora_alpha": 8}


def _config(tmp_path, kind, **train):
    data = toy_config(tmp_path, **train)
    if kind == "tiny":
        data["model_class"] = "skeletonllm.mllm.model:SkeletonLLM"
        data["model"] = tiny_model_section()
    return config_from_dict(data, "test")


def _changed(before, after):
    return {g for g in GROUPS if any(not torch.equal(before[g][k], after[g][k]) for k in before[g])}


def _fresh_snapshot(cfg, stage):
    set_seed(stage_seed(cfg.run.seed, stage))
    return snapshot_groups(cfg.model_cls()(cfg.model_config()))


@pytest.mark.parametrize("kind", ["toy", "tiny"])
def test_four_stages_change_exactly_their_groups(tmp_path, kind):
    # The real model takes 3 steps per stage (its speed is not what is tested here).
    cfg = _config(tmp_path, kind, **({"max_steps": 3} if kind == "tiny" else {}))
    cls = cfg.model_cls()
    results = run_training(cfg, "all", progress=False, cpu=True)
    assert [r.stage for r in results] == [s.name for s in CURRICULUM]
    before = _fresh_snapshot(cfg, CURRICULUM[0])
    out = Path(cfg.run.output_dir)
    for stage, result in zip(CURRICULUM, results):
        assert ck.is_complete(result.final_dir) and result.final_dir == out / stage.dirname / "final"
        model = cls.from_pretrained(result.final_dir)
        after = snapshot_groups(model)
        assert _changed(before, after) == set(stage.trains), stage.name
        if kind == "tiny":   # every stage's checkpoint knows the split it was trained on
            split = get_split("pku_46_5")
            assert model.classes == {"split": "pku_46_5", "classes": list(class_names("pku_mmd")),
                                     "seen": list(split.seen_names), "unseen": list(split.unseen_names)}
        log = [json.loads(l) for l in (out / stage.dirname / "log.jsonl").read_text().splitlines()]
        start = log[0]
        assert start["event"] == "start" and start["trains"] == list(stage.trains)
        steps = [r for r in log if "loss" in r]
        assert steps and all(r["loss"] > 0 and r["samples_per_s"] > 0 for r in steps)
        assert steps[-1]["step"] == result.steps == start["steps"]
        # pku_46_5: 1 of the 9 sample clips is of an unseen class and never used.
        for task in start["tasks_data"].values():
            assert task["clips"] == 9 and task["skipped"].get("unseen_class") == 1
        before = after
    # 8 seen clips: MQA 4 steps of 2, Disc-FT 16 items (1:1) -> 8 steps, 3 epochs of MQA -> 12.
    assert [r.steps for r in results] == ([4, 8, 4, 12] if kind == "toy" else [3, 3, 3, 3])


def test_joint_ablation_and_stage_order(tmp_path):
    cfg = _config(tmp_path, "toy", max_steps=3)
    with pytest.raises(StageOrderError, match="run stage 2 first"):
        run_training(cfg, "3", progress=False, cpu=True)
    (r,) = run_training(cfg, "1", progress=False, cpu=True)
    with pytest.raises(StageOrderError, match="--resume"):
        run_training(cfg, "1", progress=False, cpu=True)
    assert run_training(cfg, "1-2", resume=True, progress=False, cpu=True)[0].stage == "disc_ft"

    (j,) = run_training(cfg, joint=True, progress=False, cpu=True)
    assert j.final_dir.parent.name == "joint"
    start = json.loads((j.final_dir.parent / "log.jsonl").read_text().splitlines()[0])
    assert set(start["tasks_data"]) == {"mqa", "disc", "cr_distill"} and start["items"] == 8 + 16 + 8
    before = _fresh_snapshot(cfg, JOINT)
    after = snapshot_groups(cfg.model_cls().from_pretrained(j.final_dir))
    assert _changed(before, after) == set(JOINT.trains)
