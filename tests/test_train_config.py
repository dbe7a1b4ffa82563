"""Run configs: YAML -> validated dataclasses; shipped configs; the stage table."""
import sys
from pathlib import Path

import pytest
import yaml

from skeletonllm.errors import ConfigError
from skeletonllm.train.config import config_from_dict, list_shipped_configs, load_config
from skeletonllm.train.stages import CURRICULUM, JOINT, curriculum, select_stages

sys.path.insert(0, str(Path(__file__).parent))

TOY = {"model_class": "_toy_model:ToyModel", "model": {"hidden": 8}, "data": {"files": ["x.skeleton"]}}


def _cfg(**sections):
    data = {k: (dict(v) if isinstance(v, dict) else v) for k, v in TOY.items()}
    for k, v in sections.items():
        data[k] = {**data.get(k, {}), **v} if isinstance(v, dict) and isinstance(data.get(k), dict) else v
    return config_from_dict(data, "t.yaml")


def test_defaults_are_the_papers():
    cfg = _cfg()
    t = cfg.train
    assert (t.per_device_batch_size, t.weight_decay, t.warmup_ratio) == (2, 0.05, 0.03)
    assert [(s.index, s.name, s.trains, s.epochs) for s in CURRICULUM] == [
        (1, "render_warmup", ("renderer",), 1), (2, "disc_ft", ("renderer", "projector"), 1),
        (3, "cr_distill", ("renderer", "projector", "lora"), 1), (4, "recognition", ("projector", "lora"), 3)]
    assert [s.tasks for s in CURRICULUM] == [("mqa",), ("disc",), ("cr_distill",), ("mqa",)]
    assert set(JOINT.trains) == {"renderer", "projector", "lora"} and set(JOINT.tasks) == {"mqa", "disc", "cr_distill"}
    assert cfg.model_config().hidden == 8


@pytest.mark.parametrize("sections, key", [
    ({"train": {"per_device_batch_sise": 2}}, "train.per_device_batch_sise"),       # typo
    ({"train": {"per_device_batch_size": "two"}}, "train.per_device_batch_size"),   # type
    ({"train": {"per_device_batch_size": 0}}, "train.per_device_batch_size"),       # range
    ({"train": {"warmup_ratio": 1.5}}, "train.warmup_ratio"),
    ({"train": {"mixed_precision": "fp8"}}, "train.mixed_precision"),
    ({"train": {"tensorboard": "yes"}}, "train.tensorboard"),
    ({"stages": {"stage9": {"lr": 1e-4}}}, "stages.stage9"),
    ({"stages": {"disc_ft": {"lr": -1.0}}}, "stages.disc_ft.lr"),
    ({"stages": {"disc_ft": {"trains": ["renderer", "decoder"]}}}, "stages.disc_ft"),
    ({"stages": {"disc_ft": {"tasks": ["mqa", "dance"]}}}, "stages.disc_ft.tasks"),
    ({"stages": {"recognition": {"task_share": {"dance": 0.5}}}}, "stages.recognition.task_share"),
    ({"stages": {"recognition": {"task_share": {"caption": 1.5}}}}, "stages.recognition.task_share.caption"),
    ({"stages": {"recognition": {"task_share": {"caption": 0}}}}, "stages.recognition.task_share.caption"),
    ({"model": {"hiden": 8}}, "model.hiden"),
    ({"model": {"hidden": 8.5}}, "model.hidden"),
    ({"data": {"files": ["x"], "synth": {"n": 1}}}, "data"),
    ({"data": {"num_frames": -3}}, "data.num_frames"),
    ({"dataa": {}}, "dataa"),
    ({"model_class": "nowhere.module:Model"}, "model_class"),
])
def test_bad_configs_name_the_key(sections, key):
    with pytest.raises(ConfigError) as e:
        _cfg(**sections)
    assert e.value.key == key and "t.yaml" in str(e.value)


def test_yaml_file_overrides_and_floats(tmp_path):
    p = tmp_path / "run.yaml"
    p.write_text(yaml.safe_dump({**TOY, "stages": {"render_warmup": {"lr": "1e-3", "epochs": 2}}}))
    cfg = load_config(p, {"train.max_steps": 3, "run.seed": 7})
    assert cfg.train.max_steps == 3 and cfg.run.seed == 7
    table, _ = curriculum(cfg.stage_overrides())
    assert table[0].lr == 1e-3 and table[0].epochs == 2 and table[1].lr == 4e-5
    with pytest.raises(ConfigError, match="train.max_steps"):
        load_config(p, {"train.max_steps": "many"})
    bad = tmp_path / "bad.yaml"
    bad.write_text("run:\n  name: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "missing.yaml")


def test_task_share_reaches_the_stage_and_names_its_tasks():
    cfg = _cfg(stages={"recognition": {"tasks": ["mqa", "caption"], "task_share": {"caption": 0.25}}})
    table, _ = curriculum(cfg.stage_overrides())
    assert table[3].task_share == (("caption", 0.25),) and table[2].task_share == ()
    cfg = _cfg(stages={"recognition": {"task_share": {"caption": 0.25}}})     # caption is not a stage-4 task
    with pytest.raises(ConfigError, match="'caption' is not one of the stage's tasks"):
        curriculum(cfg.stage_overrides())


def test_stage_selection():
    assert [s.index for s in select_stages("all")] == [1, 2, 3, 4]
    assert [s.index for s in select_stages("2-4")] == [2, 3, 4]
    assert [s.index for s in select_stages(3)] == [3]
    assert [s.index for s in select_stages("disc_ft")] == [2]
    for bad in ("0", "5", "3-2", "x", "1-9"):
        with pytest.raises(ConfigError):
            select_stages(bad)


def test_shipped_configs_are_valid():
    names = list_shipped_configs()
    expected = {"ntu60_55_5", "ntu60_48_12", "ntu60_40_20", "ntu60_30_30", "ntu120_110_10", "ntu120_96_24",
                "ntu120_80_40", "ntu120_60_60", "pku_46_5", "pku_39_12", "tiny_cpu"}
    assert expected <= set(names)
    from skeletonllm.skeleton.splits import get_split
    for name in names:
        cfg = load_config(name)
        if name != "tiny_cpu":
            split = get_split(cfg.data.split)
            assert cfg.run.name == name and split.dataset == cfg.data.dataset
            assert cfg.model["backbone"] == "OpenGVLab/InternVL3-8B-hf" and cfg.model["image_size"] == 448
            assert cfg.data.num_frames == 12 and cfg.train.per_device_batch_size == 2
            table, _ = curriculum(cfg.stage_overrides())
            assert [s.epochs for s in table] == [1, 1, 1, 3]
    acc = Path(load_config("tiny_cpu").source).parent / "accelerate"
    for f, kind in (("single_gpu.yaml", "NO"), ("ddp_8gpu.yaml", "MULTI_GPU"), ("zero2_8gpu.yaml", "DEEPSPEED")):
        data = yaml.safe_load((acc / f).read_text())
        assert data["distributed_type"] == kind and data["mixed_precision"] == "bf16"
    assert yaml.safe_load((acc / "zero2_8gpu.yaml").read_text())["deepspeed_config"]["zero_stage"] == 2
