"""The demo's head start: a tiny InternVL that has learnt to look at skeleton drawings.

InternVL3 arrives pretrained on images and text; the tiny one built here (2 layers x 64, the
real ``InternVLForConditionalGeneration`` class) arrives random. Before the SkeletonLLM
curriculum can show anything, its backbone needs what the paper takes for granted: a vision
tower whose tokens say something about the picture, and a language model that reads them
and names what it sees. This module gives it that, in two phases, on frames drawn by frozen
renderers from the training clips of the SEEN classes only, with targets that name body-part
attributes (the movement-side-part description of a seen clip often reads like its class
name; no unseen class is ever named).

Which renderers draw the head start's frames decides what the renderer study can show, so
the choice was made by reasoning, before any outcome of the study was seen: **every arm's
starting renderer in equal shares** (:data:`FAIR_RENDERERS`: the fixed velocity, projection
and JTM renderers, and DrAction exactly as both DrAction arms start from it), taking turns
clip by clip so that each draws the same number of clips. The alternatives the study's issue
named, and why not:

* a renderer in none of the arms: every arm would start from a drawing its backbone never saw.
  The curriculum keeps the vision tower and the projector frozen, so a fixed renderer could
  never close that gap while DrAction could learn to: the study would measure adaptation to a
  foreign reader, and the outcome would hang on which outside renderer was picked (the one
  closest in look to an arm favours that arm);
* one head start per arm, on its own renderer: fair too, but five head starts per seed (three
  minutes each here) would break the single-seed demo's ten minutes, and every arm would get
  its own backbone, adding backbone-to-backbone variance to a five-seed comparison;
* equal shares: one backbone for all arms, so the arms differ only in their renderer (as in the
  paper's Table 4), each starting from frames its backbone saw exactly as often as any other
  arm's, at the cost of the single-renderer head start. The price: each style is a quarter of
  the frames (the head start learns more slowly with more styles, measured when the demo was
  built), and DrAction, once trained, moves away from the look its backbone knows, which the
  fixed arms never do; the study's "frozen" rows show how well the head start alone reads each
  renderer, so any imbalance it leaves is visible.

The phases:

1. vision (``vision_steps``): vision tower + projector learn to predict the clip's
   movement, side, body part, which limbs move and (``class_head``) its seen class, through
   small linear heads that read the *mean of the RMS-normalised visual tokens*
   (``head_pool="mean"``; ``"tokens"`` reads every token in its place). The mean asks every
   frame's token to carry the clip's attributes where the language model, attending over
   them, can pick them up; reading tokens in place gave better seen-class numbers but worse
   zero-shot ones (see :class:`PretrainSettings`). Optionally (``pose_weight``) also each
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

What makes zero-shot recognition possible is that every word is grounded on its own: "left"
is learnt from left-arm raises, left-leg swings and left-hand touches alike, "kick" from
kicks, whatever the side. An unseen class ("kick left leg") is a new combination of grounded
words. See the demo report for the time each phase took.

Why these choices (each measured while building the demo; the tiny model is unforgiving):

* 28 x 28 frames: one visual token per frame after InternVL's pixel shuffle, whose 256
  channels hold the four 14-pixel quadrants side by side, so *where* something moves becomes
  *which channels* light up, readable by a language model that averages tokens. At 56 and
  112 pixels the same heads did not learn in the time available. Four tokens per frame
  (7-px patches) kept more in the tokens but the language model read less of them in the
  same steps (the sweep of ``scripts/demo_sweep.py``, recorded in ``demo/backbone_sweep.json``,
  and :class:`PretrainSettings` give the numbers).
* a language phase three times as long as at first (1800 + 1800 steps): the language model,
  not the vision tower, was what read too little (a probe on the visual tokens named twice
  as many held-out seen clips as the head start did).
* standard initialisation (0.02) of the text tower, and a projector whose output is centred:
  with the tiny config's large initialisation the visual tokens were 35x the size of text
  embeddings and nearly identical across clips, and the language model never read them.
* drawing styles: the vision phase and the reading learnt slower with each style added
  (three fixed renderers mixed were clearly worse than one at equal steps, measured when the
  demo was built with a velocity-only head start); with one style, the renderer study is not
  fair (see above), so the head start pays that price.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..atomic import atomic_directory
from ..mllm import prompts as P
from ..skeleton import collate_sequences
from ..synth import get_action

INITIAL_RENDERER = "initial-draction"      # sub-directory of the backbone: the DrAction arms' start
RESULT_FILE = "head-start.json"             # curves, timings (written last: marks a finished head start)
#: The four limbs whose motion the per-limb head predicts, as ``moving_groups`` names them.
LIMBS = ("left arm", "right arm", "left leg", "right leg")
#: Side words (a class's side, or "neither" for whole-body and torso classes).
SIDES = ("left", "right", "both", "neither")
#: The short question of the first language phase.
DESCRIBE = "Describe the movement, the side and the body part."
#: The head start's renderers: the starting renderer of every arm of the renderer study, in
#: equal shares (``draction``: DrAction as both DrAction arms start from it).
FAIR_RENDERERS = ("velocity", "projection", "jtm", "draction")
#: Multiple-choice attribute questions of the second language phase: (question, attribute).
ATTRIBUTE_QUESTIONS = (("Which movement does the person make?", "movement"),
                       ("Which side of the body does the movement use?", "side"),
                       ("Which body part performs the movement?", "part"))


@dataclass
class PretrainSettings:
    """The head start's recipe.

    Attributes:
        image_size: frame side the vision tower sees (a multiple of 28).
        num_frames: frames per clip.
        renderers: the renderers that draw the pretraining frames, taking turns clip by clip
            so that each draws the same number of clips (frozen: nothing about them is learnt
            here). ``"draction"`` is DrAction as initialised, the weights the DrAction arms
            start from (:attr:`PretrainResult.renderer_dir`).
        frame_fill: renderers centre each clip and fit it into this share of the view.
        fixed_options: extra options of the fixed renderers, here and in the arms, chosen by
            looking at their frames at ``image_size`` (28 px) for legibility: drawn twice as
            large and averaged down (anti-aliased, as DrAction's Gaussians are; four times
            looked smoother still but cost 5-8x the drawing time), the velocity renderer's joints
            growing by half their radius at top speed instead of 1.5 times (at 28 px a body
            stepping as a whole became one blob of joint dots), and JTM's still trajectories at
            60 % brightness instead of 35 % (darker ones vanish at 28 px).
        variants: random frame samplings of each clip that each renderer draws once, before
            training (:class:`FrameBank`; frozen renderers draw the same frames again).
        hidden / vocab_size: width of both towers; tokenizer vocabulary.
        vision_steps / vision_lr: phase 1. With both phases twice as long as at first (600 /
            300 / 300 steps), the full demo's DrAction model went from 42.9 % to 58.8 % on held-out
            seen clips and from 34.0 % to 37.7 % on unseen ones (means of seeds 0-4, the 24 / 6
            split), for about 100 s more. With the four drawing styles of the fair head start
            and the 31 / 13 split, 2400 vision steps and ``mqa_items=2`` took held-out seen top-1
            (seed 0; unseen numbers not used to choose) from 6.5 % to 27.4 % for the head start
            alone and from 33.1 % to 53.2 % after the curriculum; the frame bank makes the
            vision steps cheap.
        short_steps / language_steps / language_lr: phase 2 (short question, then the
            project's prompt formats). The language model was the bottleneck of the earlier
            head start (600 + 600 steps): a linear probe on its visual tokens named 87-90 % of
            seed 0's held-out seen clips, the head start itself 43 %; three times the steps
            took it to 87 % (``demo/backbone_sweep.json``). A rate of 1e-2 collapsed it.
        batch_size / language_batch_size: clips per step of the vision / language phase (the
            latter defaults to ``batch_size``; 18 clips at 600 + 600 steps read less than 6 at
            1800 + 1800).
        visual_scale: the projector's output RMS, in units of the text embeddings' RMS.
        mqa_items: recognition questions over the seen classes per clip in the second language
            phase (:func:`language_items`): without them the head start alone answered one class
            for nearly every clip (the study's renderer-only experiment needs a reader that reads;
            measured again on the validation split: 13 % seen without them).
        layers / patch_size / downsample_ratio / vision_hidden / vision_layers: the backbone
            (:func:`skeletonllm.mllm.tiny.tiny_config`). 7-px patches (four tokens per frame)
            kept everything a linear probe reads in the tokens (93-94 % seen) but the language
            model read less of them in the same steps (70-73 %, against 87 % with one token
            per frame): the default keeps one token per frame.
        head_pool / class_head: what the vision phase's heads read (:class:`AttributeHeads`):
            the mean over the clip's tokens, or every token in its place; and a head over the
            seen classes. Chosen on zero-shot recognition of eight seen classes held out from
            the other 23 (``scripts/demo_sweep.py --validation``; no unseen class involved):
            reading every token in place gave the best seen top-1 but named 29-38 % of the held-out
            classes after the curriculum; the mean with the class head 42 % (98 % seen), the
            mean without it 41 % (89 % seen).
        pose_weight: weight of :class:`PoseHeads` (each frame's 3D joints and each step's
            motion, read off the skeleton) in the vision phase; 0 = off. On with the other
            heads it did not raise seen top-1 (90 % against 91 %), and with ``joint_language``
            the head start collapsed (4 % seen on the validation split).
        joint_language / joint_vision_lr: vision tower and projector keep learning (at this
            rate, gradients clipped per group) during the language phase. On seed 0's seen
            clips it helped (91.9 % against 91.1 %), but on the validation split it twice
            collapsed the head start (with the mean heads, and with the pose heads): off.
    """

    image_size: int = 28
    num_frames: int = 8
    renderers: tuple[str, ...] = FAIR_RENDERERS
    frame_fill: float = 1.1
    fixed_options: dict[str, dict] = field(default_factory=lambda: {
        "velocity": {"supersample": 2, "speed_growth": 0.5}, "projection": {"supersample": 2},
        "jtm": {"supersample": 2, "min_brightness": 0.6}})
    variants: int = 4
    hidden: int = 64
    layers: int = 2
    patch_size: int = 14
    downsample_ratio: float = 0.5
    vision_hidden: int | None = None
    vision_layers: int | None = None
    vocab_size: int = 1024
    vision_steps: int = 2400
    vision_lr: float = 1e-3
    short_steps: int = 1800
    language_steps: int = 1800
    language_lr: float = 3e-3
    batch_size: int = 6
    language_batch_size: int | None = None
    visual_scale: float = 8.0
    mqa_items: int = 2
    head_pool: str = "mean"
    class_head: bool = True
    pose_weight: float = 0.0
    joint_language: bool = False
    joint_vision_lr: float = 1e-4

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class PretrainResult:
    """Where the pretrained backbone is, and how pretraining went.

    ``renderer_dir`` holds the head start's DrAction (``DrAction.save_pretrained``), the
    initial weights of every DrAction arm; None when no DrAction drew the head start.
    ``clips_per_renderer``: how many clips each renderer drew (equal shares, within one)."""

    backbone_dir: Path
    curves: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    corpus_size: int = 0
    renderer_dir: Path | None = None
    clips_per_renderer: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"backbone_dir": str(self.backbone_dir), "curves": self.curves, "seconds": self.seconds,
                "corpus_size": self.corpus_size, "clips_per_renderer": self.clips_per_renderer,
                "renderer_dir": None if self.renderer_dir is None else str(self.renderer_dir)}

    @classmethod
    def from_dict(cls, d: dict) -> "PretrainResult":
        return cls(Path(d["backbone_dir"]), {k: [tuple(p) for p in v] for k, v in d["curves"].items()},
                   d["seconds"], d["corpus_size"], None if d.get("renderer_dir") is None else Path(d["renderer_dir"]),
                   d.get("clips_per_renderer", {}))


# -- what the targets say ---------------------------------------------------------------------

@dataclass(frozen=True)
class Attributes:
    """The composition of a clip's class, plus which limbs actually move."""

    movement: str
    side: str
    part: str
    limbs: tuple[bool, ...]


def attributes(sample) -> Attributes:
    """Attributes of a :class:`~skeletonllm.synth.SyntheticSample` (read off its motion program)."""
    a = get_action(sample.label)
    moving = sample.program.moving_groups(0)
    return Attributes(a.movement, a.side if a.side in SIDES else "neither", a.part,
                      tuple(limb in moving for limb in LIMBS))


def describe(label: str) -> str:
    """A class's attributes as a phrase, movement first: ``"kick right leg"``, ``"lift sideways
    left arm"``, ``"bow torso"`` (no side word when the class has none). It uses the words of the
    class names in the order most of them have, so the language model learns to say a
    movement, a side and a part one after the other, each from what it sees."""
    a = get_action(label)
    return " ".join(w for w in (a.movement, a.side if a.side in SIDES[:3] else "", a.part) if w)


def attribute_vocab(seen: Sequence[str]) -> dict[str, list[str]]:
    """The values each attribute takes over the seen classes (the heads' and questions' options)."""
    acts = [get_action(c) for c in seen]
    return {"movement": sorted({a.movement for a in acts}), "side": list(SIDES),
            "part": sorted({a.part for a in acts})}


def language_items(samples, seen: Sequence[str], rng: np.random.Generator, mqa: int = 0):
    """``(short, long)`` lists of ``(sequence, prompt, target)`` for the language phase.

    ``short``: one :data:`DESCRIBE` question per clip. ``long`` (the project's prompt formats):
    per clip, the three attribute questions as 4-option multiple choice (``Label: <option>``),
    YES/NO checks of its movement, of another movement and of each limb (``disc_prompt``), the
    description, and with ``mqa`` > 0 that many recognition questions over the seen classes
    (``mqa_prompt``, candidates shuffled), the task a pretrained MLLM can already do.
    """
    vocab = attribute_vocab(seen)
    short, long = [], []
    for s in samples:
        seq, att = s.sequence("ntu25"), attributes(s)
        short.append((seq, DESCRIBE, describe(s.label)))
        long.append((seq, P.qa_prompt(DESCRIBE), P.mqa_target(describe(s.label))))
        for question, key in ATTRIBUTE_QUESTIONS:
            truth = getattr(att, key)
            others = [v for v in rng.permutation(vocab[key]).tolist() if v != truth][:3]
            options = [truth, *others]
            options = [options[i] for i in rng.permutation(len(options))]
            long.append((seq, P.qa_prompt(question, options), P.mqa_target(truth)))
        other = [m for m in vocab["movement"] if m != att.movement]
        checks = [(att.movement, True), (other[int(rng.integers(len(other)))], False)]
        checks += [(f"move the {limb}", moving) for limb, moving in zip(LIMBS, att.limbs)]
        for phrase, yes in checks:
            long.append((seq, P.disc_prompt(phrase), P.YES if yes else P.NO))
        for _ in range(mqa):
            long.append((seq, P.mqa_prompt([seen[i] for i in rng.permutation(len(seen))]), P.mqa_target(s.label)))
    return short, long


def tokenizer_corpus(samples, seen: Sequence[str]) -> list[str]:
    """Texts the demo's tokenizer is trained on: every prompt and target the demo writes, the
    seen class names, and the seen clips' captions, rationales and QA (no unseen class name)."""
    rng = np.random.default_rng(0)
    short, long = language_items(samples, seen, rng)
    texts = list(seen) + [t for _, p, a in short + long for t in (p, a)]
    for s in samples:
        texts += [*s.captions, s.rationale] + [x for q in s.qa for x in (q.question, *q.options, q.reference)]
    texts += [P.mqa_prompt(list(seen)), P.student_prompt(), P.caption_prompt()] + [P.disc_prompt(c) for c in seen]
    return texts


# -- the backbone ------------------------------------------------------------------------------

def build_backbone(settings: PretrainSettings, corpus: Sequence[str], seed: int = 0):
    """A randomly initialised tiny InternVL and its tokenizer trained on ``corpus``.

    The same config as :func:`skeletonllm.mllm.tiny.tiny_config`, but with the usual
    initialisation (std 0.02) of the text tower: that builder's larger one suits training
    LoRA alone on a random model, but makes attention so peaked that a model trained from
    scratch learns to read its visual tokens far more slowly (measured).
    """
    from transformers import InternVLForConditionalGeneration

    from ..mllm.tiny import tiny_config, train_tiny_tokenizer

    tok = train_tiny_tokenizer("internvl", corpus, settings.vocab_size)
    config = tiny_config("internvl", tok, image_size=settings.image_size, hidden=settings.hidden,
                         layers=settings.layers, patch_size=settings.patch_size,
                         downsample_ratio=settings.downsample_ratio, vision_hidden=settings.vision_hidden,
                         vision_layers=settings.vision_layers)
    config.text_config.initializer_range = 0.02
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = InternVLForConditionalGeneration(config)
        # A wide projector initialisation makes the visual tokens differ strongly from clip
        # to clip, which the vision phase needs; its scale is reset after that phase.
        for lin in (model.model.multi_modal_projector.linear_1, model.model.multi_modal_projector.linear_2):
            nn.init.normal_(lin.weight, std=2.0 * settings.hidden ** -0.5)
            nn.init.zeros_(lin.bias)
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    return model, tok


def renderer_options(settings: PretrainSettings, renderer: str | None = None) -> dict:
    """Options of a renderer the demo uses: its image size, each clip centred and fitted into
    ``frame_fill`` of the view (so that the small frames show the body large), and for a fixed
    renderer its ``fixed_options``."""
    return {"image_size": settings.image_size, "auto_frame": True, "frame_fill": settings.frame_fill,
            **settings.fixed_options.get(renderer, {})}


def initial_draction(settings: PretrainSettings, seed: int, **overrides):
    """DrAction as every DrAction arm starts from it: its parameters drawn under ``seed``
    (without touching the global random state)."""
    from ..render.fixed import build_renderer
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return build_renderer("draction", **{**renderer_options(settings, "draction"), **overrides})


class StyleMix(nn.Module):
    """Frozen renderers taking turns clip by clip: the ``i``-th clip drawn since the mix was
    built goes to renderer ``i % len(renderers)``, so every renderer draws the same number of
    clips (within one) whatever the batch size. ``forward(batch) -> (B, F, 3, H, W)``.

    ``seed`` draws DrAction's initial parameters (:func:`initial_draction`).
    """

    def __init__(self, settings: PretrainSettings, seed: int):
        super().__init__()
        from ..render.fixed import build_renderer
        self.renderers = nn.ModuleList(initial_draction(settings, seed) if n == "draction"
                                       else build_renderer(n, **renderer_options(settings, n)) for n in settings.renderers)
        self.requires_grad_(False)
        self.drawn = 0
        self.counts = [0] * len(self.renderers)

    def draction(self):
        """The mix's DrAction, or None."""
        from ..render.draction import DrAction
        return next((r for r in self.renderers if isinstance(r, DrAction)), None)

    def forward(self, batch):
        from ..skeleton.batch import SkeletonBatch
        B, n = batch.joints.shape[0], len(self.renderers)
        which = (self.drawn + torch.arange(B)) % n
        self.drawn += B
        out = [None] * B
        for r in range(n):      # one call per renderer on its share of the batch
            idx = (which == r).nonzero().flatten()
            if idx.numel() == 0:
                continue
            self.counts[r] += idx.numel()
            part = SkeletonBatch(batch.joints[idx], batch.present[idx], batch.topology,
                                 None if batch.orientations is None else batch.orientations[idx])
            for i, frames in zip(idx.tolist(), self.renderers[r](part)):
                out[i] = frames
        return torch.stack(out)


class FrameBank:
    """Every training clip drawn once by each of the head start's frozen renderers, for
    ``variants`` random frame samplings (segment sampling, as in training), kept as uint8.

    The renderers are frozen, so drawing a clip again would only repeat work; on the tiny
    backbone, drawing was nine tenths of a head-start step (measured). :meth:`frames` deals
    renderers in turn, as :class:`StyleMix` does (the ``i``-th clip drawn goes to renderer
    ``i % R``: equal shares), and a random sampling of the clip.
    """

    def __init__(self, mix: StyleMix, samples, settings: PretrainSettings, variants: int,
                 rng: np.random.Generator, chunk: int = 32):
        seqs = [s.sequence("ntu25") for s in samples]
        self.images = []                                                   # [renderer][variant]: (N, F, 3, H, W)
        draws = [collate_sequences(seqs[lo:lo + chunk], num_frames=settings.num_frames, train=True, rng=rng,
                                   max_bodies=2) for _ in range(variants) for lo in range(0, len(seqs), chunk)]
        per_variant = len(draws) // variants
        # [variant]: (N, F, J * 3) the first body's 3D joints of the same samplings (pose targets)
        self.poses = [torch.cat([pose_targets(b) for b in draws[v * per_variant:(v + 1) * per_variant]])
                      for v in range(variants)]
        with torch.no_grad():
            for renderer in mix.renderers:
                rows = [torch.cat([(renderer(b) * 255).round().to(torch.uint8)
                                   for b in draws[v * per_variant:(v + 1) * per_variant]]) for v in range(variants)]
                self.images.append(rows)
        self.variants = variants
        self.drawn = 0
        self.counts = [0] * len(self.images)

    def frames(self, clips: Sequence[int], rng: np.random.Generator, poses: bool = False):
        """``(B, F, 3, H, W)`` floats in [0, 1] for the clips at these indices; with ``poses``
        also their pose targets ``(B, F, J * 3)`` (:func:`pose_targets`) of the same samplings."""
        out, pose = [], []
        for i in clips:
            r = self.drawn % len(self.images)
            self.drawn += 1
            self.counts[r] += 1
            v = int(rng.integers(self.variants))
            out.append(self.images[r][v][i])
            pose.append(self.poses[v][i])
        frames = torch.stack(out).float() / 255.0
        return (frames, torch.stack(pose)) if poses else frames


def pose_targets(batch) -> torch.Tensor:
    """``(B, F, J * 3)``: the first body's 3D joints, centred on the clip's mean joint and scaled
    by the clip's spread (class-agnostic targets read off the skeleton, not off any label)."""
    joints = batch.joints[:, :, 0]                                               # (B, F, J, 3)
    present = batch.present[:, :, 0, None, None].to(joints.dtype)               # (B, F, 1, 1)
    count = (present.sum((1, 2, 3)) * joints.shape[2]).clamp(min=1)            # joints seen per clip
    centre = (joints * present).sum((1, 2)) / count[:, None]                    # (B, 3)
    x = (joints - centre[:, None, None]) * present
    spread = (x.pow(2).sum((1, 2, 3)) / (3 * count)).sqrt().clamp(min=1e-6)      # (B,)
    return (x / spread[:, None, None, None]).flatten(2)


class PoseHeads(nn.Module):
    """Per-frame heads on the visual tokens: each frame's pose (its tokens -> the 3D joints) and
    each step's motion (two consecutive frames' tokens -> the joints' displacement), read off
    the skeleton. ``(B, F * T, D)`` tokens, ``(B, F, J * 3)`` targets -> loss."""

    def __init__(self, dim: int, tokens_per_frame: int, num_frames: int, targets: int):
        super().__init__()
        self.num_frames, width = num_frames, dim * tokens_per_frame
        self.pose = nn.Linear(width, targets)
        self.motion = nn.Linear(2 * width, targets)

    def forward(self, tokens: torch.Tensor, poses: torch.Tensor) -> torch.Tensor:
        x = tokens - tokens.mean((0, 1), keepdim=True).detach()
        x = x / x.pow(2).mean(-1, keepdim=True).add(1e-6).sqrt()
        x = x.reshape(x.shape[0], self.num_frames, -1)                               # (B, F, T * D)
        loss = F.mse_loss(self.pose(x), poses)
        if self.num_frames > 1:
            steps = torch.cat([x[:, :-1], x[:, 1:]], dim=-1)
            loss = loss + F.mse_loss(self.motion(steps), (poses[:, 1:] - poses[:, :-1]) * 4.0)
        return loss


class AttributeHeads(nn.Module):
    """Linear heads on centred, RMS-normalised visual tokens ``(B, N, D) -> loss``.

    ``pool="mean"`` reads the mean over all tokens (``(B, D)``: what a language model gets when
    its attention spreads evenly; frame order and position are lost); ``pool="tokens"`` reads
    every token in its place (``(B, N * D)``: frame order and where each token sits are kept).
    ``classes``: also a head over these (seen) class names."""

    def __init__(self, dim: int, vocab: dict[str, list[str]], pool: str = "mean", num_tokens: int = 1,
                 classes: Sequence[str] = ()):
        super().__init__()
        if pool not in ("mean", "tokens"):
            raise ValueError(f"pool must be 'mean' or 'tokens', got '{pool}'")
        self.vocab, self.pool, self.classes = vocab, pool, list(classes)
        width = dim * (num_tokens if pool == "tokens" else 1)
        self.heads = nn.ModuleDict({k: nn.Linear(width, len(v)) for k, v in vocab.items()})
        self.limbs = nn.Linear(width, len(LIMBS))
        self.class_head = nn.Linear(width, len(self.classes)) if self.classes else None

    def forward(self, tokens: torch.Tensor, atts: Sequence[Attributes], labels: Sequence[str] = ()) -> torch.Tensor:
        x = tokens - tokens.mean((0, 1), keepdim=True).detach()
        x = x / x.pow(2).mean(-1, keepdim=True).add(1e-6).sqrt()
        x = x.mean(1) if self.pool == "mean" else x.flatten(1)                       # (B, D) or (B, N * D)
        target = lambda values: torch.tensor(values, device=x.device)  # noqa: E731
        loss = sum(F.cross_entropy(head(x), target([self.vocab[k].index(getattr(a, k)) for a in atts]))
                   for k, head in self.heads.items())
        limbs = torch.tensor([a.limbs for a in atts], dtype=x.dtype, device=x.device)
        loss = loss + F.binary_cross_entropy_with_logits(self.limbs(x), limbs)
        if self.class_head is not None:
            loss = loss + F.cross_entropy(self.class_head(x), target([self.classes.index(c) for c in labels]))
        return loss


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


def pretrain_backbone(train_samples, seen: Sequence[str], settings: PretrainSettings, out_dir: str | Path,
                      seed: int = 0, progress: bool = True) -> PretrainResult:
    """Build, pretrain and save the demo's backbone (model + tokenizer) into ``out_dir``.

    Args:
        train_samples: training clips (:class:`~skeletonllm.synth.SyntheticSample`) of the
            seen classes only.
        seen: the seen class names (the attribute vocabularies come from them).
    Returns where the backbone was saved (loadable with ``SkeletonLLMConfig(backbone=dir)``)
    and the loss curves of both phases.
    """
    from ..mllm.model import SkeletonLLM, SkeletonLLMConfig

    for s in train_samples:
        if s.label not in seen:
            raise ValueError(f"pretraining clip of class '{s.label}', which is not a seen class")
    out_dir = Path(out_dir)
    times, curves = {}, {"vision": [], "language (short question)": [], "language (prompt formats)": []}
    t0 = time.time()
    rng = np.random.default_rng([seed, 7])
    corpus = tokenizer_corpus(train_samples, seen)
    backbone, tok = build_backbone(settings, corpus, seed)
    config = SkeletonLLMConfig(backbone="tiny:internvl", renderer=settings.renderers[0],
                               image_size=settings.image_size, renderer_options=renderer_options(settings),
                               num_frames=settings.num_frames, lora=False, device="cpu")
    model = SkeletonLLM(config, renderer=StyleMix(settings, seed + 1), backbone=(backbone, tok))
    samples = list(train_samples)
    bank = FrameBank(model.renderer, samples, settings, settings.variants, rng)
    times["build"] = time.time() - t0

    # Phase 1: vision tower + projector, attribute heads.
    t0 = time.time()
    vocab = attribute_vocab(seen)
    torch.manual_seed(seed)
    tokens_per_clip = model.adapter.num_visual_tokens(settings.num_frames)
    heads = AttributeHeads(settings.hidden, vocab, settings.head_pool, tokens_per_clip,
                           seen if settings.class_head else ())
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
        frames, poses = bank.frames(idx, rng, poses=True)
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
    short, long = language_items(samples, seen, rng, settings.mqa_items)
    clip_of = {id(s.sequence("ntu25")): i for i, s in enumerate(samples)}
    joint = settings.joint_language
    model.set_trainable(["language", "vision", "projector"] if joint else ["language"])
    model.train()
    groups = model.parameter_groups()
    language = [p for g in ("language", "lora") for p in groups.get(g, [])]
    seeing = [(groups["vision"] + groups["projector"], settings.joint_vision_lr)] if joint else []

    def text_loss(items):
        batches = LengthBatches([p for _, p, _ in items], settings.language_batch_size or settings.batch_size)

        def loss(rng):
            idx = batches.draw(rng)
            with torch.set_grad_enabled(joint):
                visual = model.encode_frames(bank.frames([clip_of[id(items[i][0])] for i in idx], rng))
            return model(None, [items[i][1] for i in idx], [items[i][2] for i in idx], visual=visual).loss
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
           "describe", "initial_draction", "language_items", "load_pretrained", "pretrain_backbone",
           "tokenizer_corpus"]
