"""Bad files raise SkeletonFormatError naming the file, the line/record and what was expected."""
import json
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import skeletonllm
from skeletonllm.cli import app
from skeletonllm.errors import SkeletonFormatError

DATA = Path(__file__).parent / "data"
A001 = DATA / "ntu_skeleton" / "S001C001P001R001A001.skeleton"
PKU = DATA / "pku_mmd" / "skeleton" / "0036-L.txt"
UCLA = DATA / "nw_ucla" / "a05_s01_e00_v01.json"
BVH = DATA / "bvh" / "cmu_01_01.bvh"
COCO = DATA / "coco17_alphapose" / "alphapose-results.json"
HML = DATA / "humanml3d" / "new_joints" / "000000.npy"


def _error(path, match=None, named=None, **kw) -> SkeletonFormatError:
    with pytest.raises(SkeletonFormatError) as info:
        skeletonllm.load_all(path, **kw)
    err = info.value
    assert str(named or path) in str(err)  # the message names the file at fault
    if match:
        assert match in str(err), str(err)
    return err


def _edit_line(src: Path, dst: Path, lineno: int, new: str) -> Path:
    lines = src.read_text().splitlines()
    lines[lineno - 1] = new
    dst.write_text("\n".join(lines) + "\n")
    return dst


# -- generic -----------------------------------------------------------------------------------
def test_missing_empty_folder_unknown(tmp_path):
    _error(tmp_path / "nope.skeleton", "not found")
    (tmp_path / "empty.skeleton").write_bytes(b"")
    _error(tmp_path / "empty.skeleton", "empty")
    _error(tmp_path, "folder")
    (tmp_path / "x.xyz").write_text("hello\n")
    _error(tmp_path / "x.xyz", "cannot tell the skeleton format")
    (tmp_path / "topo.json").write_text(json.dumps({"name": "t", "joints": ["a", "b"], "bones": [[0, 1]],
                                                     "parts": ["torso", "torso"]}))
    _error(tmp_path / "topo.json", "topology file")
    with pytest.raises(SkeletonFormatError, match="unknown format"):
        skeletonllm.load(A001, format="nope")


# -- NTU ---------------------------------------------------------------------------------------
def test_ntu_truncated(tmp_path):
    p = tmp_path / A001.name
    lines = A001.read_text().splitlines()
    p.write_text("\n".join(lines[:500]) + "\n")  # cut inside frame 18
    err = _error(p, "file ends early")
    assert err.location.startswith("line")


def test_ntu_wrong_joint_count(tmp_path):
    err = _error(_edit_line(A001, tmp_path / A001.name, 4, "20"), "expected 25 joints")
    assert err.location == "line 4"


def test_ntu_non_numeric_and_nan(tmp_path):
    line = A001.read_text().splitlines()[100 - 1].split()
    line[3] = "abc"
    err = _error(_edit_line(A001, tmp_path / A001.name, 100, " ".join(line)), "'abc' is not a number")
    assert err.location == "line 100"
    line[3] = "nan"
    err = _error(_edit_line(A001, tmp_path / A001.name, 100, " ".join(line)), "NaN")
    assert err.location == "line 100"


def test_ntu_short_joint_row_and_header(tmp_path):
    line = A001.read_text().splitlines()[40 - 1].split()
    err = _error(_edit_line(A001, tmp_path / A001.name, 40, " ".join(line[:11])), "expected 12 numbers")
    assert err.location == "line 40"
    err = _error(_edit_line(A001, tmp_path / A001.name, 1, "many"), "frame count")
    assert err.location == "line 1"
    err = _error(_edit_line(A001, tmp_path / A001.name, 1, "102"), "after the last")


def test_ntu_npy_wrong_shape(tmp_path):
    p = tmp_path / "S001C001P001R001A001.skeleton.npy"
    np.save(p, np.array({"file_name": "x", "nbodys": [1], "njoints": 25, "skel_body0": np.zeros((1, 20, 3))},
                        dtype=object), allow_pickle=True)
    _error(p, "(T, 25, 3)")


# -- pickles that try to run code ----------------------------------------------------------------
class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pyskl_pickle_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    p = tmp_path / "evil.pkl"
    p.write_bytes(pickle.dumps({"split": {}, "annotations": [{"keypoint": _Evil(marker)}]}))
    err = _error(p, "refusing to unpickle")
    assert "system" in str(err)
    assert not marker.exists()


def test_malicious_npy_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    p = tmp_path / "evil.npy"
    np.save(p, np.array(_Evil(marker), dtype=object), allow_pickle=True)  # saving does not run it
    assert not marker.exists()
    _error(p, "refusing to unpickle")
    assert not marker.exists()


def test_truncated_and_garbage_pickle(tmp_path):
    good = pickle.dumps({"split": {}, "annotations": [{"keypoint": np.zeros((1, 3, 25, 3), np.float32)}]})
    p = tmp_path / "cut.pkl"
    p.write_bytes(good[: len(good) // 2])
    _error(p, "pickle")
    p.write_bytes(pickle.dumps({"split": {}, "annotations": [{"keypoint": np.zeros((1, 3, 25, 3), np.float32)}]}))
    _error(p, "no body")
    p.write_bytes(pickle.dumps({"annotations": [{"keypoint": np.full((1, 3, 25, 3), np.nan, np.float32)}]}))
    err = _error(p, "NaN")
    assert err.location.startswith("annotation 0")
    p.write_bytes(pickle.dumps({"annotations": [{"keypoint": np.ones((1, 3, 18, 3), np.float32)}]}))
    _error(p, "V=18")


# -- PKU-MMD -----------------------------------------------------------------------------------
def _pku_tree(tmp_path, skeleton_text=None, label_text=None):
    (tmp_path / "skeleton").mkdir()
    (tmp_path / "label").mkdir()
    sk = tmp_path / "skeleton" / "0036-L.txt"
    sk.write_text(skeleton_text if skeleton_text is not None else PKU.read_text())
    lab = tmp_path / "label" / "0036-L.txt"
    lab.write_text(label_text if label_text is not None else (DATA / "pku_mmd/label/0036-L.txt").read_text())
    return sk, lab


def test_pku_bad_rows(tmp_path):
    lines = PKU.read_text().splitlines()
    lines[9] = " ".join(lines[9].split()[:149])
    sk, _ = _pku_tree(tmp_path, "\n".join(lines))
    err = _error(sk, "expected 150 numbers")
    assert err.location == "line 10"
    row = lines[20].split()
    row[7] = "NaN"
    lines[9], lines[20] = PKU.read_text().splitlines()[9], " ".join(row)
    sk.write_text("\n".join(lines))
    assert _error(sk, "NaN").location == "line 21"


def test_pku_bad_labels(tmp_path):
    sk, lab = _pku_tree(tmp_path, label_text="26,206,265,2\n99,395,446,2\n")
    assert _error(sk, "label 99 outside 1..51", named=lab).location == "line 2"
    lab.write_text("26,206,x,2\n")
    assert _error(sk, "must be integers", named=lab).location == "line 1"
    lab.write_text("26,5000,5100,2\n")
    _error(sk, "has 1261 frames", named=lab)


# -- NW-UCLA -----------------------------------------------------------------------------------
def test_nw_ucla_bad(tmp_path):
    p = tmp_path / UCLA.name
    p.write_text(UCLA.read_text()[:3000])
    err = _error(p, "not valid JSON")
    assert err.location.startswith("line 1, column")
    obj = json.loads(UCLA.read_text())
    obj["skeletons"] = [f[:19] for f in obj["skeletons"]]
    p.write_text(json.dumps(obj))
    _error(p, "20 joints")
    obj = json.loads(UCLA.read_text())
    obj["skeletons"][3][5][1] = float("nan")
    p.write_text(json.dumps(obj))
    assert _error(p, "NaN").location == "frame 3, joint 5, coordinate 1"
    obj["skeletons"][3][5][1] = "high"
    p.write_text(json.dumps(obj))
    _error(p, "non-numeric")


# -- HumanML3D ---------------------------------------------------------------------------------
def test_humanml3d_bad(tmp_path):
    p = tmp_path / "bad.npy"
    np.save(p, np.zeros((10, 21, 3), np.float32))
    _error(p, "(T, 22, 3)", format="humanml3d")
    _error(p, "cannot tell")  # detection refuses it too
    arr = np.load(HML)
    arr[7, 3, 0] = np.nan
    np.save(p, arr)
    assert _error(p, "NaN").location == "frame 7, joint 3, coordinate 0"
    raw = HML.read_bytes()
    p.write_bytes(raw[: len(raw) // 2])
    _error(p, "truncated .npy")


# -- COCO --------------------------------------------------------------------------------------
def test_coco_bad(tmp_path):
    dets = json.loads(COCO.read_text())[:50]
    dets[7]["keypoints"] = dets[7]["keypoints"][:50]
    p = tmp_path / "res.json"
    p.write_text(json.dumps(dets))
    assert _error(p, "51 numbers").location == "record 7"
    dets[7]["keypoints"] = ["a"] * 51
    p.write_text(json.dumps(dets))
    assert _error(p, "51 numbers").location == "record 7"
    p.write_text("[]")
    _error(p, "no detections", format="coco_json")


# -- BVH ---------------------------------------------------------------------------------------
def test_bvh_bad(tmp_path):
    lines = BVH.read_text().splitlines()
    p = tmp_path / "x.bvh"
    p.write_text("\n".join(lines[:1000]))
    _error(p, "truncated: the header says 2752 frames")
    bad = list(lines)
    bad[4] = bad[4].replace("Zrotation", "Qrotation", 1)
    p.write_text("\n".join(bad))
    assert _error(p, "unknown channel 'Qrotation'").location == "line 5"
    bad = list(lines)
    row = bad[299].split()
    row[5] = "oops"
    bad[299] = " ".join(row)
    p.write_text("\n".join(bad))
    assert _error(p, "'oops' is not a number").location == "line 300"
    p.write_text("\n".join(lines[:50]))
    _error(p, "no MOTION section")


# -- the CLI -----------------------------------------------------------------------------------
def test_inspect_bad_file_exit_code_2(tmp_path):
    p = tmp_path / "broken.skeleton"
    shutil.copy(A001, p)
    p.write_text("\n".join(A001.read_text().splitlines()[:60]))
    res = CliRunner().invoke(app, ["inspect", str(p)])
    assert res.exit_code == 2
    assert str(p) in res.output and "Traceback" not in res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)


# -- Kinetics-skeleton -----------------------------------------------------------------------------
KINETICS = DATA / "kinetics_skeleton" / "__NrybzYzUg.json"


def test_kinetics_bad(tmp_path):
    p = tmp_path / "clip.json"
    p.write_text(KINETICS.read_text()[:5000])
    _error(p, "not valid JSON", format="kinetics")
    obj = json.loads(KINETICS.read_text())
    obj["data"][5]["skeleton"][0]["pose"] = obj["data"][5]["skeleton"][0]["pose"][:34]
    p.write_text(json.dumps(obj))
    assert _error(p, "'pose' of 36 numbers").location == "data[5], person 0"
    obj = json.loads(KINETICS.read_text())
    obj["data"][5]["skeleton"][1]["score"][3] = float("nan")
    p.write_text(json.dumps(obj))
    assert _error(p, "NaN").location == "data[5], person 1"
    obj["data"] = [{"frame_index": 1, "skeleton": []}]
    p.write_text(json.dumps(obj))
    _error(p, "no person is detected")


# -- OpenPose --------------------------------------------------------------------------------------
def _openpose_frames(folder, n=3, values=75):
    folder.mkdir()
    kp = np.tile([100.0, 200.0, 0.8], values // 3)
    kp[1::3] += np.arange(values // 3) * 10
    for t in range(n):
        (folder / f"v_{t:012d}_keypoints.json").write_text(json.dumps(
            {"version": 1.3, "people": [{"person_id": [-1], "pose_keypoints_2d": kp.tolist(), "pose_keypoints_3d": []}]}))
    return folder


def test_openpose_bad(tmp_path):
    d = _openpose_frames(tmp_path / "ok")
    assert skeletonllm.load(d).joints.shape == (3, 1, 25, 3)
    bad = d / "v_000000000001_keypoints.json"
    bad.write_text(bad.read_text()[:60])  # truncated
    _error(d, "not valid JSON", named=bad)
    d = _openpose_frames(tmp_path / "count", values=60)
    err = _error(d, "holds 60 numbers: expected 75", named=d / "v_000000000000_keypoints.json")
    assert err.location == "person 0"
    d = _openpose_frames(tmp_path / "nan")
    f = d / "v_000000000002_keypoints.json"
    f.write_text(f.read_text().replace("100.0", "NaN", 1))
    _error(d, "NaN or infinite value in 'pose_keypoints_2d'", named=f)
    d = _openpose_frames(tmp_path / "mixed")
    (d / "v_000000000003_keypoints.json").write_text(json.dumps({"people": [{"pose_keypoints_2d": [1.0, 2.0, 0.9] * 18}]}))
    _error(d, "one folder must hold one OpenPose model's output", named=d / "v_000000000003_keypoints.json")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "v_000000000000_keypoints.json").write_text('{"version": 1.3, "people": []}')
    _error(empty, "no person is detected in any of the 1 frame files")


# -- AMASS / AIST++ ----------------------------------------------------------------------------------
AMASS = DATA / "amass_npz" / "dmpl_sample.npz"
AISTPP = DATA / "smpl_aistpp" / "gBR_sBM_cAll_d04_mBR0_ch01.pkl"


def test_amass_bad(tmp_path):
    z = dict(np.load(AMASS))
    p = tmp_path / "m.npz"
    raw = AMASS.read_bytes()
    p.write_bytes(raw[: len(raw) // 3])
    _error(p, "cannot tell")  # a truncated zip is not recognised ...
    _error(p, "not a readable .npz", format="amass")  # ... and, read as AMASS, says why
    np.savez(p, **{**z, "poses": z["poses"][:, :60]})
    _error(p, "at least the 22 SMPL body joints")
    bad = z["poses"].copy()
    bad[17, 4] = np.nan
    np.savez(p, **{**z, "poses": bad})
    assert _error(p, "NaN").location == "frame 17, value 4"
    np.savez(p, **{**z, "trans": z["trans"][:100]})
    _error(p, "'trans' must be a numeric array shaped (235, 3)")
    np.savez(p, **{**z, "betas": np.array([{"a": 1}], dtype=object)})  # a pickled object inside the npz
    _error(p, "without running pickled code", format="amass")


def test_aistpp_bad(tmp_path):
    d = pickle.loads(AISTPP.read_bytes())
    p = tmp_path / "m.pkl"
    raw = AISTPP.read_bytes()
    p.write_bytes(raw[: len(raw) // 2])
    _error(p, "truncated pickle", format="aistpp")
    p.write_bytes(pickle.dumps({**d, "smpl_poses": d["smpl_poses"][:, :60]}))
    _error(p, "at least the 22 SMPL body joints")
    poses = d["smpl_poses"].copy()
    poses[3, 0] = np.inf
    p.write_bytes(pickle.dumps({**d, "smpl_poses": poses}))
    assert _error(p, "NaN or infinite").location == "frame 3, value 0"
    p.write_bytes(pickle.dumps({**d, "smpl_scaling": np.array([0.0])}))
    _error(p, "'smpl_scaling' must be one positive number")
    marker = tmp_path / "pwned"
    p.write_bytes(pickle.dumps({**d, "smpl_trans": _Evil(marker)}))
    _error(p, "refusing to unpickle")
    assert not marker.exists()


# -- ASF/AMC -----------------------------------------------------------------------------------------
ASF = DATA / "cmu_asf_amc" / "11.asf"
AMC = DATA / "cmu_asf_amc" / "11_01.amc"


def test_asf_amc_bad(tmp_path):
    shutil.copy(ASF, tmp_path / "11.asf")
    lines = AMC.read_text().splitlines()
    p = tmp_path / "11_01.amc"
    p.write_text("\n".join(lines[:4 + 30 * 10 + 12]) + "\n")  # cut inside frame 11
    _error(p, "frame 11 has no line for bone")
    bad = list(lines)
    bad[4 + 30 * 2 + 1] = "root 1 2 3 4 5"  # frame 3's root line: 5 values, the .asf says 6
    p.write_text("\n".join(bad) + "\n")
    assert _error(p, "expected 6 numbers").location == f"line {4 + 30 * 2 + 2}"
    bad = list(lines)
    bad[4 + 30 * 4 + 9] = "rhumerus -29.1 nan -80.4"
    p.write_text("\n".join(bad) + "\n")
    err = _error(p, "NaN")
    assert err.location == f"line {4 + 30 * 4 + 10}" and "frame 5" in err.problem
    bad = list(lines)
    bad[6] = "tail 1 2 3"
    p.write_text("\n".join(bad) + "\n")
    assert _error(p, "unknown bone 'tail'").location == "line 7"
    (tmp_path / "11.asf").unlink()
    p.write_text(AMC.read_text())
    _error(p, "no .asf skeleton file found")
    asf = tmp_path / "s.asf"
    asf.write_text(ASF.read_text().replace("length 7.33161", "length 7.3x161"))
    _error(p, "bone length", named=asf, skeleton=asf)
