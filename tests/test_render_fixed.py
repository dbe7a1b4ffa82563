"""Fixed baseline renderers: same contract as DrAction, batched, parameter-free."""
import numpy as np
import pytest
import torch

from skeletonllm.render import DrAction
from skeletonllm.render.demo import demo_sequence
from skeletonllm.render.fixed import (JTMRenderer, ProjectionRenderer, VelocityRenderer, build_renderer,
                                      draw_segments)
from skeletonllm.skeleton import SkeletonSequence, collate_sequences
from skeletonllm.skeleton.topology import Topology

S = 64


@pytest.mark.parametrize("name,cls", [("velocity", VelocityRenderer), ("projection", ProjectionRenderer),
                                      ("jtm", JTMRenderer)])
@pytest.mark.parametrize("topo,bodies", [("ntu25", 2), ("coco17", 1)])
def test_fixed_renderers_contract(name, cls, topo, bodies):
    r = build_renderer(name, image_size=S)
    assert isinstance(r, cls) and not list(r.parameters())
    seqs = [demo_sequence(topo, 6, bodies=bodies), demo_sequence(topo, 9, bodies=bodies)]
    b = collate_sequences(seqs, 4)
    b.present[1, 2] = False                                 # a frame without anyone
    out = r(b)
    assert out.shape == (2, 4, 3, S, S)
    assert out.min() >= 0 and out.max() <= 1 and torch.isfinite(out).all()
    assert (out[:, :2] > 0.2).float().mean() > 0.01         # something is drawn
    if name != "jtm":
        assert (out[1, 2] == 0).all()                       # nobody, nothing drawn


def test_build_renderer_names():
    assert isinstance(build_renderer("draction", image_size=32), DrAction)
    with pytest.raises(ValueError, match="unknown renderer"):
        build_renderer("heatmap")


def test_projection_orientation():
    topo = Topology("probe", ("head", "neck"), ((0, 1),), ("head", "head"))
    j = np.zeros((1, 1, 2, 3), np.float32)
    j[0, 0, 0] = (0.6, 0.6, 3.0)
    j[0, 0, 1] = (0.6, 0.3, 3.0)
    out = ProjectionRenderer(image_size=S)(collate_sequences([SkeletonSequence(j, np.ones((1, 1), bool), topo)], 1))
    ys, xs = torch.nonzero(out[0, 0, 0] > 0.5, as_tuple=True)
    assert xs.float().mean() > 0.6 * S and ys.float().mean() < 0.45 * S


def test_draw_segments_z_buffer_and_coverage():
    p0 = torch.tensor([[[2.0, 10.0], [10.0, 2.0]]])
    p1 = torch.tensor([[[18.0, 10.0], [10.0, 18.0]]])
    red, blue = torch.tensor([[[1.0, 0, 0], [0, 0, 1.0]]]), torch.tensor([[[1.0, 0, 0], [0, 0, 1.0]]])
    depth_near_blue = torch.tensor([[2.0, 1.0]])
    img = draw_segments(p0, p1, red, blue, depth_near_blue, depth_near_blue, torch.tensor([[1.2, 1.2]]),
                        torch.tensor([[True, True]]), 20, 20)
    assert img[0, 2, 10, 10] == 1 and img[0, 0, 10, 10] == 0     # the nearer (blue) one wins the crossing
    assert img[0, 0, 10, 3] == 1 and img[0, 2, 3, 10] == 1        # both drawn elsewhere
    # Width: the horizontal line covers rows 9 and 10 (centres 9.5 and 10.5 within 1.2 of y=10).
    assert img[0, 0, 8:12, 5].tolist() == [0.0, 1.0, 1.0, 0.0]


@pytest.mark.parametrize("F,M", [(8, 1), (12, 2), (1, 1)])
def test_layered_trajectories_match_the_reference(F, M):
    from skeletonllm.render.fixed import draw_trajectories, draw_trajectories_reference

    g = torch.Generator().manual_seed(F * 10 + M)
    B, J, size = 3, 25, 28
    # Joints that cross each other often (a small canvas), some steps not drawn.
    points = torch.rand(B, F, M, J, 2, generator=g) * size
    colors = torch.rand(B, F, M, J, 3, generator=g)
    valid = torch.rand(B, F, M, J, generator=g) > 0.2
    valid[:, 0] = False
    fast = draw_trajectories(points, colors, valid, 1.2, size, (0.1, 0.2, 0.3))
    ref = draw_trajectories_reference(points, colors, valid, 1.2, size, (0.1, 0.2, 0.3))
    assert fast.shape == (B, F, 3, size, size)
    assert torch.equal(fast, ref)
    if F > 1:           # trajectories accumulate: what frame f shows stays drawn (or is overdrawn) later
        drawn = (fast != torch.tensor([0.1, 0.2, 0.3]).view(1, 1, 3, 1, 1)).any(2)
        assert (drawn[:, 1:] >= drawn[:, :-1]).all() and drawn[:, -1].float().mean() > 0.2
    else:
        assert (fast == torch.tensor([0.1, 0.2, 0.3]).view(1, 3, 1, 1)).all()     # no step at frame 0
