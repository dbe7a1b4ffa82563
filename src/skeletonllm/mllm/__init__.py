"""The vision-language side of SkeletonLLM.

    prompts     every prompt and answer format, and ``parse_label``
    backbones   adapters that feed rendered frames to InternVL / Qwen2.5-VL (``transformers``)
    tiny        tiny random backbones of both classes + an offline tokenizer (tests, demo)
    lora        LoRA on the language model only (peft)
    model       ``SkeletonLLM`` / ``SkeletonLLMConfig``: renderer + backbone, loss, generate, scoring
    scoring     candidate answers scored on one copy of the prompt's KV cache
    precision   trainable weights kept in float32 beside a bf16 / fp16 backbone
    checkpoint  ``save_pretrained`` / ``from_pretrained`` directories

Imports are lazy so that ``from skeletonllm.mllm import prompts`` does not load transformers.
"""
from importlib import import_module

_EXPORTS = {
    "SkeletonLLM": "model", "SkeletonLLMConfig": "model", "SkeletonLLMOutput": "model", "GROUPS": "model",
    "build_tiny_backbone": "tiny", "write_tiny_backbone": "tiny", "train_tiny_tokenizer": "tiny",
    "load_backbone": "backbones", "make_adapter": "backbones", "BackboneAdapter": "backbones",
    "LoraSettings": "lora",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'skeletonllm.mllm' has no attribute '{name}'")
