"""SUGAR's recipe at scale: MIL-NCE over the global batch, the bridge's own learning rate, and
TQP compressing the encoder's sequence as in the paper."""
import json
import os
import socket

import pytest
import torch
import torch.nn.functional as F

from skeletonllm.sugar.config import list_shipped, load_sugar_config

TAU = 0.1
SPLIT = (slice(0, 4), slice(4, 6))     # two processes, uneven batches (4 + 2 clips)


def _batch():
    """Six clips of three classes: inputs of a shared linear "encoder", and two texts per clip."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(6, 8, generator=g)
    texts = F.normalize(torch.randn(6, 2, 5, generator=g), dim=-1)
    weight = torch.randn(5, 8, generator=g)
    return x, texts, weight, ["a", "b", "a", "c", "b", "c"]


def _loss(x, texts, weight, classes):
    """The aligner's loss on a shard: embeddings from shared weights, MIL-NCE over the global batch."""
    from skeletonllm.sugar.contrastive import global_mil_nce
    weight = weight.clone().requires_grad_(True)
    texts = texts.clone().requires_grad_(True)
    loss = global_mil_nce(F.normalize(x @ weight.T, dim=-1), texts, classes, TAU)
    loss.backward()
    return loss, weight.grad, texts.grad


def _process(rank, port, out):
    import torch.distributed as dist
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    try:
        x, texts, weight, classes = _batch()
        part = SPLIT[rank]
        loss, w_grad, t_grad = _loss(x[part], texts[part], weight, classes[part])
        dist.all_reduce(w_grad)               # what DDP does with a parameter's gradient: the average
        w_grad /= 2
        torch.save({"loss": loss.detach(), "w_grad": w_grad, "t_grad": t_grad}, os.path.join(out, f"{rank}.pt"))
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_mil_nce_on_two_processes_equals_the_single_process_loss_on_the_union(tmp_path):
    import torch.multiprocessing as mp
    mp.spawn(_process, args=(_free_port(), str(tmp_path)), nprocs=2, join=True)
    got = [torch.load(tmp_path / f"{r}.pt") for r in (0, 1)]
    x, texts, weight, classes = _batch()
    loss, w_grad, t_grad = _loss(x, texts, weight, classes)
    # The trainer logs the mean of the processes' losses; DDP averages their gradients.
    assert torch.allclose((got[0]["loss"] + got[1]["loss"]) / 2, loss, atol=1e-6)
    assert torch.allclose(got[0]["w_grad"], w_grad, atol=1e-6) and torch.allclose(got[1]["w_grad"], w_grad, atol=1e-6)
    # Each process's own texts receive what every process's loss sends them (x2: DDP averages over 2).
    for r, part in enumerate(SPLIT):
        assert torch.allclose(got[r]["t_grad"] / 2, t_grad[part], atol=1e-6)
    # Each process alone (its own clips' texts as the only negatives) would give another loss.
    from skeletonllm.sugar.contrastive import mil_nce
    alone = [mil_nce(F.normalize(x[p] @ weight.T, dim=-1), texts[p],
                     torch.tensor([[a == b for b in classes[p]] for a in classes[p]]), TAU) for p in SPLIT]
    assert not torch.allclose((alone[0] * 4 + alone[1] * 2) / 6, loss, atol=1e-3)


PAPER_CONFIGS = [n for n in list_shipped() if n != "tiny_cpu"]


@pytest.mark.parametrize("name", PAPER_CONFIGS)
def test_tqp_compresses_the_encoders_sequence_as_in_the_paper(name):
    """The paper's TQP shortens a long encoder sequence to L = 128 tokens; each segment must hold
    more time steps than it has queries (the shipped configs once gave TQP 64 steps for 128 tokens)."""
    cfg = load_sugar_config(name)
    steps, tokens = cfg.encoder.out_length, cfg.bridge.num_tokens
    assert tokens == 128 and steps > tokens, (steps, tokens)
    assert steps // cfg.bridge.num_segments > cfg.bridge.num_queries


@pytest.mark.parametrize("name", PAPER_CONFIGS)
def test_the_bridge_has_its_own_learning_rate(name):
    """A freshly initialised bridge at LoRA's 2e-5 barely moves in the paper's one epoch of Step 3."""
    from skeletonllm.sugar.training import steps
    from skeletonllm.train.config import TrainSection
    from skeletonllm.train.trainer import optimizer_groups
    cfg = load_sugar_config(name)
    bridge_lr = (cfg.step3.group_lr or {}).get("bridge")
    assert bridge_lr is not None and bridge_lr > cfg.step3.lr
    model = type("M", (), {"parameter_groups": lambda self: {"bridge": [torch.nn.Parameter(torch.ones(2, 2))],
                                                             "lora": [torch.nn.Parameter(torch.ones(2, 2))]}})()
    groups = optimizer_groups(model, steps(cfg)[3], TrainSection(), cfg.step3.group_lr)
    assert {g["name"]: g["lr"] for g in groups} == {"bridge": bridge_lr, "lora": cfg.step3.lr}


def test_step2_under_two_process_ddp_keeps_the_replicas_identical(tmp_path):
    """The gathered MIL-NCE inside DDP's backward (its all-reduce beside DDP's own): the run ends, the loss is
    finite and both processes hold the same weights."""
    import sys
    sys.path.insert(0, os.path.dirname(__file__))
    from test_train_ddp import _torchrun
    _torchrun("-m", "skeletonllm.cli", "sugar", "train", "tiny_cpu", "--step", "2", "--cpu", "--quiet",
              "--set", f"run.output_dir={tmp_path / 'run'}", "--set", "step2.epochs=1")
    log = [json.loads(line) for line in (tmp_path / "run" / "step2-alignment" / "log.jsonl").read_text().splitlines()]
    assert log[0]["processes"] == 2 and log[-1]["replicas_identical"] is True
    losses = [r["loss"] for r in log if "loss" in r]
    assert losses and all(torch.isfinite(torch.tensor(losses)))
