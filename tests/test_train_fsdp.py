"""Two CPU processes of FSDP v2 (gloo) under `accelerate launch`: a run is killed with SIGKILL after a
sharded checkpoint, resumed, and ends with exactly the weights of a run that was never interrupted.
The same launcher also runs two-process DDP on CPU (multi-GPU config + `--cpu`)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from _runs import ACCELERATE, STAGE_DIR, finish, free_port as _free_port, killed_and_resumed  # noqa: E402
from _runs import launch_config as _launch_config, launch_train as _launch, stage_log, two_process_run_config  # noqa: E402
from _toy_model import toy_config  # noqa: E402

_run_config, _log = two_process_run_config, stage_log


def test_fsdp_two_processes_killed_and_resumed_match_an_uninterrupted_run(tmp_path):
    out, ref_out, shards = killed_and_resumed(_launch_config(tmp_path, "fsdp", "FSDP"), tmp_path)
    assert shards[0]["state"], "the optimiser shard is empty"
    # The weights moved: the stage trained.
    earlier = load_file(str(ref_out / STAGE_DIR / "checkpoints" / "step-00000007" / "model" / "model.safetensors"))
    final = load_file(str(out / STAGE_DIR / "final" / "model.safetensors"))
    assert any(not torch.equal(earlier[k], final[k]) for k in final)


def _finish(proc):
    return finish(proc, timeout=300)


@pytest.mark.slow  # ~25-40 s: two processes building the tiny backbone
def test_the_shipped_fsdp_config_trains_the_real_model_on_two_cpu_processes(tmp_path):
    """fsdp_8gpu.yaml (layer-wise wrapping of InternVL's decoder and vision layers) with 2 processes and
    SkeletonLLM on a tiny InternVL: stages 1 and 2 run, and stage 2 starts from stage 1's gathered weights."""
    from importlib import resources

    from test_train_stages import tiny_model_section
    shipped = Path(str(resources.files("skeletonllm") / "configs" / "accelerate" / "fsdp_8gpu.yaml"))
    accel = yaml.safe_load(shipped.read_text())
    accel.update(num_processes=2, mixed_precision="no", main_process_ip="127.0.0.1", main_process_port=_free_port())
    accel_path = tmp_path / "fsdp_2.yaml"
    accel_path.write_text(yaml.safe_dump(accel))
    data = toy_config(tmp_path, per_device_batch_size=1, max_steps=2)
    data["model_class"] = "skeletonllm.mllm.model:SkeletonLLM"
    data["model"] = tiny_model_section()
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(data))
    _finish(_launch(accel_path, cfg, stage="1-2"))
    run = Path(data["run"]["output_dir"])
    for stage in ("stage1-render_warmup", "stage2-disc_ft"):
        log = [json.loads(line) for line in (run / stage / "log.jsonl").read_text().splitlines()]
        assert log[0]["processes"] == 2 and log[-1]["event"] == "done" and log[-1]["step"] == 2
    one = load_file(str(run / "stage1-render_warmup" / "final" / "projector.safetensors"))
    two = load_file(str(run / "stage2-disc_ft" / "final" / "projector.safetensors"))
    assert one.keys() == two.keys() and any(not torch.equal(one[k], two[k]) for k in one)  # stage 2 trains it


def test_accelerate_launch_runs_two_process_cpu_ddp(tmp_path):
    ddp = _launch_config(tmp_path, "ddp", "MULTI_GPU")
    cfg, out = _run_config(tmp_path, "ddp", max_steps=2)
    _finish(_launch(ddp, cfg))
    log = _log(out)
    assert log[0]["processes"] == 2 and log[-1]["event"] == "done" and log[-1]["replicas_identical"] is True


@pytest.mark.slow  # ~30 s: two processes building the tiny backbone
def test_fsdp_bf16_mixed_precision_keeps_the_renderer_in_float32(tmp_path):
    """fsdp_8gpu.yaml's bf16 policy would gather the renderer's weights in bf16 with the rest of the root unit;
    the trainer shards it as a float32 unit of its own (trainer.keep_renderer_fp32)."""
    from importlib import resources
    shipped = Path(str(resources.files("skeletonllm") / "configs" / "accelerate" / "fsdp_8gpu.yaml"))
    accel = yaml.safe_load(shipped.read_text())
    accel.update(num_processes=2, main_process_ip="127.0.0.1", main_process_port=_free_port())
    accel_path = tmp_path / "fsdp_bf16.yaml"
    accel_path.write_text(yaml.safe_dump(accel))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([ACCELERATE, "launch", "--config_file", str(accel_path), __file__, str(tmp_path)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for rank in (0, 1):
        r = json.loads((tmp_path / f"rank{rank}.json").read_text())
        assert r["distributed_type"] == "FSDP" and r["mixed_precision"] == "bf16"
        assert r["renderer_outputs"] == ["torch.float32"], r  # every renderer module computed in float32
        assert "torch.bfloat16" in r["backbone_outputs"]  # while the backbone ran in bf16
        assert r["renderer_params"] == ["torch.float32"] and r["renderer_grads"] == ["torch.float32"]
        assert r["renderer_grad_nonzero"]


if __name__ == "__main__":  # one FSDP worker of the bf16 test (launched through accelerate launch)
    from skeletonllm.mllm import prompts as P
    from skeletonllm.mllm.model import SkeletonLLM, SkeletonLLMConfig
    from skeletonllm.render.demo import demo_sequence
    from skeletonllm.skeleton import collate_sequences
    from skeletonllm.train.config import TrainSection
    from skeletonllm.train.trainer import keep_renderer_fp32, make_accelerator

    accelerator = make_accelerator(TrainSection(mixed_precision="bf16"), cpu=True)
    torch.manual_seed(0)
    model = SkeletonLLM(SkeletonLLMConfig(backbone="tiny:internvl", image_size=56, renderer_options={"image_size": 56},
                                          device="cpu"))
    keep_renderer_fp32(accelerator, model)  # as train_stage does, before the optimiser
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    model, optimizer = accelerator.prepare(model, optimizer)
    inner = accelerator.unwrap_model(model)
    seen = {"renderer": set(), "backbone": set()}

    def record(part):
        def hook(module, args, output):
            if isinstance(output, torch.Tensor) and output.is_floating_point():
                seen[part].add(str(output.dtype))
        return hook

    for m in inner.renderer.modules():
        m.register_forward_hook(record("renderer"))
    for m in inner.backbone.modules():
        if isinstance(m, torch.nn.Linear):
            m.register_forward_hook(record("backbone"))
    batch = collate_sequences([demo_sequence("ntu25", num_frames=8)], num_frames=4)
    out = model(skeletons=batch, prompts=[P.mqa_prompt(["wave", "throw"])], targets=[P.mqa_target("wave")])
    accelerator.backward(out.loss)
    params = list(inner.renderer.parameters())
    result = {"distributed_type": accelerator.distributed_type.value, "mixed_precision": accelerator.mixed_precision,
              "renderer_outputs": sorted(seen["renderer"]), "backbone_outputs": sorted(seen["backbone"]),
              "renderer_params": sorted({str(p.dtype) for p in params}),
              "renderer_grads": sorted({str(p.grad.dtype) for p in params if p.grad is not None}),
              "renderer_grad_nonzero": all(p.grad is not None and float(p.grad.full_tensor().abs().sum()) > 0
                                           if hasattr(p.grad, "full_tensor") else p.grad is not None for p in params)}
    (Path(sys.argv[1]) / f"rank{accelerator.process_index}.json").write_text(json.dumps(result))

