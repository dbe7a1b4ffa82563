"""SkeletonLLM: Render -> Reason -> Respond.

    skeletons (SkeletonBatch)
      -> renderer (DrAction, differentiable)            frames (B, F, 3, H, W) in [0, 1]
      -> adapter: resize + normalise, vision tower, projector  -> visual tokens (B, N, D)
      -> prompt: chat template around [frame placeholders + question], placeholders <- visual tokens
      -> language model (+ LoRA)                         -> logits / loss / generated text

Everything between the skeleton and the loss is differentiable, so the LLM's loss trains
the renderer. Read top to bottom: configuration, construction, the three stages, the text
side (chat formatting and batching), then the tasks: ``forward`` (loss), ``generate``,
``score_candidates``; parameter groups for the training curriculum; checkpoints.
"""
from __future__ import annotations

import contextlib
import os
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Iterable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from ..skeleton.batch import SkeletonBatch
from . import prompts as P
from .backbones import BackboneAdapter, VisualTokens, default_device, load_backbone, make_adapter, resolve_dtype
from .checkpoint import load_checkpoint, save_checkpoint
from .lora import LoraSettings, add_lora, is_lora_parameter, load_lora
from .precision import keep_trainable_fp32
from .scoring import score_answers

#: Parameter groups, in the order the curriculum talks about them (SPEC §5).
GROUPS = ("renderer", "vision", "projector", "language", "lora")

TINY_PREFIX = "tiny:"


@dataclass
class SkeletonLLMConfig:
    """Everything needed to rebuild a SkeletonLLM (saved as ``config.json`` in checkpoints).

    Attributes:
        backbone: local directory or hub id of an InternVL (``*-hf``) or Qwen2.5-VL checkpoint,
            or ``"tiny:internvl"`` / ``"tiny:qwen2_5_vl"`` for a tiny random model built here.
        renderer: ``"draction"`` (learnable), or a fixed baseline: ``"velocity"``,
            ``"projection"``, ``"jtm"``.
        renderer_options: keyword arguments of the renderer (e.g. ``DrActionConfig`` fields).
        image_size: frame side the vision tower sees; ``None`` = the backbone's default
            (InternVL: its configured tile size, 448; Qwen2.5-VL: 448). Rendered frames are
            resized to it differentiably.
        num_frames: frames per clip the model is trained with; inference and evaluation
            use it unless told otherwise (the paper: 12).
        frames_as: Qwen2.5-VL only: ``"video"`` (frames fused in temporal pairs) or ``"images"``.
        video_fps: Qwen2.5-VL video only: nominal frame rate of the rendered clip.
        lora: add LoRA to the language model; ``lora_r`` / ``lora_alpha`` / ``lora_dropout``
            are its settings (paper: 32 / 64 / 0.05).
        dtype: backbone weights: ``"float32"``, ``"bfloat16"``, ``"float16"`` or ``"auto"``.
            The renderer always runs in float32.
        device: ``None`` = CUDA when available, else CPU.
        trust_remote_code: passed to ``from_pretrained``; off unless asked for.
        attn_implementation: e.g. ``"sdpa"``, ``"flash_attention_2"``; ``None`` = library default.
        gradient_checkpointing: trade compute for memory in the backbone.
        system_prompt: optional system message for the chat template.
        tiny_options: keyword arguments of :func:`~skeletonllm.mllm.tiny.build_tiny_backbone`
            for ``tiny:`` backbones (``corpus``, ``hidden``, ``seed`` ...).
        random_init: build ``backbone`` (a shipped true-shape config, e.g.
            ``OpenGVLab/InternVL3-1B-hf``; see :mod:`skeletonllm.mllm.presets`) with random
            weights and a tokenizer with the real special tokens, instead of downloading it
            (tests, benchmarks, memory planning). ``tiny_options["seed"]`` seeds the weights;
            ``tiny_options["tiny"] = True`` keeps the released vocabulary, ids, template and
            image geometry but 2 layers x 64 wide (prompt-layout tests).
    """

    backbone: str = "OpenGVLab/InternVL3-8B-hf"
    renderer: str = "draction"
    renderer_options: dict[str, Any] = field(default_factory=dict)
    image_size: int | None = None
    num_frames: int = 12
    frames_as: str = "video"
    video_fps: float = 2.0
    lora: bool = True
    lora_r: int = 32
    lora_alpha: int = 64
    lora_dropout: float = 0.05
    dtype: str = "float32"
    device: str | None = None
    trust_remote_code: bool = False
    attn_implementation: str | None = None
    gradient_checkpointing: bool = False
    system_prompt: str | None = None
    tiny_options: dict[str, Any] = field(default_factory=dict)
    random_init: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str | os.PathLike | None = None) -> "SkeletonLLMConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(source, unknown[0], f"unknown SkeletonLLM option; known: {sorted(known)}")
        return cls(**data)


@dataclass
class SkeletonLLMOutput:
    """What :meth:`SkeletonLLM.forward` returns.

    Attributes:
        loss: mean cross-entropy over target tokens (prompt and padding excluded); None
            without targets.
        logits: ``(B, K, V)`` next-token logits of the last K positions of the batch, where
            ``logits_start = L - K`` (the computation skips the long visual prefix, whose
            logits no loss needs): ``logits[:, i]`` predicts token ``logits_start + i + 1``.
        labels: ``(B, L)`` token targets, -100 where no loss is taken.
        frames: ``(B, F, 3, H, W)`` the rendered frames (None when visual tokens were passed in).
        hidden_states: ``(B, L, D)`` output of the last decoder block before the final norm,
            when asked for (t-SNE of the features).
        attention_mask: ``(B, L)``.
    """

    loss: torch.Tensor | None
    logits: torch.Tensor
    logits_start: int
    labels: torch.Tensor | None
    frames: torch.Tensor | None
    attention_mask: torch.Tensor
    hidden_states: torch.Tensor | None = None


def _build_renderer(name: str, options: dict[str, Any]) -> nn.Module:
    """DrAction (``options`` are ``DrActionConfig`` fields) or a fixed baseline, by name."""
    from ..render.fixed import build_renderer
    return build_renderer(name, **options)


class SkeletonLLM(nn.Module):
    """A renderer in front of a vision-language model.

    Args:
        config: the configuration.
        renderer: an already built renderer module (default: built from ``config``).
        backbone: an already loaded ``(model, tokenizer)`` (default: loaded from ``config.backbone``).
        lora_dir: load this saved LoRA adapter instead of adding a fresh one (checkpoints).
    """

    config_class = SkeletonLLMConfig

    def __init__(self, config: SkeletonLLMConfig, renderer: nn.Module | None = None,
                 backbone: tuple[nn.Module, Any] | None = None, lora_dir: str | os.PathLike | None = None):
        super().__init__()
        self.config = config
        self.renderer = renderer if renderer is not None else _build_renderer(config.renderer, config.renderer_options)
        model, tokenizer = backbone if backbone is not None else self._load_backbone(config)
        self.backbone = model
        self.tokenizer = tokenizer
        source = None if config.backbone.startswith(TINY_PREFIX) or config.random_init else config.backbone
        options = {"frames_as": config.frames_as, "video_fps": config.video_fps} \
            if model.config.model_type == "qwen2_5_vl" else {}
        self.adapter: BackboneAdapter = make_adapter(model, tokenizer, config.image_size, source=source, **options)
        self.lora_config = None
        if lora_dir is not None:
            self.lora_config = load_lora(model, lora_dir)
        elif config.lora:
            settings = LoraSettings(r=config.lora_r, alpha=config.lora_alpha, dropout=config.lora_dropout)
            self.lora_config = add_lora(model, settings, self.adapter.module_name(self.adapter.language_model))
        if config.gradient_checkpointing:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        self._turn_end = self._find_turn_end()
        self._stop_ids = self._find_stop_ids()
        #: groups that have been trainable at some point: checkpoints save their weights.
        self.trained_groups: set[str] = set()
        #: the classes it was trained on (:func:`~.checkpoint.class_record`), saved with it; None if unknown.
        self.classes: dict | None = None
        self.set_trainable(("renderer", "projector", "lora") if self.lora_config else ("renderer", "projector"))
        self.to(default_device(config.device))   # the renderer; the backbone is there already

    @staticmethod
    def _load_backbone(config: SkeletonLLMConfig):
        if config.backbone.startswith(TINY_PREFIX):
            from .tiny import build_tiny_backbone
            options = {"image_size": config.image_size or 448, **config.tiny_options}
            model, tokenizer = build_tiny_backbone(config.backbone[len(TINY_PREFIX):], **options)
            dtype = resolve_dtype(config.dtype)
            return (model if dtype == "auto" else model.to(dtype)), tokenizer
        if config.random_init:
            from .presets import build_backbone
            dtype = resolve_dtype(config.dtype)
            return build_backbone(config.backbone, dtype=torch.float32 if dtype == "auto" else dtype,
                                  device=default_device(config.device), seed=int(config.tiny_options.get("seed", 0)),
                                  corpus=config.tiny_options.get("corpus", ()),
                                  tiny=bool(config.tiny_options.get("tiny", False)))
        return load_backbone(config.backbone, dtype=config.dtype, device=default_device(config.device),
                             trust_remote_code=config.trust_remote_code, attn_implementation=config.attn_implementation)

    @property
    def device(self) -> torch.device:
        return self.backbone.get_input_embeddings().weight.device

    # -- the three stages ------------------------------------------------------------------
    def render(self, skeletons: SkeletonBatch) -> torch.Tensor:
        """Skeletons -> frames ``(B, F, 3, H, W)`` in [0, 1] (differentiable), always in float32.

        Mixed precision (accelerate's ``bf16``) runs the forward under autocast, which would
        run the renderer's projections, blending and compositing in bf16 (an 8-bit mantissa:
        sub-pixel positions and long transmittance products lose their precision). Autocast
        is switched off around the renderer; the frames enter the backbone as float32 and
        are cast there. DeepSpeed's bf16 mode stores every weight in bf16, the renderer's too:
        then the renderer runs on float32 copies of its weights (gradients still reach the
        stored ones), since it cannot be kept out of DeepSpeed's cast.
        """
        device = next(self.renderer.parameters(), self.backbone.get_input_embeddings().weight).device
        with torch.autocast(device_type=device.type, enabled=False):
            state = dict(self.renderer.named_parameters())
            state.update(self.renderer.named_buffers())
            if all(not t.is_floating_point() or t.dtype == torch.float32 for t in state.values()):
                return self.renderer(skeletons.to(device))
            state = {k: t.float() if t.is_floating_point() else t for k, t in state.items()}
            return torch.func.functional_call(self.renderer, state, (skeletons.to(device),))

    def encode_frames(self, frames: torch.Tensor) -> VisualTokens:
        """Frames -> projected visual tokens (resize, normalise, vision tower, projector)."""
        return self.adapter.encode(frames.to(self.device))

    def language_forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, visual: VisualTokens,
                         logits_to_keep: int = 0, output_hidden_states: bool = False, use_cache: bool = False):
        """The language model on a prompt batch whose placeholders take ``visual``'s tokens.

        Returns the HF output (``logits``, ``past_key_values``) plus ``position_ids`` (the
        positions used) and ``last_block`` (``(B, L, D)`` output of the last decoder block,
        before the final norm, when ``output_hidden_states``; HF's own ``hidden_states[-1]``
        is taken after the norm).
        """
        embeds = self.adapter.merge(input_ids, visual)
        positions = self.adapter.position_ids(input_ids, attention_mask, visual)
        captured = {}
        hook = None
        if output_hidden_states:
            def keep(module, args, output):
                captured["h"] = output[0] if isinstance(output, tuple) else output
            hook = self.adapter.language_model.layers[-1].register_forward_hook(keep)
        try:
            out = self.backbone(inputs_embeds=embeds, attention_mask=attention_mask, position_ids=positions,
                                logits_to_keep=logits_to_keep, use_cache=use_cache)
        finally:
            if hook is not None:
                hook.remove()
        out.position_ids = positions
        out.last_block = captured.get("h")
        return out

    # -- text: chat formatting and batching --------------------------------------------------
    def _chat(self, messages: list[dict], add_generation_prompt: bool) -> str:
        """The tokenizer's chat template (transformers' ``apply_chat_template``); without one,
        the released template of the backbone's family (:mod:`skeletonllm.mllm.templates`)."""
        if self.config.system_prompt:
            messages = [{"role": "system", "content": self.config.system_prompt}, *messages]
        if not getattr(self.tokenizer, "chat_template", None):
            from jinja2 import Template
            from .templates import family_chat_template
            return Template(family_chat_template(self.adapter.kind)).render(
                messages=messages, add_generation_prompt=add_generation_prompt)
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)

    def _find_turn_end(self) -> str:
        """What the template writes after an assistant answer (``<|im_end|>`` for ChatML)."""
        marker = "\u2063ANSWER\u2063"
        text = self._chat([{"role": "user", "content": "q"}, {"role": "assistant", "content": marker}], False)
        end = text.split(marker, 1)[1].rstrip() if marker in text else ""
        return end or (self.tokenizer.eos_token or "")

    def _find_stop_ids(self) -> set[int]:
        ids = set()
        for tok in (self._turn_end, self.tokenizer.eos_token):
            if tok:
                tid = self.tokenizer.convert_tokens_to_ids(tok)
                if isinstance(tid, int) and tid != self.tokenizer.unk_token_id:
                    ids.add(tid)
        eos = self.backbone.generation_config.eos_token_id
        ids.update([eos] if isinstance(eos, int) else (eos or []))
        return ids

    def format_prompt(self, prompt: str, num_frames: int) -> str:
        """The full text before the answer, as the released processor writes it: the chat
        template renders [visual item(s), prompt], then the placeholders are expanded.

        A template that only handles string content (plain ChatML, as in checkpoints written
        before the tiny tokenizers carried the real templates) gets the expanded frames
        followed by the prompt as one string instead.
        """
        content = self.adapter.chat_content(prompt, num_frames)
        text = self._chat([{"role": "user", "content": content}], add_generation_prompt=True)
        expanded = self.adapter.expand_placeholders(text, num_frames) if prompt in text else None
        if expanded is not None:
            return expanded
        user = self.adapter.frame_block(num_frames) + prompt
        text = self._chat([{"role": "user", "content": user}], add_generation_prompt=True)
        if user not in text:
            raise ValueError("the tokenizer's chat template drops the message text; set a usable "
                             "tokenizer.chat_template (see skeletonllm.mllm.templates)")
        return text

    def format_target(self, target: str) -> str:
        """The answer as trained on: the target, then the template's end-of-turn token."""
        return target + self._turn_end

    def _ids(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    @property
    def _pad_id(self) -> int:
        pad = self.tokenizer.pad_token_id
        return pad if pad is not None else next(iter(self._stop_ids))

    def _pad(self, seqs: list[list[int]], side: str, value: int) -> torch.Tensor:
        width = max(len(s) for s in seqs)
        rows = [([value] * (width - len(s)) + s) if side == "left" else (s + [value] * (width - len(s)))
                for s in seqs]
        return torch.tensor(rows, dtype=torch.long, device=self.device)

    def _prompt_batch(self, prompts: Sequence[str], num_frames: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Left-padded prompt ids and mask (generation appends on the right)."""
        seqs = [self._ids(self.format_prompt(p, num_frames)) for p in prompts]
        ids = self._pad(seqs, "left", self._pad_id)
        mask = self._pad([[1] * len(s) for s in seqs], "left", 0)
        return ids, mask

    def _training_batch(self, prompts: Sequence[str], targets: Sequence[str], num_frames: int):
        """Right-padded prompt+target ids, mask, labels (-100 on prompt and padding), shortest prompt."""
        prompt_ids = [self._ids(self.format_prompt(p, num_frames)) for p in prompts]
        target_ids = [self._ids(self.format_target(t)) for t in targets]
        seqs = [p + t for p, t in zip(prompt_ids, target_ids)]
        labels = [[-100] * len(p) + t for p, t in zip(prompt_ids, target_ids)]
        ids = self._pad(seqs, "right", self._pad_id)
        mask = self._pad([[1] * len(s) for s in seqs], "right", 0)
        return ids, mask, self._pad(labels, "right", -100), min(len(p) for p in prompt_ids)

    @staticmethod
    def _per_sample(prompts: str | Sequence[str], batch: int, what: str) -> list[str]:
        if isinstance(prompts, str):
            return [prompts] * batch
        prompts = list(prompts)
        if len(prompts) != batch:
            raise ValueError(f"{len(prompts)} {what} for a batch of {batch} skeleton sequences")
        return prompts

    # -- tasks -----------------------------------------------------------------------------
    def forward(self, skeletons: SkeletonBatch | None, prompts: str | Sequence[str],
                targets: Sequence[str] | None = None, output_hidden_states: bool = False,
                frames: torch.Tensor | None = None, visual: VisualTokens | None = None) -> SkeletonLLMOutput:
        """Teacher-forced pass; with ``targets`` the loss is the mean over target tokens.

        Args:
            skeletons: B sequences (unused when ``frames`` or ``visual`` is given).
            prompts: one prompt for all, or B prompts (from :mod:`skeletonllm.mllm.prompts`).
            targets: B answers (``mqa_target(label)``, ``"YES"``, a rationale ...).
            output_hidden_states: also return the last decoder block's output.
            frames: pre-rendered ``(B, F, 3, H, W)`` frames in [0, 1], bypassing the renderer.
            visual: pre-encoded visual tokens (:meth:`encode_frames`), bypassing renderer and
                vision encoder (the benchmark times the stages this way).
        """
        if visual is None:
            frames = self.render(skeletons) if frames is None else frames
            visual = self.encode_frames(frames)
        B, num_frames = visual.embeds.shape[0], visual.num_frames
        prompts = self._per_sample(prompts, B, "prompts")
        if targets is None:
            ids, mask = self._prompt_batch(prompts, num_frames)
            labels, keep_from = None, ids.shape[1] - 1
        else:
            ids, mask, labels, shortest = self._training_batch(prompts, self._per_sample(targets, B, "targets"),
                                                               num_frames)
            keep_from = shortest - 1  # the first position whose logits predict a target token
        out = self.language_forward(ids, mask, visual, logits_to_keep=ids.shape[1] - keep_from,
                                    output_hidden_states=output_hidden_states)
        loss = None
        if labels is not None:
            shifted = labels[:, keep_from + 1:]
            loss = F.cross_entropy(out.logits[:, :-1].float().flatten(0, 1), shifted.flatten(), ignore_index=-100)
        return SkeletonLLMOutput(loss=loss, logits=out.logits, logits_start=keep_from, labels=labels,
                                 frames=frames, attention_mask=mask, hidden_states=out.last_block)

    @contextlib.contextmanager
    def _inference(self):
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                yield
        finally:
            self.train(was_training)

    def generate(self, skeletons: SkeletonBatch, prompts: str | Sequence[str], max_new_tokens: int = 64,
                 greedy: bool = True, temperature: float = 1.0, frames: torch.Tensor | None = None,
                 generator: torch.Generator | None = None) -> list[str]:
        """Answers to ``prompts`` about ``skeletons`` (greedy by default, as the paper evaluates).

        The vision encoder and the prompt run once; each new token reuses the KV cache.
        Decoding stops at the end-of-turn / eos token. Returns the decoded answers without
        special tokens.
        """
        with self._inference():
            frames = self.render(skeletons) if frames is None else frames
            B, num_frames = frames.shape[:2]
            ids, mask = self._prompt_batch(self._per_sample(prompts, B, "prompts"), num_frames)
            out = self.language_forward(ids, mask, self.encode_frames(frames), logits_to_keep=1, use_cache=True)
            cache, positions = out.past_key_values, out.position_ids
            stop = torch.tensor(sorted(self._stop_ids), device=self.device)
            done = torch.zeros(B, dtype=torch.bool, device=self.device)
            generated = []
            logits = out.logits[:, -1]
            for step in range(max_new_tokens):
                if greedy:
                    token = logits.argmax(dim=-1)
                else:
                    probs = torch.softmax(logits.float() / max(temperature, 1e-5), dim=-1)
                    token = torch.multinomial(probs, 1, generator=generator).squeeze(1)
                token = torch.where(done, torch.full_like(token, self._pad_id), token)
                generated.append(token)
                done |= torch.isin(token, stop)
                if bool(done.all()) or step == max_new_tokens - 1:
                    break
                mask = torch.cat([mask, mask.new_ones(B, 1)], dim=1)
                step_pos = self.adapter.next_positions(positions, step + 1)[..., -1:]
                out = self.backbone(input_ids=token.unsqueeze(1), attention_mask=mask, position_ids=step_pos,
                                    past_key_values=cache, use_cache=True)
                cache, logits = out.past_key_values, out.logits[:, -1]
            tokens = torch.stack(generated, dim=1).tolist()
        texts = []
        for row in tokens:
            cut = next((i for i, t in enumerate(row) if t in self._stop_ids), len(row))
            texts.append(self.tokenizer.decode(row[:cut], skip_special_tokens=True).strip())
        return texts

    def score_candidates(self, skeletons: SkeletonBatch, prompt: str | Sequence[str], candidates: Sequence[str],
                         target_fn=P.mqa_target, normalize: str = "sum", chunk_size: int = 16,
                         frames: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, C)`` log-likelihoods of answering ``target_fn(c)`` (default ``"Label: <c>"``).

        The answer is scored with its end-of-turn token, exactly as trained, so a candidate
        that is a prefix of another (``"pick up"`` / ``"pick up with one hand"``) is not
        favoured. The frames, vision encoder and prompt run once; the prompt's KV cache is
        shared by all candidates without being copied (:mod:`skeletonllm.mllm.scoring`:
        ``chunk_size`` candidates are packed into one pass after it).
        ``normalize="mean"`` divides by the answer's token count.
        """
        if normalize not in ("sum", "mean"):
            raise ValueError(f"normalize must be 'sum' or 'mean', got '{normalize}'")
        candidates = list(candidates)
        if not candidates:
            raise ValueError("score_candidates needs at least one candidate")
        answers = [self._ids(self.format_target(target_fn(c))) for c in candidates]
        with self._inference():
            frames = self.render(skeletons) if frames is None else frames
            B, num_frames = frames.shape[:2]
            ids, mask = self._prompt_batch(self._per_sample(prompt, B, "prompts"), num_frames)
            out = self.language_forward(ids, mask, self.encode_frames(frames), logits_to_keep=1, use_cache=True)
            first = torch.log_softmax(out.logits[:, -1].float(), dim=-1)  # (B, V): the answer's first token
            scores = score_answers(self.backbone, out.past_key_values, mask, first, answers,
                                   lambda steps: self.adapter.next_positions(out.position_ids, steps), chunk_size)
            if normalize == "mean":
                scores = scores / torch.tensor([len(a) for a in answers], device=scores.device, dtype=scores.dtype)
        return scores

    # -- parameter groups (the curriculum trains different ones per stage) -------------------
    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """Every parameter in exactly one of :data:`GROUPS`.

        ``renderer``: the renderer; ``projector``: the vision-to-language projector;
        ``vision``: the rest of the vision tower; ``lora``: the LoRA matrices; ``language``:
        everything else of the backbone (embeddings, decoder, LM head).
        """
        groups: dict[str, list[nn.Parameter]] = {g: [] for g in GROUPS}
        seen: set[int] = set()

        def take(group: str, params: Iterable[tuple[str, nn.Parameter]]):
            for name, p in params:
                if id(p) not in seen:
                    seen.add(id(p))
                    groups[group].append(p)

        take("renderer", self.renderer.named_parameters())
        take("projector", self.adapter.projector.named_parameters())
        take("vision", self.adapter.vision_tower.named_parameters())
        take("lora", ((n, p) for n, p in self.backbone.named_parameters() if is_lora_parameter(n)))
        take("language", self.backbone.named_parameters())
        return groups

    def set_trainable(self, groups: Iterable[str]) -> None:
        """Unfreeze exactly ``groups`` (names from :data:`GROUPS`); freeze everything else.

        Trainable parameters are kept in float32 whatever the backbone's dtype
        (:mod:`skeletonllm.mllm.precision`): in bf16 most updates at the paper's learning
        rate would round away.
        """
        groups = set(groups)
        unknown = groups - set(GROUPS)
        if unknown:
            raise ValueError(f"unknown parameter groups {sorted(unknown)}; expected some of {list(GROUPS)}")
        if "lora" in groups and self.lora_config is None:
            raise ValueError("'lora' cannot be trained: this model has no LoRA (config.lora is False)")
        for name, params in self.parameter_groups().items():
            for p in params:
                p.requires_grad_(name in groups)
        keep_trainable_fp32(self)
        self.trained_groups |= groups

    def trainable_groups(self) -> list[str]:
        """The groups whose parameters currently require gradients."""
        return [g for g, ps in self.parameter_groups().items() if ps and all(p.requires_grad for p in ps)]

    # -- checkpoints -----------------------------------------------------------------------
    def save_pretrained(self, directory: str | os.PathLike, embed_base: bool | None = None) -> None:
        """Write a checkpoint directory atomically; see :mod:`skeletonllm.mllm.checkpoint`."""
        save_checkpoint(self, directory, embed_base=embed_base)

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike, device: str | None = None,
                        dtype: str | None = None) -> "SkeletonLLM":
        """Rebuild a model saved with :meth:`save_pretrained`."""
        return load_checkpoint(cls, directory, device=device, dtype=dtype)


__all__ = ["GROUPS", "SkeletonLLM", "SkeletonLLMConfig", "SkeletonLLMOutput"]
