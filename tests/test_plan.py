"""`skeletonllm plan`: true-shape parameter counts against the published sizes, visual tokens and the
memory model (skeletonllm.train.plan), all on the meta device."""
import pytest
from typer.testing import CliRunner

from skeletonllm.cli import app
from skeletonllm.mllm.presets import build_backbone, get_preset, list_presets
from skeletonllm.train.plan import PlanRequest, make_plan

GIB = 2 ** 30


@pytest.mark.parametrize("key", list_presets())
def test_true_shape_parameter_counts_match_the_published_sizes(key):
    preset = get_preset(key)
    plan = make_plan(PlanRequest(model={"backbone": preset.hub_id}, num_frames=12, image_size=448, batch=1))
    assert abs(plan.backbone_parameters / preset.published_parameters - 1) < 0.02
    assert plan.published[0] == preset.published_parameters
    g = plan.by_group
    assert plan.trainable == g["lora"] + g["renderer"] + g["projector"]
    assert plan.parameters == plan.backbone_parameters + g["lora"] + g["renderer"]
    # LoRA r32 on the 7 projections of every decoder layer: r * (in + out) each.
    t = preset.config["text_config"]
    d, f, kv = t["hidden_size"], t["intermediate_size"], t["hidden_size"] // t["num_attention_heads"] * t["num_key_value_heads"]
    per_layer = 32 * ((d + d) * 2 + (d + kv) * 2 + (d + f) * 3)
    assert g["lora"] == per_layer * t["num_hidden_layers"]
    assert plan.visual_tokens == (3072 if preset.family == "internvl" else 1536)  # 12 frames at 448


def test_an_8b_model_is_counted_without_allocating_it():
    model, tok = build_backbone("InternVL3-8B-hf", device="meta", tokenizer=False)
    assert tok is None and all(p.is_meta for p in model.parameters())
    assert sum(p.numel() for p in model.parameters()) > 7.9e9


def test_memory_model_orders_the_strategies_and_precisions():
    req = PlanRequest(model={"backbone": "InternVL3-8B-hf", "gradient_checkpointing": True}, batch=2, processes=8)
    plan = make_plan(req)
    fp32, bf16 = plan.memory["fp32"], plan.memory["bf16"]
    assert fp32["fsdp"] < fp32["zero2"] < fp32["ddp"] and bf16["fsdp"] < bf16["ddp"]
    assert all(bf16[s] < fp32[s] for s in fp32)
    assert 29 < plan.parts["fp32"]["weights"] / GIB < 31  # 8.0 B parameters x 4 bytes
    one = make_plan(PlanRequest(model={"backbone": "InternVL3-8B-hf", "gradient_checkpointing": True}, batch=2))
    assert one.memory["fp32"]["zero2"] == pytest.approx(one.memory["fp32"]["ddp"])  # nothing to shard
    no_ckpt = make_plan(PlanRequest(model={"backbone": "InternVL3-8B-hf"}, batch=2, gradient_checkpointing=False))
    assert no_ckpt.memory["bf16"]["ddp"] > 2 * plan.memory["bf16"]["ddp"]  # activations of every layer kept
    doubled = make_plan(PlanRequest(model={"backbone": "InternVL3-8B-hf", "gradient_checkpointing": True}, batch=4,
                                    processes=8))
    acts = plan.parts["fp32"]["vision + LM activations"]
    assert doubled.parts["fp32"]["vision + LM activations"] == pytest.approx(2 * acts, rel=0.01)


def test_plan_command_prints_counts_tokens_and_memory():
    result = CliRunner().invoke(app, ["plan", "ntu60_48_12", "--backbone", "Qwen/Qwen2.5-VL-3B-Instruct",
                                      "--processes", "8", "--batch", "1"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "backbone alone  3,754,622,976; published 3.755 B (-0.01 %)" in out
    assert "visual tokens   1536 per clip (12 frames)" in out
    assert "ddp" in out and "zero2" in out and "fsdp" in out and "bf16 weights" in out
    bad = CliRunner().invoke(app, ["plan", "ntu60_48_12", "--backbone", "/nonexistent/model"])
    assert bad.exit_code == 1 and "not a shipped true-shape config" in bad.output
