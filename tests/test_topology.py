import json

import numpy as np
import pytest

from skeletonllm.errors import SkeletonFormatError
from skeletonllm.skeleton import (BODY_PARTS, BUILTIN_TOPOLOGIES, SkeletonSequence, Topology,
                                  collate_sequences, get_topology, segment_indices)


@pytest.mark.parametrize("name,joints,bones,dims", [
    ("ntu25", 25, 24, 3), ("kinect_v1_20", 20, 19, 3), ("smpl22", 22, 21, 3), ("coco17", 17, 19, 2)])
def test_builtin_sizes(name, joints, bones, dims):
    t = get_topology(name)
    assert (t.num_joints, t.num_bones, t.dims) == (joints, bones, dims)
    assert set(t.parts) <= set(BODY_PARTS)


@pytest.mark.parametrize("name", ["ntu25", "kinect_v1_20", "smpl22"])
def test_3d_topologies_are_trees(name):
    t = BUILTIN_TOPOLOGIES[name]
    children = [b for _, b in t.bones]
    assert len(set(children)) == len(children) == t.num_joints - 1


def test_left_right_parts_follow_names():
    for t in BUILTIN_TOPOLOGIES.values():
        for n, p in zip(t.joint_names, t.parts):
            if n.startswith("left_") and p not in ("torso", "head"):
                assert p.startswith("left_"), (t.name, n, p)
            if n.startswith("right_") and p not in ("torso", "head"):
                assert p.startswith("right_"), (t.name, n, p)


def test_user_topology_from_json_and_yaml(tmp_path):
    spec = {"name": "tiny", "joints": ["root", "head", "hand"], "bones": [["root", "head"], [0, 2]],
            "parts": {"root": "torso", "head": "head", "hand": "right_hand"}}
    p = tmp_path / "tiny.json"
    p.write_text(json.dumps(spec))
    t = get_topology(str(p))
    assert t.bones == ((0, 1), (0, 2)) and t.parts == ("torso", "head", "right_hand")
    y = tmp_path / "tiny.yaml"
    y.write_text("name: tiny\njoints: [root, head, hand]\nbones: [[root, head], [root, hand]]\n"
                 "parts: [torso, head, right_hand]\n")
    assert Topology.from_file(y) == t


@pytest.mark.parametrize("bad,msg", [
    ({"joints": ["a"], "bones": [], "parts": ["head"]}, "missing key 'name'"),
    ({"name": "x", "joints": ["a", "b"], "bones": [["a", "c"]], "parts": ["head", "head"]}, "unknown joint 'c'"),
    ({"name": "x", "joints": ["a", "b"], "bones": [[0, 1]], "parts": ["head", "tail"]}, "part 'tail'"),
    ({"name": "x", "joints": ["a", "b"], "bones": [[0, 5]], "parts": ["head", "head"]}, "bone (0, 5)"),
])
def test_bad_topology_files_name_the_problem(tmp_path, bad, msg):
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(bad))
    with pytest.raises(SkeletonFormatError) as err:
        Topology.from_file(p)
    assert str(p) in str(err.value) and msg in str(err.value)


def test_sequence_validation_rejects_nan_where_present():
    topo = get_topology("ntu25")
    j = np.zeros((4, 1, 25, 3), np.float32)
    j[2, 0, 3, 1] = np.nan
    with pytest.raises(SkeletonFormatError, match="frame 2, body 0"):
        SkeletonSequence(j, np.ones((4, 1), bool), topo, metadata={"source": "x.skeleton"})
    pres = np.ones((4, 1), bool)
    pres[2] = False  # a NaN in an absent frame is dropped, not an error
    s = SkeletonSequence(j, pres, topo)
    assert np.isfinite(s.joints).all()


def test_sequence_shape_errors():
    topo = get_topology("smpl22")
    with pytest.raises(SkeletonFormatError, match="22"):
        SkeletonSequence(np.zeros((3, 1, 25, 3)), np.ones((3, 1), bool), topo)
    with pytest.raises(SkeletonFormatError, match="no body"):
        SkeletonSequence(np.zeros((3, 1, 22, 3)), np.zeros((3, 1), bool), topo)


@pytest.mark.parametrize("T,F", [(1, 12), (5, 12), (12, 12), (103, 12), (1000, 16)])
def test_segment_indices(T, F):
    mid = segment_indices(T, F)
    assert mid.shape == (F,) and (np.diff(mid) >= 0).all() and mid.min() >= 0 and mid.max() < T
    rng = np.random.default_rng(0)
    for _ in range(20):
        r = segment_indices(T, F, train=True, rng=rng)
        edges = np.linspace(0, T, F + 1)
        assert ((r >= np.floor(edges[:-1])) & (r <= np.minimum(np.ceil(edges[1:]), T - 1))).all()


def test_segment_indices_middle_is_deterministic_and_spread():
    assert segment_indices(120, 12).tolist() == [5 + 10 * k for k in range(12)]


def test_collate_pads_bodies_and_keeps_masks():
    topo = get_topology("ntu25")
    a = SkeletonSequence(np.ones((20, 1, 25, 3)), np.ones((20, 1), bool), topo)
    pres = np.ones((10, 2), bool)
    pres[:5, 1] = False
    b = SkeletonSequence(np.ones((10, 2, 25, 3)) * 2, pres, topo)
    batch = collate_sequences([a, b], num_frames=6)
    assert batch.joints.shape == (2, 6, 2, 25, 3)
    assert not batch.present[0, :, 1].any()
    assert batch.present[1, :, 0].all() and batch.present[1, :3, 1].sum() < 3
    assert batch.orientations is None


def test_collate_rejects_mixed_topologies():
    a = SkeletonSequence(np.ones((2, 1, 25, 3)), np.ones((2, 1), bool), get_topology("ntu25"))
    b = SkeletonSequence(np.ones((2, 1, 22, 3)), np.ones((2, 1), bool), get_topology("smpl22"))
    with pytest.raises(ValueError, match="one topology"):
        collate_sequences([a, b])
