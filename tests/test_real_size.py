"""InternVL3-1B at its true shape (random weights) on CPU: one training step with DrAction + LoRA on a
real NTU clip, then a save_pretrained / from_pretrained round trip through a hub-style directory of
sharded safetensors, and plan's memory estimate against the measured peak (benchmarks/real_size.py, run
as a script so that its malloc setting applies). Slow (about 20-30 minutes on 2 busy cores for 12
frames at 448 px) and needs ~6 GB: run it alone, e.g.

    flock /tmp/skeletonllm-bigmem.lock nice -n 5 python -m pytest -m slow tests/test_real_size.py

SKELETONLLM_REAL_SIZE_FRAMES sets the frame count (default 12, the paper's).
"""
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "real_size.py"


@pytest.mark.slow
def test_internvl3_1b_true_shape_step_and_checkpoint_round_trip(tmp_path):
    frames = int(os.environ.get("SKELETONLLM_REAL_SIZE_FRAMES", "12"))
    result = tmp_path / "result.json"
    proc = subprocess.run([sys.executable, str(SCRIPT), "--frames", str(frames), "--size", "448",
                           "--workdir", str(tmp_path), "--json", str(result)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = json.loads(result.read_text())
    assert out["visual_tokens"] == 256 * frames  # (448 / 14)^2 / 4 per frame
    assert math.isfinite(out["train_loss"]) and out["renderer_grads_nonzero"]
    assert out["reloaded_loss"] == pytest.approx(out["eval_loss"], abs=1e-6)
    assert {"adapter", "config.json", "projector.safetensors", "renderer.safetensors"} <= set(out["checkpoint_files"])
    assert out["base_shards"] >= 2  # a sharded checkpoint, as released on the hub
    assert out["base_embedded"] is False  # the checkpoint references the sharded base directory
    assert 0.75 <= out["plan_ratio"] <= 1.25, out["plan_ratio"]  # plan's estimate within 25 % of the measured peak
