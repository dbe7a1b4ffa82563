"""Memory at model scale: candidates scored on one copy of the prompt's KV cache, backbones loaded
straight onto their device in their dtype, and room in generate mode for a rationale."""
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import skeletonllm
from skeletonllm.mllm import prompts as P
from skeletonllm.mllm.model import SkeletonLLM, SkeletonLLMConfig
from skeletonllm.skeleton import SkeletonSequence, collate_sequences, get_topology

DATA = Path(__file__).parent / "data"
SEQ = skeletonllm.load(DATA / "ntu_skeleton" / "S001C001P001R001A001.skeleton")
SIXTEEN = [f"action number {i}" for i in range(16)]


def _caches_seen(module: nn.Module) -> list[tuple[int, int]]:
    """Per call of ``module`` with a KV cache: (batch rows of the cache, tokens it holds)."""
    seen = []

    def hook(mod, args, kwargs):
        cache = kwargs.get("past_key_values")
        if cache is not None and cache.get_seq_length() > 0:
            keys = cache.layers[0].keys
            seen.append((int(keys.shape[0]), int(keys.shape[-2])))
    module.register_forward_pre_hook(hook, with_kwargs=True)
    return seen


@pytest.mark.parametrize("kind", ["internvl", "qwen2_5_vl"])
def test_sixteen_candidates_are_scored_on_one_copy_of_the_prompt_cache(kind):
    """Before: the prompt's cache was deep-copied and repeated per candidate (16 x its rows)."""
    torch.manual_seed(0)
    model = SkeletonLLM(SkeletonLLMConfig(backbone=f"tiny:{kind}", image_size=56, renderer_options={"image_size": 56},
                                          device="cpu"))
    seen = _caches_seen(model.backbone)
    batch = collate_sequences([SEQ, SEQ], num_frames=4)
    scores = model.score_candidates(batch, P.mqa_prompt(SIXTEEN), SIXTEEN)
    assert scores.shape == (2, 16) and torch.isfinite(scores).all()
    prompt_tokens = len(model._ids(model.format_prompt(P.mqa_prompt(SIXTEEN), 4)))
    assert seen == [(2, prompt_tokens)]      # one pass for all 16, the batch's 2 rows, the prompt once


def test_sugar_scores_sixteen_candidates_on_one_copy_of_the_prompt_cache():
    from skeletonllm.sugar.classifier import ClassifierConfig
    from skeletonllm.sugar.encoder import EncoderConfig
    from skeletonllm.sugar.model import SugarConfig, SugarModel
    from skeletonllm.sugar.tqp import BridgeConfig
    torch.manual_seed(0)
    cfg = SugarConfig(encoder=EncoderConfig(channels=[8, 8], strides=[1, 1], num_frames=8, embed_dim=16),
                      bridge=BridgeConfig(num_segments=2, num_queries=2, layers=1, heads=2),
                      llm=ClassifierConfig(source="tiny:llama", lora_r=4, lora_alpha=8, describe=False))
    model = SugarModel(cfg, corpus=SIXTEEN)
    seen = _caches_seen(model.classifier.llm)
    scores = model.score_candidates(collate_sequences([SEQ], num_frames=8), model.recognition_prompt(SIXTEEN), SIXTEEN)
    assert scores.shape == (1, 16) and len(seen) == 1 and seen[0][0] == 1


# -- backbones straight to their device, in their dtype ------------------------------------------------

def _capture(monkeypatch, cls_name: str) -> list[dict]:
    import transformers
    cls = getattr(transformers, cls_name)
    calls, original = [], cls.from_pretrained.__func__

    def from_pretrained(klass, *args, **kwargs):
        calls.append(kwargs)
        return original(klass, *args, **kwargs)
    monkeypatch.setattr(cls, "from_pretrained", classmethod(from_pretrained))
    return calls


def test_a_backbone_is_read_onto_its_device_in_its_dtype(tmp_path, monkeypatch):
    from skeletonllm.mllm.tiny import write_tiny_backbone
    source = write_tiny_backbone("internvl", tmp_path / "backbone", image_size=56)
    calls = _capture(monkeypatch, "AutoModelForImageTextToText")
    model = SkeletonLLM(SkeletonLLMConfig(backbone=str(source), image_size=56, renderer_options={"image_size": 56},
                                          dtype="bfloat16", device="cpu"))
    assert calls[0]["device_map"] == {"": "cpu"} and calls[0]["dtype"] == torch.bfloat16
    assert {p.dtype for p in model.backbone.parameters() if not p.requires_grad} == {torch.bfloat16}
    model.save_pretrained(tmp_path / "ckpt", embed_base=False)
    SkeletonLLM.from_pretrained(tmp_path / "ckpt", device="cpu")
    assert calls[-1]["device_map"] == {"": "cpu"} and calls[-1]["dtype"] == torch.bfloat16


def test_sugar_reads_its_language_model_onto_its_device(tmp_path, monkeypatch):
    from skeletonllm.sugar.classifier import ClassifierConfig, build_tiny_llm, load_llm
    llm, tok = build_tiny_llm("llama", ["drink water"])
    llm.save_pretrained(tmp_path / "llm")
    tok.save_pretrained(tmp_path / "llm")
    calls = _capture(monkeypatch, "AutoModelForCausalLM")
    model, _ = load_llm(ClassifierConfig(source=str(tmp_path / "llm"), dtype="bfloat16"), device="cpu")
    assert calls[0]["device_map"] == {"": "cpu"} and next(model.parameters()).dtype == torch.bfloat16


# -- generate mode: room for a rationale before the label line ------------------------------------------

class RationaleWriter(nn.Module):
    """Answers as a CR-Distill-trained model does: a 200-word rationale, then the label line;
    ``generate`` keeps the first ``max_new_tokens`` words (one token per word)."""

    def generate(self, batch, prompts, max_new_tokens=64):
        words = ("The right hand rises to the mouth and the head tilts back . " * 16).split()[:200]
        answer = words + ["\nLabel:", "drink", "water"]
        return [" ".join(answer[:max_new_tokens])] * batch.batch_size


def test_generate_mode_leaves_room_for_a_rationale_before_the_label(tmp_path):
    from skeletonllm.eval.recognition import evaluate_recognition
    topo = get_topology("ntu25")
    clips = [SkeletonSequence(np.zeros((5, 1, 25, 3), np.float32), np.ones((5, 1), bool), topo, label="drink water",
                              metadata={"source": f"clip{k}.skeleton"}) for k in range(2)]
    res = evaluate_recognition(RationaleWriter(), clips, ["drink water", "throw"], "toy", batch_size=2,
                               num_frames=4, out_dir=tmp_path, progress=False)
    assert res["top1"] == 1.0 and res["settings"]["max_new_tokens"] >= 256
