"""Pieces of the demo's renderer study that need no training: the head start's renderer mix, the
fixed renderers' anti-aliasing, the NFM saliency picture, the answer spread and per-kind accuracy."""
import dataclasses
import json

import numpy as np
import pytest
import torch

from skeletonllm.skeleton import collate_sequences
from skeletonllm.synth import SyntheticMotionSet


@pytest.fixture(scope="module")
def batch():
    ds = SyntheticMotionSet(num_per_class=3, seed=0, classes=["wave left hand", "cross left arm over right"])
    return collate_sequences([s.sequence("ntu25") for s in ds], num_frames=4, max_bodies=2)


def test_style_mix_gives_every_renderer_an_equal_share(batch):
    from skeletonllm.demo.pretrain import PretrainSettings, StyleMix, renderer_options
    from skeletonllm.render.fixed import build_renderer
    from skeletonllm.skeleton.batch import SkeletonBatch

    settings = PretrainSettings(image_size=28)
    mix = StyleMix(settings, seed=5)
    first = mix(batch)                                   # 6 clips over 4 renderers: 2, 2, 1, 1
    assert first.shape == (6, 4, 3, 28, 28) and mix.counts == [2, 2, 1, 1]
    mix(batch)                                           # the turn goes on where it stopped
    assert mix.counts == [3, 3, 3, 3]
    # Clip 1 of the first batch was drawn by the second renderer (projection) with the demo's options.
    one = SkeletonBatch(batch.joints[1:2], batch.present[1:2], batch.topology, batch.orientations[1:2])
    own = build_renderer("projection", **renderer_options(settings, "projection"))
    assert torch.equal(first[1], own(one)[0])
    # The same seed gives the same DrAction again (the weights the DrAction arms start from).
    again = StyleMix(settings, seed=5).draction().state_dict()
    assert all(torch.equal(v, again[k]) for k, v in mix.draction().state_dict().items())


def test_supersampling_is_the_large_drawing_averaged_down(batch):
    from skeletonllm.render.fixed import VelocityRenderer

    small = VelocityRenderer(image_size=28, auto_frame=True, frame_fill=1.1, supersample=4)
    # The same widths in pixels of the 28 px frame: a line radius of 1 px there is 4 px at 112.
    large = VelocityRenderer(image_size=112, auto_frame=True, frame_fill=1.1, line_width=8 / 112, joint_radius=4 / 112)
    a, b = small(batch), large(batch)
    assert a.shape == (6, 4, 3, 28, 28)
    expect = torch.nn.functional.avg_pool2d(b.flatten(0, 1), 4).view_as(a)
    torch.testing.assert_close(a, expect)
    # Anti-aliased: the white stick figure's edge pixels take grey levels between black and white.
    from skeletonllm.render.fixed import ProjectionRenderer
    plain = ProjectionRenderer(image_size=28, auto_frame=True, frame_fill=1.1)(batch)
    smooth = ProjectionRenderer(image_size=28, auto_frame=True, frame_fill=1.1, supersample=4)(batch)
    assert set(torch.unique(plain).tolist()) == {0.0, 1.0}
    assert len(torch.unique(smooth)) == 17                 # 0, 1/16, ..., 1: coverage of a 4 x 4 block
    with pytest.raises(ValueError):
        VelocityRenderer(image_size=28, supersample=0)


def test_jtm_minimum_brightness_lifts_slow_trajectories(batch):
    from skeletonllm.render.fixed import JTMRenderer

    dim = JTMRenderer(image_size=56, min_brightness=0.35)(batch).sum(2)
    bright = JTMRenderer(image_size=56, min_brightness=0.6)(batch).sum(2)
    dim[..., 28:, 28:], bright[..., 28:, 28:] = 0, 0             # the white pose panel: not a trajectory
    drawn = dim > 0
    assert torch.equal(drawn, bright > 0)                              # the same pixels ...
    assert (bright[drawn] >= dim[drawn] - 1e-6).all() and bright[drawn].mean() > 1.15 * dim[drawn].mean()  # brighter


def test_nfm_saliency_picture(batch):
    from skeletonllm.render import DrAction, DrActionConfig

    torch.manual_seed(0)
    r = DrAction(DrActionConfig(image_size=32, auto_frame=True))
    with torch.no_grad():
        sal, open_frames = r.render_saliency(batch), r(batch)
        r.nfm.mlp[-1].bias[4] = -3.0                      # close the gate: sigmoid(-3) ~ 0.05
        shut, frames = r.render_saliency(batch), r(batch)
    assert sal.shape == (6, 4, 3, 32, 32) and float(sal.max()) <= 1.0
    # Grey: the three channels agree; an untrained gate is open (sigmoid(3) ~ 0.95), a shut one dark,
    # while the figure stays drawn (opacity before the gate).
    torch.testing.assert_close(sal[:, :, 0], sal[:, :, 1])
    assert 0.8 < float(sal.max()) < 0.96 and float(shut.max()) < 0.06 and (shut.sum(2) > 0).sum() == (sal.sum(2) > 0).sum()
    assert float(frames.sum()) < 0.5 * float(open_frames.sum())     # the image itself fades with the gate
    with pytest.raises(ValueError, match="NFM"):
        DrAction(DrActionConfig(image_size=32, use_nfm=False)).render_saliency(batch)


def test_answer_spread_and_kind_accuracy(tmp_path):
    from skeletonllm.demo.evaluate import answer_spread, kind_accuracy

    lines = [{"header": {"candidates": ["a", "b", "c"]}}] + [
        {"id": str(i), "label": "a", "prediction": p} for i, p in enumerate(["b", "b", "b", "a"])]
    (tmp_path / "predictions.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    assert answer_spread(tmp_path) == {"distinct": 2, "candidates": 3, "most_common": "b", "most_common_share": 0.75}
    per_class = {"stretch left arm forward": {"top1": 0.5, "num_samples": 4},     # depth
                 "step back with left leg": {"top1": 1.0, "num_samples": 2},       # depth
                 "wave left hand": {"top1": 0.25, "num_samples": 4},               # speed (the quick wave)
                 "kick left leg": {"top1": 0.0, "num_samples": 3}}                 # other
    got = kind_accuracy(per_class)
    assert set(got) == {"depth", "speed", "other"}
    assert got["depth"] == {"top1": pytest.approx((0.5 * 4 + 1.0 * 2) / 6), "num_samples": 6}
    assert got["speed"]["top1"] == 0.25 and got["other"] == {"top1": 0.0, "num_samples": 3}
    assert np.isclose(sum(v["num_samples"] for v in got.values()), 13)


def test_the_head_start_sees_no_unseen_class_or_clip(tmp_path, monkeypatch):
    """Every clip the head start draws, every class its heads name and every prompt and target its
    language model is trained on come from the seen classes and the other motions (classes outside
    the split); an unseen clip is refused, and so is a seen clip passed as another motion."""
    from skeletonllm.demo import pretrain as PT
    from skeletonllm.demo.data import other_motion_clips
    from skeletonllm.mllm.model import SkeletonLLM
    from skeletonllm.synth import SyntheticMotionSet
    from skeletonllm.synth.free_motion import FREE_MOTION

    ds = SyntheticMotionSet.for_split("synth_31_13", num_per_class=1, seed=0)
    seen, unseen = list(ds.split.seen), list(ds.split.unseen)
    train = [ds[i] for i in ds.seen_indices()]
    drawn, texts, heads = [], [], []
    bank_init, heads_init, forward = PT.FrameBank.__init__, PT.AttributeHeads.__init__, SkeletonLLM.forward

    def spy_bank(self, mix, samples, *a, **k):
        drawn.extend(s.label for s in samples)
        return bank_init(self, mix, samples, *a, **k)

    def spy_heads(self, dim, vocab, *a, **k):
        heads_init(self, dim, vocab, *a, **k)
        heads.extend([*self.classes, *(v for values in vocab.values() for v in values)])

    def spy_forward(self, skeletons, prompts, targets=None, **k):
        texts.extend([*([prompts] if isinstance(prompts, str) else prompts), *(targets or [])])
        return forward(self, skeletons, prompts, targets, **k)

    monkeypatch.setattr(PT.FrameBank, "__init__", spy_bank)
    monkeypatch.setattr(PT.AttributeHeads, "__init__", spy_heads)
    monkeypatch.setattr(SkeletonLLM, "forward", spy_forward)
    settings = PT.PretrainSettings(vision_steps=2, short_steps=2, language_steps=6, batch_size=4, variants=1,
                                   class_head=True, pose_weight=1.0, head_pool="tokens", motion_questions=8,
                                   free_motions=3)
    others = other_motion_clips(ds, 1)
    other_names = {s.label for s in others}
    PT.pretrain_backbone(train, seen, settings, tmp_path / "backbone", seed=0, progress=False, other_samples=others)
    assert drawn and set(drawn) == set(seen) | other_names | {FREE_MOTION}      # free motion: no class
    assert set(seen) | other_names <= set(heads) and not set(heads) & set(unseen)
    assert {"hop", "nod", "head"} <= set(heads)                           # the other motions' words
    assert texts and not any(name in text for text in texts for name in unseen)
    assert any("Where does the" in text for text in texts)                # the motion questions were asked
    with pytest.raises(ValueError, match="not a seen class"):
        PT.pretrain_backbone(train + [ds[ds.unseen_indices()[0]]], seen, settings, tmp_path / "other", progress=False)
    # ``other_language`` off: the other motions are drawn for the heads, never spoken of.
    drawn.clear(), texts.clear()
    quiet = PT.pretrain_backbone(train, seen, dataclasses.replace(settings, other_language=False),
                                 tmp_path / "quiet", seed=0, progress=False, other_samples=others)
    assert set(drawn) == set(seen) | other_names | {FREE_MOTION}
    assert quiet.corpus_size == len(PT.tokenizer_corpus(train, seen, motion_span="pair"))
    assert not any(name in text for text in texts for name in other_names)
    with pytest.raises(ValueError, match="seen classes among the other motions"):
        PT.pretrain_backbone(train, seen, settings, tmp_path / "other", progress=False, other_samples=train[:1])


def test_other_motions_are_every_class_outside_the_split():
    """``other_motion_clips``: ``per_class`` clips of each catalogue class that is neither seen nor
    unseen, the same clips again for the same set, and the language phase asks them no recognition
    question (none offers their class) while their words join the attribute questions' options."""
    from skeletonllm.demo.data import other_motion_clips
    from skeletonllm.demo.pretrain_targets import language_items
    from skeletonllm.mllm import prompts as P
    from skeletonllm.synth import ACTION_CLASSES, SyntheticMotionSet

    ds = SyntheticMotionSet.for_split("synth_31_13", num_per_class=1, seed=3)
    clips = other_motion_clips(ds, 2)
    names = [c.label for c in clips]
    assert set(names) == set(ACTION_CLASSES) - set(ds.split.classes) and len(names) == 2 * len(set(names))
    assert not set(names) & (set(ds.split.seen) | set(ds.split.unseen))
    assert [c.k for c in clips[:2]] == [0, 1] and len({c.index for c in clips}) == len(clips)
    again = other_motion_clips(ds, 2)
    assert all(np.array_equal(a.sequence("ntu25").joints, b.sequence("ntu25").joints) for a, b in zip(clips, again))
    assert other_motion_clips(ds, 0) == []

    seen = list(ds.split.seen)
    train = [ds[i] for i in ds.seen_indices()]
    others = sorted(set(names))
    _, long = language_items(train + clips, seen, np.random.default_rng(0), mqa=1, others=others)
    recognition = [(seq.label, t) for seq, p, t in long if "Which action does the person perform" in p]
    assert {label for label, _ in recognition} == set(seen)              # the seen clips only
    assert all(t == P.mqa_target(label) for label, t in recognition)
    movement = [(seq.label, p) for seq, p, _ in long if "Which movement" in p]
    assert any("hop" in p for _, p in movement)                           # options: seen and other words
    assert {label for label, _ in movement} == set(seen) | set(names)


def test_length_batches_keep_every_prompt_equally_likely():
    from skeletonllm.demo.pretrain import LengthBatches

    prompts = ["short"] * 30 + ["a much longer prompt " * 20] * 10
    batches = LengthBatches(prompts, size=4)
    rng = np.random.default_rng(0)
    counts = np.zeros(len(prompts))
    for _ in range(4000):
        idx = batches.draw(rng)
        assert len(set(len(prompts[i]) for i in idx)) == 1 and len(idx) == 4     # one length per batch
        counts[idx] += 1
    share = counts / counts.sum()
    np.testing.assert_allclose(share, 1 / len(prompts), rtol=0.2)


def test_pose_targets_are_centred_and_scaled_per_clip(batch):
    from skeletonllm.demo.pretrain import pose_targets

    t = pose_targets(batch)
    assert t.shape == (6, 4, 25 * 3)
    present = batch.present[:, :, 0].float()[..., None, None]          # frames where the first body is there
    x = t.reshape(6, 4, 25, 3)
    assert torch.all((x * (1 - present)) == 0)                            # absent frames: zeros
    count = present.sum((1, 2, 3)) * 25
    torch.testing.assert_close((x * present).sum((1, 2)) / count[:, None], torch.zeros(6, 3), atol=1e-5, rtol=0)
    torch.testing.assert_close(x.pow(2).sum((1, 2, 3)) / (3 * count), torch.ones(6), atol=1e-4, rtol=0)
    # A shifted and enlarged copy of the same motion gives the same targets.
    from skeletonllm.skeleton.batch import SkeletonBatch
    moved = SkeletonBatch(batch.joints * 3.0 + 1.5, batch.present, batch.topology, batch.orientations)
    torch.testing.assert_close(pose_targets(moved), t, atol=1e-4, rtol=0)


def test_the_shared_movement_head_reads_a_movement_wherever_it_is_drawn():
    """The shared head scores a clip by the log-sum-exp of its token positions' scores: moving what
    a position shows to another position leaves its loss unchanged, the joint head's changes; the
    head adds its loss times its weight, and is absent at weight 0."""
    from skeletonllm.demo.pretrain_model import AttributeHeads
    from skeletonllm.demo.pretrain_targets import Attributes

    vocab = {"movement": ["swing", "kick", "raise"], "side": ["left", "right"], "part": ["arm", "leg"]}
    atts = [Attributes("swing", "left", "arm", (True, False, False, False)),
            Attributes("kick", "right", "leg", (False, False, False, True))]
    torch.manual_seed(0)
    heads = AttributeHeads(4, vocab, "frames", num_tokens=6, tokens_per_frame=2, shared_movement=2.0)
    x = torch.randn(2, 3, 2, 4)                                              # (B, F, T, D): 3 frames, 2 positions
    swapped = x[:, :, [1, 0]]                                                # each frame's positions exchanged
    shared = lambda t: heads.shared_movement(heads._positions(t)).logsumexp(1)  # noqa: E731
    torch.testing.assert_close(shared(swapped.reshape(2, 6, 4)), shared(x.reshape(2, 6, 4)))
    joint = heads.heads["movement"]
    assert not torch.allclose(joint(heads._pool(swapped.reshape(2, 6, 4))), joint(heads._pool(x.reshape(2, 6, 4))))
    without = AttributeHeads(4, vocab, "frames", num_tokens=6, tokens_per_frame=2)
    assert without.shared_movement is None
    without.load_state_dict({k: v for k, v in heads.state_dict().items() if not k.startswith("shared_movement")})
    tokens = x.reshape(2, 6, 4)
    norm = tokens - tokens.mean((0, 1), keepdim=True)
    norm = norm / norm.pow(2).mean(-1, keepdim=True).add(1e-6).sqrt()
    extra = torch.nn.functional.cross_entropy(shared(norm), torch.tensor([0, 1]))
    torch.testing.assert_close(heads(tokens, atts), without(tokens, atts) + 2.0 * extra)


def test_the_report_names_the_head_starts_optional_targets():
    from skeletonllm.demo.pretrain_settings import PretrainSettings
    from skeletonllm.demo.report_method import vision_heads_words

    default = vision_heads_words(PretrainSettings())
    assert default == ("movement / side / part / moving-limb / seen-class heads reading each token position's "
                       "mean over frames")
    shared = vision_heads_words(PretrainSettings(shared_movement=0.5, class_head=False))
    assert shared.endswith("a movement head shared by the token positions (weight 0.5)") and "seen-class" not in shared
    assert "/ seen- and other-class heads" in vision_heads_words(PretrainSettings(other_motions=10))


def test_frame_pooled_heads_keep_where_in_the_frame_and_lose_frame_order():
    from skeletonllm.demo.pretrain_model import AttributeHeads

    def heads(pool, **k):
        return AttributeHeads(2, {"side": ["left", "right"]}, pool, num_tokens=6, **k)

    # Three frames of two tokens each: position 0 holds 1, position 1 holds 2 (frame-major order).
    x = torch.tensor([[1.0, 1.0], [2.0, 2.0]]).repeat(3, 1)[None]              # (1, 6, 2)
    assert heads("frames", tokens_per_frame=2)._pool(x).tolist() == [[1.0, 1.0, 2.0, 2.0]]
    assert heads("mean")._pool(x).tolist() == [[1.5, 1.5]]                   # position lost
    shuffled = x.view(1, 3, 2, 2)[:, [2, 0, 1]].reshape(1, 6, 2)             # frames in another order
    by_frames = heads("frames", tokens_per_frame=2)
    assert torch.equal(by_frames._pool(shuffled), by_frames._pool(x))
    assert torch.equal(heads("frames")._pool(x), heads("mean")._pool(x))      # one token per frame: the mean
    with pytest.raises(ValueError, match="whole frames"):
        heads("frames", tokens_per_frame=4)
    with pytest.raises(ValueError, match="'frames'"):
        heads("max")
    from skeletonllm.demo.pretrain_settings import PretrainSettings
    with pytest.raises(ValueError, match="head_pool must be one of mean, tokens, frames"):
        PretrainSettings(head_pool="max")                                   # refused before anything is built


def test_motion_pooled_heads_add_how_much_each_position_changes():
    from skeletonllm.demo.pretrain_model import AttributeHeads

    heads = AttributeHeads(2, {"side": ["left", "right"]}, "frames_motion", num_tokens=6, tokens_per_frame=2)
    # Three frames of two tokens: position 0 still at 1, position 1 going 0 -> 2 -> 1.
    x = torch.tensor([[[1.0, 1.0], [0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [1.0, 1.0], [1.0, 1.0]]])
    assert heads._pool(x).tolist() == [[1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 1.5, 1.5]]   # means, then mean |change|
    assert heads.heads["side"].in_features == 8
    reversed_frames = x.view(1, 3, 2, 2).flip(1).reshape(1, 6, 2)             # order matters for neither
    assert torch.equal(heads._pool(reversed_frames), heads._pool(x))
    still = x.view(1, 3, 2, 2)[:, [1, 1, 1]].reshape(1, 6, 2)
    assert heads._pool(still)[0, 4:].abs().sum() == 0                        # nothing moves: no change
    one_frame = AttributeHeads(2, {"side": ["left", "right"]}, "frames_motion", num_tokens=2, tokens_per_frame=2)
    assert one_frame._pool(x[:, :2]).tolist() == [[1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]]
    from skeletonllm.demo.pretrain_targets import Attributes
    atts = [Attributes("swing", "left", "arm", (True, False, False, False)),
            Attributes("swing", "right", "arm", (False, True, False, False))]
    assert torch.isfinite(heads(x.repeat(2, 1, 1), atts))


def test_token_noise_is_added_to_every_value_from_its_own_generator():
    from skeletonllm.demo.pretrain import with_token_noise
    from skeletonllm.mllm.backbones import VisualTokens

    visual = VisualTokens(embeds=torch.full((4, 32, 64), 3.0), num_frames=8)
    a = with_token_noise(visual, 0.5, torch.Generator().manual_seed(1))
    b = with_token_noise(visual, 0.5, torch.Generator().manual_seed(1))
    assert a.embeds.shape == (4, 32, 64) and a.num_frames == 8 and torch.equal(a.embeds, b.embeds)
    change = a.embeds - 3.0
    assert abs(change.mean().item()) < 0.03 and abs(change.std().item() - 0.5) < 0.03
    assert torch.equal(visual.embeds, torch.full((4, 32, 64), 3.0))          # the input is left as it was
    state = torch.random.get_rng_state()
    with_token_noise(visual, 0.5, torch.Generator().manual_seed(2))
    assert torch.equal(state, torch.random.get_rng_state())                  # the global generator is untouched


def test_the_curriculum_can_keep_asking_the_attribute_questions():
    """``attribute_qa``: every training clip brings one attribute question in turn (the k-th clip of
    its class asks the k mod 3-th), all values offered in the evaluation's order, the clip's own
    value the answer; the other QA and the captions are those of the run without it."""
    from skeletonllm.demo.data import _training_data
    from skeletonllm.demo.pretrain_targets import ATTRIBUTE_QUESTIONS, attribute_vocab, attributes

    ds = SyntheticMotionSet.for_split("synth_31_13", num_per_class=3, seed=0)
    train = [ds[i] for i in ds.seen_indices()]
    plain, asked = _training_data(train, ds), _training_data(train, ds, attribute_questions=True)
    vocab = attribute_vocab(ds.split.seen)
    for s, a, b in zip(train, plain.sequences, asked.sequences):
        question, key = ATTRIBUTE_QUESTIONS[s.k % 3]
        assert b.metadata["qa"] == a.metadata["qa"] + [
            {"question": question, "options": vocab[key], "answer": getattr(attributes(s), key)}]
        assert b.metadata["captions"] == a.metadata["captions"]
    keys = {ATTRIBUTE_QUESTIONS[s.k % 3][1] for s in train}
    assert keys == {"movement", "side", "part"}


def test_the_arms_are_handed_out_so_that_two_workers_finish_together():
    from skeletonllm.demo.ablation import ARMS
    from skeletonllm.demo.pipeline import arm_order

    everything = list(ARMS)             # the settings' order: draction, no NFM, velocity, projection, jtm, sugar
    assert arm_order(everything) == ["sugar", "draction", "draction_no_nfm", "velocity", "jtm", "projection"]
    assert arm_order(["jtm", "projection", "draction"]) == ["draction", "projection", "jtm"]
    assert arm_order(["jtm", "velocity"]) == ["velocity", "jtm"]
    assert arm_order(["jtm"]) == ["jtm"] and arm_order(["velocity", "draction"]) == ["draction", "velocity"]


def _standing_pose(frames: int = 8) -> np.ndarray:
    """``(F, 25, 3)`` NTU-25 joints of a body standing still, facing -z (its left at +x)."""
    pose = np.zeros((frames, 25, 3))
    pose[:, 12], pose[:, 16] = (0.2, 0.0, 0.0), (-0.2, 0.0, 0.0)                  # hips
    pose[:, 14], pose[:, 18] = (0.2, -1.0, 0.0), (-0.2, -1.0, 0.0)                # ankles
    pose[:, 15], pose[:, 19] = (0.2, -1.0, -0.1), (-0.2, -1.0, -0.1)              # feet, pointing ahead
    pose[:, 7], pose[:, 11] = (0.4, -0.2, 0.0), (-0.4, -0.2, 0.0)                 # hands
    return pose


def test_a_motion_question_is_answered_from_the_frames_it_names():
    """Where a hand or foot goes between two frames, in the body's own directions (its left is
    the camera's right here, and out is away from the midline on either side); the frames are
    drawn among those that hold a body, and the options are every direction."""
    from skeletonllm.demo.pretrain_targets import DIRECTIONS, MotionQuestion, limb_direction
    from skeletonllm.mllm.prompts import parse_label

    pose = _standing_pose()
    pose[3:, 7] += (0.0, 1.0, 0.0)            # the left hand goes up at frame 3
    pose[5:, 11] += (-0.6, 0.0, 0.0)          # the right hand goes out (to the body's right) at frame 5
    pose[6:, 19] += (0.0, 0.1, -0.8)          # the right foot goes forward at frame 6
    assert limb_direction(pose, "left arm", 0, 2) == "still"
    assert limb_direction(pose, "left arm", 2, 3) == "up" and limb_direction(pose, "left arm", 0, 7) == "up"
    assert limb_direction(pose, "right arm", 1, 6) == "out" and limb_direction(pose, "right arm", 1, 4) == "still"
    assert limb_direction(pose, "right leg", 0, 7) == "forward" and limb_direction(pose, "left leg", 0, 7) == "still"
    back = pose[::-1].copy()                  # the same clip played backwards
    assert limb_direction(back, "left arm", 0, 7) == "down" and limb_direction(back, "right arm", 0, 7) == "in"
    assert limb_direction(back, "right leg", 0, 7) == "back"
    present = np.array([False, True, False, False, True, False, False, False])
    rng = np.random.default_rng(0)
    for _ in range(5):
        prompt, target = MotionQuestion("left arm").ask(pose, present, rng)
        assert "Where does the left hand go from Frame2 to Frame5?" in prompt and target.endswith(" up")
        assert parse_label(target, DIRECTIONS) == "up" and all(f" {d}" in prompt for d in DIRECTIONS)
    assert MotionQuestion("right leg").ask(pose, present, rng)[1].endswith(" still")
    assert MotionQuestion("right leg").ask(pose, np.eye(8, dtype=bool)[0], rng)[1].endswith(" still")
    # the farthest span: from the first frame with a body to where the hand is farthest, no frame named
    pose[6:, 7] += (0.0, 0.5, 0.0)
    assert MotionQuestion("left arm", "farthest").frames(pose, present, rng) == (1, 4)
    assert MotionQuestion("left arm", "farthest").frames(pose, np.ones(8, bool), rng) == (0, 6)
    prompt, target = MotionQuestion("left arm", "farthest").ask(pose, np.ones(8, bool), rng)
    assert "Where does the left hand go?" in prompt and "Frame1 to" not in prompt and target.endswith(" up")
    assert MotionQuestion("left leg", "farthest").ask(pose, np.ones(8, bool), rng)[1].endswith(" still")
