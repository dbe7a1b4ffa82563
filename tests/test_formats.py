"""Every real sample file loads through skeletonllm.load / load_all with the right shapes and values."""
import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import skeletonllm
from skeletonllm.cli import app
from skeletonllm.errors import SkeletonFormatError
from skeletonllm.skeleton.formats import bvh, ntu
from skeletonllm.skeleton.formats.humanml3d import recover_joints
from skeletonllm.skeleton.formats.safe_pickle import load_npy
from skeletonllm.skeleton.io import detect_format
from skeletonllm.skeleton.normalize import body_height, center_on_root, scale_to_height
from skeletonllm.skeleton.splits import class_names
from skeletonllm.skeleton.topology import NTU25

DATA = Path(__file__).parent / "data"
A001 = DATA / "ntu_skeleton" / "S001C001P001R001A001.skeleton"
A058 = DATA / "ntu_skeleton" / "S001C003P008R002A058.skeleton"
TXT2NPY = DATA / "ntu_txt2npy" / "S001C001P001R001A001.skeleton.npy"
PKU = DATA / "pku_mmd" / "skeleton" / "0036-L.txt"
PKU_LABEL = DATA / "pku_mmd" / "label" / "0036-L.txt"
HML_JOINTS = DATA / "humanml3d" / "new_joints" / "000000.npy"
HML_VECS = DATA / "humanml3d" / "new_joint_vecs" / "000000.npy"
COCO = DATA / "coco17_alphapose" / "alphapose-results.json"
BVH = DATA / "bvh" / "cmu_01_01.bvh"
UCLA = sorted((DATA / "nw_ucla").glob("*.json"))

J = {n: i for i, n in enumerate(NTU25.joint_names)}


def _quat_to_matrix(q):
    w, x, y, z = np.moveaxis(np.asarray(q, np.float64), -1, 0)
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
        np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
        np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1)], -2)


# -- detection ---------------------------------------------------------------------------------
KINETICS = DATA / "kinetics_skeleton" / "__NrybzYzUg.json"
AMASS = DATA / "amass_npz" / "dmpl_sample.npz"
AISTPP = DATA / "smpl_aistpp" / "gBR_sBM_cAll_d04_mBR0_ch01.pkl"
AMC = DATA / "cmu_asf_amc" / "11_01.amc"


@pytest.mark.parametrize("path,name", [
    (A001, "ntu"), (A058, "ntu"), (TXT2NPY, "ntu_npy"), (PKU, "pku_mmd"), (HML_JOINTS, "humanml3d"),
    (HML_VECS, "humanml3d_vecs"), (COCO, "coco_json"), (BVH, "bvh"), (UCLA[0], "nw_ucla"),
    (KINETICS, "kinetics"), (AMASS, "amass"), (AISTPP, "aistpp"), (AMC, "asf_amc")])
def test_detect_format(path, name):
    assert detect_format(path) == name


def test_detect_by_content_when_extension_is_unknown(tmp_path):
    for src, name in ((A001, "ntu"), (BVH, "bvh"), (PKU, "pku_mmd"), (KINETICS, "kinetics"), (AMASS, "amass"),
                      (AISTPP, "aistpp"), (AMC, "asf_amc")):
        dst = tmp_path / (src.stem + ".dat")
        shutil.copy(src, dst)
        assert detect_format(dst) == name
    shutil.copy(DATA / "cmu_asf_amc" / "11.asf", tmp_path / "11.asf")  # the .amc beside it needs it
    assert skeletonllm.load(tmp_path / "11_01.dat", skeleton=tmp_path / "11.asf").num_frames == 597


def test_detection_refuses_look_alikes_with_a_reason(tmp_path):
    """Files of a shared extension that are not skeleton data say what they are not."""
    cases = {"shape.npz": lambda p: np.savez(p, betas=np.zeros(16), gender="female"),  # AMASS's per-subject file
             "table.csv": lambda p: p.write_text("a,b,c\n1,2,3\n"),
             "11.asf": lambda p: shutil.copy(DATA / "cmu_asf_amc" / "11.asf", p)}
    for name, make in cases.items():
        make(tmp_path / name)
        with pytest.raises(SkeletonFormatError, match="cannot tell the skeleton format"):
            detect_format(tmp_path / name)
    with pytest.raises(SkeletonFormatError, match="load the .amc motion file"):
        detect_format(tmp_path / "11.asf")


# -- NTU ---------------------------------------------------------------------------------------
def test_ntu_a001_matches_txt2npy_twin():
    seq = skeletonllm.load(A001)
    twin = skeletonllm.load(TXT2NPY)
    assert seq.joints.shape == (103, 1, 25, 3) and twin.joints.shape == (103, 1, 25, 3)
    assert seq.present.all() and twin.present.all()
    np.testing.assert_allclose(seq.joints, twin.joints, atol=1e-6, rtol=0)
    # The raw parse equals the authors' own conversion exactly (same decimal strings).
    raw = ntu.read_raw(A001)
    ref = load_npy(TXT2NPY).item()["skel_body0"]
    assert np.array_equal(raw.values[:, 0, :, :3], ref)
    assert seq.label == twin.label == "drink water" and seq.label_id == twin.label_id == 0
    assert (seq.metadata["setup"], seq.metadata["camera"], seq.metadata["subject"], seq.metadata["replication"]) \
        == (1, 1, 1, 1)
    assert seq.fps == 30.0 and seq.orientations.shape == (103, 1, 25, 4) and seq.scores.shape == (103, 1, 25)
    assert set(np.unique(seq.scores)) <= {0.5, 1.0}


def test_ntu_handshake_two_bodies_crlf():
    assert b"\r\n" in A058.read_bytes()[:20]
    seq = skeletonllm.load(A058)
    assert seq.joints.shape == (70, 2, 25, 3)
    assert seq.present.all()
    assert seq.label == "handshaking" and seq.label_id == 57
    assert seq.metadata["camera"] == 3 and seq.metadata["subject"] == 8 and len(seq.metadata["body_ids"]) == 2
    # The two people stand apart and their right hands meet in the middle.
    spine = seq.joints[:, :, J["spine_mid"]]
    assert np.linalg.norm(spine[:, 0] - spine[:, 1], axis=-1).min() > 0.5
    hands = seq.joints[:, :, J["right_hand"]]
    assert np.linalg.norm(hands[:, 0] - hands[:, 1], axis=-1).min() < 0.15


def test_ntu_lf_and_crlf_parse_identically(tmp_path):
    crlf = tmp_path / A001.name
    crlf.write_bytes(A001.read_bytes().replace(b"\n", b"\r\n"))
    a, b = skeletonllm.load(A001), skeletonllm.load(crlf)
    assert np.array_equal(a.joints, b.joints) and np.array_equal(a.orientations, b.orientations)


def test_ntu_coordinate_convention():
    """x = viewer's right, y up, z away from the camera, checked against the data itself."""
    raw = ntu.read_raw(A001).values[:, 0]
    seq = skeletonllm.load(A001)
    p = seq.joints[:, 0].reshape(-1, 3).astype(np.float64)
    color_x, color_y = raw[..., 5].reshape(-1), raw[..., 6].reshape(-1)
    # y up: higher joints have smaller image rows. z > 0 in front of the camera.
    assert np.corrcoef(p[:, 1] / p[:, 2], color_y)[0, 1] < -0.99
    assert (p[:, 2] > 1.0).all()
    # The subject faces the camera: while drinking, both hands are nearer the camera than the
    # chest, and the left foot points at the camera (toe nearer than ankle).
    j = seq.joints[:, 0]
    assert (j[:, [J["left_hand"], J["right_hand"]], 2] < j[:, [J["spine_shoulder"]], 2]).mean() > 0.9
    assert np.median(j[:, J["left_foot"], 2] - j[:, J["left_ankle"], 2]) < -0.05
    # Facing us, their right shoulder must be on the viewer's left (smaller x), as in a photograph.
    assert (j[:, J["right_shoulder"], 0] < j[:, J["left_shoulder"], 0]).all()
    # Kinect v2 colour frames are mirror images: colorX therefore runs against our x.
    assert np.corrcoef(p[:, 0] / p[:, 2], color_x)[0, 1] < -0.99


def _chest_normal_z(joints, spine_base, spine_top, r_sh, l_sh):
    """z of the chest normal by the canonical (left-handed) frame's rule: -(up x right)."""
    up = joints[..., spine_top, :] - joints[..., spine_base, :]
    right = joints[..., r_sh, :] - joints[..., l_sh, :]
    return -np.cross(up, right)[..., 2]


def test_kinect_formats_share_the_chirality():
    """Kinect always reports a body as facing the sensor; after conversion every Kinect format
    shows bodies facing the camera by the same rule that the NTU test above established."""
    a001 = skeletonllm.load(A001).joints[:, 0]
    assert np.median(_chest_normal_z(a001, J["spine_base"], J["spine_shoulder"], J["right_shoulder"],
                                     J["left_shoulder"])) < 0
    pku = skeletonllm.load(PKU)
    for m in range(2):
        jm = pku.joints[pku.present[:, m], m]
        assert np.median(_chest_normal_z(jm, J["spine_base"], J["spine_shoulder"], J["right_shoulder"],
                                         J["left_shoulder"])) < 0
        # independent cue: the feet point at the camera
        assert np.median(jm[:, J["left_foot"], 2] - jm[:, J["left_ankle"], 2]) < -0.03
    for path in UCLA:
        u = skeletonllm.load(path)
        t = u.topology
        jm = u.joints[:, 0]
        assert np.median(_chest_normal_z(jm, t.index("hip_center"), t.index("shoulder_center"),
                                         t.index("right_shoulder"), t.index("left_shoulder"))) < 0


def test_ntu_orientations_are_proper_and_follow_the_bones():
    seq = skeletonllm.load(A001)
    q = seq.orientations[:, 0].astype(np.float64)
    np.testing.assert_allclose(np.linalg.norm(q, axis=-1), 1.0, atol=1e-5)
    R = _quat_to_matrix(q)
    np.testing.assert_allclose(np.linalg.det(R), 1.0, atol=1e-5)
    # Kinect: a joint's local y axis points along the bone from its parent to it. This must
    # survive the mirror conversion (R -> S R S).
    p = seq.joints[:, 0].astype(np.float64)
    raw_q = ntu.read_raw(A001).values[:, 0, :, 7:11]
    cos = []
    for parent, child in NTU25.bones:
        if np.linalg.norm(raw_q[:, child], axis=-1).min() < 0.5:
            continue  # leaf joints carry no orientation in the file (filled from the parent)
        bone = p[:, child] - p[:, parent]
        bone /= np.linalg.norm(bone, axis=-1, keepdims=True)
        cos.append(np.einsum("ti,ti->t", R[:, child, :, 1], bone))
    cos = np.concatenate(cos)
    assert len(cos) > 1500 and np.median(cos) > 0.999 and cos.min() > 0.95
    # Leaves copy their parent's orientation.
    np.testing.assert_array_equal(seq.orientations[:, 0, J["head"]], seq.orientations[:, 0, J["neck"]])


# -- PKU-MMD -----------------------------------------------------------------------------------
def test_pku_mmd_recording_and_clips():
    rec = skeletonllm.load(PKU)
    assert rec.joints.shape == (1261, 2, 25, 3)
    assert rec.present.sum() > 2400 and not rec.present.all()  # a few frames miss a person
    rows = [tuple(int(v) for v in line.split(",")) for line in PKU_LABEL.read_text().split()]
    assert rec.metadata["segments"] == [(lab - 1, s, e, float(c)) for lab, s, e, c in rows]
    clips = skeletonllm.load_all(PKU)
    assert len(clips) == 7
    names = class_names("pku_mmd")
    for k, (clip, (lab, s, e, _)) in enumerate(zip(clips, rows)):
        assert clip.label_id == lab - 1 and clip.label == names[lab - 1]
        assert clip.num_frames == e - s + 1 and clip.metadata["clip"] == k
        np.testing.assert_array_equal(clip.joints, rec.joints[s:e + 1])
    assert clips[0].label == "punching/slapping other person"
    # metres in Kinect space: people 2-3.5 m from the camera
    z = rec.joints[rec.present][..., 2]
    assert 1.5 < z.min() and z.max() < 4.0


def test_pku_explicit_label_path_and_unlabelled(tmp_path):
    lonely = tmp_path / "0036-L.txt"
    shutil.copy(PKU, lonely)
    assert len(skeletonllm.load_all(lonely)) == 1  # no label file: the whole recording
    assert len(skeletonllm.load_all(lonely, label_path=PKU_LABEL)) == 7


# -- NW-UCLA -----------------------------------------------------------------------------------
def test_nw_ucla_three_files():
    expect = {"a01": (44, 0, "pick up with one hand"), "a05": (24, 4, "sit down"), "a11": (51, 8, "throw")}
    for path in UCLA:
        seq = skeletonllm.load(path)
        T, label_id, name = expect[path.name[:3]]
        assert seq.joints.shape == (T, 1, 20, 3) and seq.topology.name == "kinect_v1_20"
        assert seq.label_id == label_id and seq.label == name
        assert seq.metadata["view"] == "v01" and seq.metadata["subject"] == "s01"
        raw = np.array(json.loads(path.read_text())["skeletons"])
        np.testing.assert_allclose(seq.joints[:, 0], raw * [-1, 1, 1], atol=1e-6)
        assert 1.3 < body_height(seq) < 1.8  # metres


# -- HumanML3D ---------------------------------------------------------------------------------
def test_humanml3d_joints_and_captions():
    seq = skeletonllm.load(HML_JOINTS)
    raw = np.load(HML_JOINTS)
    assert seq.joints.shape == (116, 1, 22, 3) and seq.topology.name == "smpl22" and seq.fps == 20.0
    np.testing.assert_array_equal(seq.joints[:, 0], raw * np.array([1, 1, -1], np.float32))
    caps = seq.metadata["captions"]
    assert len(caps) == 4 and caps[0] == "a man kicks something or someone with his left leg."
    rec = seq.metadata["caption_records"][1]
    assert rec["tokens"][:3] == ["the/DET", "stand/VERB", "person/NOUN"] and rec["start"] == 0.0
    # Faces the camera (toes nearer than ankles) with the right hip on the viewer's left.
    t = seq.topology
    j = seq.joints[0, 0]
    assert j[t.index("left_foot"), 2] < j[t.index("left_ankle"), 2]
    assert j[t.index("right_hip"), 0] < j[t.index("left_hip"), 0]


def test_humanml3d_vectors_recover_the_joint_file():
    vecs = np.load(HML_VECS)
    joints = np.load(HML_JOINTS)
    assert vecs.shape[0] == joints.shape[0]  # this release saves joints recovered from the same T vectors
    err = np.abs(recover_joints(vecs) - joints).max()
    assert err < 1e-5, err  # measured 9.4e-8 (float32 rounding of the stored joints)
    seq = skeletonllm.load(HML_VECS)
    assert seq.metadata["format"] == "humanml3d_vecs" and len(seq.metadata["captions"]) == 4
    np.testing.assert_allclose(seq.joints, skeletonllm.load(HML_JOINTS).joints, atol=1e-5)


# -- COCO-17 (AlphaPose) -----------------------------------------------------------------------
def test_coco_alphapose_tracks():
    seq = skeletonllm.load(COCO)
    dets = json.loads(COCO.read_text())
    ids = sorted({int(d["image_id"].split(".")[0]) for d in dets})
    assert seq.joints.shape == (ids[-1] - ids[0] + 1, 2, 17, 3) and seq.dims == 2
    assert seq.topology.name == "coco17" and (seq.joints[..., 2] == 0).all()
    assert seq.scores.shape == (727, 2, 17)
    assert (seq.present.sum(axis=0) > 700).all()
    # frames with no detection at all are absent, not zeros drawn at the origin
    missing = [i - ids[0] for i in range(ids[0], ids[-1] + 1) if i not in set(ids)]
    assert not seq.present[missing].any()
    # tracks keep their identity: the torso centre never jumps between frames
    for m in range(2):
        idx = np.flatnonzero(seq.present[:, m])
        c = seq.joints[idx, m][:, [5, 6, 11, 12], :2].mean(axis=1)
        assert np.linalg.norm(np.diff(c, axis=0), axis=1).max() < 0.3
    # the two people stay on their own sides of the frame on average
    cx = [seq.joints[seq.present[:, m], m][:, [5, 6, 11, 12], 0].mean() for m in range(2)]
    assert abs(cx[0] - cx[1]) > 0.5
    # pixels -> nominal metres: median person extent ~1.7 m, y up (heads above ankles)
    assert seq.metadata["metres_per_pixel"] == pytest.approx(1.7 / seq.metadata["person_height_px"])
    j = seq.joints[seq.present]
    assert np.median(j[:, 0, 1] - j[:, 15:17, 1].mean(axis=1)) > 1.0
    assert len(skeletonllm.load(COCO, max_people=4).present[0]) == 4


def test_coco_hungarian_linking_does_not_swap_people(tmp_path):
    rng = np.random.default_rng(0)
    base = [rng.uniform(0, 100, (17, 2)) + [100, 200], rng.uniform(0, 100, (17, 2)) + [600, 200]]
    dets = []
    for t in range(20):
        order = [1, 0] if t % 2 else [0, 1]  # the detector lists people in a different order each frame
        for p in order:
            kp = np.concatenate([base[p] + [3 * t, 0], np.full((17, 1), 0.9)], axis=1)
            dets.append({"image_id": f"{t}.jpg", "keypoints": kp.ravel().tolist(), "score": 2.0 + p})
    path = tmp_path / "dets.json"
    path.write_text(json.dumps(dets))
    seq = skeletonllm.load(path)
    assert seq.present.all() and seq.num_bodies == 2
    x = seq.joints[:, :, :, 0].mean(axis=2)  # (T, 2)
    # each person keeps one slot although the detector lists them in alternating order
    assert len(set(np.sign(x[:, 0] - x[:, 1]))) == 1
    assert seq.metadata["num_tracks"] == 2


# -- BVH ---------------------------------------------------------------------------------------
def test_bvh_cmu():
    seq = skeletonllm.load(BVH)
    t = seq.topology
    assert seq.joints.shape == (2752, 1, 31, 3) and t.num_joints == 31 and t.num_bones == 30
    assert seq.fps == pytest.approx(120.0, abs=0.01)
    assert seq.metadata["units"] == "cmu"
    j = seq.joints[0, 0]
    thigh = np.linalg.norm(j[t.index("LeftLeg")] - j[t.index("LeftUpLeg")])
    assert 0.35 < thigh < 0.45  # CMU femur 7.16 units x 0.0564 m
    assert 1.3 < body_height(seq) < 1.9
    assert {t.parts[t.index(n)] for n in ("LeftHand", "LThumb")} == {"left_hand"}
    assert t.parts[t.index("LHipJoint")] == "left_leg" and t.parts[t.index("LowerBack")] == "torso"
    assert t.parts[t.index("RightToeBase")] == "right_foot" and t.parts[t.index("Head")] == "head"
    assert t.parts[t.index("RightForeArm")] == "right_arm"
    # faces the camera: right hip on the viewer's left, toes nearer than the feet; root at x = z = 0
    assert j[t.index("RightUpLeg"), 0] < j[t.index("LeftUpLeg"), 0]
    assert j[t.index("LeftToeBase"), 2] < j[t.index("LeftFoot"), 2]
    assert j[0, 0] == pytest.approx(0, abs=1e-6) and j[0, 2] == pytest.approx(0, abs=1e-6)


def test_bvh_forward_kinematics_small_file(tmp_path):
    text = """HIERARCHY
ROOT hips
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Xrotation Yrotation Zrotation
  JOINT l_upperarm
  {
    OFFSET 10 0 0
    CHANNELS 3 Yrotation Xrotation Zrotation
    End Site
    {
      OFFSET 0 -5 0
    }
  }
}
MOTION
Frames: 2
Frame Time: 0.04
1 2 3 0 0 0 0 0 0
0 0 0 0 90 0 0 0 90
"""
    path = tmp_path / "tiny.bvh"
    path.write_text(text)
    data = bvh.parse(path)
    pos, ends = bvh.forward_kinematics(data)
    np.testing.assert_allclose(pos[0], [[1, 2, 3], [11, 2, 3]], atol=1e-9)
    # frame 1: root turned 90 deg about y moves the child from +x to -z; child's own 90 deg
    # about z turns its End Site (0,-5,0) to (+5,0,0) locally, then the root's turn -> (0,0,-5).
    np.testing.assert_allclose(pos[1], [[0, 0, 0], [0, 0, -10]], atol=1e-9)
    np.testing.assert_allclose(ends[1, 0], [0, 0, -15], atol=1e-9)
    seq = skeletonllm.load(path, units="cm")
    assert seq.fps == 25.0 and seq.metadata["metres_per_unit"] == 0.01
    assert seq.topology.parts == ("torso", "left_arm")


# -- PYSKL -------------------------------------------------------------------------------------
def _pyskl_annotation(path, label):
    raw = ntu.read_raw(path)
    kp = np.transpose(raw.values[..., :3], (1, 0, 2, 3)).astype(np.float32)  # (M, T, V, C)
    return {"frame_dir": path.name.split(".")[0], "label": label, "keypoint": kp,
            "total_frames": kp.shape[1], "img_shape": (1080, 1920)}


def test_pyskl_pickle_built_from_real_ntu(tmp_path):
    anns = [_pyskl_annotation(A001, 0), _pyskl_annotation(A058, 57)]
    data = {"split": {"xsub_train": ["S001C001P001R001A001", "S001C003P008R002A058"], "xsub_val": []},
            "annotations": anns}
    path = tmp_path / "ntu60_3danno.pkl"
    path.write_bytes(pickle.dumps(data, protocol=4))
    seqs = skeletonllm.load_all(path)
    assert len(seqs) == 2
    for seq, src in zip(seqs, (A001, A058)):
        ref = skeletonllm.load(src)
        np.testing.assert_allclose(seq.joints, ref.joints, atol=1e-6)
        assert np.array_equal(seq.present, ref.present)
        assert seq.label == ref.label and seq.label_id == ref.label_id
        assert seq.metadata["splits"] == ["xsub_train"] and seq.metadata["img_shape"] == [1080, 1920]
    with pytest.raises(SkeletonFormatError, match="load_all"):
        skeletonllm.load(path)
    one = tmp_path / "one.pkl"
    one.write_bytes(pickle.dumps({"split": {}, "annotations": anns[:1]}, protocol=5))
    assert skeletonllm.load(one).joints.shape == (103, 1, 25, 3)


def test_pyskl_2d_coco_annotation(tmp_path):
    dets = json.loads(COCO.read_text())
    first = {}
    for d in dets:  # one detection per frame, the first listed: enough for a 2D layout check
        first.setdefault(d["image_id"], d)
    kp = np.array([v["keypoints"] for v in list(first.values())[:40]], np.float32).reshape(1, 40, 17, 3)
    ann = {"frame_dir": "clip", "label": 3, "keypoint": kp[..., :2], "keypoint_score": kp[..., 2],
           "total_frames": 40, "img_shape": (480, 854)}
    path = tmp_path / "coco2d.pkl"
    path.write_bytes(pickle.dumps({"split": {}, "annotations": [ann]}))
    seq = skeletonllm.load(path)
    assert seq.topology.name == "coco17" and seq.dims == 2 and seq.joints.shape == (40, 1, 17, 3)
    np.testing.assert_array_equal(seq.scores[:, 0], kp[0, ..., 2])
    assert seq.label_id == 3 and (seq.joints[..., 2] == 0).all()


# -- normalize ---------------------------------------------------------------------------------
def test_normalize_helpers():
    seq = skeletonllm.load(A001)
    c = center_on_root(seq)
    np.testing.assert_allclose(c.joints[0, 0, 0], 0, atol=1e-6)
    np.testing.assert_allclose(np.diff(c.joints, axis=0), np.diff(seq.joints, axis=0), atol=1e-5)
    s = scale_to_height(c, 1.0)
    assert body_height(s) == pytest.approx(1.0, rel=1e-5)


# -- inspect -----------------------------------------------------------------------------------
def test_inspect_cli_json_and_table():
    runner = CliRunner()
    res = runner.invoke(app, ["inspect", str(A058), "--json"])
    assert res.exit_code == 0, res.output
    info = json.loads(res.output)
    assert (info["format"], info["topology"], info["frames"], info["bodies"], info["joints"], info["dims"],
            info["label"]) == ("ntu", "ntu25", 70, 2, 25, 3, "handshaking")
    res = runner.invoke(app, ["inspect", str(PKU)])
    assert res.exit_code == 0 and "pku_mmd" in res.output and "1261" in res.output
    res = runner.invoke(app, ["inspect", str(HML_JOINTS), "--json", "--format", "humanml3d"])
    assert json.loads(res.output)["topology"] == "smpl22"


def test_coco_dataset_layout(tmp_path):
    dets = json.loads(COCO.read_text())[:30]
    anns = [{"image_id": 397133 + 1000 * int(d["image_id"].split(".")[0]), "keypoints":
             [v if k % 3 != 2 else (2 if v > 0.3 else 0) for k, v in enumerate(d["keypoints"])]} for d in dets]
    path = tmp_path / "person_keypoints.json"
    path.write_text(json.dumps({"images": [], "annotations": anns}))
    seq = skeletonllm.load(path, max_people=1)
    assert seq.num_frames == len({a["image_id"] for a in anns})  # no gap frames between arbitrary ids
    assert set(np.unique(seq.scores)) <= {0.0, 1.0}  # visibility flags become 0/1 scores
