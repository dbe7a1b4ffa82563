"""The head start's recipe (:class:`PretrainSettings`), where its result lies (:class:`PretrainResult`),
and why the recipe is what it is.

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

Why these choices (each measured while building the demo; the tiny model is unforgiving):

* 28 x 28 frames, four visual tokens per frame: InternVL's pixel shuffle off
  (``downsample_ratio=1.0``), one token per 14-pixel quadrant, and the vision phase's heads
  reading each quadrant's token averaged over the frames (``head_pool="frames"``), so *where*
  something moves is *which token* says it. With the shuffle (one token per frame, the four
  quadrants side by side in its channels; the default until the sweep's ``val-ds1-frames``
  runs) the tokens lost much of the moving side and movement that the pixels show; without it
  but with heads on the mean of all 32 tokens the model composed more unseen classes and named
  fewer seen ones. At 56 and 112 pixels the heads did not learn in the time available; 7-px
  patches with the shuffle (also four tokens per frame) kept more in the tokens, but the
  language model read less of them in the same steps (the sweep of ``scripts/demo_sweep.py``,
  recorded in ``demo/backbone_sweep.json``, and :class:`PretrainSettings` give the numbers).
* a language phase three times as long as at first (1800 + 1800 steps): the language model,
  not the vision tower, was what read too little (a probe on the visual tokens named twice
  as many held-out seen clips as the head start did); its second part twice as long again
  since (1800 + 3600 steps: higher zero-shot after the curriculum in 8 of 10 validation runs).
* drawing styles: the vision phase and the reading learnt slower with each style added
  (three fixed renderers mixed were clearly worse than one at equal steps, measured when the
  demo was built with a velocity-only head start); with one style, the renderer study is not
  fair (see above), so the head start pays that price.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

INITIAL_RENDERER = "initial-draction"      # sub-directory of the backbone: the DrAction arms' start
RESULT_FILE = "head-start.json"             # curves, timings (written last: marks a finished head start)
#: The head start's renderers: the starting renderer of every arm of the renderer study, in
#: equal shares (``draction``: DrAction as both DrAction arms start from it).
FAIR_RENDERERS = ("velocity", "projection", "jtm", "draction")
#: What the vision phase's heads can read (``PretrainSettings.head_pool``): the mean of all the
#: clip's visual tokens, every token in its place, each token position's mean over frames, or that
#: and each position's mean change between frames.
POOLS = ("mean", "tokens", "frames", "frames_motion")
#: How the demo's report names each of :data:`POOLS`.
POOL_WORDS = {"mean": "the mean of the visual tokens", "tokens": "every visual token in its place",
              "frames": "each token position's mean over frames",
              "frames_motion": "each token position's mean over frames and its mean change between frames"}
#: How a motion question (``PretrainSettings.motion_questions``) picks its frames: two drawn at random
#: and named in the question, or the clip's first frame and the one where the limb's end is farthest
#: from it, unnamed.
MOTION_SPANS = ("pair", "farthest")


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
            took it to 87 % (``demo/backbone_sweep.json``). A rate of 1e-2 collapsed it. The second
            phase twice as long again (3600 steps, runs ``tr-lang2x`` / ``tr1-lang2x`` against
            ``tr-ref`` / ``tr1-ref``, both validation splits, seeds 0-4, on the AMD machine): after
            the curriculum the held-out classes composed 48.6 / 30.0 % against 42.3 / 28.0 %
            (+4.1 ± 10.6 points per run, higher in 8 of 10), seen 96.3 / 93.7 against 94.8 / 92.0 %,
            for 60-95 s more CPU time in the head start: the default since.
        batch_size / language_batch_size: clips per step of the vision / language phase (the
            latter defaults to ``batch_size``; 18 clips at 600 + 600 steps read less than 6 at
            1800 + 1800).
        visual_scale: the projector's output RMS, in units of the text embeddings' RMS. With four
            tokens per frame (validation split, calibrated, after the curriculum): 4.0 composed
            24.1 % of the held-out classes (seeds 0-1, stopped; 8.0: 42.9 % on them), 12.0 39.5 %
            over seeds 0-4 (8.0: 47.3 %) at 98.3 % seen (96.3 %).
        mqa_items / mqa_options: recognition questions per clip in the second language phase
            (:func:`language_items`), over all the seen classes (``mqa_options=0``, as the
            curriculum asks them) or over the clip's class and ``mqa_options - 1`` others. Without
            them the head start alone answered one class for nearly every clip (the study's
            renderer-only experiment needs a reader that reads; measured again on the validation
            split: 13 % seen without them). Over eight classes (a list that tells the answer
            apart, as the zero-shot lists do) the model composed 35.5 % after the curriculum
            against 47.3 % (seeds 0-4).
        attribute_options: each attribute question of the language phase is asked once per
            entry, offering that many of the attribute's values (the truth and others; 0 = all of
            them, as the demo's evaluation and the attribute probes choose among all values).
            With all values (``[0]``, validation seeds 0-4) the head start answered as the
            evaluation asks much better (held-out seen clips, calibrated: movement 94.3 %, side
            91.1 %, part 88.5 %, against 92.0 / 93.0 / 79.6 % with four options; the probes
            97.6 / 98.0 / 97.4 %; held-out classes 34.1 / 39.5 / 72.1 % against 29.6 / 38.0 /
            59.3 %), but composed 36.1 % of the held-out classes after the curriculum against
            47.3 % (lower in every seed; the head start's own 38.8 against 39.5 %); both ways
            per clip (``[4, 0]``, seeds 0-1) 33.5 % against 42.9 %. Four options stay the default.
        word_checks: the language phase also checks the clip's side and body-part words one at a
            time, YES/NO against another value (:func:`~skeletonllm.demo.pretrain_targets.language_items`),
            as it checks the movement: each word a class name is made of grounded on its own.
            Measured as the shared movement head (above): 39.8 % against 47.3 % on the first split
            (1 of 5 seeds higher; its head start lower in all five, 32.7 against 39.5 %), 23.2 %
            against 25.0 % on the second (1 of 5): off.
        layers / patch_size / downsample_ratio / vision_hidden / vision_layers: the backbone
            (:func:`skeletonllm.mllm.tiny.tiny_config`). ``downsample_ratio`` 1.0 turns InternVL's
            pixel shuffle off: four tokens per frame at 28 px, one per quadrant (0.5: one token
            per frame). 7-px patches with the shuffle (also four tokens per frame) kept everything
            a linear probe reads in the tokens (93-94 % seen) but the language model read less of
            them in the same steps (70-73 %, against 87 % with one token per frame). The language
            model's depth (``layers``, the vision tower kept at ``vision_layers=2``; runs ``tr-lm1``
            / ``tr-lm3`` against ``tr-lang2x``, both validation splits, AMD machine): one layer
            -14.3 ± 12.1 points per run after the curriculum (seeds 0-1, higher in 1 of 4), three
            -2.1 ± 7.3 (seeds 0-4, higher in 5 of 10; 290-314 s of head-start CPU against
            244-293 s): two stay.
        head_pool / class_head: what the vision phase's heads read (:class:`AttributeHeads`,
            :data:`POOLS`): the mean over the clip's tokens, every token in its place, or each
            of a frame's token positions averaged over the frames; and a head over the seen
            classes. Chosen on zero-shot recognition of eight seen classes held out from the
            other 23 (``scripts/demo_sweep.py --validation``; no unseen class involved; calibrated
            ranking after the curriculum, mean of seeds 0-4 unless said): with one token per
            frame, reading every token in place gave the best seen top-1 but named 29-38 % of the
            held-out classes (seed 0), the mean with the class head 39.1 % (96.7 % seen). With four
            tokens per frame: the mean 44.8 % (92.4 % seen, lower in every seed: the mean of the
            four quadrants loses where a motion is); each position's mean over frames **47.3 %
            (96.3 % seen; the pixel probe composes 46.8 % on the same frames)**, the default, above
            the one-token model in 4 of 5 seeds (+0.9, +14.3, -9.8, +16.1, +19.7); the same without
            the class head 44.6 % (97.2 % seen); with twice the vision steps 33.0 % (seeds 0-1,
            97.8 % seen: the heads fit the seen classes). ``"frames_motion"`` adds each position's
            mean absolute change between frames: on the pixels, the attribute probes composed
            36-42 % of the held-out classes from the frames' mean and 44-61 % from the mean and the
            mean change (seeds 0-1 of both splits, DrAction's starting frames; all 8 frames: 34-54 %).
            As the heads' input (runs ``tr-motion`` / ``tr1-motion`` against ``tr-lang2x`` /
            ``tr1-lang2x``, seeds 0-4 of both splits, AMD machine) the head start answered the
            held-out classes' attributes better on the second split (calibrated: movement 32.7 /
            side 44.3 / part 49.3 % against 25.7 / 32.7 / 41.1; the probes 49.1 / 41.2 / 47.0: side
            and part above them) and about as well on the first (35.7 / 42.0 / 60.0 against 34.6 /
            40.9 / 64.5), but after the curriculum it named 37.5 / 33.9 % of them against 48.6 /
            30.0 % (-3.6 ± 13.3 points per run, higher in 3 of 10; lower in all five seeds of the
            first split), with the curriculum's attribute questions on top 34.3 / 32.3 % (-6.0 ±
            14.5, 2 of 10): not the default.
        shared_movement: weight of a movement head shared by the token positions the heads keep
            apart (:class:`AttributeHeads`: the clip's movement is the log-sum-exp of each
            position's scores), beside the other heads; 0 = off. It asks the vision tower to say a
            movement in the same words wherever in the frame it is drawn, which the held-out
            classes that put a seen movement on another body part need. At 1.0 (validation
            seeds 0-4, calibrated, after the curriculum; per seed against the default) it composed
            40.9 % of the first split's held-out classes against 47.3 % (higher in 1 of 5) and
            26.4 % of the second's against 25.0 % (3 of 5; its movement answers there 24.8 against
            18.8 %), its head start less on both (29.6 / 20.0 against 39.5 / 25.5 %): off.
        pose_weight: weight of :class:`PoseHeads` (each frame's 3D joints and each step's
            motion, read off the skeleton) in the vision phase; 0 = off. On with the other
            heads it did not raise seen top-1 (90 % against 91 %), and with ``joint_language``
            the head start collapsed (4 % seen on the validation split).
        other_motions: clips per class of the motions outside the split (classes neither seen
            nor unseen: reach forward, hop, lean and twist the torso, turn, nod and shake the head,
            sit down, stand up, hug, pass an object; :func:`~skeletonllm.demo.data.other_motion_clips`)
            that the head start also learns to describe, as a pretrained model has seen motions
            beyond any one data set's classes; 0 = off. They add movement words and, being mostly
            left/right pairs, show a movement on either side; no recognition question offers them.
            ``other_language`` off: they reach the vision phase's heads only (the language phase
            and the tokenizer keep to the seen classes' clips). Ten clips of each (16 classes, 160
            clips beside the 230-310 training clips; runs ``tr-other10`` / ``tr1-other10`` against
            ``tr-lang2x`` / ``tr1-lang2x``, both validation splits, seeds 0-4, AMD machine): the head
            start answered the held-out classes' side far better (calibrated, 47.5 / 46.6 % against
            40.9 / 32.7; the side probes 51.1 / 42.0) and composed a little more (40.2 / 30.9 against
            39.1 / 25.4 %), but their movement worse (27.0 / 23.6 against 34.6 / 25.7) and the seen
            clips' attributes worse (part 66.7 / 73.9 against 87.4 / 91.1 %: the same steps spread
            over more clips). After the curriculum 43.4 / 35.5 % against 48.6 / 30.0 % (+0.2 ± 13.6
            points per run, higher in 4 of 10), seen 92.8 / 90.7 against 96.3 / 93.7 %: off. Three
            clips of each (``other3``, seeds 0-3): -6.6 ± 11.9, 1 of 8; ten in the vision phase only
            (seed 0, stopped): -23.2 and -4.5, its held-out side no better (the side comes from the
            language phase).
        joint_language / joint_vision_lr: vision tower and projector keep learning (at this
            rate, gradients clipped per group) during the language phase. On seed 0's seen
            clips it helped (91.9 % against 91.1 %), but on the validation split it twice
            collapsed the head start (with the mean heads, and with the pose heads): off.
        language_token_noise: Gaussian noise added to every visual token the language phase
            reads, its standard deviation in units of the tokens' RMS (``visual_scale`` x the text
            embeddings' RMS; :func:`~skeletonllm.demo.pretrain.with_token_noise`); 0 = off. Why:
            a linear probe on the head start's own visual tokens composes the held-out classes as
            well as the probe on the pixels (even on a random vision tower's tokens), so the
            reading is lost in the language model, and noise on a model's input is the classic
            way to make it fit more smoothly. At 0.5 (runs ``tr-noise05`` / ``tr1-noise05``
            against ``tr-lang2x`` / ``tr1-lang2x``, seeds 0-1 of both validation splits, AMD
            machine) the head start named fewer held-out classes (33.5 / 23.7 % against 37.5 /
            30.8) and after the curriculum -6.5 ± 5.0 points per run, lower in all 4: off.
        motion_questions: questions per clip in the second language phase that ask where one
            limb's hand or foot goes between two of the drawn frames (up, down, forward, back,
            out, in or still; :class:`~skeletonllm.demo.pretrain_targets.MotionQuestion`), read
            off the sampled joints, not off any label; 0 = off. Why: a token's content tells
            which quadrant of the frame it comes from but hardly which frame (a linear probe on
            single tokens: 83-87 % quadrant, 15-16 % frame, chance 25 / 12.5), so comparing
            frames, which a movement word needs, is the language model's work alone, and no
            other question of the head start asks it to compare one part of the body across
            frames. ``motion_span``: the two frames drawn at random and named in the question
            (``"pair"``), or the first frame and the one where the limb's end is farthest from
            it, unnamed (``"farthest"``: the way the limb moves over the clip). Four per clip
            (runs ``tr-motion4`` / ``tr1-motion4`` against ``tr-lang2x`` / ``tr1-lang2x``, seeds 0-4
            of both validation splits, AMD machine; calibrated, after the curriculum): 45.0 / 27.3 %
            of the held-out classes against 48.6 / 30.0 %, -3.1 ± 11.5 points per run, higher in 2
            of 10; the head start's held-out movement answers no better (33.4 / 25.7 against 34.6 /
            25.7 %). The language model learns them slowly (``scripts/motion_probe.py``, seed 0,
            second split): 65.0 % right on training clips, 34.2 % of those where the limb moved
            (answering "still" for most rises and falls), where a linear probe on the two named
            frames' tokens gets 86.4 / 76.8 %; on the held-out classes 1.2 % of the moved limbs.
            ``"farthest"`` (seeds 0-1): -12.9 ± 10.8, lower in all 4. Off.
        free_motions: clips of free motion (:mod:`skeletonllm.synth.free_motion`: one or two limbs
            moving at random, no class) that the language phase also asks about: which limbs move
            (YES/NO) and, with ``motion_questions``, where their hands and feet go; 0 = off. The
            seen classes alone never move some limbs in some ways (on the second validation split
            no training clip moves the left leg, and the head start answers "still" for it on the
            held-out clips); a pretrained model has watched every limb move. Their clips are
            drawn by every renderer, as the class clips are, but reach neither the vision phase's
            heads nor any question that names a movement or a class. 160 clips with four motion
            questions each (runs ``tr-free160m4`` / ``tr1-free160m4``, seeds 0-1 of both splits):
            -13.8 ± 8.8 points per run against the defaults, lower in all 4, and the language
            model still answered "still" for the held-out classes' moving limbs (5.7 % of them
            right, seed 0, second split): off.
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
    downsample_ratio: float = 1.0
    vision_hidden: int | None = None
    vision_layers: int | None = None
    vocab_size: int = 1024
    vision_steps: int = 2400
    vision_lr: float = 1e-3
    short_steps: int = 1800
    language_steps: int = 3600
    language_lr: float = 3e-3
    batch_size: int = 6
    language_batch_size: int | None = None
    visual_scale: float = 8.0
    mqa_items: int = 2
    mqa_options: int = 0
    attribute_options: tuple[int, ...] = (4,)
    word_checks: bool = False
    head_pool: str = "frames"
    class_head: bool = True
    shared_movement: float = 0.0
    pose_weight: float = 0.0
    other_motions: int = 0
    other_language: bool = True
    joint_language: bool = False
    joint_vision_lr: float = 1e-4
    language_token_noise: float = 0.0
    motion_questions: int = 0
    motion_span: str = "pair"
    free_motions: int = 0

    def __post_init__(self):
        if self.head_pool not in POOLS:
            raise ValueError(f"head_pool must be one of {', '.join(POOLS)}, got '{self.head_pool}'")
        # one count is one way of asking (the sweep's first records gave ``attribute_options=0``)
        counts = self.attribute_options
        self.attribute_options = (counts,) if isinstance(counts, int) else tuple(counts)
        if not self.attribute_options or any(n < 0 or n == 1 for n in self.attribute_options):
            raise ValueError(f"attribute_options: counts of values offered (0 = all, else at least 2), got {counts!r}")
        if self.motion_span not in MOTION_SPANS:
            raise ValueError(f"motion_span must be one of {', '.join(MOTION_SPANS)}, got '{self.motion_span}'")
        if self.free_motions < 0:
            raise ValueError(f"free_motions: clips (0 = off), got {self.free_motions!r}")
        if self.motion_questions < 0:
            raise ValueError(f"motion_questions: questions per clip (0 = off), got {self.motion_questions!r}")
        if self.other_motions < 0:
            raise ValueError(f"other_motions: clips per class (0 = off), got {self.other_motions!r}")
        if self.mqa_options < 0 or self.mqa_options == 1:
            raise ValueError(f"mqa_options: classes offered (0 = all seen, else at least 2), got {self.mqa_options!r}")

    def to_dict(self) -> dict:
        return asdict(self)


def frame_tokens_words(image_size: int, patch_size: int, downsample_ratio: float) -> str:
    """``"four tokens per frame (no pixel shuffle)"`` / ``"one token per frame (pixel shuffle)"``."""
    n = round((image_size * downsample_ratio / patch_size) ** 2)
    words = {1: "one", 4: "four", 16: "sixteen"}.get(n, str(n))
    return f"{words} token{'s' if n != 1 else ''} per frame ({'no ' if downsample_ratio == 1 else ''}pixel shuffle)"


def options_words(counts) -> str:
    """How the language phase's attribute questions offer their options (``attribute_options``):
    ``[4]`` -> ``"4 values"``, ``[0]`` -> ``"all values"``, ``[4, 0]`` -> ``"4 values and all values"``."""
    return " and ".join(f"{n} values" if n else "all values" for n in counts)


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


__all__ = ["FAIR_RENDERERS", "INITIAL_RENDERER", "MOTION_SPANS", "POOLS", "POOL_WORDS", "RESULT_FILE", "PretrainResult",
           "PretrainSettings", "frame_tokens_words", "options_words"]
