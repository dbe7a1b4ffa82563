"""DrAction end to end: contract, cross-topology sharing, gradients, edge cases, persistence."""
import json

import numpy as np
import pytest
import torch

from skeletonllm.errors import ConfigError
from skeletonllm.render import DrAction, DrActionConfig
from skeletonllm.render.demo import demo_sequence
from skeletonllm.skeleton import SkeletonBatch, SkeletonSequence, collate_sequences, get_topology
from skeletonllm.skeleton.topology import Topology

S = 48  # small frames keep the suite fast; the geometry is resolution independent


def small(**kw):
    torch.manual_seed(0)
    return DrAction(DrActionConfig(image_size=S, **kw))


def batch_of(topo="ntu25", frames=4, bodies=1, orient=False, num_frames=4):
    return collate_sequences([demo_sequence(topo, frames, bodies=bodies, with_orientations=orient)], num_frames)


def test_contract_shape_range_and_visible_default():
    r = small()
    out = r(batch_of(frames=6, num_frames=3))
    assert out.shape == (1, 3, 3, S, S)
    assert out.min() >= 0 and out.max() <= 1 + 1e-6
    # The untrained default draws a bright figure: a fair share of lit pixels, some of them bright.
    lit = (out.amax(2) > 0.1).float().mean()
    assert lit > 0.03 and out.amax() > 0.6


def test_one_renderer_for_four_topologies_same_parameters():
    r = small()
    n_params = sum(p.numel() for p in r.parameters())
    keys = set(r.state_dict())
    for topo in ("ntu25", "kinect_v1_20", "smpl22", "coco17"):
        out = r(batch_of(topo))
        assert out.shape == (1, 4, 3, S, S) and torch.isfinite(out).all()
        assert (out > 0.1).any(), topo
    assert sum(p.numel() for p in r.parameters()) == n_params and set(r.state_dict()) == keys
    # No learnable tensor is sized by a topology's Gaussian count.
    counts = {25 + 240, 20 + 190, 22 + 210, 17 + 190}
    assert not any(d in counts for p in r.parameters() for d in p.shape)


@pytest.mark.parametrize("use_nfm,use_gru,orient", [(True, True, True), (True, False, False), (False, False, True)])
def test_gradient_reaches_every_parameter_and_the_joints(use_nfm, use_gru, orient):
    r = small(use_nfm=use_nfm, use_gru=use_gru)
    assert (r.nfm is not None) == use_nfm
    if use_nfm:
        assert (r.nfm.gru is not None) == use_gru
    b = batch_of(orient=orient)
    b.joints.requires_grad_(True)
    out = r(b)
    (out * torch.linspace(0, 1, out.numel()).view(out.shape)).sum().backward()
    for name, p in r.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name
    assert torch.isfinite(b.joints.grad).all() and b.joints.grad.abs().sum() > 0


def test_fast_and_dense_rasterisers_agree_end_to_end():
    b = batch_of(bodies=2, orient=True, num_frames=2)
    torch.manual_seed(0)
    r_fast = DrAction(DrActionConfig(image_size=20))
    r_dense = DrAction(DrActionConfig(image_size=20, rasterizer="dense"))
    r_dense.load_state_dict(r_fast.state_dict())
    a, d = r_fast(b), r_dense(b)
    assert torch.allclose(a, d, atol=1e-5)
    ga = torch.autograd.grad(a.square().sum(), list(r_fast.parameters()))
    gd = torch.autograd.grad(d.square().sum(), list(r_dense.parameters()))
    for x, y in zip(ga, gd):
        assert torch.allclose(x, y, atol=1e-4, rtol=1e-3)


def test_absent_bodies_and_empty_frames_draw_nothing():
    r = small()
    one = batch_of(bodies=1)
    two = batch_of(bodies=2)
    two.joints[:, :, 0] = one.joints[:, :, 0]
    two.present[:, :, 1] = False
    two.joints[:, :, 1] = 0.0                      # what an absent body holds
    assert torch.allclose(r(two), r(one), atol=1e-6)
    # A frame with no body at all is background, the others are unaffected.
    gap = batch_of(bodies=1)
    gap.present[:, 2] = False
    out = r(gap)
    assert torch.isfinite(out).all() and (out[:, 2] == 0).all() and (out[:, 1] > 0).any()


def test_degenerate_inputs_stay_finite():
    r = small()
    # One frame, zero-length bones (all joints at one point), joints behind the camera.
    topo = get_topology("ntu25")
    j = np.zeros((1, 1, 25, 3), np.float32)
    j[..., 2] = 2.0
    seqs = [SkeletonSequence(j, np.ones((1, 1), bool), topo)]
    k = demo_sequence("ntu25", 3).joints.copy()
    k[:, :, :5, 2] = -5.0                           # some joints far behind the camera
    k[:, :, 5:, 2] += 3.0                           # the rest in front (no depth shift)
    seqs.append(SkeletonSequence(k, np.ones((3, 1), bool), topo))
    for seq in seqs:
        b = collate_sequences([seq], 3)
        b.joints.requires_grad_(True)
        out = r(b)
        assert torch.isfinite(out).all()
        out.sum().backward()
        assert torch.isfinite(b.joints.grad).all()
        assert all(torch.isfinite(p.grad).all() for p in r.parameters() if p.grad is not None)
        r.zero_grad()


def test_orientations_identity_gives_translation_only_result():
    r = small()
    plain = batch_of(orient=False)
    ident = batch_of(orient=False)
    ident.orientations = torch.zeros(*ident.joints.shape[:-1], 4)
    ident.orientations[..., 0] = 1.0
    assert torch.allclose(r(plain), r(ident), atol=1e-5)


def test_head_up_and_plus_x_to_the_right():
    topo = Topology("probe", ("head", "neck"), ((0, 1),), ("head", "head"))
    joints = np.zeros((1, 1, 2, 3), np.float32)
    joints[0, 0, 0] = (0.6, 0.6, 3.0)              # head up and to the viewer's right
    joints[0, 0, 1] = (0.6, 0.45, 3.0)
    r = small()
    out = r(collate_sequences([SkeletonSequence(joints, np.ones((1, 1), bool), topo)], 1))[0, 0].sum(0)
    ys, xs = torch.nonzero(out > 0.2, as_tuple=True)
    assert xs.float().mean() > S * 0.6 and ys.float().mean() < S * 0.4


def test_render_sequences_groups_topologies_in_order():
    r = small()
    seqs = [demo_sequence("coco17", 5), demo_sequence("ntu25", 7, bodies=2), demo_sequence("coco17", 3)]
    out = r.render_sequences(seqs, num_frames=2)
    assert out.shape == (3, 2, 3, S, S)
    assert torch.allclose(out[1], r(collate_sequences([seqs[1]], 2))[0], atol=1e-6)
    assert torch.allclose(out[2], r(collate_sequences([seqs[2]], 2))[0], atol=1e-6)


def test_save_and_load_pretrained(tmp_path):
    r = small(use_gru=False, alpha=0.2)
    with torch.no_grad():
        r.mix_logit.fill_(0.7)
    (tmp_path / "other.txt").write_text("kept")
    r.save_pretrained(tmp_path)
    assert (tmp_path / "renderer.safetensors").is_file() and (tmp_path / "other.txt").is_file()
    cfg = json.loads((tmp_path / "renderer_config.json").read_text())
    assert cfg["alpha"] == 0.2 and cfg["use_gru"] is False
    back = DrAction.from_pretrained(tmp_path)
    b = batch_of()
    assert torch.equal(back(b), r(b))
    assert DrAction.from_pretrained(tmp_path, image_size=32)(b).shape[-1] == 32
    with pytest.raises(FileNotFoundError, match="renderer_config.json"):
        DrAction.from_pretrained(tmp_path / "missing")
    (tmp_path / "renderer_config.json").write_text(json.dumps({**cfg, "colour": 3}))
    with pytest.raises(ConfigError, match="colour"):
        DrAction.from_pretrained(tmp_path)


def test_config_validation():
    with pytest.raises(ConfigError, match="rasterizer"):
        DrActionConfig(rasterizer="gpu")
    with pytest.raises(ValueError, match="joints"):
        small()(SkeletonBatch(torch.zeros(1, 2, 1, 5, 3), torch.ones(1, 2, 1, dtype=torch.bool), get_topology("coco17")))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu():
    r = small()
    b = batch_of(orient=True)
    cpu = r(b)
    gpu = r.to("cuda")(b.to("cuda"))
    assert torch.allclose(gpu.cpu(), cpu, atol=1e-4)
