"""SUGAR's Steps 2 and 3 through the project's trainer: configs, kill-and-resume exactness, the report,
and the demo arm."""
import json
import shutil
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from skeletonllm.errors import ConfigError
from skeletonllm.sugar.config import config_from_dict, list_shipped, load_sugar_config
from skeletonllm.train import checkpointing as ck

sys.path.insert(0, str(Path(__file__).parent))
from _runs import checkpoint_steps, finish, wait_for  # noqa: E402

STEP2, STEP3 = "step2-alignment", "step3-classifier"


def small_config(out_dir) -> dict:
    """A fast SUGAR run on procedural motions (48 seen clips): 36 Step 2 steps, 12 Step 3 steps."""
    train = {"per_device_batch_size": 4, "mixed_precision": "no", "log_every": 1, "save_every": 1, "keep_last": 2,
             "tensorboard": False, "max_grad_norm": 1.0}
    return {
        "run": {"name": "t", "output_dir": str(out_dir), "seed": 0},
        "knowledge": "synth",
        "encoder": {"channels": [8, 16], "strides": [1, 2], "num_frames": 8, "embed_dim": 16, "dropout": 0.1},
        "text": {"source": "tiny:clip", "max_length": 24, "tiny_options": {"hidden": 32, "layers": 1, "heads": 2,
                                                                          "vocab_size": 400}},
        "bridge": {"num_segments": 2, "num_queries": 2, "layers": 1, "heads": 2, "hidden": 16, "dropout": 0.1},
        "llm": {"source": "tiny:llama", "lora_r": 4, "lora_alpha": 8, "lora_dropout": 0.1,
                "tiny_options": {"hidden": 32, "layers": 1, "heads": 2, "vocab_size": 400}},
        "data": {"synth": {"split": "synth_24_6", "num_per_class": 2}},
        "step2": {"lr": 0.05, "epochs": 3, "train": train},
        "step3": {"lr": 0.003, "epochs": 1, "num_candidates": 4, "group_lr": {"bridge": 0.001}, "train": train},
    }


def test_shipped_configs_are_valid_and_paper_shaped():
    names = list_shipped()
    assert {"tiny_cpu", "ntu60_xsub", "ntu60_xview", "ntu120_xsub", "ntu120_xset", "ntu60_zeroshot",
            "ntu60_48_12", "pku_46_5"} <= set(names)
    for name in names:
        cfg = load_sugar_config(name)
        assert cfg.sugar_config().num_frames == cfg.encoder.num_frames
    paper = load_sugar_config("ntu60_xsub")
    assert (paper.step2.lr, paper.step2.epochs, paper.step2.optimizer) == (0.01, 200, "sgd")
    assert (paper.step3.lr, paper.step3.epochs, paper.llm.lora_r, paper.llm.lora_alpha) == (2e-5, 1, 64, 16)
    assert paper.bridge.num_tokens == 128 and paper.step3.trains == ["bridge", "lora"]
    assert paper.step2.train.per_device_batch_size * 2 == 200                   # 2 GPUs in the paper
    s3 = paper.step3.train
    assert s3.per_device_batch_size * s3.gradient_accumulation_steps * 2 == 128


def test_config_errors_name_the_key(tmp_path):
    data = small_config(tmp_path)
    with pytest.raises(ConfigError, match="step2.tempreature"):
        config_from_dict({**data, "step2": {**data["step2"], "tempreature": 0.1}})
    with pytest.raises(ConfigError, match="freezes the encoder"):
        config_from_dict({**data, "step3": {**data["step3"], "trains": ["encoder", "bridge"]}})
    with pytest.raises(ConfigError, match="step2.texts"):
        config_from_dict({**data, "step2": {**data["step2"], "texts": ["pictures"]}})
    with pytest.raises(ConfigError, match="bridge"):
        config_from_dict({**data, "bridge": {"kind": "mlp"}})


def _write(tmp_path, name):
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(small_config(tmp_path / name)))
    return path, tmp_path / name


def _start(config, *args):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "skeletonllm.cli", "sugar", "train", str(config), "--cpu", "--quiet",
                             *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finish(proc):
    return finish(proc, timeout=300)


def _kill_after(proc, root, step, total):
    wait_for(lambda: max(checkpoint_steps(root), default=0) >= step, proc, timeout=240, interval=0.02,
             what="a checkpoint")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert max(checkpoint_steps(root)) < total, "the step finished before it could be killed"


def test_steps_2_and_3_killed_and_resumed_give_the_weights_of_an_uninterrupted_run(tmp_path):
    ref_cfg, ref_out = _write(tmp_path, "reference")
    cfg, out = _write(tmp_path, "killed")
    reference = _start(ref_cfg)
    run = _start(cfg)
    _kill_after(run, out / STEP2 / "checkpoints", 4, 36)
    run = _start(cfg, "--resume")
    _kill_after(run, out / STEP3 / "checkpoints", 3, 12)
    assert ck.is_complete(out / STEP2 / "final")
    text = _finish(_start(cfg, "--resume"))
    assert "SUGAR checkpoint" in text
    assert re.search(r"steps on \d+ items, last loss [0-9.]+, [0-9.]+ s -> .+ \(resumed from .+\)", text), text[-2000:]
    _finish(reference)

    for step, files in ((STEP2, ["encoder.safetensors", "text_head.safetensors"]),
                        (STEP3, ["bridge.safetensors", "encoder.safetensors", "adapter/adapter_model.safetensors"])):
        for name in files:
            got, want = load_file(str(out / step / "final" / name)), load_file(str(ref_out / step / "final" / name))
            assert got.keys() == want.keys()
            for k in got:
                assert torch.equal(got[k], want[k]), (step, name, k)
        log = [json.loads(l) for l in (out / step / "log.jsonl").read_text().splitlines()]
        assert [r["step"] for r in log if r.get("event") == "resume"], step
        ref_log = {r["step"]: r["loss"] for r in map(json.loads, (ref_out / step / "log.jsonl").read_text().splitlines())
                   if "loss" in r}
        last = max(i for i, r in enumerate(log) if r.get("event") == "resume")
        tail = [r for r in log[last:] if "loss" in r]
        assert tail and all(r["loss"] == ref_log[r["step"]] for r in tail)
    # Step 3 started from Step 2's encoder and left it untouched.
    enc2 = load_file(str(out / STEP2 / "final" / "encoder.safetensors"))
    enc3 = load_file(str(out / STEP3 / "final" / "encoder.safetensors"))
    assert all(torch.equal(enc2[k], enc3[k]) for k in enc2)
    start = json.loads((out / STEP2 / "log.jsonl").read_text().splitlines()[0])
    assert start["event"] == "start" and start["tasks_data"]["contrastive"]["items"] == 48 == 24 * 2


def test_step3_needs_step2(tmp_path):
    from skeletonllm.sugar.training import run_sugar
    from skeletonllm.train.trainer import StageOrderError

    cfg = config_from_dict(small_config(tmp_path / "run"))
    with pytest.raises(StageOrderError, match="run --step 2 first"):
        run_sugar(cfg, step=3, progress=False, cpu=True)


def test_report_sets_sugar_results_beside_the_paper():
    from skeletonllm.eval.report import render_report, validate_result

    ours = [validate_result({"task": "recognition", "method": "SUGAR (this run)", "split": "sugar_p1", "top1": 0.5,
                             "top5": 0.8, "num_samples": 10, "dataset": "NTU-120"}),
            validate_result({"task": "recognition", "method": "SUGAR (this run)", "split": "ntu60_xsub",
                             "protocol": "xsub", "top1": 0.9, "num_samples": 10}),
            validate_result({"task": "recognition", "method": "SUGAR (this run)", "split": "ntu60_48_12",
                             "top1": 0.4, "num_samples": 10})]
    text = render_report(ours)
    assert "SUGAR protocols: supervised" in text and "| SUGAR — SUGAR paper | 70.2 | 50.9 | 67.1 | 95.2 |" in text
    assert "| SUGAR (this run) | – | – | – | 90.00 | – | – | – |" in text
    assert "| SUGAR — SUGAR paper | 65.3 | 89.8 | 53.4 | 77.6 |" in text
    assert "| SUGAR (this run) | 50.00 | 80.00 | – | – |" in text
    assert "Temporal Query Projection | 73.4" in text and "Motion knowledge only | 72.1" in text
    assert "| SUGAR (this run) | – | 40.00 |" in text                           # the shared zero-shot table
    plain = render_report([validate_result({"task": "recognition", "split": "ntu60_48_12", "top1": 0.4,
                                            "num_samples": 10})])
    assert "SUGAR protocols" not in plain


def test_the_demo_arm_runs_end_to_end(tmp_path):
    from skeletonllm.demo.sugar_arm import SugarArmSettings, run_sugar_arm_on_split

    r = run_sugar_arm_on_split(tmp_path, settings=SugarArmSettings.quick(), train_per_class=2, test_per_class=1)
    assert r.num_unseen == 8 and r.num_seen == 8 and set(r.transfer_top1) == {"smpl22", "kinect_v1_20", "coco17"}
    for v in [r.unseen_top1, r.seen_top1, *r.transfer_top1.values()]:
        assert 0.0 <= v <= 1.0
    assert r.chance_unseen == pytest.approx(1 / 13) and (Path(r.checkpoint) / "config.json").is_file()  # synth_31_13
    from skeletonllm.sugar.model import SugarModel
    from skeletonllm.synth import get_split
    classes = SugarModel.from_pretrained(r.checkpoint, device="cpu").classes   # Step 3 knows its split
    split = get_split("synth_31_13")
    assert classes == {"split": "synth_31_13", "classes": list(split.classes), "seen": list(split.seen),
                       "unseen": list(split.unseen)}
    res = json.loads((tmp_path / "eval").glob("*unseen-ntu25-score/results.json").__next__().read_text())
    assert res["method"].startswith("SUGAR demo") and res["num_samples"] == 8
    assert res["method"].endswith("plain likelihood ranking") and res["top1"] == r.results["unseen_score_plain"]["top1"]
    cal = json.loads((tmp_path / "eval").glob("*unseen-ntu25-score-calibrated/results.json").__next__().read_text())
    assert cal["top1"] == r.unseen_top1 and "calibrated on" in cal["settings"]["decoding"]


def test_step_items_draw_knowledge_and_candidates_from_seen_classes_only():
    import dataclasses

    from skeletonllm.sugar.knowledge import load_knowledge
    from skeletonllm.sugar.tasks import ClassifyTask, ContrastiveCollator, ContrastiveTask
    from skeletonllm.sugar import prompts as SP
    from skeletonllm.synth import SyntheticMotionSet
    from skeletonllm.train.tasks import ClassGuard

    ds = SyntheticMotionSet.for_split("synth_24_6", num_per_class=1, seed=0)
    clips = [(ds[i].sequence("ntu25"), ds[i].label) for i in range(len(ds))]
    guard = ClassGuard(ds.split.seen, ds.split.unseen)
    knowledge = load_knowledge("synth")
    # A seen class whose visual description names an unseen class loses that description.
    leaky = dataclasses.replace(knowledge.get("kick right leg"),
                                visual=["unlike kick left leg, the right foot moves", "the right foot snaps out"])
    knowledge.classes["kick right leg"] = leaky
    task = ContrastiveTask(clips, guard, knowledge, ["motion", "visual"], visual_per_clip=2, seed=0, num_frames=8)
    assert len(task) == 24 and task.stats.skipped == {"unseen_class": 6, "text_mentions_unseen": 1}
    item = task[0]
    assert item.target in ds.split.seen and len(item.prompt) == 3
    assert item.prompt[0] == tuple(knowledge.get(item.target).motion_texts())
    assert all(len(g) == 1 and g[0] in knowledge.get(item.target).visual for g in item.prompt[1:])
    assert all("kick left leg" not in s for s in task.all_strings())
    task.set_epoch(1)
    assert task[0].prompt[0] == item.prompt[0] and task[0].sequence.num_frames == 8
    batch = ContrastiveCollator(8, 2)([task[i] for i in range(4)])
    assert batch["skeletons"].batch_size == 4 and len(batch["texts"]) == 4 and len(batch["classes"]) == 4

    cls = ClassifyTask(clips, guard, knowledge, describe=True, num_candidates=6, seed=0, num_frames=8)
    for i in range(len(cls)):
        it = cls[i]
        listed = [l[2:] for l in it.prompt.splitlines() if l.startswith("- ")]
        assert len(listed) == 6 and it.sequence.label in listed and set(listed) <= set(ds.split.seen)
        assert it.target.startswith(f"Label: {it.sequence.label}\nDescription: ")
    full = ClassifyTask(clips, guard, knowledge, describe=False, seed=0, num_frames=8)
    assert full[0].prompt.count("\n- ") == 24 and full[0].target == SP.target(full[0].sequence.label)


def test_training_clips_from_real_files_and_a_zero_shot_split():
    from skeletonllm.sugar.training import load_sugar_data
    from skeletonllm.skeleton.splits import get_split

    data_dir = Path(__file__).parent / "data"
    cfg = config_from_dict({"data": {"files": [str(data_dir / "ntu_skeleton" / "*.skeleton"),
                                               str(data_dir / "pku_mmd" / "skeleton" / "0036-L.txt")],
                                     "split": "pku_46_5"}})
    data = load_sugar_data(cfg)
    split = get_split("pku_46_5")
    assert len(data.clips) == 2 + 7 and data.seen == list(split.seen_names) and data.unseen == list(split.unseen_names)
    assert {label for _, label in data.clips} >= {"drink water", "handshaking"}


def test_the_demo_arm_resumes_at_its_step(tmp_path):
    """A killed arm, run again with resume: a finished Step 2 is read back (not trained again), Step 3 is
    trained from it, and the numbers are those of the uninterrupted run; another recipe starts over."""
    import dataclasses

    from skeletonllm.demo.sugar_arm import SugarArmSettings, demo_clips, run_sugar_arm

    train, test_seen, test_unseen, seen, unseen = demo_clips(train_per_class=2, test_per_class=1)
    settings = dataclasses.replace(SugarArmSettings.quick(), generate=False, transfer=())   # training is tested

    def run(resume, st=settings):
        return run_sugar_arm(train, test_seen, test_unseen, seen, unseen, tmp_path, settings=st, resume=resume)

    first = run(resume=True)
    runs = tmp_path / "runs"
    step2 = runs / "step2-alignment" / "final" / "config.json"
    stamp = step2.stat().st_mtime_ns
    shutil.rmtree(runs / "step3-classifier")          # killed during Step 3 (before its first checkpoint)
    again = run(resume=True)
    assert step2.stat().st_mtime_ns == stamp            # Step 2 read back
    assert (runs / "step3-classifier" / "final" / "config.json").is_file()
    assert (again.unseen_top1, again.seen_top1) == (first.unseen_top1, first.seen_top1)
    other = run(resume=True, st=dataclasses.replace(settings, step2_lr=settings.step2_lr / 2))
    assert step2.stat().st_mtime_ns != stamp and other.checkpoint == first.checkpoint   # another recipe: trained anew
