"""Helpers of the tests that train in a subprocess, kill it mid-run and resume it."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import pytest

from skeletonllm.train import checkpointing as ck


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
