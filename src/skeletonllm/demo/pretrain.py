"""The demo's head start: a tiny InternVL that has learnt to look at skeleton drawings.

InternVL3 arrives pretrained on images and text; the tiny one built here (2 layers x 64, the
real ``InternVLForConditionalGeneration`` class) arrives random. Before the SkeletonLLM
curriculum can show anything, its backbone needs what the paper takes for granted: a vision
tower whose tokens say something about the picture, and a language model that reads them
and names what it sees. This module gives it that, in two phases, on frames drawn by frozen
renderers from the training clips of the SEEN classes only, with targets that name body-part
attributes (the movement-side-part description of a seen clip often reads like its class
name; no unseen class is ever named).

Which renderers draw the head start's frames, and why: :mod:`~skeletonllm.demo.pretrain_settings`;
what its targets say: :mod:`~skeletonllm.demo.pretrain_targets`; the frames:
:mod:`~skeletonllm.demo.pretrain_frames`; the backbone and the vision phase's heads:
:mod:`~skeletonllm.demo.pretrain_model`. This module runs the phases.

The phases:

1. vision (``vision_steps``): vision tower + projector learn to predict the clip's
   movement, side, body part, which limbs move and (``class_head``) its seen class, through
   small linear heads on the RMS-normalised visual tokens: each of a frame's token positions
   (one per 14-px quadrant) averaged over the frames (``head_pool="frames"``; ``"mean"``
   averages all tokens, ``"tokens"`` reads every token in its place). The mean over frames asks
   every frame's tokens to carry the clip's attributes where the language model, attending
   over them, can pick them up, and keeps where in the frame they show; reading tokens in
   place gave better seen-class numbers but worse zero-shot ones (see :class:`PretrainSettings`).
   Optionally (``pose_weight``) also each
   frame's 3D joints and each step's motion, read off the skeleton. The heads are thrown away
   afterwards.
2. language (``short_steps`` + ``language_steps``): the projector is re-centred and scaled
   to the text embeddings, vision and projector are frozen (``joint_language`` lets them
   follow at a small rate), and the language model learns to answer: first one short question
   per clip ("Describe the movement, the side and the body part." -> ``kick right leg``),
   where the visual tokens are a large share of the sequence and reading them is learnt
   quickly; then the project's own prompt formats (:mod:`skeletonllm.mllm.prompts`): the
   description as ``Label: kick right leg``, multiple-choice attribute questions answered
   with ``Label: <option>``, YES/NO attribute checks (``disc_prompt``), and recognition over
   the seen classes (``mqa_prompt``), which a pretrained MLLM can already do. Each batch
   holds prompts of about one length (:class:`LengthBatches`).

See the demo report for the time each phase took.
"""
from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ..atomic import atomic_directory
from ..synth.free_motion import free_motion_sample
from .pretrain_frames import FrameBank, StyleMix, initial_draction, pose_targets, renderer_options
from .pretrain_model import AttributeHeads, PoseHeads, build_backbone
from .pretrain_settings import FAIR_RENDERERS, INITIAL_RENDERER, RESULT_FILE, PretrainResult, PretrainSettings
from .pretrain_targets import (ATTRIBUTE_QUESTIONS, DESCRIBE, LIMBS, SIDES, Attributes, MotionQuestion,
                               attribute_vocab, attributes, describe, free_motion_items, language_items,
                               tokenizer_corpus)


class LengthBatches:
    """Batches of prompts of about the same length: a batch is one prompt drawn uniformly, and
    the rest drawn from the prompts of its length bucket (``bucket`` characters wide).

    Every prompt is still drawn with the same probability (its bucket is picked with the
    bucket's share of the prompts, then ``size`` of the bucket's prompts are taken), but a
    batch no longer pads a dozen short questions to the length of one long recognition prompt
    (the demo's recognition prompts list every seen class: about twice as many tokens).
    """

    def __init__(self, prompts: Sequence[str], size: int, bucket: int = 64):
        self.size = size
        keys = [len(p) // bucket for p in prompts]
        self.bucket_of = np.array(keys)
        self.members = {k: np.flatnonzero(self.bucket_of == k) for k in set(keys)}

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        first = int(rng.integers(len(self.bucket_of)))
        pool = self.members[int(self.bucket_of[first])]
        return rng.choice(pool, size=min(self.size, len(pool)), replace=False)


def _cosine(step: int, total: int, warmup: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1.0 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


def _optimise(params, lr: float, steps: int, loss_fn, desc: str, progress: bool, rng: np.random.Generator,
              curve: list, log_every: int = 10, extra_groups: Sequence[tuple[list, float]] = ()) -> None:
    """AdamW with warm-up and cosine decay over ``steps`` calls of ``loss_fn(rng) -> loss``;
    ``extra_groups``: further ``(parameters, peak learning rate)`` on the same schedule."""
    from tqdm.auto import tqdm

    groups = [(list(params), lr), *((list(p), r) for p, r in extra_groups)]
    groups = [([p for p in ps if p.requires_grad], r) for ps, r in groups]
    groups = [(ps, r) for ps, r in groups if ps]
    opt = torch.optim.AdamW([{"params": ps, "lr": r, "peak": r} for ps, r in groups], weight_decay=0.05)
    bar = tqdm(total=steps, desc=desc, unit="step", disable=not progress, dynamic_ncols=True, leave=False)
    window = []
    for step in range(steps):
        for g in opt.param_groups:
            g["lr"] = g["peak"] * _cosine(step, steps, max(1, steps // 30))
        loss = loss_fn(rng)
        loss.backward()
        for ps, _ in groups:        # per group: the vision tower's gradients must not shrink the LM's steps
            torch.nn.utils.clip_grad_norm_(ps, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        window.append(float(loss.detach()))
        if (step + 1) % log_every == 0 or step + 1 == steps:
            curve.append((step + 1, sum(window) / len(window)))
            bar.set_postfix(loss=f"{curve[-1][1]:.3f}")
            window = []
        bar.update(1)
    bar.close()


def _recentre_projector(model, frames: torch.Tensor, settings: PretrainSettings) -> None:
    """Shift the projector's output to zero mean over the reference ``frames`` ``(B, F, 3, H, W)``
    and scale its RMS to ``visual_scale`` x the text embeddings' RMS (a per-layer affine change,
    nothing learnt)."""
    proj = model.adapter.projector
    with torch.no_grad():
        tokens = model.encode_frames(frames).embeds
        proj.linear_2.bias.sub_(tokens.mean((0, 1)))
        tokens = model.encode_frames(frames).embeds
        text_rms = model.backbone.get_input_embeddings().weight.pow(2).mean().sqrt()
        scale = settings.visual_scale * text_rms / tokens.pow(2).mean().sqrt().clamp(min=1e-8)
        proj.linear_2.weight.mul_(scale)
        proj.linear_2.bias.mul_(scale)


def with_token_noise(visual, std: float, generator: torch.Generator):
    """``visual`` (:class:`~skeletonllm.mllm.backbones.VisualTokens`) with independent Gaussian
    noise of standard deviation ``std`` added to every value of its ``(B, N, D)`` embeddings
    (:attr:`PretrainSettings.language_token_noise`)."""
    noise = torch.randn(visual.embeds.shape, generator=generator)
    return dataclasses.replace(visual, embeds=visual.embeds + std * noise.to(visual.embeds))


def _asked(item, pose: torch.Tensor, present: torch.Tensor, rng: np.random.Generator) -> tuple[str, str]:
    """A language item's ``(prompt, target)`` for the sampling drawn: a :class:`MotionQuestion`
    is asked of its pose ``(F, J * 3)`` and present frames ``(F,)``; any other item is fixed."""
    _, prompt, target = item
    if isinstance(prompt, MotionQuestion):
        return prompt.ask(pose.reshape(pose.shape[0], -1, 3).numpy(), present.numpy(), rng)
    return prompt, target


def pretrain_backbone(train_samples, seen: Sequence[str], settings: PretrainSettings, out_dir: str | Path,
                      seed: int = 0, progress: bool = True, other_samples=()) -> PretrainResult:
    """Build, pretrain and save the demo's backbone (model + tokenizer) into ``out_dir``.

    Args:
        train_samples: training clips (:class:`~skeletonllm.synth.SyntheticSample`) of the
            seen classes only.
        seen: the seen class names (the attribute vocabularies come from them).
        other_samples: clips of classes outside the split (``settings.other_motions``,
            :func:`~skeletonllm.demo.data.other_motion_clips`), described and questioned as the
            training clips are, but never offered in a recognition question; their words join
            the vocabularies. The caller guarantees that no unseen class is among them.
    Returns where the backbone was saved (loadable with ``SkeletonLLMConfig(backbone=dir)``)
    and the loss curves of both phases.
    """
    from ..mllm.model import SkeletonLLM, SkeletonLLMConfig

    for s in train_samples:
        if s.label not in seen:
            raise ValueError(f"pretraining clip of class '{s.label}', which is not a seen class")
    others = sorted({s.label for s in other_samples})
    if set(others) & set(seen):
        raise ValueError(f"clips of seen classes among the other motions: {sorted(set(others) & set(seen))}")
    out_dir = Path(out_dir)
    times, curves = {}, {"vision": [], "language (short question)": [], "language (prompt formats)": []}
    t0 = time.time()
    rng = np.random.default_rng([seed, 7])
    samples = list(train_samples) + list(other_samples)
    # the clips and other classes the language phase speaks of (``other_language`` off: the other
    # motions are only drawn for the vision phase's heads)
    spoken, spoken_others = (samples, others) if settings.other_language else (list(train_samples), ())
    # free motion (no class): drawn into the bank for the language phase only, after every class clip
    free = [free_motion_sample(k, seed, index=k) for k in range(settings.free_motions)]
    corpus = tokenizer_corpus(spoken, seen, spoken_others,
                              settings.motion_span if settings.motion_questions > 0 else None)
    backbone, tok = build_backbone(settings, corpus, seed)
    config = SkeletonLLMConfig(backbone="tiny:internvl", renderer=settings.renderers[0],
                               image_size=settings.image_size, renderer_options=renderer_options(settings),
                               num_frames=settings.num_frames, lora=False, device="cpu")
    model = SkeletonLLM(config, renderer=StyleMix(settings, seed + 1), backbone=(backbone, tok))
    bank = FrameBank(model.renderer, samples + free, settings, settings.variants, rng)
    times["build"] = time.time() - t0

    # Phase 1: vision tower + projector, attribute heads.
    t0 = time.time()
    vocab = attribute_vocab([*seen, *others])
    torch.manual_seed(seed)
    tokens_per_clip = model.adapter.num_visual_tokens(settings.num_frames)
    heads = AttributeHeads(settings.hidden, vocab, settings.head_pool, tokens_per_clip,
                           [*seen, *others] if settings.class_head else (), model.adapter.tokens_per_frame(),
                           settings.shared_movement)
    atts = [attributes(s) for s in samples]
    model.set_trainable(["vision", "projector"])
    model.train()

    pose_heads = None
    if settings.pose_weight > 0:
        per_frame = model.adapter.tokens_per_frame()
        pose_heads = PoseHeads(settings.hidden, per_frame, settings.num_frames, bank.poses[0].shape[-1])
        heads.add_module("pose_heads", pose_heads)      # trained with the other heads, thrown away with them

    def vision_loss(rng):
        idx = rng.choice(len(samples), size=min(settings.batch_size, len(samples)), replace=False)
        frames, poses, _ = bank.frames(idx, rng, poses=True)
        tokens = model.encode_frames(frames).embeds
        loss = heads(tokens, [atts[i] for i in idx], [samples[i].label for i in idx])
        if pose_heads is not None:
            loss = loss + settings.pose_weight * pose_heads(tokens, poses)
        return loss

    _optimise(list(model.parameters()) + list(heads.parameters()), settings.vision_lr, settings.vision_steps,
              vision_loss, "head start 1/2: vision", progress, rng, curves["vision"])
    model.eval()
    _recentre_projector(model, bank.frames(range(0, len(samples), max(1, len(samples) // 48)), rng), settings)
    times["vision"] = time.time() - t0

    # Phase 2: the language model reads the visual tokens (vision and projector frozen, so a
    # drawn clip's tokens are computed once; the bank deals renderers and samplings as before).
    t0 = time.time()
    short, long = language_items(spoken, seen, rng, settings.mqa_items, settings.attribute_options,
                                 settings.mqa_options, settings.word_checks, spoken_others, settings.motion_questions,
                                 settings.motion_span)
    long += free_motion_items(free, settings.motion_questions, settings.motion_span)
    clip_of = {id(s.sequence("ntu25")): i for i, s in enumerate(samples + free)}
    joint = settings.joint_language
    model.set_trainable(["language", "vision", "projector"] if joint else ["language"])
    model.train()
    groups = model.parameter_groups()
    language = [p for g in ("language", "lora") for p in groups.get(g, [])]
    seeing = [(groups["vision"] + groups["projector"], settings.joint_vision_lr)] if joint else []

    # the visual tokens' RMS is visual_scale x the text embeddings' (_recentre_projector)
    noise_std = settings.language_token_noise * settings.visual_scale * \
        float(model.backbone.get_input_embeddings().weight.detach().pow(2).mean().sqrt())
    noise_gen = torch.Generator().manual_seed(seed + 11)       # its own draws: the batches stay the same

    def text_loss(items):
        batches = LengthBatches([str(p) for _, p, _ in items], settings.language_batch_size or settings.batch_size)

        def loss(rng):
            idx = batches.draw(rng)
            frames, poses, present = bank.frames([clip_of[id(items[i][0])] for i in idx], rng, poses=True)
            with torch.set_grad_enabled(joint):
                visual = model.encode_frames(frames)
            if noise_std > 0:
                visual = with_token_noise(visual, noise_std, noise_gen)
            asked = [_asked(items[i], poses[k], present[k], rng) for k, i in enumerate(idx)]
            return model(None, [p for p, _ in asked], [t for _, t in asked], visual=visual).loss
        return loss

    _optimise(language, settings.language_lr, settings.short_steps, text_loss(short),
              "head start 2/2: language (short)", progress, rng, curves["language (short question)"],
              extra_groups=seeing)
    _optimise(language, settings.language_lr, settings.language_steps, text_loss(long),
              "head start 2/2: language (formats)", progress, rng, curves["language (prompt formats)"],
              extra_groups=seeing)
    model.eval()
    times["language"] = time.time() - t0

    draction = model.renderer.draction()
    result = PretrainResult(out_dir, curves, times, len(corpus),
                            None if draction is None else out_dir / INITIAL_RENDERER,
                            dict(zip(settings.renderers, bank.counts)))
    with atomic_directory(out_dir) as tmp:
        model.backbone.save_pretrained(tmp)
        model.tokenizer.save_pretrained(tmp)
        if draction is not None:
            draction.save_pretrained(tmp / INITIAL_RENDERER)
        (tmp / RESULT_FILE).write_text(json.dumps(result.to_dict(), indent=1))
    return result


def load_pretrained(out_dir: str | Path) -> PretrainResult | None:
    """The result of a finished :func:`pretrain_backbone` in ``out_dir`` (None if there is none:
    the directory is written atomically, so it is complete or absent)."""
    out_dir = Path(out_dir)
    path = out_dir / RESULT_FILE
    if not path.is_file():
        return None
    result = PretrainResult.from_dict(json.loads(path.read_text()))
    # Where it is now (the output directory may have moved since).
    result.backbone_dir = out_dir
    result.renderer_dir = out_dir / INITIAL_RENDERER if result.renderer_dir is not None else None
    return result


__all__ = ["ATTRIBUTE_QUESTIONS", "Attributes", "DESCRIBE", "FAIR_RENDERERS", "INITIAL_RENDERER", "LIMBS",
           "FrameBank", "PretrainResult", "PretrainSettings", "StyleMix", "attribute_vocab", "attributes", "build_backbone",
           "describe", "initial_draction", "language_items", "load_pretrained", "pretrain_backbone", "with_token_noise",
           "tokenizer_corpus",
           # importable from here as before the split (tests and scripts use them)
           "RESULT_FILE", "SIDES", "LengthBatches", "pose_targets", "renderer_options"]
