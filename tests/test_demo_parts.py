"""Pieces of the demo's renderer study that need no training: the head start's renderer mix, the
fixed renderers' anti-aliasing, the NFM saliency picture, the answer spread and per-kind accuracy."""
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
