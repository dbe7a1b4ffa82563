"""Backbone adapters, tiny offline backbones and LoRA scoping (skeletonllm.mllm.backbones/tiny/lora).

Frames are driven into the backbones as pixel tensors here; the renderer is exercised in
test_mllm_model.py.
"""
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from skeletonllm.errors import ConfigError
from skeletonllm.mllm.backbones import (CLIP_MEAN, IMAGENET_MEAN, IMAGENET_STD, backbone_kind, load_backbone,
                                        make_adapter, read_image_stats)
from skeletonllm.mllm.lora import LLM_LINEAR_LAYERS, LoraSettings, add_lora, lora_wrapped_modules
from skeletonllm.mllm.tiny import build_tiny_backbone, tiny_config, write_tiny_backbone

KINDS = ["internvl", "qwen2_5_vl"]


@pytest.fixture(scope="module")
def tiny():
    cache = {}

    def get(kind):
        if kind not in cache:
            cache[kind] = build_tiny_backbone(kind, image_size=224)
        return cache[kind]
    return get


def _prompt_ids(adapter, tok, num_frames, batch=1, text="Which action? Label: drink water"):
    ids = tok(adapter.frame_block(num_frames) + text, add_special_tokens=False)["input_ids"]
    return torch.tensor([ids] * batch)


def _loss_ours(adapter, model, frames, ids):
    """Loss through the adapter's path: merged embeddings + explicit positions."""
    visual = adapter.encode(frames)
    mask = torch.ones_like(ids)
    out = model(inputs_embeds=adapter.merge(ids, visual), attention_mask=mask,
                position_ids=adapter.position_ids(ids, mask, visual))
    labels = ids.clone()
    labels[torch.isin(ids, torch.tensor(adapter.placeholder_ids))] = -100
    return F.cross_entropy(out.logits[:, :-1].flatten(0, 1), labels[:, 1:].flatten(), ignore_index=-100), labels


# -- tiny backbones ---------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_tiny_backbone_saves_and_loads_through_the_real_path_offline(kind, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    out = write_tiny_backbone(kind, tmp_path / "tiny", image_size=112, corpus=["kicking something"], seed=3)
    model, tok = load_backbone(out)
    expected = "InternVLForConditionalGeneration" if kind == "internvl" else "Qwen2_5_VLForConditionalGeneration"
    assert type(model).__name__ == expected and backbone_kind(model.config) == kind
    ref, ref_tok = build_tiny_backbone(kind, image_size=112, corpus=["kicking something"], seed=3)
    for (n1, p1), (n2, p2) in zip(ref.state_dict().items(), model.state_dict().items()):
        assert n1 == n2 and torch.equal(p1, p2)
    text = "Label: kicking something<|im_end|>"
    assert tok(text)["input_ids"] == ref_tok(text)["input_ids"]
    assert len(tok("kicking something", add_special_tokens=False)["input_ids"]) <= 3  # extra corpus learned
    system = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n" if kind == "qwen2_5_vl" else ""
    assert tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True) \
        == system + "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"  # the released family's template
    if kind == "internvl":
        assert (tok.start_image_token, tok.end_image_token, tok.context_image_token) == ("<img>", "</img>", "<IMG_CONTEXT>")
    else:
        assert tok.convert_tokens_to_ids("<|video_pad|>") == model.config.video_token_id


def test_tiny_configs_have_the_requested_shape(tiny):
    model, tok = tiny("qwen2_5_vl")
    text = model.config.text_config
    head_dim = text.hidden_size // text.num_attention_heads
    assert sum(text.rope_parameters["mrope_section"]) == head_dim // 2
    assert (model.config.vision_config.depth, model.config.vision_config.hidden_size) == (2, 64)
    assert (text.num_hidden_layers, text.hidden_size) == (2, 64)
    model, _ = tiny("internvl")
    assert model.config.text_config.model_type == "qwen2"
    assert (model.config.vision_config.num_hidden_layers, model.config.vision_config.hidden_size) == (2, 64)


# -- token counts -----------------------------------------------------------------------------
@pytest.mark.parametrize("kind,frames_as", [("internvl", None), ("qwen2_5_vl", "video"), ("qwen2_5_vl", "images")])
@pytest.mark.parametrize("size", [448, 224, 112])
def test_tokens_per_frame_follow_the_config(tiny, kind, frames_as, size):
    model, tok = tiny(kind)
    opts = {"frames_as": frames_as} if frames_as else {}
    adapter = make_adapter(model, tok, image_size=size, **opts)
    per_frame = {448: 256, 224: 64, 112: 16}[size]
    assert adapter.tokens_per_frame() == per_frame
    num_frames = 2
    expected = per_frame * (1 if frames_as == "video" else num_frames)  # video fuses frame pairs
    assert adapter.num_visual_tokens(num_frames) == expected
    ids = _prompt_ids(adapter, tok, num_frames)
    assert int(torch.isin(ids, torch.tensor(adapter.placeholder_ids)).sum()) == expected
    with torch.no_grad():
        visual = adapter.encode(torch.rand(1, num_frames, 3, 96, 96))
    assert visual.embeds.shape == (1, expected, model.config.text_config.hidden_size)


def test_token_count_is_computed_from_the_config_not_assumed(tiny):
    _, tok = tiny("internvl")
    config = tiny_config("internvl", tok, image_size=224)
    config.vision_config.patch_size = [16, 16]
    config.vision_config.image_size = [256, 256]
    from transformers import InternVLForConditionalGeneration
    model = InternVLForConditionalGeneration(config).eval()
    adapter = make_adapter(model, tok)
    assert adapter.image_size == 256 and adapter.tokens_per_frame() == (256 // 16) ** 2 // 4 == 64
    with torch.no_grad():
        assert adapter.encode(torch.rand(1, 1, 3, 64, 64)).embeds.shape[1] == 64
    with pytest.raises(ConfigError, match="multiple of 32"):
        make_adapter(model, tok, image_size=240)


def test_internvl_frame_block_is_the_processor_layout(tiny):
    model, tok = tiny("internvl")
    adapter = make_adapter(model, tok, image_size=112)
    block = adapter.frame_block(3)
    lines = block.rstrip("\n").split("\n")
    assert [ln[:len("FrameN: <img>")] for ln in lines] == [f"Frame{i}: <img>" for i in (1, 2, 3)]
    assert all(ln.endswith("</img>") and ln.count("<IMG_CONTEXT>") == 16 for ln in lines)


# -- the adapter's path equals the HF-native path ---------------------------------------------
@pytest.mark.parametrize("kind,frames_as", [("internvl", None), ("qwen2_5_vl", "video"), ("qwen2_5_vl", "images")])
def test_adapter_path_matches_native_forward_and_is_differentiable(tiny, kind, frames_as):
    model, tok = tiny(kind)
    adapter = make_adapter(model, tok, image_size=112, **({"frames_as": frames_as} if frames_as else {}))
    torch.manual_seed(0)
    frames = torch.rand(2, 4, 3, 100, 100, requires_grad=True)
    ids = _prompt_ids(adapter, tok, 4, batch=2)
    ours, labels = _loss_ours(adapter, model, frames, ids)
    native = model(**adapter.native_inputs(frames, ids), attention_mask=torch.ones_like(ids), labels=labels).loss
    assert torch.allclose(ours, native, atol=1e-6)
    ours.backward()
    assert frames.grad is not None and bool((frames.grad != 0).all())


def test_qwen_positions_are_mrope_and_need_mm_token_type_ids(tiny):
    model, tok = tiny("qwen2_5_vl")
    adapter = make_adapter(model, tok, image_size=112, frames_as="video")
    torch.manual_seed(0)
    frames = torch.rand(1, 4, 3, 112, 112)
    ids = _prompt_ids(adapter, tok, 4)
    mask = torch.ones_like(ids)
    with torch.no_grad():
        visual = adapter.encode(frames)
        pos = adapter.position_ids(ids, mask, visual)
        ours, labels = _loss_ours(adapter, model, frames, ids)
        native = adapter.native_inputs(frames, ids)
        with_types = model(**native, attention_mask=mask, labels=labels).loss
        native.pop("mm_token_type_ids")
        without_types = model(**native, attention_mask=mask, labels=labels).loss
    assert pos.shape == (3, 1, ids.shape[1])
    video = ids[0] == model.config.video_token_id
    t, h, w = pos[:, 0, video]
    assert t.unique().numel() == 2  # two temporal groups (4 frames in pairs)
    assert h.unique().numel() == w.unique().numel() == 112 // 28  # a 4 x 4 grid of merged patches
    text = ~video
    assert torch.equal(pos[0, 0, text], pos[1, 0, text]) and torch.equal(pos[0, 0, text], pos[2, 0, text])
    assert pos[0, 0, -1] < ids.shape[1] - 1  # vision tokens advance positions less than 1-D counting
    assert torch.allclose(ours, with_types, atol=1e-6)
    assert abs(with_types.item() - without_types.item()) > 1e-6  # the silent 1-D fallback differs


def test_qwen_patchify_uses_the_library_patch_order(tiny):
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    model, tok = tiny("qwen2_5_vl")
    torch.manual_seed(0)
    pixels = torch.randn(1, 2, 3, 56, 84)  # non-square: rows and columns must not be swapped
    images = make_adapter(model, tok, image_size=112, frames_as="images")
    flat, grid = images.patchify(pixels)
    for f in range(2):
        ref, gh, gw = Qwen2VLImageProcessorPil.patchify(None, pixels[0, f].numpy(), 14, 2, 2)
        n = gh * gw
        assert np.allclose(flat[f * n:(f + 1) * n].numpy(), ref)
        assert grid[f].tolist() == [1, gh, gw]
    video = make_adapter(model, tok, image_size=112, frames_as="video")
    same = pixels[:, :1].expand(1, 2, 3, 56, 84)  # a pair of identical frames = one image
    vflat, vgrid = video.patchify(same)
    assert torch.allclose(vflat, flat[:vflat.shape[0]]) and vgrid.tolist() == [[1, 4, 6]]
    pair = torch.stack([torch.zeros(3, 56, 84), torch.ones(3, 56, 84)]).unsqueeze(0)
    vflat, _ = video.patchify(pair)  # each patch vector is (C, t, 14, 14): frame 0 then frame 1
    per_t = vflat.view(-1, 3, 2, 14, 14)
    assert bool((per_t[:, :, 0] == 0).all()) and bool((per_t[:, :, 1] == 1).all())


def test_qwen_video_with_an_odd_frame_count_repeats_the_last_frame(tiny):
    model, tok = tiny("qwen2_5_vl")
    adapter = make_adapter(model, tok, image_size=112, frames_as="video")
    frames = torch.rand(1, 3, 3, 112, 112)
    padded = torch.cat([frames, frames[:, -1:]], dim=1)
    assert adapter.num_visual_tokens(3) == 2 * 16
    with torch.no_grad():
        assert torch.allclose(adapter.encode(frames).embeds, adapter.encode(padded).embeds, atol=1e-6)


# -- preprocessing ----------------------------------------------------------------------------
def test_preprocess_resizes_and_normalises_with_the_backbone_statistics(tiny):
    model, tok = tiny("internvl")
    adapter = make_adapter(model, tok, image_size=112)
    assert adapter.mean == IMAGENET_MEAN and adapter.std == IMAGENET_STD
    frames = torch.tensor(IMAGENET_MEAN).view(1, 1, 3, 1, 1).expand(1, 2, 3, 60, 60).clone().requires_grad_(True)
    out = adapter.preprocess(frames)
    assert out.shape == (1, 2, 3, 112, 112) and out.abs().max() < 1e-5
    out.sum().backward()
    assert bool((frames.grad != 0).all())
    qmodel, qtok = tiny("qwen2_5_vl")
    assert make_adapter(qmodel, qtok).mean == CLIP_MEAN


def test_image_statistics_come_from_the_preprocessor_config(tmp_path):
    (tmp_path / "preprocessor_config.json").write_text(json.dumps({"image_mean": [0.5] * 3, "image_std": [0.25] * 3}))
    assert read_image_stats(tmp_path, IMAGENET_MEAN, IMAGENET_STD) == ((0.5,) * 3, (0.25,) * 3)
    assert read_image_stats(tmp_path / "missing", IMAGENET_MEAN, IMAGENET_STD) == (IMAGENET_MEAN, IMAGENET_STD)


def test_unsupported_model_type_is_a_clear_error(tmp_path):
    from transformers import Qwen2Config
    Qwen2Config(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                vocab_size=50).save_pretrained(tmp_path)
    with pytest.raises(ConfigError, match="model_type 'qwen2' is not supported"):
        load_backbone(tmp_path)


# -- LoRA -------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_lora_wraps_only_the_language_model(kind):
    model, tok = build_tiny_backbone(kind, image_size=112)
    adapter = make_adapter(model, tok)
    vision_prefix = adapter.module_name(adapter.vision_tower)
    same_names = [n for n, _ in adapter.vision_tower.named_modules() if n.rsplit(".", 1)[-1] in LLM_LINEAR_LAYERS]
    assert same_names, "the vision tower has layers named like the LLM's: a plain target list would wrap them"
    cfg = add_lora(model, LoraSettings(), adapter.module_name(adapter.language_model))
    wrapped = lora_wrapped_modules(model)
    layers = model.config.text_config.num_hidden_layers
    assert len(wrapped) == layers * len(LLM_LINEAR_LAYERS)
    assert all(w.startswith("model.language_model.layers.") for w in wrapped)
    assert not any(w.startswith(vision_prefix) for w in wrapped)
    assert {w.rsplit(".", 1)[-1] for w in wrapped} == set(LLM_LINEAR_LAYERS)
    assert (cfg.r, cfg.lora_alpha, cfg.lora_dropout) == (32, 64, 0.05)
