"""Motion capture by forward kinematics: AMASS .npz and AIST++ .pkl (SMPL parameters) and CMU ASF/AMC,
read from the real sample files."""
import pickle
from pathlib import Path

import numpy as np
import pytest

import skeletonllm
from skeletonllm.skeleton.formats import asf_amc, smpl
from skeletonllm.skeleton.formats._kinematics import axis_angle_to_matrix
from skeletonllm.skeleton.io import detect_format
from skeletonllm.skeleton.normalize import body_height
from skeletonllm.skeleton.topology import SMPL22

DATA = Path(__file__).parent / "data"
AMASS = DATA / "amass_npz" / "dmpl_sample.npz"
AISTPP = DATA / "smpl_aistpp" / "gBR_sBM_cAll_d04_mBR0_ch01.pkl"
ASF = DATA / "cmu_asf_amc" / "11.asf"
AMC = DATA / "cmu_asf_amc" / "11_01.amc"
HML = DATA / "humanml3d" / "new_joints" / "000000.npy"
S = SMPL22.index


def _faces_camera(j, left_hip, right_hip, left_toe, left_ankle):
    """Right hip on the viewer's left and toes nearer the camera than the ankle (frame-wise medians)."""
    return (np.median(j[:, right_hip, 0] - j[:, left_hip, 0]) < 0
            and np.median(j[:, left_toe, 2] - j[:, left_ankle, 2]) < 0)


# -- SMPL family ---------------------------------------------------------------------------------
def test_amass_real_file():
    seq = skeletonllm.load(AMASS)
    assert detect_format(AMASS) == "amass" and seq.metadata["format"] == "amass"
    assert seq.joints.shape == (235, 1, 22, 3) and seq.topology == SMPL22 and seq.fps == 120.0
    assert seq.metadata["gender"] == "female" and len(seq.metadata["betas"]) == 16
    assert seq.metadata["rest_skeleton"] == "default" and "approximate" in seq.metadata["approximation"]
    j = seq.joints[:, 0]
    # upright (head 1.3-2 m above the floor at y = 0), root starts at x = z = 0, facing the camera
    assert j[..., 1].min() == pytest.approx(0.0, abs=1e-6)
    assert (j[:, S("head"), 1] > j[:, S("pelvis"), 1] + 0.4).all()
    np.testing.assert_allclose(j[0, 0, [0, 2]], 0.0, atol=1e-6)
    assert _faces_camera(j, S("left_hip"), S("right_hip"), S("left_foot"), S("left_ankle"))
    # the pelvis follows the file's translation (z-up world -> y up), up to the first frame's offset
    trans = np.load(AMASS)["trans"]
    height = j[:, 0, 1] - j[0, 0, 1]
    np.testing.assert_allclose(height, trans[:, 2] - trans[0, 2], atol=1e-5)


def test_amass_default_skeleton_error_against_markers():
    """How far the default rest skeleton puts joints from where the mocap markers say they are.

    Joint centres from markers: midpoints of the lateral/medial knee (KNE/KNI), elbow (ELB/ELBIN)
    and wrist (IWR/OWR) markers. One constant offset (the unknown pelvis rest offset) is removed.
    Measured: median 5.5 cm over 879 joint-frames (the figure the README and smpl.py quote).
    """
    z = np.load(AMASS)
    joints = smpl.forward_kinematics(z["poses"], z["trans"])  # model world (z up), before any re-framing
    names = [n.decode() for n in z["marker_labels"]]
    mk = {n: z["marker_data"][:, k] for k, n in enumerate(names)}
    centres = {"left_knee": ("LKNE", "LKNI"), "right_knee": ("RKNE", "RKNI"), "left_elbow": ("LELB", "LELBIN"),
               "right_elbow": ("RELB", "RELBIN"), "left_wrist": ("LIWR", "LOWR")}
    d = np.stack([(mk[a] + mk[b]) / 2 - joints[:, S(j)] for j, (a, b) in centres.items()], axis=1)  # (T, 5, 3)
    err = np.linalg.norm(d - np.nanmean(d.reshape(-1, 3), axis=0), axis=-1)
    assert np.isfinite(err).sum() > 800
    median = float(np.nanmedian(err))
    assert 0.01 < median < 0.08, median  # measured 0.055 m
    assert np.nanmedian(err[:, 2:]) < 0.08  # the arm joints alone too


def test_default_rest_skeleton_is_derived_from_the_humanml3d_sample():
    """DEFAULT_REST is what its docstring says: HumanML3D frame-0 lengths/directions + T-pose limbs."""
    j0 = np.load(HML).astype(np.float64)[0]  # facing +z, x = subject's left, y up
    parent = dict((SMPL22.joint_names[b], SMPL22.joint_names[a]) for a, b in SMPL22.bones)
    tpose = {"knee": (0, -1, 0), "ankle": (0, -1, 0), "shoulder": (1, 0, 0), "elbow": (1, 0, 0), "wrist": (1, 0, 0)}
    for name, (length, direction) in smpl.DEFAULT_REST.items():
        v = j0[S(name)] - j0[S(parent[name])]
        if name.startswith("left_"):
            r = name.replace("left_", "right_")
            w = (j0[S(r)] - j0[S(parent[r])]) * [-1, 1, 1]
            want_len = (np.linalg.norm(v) + np.linalg.norm(w)) / 2
            want_dir = v / np.linalg.norm(v) + w / np.linalg.norm(w)
            limb = name.split("_", 1)[1]
            if limb in tpose:
                want_dir = np.array(tpose[limb], float)
        else:
            want_len, want_dir = np.linalg.norm(v), v * [0, 1, 1]
        want_dir = want_dir / np.linalg.norm(want_dir)
        assert length == pytest.approx(want_len, abs=1e-4), name
        np.testing.assert_allclose(direction, want_dir, atol=1e-4, err_msg=name)
    off = smpl.default_rest_offsets()
    np.testing.assert_allclose(off[S("right_hip")], off[S("left_hip")] * [-1, 1, 1])


def test_aistpp_real_file():
    seq = skeletonllm.load(AISTPP)
    raw = pickle.loads(AISTPP.read_bytes())
    assert detect_format(AISTPP) == "aistpp"
    assert seq.joints.shape == (720, 1, 22, 3) and seq.fps == 60.0 and seq.topology == SMPL22
    assert seq.metadata["genre"] == "BR" and seq.metadata["dancer"] == "04"
    assert seq.metadata["smpl_scaling"] == pytest.approx(float(raw["smpl_scaling"][0]))
    j = seq.joints[:, 0]
    assert (j[:, S("head"), 1] > j[:, S("pelvis"), 1] + 0.3).mean() > 0.95  # upright dancing
    assert _faces_camera(j[:1], S("left_hip"), S("right_hip"), S("left_foot"), S("left_ankle"))
    # translations are in the scaled world: trans / scaling metres, y up
    rel = j[:, 0] - j[0, 0]
    tr = raw["smpl_trans"] / raw["smpl_scaling"]
    np.testing.assert_allclose(rel[:, 1], tr[:, 1] - tr[0, 1], atol=1e-4)
    # bone lengths are the rest skeleton's in every frame
    off = np.linalg.norm(smpl.default_rest_offsets(), axis=1)
    for a, b in SMPL22.bones:
        np.testing.assert_allclose(np.linalg.norm(j[:, b] - j[:, a], axis=-1), off[b], atol=1e-5)


def test_forward_kinematics_matches_smplx():
    """Our FK against smplx's own (batch_rodrigues + batch_rigid_transform) on real AIST++ poses."""
    torch = pytest.importorskip("torch")
    lbs = pytest.importorskip("smplx.lbs")
    raw = pickle.loads(AISTPP.read_bytes())
    poses = raw["smpl_poses"][:60].astype(np.float64)
    rng = np.random.default_rng(0)
    rest = np.cumsum(rng.normal(scale=0.1, size=(24, 3)), axis=0)  # any rest joints will do
    parents = list(smpl.PARENTS) + [20, 21]
    rot = lbs.batch_rodrigues(torch.tensor(poses.reshape(-1, 3))).reshape(60, 24, 3, 3)
    posed, _ = lbs.batch_rigid_transform(rot, torch.tensor(rest)[None].expand(60, 24, 3).contiguous(),
                                         torch.tensor(parents), dtype=torch.float64)
    ours = smpl.forward_kinematics(poses, np.zeros((60, 3)), rest[:22])
    np.testing.assert_allclose(ours, posed.numpy()[:, :22], atol=1e-7)  # smplx adds 1e-8 to every angle
    np.testing.assert_allclose(axis_angle_to_matrix(poses.reshape(-1, 24, 3)), rot.numpy().reshape(60, 24, 3, 3),
                               atol=1e-7)


def _fake_smpl_model(path: Path, rest: np.ndarray, rng) -> None:
    """A stand-in SMPL model file (not the licensed one): vertices 0..23 are the rest joints."""
    V = 40
    parents = list(smpl.PARENTS) + [20, 21]
    v = np.concatenate([rest, rng.normal(scale=0.1, size=(V - 24, 3))])
    jreg = np.zeros((24, V))
    jreg[np.arange(24), np.arange(24)] = 1.0
    data = {"v_template": v, "shapedirs": rng.normal(scale=0.01, size=(V, 3, 10)), "J_regressor": jreg,
            "kintree_table": np.array([[2 ** 32 - 1] + parents[1:], list(range(24))], np.int64),
            "weights": np.eye(24)[np.arange(V) % 24], "posedirs": np.zeros((V, 3, 207)), "f": np.array([[0, 1, 2]])}
    path.write_bytes(pickle.dumps(data))


def test_body_model_path_through_smplx(tmp_path):
    pytest.importorskip("smplx")
    rng = np.random.default_rng(1)
    rest = np.cumsum(rng.normal(scale=0.1, size=(24, 3)), axis=0)
    model = tmp_path / "SMPL_NEUTRAL.pkl"
    _fake_smpl_model(model, rest, rng)
    raw = pickle.loads(model.read_bytes())
    betas = rng.normal(size=10)
    got = smpl.model_rest_joints(model, betas, "smpl")
    want = (raw["J_regressor"] @ (raw["v_template"] + raw["shapedirs"] @ betas))[:22]
    np.testing.assert_allclose(got, want, atol=1e-6)
    seq = skeletonllm.load(AISTPP, body_model=model)
    assert seq.metadata["rest_skeleton"] == str(model) and "approximation" not in seq.metadata
    # bone lengths are now the model's
    j = seq.joints[:, 0]
    for a, b in SMPL22.bones:
        np.testing.assert_allclose(np.linalg.norm(j[:, b] - j[:, a], axis=-1),
                                   np.linalg.norm(rest[b] - rest[a]), atol=1e-5)


# -- CMU ASF/AMC -----------------------------------------------------------------------------------
def test_asf_amc_real_files():
    assert b"\r\n" in AMC.read_bytes()[:200] and AMC.read_text().splitlines()[1].startswith("#")
    seq = skeletonllm.load(AMC)  # the .asf is found beside it (11_01.amc -> 11.asf)
    assert detect_format(AMC) == "asf_amc"
    t = seq.topology
    assert seq.joints.shape == (597, 1, 31, 3) and t.num_bones == 30 and seq.fps == 120.0
    assert seq.metadata["skeleton_file"] == str(ASF) and seq.metadata["units"] == "cmu"
    same = skeletonllm.load(AMC, skeleton=ASF)
    np.testing.assert_array_equal(seq.joints, same.joints)
    j = seq.joints[:, 0]
    # bone lengths from the .asf: femur 7.33161 units, tibia 7.80828, x 0.0254 / 0.45 m
    m = 0.0254 / 0.45
    np.testing.assert_allclose(np.linalg.norm(j[:, t.index("lfemur")] - j[:, t.index("lhipjoint")], axis=-1),
                               7.33161 * m, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(j[:, t.index("ltibia")] - j[:, t.index("lfemur")], axis=-1),
                               7.80828 * m, atol=1e-5)
    # parts from CMU bone names (a joint is the end of its bone: lhumerus ends at the elbow)
    assert [t.parts[t.index(n)] for n in ("lhumerus", "lradius", "rfemur", "rtibia", "head", "thorax")] == \
        ["left_arm", "left_hand", "right_leg", "right_foot", "head", "torso"]
    # standing on the floor in frame 0, upright, facing the camera, root at x = z = 0
    assert 1.4 < body_height(seq) < 1.9
    assert 0.0 < j[0, :, 1].min() < 0.1  # the lowest joint (a toe) a few cm above the floor, y = 0
    assert (j[:, t.index("head"), 1] > j[:, t.index("root"), 1]).all()
    np.testing.assert_allclose(j[0, 0, [0, 2]], 0.0, atol=1e-6)
    assert _faces_camera(j[:1], t.index("lhipjoint"), t.index("rhipjoint"), t.index("ltoes"), t.index("lfoot"))


def test_asf_euler_convention_on_a_small_rig(tmp_path):
    """Acclaim: axis angles listed XYZ mean Rz @ Ry @ Rx; a bone's rotation is C M C^-1."""
    (tmp_path / "rig.asf").write_text(""":units
  length 1
  angle deg
:root
   order TX TY TZ RX RY RZ
   axis XYZ
   position 0 0 0
   orientation 0 0 0
:bonedata
  begin
     id 1
     name arm
     direction 1 0 0
     length 2
     axis 0 0 90 XYZ
    dof rx ry
  end
:hierarchy
  begin
    root arm
  end
""")
    (tmp_path / "rig_01.amc").write_text(":FULLY-SPECIFIED\n:DEGREES\n1\nroot 1 2 3 0 0 0\narm 0 0\n"
                                        "2\nroot 0 0 0 0 90 0\narm 90 0\n")
    skel = asf_amc.parse_asf(tmp_path / "rig.asf")
    root, motion, deg = asf_amc.parse_amc(tmp_path / "rig_01.amc", skel)
    names, parents, pos = asf_amc.forward_kinematics(skel, root, motion, deg)
    assert names == ["root", "arm"] and parents == [-1, 0]
    np.testing.assert_allclose(pos[0], [[1, 2, 3], [3, 2, 3]], atol=1e-9)
    # frame 2: the bone frame C turns x to y, so the bone's rx (about its local x = world y) is a
    # turn about world y: (2, 0, 0) -> (0, 0, -2); then the root's 90 deg about y -> (-2, 0, 0).
    np.testing.assert_allclose(pos[1, 1], [-2, 0, 0], atol=1e-9)
