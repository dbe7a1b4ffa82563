"""Test-wide settings.

OpenMP threads that busy-wait make torch on a 2-core machine many times slower when
anything else is running (measured: 0.07 s -> 1.6 s for one render); passive waiting costs
nothing when the machine is idle. It must be set before torch initialises OpenMP.
"""
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


import pytest  # noqa: E402  (after the environment above: it must precede torch)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    """A saved SkeletonLLM on a random tiny InternVL (112 px frames), read-only, shared by the
    inference and evaluation tests."""
    import torch

    from skeletonllm.mllm.model import SkeletonLLM, SkeletonLLMConfig

    torch.manual_seed(0)
    cfg = SkeletonLLMConfig(backbone="tiny:internvl", image_size=112, renderer_options={"image_size": 112},
                            device="cpu")
    path = tmp_path_factory.mktemp("ckpt") / "tiny"
    SkeletonLLM(cfg).save_pretrained(path)
    return path
