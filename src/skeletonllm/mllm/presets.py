"""The released backbones at their true shapes, with random weights, fully offline.

``skeletonllm/configs/backbones/*.json`` holds, as data, the configuration of each checkpoint
the paper and the README name (InternVL3-1B/2B/8B-hf, Qwen2.5-VL-3B/7B-Instruct): vision and
text widths, depths, heads, KV heads, vocabulary, special-token ids, image size, pixel-shuffle
ratio, patch and merge sizes, the chat template, the published parameter count, and the
public source of every number. This module turns one into

* an HF config of the real class (:func:`preset_config`), from which a model is built on the
  meta device to count parameters without allocating them (:func:`build_backbone`
  with ``device="meta"``), or with random weights for tests and benchmarks;
* a tokenizer whose special tokens have the real ids and whose chat template is the real
  one (:func:`build_tokenizer`). Its ordinary text tokens are a small BPE learned here and
  padded to the real base vocabulary size, so prompt *layouts* (templates, placeholder
  runs, label masks) are those of the real checkpoint, while the ids of ordinary words are
  not (the real BPE files are not available offline);
* a directory laid out like a hub checkpoint (sharded safetensors + tokenizer), which loads
  through the ordinary ``from_pretrained`` path (:func:`write_random_backbone`).

Select one by file stem (``internvl3-1b-hf``), name (``InternVL3-1B-hf``) or hub id
(``OpenGVLab/InternVL3-1B-hf``), case-insensitively.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Iterable

import torch

from ..atomic import atomic_directory
from ..errors import ConfigError


@dataclass(frozen=True)
class Preset:
    """One released checkpoint's shape, read from its JSON file.

    Attributes:
        key: file stem (``internvl3-1b-hf``).
        name, hub_id, family: ``InternVL3-1B-hf``, ``OpenGVLab/InternVL3-1B-hf``, ``internvl``.
        published_parameters: the published parameter count; ``published_source`` says where from.
        config: the HF config as a dict (``model_type`` + sub-configs).
        tokenizer: base vocabulary size, added tokens in id order, named special tokens,
            chat-template file, image mean/std.
        path: the JSON file.
    """

    key: str
    name: str
    hub_id: str
    family: str
    published_parameters: int
    published_source: str
    config: dict
    tokenizer: dict
    sources: dict
    path: Path

    @property
    def chat_template(self) -> str:
        from .templates import FILES, family_chat_template
        if self.tokenizer["chat_template"] != FILES[self.family]:
            return (self.path.parent / self.tokenizer["chat_template"]).read_text(encoding="utf-8")
        return family_chat_template(self.family)

    def special_token_ids(self) -> dict[str, int]:
        """Added token -> its id (the real ids: they follow the base vocabulary in order)."""
        base = int(self.tokenizer["base_vocab_size"])
        return {tok: base + i for i, tok in enumerate(self.tokenizer["added_tokens"])}


def presets_dir() -> Path:
    return Path(str(resources.files("skeletonllm") / "configs" / "backbones"))


def list_presets() -> list[str]:
    """File stems of the shipped backbone configs."""
    return sorted(p.stem for p in presets_dir().glob("*.json"))


def _read(path: Path) -> Preset:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError(path, "<file>", f"invalid JSON: {exc}") from exc
    return Preset(path.stem, data["name"], data["hub_id"], data["family"], int(data["published_parameters"]),
                  data["published_parameters_source"], data["config"], data["tokenizer"], data["sources"], path)


def find_preset(name: str | os.PathLike) -> Preset | None:
    """The preset named ``name`` (stem, name, hub id, or a JSON file path), else None."""
    p = Path(name)
    if p.suffix == ".json" and p.is_file():
        return _read(p)
    want = str(name).lower()
    for path in sorted(presets_dir().glob("*.json")):
        preset = _read(path)
        if want in (preset.key.lower(), preset.name.lower(), preset.hub_id.lower()):
            return preset
    return None


def get_preset(name: str | os.PathLike) -> Preset:
    preset = find_preset(name)
    if preset is None:
        raise ConfigError(None, "backbone", f"no shipped true-shape config for '{name}'; shipped: "
                          f"{', '.join(list_presets())} (or their hub ids)")
    return preset


def _shrink(data: dict, family: str, hidden: int = 64, layers: int = 2, heads: int = 4) -> dict:
    """``data`` (a preset's config dict) with small widths and depths; everything that shapes
    the prompt (vocabulary, special ids, image size, patch / merge / pixel-shuffle sizes) kept."""
    text, vision = data["text_config"], data["vision_config"]
    text.update(hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
                num_attention_heads=heads, num_key_value_heads=max(1, heads // 2))
    if family == "internvl":
        vision.update(hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
                      num_attention_heads=heads)
    else:
        half = hidden // heads // 2  # M-RoPE sections must add up to head_dim / 2
        text["rope_parameters"] = {**text["rope_parameters"], "mrope_section": [half - 2 * (half // 3), half // 3, half // 3]}
        vision.update(depth=layers, hidden_size=hidden, intermediate_size=2 * hidden, num_heads=heads,
                      out_hidden_size=hidden, fullatt_block_indexes=[layers - 1])
    return data


def preset_config(preset: Preset | str, tiny: bool = False):
    """The HF config object (``InternVLConfig`` / ``Qwen2_5_VLConfig``) of ``preset``.

    ``tiny``: 2 layers x 64 wide instead of the true widths and depths, with the true
    vocabulary, special-token ids and image geometry (prompt-layout tests).
    """
    from transformers import AutoConfig
    preset = get_preset(preset) if isinstance(preset, str) else preset
    data = json.loads(json.dumps(preset.config))  # a deep copy the config classes may keep
    if tiny:
        data = _shrink(data, preset.family)
    model_type = data.pop("model_type")
    data.pop("architectures", None)
    config = AutoConfig.for_model(model_type, **data)
    config.architectures = list(preset.config.get("architectures", []))
    return config


# -- tokenizer ----------------------------------------------------------------------------------

def build_tokenizer(preset: Preset | str, corpus: Iterable[str] = (), bpe_vocab: int = 1024):
    """A fast tokenizer with ``preset``'s special tokens at their real ids and its real chat template.

    Ordinary text is encoded by a byte-level BPE of ``bpe_vocab`` tokens learned here on our
    prompts (plus ``corpus``); the vocabulary is padded with never-produced filler tokens to
    the real base size (151643), so that the added tokens land on the real ids.
    """
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from .tiny import default_corpus

    preset = get_preset(preset) if isinstance(preset, str) else preset
    spec = preset.tokenizer
    base = int(spec["base_vocab_size"])
    small = Tokenizer(models.BPE())
    small.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=bpe_vocab, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    small.train_from_iterator([*default_corpus(), *corpus], trainer=trainer)
    model_json = json.loads(small.to_str())["model"]
    vocab = dict(model_json["vocab"])
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model_json["merges"]]
    # Filler entries no merge can produce: they only move the added tokens to their real ids.
    for i in range(len(vocab), base):
        vocab[f"<|skeletonllm_unused_{i}|>"] = i
    bpe = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in spec["added_tokens"]])
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token=spec["eos_token"], pad_token=spec["pad_token"],
                                  extra_special_tokens=dict(spec["extra_special_tokens"]))
    tok.chat_template = preset.chat_template
    wrong = {t: i for t, i in preset.special_token_ids().items() if tok.convert_tokens_to_ids(t) != i}
    if wrong:
        raise RuntimeError(f"special tokens landed on the wrong ids: {wrong}")
    return tok


# -- models -------------------------------------------------------------------------------------

def model_class(preset: Preset):
    from transformers import InternVLForConditionalGeneration, Qwen2_5_VLForConditionalGeneration
    return InternVLForConditionalGeneration if preset.family == "internvl" else Qwen2_5_VLForConditionalGeneration


def build_backbone(preset: Preset | str, dtype: torch.dtype = torch.float32, device: str = "cpu",
                   seed: int = 0, tokenizer: bool = True, corpus: Iterable[str] = (), tiny: bool = False):
    """``(model, tokenizer)`` of ``preset`` with random weights.

    The weights are initialised on ``device`` in ``dtype`` directly (no float32 or host copy
    first; the same seed gives other values on a GPU than on the CPU). ``device="meta"`` builds it without allocating any weight (accelerate's
    ``init_empty_weights``): enough to count parameters and walk the module tree of an 8B
    model on a laptop. ``tokenizer=False`` skips the tokenizer (returns None for it).
    ``tiny``: see :func:`preset_config`.
    """
    from accelerate import init_empty_weights

    preset = get_preset(preset) if isinstance(preset, str) else preset
    config = preset_config(preset, tiny=tiny)
    cls = model_class(preset)
    ctx = init_empty_weights() if device == "meta" else torch.device(device)
    previous = torch.get_default_dtype()
    with ctx, torch.random.fork_rng():
        torch.manual_seed(seed)
        torch.set_default_dtype(dtype)  # initialise directly in the target dtype (no float32 copy first)
        try:
            model = cls(config)
        finally:
            torch.set_default_dtype(previous)
    # transformers 5 ties embeddings in from_pretrained, not in __init__: tie them here too, so a
    # tied checkpoint (Qwen2.5-VL-3B) has one matrix, as after loading.
    model.tie_weights()
    tok = build_tokenizer(preset, corpus) if tokenizer else None
    if tok is not None:
        model.generation_config.eos_token_id = tok.eos_token_id
        model.generation_config.pad_token_id = tok.pad_token_id
    return model.eval(), tok


def write_random_backbone(preset: Preset | str, out_dir: str | os.PathLike, dtype: torch.dtype = torch.float32,
                          max_shard_size: str | int = "1GB", seed: int = 0, corpus: Iterable[str] = ()) -> Path:
    """Write ``preset`` with random weights as a hub-style directory (sharded safetensors +
    ``model.safetensors.index.json`` + tokenizer + ``preprocessor_config.json``), atomically.

    The directory then loads through ``AutoModelForImageTextToText.from_pretrained`` /
    ``SkeletonLLMConfig(backbone=str(out_dir))`` exactly as a downloaded checkpoint would.
    """
    preset = get_preset(preset) if isinstance(preset, str) else preset
    model, tok = build_backbone(preset, dtype=dtype, seed=seed, corpus=corpus)
    with atomic_directory(out_dir) as tmp:
        model.save_pretrained(tmp, max_shard_size=max_shard_size)
        tok.save_pretrained(tmp)
        stats = {"image_mean": preset.tokenizer["image_mean"], "image_std": preset.tokenizer["image_std"]}
        (tmp / "preprocessor_config.json").write_text(json.dumps(stats, indent=2) + "\n", encoding="utf-8")
    del model
    return Path(out_dir)


def describe(preset: Preset) -> dict[str, Any]:
    """The shape numbers of ``preset`` in one flat dict (for ``skeletonllm plan``)."""
    cfg = preset.config
    v, t = cfg["vision_config"], cfg["text_config"]
    return {
        "vision": (f"{v.get('num_hidden_layers', v.get('depth'))} layers x {v['hidden_size']}, "
                   f"{v.get('num_attention_heads', v.get('num_heads'))} heads"),
        "text": (f"{t['num_hidden_layers']} layers x {t['hidden_size']}, {t['num_attention_heads']} heads, "
                 f"{t['num_key_value_heads']} KV heads, vocab {t['vocab_size']}"),
    }


__all__ = ["Preset", "build_backbone", "build_tokenizer", "describe", "find_preset", "get_preset", "list_presets",
           "preset_config", "presets_dir", "write_random_backbone"]
