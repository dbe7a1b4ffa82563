import json
import re

import numpy as np
import pytest

from skeletonllm.errors import SkeletonFormatError
from skeletonllm.skeleton import BUILTIN_TOPOLOGIES, collate_sequences
from skeletonllm.synth import (ACTION_CLASSES, ALL_TOPOLOGIES, CORE_CLASSES, QA_TYPES, SPLITS, BodyShape,
                               ClassSplit, SynthConfig, SyntheticMotionSet, check_compositional,
                               describe_class, generate_sample, get_split, similar_classes)
from skeletonllm.synth.body import RIG_INDEX, RIG_PARENTS, Placement, local_rotations, pose_body
from skeletonllm.synth.emit import rig_joints_for

CLEAN = SynthConfig.clean()
_3D = ("ntu25", "kinect_v1_20", "smpl22")


def _one(name, k=0, seed=0, config=None, pool=()):
    return generate_sample(name, k, seed, config or SynthConfig(), pool)


def _y(seq, joint, body=0):
    return seq.joints[:, body, seq.topology.index(joint), 1]


# -- determinism -----------------------------------------------------------------------------

def test_same_seed_same_set_and_samples_do_not_depend_on_the_rest_of_the_set():
    a = SyntheticMotionSet(num_per_class=2, seed=3, classes=["raise left arm", "shake hands"],
                           topologies=("ntu25", "coco17"))
    b = SyntheticMotionSet(num_per_class=2, seed=3, classes=["raise left arm", "shake hands"],
                           topologies=("ntu25", "coco17"))
    for x, y in zip(a, b):
        for t in ("ntu25", "coco17"):
            np.testing.assert_array_equal(x.sequence(t).joints, y.sequence(t).joints)
            np.testing.assert_array_equal(x.sequence(t).present, y.sequence(t).present)
        assert (x.captions, x.rationale, [q.to_dict() for q in x.qa]) == \
            (y.captions, y.rationale, [q.to_dict() for q in y.qa])
    # Same class and k in a differently shaped set: same motion (text may differ with the pool).
    c = SyntheticMotionSet(num_per_class=3, seed=3, classes=["jump up", "raise left arm"])
    np.testing.assert_array_equal(c[3 + 1].sequence("ntu25").joints, a[1].sequence("ntu25").joints)
    d = SyntheticMotionSet(num_per_class=2, seed=4, classes=["raise left arm", "shake hands"])
    assert not np.array_equal(d[0].sequence("ntu25").joints[:5], a[0].sequence("ntu25").joints[:5])


# -- every class, every topology -------------------------------------------------------------

_REST = pose_body(BodyShape.average(), {}, 1, Placement()).positions[0]
_HEAD_TO_FOOT = _REST[RIG_INDEX["head"], 1] - _REST[RIG_INDEX["left_foot"], 1]


@pytest.mark.parametrize("name", sorted(ACTION_CLASSES))
def test_every_class_emits_valid_sequences_in_every_topology(name):
    s = _one(name, k=1)
    T = s.program.num_frames
    M = ACTION_CLASSES[name].actors
    assert 40 <= T <= 90 and s.present.shape == (T, M)
    assert s.present[0].all() and s.present.mean() > 0.8
    seqs = {t: s.sequence(t) for t in ALL_TOPOLOGIES}
    for topo, seq in seqs.items():
        J = BUILTIN_TOPOLOGIES[topo].num_joints
        assert seq.joints.shape == (T, M, J, 3) and seq.joints.dtype == np.float32
        assert np.isfinite(seq.joints).all()
        np.testing.assert_array_equal(seq.present, s.present)
        assert np.all(seq.joints[~seq.present] == 0)
        assert seq.label == name and seq.metadata["captions"] == s.captions
        for m in range(M):
            ok = seq.present[:, m]
            if topo == "coco17":
                assert np.all(seq.joints[..., 2] == 0)
                head = _y(seq, "nose", m)[ok]
                feet = np.maximum(_y(seq, "left_ankle", m), _y(seq, "right_ankle", m))[ok]
                assert np.all(head > feet)
                assert 0.9 < (head - feet).max() < 2.4
            else:
                head = _y(seq, "head", m)[ok]
                feet = np.stack([_y(seq, f"{s_}_{j}", m) for s_ in ("left", "right")
                                 for j in ("ankle", "foot")], -1)[ok]
                assert np.all(head > feet.max(-1)), "head must stay above the feet"
                standing = head - feet.min(-1)              # first frame (or last: "stand up")
                stature = max(standing[0], standing[-1]) / _HEAD_TO_FOOT * 1.75
                assert 1.4 <= stature <= 2.0, stature
                assert 2.0 < np.median(seq.joints[ok, m, :, 2]) < 4.5      # metres in front of the camera
                assert -1.2 < feet.min() < -0.6                            # floor below a tripod camera
    q = seqs["ntu25"].orientations
    assert q is not None and q.shape == (T, M, 25, 4)
    np.testing.assert_allclose(np.linalg.norm(q[seqs["ntu25"].present], axis=-1), 1.0, atol=1e-5)


def test_collates_with_mixed_body_counts():
    ds = SyntheticMotionSet(num_per_class=1, seed=0, classes=["bow", "push someone"], topologies=("kinect_v1_20",))
    batch = collate_sequences(ds.sequences("kinect_v1_20"), num_frames=12)
    assert tuple(batch.joints.shape) == (2, 12, 2, 20, 3)
    assert not batch.present[0, :, 1].any() and batch.present[1, :, 1].any()


# -- kinematics ------------------------------------------------------------------------------

def _rigid(a: str, b: str, rotating: set[int]) -> bool:
    """Rig joints a (ancestor) and b: is their distance fixed by the rig?"""
    j, path = RIG_INDEX[b], []
    while j != RIG_INDEX[a]:
        j = RIG_PARENTS[j]
        if j < 0:
            return False
        path.append(j)
    return not any(k in rotating for k in path[:-1])


def test_bone_lengths_are_constant_over_time():
    rotating = set(local_rotations({}, 1))
    for name in ("kick left leg", "jump up", "wave both hands", "turn around", "hug someone", "twist torso left"):
        s = _one(name, config=CLEAN)
        for topo in _3D:
            seq = s.sequence(topo)
            rig = rig_joints_for(seq.topology)
            checked = 0
            for a, b in seq.topology.bones:
                L = np.linalg.norm(seq.joints[:, :, a] - seq.joints[:, :, b], axis=-1)
                assert L.min() > 0.02
                if _rigid(rig[a], rig[b], rotating):
                    np.testing.assert_allclose(L, np.broadcast_to(L[0:1], L.shape), atol=1e-5, err_msg=f"{name} {topo} {rig[a]}-{rig[b]}")
                    checked += 1
                else:  # a chord over a bending spine: the formats with fewer spine joints
                    assert np.ptp(L) < 0.03
            assert checked >= seq.topology.num_bones - 3


def test_left_is_the_actors_left_on_the_viewers_right():
    seq = _one("bow", config=CLEAN).sequence("ntu25")
    j = seq.joints[0, 0]
    assert j[seq.topology.index("left_shoulder"), 0] > j[seq.topology.index("right_shoulder"), 0]
    # facing the camera: the nose is nearer (smaller z) than the back of the head
    coco = _one("bow", config=CLEAN).bodies()[0].positions[0]
    assert coco[RIG_INDEX["nose"], 2] < coco[RIG_INDEX["head"], 2]


@pytest.mark.parametrize("topo", ALL_TOPOLOGIES)
def test_motions_differ_by_part_and_side(topo):
    def rise(name, joint):
        seq = _one(name, config=CLEAN).sequence(topo)
        y = _y(seq, joint)
        return y.max() - y[0]

    assert rise("raise left arm", "left_wrist") > 0.5
    assert rise("raise left arm", "right_wrist") < 0.05
    assert rise("raise right arm", "right_wrist") > 0.5 and rise("raise right arm", "left_wrist") < 0.05
    kick = 0.25 if topo != "coco17" else 0.1        # a 2D view can look down along the kick
    assert rise("kick right leg", "right_ankle") > kick and rise("kick right leg", "left_ankle") < 0.03
    assert rise("wave left hand", "left_wrist") > 0.4 and rise("wave left hand", "right_wrist") < 0.05
    assert rise("jump up", "left_ankle") > 0.1 and rise("jump up", "right_ankle") > 0.1


def test_turn_around_turns_the_pelvis_orientation():
    seq = _one("turn around", config=CLEAN).sequence("ntu25")
    q0, q1 = seq.orientations[0, 0, 0], seq.orientations[-1, 0, 0]
    angle = 2 * np.degrees(np.arccos(min(1.0, abs(float(np.dot(q0, q1))))))
    assert 170 < angle <= 180.0 + 1e-3


def test_noise_and_dropped_frames_are_per_format_and_recorded():
    cfg = SynthConfig(drop_prob=1.0, noise_std=(0.01, 0.01))
    s = _one("raise left arm", config=cfg)
    assert not s.present.all()
    ntu, v1 = s.sequence("ntu25"), s.sequence("kinect_v1_20")
    # Same rig joint, different sensors: independent noise of about noise_std.
    d = ntu.joints[:, 0, ntu.topology.index("head")] - v1.joints[:, 0, v1.topology.index("head")]
    assert 0.005 < d[s.present[:, 0]].std() < 0.03
    clean = _one("raise left arm", config=CLEAN)
    a, b = clean.sequence("ntu25"), clean.sequence("smpl22")
    np.testing.assert_array_equal(a.joints[:, :, a.topology.index("left_wrist")],
                                  b.joints[:, :, b.topology.index("left_wrist")])


# -- text ------------------------------------------------------------------------------------

_PART_WORDS = {"arm": ("arm",), "hand": ("hand", "arm"), "leg": ("leg", "knee", "foot"), "torso": ("torso", "upper body"),
               "head": ("head",), "body": ("body",)}


@pytest.mark.parametrize("name", sorted(ACTION_CLASSES))
def test_text_matches_the_program(name):
    cls = ACTION_CLASSES[name]
    s = _one(name, pool=CORE_CLASSES)
    assert 2 <= len(s.captions) <= 3 and len(set(s.captions)) == len(s.captions)
    lines = s.rationale.split("\n")
    assert lines[-1] == f"Label: {name}" and s.rationale.count("Label:") == 1
    assert sum(line.startswith("Step ") for line in lines) == len(s.program.main_phases)
    body = " ".join(lines[:-1]).lower()
    if cls.side in ("left", "right"):
        assert cls.side in body and any(cls.side in c.lower() for c in s.captions)
        other = {"left": "right", "right": "left"}[cls.side]
        if cls.actors == 1:   # the other side appears only as "stays still" / balance
            key = [p for p in s.program.phases if p.key][0]
            assert cls.side in key.act and other not in key.act
    assert any(w in body for w in _PART_WORDS[cls.part])
    assert [q.type for q in s.qa] == list(QA_TYPES)
    for q in s.qa:
        assert len(q.options) == 4 and len({o.lower() for o in q.options}) == 4
        assert 0 <= q.answer < 4 and q.question.endswith("?") and q.reference
    temporal, causal, fine, contrast = s.qa
    assert temporal.options[temporal.answer] == s.program.phases[temporal.meta["phase"]].clause
    p = s.program.phases[causal.meta["phase"]]
    assert causal.options[causal.answer].lower() == p.purpose.lower() and p.subject in causal.question
    if cls.fine is None:
        want = {"left": "the left", "right": "the right", "both": "both"}[cls.side]
        assert fine.options[fine.answer].startswith(want)
    else:
        assert fine.options[fine.answer] == cls.fine[1][0]
    assert contrast.options[contrast.answer] == name
    assert name in contrast.question


def test_temporal_answer_is_the_next_step():
    s = _one("kick left leg", pool=CORE_CLASSES)
    main = s.program.main_phases
    assert [p.key for p in main].index(True) == 1          # raise knee, SNAP, retract, put down
    assert main[0].start < main[1].start < main[2].start
    assert "knee" in main[0].act and "snaps" in main[1].act and "left" in main[1].act


def test_describe_and_similar_classes():
    d = describe_class("wave left hand")
    assert "left hand" in d and "Label" not in d
    near = similar_classes("kick left leg", CORE_CLASSES, k=3)
    assert near[0] == "kick right leg"


# -- splits ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(SPLITS))
def test_builtin_splits_are_compositional(name):
    split = get_split(name)
    report = check_compositional(split)
    assert set(report) == set(split.unseen) and not set(split.seen) & set(split.unseen)
    assert all(n in ACTION_CLASSES for n in split.classes)
    for u in split.unseen:   # no unseen name is, or is inside, a seen name
        assert all(u not in s for s in split.seen)


def test_compositional_checker_levels_and_failures():
    check_compositional(get_split("synth_24_6"), require_pairs=True)
    with pytest.raises(ValueError, match="swing left leg"):   # swing was seen on arms only
        check_compositional(get_split("synth_20_10"), require_pairs=True)
    seen = tuple(c for c in CORE_CLASSES if c != "jump up")
    with pytest.raises(ValueError, match="jump"):
        check_compositional(ClassSplit("bad", seen, ("jump up",)))
    with pytest.raises(ValueError, match="both seen and unseen"):
        check_compositional(ClassSplit("bad2", CORE_CLASSES, ("jump up",)))


def test_unseen_classes_never_reach_seen_sample_text():
    ds = SyntheticMotionSet.for_split("synth_24_6", num_per_class=2, seed=1, topologies=())
    split = ds.split
    assert len(ds.seen_indices()) == 2 * 24 and len(ds.unseen_indices()) == 2 * 6
    pattern = re.compile("|".join(re.escape(u) for u in split.unseen))
    for i in ds.seen_indices():
        s = ds[i]
        texts = s.captions + [s.rationale] + [q.question for q in s.qa] + \
            [o for q in s.qa for o in q.options] + [q.reference for q in s.qa]
        hits = [t for t in texts if pattern.search(t)]
        assert not hits, (s.label, hits)
    unseen = ds[ds.unseen_indices()[0]]
    assert unseen.rationale.endswith(f"Label: {unseen.label}")


# -- persistence and cross-format ------------------------------------------------------------

def test_save_load_round_trip(tmp_path):
    ds = SyntheticMotionSet(num_per_class=2, seed=5, classes=["punch with left arm", "pass an object", "sit down"],
                            topologies=("ntu25", "coco17"), split=None)
    out = ds.save(tmp_path / "synth")
    assert (out / "index.json").exists() and len(list((out / "samples").glob("*.npz"))) == 6
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]
    back = SyntheticMotionSet.load(out)
    assert back.classes == ds.classes and len(back) == len(ds) and back.topologies == ds.topologies
    for x, y in zip(ds, back):
        for t in ("ntu25", "coco17"):
            a, b = x.sequence(t), y.sequence(t)
            np.testing.assert_array_equal(a.joints, b.joints)
            np.testing.assert_array_equal(a.present, b.present)
            if a.orientations is not None:
                np.testing.assert_array_equal(a.orientations, b.orientations)
        assert (x.label, x.captions, x.rationale) == (y.label, y.captions, y.rationale)
        assert [q.to_dict() for q in x.qa] == [q.to_dict() for q in y.qa]
        assert x.program.to_dict() == y.program.to_dict()
        # a topology that was not saved is regenerated identically
        np.testing.assert_array_equal(x.sequence("smpl22").joints, y.sequence("smpl22").joints)
    index = json.loads((out / "index.json").read_text())
    index["version"] = 99
    (out / "index.json").write_text(json.dumps(index))
    with pytest.raises(SkeletonFormatError, match="version"):
        SyntheticMotionSet.load(out)
    with pytest.raises(SkeletonFormatError, match="index.json"):
        SyntheticMotionSet.load(tmp_path / "missing")


def test_same_sample_in_every_topology():
    ds = SyntheticMotionSet(num_per_class=1, seed=2, classes=["lift left leg sideways"], config=CLEAN)
    seqs = ds.all_topologies(0)
    assert set(seqs) == set(ALL_TOPOLOGIES)
    T = {s.num_frames for s in seqs.values()}
    assert len(T) == 1
    ntu, smpl, v1 = seqs["ntu25"], seqs["smpl22"], seqs["kinect_v1_20"]
    for joint in ("left_ankle", "right_wrist", "head"):
        np.testing.assert_array_equal(ntu.joints[:, 0, ntu.topology.index(joint)],
                                      smpl.joints[:, 0, smpl.topology.index(joint)])
        np.testing.assert_array_equal(ntu.joints[:, 0, ntu.topology.index(joint)],
                                      v1.joints[:, 0, v1.topology.index(joint)])
    # the 2D view moves the left ankle out to the side as well
    coco = seqs["coco17"]
    x = coco.joints[:, 0, coco.topology.index("left_ankle"), :2]
    assert np.linalg.norm(x - x[0], axis=-1).max() > 0.15


def test_user_topology_by_joint_names(tmp_path):
    spec = {"name": "mini", "joints": ["spine_base", "head", "left_wrist", "right_wrist"],
            "bones": [["spine_base", "head"], ["head", "left_wrist"], ["head", "right_wrist"]],
            "parts": ["torso", "head", "left_hand", "right_hand"]}
    path = tmp_path / "mini.json"
    path.write_text(json.dumps(spec))
    ds = SyntheticMotionSet(num_per_class=1, seed=0, classes=["raise right arm"], topologies=(str(path), "ntu25"))
    mini, ntu = ds[0].sequence(ds._topology_objects["mini"]), ds[0].sequence("ntu25")
    assert mini.joints.shape[2] == 4
    d = mini.joints[:, 0, 3] - ntu.joints[:, 0, ntu.topology.index("right_wrist")]     # noise apart
    assert np.abs(d[mini.present[:, 0]]).max() < 0.08
    back = SyntheticMotionSet.load(ds.save(tmp_path / "cache"))
    np.testing.assert_array_equal(back[0].sequence("mini").joints, mini.joints)
    assert back.sequences("mini")[0].topology.joint_names == tuple(spec["joints"])
    bad = dict(spec, name="bad", joints=["pelvis", "tail"], bones=[["pelvis", "tail"]], parts=["torso", "torso"])
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    with pytest.raises(KeyError, match="tail"):
        SyntheticMotionSet(num_per_class=1, classes=["bow"], topologies=(str(tmp_path / "bad.json"),))


# -- depiction classes: pairs told apart only by depth, speed or depth order -------------------

_NOT_THUMBS = [i for i, n in enumerate(RIG_INDEX) if "thumb" not in n]


def _posed(name, seed):
    """The posed rig of ``name`` built from one fixed set of random draws (same draws -> same
    timing and body), seen straight from the front (the builder's facing jitter undone), with
    no sensor noise and no sway."""
    from dataclasses import replace

    from skeletonllm.synth.actions import build_program
    shape = BodyShape.sample(np.random.default_rng([seed, 1]))
    place = Placement(x=0.1, z=3.0, facing=0.0)
    prog = build_program(name, np.random.default_rng([seed, 2]), 60, 30.0, [shape], [place], [None])
    front = replace(prog.placements[0], facing=0.0)
    return pose_body(shape, prog.tracks(0), 60, front).positions, prog


@pytest.mark.parametrize("a,b,joint,statistic", [
    ("stretch left arm forward", "stretch left arm backward", "left_wrist", "path"),
    ("step forward with right leg", "step back with right leg", "pelvis", "end"),
])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_motion_along_the_camera_axis_is_in_depth_only(a, b, joint, statistic, seed):
    A, pa = _posed(a, seed)
    B, pb = _posed(b, seed)
    assert pa.placements[0].facing == pb.placements[0].facing and abs(pa.placements[0].facing) <= 8.0
    # The frontal 2D projection (x, y) is the same picture for both members of the pair ...
    np.testing.assert_allclose(A[:, _NOT_THUMBS, :2], B[:, _NOT_THUMBS, :2], atol=2e-3)
    np.testing.assert_allclose(A[..., :2], B[..., :2], atol=0.02)       # the thumb sits off the arm's axis
    # ... while depth (z, away from the camera) moves in opposite directions by tens of centimetres.
    za, zb = A[:, RIG_INDEX[joint], 2], B[:, RIG_INDEX[joint], 2]
    if statistic == "path":       # the hand at its furthest from where it started
        da, db = (za - za[0])[np.argmax(np.abs(za - za[0]))], (zb - zb[0])[np.argmax(np.abs(zb - zb[0]))]
    else:                         # where the body ends up
        da, db = za[-1] - za[0], zb[-1] - zb[0]
    assert da < -0.25 and db > 0.25, (da, db)        # forward: towards the camera (smaller z)


@pytest.mark.parametrize("part", ["arm", "hand"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_which_crossing_limb_is_in_front_is_in_depth_only(part, seed):
    names = {"arm": ("cross left arm over right", "cross right arm over left"),
             "hand": ("cross left hand over right", "cross right hand over left")}[part]
    A, pa = _posed(names[0], seed)
    B, _ = _posed(names[1], seed)
    # Same x-y picture: every joint within 3 cm (the thumbs, which sit off the forearm's axis and
    # turn with its twist, within 8 cm) ...
    np.testing.assert_allclose(A[:, _NOT_THUMBS, :2], B[:, _NOT_THUMBS, :2], atol=0.03)
    np.testing.assert_allclose(A[..., :2], B[..., :2], atol=0.08)
    hold = [p for p in pa.phases if p.kind == "hold"][0]
    f = int(round(0.5 * (hold.start + hold.end) * 59))
    lw, rw = RIG_INDEX["left_wrist"], RIG_INDEX["right_wrist"]
    # Crossed: each wrist is on the other side of the body's midline from its shoulder ...
    mid = A[f, RIG_INDEX["pelvis"], 0]
    assert A[f, lw, 0] <= mid + 0.005 and A[f, rw, 0] >= mid - 0.005
    # ... and the named arm's wrist is nearer the camera by more than 15 cm; swapped in the twin class.
    assert A[f, rw, 2] - A[f, lw, 2] > 0.15 and B[f, lw, 2] - B[f, rw, 2] > 0.15


def test_slow_and_quick_waves_differ_in_speed_not_in_pose():
    from skeletonllm.synth.body import RIG_INDEX as R

    def stats(name):
        peak, reach = [], []
        for k in range(8):
            s = generate_sample(name, k, 0, CLEAN)
            P = s.bodies()[0].positions
            key = [p for p in s.program.phases if p.key][0]
            T = s.program.num_frames
            lo, hi = int(key.start * (T - 1)), int(key.end * (T - 1)) + 1
            rel = P[lo:hi, R["left_wrist"]] - P[lo:hi, R["left_shoulder"]]
            speed = np.linalg.norm(np.diff(P[lo:hi, R["left_wrist"]], axis=0), axis=1) * s.program.fps
            peak.append(np.percentile(speed, 90))
            reach.append([rel[:, 0].min(), rel[:, 0].max(), rel[:, 1].min(), rel[:, 1].max()])
        return np.median(peak), np.mean(reach, 0)

    quick_speed, quick_box = stats("wave left hand")
    slow_speed, slow_box = stats("wave left hand slowly")
    assert slow_speed < 0.5 * quick_speed, (slow_speed, quick_speed)
    # Frame by frame the hand sweeps through the same place: the box it covers agrees within 3 cm.
    np.testing.assert_allclose(slow_box, quick_box, atol=0.03)


def test_depiction_classes_are_in_both_halves_of_their_split():
    from skeletonllm.synth import DEPICTION_CLASSES, depiction_kind

    split = get_split("synth_31_13")
    assert set(split.seen) >= set(get_split("synth_24_6").seen)
    assert set(split.unseen) >= set(get_split("synth_24_6").unseen)
    for kind, names in DEPICTION_CLASSES.items():
        assert all(depiction_kind(n) == kind for n in names)
        assert set(names) & set(split.seen) and set(names) & set(split.unseen), kind
    # Both members of each new pair are unseen, so telling them apart is part of the zero-shot test.
    for a, b in (("stretch left arm forward", "stretch left arm backward"),
                 ("step forward with left leg", "step back with left leg"),
                 ("wave left hand", "wave left hand slowly"),
                 ("cross left arm over right", "cross right arm over left")):
        assert a in split.unseen and b in split.unseen
    assert depiction_kind("kick left leg") is None


def test_free_motion_moves_the_limbs_it_keys_and_belongs_to_no_class():
    """A free-motion clip is deterministic in its seed and index, moves one or two limbs and
    nothing else that a class clip could be named by, and carries no class and no text."""
    from skeletonllm.synth import ACTION_CLASSES
    from skeletonllm.synth.free_motion import FREE_MOTION, free_motion_sample
    from skeletonllm.synth.program import LIMB_GROUPS

    clips = [free_motion_sample(k, seed=3) for k in range(40)]
    again = free_motion_sample(7, seed=3)
    assert np.array_equal(clips[7].sequence("ntu25").joints, again.sequence("ntu25").joints)
    assert not np.array_equal(clips[7].sequence("ntu25").joints, free_motion_sample(7, seed=4).sequence("ntu25").joints)
    for clip in clips:
        moving = clip.program.moving_groups(0)
        assert 1 <= len(moving) <= 2 and moving <= set(LIMB_GROUPS)
        assert set(clip.program.params["limbs"]) == moving
        assert clip.label == FREE_MOTION and not clip.captions and not clip.qa and not clip.rationale
        seq = clip.sequence("ntu25")
        joints = seq.joints[seq.present[:, 0], 0]                            # the frames that hold the body
        hand_or_foot = {"left arm": 7, "right arm": 11, "left leg": 15, "right leg": 19}
        for limb, j in hand_or_foot.items():     # a limb it keys moves its end by more than 10 cm, no other does
            travel = np.linalg.norm(joints[:, j] - joints[0, j], axis=-1).max()
            assert (travel > 0.1) == (limb in moving), (limb, travel)
    assert FREE_MOTION not in ACTION_CLASSES
    assert {limb for c in clips for limb in c.program.moving_groups(0)} == set(LIMB_GROUPS)
