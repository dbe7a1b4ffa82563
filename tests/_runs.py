"""Helpers of the tests that train in a subprocess, kill it mid-run and resume it."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import pytest
import yaml

from skeletonllm.train import checkpointing as ck

HERE = Path(__file__).parent
ACCELERATE = str(Path(sys.executable).parent / "accelerate")


def checkpoint_steps(root: Path) -> list[int]:
    """The steps of the complete checkpoints under ``root`` (``step-00000007`` -> 7)."""
    return [int(p.name.split("-")[1]) for p in ck.list_checkpoints(root)]


def finish(proc, timeout: float = 240) -> str:
    """Wait for ``proc`` to end; it must succeed. Returns its output."""
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out[-4000:]
    return out


def wait_for(predicate: Callable[[], bool], proc, timeout: float = 180, interval: float = 0.05,
             what: str = "the training process", on_timeout: Callable[[], None] | None = None) -> None:
    """Poll ``predicate`` until it holds. Fails the test if ``proc`` ends first (it was meant to be
    killed while running) or after ``timeout`` seconds, killing it then (``on_timeout``, else
    ``proc.kill``)."""
    t0 = time.time()
    while time.time() - t0 < timeout:
        if predicate():
            return
        if proc.poll() is not None:
            pytest.fail(f"training ended before it could be killed:\n{proc.stdout.read()[-3000:]}")
        time.sleep(interval)
    (on_timeout or proc.kill)()
    pytest.fail(f"timed out waiting for {what}")


# -- two CPU processes under `accelerate launch` ----------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_config(tmp_path: Path, name: str, distributed_type: str, **extra) -> Path:
    """An accelerate config for 2 processes on this machine (use_cpu stays false: accelerate's CPU
    launcher needs mpirun; the processes are put on the CPU by `skeletonllm train --cpu`). ``extra``:
    more top-level keys (``deepspeed_config``)."""
    cfg = {"compute_environment": "LOCAL_MACHINE", "distributed_type": distributed_type, "mixed_precision": "no",
           "num_machines": 1, "num_processes": 2, "machine_rank": 0, "main_process_ip": "127.0.0.1",
           "rdzv_backend": "static", "same_network": True, "use_cpu": False, **extra}
    if distributed_type == "FSDP":
        cfg["fsdp_config"] = {"fsdp_version": 2, "fsdp_auto_wrap_policy": "NO_WRAP",
                              "fsdp_reshard_after_forward": True, "fsdp_state_dict_type": "FULL_STATE_DICT",
                              "fsdp_cpu_ram_efficient_loading": False}
    path = tmp_path / f"{name}.accelerate.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def with_a_fresh_port(accel_cfg: Path) -> Path:
    """A copy of the accelerate config on a port of its own: two launches that run at the same time (the
    reference and the run to kill) cannot share the static rendezvous port, and a port just freed by a
    killed launcher may still be in TIME_WAIT when the resumed one starts."""
    cfg = yaml.safe_load(accel_cfg.read_text())
    cfg["main_process_port"] = free_port()
    path = accel_cfg.with_name(f"{accel_cfg.stem}-{cfg['main_process_port']}.yaml")
    path.write_text(yaml.safe_dump(cfg))
    return path


def launch_train(accel_cfg, run_cfg, *extra, stage="1", **env):
    """``accelerate launch ... skeletonllm train RUN_CFG --cpu`` on a port of its own (a Popen, output piped)."""
    accel_cfg = with_a_fresh_port(Path(accel_cfg))
    full_env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
                "OMP_NUM_THREADS": "1", **env}
    cmd = [ACCELERATE, "launch", "--config_file", str(accel_cfg), "-m", "skeletonllm.cli", "train", str(run_cfg),
           "--stage", stage, "--cpu", "--quiet", *extra]
    return subprocess.Popen(cmd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def kill_tree(proc) -> None:
    """SIGKILL the launcher and every process under it (torch's elastic agent starts the workers
    in sessions of their own, so a process-group kill would miss them): a crashed node."""
    import psutil
    procs = [psutil.Process(proc.pid)]
    procs += procs[0].children(recursive=True)
    for p in procs:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    proc.wait(timeout=30)
    psutil.wait_procs(procs, timeout=30)


# -- a toy run on two processes, killed after a checkpoint and resumed ----------------------------------

STAGE_DIR = "stage1-render_warmup"


def two_process_run_config(tmp_path: Path, name: str, **train) -> tuple[Path, Path]:
    """The toy model's stage 1 for two processes, batch 1, a checkpoint every step: 8 steps.
    Returns (run config file, output directory)."""
    from _toy_model import toy_config

    data = toy_config(tmp_path / name, per_device_batch_size=1, save_every=1, keep_last=2, **train)
    data["stages"]["render_warmup"]["epochs"] = 2  # 8 seen clips / 2 processes x 2 epochs = 8 steps
    data["stages"]["render_warmup"]["trains"] = ["renderer", "projector", "lora"]
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path, Path(data["run"]["output_dir"])


def stage_log(out_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (out_dir / STAGE_DIR / "log.jsonl").read_text().splitlines()]


def killed_and_resumed(accel_cfg: Path, tmp_path: Path, timeout: float = 300) -> tuple[Path, Path, list]:
    """Run the toy stage under ``accel_cfg`` twice at once: a reference, and a run SIGKILLed (launcher and
    workers) after its third checkpoint and then resumed. Checks that each process wrote its optimiser shard
    and RNG state, that the resumed run ends bit-identical to the reference with the reference's losses after
    the resume, on two processes. Returns (run output, reference output, the optimiser shards of ranks 0 and 1
    in the checkpoint resumed from)."""
    from _toy_model import assert_same_final_weights

    ref_cfg, ref_out = two_process_run_config(tmp_path, "reference")
    cfg, out = two_process_run_config(tmp_path, "killed")
    reference = launch_train(accel_cfg, ref_cfg)
    ckpts = out / STAGE_DIR / "checkpoints"
    run = launch_train(accel_cfg, cfg, TOY_STEP_SLEEP="0.3")
    wait_for(lambda: max(checkpoint_steps(ckpts), default=0) >= 3, run, timeout=timeout, what="a checkpoint",
             on_timeout=lambda: kill_tree(run))
    kill_tree(run)  # the launcher and both workers, mid-run
    assert 3 <= max(checkpoint_steps(ckpts)) < 8
    latest = ck.latest_checkpoint(ckpts)
    # Each process wrote its own optimiser shard; the model directory holds the whole weights.
    assert {"optimizer_rank0.pt", "optimizer_rank1.pt", "rng_rank0.pt", "rng_rank1.pt", "model"} <= \
        {p.name for p in latest.iterdir()}
    import torch
    shards = [torch.load(latest / f"optimizer_rank{r}.pt", weights_only=False) for r in (0, 1)]
    finish(launch_train(accel_cfg, cfg, "--resume"), timeout=timeout)
    finish(reference, timeout=timeout)
    assert_same_final_weights(out, ref_out, STAGE_DIR)
    log = stage_log(out)
    assert log[0]["processes"] == 2
    resumes = [r["step"] for r in log if r.get("event") == "resume"]
    assert len(resumes) == 1 and resumes[0] >= 3
    assert [r["step"] for r in log if r.get("event") == "done"] == [8]
    ref_losses = {r["step"]: r["loss"] for r in stage_log(ref_out) if "loss" in r}
    after = [r for r in log[log.index(next(r for r in log if r.get("event") == "resume")):] if "loss" in r]
    assert after and all(r["loss"] == ref_losses[r["step"]] for r in after)
    return out, ref_out, shards
