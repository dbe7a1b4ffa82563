"""DeepSpeed ZeRO-2 on two CPU processes (gloo) under `accelerate launch`: the batch fields are filled by
accelerate ("auto"), a run is killed with SIGKILL after a checkpoint, resumed, and ends with exactly the
weights of a run that was never interrupted (as the FSDP path in test_train_fsdp.py); the shipped
zero2_8gpu.yaml (bf16) trains SkeletonLLM, whose renderer runs in float32 although DeepSpeed stores it in
bf16. Skipped where DeepSpeed is not installed (`pip install -e ".[deepspeed]"`, which scripts/setup.sh does)."""
import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch
import yaml

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from _runs import finish, killed_and_resumed, launch_config, launch_train, stage_log  # noqa: E402
from _runs import two_process_run_config as _run_config  # noqa: E402
from _toy_model import toy_config  # noqa: E402

needs_deepspeed = pytest.mark.skipif(importlib.util.find_spec("deepspeed") is None,
                                     reason="DeepSpeed is not installed (pip install -e '.[deepspeed]')")
ZERO2 = {"zero_stage": 2, "offload_optimizer_device": "none", "offload_param_device": "none",
         "zero3_init_flag": False}


@needs_deepspeed
def test_zero2_two_cpu_processes_killed_and_resumed_match_an_uninterrupted_run(tmp_path):
    zero2 = launch_config(tmp_path, "zero2", "DEEPSPEED", deepspeed_config=ZERO2)
    # The first launch may build DeepSpeed's CPU shared-memory kernel (about 75 s here, once per machine).
    out, _, shards = killed_and_resumed(zero2, tmp_path, timeout=400)
    assert all(shards), "an optimiser shard is empty"    # ZeRO-2: each process saved its own part
    # DeepSpeed really ran (not the DDP accelerate falls back to on CPU processes).
    assert stage_log(out)[0]["distributed_type"] == "DEEPSPEED"


@needs_deepspeed
def test_a_deepspeed_config_with_other_batch_numbers_is_refused(tmp_path):
    """A DeepSpeed file that fixes train_batch_size to a number the run does not use is a config error
    naming the field, not DeepSpeed's assertion at start-up."""
    zero2 = launch_config(tmp_path, "zero2", "DEEPSPEED", deepspeed_config=ZERO2)
    ds_file = tmp_path / "ds.json"
    ds_file.write_text(json.dumps({"train_batch_size": 64, "train_micro_batch_size_per_gpu": "auto",
                                   "gradient_accumulation_steps": "auto", "zero_optimization": {"stage": 2}}))
    accel = yaml.safe_load(zero2.read_text())
    accel["deepspeed_config"] = {"deepspeed_config_file": str(ds_file), "zero3_init_flag": False}
    accel.pop("mixed_precision")  # the DeepSpeed file decides it
    zero2.write_text(yaml.safe_dump(accel))
    cfg, _ = _run_config(tmp_path, "bad", max_steps=1)
    proc = launch_train(zero2, cfg)
    out, _ = proc.communicate(timeout=400)
    assert proc.returncode != 0
    assert "deepspeed_config.train_batch_size" in out and "is 64, but the run config gives 2" in out, out[-3000:]


def test_a_renderer_stored_in_bf16_still_renders_in_float32():
    """DeepSpeed's bf16 mode casts every weight, the renderer's too: SkeletonLLM then renders with float32
    copies of them (DrAction's SO(3) projection has no bf16 SVD on CPU), and the gradient reaches them."""
    import copy

    from skeletonllm.mllm.model import SkeletonLLM, SkeletonLLMConfig
    from skeletonllm.render.demo import demo_sequence
    from skeletonllm.skeleton import collate_sequences

    torch.manual_seed(0)
    model = SkeletonLLM(SkeletonLLMConfig(backbone="tiny:internvl", image_size=56, renderer_options={"image_size": 56},
                                          device="cpu"))
    batch = collate_sequences([demo_sequence("ntu25", num_frames=8)], num_frames=4)
    reference = copy.deepcopy(model.renderer)
    model.renderer.to(torch.bfloat16)                       # what DeepSpeed's bf16 engine does to the module
    reference.load_state_dict({k: v.float() for k, v in model.renderer.state_dict().items()})  # same rounded values
    frames = model.render(batch)
    assert frames.dtype == torch.float32
    torch.testing.assert_close(frames, reference(batch), rtol=0, atol=1e-6)
    frames.mean().backward()
    grads = [p.grad for p in model.renderer.parameters() if p.requires_grad]
    assert grads and all(g is not None and g.dtype == torch.bfloat16 for g in grads)
    assert any(float(g.float().abs().sum()) > 0 for g in grads)


@needs_deepspeed
@pytest.mark.slow  # ~30-45 s: two processes building the tiny backbone
def test_the_shipped_zero2_config_trains_the_real_model_on_two_cpu_processes(tmp_path):
    """zero2_8gpu.yaml (ZeRO stage 2, bf16) with 2 processes and SkeletonLLM on a tiny InternVL: stages 1 and 2
    run under DeepSpeed, and stage 2 starts from stage 1's weights."""
    from importlib import resources

    from safetensors.torch import load_file
    from test_train_stages import tiny_model_section

    from _runs import free_port

    shipped = Path(str(resources.files("skeletonllm") / "configs" / "accelerate" / "zero2_8gpu.yaml"))
    accel = yaml.safe_load(shipped.read_text())
    accel.update(num_processes=2, main_process_ip="127.0.0.1", main_process_port=free_port())
    accel_path = tmp_path / "zero2_2.yaml"
    accel_path.write_text(yaml.safe_dump(accel))
    data = toy_config(tmp_path, per_device_batch_size=1, max_steps=2, mixed_precision="bf16")
    data["model_class"] = "skeletonllm.mllm.model:SkeletonLLM"
    data["model"] = tiny_model_section()
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(data))
    finish(launch_train(accel_path, cfg, stage="1-2"), timeout=400)
    run = Path(data["run"]["output_dir"])
    for stage in ("stage1-render_warmup", "stage2-disc_ft"):
        log = [json.loads(line) for line in (run / stage / "log.jsonl").read_text().splitlines()]
        assert log[0]["processes"] == 2 and log[0]["distributed_type"] == "DEEPSPEED"
        assert log[0]["mixed_precision"] == "bf16" and log[-1]["event"] == "done" and log[-1]["step"] == 2
    one = load_file(str(run / "stage1-render_warmup" / "final" / "projector.safetensors"))
    two = load_file(str(run / "stage2-disc_ft" / "final" / "projector.safetensors"))
    assert one.keys() == two.keys() and any(not torch.equal(one[k], two[k]) for k in one)  # stage 2 trains it
