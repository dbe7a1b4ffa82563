"""Two CPU processes of DDP (gloo, launched with torchrun): the replicas stay identical,
and match one process that takes the same global batches."""
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import torch
import yaml

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from _toy_model import ToyModel, toy_config  # noqa: E402

from skeletonllm.train.config import config_from_dict  # noqa: E402
from skeletonllm.train.trainer import run_training  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _config(tmp_path, name, batch):
    data = toy_config(tmp_path / name, per_device_batch_size=batch, gradient_accumulation_steps=2)
    data["model"]["dropout"] = 0.0  # dropout masks differ between 1x2 and 2x1 layouts
    return data


def _torchrun(*args):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
           "--master_port", str(_free_port()), *args]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def test_two_process_ddp_replicas_identical(tmp_path):
    data = _config(tmp_path, "ddp", batch=1)
    cfg_path = tmp_path / "ddp.json"
    cfg_path.write_text(json.dumps(data))
    _torchrun(__file__, str(cfg_path), str(tmp_path))
    r0 = torch.load(tmp_path / "rank0.pt")
    r1 = torch.load(tmp_path / "rank1.pt")
    assert r0.keys() == r1.keys()
    for k in r0:
        assert torch.equal(r0[k], r1[k]), k
    log = [json.loads(l) for l in (Path(data["run"]["output_dir"]) / "stage1-render_warmup" / "log.jsonl")
           .read_text().splitlines()]
    assert log[0]["processes"] == 2 and log[0]["steps"] == 2  # 8 items / (1 x 2 processes x 2 accumulation)
    assert log[-1]["event"] == "done" and log[-1]["replicas_identical"] is True

    # One process, per-device batch 2, the same global batches -> the same weights.
    single = config_from_dict(_config(tmp_path, "single", batch=2), "single")
    run_training(single, "1", progress=False, cpu=True)
    ref = ToyModel.instances[-1].state_dict()
    for k in r0:
        assert torch.allclose(r0[k], ref[k], atol=1e-6, rtol=1e-5), k


def test_two_process_ddp_real_model_through_the_cli(tmp_path):
    """The real SkeletonLLM (tiny InternVL backbone) under `torchrun -m skeletonllm.cli train`."""
    from test_train_stages import tiny_model_section
    data = toy_config(tmp_path, per_device_batch_size=1, max_steps=2)
    data["model_class"] = "skeletonllm.mllm.model:SkeletonLLM"
    data["model"] = tiny_model_section()
    cfg_path = tmp_path / "tiny.yaml"
    cfg_path.write_text(yaml.safe_dump(data))
    _torchrun("-m", "skeletonllm.cli", "train", str(cfg_path), "--stage", "1-2", "--cpu", "--quiet")
    for stage in ("stage1-render_warmup", "stage2-disc_ft"):
        log = [json.loads(l) for l in (Path(data["run"]["output_dir"]) / stage / "log.jsonl").read_text().splitlines()]
        assert log[0]["processes"] == 2 and log[-1]["replicas_identical"] is True and log[-1]["step"] == 2


if __name__ == "__main__":  # one DDP worker (launched by the test through torchrun)
    cfg = config_from_dict(json.loads(Path(sys.argv[1]).read_text()), sys.argv[1])
    run_training(cfg, "1", progress=False, cpu=True)
    rank = int(os.environ["RANK"])
    state = {k: v.detach().clone() for k, v in ToyModel.instances[-1].state_dict().items()}
    torch.save(state, Path(sys.argv[2]) / f"rank{rank}.pt")
