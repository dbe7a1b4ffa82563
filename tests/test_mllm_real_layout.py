"""The prompt the released checkpoints expect, built by transformers' own machinery, against ours.

The real processors cannot be constructed here (their video processors need torchvision, see
FINDINGS), so the reference is assembled from transformers' own parts: ``apply_chat_template``
with the released chat template, the processor classes' ``replace_video_token`` /
``replace_image_token`` and ``ProcessorMixin.get_text_with_replacements`` (called with a
stand-in for the processor instance), Qwen's PIL image processor for the image grids, and
``create_mm_token_type_ids``. The tokenizer has the real special tokens at their real ids
(``skeletonllm.mllm.presets``); ordinary words are not tokenised like the real BPE.
"""
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from skeletonllm.mllm import prompts as P
from skeletonllm.mllm.model import SkeletonLLM, SkeletonLLMConfig
from skeletonllm.mllm.presets import get_preset, list_presets
from skeletonllm.skeleton import collate_sequences
from skeletonllm.render.demo import demo_sequence
from transformers import InternVLProcessor, Qwen2_5_VLProcessor
from transformers.processing_utils import ProcessorMixin

FRAMES, SIZE = 12, 448
PROMPT = P.mqa_prompt(["drink water", "pick up", "throw"])
TARGET = P.mqa_target("pick up")


@pytest.fixture(scope="module")
def models():
    """SkeletonLLM on 2-layer backbones with the released vocabulary, ids, template and image geometry."""
    cache = {}

    def get(key, frames_as="video"):
        if (key, frames_as) not in cache:
            cfg = SkeletonLLMConfig(backbone=get_preset(key).hub_id, random_init=True, tiny_options={"tiny": True},
                                    image_size=SIZE, num_frames=FRAMES, frames_as=frames_as, renderer="projection",
                                    renderer_options={"image_size": SIZE}, device="cpu")
            cache[key, frames_as] = SkeletonLLM(cfg).eval()
        return cache[key, frames_as]
    return get


def _expand(processor_cls, stand_in, text, images=(), videos=()):
    """transformers' placeholder expansion (ProcessorMixin.get_text_with_replacements)."""
    stand_in.all_special_multimodal_tokens = [t for t in (getattr(stand_in, "image_token", None),
                                                          getattr(stand_in, "video_token", None)) if t]
    out, _ = ProcessorMixin.get_text_with_replacements(stand_in, [text], list(images), list(videos))
    return out[0]


def _internvl_reference(model, messages, num_frames):
    tok = model.tokenizer
    text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=messages[-1]["role"] == "user")
    proc = SimpleNamespace(start_image_token=tok.start_image_token, end_image_token=tok.end_image_token,
                           image_token=tok.context_image_token, video_token=tok.video_token,
                           image_seq_length=model.backbone.config.image_seq_length)
    video = {"pixel_values_videos": torch.zeros(1, num_frames, 3, SIZE, SIZE)}
    replacement = InternVLProcessor.replace_video_token(proc, video, 0)
    return _expand(InternVLProcessor, proc, text, videos=[replacement])


def _qwen_reference(model, messages, num_frames):
    tok = model.tokenizer
    adapter = model.adapter
    text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=messages[-1]["role"] == "user")
    proc = SimpleNamespace(image_token="<|image_pad|>", video_token="<|video_pad|>",
                           image_processor=SimpleNamespace(merge_size=adapter.merge_size),
                           video_processor=SimpleNamespace(merge_size=adapter.merge_size))
    if adapter.frames_as == "video":
        # The grid the processor computes for F frames of S x S: (ceil(F / 2), S / 14, S / 14).
        grid = torch.tensor([[-(-num_frames // 2), SIZE // 14, SIZE // 14]])
        return _expand(Qwen2_5_VLProcessor, proc, text, videos=[Qwen2_5_VLProcessor.replace_video_token(
            proc, {"video_grid_thw": grid}, 0)])
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil
    frames = [np.full((SIZE, SIZE, 3), 20 * i, np.uint8) for i in range(num_frames)]
    processed = Qwen2VLImageProcessorPil()(images=frames, return_tensors="pt")
    replacements = [Qwen2_5_VLProcessor.replace_image_token(proc, processed, i) for i in range(num_frames)]
    return _expand(Qwen2_5_VLProcessor, proc, text, images=replacements)


def _reference(model, messages, num_frames=FRAMES):
    fn = _internvl_reference if model.adapter.kind == "internvl" else _qwen_reference
    return fn(model, messages, num_frames)


def _user(model, num_frames=FRAMES):
    return [{"role": "user", "content": model.adapter.chat_content(PROMPT, num_frames)}]


CASES = [("internvl3-1b-hf", "video"), ("internvl3-8b-hf", "video"), ("qwen2.5-vl-3b-instruct", "video"),
         ("qwen2.5-vl-7b-instruct", "images")]


def test_every_shipped_backbone_has_the_released_template_and_ids():
    assert len(list_presets()) == 5
    for key in list_presets():
        preset = get_preset(key)
        ids = preset.special_token_ids()
        assert ids["<|im_end|>"] == 151645 and ids["<|endoftext|>"] == 151643
        if preset.family == "internvl":
            assert ids["<IMG_CONTEXT>"] == preset.config["image_token_id"] == 151667
            assert ids["<img>"] == 151665 and ids["</img>"] == 151666
        else:
            c = preset.config
            assert (ids["<|vision_start|>"], ids["<|vision_end|>"], ids["<|image_pad|>"], ids["<|video_pad|>"]) == \
                (c["vision_start_token_id"], c["vision_end_token_id"], c["image_token_id"], c["video_token_id"]) == \
                (151652, 151653, 151655, 151656)
        assert max(ids.values()) < preset.config["text_config"]["vocab_size"] or preset.family == "internvl"


@pytest.mark.parametrize("key,frames_as", CASES)
def test_prompt_is_what_the_real_template_and_processor_write(models, key, frames_as):
    model = models(key, frames_as)
    ours = model.format_prompt(PROMPT, FRAMES)
    assert ours == _reference(model, _user(model))
    ids = model.tokenizer(ours, add_special_tokens=False)["input_ids"]
    per_frame = (SIZE // 28) ** 2  # 256 at 448 for both families
    expected = {"internvl": FRAMES * per_frame, "video": FRAMES // 2 * per_frame, "images": FRAMES * per_frame}
    n = expected["internvl" if model.adapter.kind == "internvl" else frames_as]
    assert sum(t in model.adapter.placeholder_ids for t in ids) == n == model.adapter.num_visual_tokens(FRAMES)
    if model.adapter.kind == "internvl":
        assert ours.count("<img>") == ours.count("</img>") == FRAMES and "Frame12: <img>" in ours
        assert ours.startswith("<|im_start|>user\nFrame1: <img><IMG_CONTEXT>")  # no default system message
    else:
        assert ours.startswith("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
                               "<|vision_start|>")
        assert ours.count("<|vision_start|>") == (1 if frames_as == "video" else FRAMES)
        assert f"<|vision_end|>{PROMPT}" in ours  # the question follows the visual block directly


@pytest.mark.parametrize("key,frames_as", CASES)
def test_training_ids_and_label_mask_match_the_real_conversation(models, key, frames_as):
    model = models(key, frames_as)
    full = _reference(model, _user(model) + [{"role": "assistant", "content": TARGET}])
    real_ids = model.tokenizer(full, add_special_tokens=False)["input_ids"]
    assert full.endswith(TARGET + "<|im_end|>\n")
    ids, mask, labels, _ = model._training_batch([PROMPT], [TARGET], FRAMES)
    ids, labels = ids[0].tolist(), labels[0].tolist()
    # The training sequence is the real conversation up to the end of the assistant turn.
    assert ids == real_ids[:len(ids)] and model.tokenizer.decode(real_ids[len(ids):]) == "\n"
    answer = model.tokenizer(TARGET + "<|im_end|>", add_special_tokens=False)["input_ids"]
    kept = [i for i, l in enumerate(labels) if l != -100]
    assert kept == list(range(len(ids) - len(answer), len(ids)))  # exactly the answer and its end-of-turn
    assert [labels[i] for i in kept] == answer and answer[-1] == 151645


def test_qwen_token_types_are_the_processors(models):
    model = models("qwen2.5-vl-3b-instruct")
    ids = model.tokenizer(model.format_prompt(PROMPT, FRAMES), add_special_tokens=False)["input_ids"]
    # ProcessorMixin's default token-id properties, read from a stand-in holding the ids Qwen's processor has.
    proc = SimpleNamespace(image_token_id=151655, video_token_id=151656, audio_token_id=None)
    for name in ("image_token_ids", "video_token_ids", "audio_token_ids"):
        setattr(proc, name, getattr(ProcessorMixin, name).fget(proc))
    theirs = ProcessorMixin.create_mm_token_type_ids(proc, [ids])[0]
    ours = model.adapter.mm_token_type_ids(torch.tensor([ids]))[0].tolist()
    assert list(theirs) == ours and ours.count(2) == 1536


@pytest.mark.parametrize("key", ["internvl3-1b-hf", "qwen2.5-vl-7b-instruct"])
def test_a_real_size_prompt_runs_through_the_model_with_real_ids(models, key):
    """Frames -> visual tokens -> merged at the real placeholder ids -> a finite loss."""
    model = models(key)
    assert model.backbone.config.text_config.vocab_size == get_preset(key).config["text_config"]["vocab_size"]
    assert model.tokenizer.convert_tokens_to_ids("<|im_end|>") == 151645
    batch = collate_sequences([demo_sequence("ntu25", num_frames=16)], num_frames=FRAMES)
    with torch.no_grad():
        out = model(batch, PROMPT, [TARGET])
    assert torch.isfinite(out.loss) and out.frames.shape == (1, FRAMES, 3, SIZE, SIZE)
