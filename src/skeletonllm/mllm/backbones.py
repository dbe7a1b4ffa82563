"""Backbone adapters: how rendered frames enter a real ``transformers`` vision-language model.

The HF processors are not used for the frames: they work on PIL/NumPy images and would cut
the gradient from the language-model loss back to the renderer. An adapter does their job
with differentiable tensor operations instead, and knows the model family's layout:

* how many visual tokens a frame becomes (computed from the config, never hard-coded);
* how the frames' placeholders are written into the prompt;
* resize (bilinear, antialias off, so it is differentiable and cheap) and normalisation
  with the backbone's own mean/std;
* which modules are the vision tower, the projector and the language model;
* the language model's position ids (Qwen2.5-VL needs 3-D M-RoPE positions, which it only
  computes when told which tokens are image/video placeholders: ``mm_token_type_ids``).

The language model is always called with ``inputs_embeds`` in which the placeholder
embeddings have been replaced by the projected visual tokens (the same ``masked_scatter``
the HF models perform), plus explicit position ids. That lets the vision encoder run once
per batch and its output be reused (candidate scoring, generation with a KV cache).
:meth:`BackboneAdapter.native_inputs` builds the equivalent HF-native keyword arguments;
the tests check that both paths give the same loss.

Supported: InternVL (HF-native ``InternVLForConditionalGeneration``, e.g. InternVL3-8B-hf,
the paper's backbone) and Qwen2.5-VL (``Qwen2_5_VLForConditionalGeneration``).
"""
from __future__ import annotations

import json
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
CLIP_MEAN, CLIP_STD = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)


@dataclass
class VisualTokens:
    """Projected visual tokens of a batch, ready to replace the prompt's placeholders.

    Attributes:
        embeds: ``(B, N, D)`` visual tokens in the language model's embedding space, N per sample.
        num_frames: F, frames per sample.
        grid_thw: Qwen2.5-VL only: ``(B or B*F, 3)`` (t, h, w) patch grids, as the model expects.
        second_per_grid_ts: Qwen2.5-VL video only: ``(B,)`` seconds per temporal grid step.
    """

    embeds: torch.Tensor
    num_frames: int
    grid_thw: torch.Tensor | None = None
    second_per_grid_ts: torch.Tensor | None = None


def _find_module_name(root: nn.Module, target: nn.Module) -> str:
    for name, module in root.named_modules():
        if module is target:
            return name
    raise ValueError("module is not part of the backbone")


def read_image_stats(source: str | os.PathLike | None, default_mean, default_std) -> tuple[tuple, tuple]:
    """``(mean, std)`` from the backbone's ``preprocessor_config.json``, else the family default.

    ``source`` is a local directory or a hub id (read through the HF cache, so
    ``HF_HUB_OFFLINE`` is respected). Tiny test backbones have no such file and get the defaults.
    """
    path = None
    if source is not None and Path(source).is_dir():
        candidate = Path(source) / "preprocessor_config.json"
        path = candidate if candidate.is_file() else None
    elif source is not None:
        from transformers.utils import cached_file
        try:
            path = cached_file(str(source), "preprocessor_config.json", _raise_exceptions_for_missing_entries=False,
                               _raise_exceptions_for_connection_errors=False)
        except (OSError, ValueError):  # not a valid repo id, or unreachable
            path = None
    if path:
        with open(path, encoding="utf-8") as fh:
            cfg = json.load(fh)
        mean, std = cfg.get("image_mean"), cfg.get("image_std")
        if mean is not None and std is not None:
            return tuple(float(v) for v in mean), tuple(float(v) for v in std)
    return tuple(default_mean), tuple(default_std)


class BackboneAdapter(ABC):
    """The frame-facing side of one vision-language model family.

    Args:
        model: the HF ``...ForConditionalGeneration`` model (LoRA may later be injected in place).
        tokenizer: its tokenizer (placeholder tokens are looked up in it).
        image_size: side of the square frames the vision tower receives; ``None`` = family default.
        mean, std: normalisation; ``None`` = family default.
    """

    kind: str = ""
    default_mean: tuple = IMAGENET_MEAN
    default_std: tuple = IMAGENET_STD

    def __init__(self, model: nn.Module, tokenizer, image_size: int | None = None, mean=None, std=None):
        self.model = model
        self.tokenizer = tokenizer
        self.config = model.config
        self.image_size = int(image_size or self.default_image_size())
        self._check_size(self.image_size)
        self.mean = tuple(mean or self.default_mean)
        self.std = tuple(std or self.default_std)

    # -- modules ------------------------------------------------------------------------
    @property
    @abstractmethod
    def vision_tower(self) -> nn.Module:
        """The vision encoder, without the projector."""

    @property
    @abstractmethod
    def projector(self) -> nn.Module:
        """The vision-to-language projector (InternVL ``multi_modal_projector``, Qwen ``visual.merger``)."""

    @property
    def language_model(self) -> nn.Module:
        """The decoder stack (embeddings, layers, final norm); the LM head sits beside it."""
        return self.model.model.language_model

    def module_name(self, module: nn.Module) -> str:
        """Dotted path of ``module`` inside the HF model (e.g. ``"model.language_model"``)."""
        return _find_module_name(self.model, module)

    # -- sizes ---------------------------------------------------------------------------
    @abstractmethod
    def default_image_size(self) -> int: ...

    @property
    def patch_size(self) -> int:
        p = self.config.vision_config.patch_size
        return int(p[0] if isinstance(p, (list, tuple)) else p)

    @abstractmethod
    def token_stride(self) -> int:
        """Pixels per visual token along one side (patch size x spatial merge)."""

    def _check_size(self, size: int) -> None:
        if size <= 0 or size % self.token_stride():
            raise ConfigError(None, "image_size", f"{self.kind} needs a frame size that is a positive multiple of "
                              f"{self.token_stride()} (patch {self.patch_size} x merge), got {size}")

    def tokens_per_frame(self, image_size: int | None = None) -> int:
        """Visual tokens one frame becomes at ``image_size`` (default: the adapter's size)."""
        size = image_size or self.image_size
        self._check_size(size)
        return (size // self.token_stride()) ** 2

    def num_visual_tokens(self, num_frames: int, image_size: int | None = None) -> int:
        """Visual tokens of one sample of ``num_frames`` frames."""
        return num_frames * self.tokens_per_frame(image_size)

    # -- frames -> tokens ----------------------------------------------------------------
    def preprocess(self, frames: torch.Tensor) -> torch.Tensor:
        """``(B, F, 3, H, W)`` in [0, 1] -> ``(B, F, 3, S, S)`` resized and normalised, differentiably."""
        if frames.ndim != 5 or frames.shape[2] != 3:
            raise ValueError(f"frames must have shape (B, F, 3, H, W), got {tuple(frames.shape)}")
        B, Fn, C, H, W = frames.shape
        x = frames.reshape(B * Fn, C, H, W)
        if (H, W) != (self.image_size, self.image_size):
            x = F.interpolate(x, size=(self.image_size, self.image_size), mode="bilinear",
                              align_corners=False, antialias=False)
        mean = x.new_tensor(self.mean).view(1, 3, 1, 1)
        std = x.new_tensor(self.std).view(1, 3, 1, 1)
        x = (x - mean) / std
        return x.view(B, Fn, C, self.image_size, self.image_size)

    def encode(self, frames: torch.Tensor) -> VisualTokens:
        """Rendered frames ``(B, F, 3, H, W)`` in [0, 1] -> projected visual tokens (vision tower + projector)."""
        pixels = self.preprocess(frames).to(self.model.dtype)
        return self._encode(pixels)

    @abstractmethod
    def _encode(self, pixels: torch.Tensor) -> VisualTokens: ...

    # -- prompt layout -------------------------------------------------------------------
    # The user turn is written the way the released processors write it: the chat template
    # renders structured content ({"type": "video"} / {"type": "image"} items, then the
    # question) with one short placeholder per visual item, and the placeholders are then
    # expanded into the full runs of visual tokens (the processor's replace_*_token step).
    @abstractmethod
    def chat_content(self, prompt: str, num_frames: int) -> list[dict]:
        """The user message's content: the visual item(s), then ``{"type": "text", "text": prompt}``."""

    @abstractmethod
    def expand_placeholders(self, text: str, num_frames: int) -> str | None:
        """``text`` rendered by the chat template with its visual placeholders expanded, or
        None when the template did not write exactly the expected placeholders (a template
        that only knows string content)."""

    @abstractmethod
    def frame_block(self, num_frames: int) -> str:
        """The expanded visual text as it stands before the question in the user turn."""

    @property
    @abstractmethod
    def placeholder_ids(self) -> tuple[int, ...]:
        """Token ids that the visual tokens replace."""

    def merge(self, input_ids: torch.Tensor, visual: VisualTokens) -> torch.Tensor:
        """Token embeddings ``(B, L, D)`` with the placeholders replaced by ``visual.embeds`` in order."""
        embeds = self.model.get_input_embeddings()(input_ids)
        mask = torch.isin(input_ids, input_ids.new_tensor(self.placeholder_ids))
        counts = mask.sum(dim=1)
        if not bool((counts == visual.embeds.shape[1]).all()):
            raise ValueError(f"each prompt must hold {visual.embeds.shape[1]} visual placeholders, "
                             f"found {counts.tolist()}")
        feats = visual.embeds.to(embeds.dtype).reshape(-1, embeds.shape[-1])
        return embeds.masked_scatter(mask.unsqueeze(-1), feats)

    def position_ids(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                     visual: VisualTokens) -> torch.Tensor:
        """Positions of a (left- or right-) padded batch: ``(B, L)``, pads at 0, text counting from 0."""
        return (attention_mask.long().cumsum(-1) - 1).clamp(min=0)

    @staticmethod
    def next_positions(positions: torch.Tensor, steps: int) -> torch.Tensor:
        """Positions of ``steps`` text tokens appended after a prefix whose positions are given.

        ``positions`` is ``(B, L)`` or ``(3, B, L)``; the result has the same leading shape
        with ``steps`` columns, continuing from each row's largest position.
        """
        last = positions.amax(dim=-1, keepdim=True)
        if positions.ndim == 3:
            last = last.amax(dim=0, keepdim=True)
        steps_ = torch.arange(1, steps + 1, device=positions.device)
        out = last + steps_
        return out.expand(positions.shape[0], -1, -1) if positions.ndim == 3 else out

    @abstractmethod
    def native_inputs(self, frames: torch.Tensor, input_ids: torch.Tensor) -> dict:
        """The HF-native keyword arguments (``pixel_values`` ...) for the same frames and prompt ids."""


class InternVLAdapter(BackboneAdapter):
    """InternVL (HF-native): each frame is one 448-px tile, pixel-shuffled to (S/28)^2 tokens.

    Prompt layout, as ``InternVLProcessor`` writes a video:
    ``Frame1: <img><IMG_CONTEXT>...</img>\\nFrame2: ...`` (256 context tokens per frame at 448).
    """

    kind = "internvl"
    default_mean, default_std = IMAGENET_MEAN, IMAGENET_STD

    def default_image_size(self) -> int:
        s = self.config.vision_config.image_size
        return int(s[0] if isinstance(s, (list, tuple)) else s)

    def token_stride(self) -> int:
        # Pixel shuffle with ratio r folds (1/r)^2 neighbouring patches into one token.
        return self.patch_size * round(1 / self.config.downsample_ratio)

    @property
    def vision_tower(self) -> nn.Module:
        return self.model.model.vision_tower

    @property
    def projector(self) -> nn.Module:
        return self.model.model.multi_modal_projector

    @property
    def _tokens(self) -> tuple[str, str, str]:
        tok = self.tokenizer
        context = tok.convert_ids_to_tokens(self.config.image_token_id)
        return (getattr(tok, "start_image_token", None) or "<img>",
                getattr(tok, "end_image_token", None) or "</img>", context)

    @property
    def video_placeholder(self) -> str:
        return getattr(self.tokenizer, "video_token", None) or "<video>"

    def chat_content(self, prompt: str, num_frames: int) -> list[dict]:
        return [{"type": "video"}, {"type": "text", "text": prompt}]

    def _frames_text(self, num_frames: int) -> str:
        start, end, context = self._tokens
        n = self.tokens_per_frame()
        return "\n".join(f"Frame{i + 1}: {start}{context * n}{end}" for i in range(num_frames))

    def expand_placeholders(self, text: str, num_frames: int) -> str | None:
        # The template writes the video as "<video>\n"; InternVLProcessor.replace_video_token
        # turns "<video>" into one "FrameK: <img>...</img>" line per frame.
        if text.count(self.video_placeholder) != 1:
            return None
        return text.replace(self.video_placeholder, self._frames_text(num_frames), 1)

    def frame_block(self, num_frames: int) -> str:
        return self._frames_text(num_frames) + "\n"

    @property
    def placeholder_ids(self) -> tuple[int, ...]:
        return (int(self.config.image_token_id),)

    def _encode(self, pixels: torch.Tensor) -> VisualTokens:
        B, Fn = pixels.shape[:2]
        out = self.model.model.get_image_features(pixel_values=pixels.flatten(0, 1), return_dict=True)
        feats = out.pooler_output  # (B*F, tokens, D)
        return VisualTokens(feats.reshape(B, Fn * feats.shape[1], feats.shape[2]), Fn)

    def native_inputs(self, frames: torch.Tensor, input_ids: torch.Tensor) -> dict:
        pixels = self.preprocess(frames).to(self.model.dtype)
        return {"input_ids": input_ids, "pixel_values": pixels.flatten(0, 1)}


class Qwen25VLAdapter(BackboneAdapter):
    """Qwen2.5-VL: frames as one video (default) or as separate images.

    Video: frames are fused in temporal pairs (``temporal_patch_size`` = 2; an odd count
    repeats the last frame, as the library does), so F frames at S px give
    ``ceil(F/2) * (S/28)^2`` tokens between ``<|vision_start|>`` and ``<|vision_end|>``.
    Images: each frame is its own image, ``F * (S/28)^2`` tokens, each frame in its own
    ``<|vision_start|>...<|vision_end|>``. Patches are flattened in the library's order.
    Positions are 3-D (M-RoPE) and computed by the model's ``get_rope_index`` from
    ``mm_token_type_ids`` (0 text, 1 image, 2 video): without them transformers silently
    falls back to 1-D positions.

    Args (besides the base class's):
        frames_as: ``"video"`` or ``"images"``.
        video_fps: nominal frame rate of the rendered clip; sets ``second_per_grid_ts``
            (= temporal_patch_size / fps, as the processor computes it).
    """

    kind = "qwen2_5_vl"
    default_mean, default_std = CLIP_MEAN, CLIP_STD

    def __init__(self, model, tokenizer, image_size=None, mean=None, std=None, frames_as: str = "video",
                 video_fps: float = 2.0):
        if frames_as not in ("video", "images"):
            raise ConfigError(None, "frames_as", f"expected 'video' or 'images', got '{frames_as}'")
        self.frames_as = frames_as
        self.video_fps = float(video_fps)
        super().__init__(model, tokenizer, image_size, mean, std)

    def default_image_size(self) -> int:
        return 448

    @property
    def merge_size(self) -> int:
        return int(self.config.vision_config.spatial_merge_size)

    @property
    def temporal_patch_size(self) -> int:
        return int(self.config.vision_config.temporal_patch_size)

    def token_stride(self) -> int:
        return self.patch_size * self.merge_size

    def num_visual_tokens(self, num_frames: int, image_size: int | None = None) -> int:
        if self.frames_as == "images":
            return num_frames * self.tokens_per_frame(image_size)
        groups = -(-num_frames // self.temporal_patch_size)
        return groups * self.tokens_per_frame(image_size)

    @property
    def vision_tower(self) -> nn.Module:
        return self.model.model.visual

    @property
    def projector(self) -> nn.Module:
        return self.model.model.visual.merger

    def _token(self, token_id: int) -> str:
        return self.tokenizer.convert_ids_to_tokens(int(token_id))

    def chat_content(self, prompt: str, num_frames: int) -> list[dict]:
        items = [{"type": "video"}] if self.frames_as == "video" else [{"type": "image"}] * num_frames
        return [*items, {"type": "text", "text": prompt}]

    def _pad_token(self) -> str:
        cfg = self.config
        return self._token(cfg.video_token_id if self.frames_as == "video" else cfg.image_token_id)

    def expand_placeholders(self, text: str, num_frames: int) -> str | None:
        # The template writes one pad token per video / image between vision start and end;
        # Qwen2_5_VLProcessor.replace_*_token repeats it grid_t * grid_h * grid_w / merge^2 times.
        pad = self._pad_token()
        items = 1 if self.frames_as == "video" else num_frames
        if text.count(pad) != items:
            return None
        per_item = self.num_visual_tokens(num_frames) if self.frames_as == "video" else self.tokens_per_frame()
        return text.replace(pad, pad * per_item)

    def frame_block(self, num_frames: int) -> str:
        cfg = self.config
        start, end = self._token(cfg.vision_start_token_id), self._token(cfg.vision_end_token_id)
        pad = self._pad_token()
        if self.frames_as == "video":
            return f"{start}{pad * self.num_visual_tokens(num_frames)}{end}"
        return "".join(f"{start}{pad * self.tokens_per_frame()}{end}" for _ in range(num_frames))

    @property
    def placeholder_ids(self) -> tuple[int, ...]:
        return (int(self.config.image_token_id), int(self.config.video_token_id))

    def mm_token_type_ids(self, input_ids: torch.Tensor) -> torch.Tensor:
        """``(B, L)`` int: 0 text, 1 image placeholder, 2 video placeholder."""
        types = torch.zeros_like(input_ids, dtype=torch.int)
        types[input_ids == self.config.image_token_id] = 1
        types[input_ids == self.config.video_token_id] = 2
        return types

    def patchify(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised frames -> ``(pixel_values, grid_thw)`` in the library's patch order.

        ``pixels`` is ``(B, F, 3, S, S)``. Video: one grid per sample, ``(B * T/2 * S/14 * S/14,
        3 * 2 * 14 * 14)``. Images: each frame repeated over the temporal patch (as the image
        processor does), one grid per frame.
        """
        B, Fn, C, H, W = pixels.shape
        tp, p, m = self.temporal_patch_size, self.patch_size, self.merge_size
        if self.frames_as == "images":
            clips = pixels.reshape(B * Fn, 1, C, H, W).expand(-1, tp, -1, -1, -1)
        else:
            if pad := -Fn % tp:
                pixels = torch.cat([pixels, pixels[:, -1:].expand(-1, pad, -1, -1, -1)], dim=1)
            clips = pixels
        n, T = clips.shape[:2]
        gt, gh, gw = T // tp, H // p, W // p
        x = clips.reshape(n, gt, tp, C, gh // m, m, p, gw // m, m, p)
        # -> (n, t, h-block, w-block, h-in-block, w-in-block, C, tp, p, p): merged neighbours adjacent.
        x = x.permute(0, 1, 4, 7, 5, 8, 3, 2, 6, 9)
        flat = x.reshape(n * gt * gh * gw, C * tp * p * p)
        grid = torch.tensor([[gt, gh, gw]] * n, dtype=torch.long, device=pixels.device)
        return flat, grid

    def _seconds_per_grid(self, batch: int, device) -> torch.Tensor | None:
        if self.frames_as == "images":
            return None
        return torch.full((batch,), self.temporal_patch_size / self.video_fps, device=device)

    def _encode(self, pixels: torch.Tensor) -> VisualTokens:
        B, Fn = pixels.shape[:2]
        flat, grid = self.patchify(pixels)
        if self.frames_as == "video":
            out = self.model.model.get_video_features(pixel_values_videos=flat, video_grid_thw=grid, return_dict=True)
        else:
            out = self.model.model.get_image_features(pixel_values=flat, image_grid_thw=grid, return_dict=True)
        feats = torch.cat(out.pooler_output, dim=0)  # merged tokens, grids in order
        return VisualTokens(feats.reshape(B, -1, feats.shape[-1]), Fn, grid, self._seconds_per_grid(B, pixels.device))

    def position_ids(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                     visual: VisualTokens) -> torch.Tensor:
        """``(3, B, L)`` M-RoPE positions (time, height, width) from the model's own ``get_rope_index``."""
        grids = {"video_grid_thw" if self.frames_as == "video" else "image_grid_thw": visual.grid_thw}
        positions, _ = self.model.model.get_rope_index(
            input_ids, mm_token_type_ids=self.mm_token_type_ids(input_ids), attention_mask=attention_mask,
            second_per_grid_ts=visual.second_per_grid_ts, **grids)
        return positions

    def native_inputs(self, frames: torch.Tensor, input_ids: torch.Tensor) -> dict:
        pixels = self.preprocess(frames).to(self.model.dtype)
        flat, grid = self.patchify(pixels)
        out = {"input_ids": input_ids, "mm_token_type_ids": self.mm_token_type_ids(input_ids)}
        if self.frames_as == "video":
            out.update(pixel_values_videos=flat, video_grid_thw=grid,
                       second_per_grid_ts=self._seconds_per_grid(frames.shape[0], frames.device))
        else:
            out.update(pixel_values=flat, image_grid_thw=grid)
        return out


ADAPTERS: dict[str, type[BackboneAdapter]] = {"internvl": InternVLAdapter, "qwen2_5_vl": Qwen25VLAdapter}


def backbone_kind(config) -> str:
    """``"internvl"`` or ``"qwen2_5_vl"`` from an HF config's ``model_type``."""
    kind = getattr(config, "model_type", None)
    if kind not in ADAPTERS:
        raise ConfigError(None, "backbone", f"model_type '{kind}' is not supported; "
                          f"supported: {sorted(ADAPTERS)} (InternVL *-hf and Qwen2.5-VL checkpoints)")
    return kind


def make_adapter(model: nn.Module, tokenizer, image_size: int | None = None, source=None, **options) -> BackboneAdapter:
    """The adapter for ``model``'s family; mean/std come from ``source``'s preprocessor config if it has one."""
    cls = ADAPTERS[backbone_kind(model.config)]
    mean, std = read_image_stats(source, cls.default_mean, cls.default_std)
    return cls(model, tokenizer, image_size=image_size, mean=mean, std=std, **options)


_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def resolve_dtype(dtype: str | torch.dtype | None) -> torch.dtype | str:
    """``"float32" | "bfloat16" | "float16" | "auto" | torch.dtype`` -> what ``from_pretrained`` takes."""
    if dtype is None or isinstance(dtype, torch.dtype) or dtype == "auto":
        return dtype or torch.float32
    if dtype not in _DTYPES:
        raise ConfigError(None, "dtype", f"expected one of {sorted(_DTYPES)} or 'auto', got '{dtype}'")
    return _DTYPES[dtype]


def load_backbone(source: str | os.PathLike, dtype: str | torch.dtype | None = "float32",
                  device: str | torch.device | None = None, trust_remote_code: bool = False,
                  attn_implementation: str | None = None):
    """``(model, tokenizer)`` from a local directory or hub id.

    The weights go straight to ``device`` in ``dtype`` (``device_map``: each shard is read and
    placed there; an 8B bf16 model is not first materialised in host memory, once per process).
    Uses the ordinary ``AutoModelForImageTextToText`` / ``AutoTokenizer`` path, so
    ``HF_HUB_OFFLINE=1`` and the HF cache behave as usual. ``trust_remote_code`` stays off
    unless asked for: the supported families are native ``transformers`` classes.
    """
    from transformers import AutoConfig, AutoModelForImageTextToText, AutoTokenizer

    source = str(source)
    config = AutoConfig.from_pretrained(source, trust_remote_code=trust_remote_code)
    backbone_kind(config)
    kwargs = {"dtype": resolve_dtype(dtype), "trust_remote_code": trust_remote_code}
    if attn_implementation:
        kwargs["attn_implementation"] = attn_implementation
    if device is not None:
        kwargs["device_map"] = {"": str(device)}
    model = AutoModelForImageTextToText.from_pretrained(source, **kwargs)
    tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=trust_remote_code)
    return model, tokenizer


def default_device(device: str | torch.device | None = None) -> str:
    """``device``, or CUDA when available, else CPU."""
    return str(device) if device is not None else ("cuda" if torch.cuda.is_available() else "cpu")


__all__ = ["ADAPTERS", "BackboneAdapter", "InternVLAdapter", "Qwen25VLAdapter", "VisualTokens", "backbone_kind",
           "default_device", "load_backbone", "make_adapter", "read_image_stats", "resolve_dtype"]
