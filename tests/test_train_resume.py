"""Kill a training process with SIGKILL (mid-checkpoint, then after one), resume it, and
get exactly the weights of a run that was never interrupted."""
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from _runs import checkpoint_steps as _steps, finish as _finish, wait_for as _wait_for  # noqa: E402
from _toy_model import assert_same_final_weights, toy_config  # noqa: E402

from skeletonllm.train import checkpointing as ck  # noqa: E402

STAGE_DIR = "stage1-render_warmup"


def _write_config(tmp_path, name):
    data = toy_config(tmp_path / name, per_device_batch_size=1, save_every=1, keep_last=2)
    data["stages"]["render_warmup"]["epochs"] = 2  # 8 seen clips x 2 epochs = 16 steps
    # Everything but the renderer is trained in this single-stage run, so dropout (LoRA) and
    # the optimiser state of several groups must be restored exactly.
    data["stages"]["render_warmup"]["trains"] = ["renderer", "projector", "lora"]
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path, Path(data["run"]["output_dir"])


def _start(config, *extra, **env):
    full_env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
                "OMP_NUM_THREADS": "1", **env}
    return subprocess.Popen([sys.executable, "-m", "skeletonllm.cli", "train", str(config), "--stage", "1",
                             "--quiet", "--cpu", *extra], env=full_env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _kill(proc):
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def test_sigkill_and_resume_reproduce_uninterrupted_run(tmp_path):
    ref_cfg, ref_out = _write_config(tmp_path, "reference")
    cfg, out = _write_config(tmp_path, "killed")
    reference = _start(ref_cfg)  # runs alongside
    ckpts = out / STAGE_DIR / "checkpoints"

    # 1. Killed in the middle of writing checkpoint 3 (its weights are on disk, no marker, no rename).
    run = _start(cfg, TOY_HANG_AT_SAVE="3", TOY_STEP_SLEEP="0.2")
    _wait_for(lambda: any(ckpts.glob(".tmp-step-00000003*/model/HANGING")), run)
    _kill(run)
    half = list(ckpts.glob(".tmp-step-00000003*"))
    assert half and (half[0] / "model" / "model.safetensors").exists()
    assert _steps(ckpts) == [1, 2]  # the half-written checkpoint is not a checkpoint
    assert ck.latest_checkpoint(ckpts).name == "step-00000002"
    # A complete-looking directory without its marker, or with a marker for another step, is not valid either.
    (ckpts / "step-00000099").mkdir()
    (ckpts / "step-00000098").mkdir()
    (ckpts / "step-00000098" / ck.MARKER).write_text(json.dumps({"step": 5}))
    assert ck.latest_checkpoint(ckpts).name == "step-00000002"

    # 2. Resumed from step 2, then killed again after checkpoint 7 has been written.
    run = _start(cfg, "--resume", TOY_STEP_SLEEP="0.2")
    _wait_for(lambda: max(_steps(ckpts), default=0) >= 7, run)
    _kill(run)
    assert not list(ckpts.glob(".tmp-step-00000003*"))  # leftovers were cleared at restart
    killed_at = max(_steps(ckpts))
    assert 7 <= killed_at < 16 and len(_steps(ckpts)) <= 3  # keep_last=2 (+1 being replaced at most)

    # 3. Resumed to the end.
    _finish(_start(cfg, "--resume"))
    _finish(reference)

    assert_same_final_weights(out, ref_out, STAGE_DIR)
    log = [json.loads(l) for l in (out / STAGE_DIR / "log.jsonl").read_text().splitlines()]
    resumes = [r["step"] for r in log if r.get("event") == "resume"]
    assert resumes[0] == 2 and resumes[-1] >= 7 and len(resumes) == 2
    assert [r["step"] for r in log if r.get("event") == "done"] == [16]
    # Every step after the last resume has the loss the reference run logged for it.
    ref_log = {r["step"]: r["loss"] for r in map(json.loads, (ref_out / STAGE_DIR / "log.jsonl").read_text()
                                                  .splitlines()) if "loss" in r}
    tail = [r for r in log[log.index(next(r for r in log if r.get("event") == "resume" and r["step"] == resumes[-1])):]
            if "loss" in r]
    assert tail and all(r["loss"] == ref_log[r["step"]] for r in tail)
    assert sorted(_steps(out / STAGE_DIR / "checkpoints")) == [14, 15]
