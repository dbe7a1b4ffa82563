"""Helpers of the tests that train in a subprocess, kill it mid-run and resume it."""
from __future__ import annotations

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
