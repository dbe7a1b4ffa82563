"""How big a run is before it runs: parameters, visual tokens and memory per device.

``skeletonllm plan CONFIG`` builds the configured SkeletonLLM on the meta device (accelerate's
``init_empty_weights``: the module tree of an 8B model, no weight allocated), counts its
parameters (backbone, LoRA, renderer) and the trainable ones (LoRA + renderer + projector
by default), computes the visual tokens per clip with the backbone's own adapter, and
estimates the memory of one training step per device for fp32 / bf16 weights under DDP,
DeepSpeed ZeRO-2 and FSDP.

The memory model (bytes per device, N processes, B clips per device):

* weights: every parameter at its dtype; the renderer, the projector, LoRA and any other
  group the run trains are float32 whatever the backbone's dtype (``mllm.precision``: bf16
  updates at the paper's learning rate would round away). FSDP shards them
  (/N) but gathers one decoder layer at a time; ZeRO-2 keeps them whole and, in bf16, casts
  *all* of them to bf16 with an fp32 master copy of the trainable ones (sharded);
* gradients of the trainable parameters (fp32): DDP keeps them plus its communication
  buckets (x2); ZeRO-2 and FSDP shard them;
* AdamW's two moments (fp32): whole under DDP, sharded under ZeRO-2 and FSDP;
* activations, from the architecture: the tensors autograd keeps per token and layer when
  the backbone's weights are frozen (a frozen linear layer keeps no input; LayerNorm / RMSNorm,
  attention and the MLP activations do; each LoRA-wrapped layer keeps its dropped-out input,
  the dropout mask and its rank-r intermediate). With gradient checkpointing a layer keeps
  only its input and is recomputed during the backward, so the peak is the checkpoints plus
  one layer's full set and its gradients. The renderer's share scales a measured figure
  (benchmarks/render.py: 84 MB for 12 frames at 448 px).

Checked against a measured peak on CPU for InternVL3-1B in fp32 on one process
(benchmarks/real_size.py); the sharded and bf16 columns follow the same model, unmeasured.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field


#: benchmarks/render.py: DrAction fwd+bwd peak extra memory for 12 frames of one NTU body at 448 px.
RENDER_BYTES_PER_PIXEL_FRAME = 84e6 / (12 * 448 * 448)
STRATEGIES = ("ddp", "zero2", "fsdp")
PRECISIONS = ("fp32", "bf16")
_GB = 1024 ** 3


@dataclass
class PlanRequest:
    """What to plan for.

    Attributes:
        model: ``SkeletonLLMConfig`` fields (``backbone`` a shipped true-shape name, hub id,
            local directory or ``tiny:*``).
        num_frames, image_size, batch: frames per clip, frame side, clips per device.
        processes: data-parallel processes (GPUs).
        trains: parameter groups that get gradients (default: stage 3, renderer + projector + LoRA).
        text_tokens: prompt and answer tokens besides the visual ones.
        gradient_checkpointing: None = the model config's setting.
    """

    model: dict
    num_frames: int = 12
    image_size: int | None = None
    batch: int = 2
    processes: int = 1
    trains: tuple[str, ...] = ("renderer", "projector", "lora")
    text_tokens: int = 300
    gradient_checkpointing: bool | None = None


@dataclass
class Plan:
    backbone: str
    backbone_parameters: int   # the backbone alone (what a released checkpoint holds)
    published: tuple[int, str] | None  # (published count, source) for shipped true-shape configs
    parameters: int
    trainable: int
    by_group: dict[str, int]
    visual_tokens: int
    sequence: int
    vision_tokens: int
    gradient_checkpointing: bool
    memory: dict[str, dict[str, float]] = field(default_factory=dict)  # precision -> strategy -> bytes
    parts: dict[str, dict[str, float]] = field(default_factory=dict)   # precision -> part -> bytes (1 process)


@dataclass
class _Shape:
    """The architecture numbers the activation model needs."""

    vision_layers: int
    vision_dim: int
    vision_ffn: int
    vision_kind: str           # "internvl" (LayerNorm, GELU) or "qwen2_5_vl" (RMSNorm, SwiGLU)
    vision_tokens: int         # per clip, inside the vision tower
    merged_tokens: int         # per clip, after pixel shuffle / patch merging (= visual tokens)
    merge_in: int              # projector input width
    text_layers: int
    text_dim: int
    text_ffn: int
    largest_layer_params: int  # FSDP gathers this many at once


def _build_on_meta(model_cfg):
    """The SkeletonLLM parts on the meta device: (backbone, adapter, renderer, lora params)."""
    from accelerate import init_empty_weights

    from ..mllm.backbones import make_adapter
    from ..mllm.lora import LoraSettings, add_lora, is_lora_parameter
    from ..mllm.model import TINY_PREFIX, _build_renderer

    name = model_cfg.backbone
    if name.startswith(TINY_PREFIX):
        from ..mllm.tiny import build_tiny_backbone
        with init_empty_weights():
            backbone, _ = build_tiny_backbone(name[len(TINY_PREFIX):], image_size=model_cfg.image_size or 448,
                                              **model_cfg.tiny_options)
    else:
        from ..mllm.presets import build_backbone, find_preset
        if find_preset(name) is not None:
            backbone, _ = build_backbone(name, device="meta", tokenizer=False)
        else:  # a local directory or a hub id with a config.json reachable offline
            from transformers import AutoConfig, AutoModelForImageTextToText

            from ..errors import ConfigError
            from ..mllm.presets import list_presets
            try:
                config = AutoConfig.from_pretrained(name, trust_remote_code=model_cfg.trust_remote_code)
            except (OSError, ValueError) as exc:
                raise ConfigError(None, "model.backbone", f"'{name}' is not a shipped true-shape config "
                                  f"({', '.join(list_presets())}) and its config.json cannot be read: "
                                  f"{str(exc).splitlines()[0]}") from None
            with init_empty_weights():
                backbone = AutoModelForImageTextToText.from_config(config)
    options = {"frames_as": model_cfg.frames_as} if backbone.config.model_type == "qwen2_5_vl" else {}
    adapter = make_adapter(backbone, None, model_cfg.image_size, **options)
    if model_cfg.lora:
        settings = LoraSettings(r=model_cfg.lora_r, alpha=model_cfg.lora_alpha, dropout=model_cfg.lora_dropout)
        with init_empty_weights():
            add_lora(backbone, settings, adapter.module_name(adapter.language_model))
    renderer = _build_renderer(model_cfg.renderer, model_cfg.renderer_options)
    lora = [p for n, p in backbone.named_parameters() if is_lora_parameter(n)]
    return backbone, adapter, renderer, lora


def _shape(backbone, adapter, num_frames: int) -> _Shape:
    cfg = backbone.config
    v, t = cfg.vision_config, cfg.text_config
    side = adapter.image_size // adapter.patch_size
    layers = adapter.language_model.layers
    largest = max(sum(p.numel() for p in layer.parameters()) for layer in layers)
    if adapter.kind == "internvl":
        vision_tokens = num_frames * (side * side + 1)  # + the CLS token
        return _Shape(v.num_hidden_layers, v.hidden_size, v.intermediate_size, "internvl", vision_tokens,
                      adapter.num_visual_tokens(num_frames), v.hidden_size * round(1 / cfg.downsample_ratio) ** 2,
                      t.num_hidden_layers, t.hidden_size, t.intermediate_size, largest)
    groups = num_frames if adapter.frames_as == "images" else math.ceil(num_frames / adapter.temporal_patch_size)
    return _Shape(v.depth, v.hidden_size, v.intermediate_size, "qwen2_5_vl", groups * side * side,
                  adapter.num_visual_tokens(num_frames), v.hidden_size * adapter.merge_size ** 2,
                  t.num_hidden_layers, t.hidden_size, t.intermediate_size, largest)


def _vision_layer_elems(s: _Shape) -> int:
    """Elements autograd keeps per token in one vision block with frozen weights."""
    d, f = s.vision_dim, s.vision_ffn
    if s.vision_kind == "internvl":
        return 6 * d + f        # LN1 in, q k v, attention out, LN2 in, fc1 out (GELU input)
    return 6 * d + 3 * f        # RMSNorm ins, q k v, attention out, gate, SiLU(gate), up


def _text_layer_elems(s: _Shape, lora_rank: int | None) -> float:
    """Elements kept per token in one decoder layer (frozen weights, LoRA on its 7 linears)."""
    d, f = s.text_dim, s.text_ffn
    base = 6 * d + 3 * f  # RMSNorm ins, q k v (repeated to full heads), attention out, gate, SiLU(gate), up
    if not lora_rank:
        return base
    dropped = 6 * d + f   # LoRA dropout outputs: inputs of q k v o gate up (d) and down (f)
    return base + dropped + dropped / 4 + 7 * lora_rank  # + bool masks (1 byte per element) + rank-r outputs


def _activation_bytes(s: _Shape, batch: int, text_tokens: int, elem: int, checkpointing: bool,
                      lora_rank: int | None, image_size: int, num_frames: int) -> dict[str, float]:
    """Peak activation bytes of one training step, by part."""
    vt = batch * s.vision_tokens
    lt = batch * (s.merged_tokens + text_tokens)
    v_layer = _vision_layer_elems(s) * vt * elem
    t_layer = _text_layer_elems(s, lora_rank) * lt * elem
    # A layer's backward holds its recomputed set plus gradients of its widest tensors.
    v_grad = 2 * max(s.vision_dim, s.vision_ffn) * vt * elem
    t_grad = 2 * max(s.text_dim, s.text_ffn) * lt * elem
    if checkpointing:
        v_keep = s.vision_layers * s.vision_dim * vt * elem
        t_keep = s.text_layers * s.text_dim * lt * elem
        v_peak, t_peak = v_layer + v_grad, t_layer + t_grad
    else:
        v_keep = s.vision_layers * v_layer
        t_keep = s.text_layers * t_layer
        v_peak, t_peak = v_grad, t_grad
    # Outside the blocks: patch embeddings and output (2 per token), the projector (its input,
    # LayerNorm/RMSNorm and MLP activations per merged token), the LM's input embeddings
    # (token embeddings + the merged copy) and the kept logits (small: only answer positions).
    projector = batch * s.merged_tokens * (3 * s.merge_in + s.text_dim) * elem
    edges = 2 * s.vision_dim * vt * elem + projector + 2 * s.text_dim * lt * elem
    render = batch * num_frames * image_size ** 2 * (RENDER_BYTES_PER_PIXEL_FRAME + 2 * 3 * 4)  # + frames, normalised
    # Peak: all vision checkpoints stay alive while the LM runs its backward (LM phase), then
    # the vision blocks run theirs (vision phase).
    lm_phase = v_keep + t_keep + t_peak
    vision_phase = v_keep + v_peak
    return {"vision + LM activations": max(lm_phase, vision_phase) + edges, "renderer": render}


def _strategy_bytes(params: dict, strategy: str, precision: str, n: int, largest_layer: int) -> dict[str, float]:
    """Weights, gradients and optimiser state per device (bytes).

    ``params``: ``total``, ``trainable`` and ``fp32_always`` (renderer, projector, LoRA and the
    trained groups: fp32 whatever the backbone's dtype) parameter counts.
    """
    total, trainable, fp32_always = params["total"], params["trainable"], params["fp32_always"]
    wbytes = 4 if precision == "fp32" else 2
    if strategy == "zero2" and precision == "bf16":
        # DeepSpeed casts the whole module to bf16 and keeps fp32 masters of the trainable ones.
        weights = total * 2 + trainable * 4 / n
    else:
        weights = (total - fp32_always) * wbytes + fp32_always * 4
        if strategy == "fsdp" and n > 1:
            weights = weights / n + largest_layer * wbytes  # shards + one gathered decoder layer
    shard = n if strategy in ("zero2", "fsdp") else 1
    grads = trainable * 4 * (2 if strategy == "ddp" and n > 1 else 1) / shard  # DDP: + its buckets
    optim = trainable * 8 / shard  # AdamW: two fp32 moments
    return {"weights": weights, "gradients": grads, "optimiser": optim}


def make_plan(request: PlanRequest) -> Plan:
    """Count and estimate; nothing of the backbone's size is allocated."""
    from ..mllm.model import SkeletonLLMConfig

    model_cfg = SkeletonLLMConfig.from_dict({**request.model, "device": "meta"})
    if request.image_size is not None:
        model_cfg = dataclasses.replace(model_cfg, image_size=request.image_size)
    backbone, adapter, renderer, lora = _build_on_meta(model_cfg)
    lora_ids = {id(p) for p in lora}
    renderer_params = list(renderer.parameters())
    groups = {
        "renderer": sum(p.numel() for p in renderer_params),
        "projector": sum(p.numel() for p in adapter.projector.parameters()),
        "lora": sum(p.numel() for p in lora),
    }
    projector_ids = {id(p) for p in adapter.projector.parameters()}
    vision_ids = {id(p) for p in adapter.vision_tower.parameters()} - projector_ids
    base = {id(p): p.numel() for p in backbone.parameters() if id(p) not in lora_ids}
    groups["vision"] = sum(n for i, n in base.items() if i in vision_ids)
    groups["language"] = sum(n for i, n in base.items() if i not in vision_ids and i not in projector_ids)
    total = sum(base.values()) + groups["lora"] + groups["renderer"]
    trainable = sum(groups[g] for g in request.trains)
    s = _shape(backbone, adapter, request.num_frames)
    checkpointing = model_cfg.gradient_checkpointing if request.gradient_checkpointing is None \
        else request.gradient_checkpointing
    fp32_groups = {"renderer", "projector", "lora", *request.trains}
    params = {"total": total, "trainable": trainable, "fp32_always": sum(groups[g] for g in fp32_groups)}
    from ..mllm.presets import find_preset
    preset = None if model_cfg.backbone.startswith("tiny:") else find_preset(model_cfg.backbone)
    published = (preset.published_parameters, preset.published_source) if preset else None
    plan = Plan(model_cfg.backbone, sum(base.values()), published, total, trainable, groups, s.merged_tokens,
                s.merged_tokens + request.text_tokens, s.vision_tokens, checkpointing)
    for precision in PRECISIONS:
        acts = _activation_bytes(s, request.batch, request.text_tokens, 4 if precision == "fp32" else 2,
                                 checkpointing, model_cfg.lora_r if model_cfg.lora else None,
                                 adapter.image_size, request.num_frames)
        plan.memory[precision] = {}
        for strategy in STRATEGIES:
            parts = {**_strategy_bytes(params, strategy, precision, request.processes, s.largest_layer_params),
                     **acts}
            plan.memory[precision][strategy] = sum(parts.values())
            if strategy == "ddp":
                plan.parts[precision] = parts
    del backbone
    return plan


def format_plan(plan: Plan, request: PlanRequest) -> str:
    """The plan as the text ``skeletonllm plan`` prints."""
    g = plan.by_group
    lines = [
        f"backbone        {plan.backbone}",
        f"parameters      {plan.parameters:,} ({plan.parameters / 1e9:.3f} B): vision {g['vision']:,}, "
        f"projector {g['projector']:,}, language {g['language']:,}, LoRA {g['lora']:,}, renderer {g['renderer']:,}",
        f"backbone alone  {plan.backbone_parameters:,}" + (
            f"; published {plan.published[0] / 1e9:.3f} B ({100 * (plan.backbone_parameters / plan.published[0] - 1):+.2f} %)"
            if plan.published else ""),
        f"trainable       {plan.trainable:,} ({', '.join(request.trains)})",
        f"visual tokens   {plan.visual_tokens} per clip ({request.num_frames} frames); sequence ~{plan.sequence} "
        f"with {request.text_tokens} text tokens; {plan.vision_tokens} tokens inside the vision tower",
        f"per device      batch {request.batch}, {request.processes} process(es), gradient checkpointing "
        f"{'on' if plan.gradient_checkpointing else 'off'}",
        "",
        f"{'estimated memory per device (GiB)':<36}" + "".join(f"{s:>10}" for s in STRATEGIES),
    ]
    for precision in PRECISIONS:
        lines.append(f"{precision + ' weights' + (' + autocast' if precision == 'bf16' else ''):<36}"
                     + "".join(f"{plan.memory[precision][s] / _GB:>10.2f}" for s in STRATEGIES))
    parts = plan.parts["fp32"]
    lines.append("fp32 DDP by part (GiB): " + ", ".join(f"{k} {v / _GB:.2f}" for k, v in parts.items()))
    if plan.published:
        lines.append(f"published size: {plan.published[1]}")
    return "\n".join(lines)


__all__ = ["Plan", "PlanRequest", "format_plan", "make_plan"]
