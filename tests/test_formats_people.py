"""2D pose-detector outputs: Kinetics-skeleton (real file), OpenPose --write_json folders and MediaPipe
Pose files (written here in their documented layouts from real data: no real OpenPose or MediaPipe file
was available)."""
import csv
import json
from pathlib import Path

import numpy as np
import pytest

import skeletonllm
from skeletonllm.errors import SkeletonFormatError
from skeletonllm.skeleton.io import detect_format
from skeletonllm.skeleton.topology import MEDIAPIPE33, OPENPOSE18, OPENPOSE25

DATA = Path(__file__).parent / "data"
KINETICS = DATA / "kinetics_skeleton" / "__NrybzYzUg.json"
HML = DATA / "humanml3d" / "new_joints" / "000000.npy"
O18 = {n: i for i, n in enumerate(OPENPOSE18.joint_names)}


# -- Kinetics-skeleton -------------------------------------------------------------------------
def test_kinetics_real_clip():
    seq = skeletonllm.load(KINETICS)
    raw = json.loads(KINETICS.read_text())
    assert seq.metadata["format"] == "kinetics" and seq.topology.name == "openpose18" and seq.dims == 2
    assert seq.joints.shape == (299, 2, 18, 3) and seq.scores.shape == (299, 2, 18)
    assert seq.label == "abseiling" and seq.label_id == 0 and seq.fps == 30.0
    assert (seq.joints[..., 2] == 0).all()
    # frame 1 (index 0) has no skeleton; so is every frame whose list is empty
    empty = [f["frame_index"] - 1 for f in raw["data"] if not f["skeleton"]]
    assert 0 in empty and not seq.present[empty].any()
    # the kept people come from the file: each present body's scores equal one listed person's
    t = int(np.flatnonzero(seq.present[:, 0])[0])
    listed = [np.array(p["score"], np.float32) for p in raw["data"][t]["skeleton"]]
    assert any(np.array_equal(seq.scores[t, 0], s) for s in listed)
    # a missing keypoint (score 0) is placed on a detected neighbour, not at the image corner
    m = seq.present[:, 0]
    body = seq.joints[m, 0]
    assert np.abs(body[..., :2]).max() < 5.0
    # x is scaled by 340 and y by 256 px before the metre conversion: the pixel geometry comes back
    u0, v0 = seq.metadata["pixel_origin"]
    s = seq.metadata["metres_per_pixel"]
    person = raw["data"][t]["skeleton"][[k for k, p in enumerate(listed) if np.array_equal(seq.scores[t, 0], p)][0]]
    pose = np.array(person["pose"]).reshape(18, 2)
    ok = np.array(person["score"]) > 0
    np.testing.assert_allclose(seq.joints[t, 0, ok, 0], (pose[ok, 0] * 340 - u0) * s, atol=1e-4)
    np.testing.assert_allclose(seq.joints[t, 0, ok, 1], -(pose[ok, 1] * 256 - v0) * s, atol=1e-4)


def test_kinetics_upright_and_tracked():
    seq = skeletonllm.load(KINETICS)
    m = seq.present[:, 0]
    j, sc = seq.joints[m, 0], seq.scores[m, 0]
    # heads above necks wherever both are detected (y up)
    both = (sc[:, O18["nose"]] > 0) & (sc[:, O18["neck"]] > 0)
    assert both.sum() >= 10 and (j[both, O18["nose"], 1] > j[both, O18["neck"], 1]).mean() > 0.9
    # the main track does not jump: consecutive detections' necks stay within a person size
    idx = np.flatnonzero(m)
    neck = seq.joints[idx, 0, O18["neck"], :2]
    close = np.diff(idx) == 1
    assert np.linalg.norm(np.diff(neck, axis=0)[close], axis=1).max() < 1.0


# -- OpenPose --write_json -----------------------------------------------------------------------
def kinetics_as_openpose(dst: Path, body25: bool = False, with_3d: bool = False) -> Path:
    """The real Kinetics clip (OpenPose COCO-18 output) written as OpenPose 1.3 per-frame files."""
    raw = json.loads(KINETICS.read_text())
    dst.mkdir(parents=True)
    for frame in raw["data"]:
        people = []
        for p in frame["skeleton"]:
            score = np.array(p["score"])
            kp = np.concatenate([np.array(p["pose"]).reshape(18, 2) * [340, 256], score[:, None]], axis=1)
            kp[score == 0] = 0.0
            if body25:  # BODY_25 order: mid-hip after the left wrist, three points per foot at the end
                mid = (kp[8] + kp[11]) / 2 if score[8] > 0 and score[11] > 0 else np.zeros(3)
                kp = np.concatenate([kp[:8], mid[None], kp[8:], np.zeros((6, 3))])
            person = {"person_id": [-1], "pose_keypoints_2d": kp.ravel().tolist(), "face_keypoints_2d": [],
                      "hand_left_keypoints_2d": [], "hand_right_keypoints_2d": [], "pose_keypoints_3d": [],
                      "face_keypoints_3d": [], "hand_left_keypoints_3d": [], "hand_right_keypoints_3d": []}
            if with_3d:  # metres -> OpenCV camera millimetres (y down), depth 3 m
                xyz = np.concatenate([kp[:, :1] * 4.0, kp[:, 1:2] * 4.0, np.full((len(kp), 1), 3000.0)], axis=1)
                person["pose_keypoints_3d"] = np.concatenate([xyz, (kp[:, 2:] > 0) * 1.0], axis=1).ravel().tolist()
            people.append(person)
        name = f"__NrybzYzUg_{frame['frame_index'] - 1:012d}_keypoints.json"
        (dst / name).write_text(json.dumps({"version": 1.3, "people": people}))
    return dst


def test_openpose_coco18_folder_equals_the_kinetics_reader(tmp_path):
    folder = kinetics_as_openpose(tmp_path / "op18")
    assert detect_format(folder) == "openpose"
    seq = skeletonllm.load(folder)
    ref = skeletonllm.load(KINETICS)
    assert seq.topology == OPENPOSE18 and seq.metadata["model"] == "COCO" and seq.metadata["frame_files"] == 299
    assert seq.joints.shape == (299, 2, 18, 3)
    np.testing.assert_array_equal(seq.present, ref.present)
    np.testing.assert_allclose(seq.joints, ref.joints, atol=1e-5)
    np.testing.assert_allclose(seq.scores, ref.scores, atol=1e-6)
    # one frame file alone is a one-frame sequence
    one = skeletonllm.load(folder / "__NrybzYzUg_000000000125_keypoints.json")
    assert one.num_frames == 1 and one.present.all()


def test_openpose_body25_folder(tmp_path):
    seq = skeletonllm.load(kinetics_as_openpose(tmp_path / "op25", body25=True))
    ref = skeletonllm.load(KINETICS)
    assert seq.topology == OPENPOSE25 and seq.metadata["model"] == "BODY_25"
    same = [OPENPOSE25.index(n) for n in OPENPOSE18.joint_names]
    np.testing.assert_array_equal(seq.present, ref.present)
    np.testing.assert_allclose(seq.joints[:, :, same], ref.joints, atol=1e-5)
    # the mid-hip sits between the hips where both were detected
    t = seq.present[:, 0] & (seq.scores[:, 0, OPENPOSE25.index("mid_hip")] > 0)
    hips = seq.joints[t, 0][:, [OPENPOSE25.index("left_hip"), OPENPOSE25.index("right_hip")]].mean(axis=1)
    np.testing.assert_allclose(seq.joints[t, 0, OPENPOSE25.index("mid_hip")], hips, atol=1e-5)


def test_openpose_frame_order_is_numeric_and_3d(tmp_path):
    folder = kinetics_as_openpose(tmp_path / "op3d", with_3d=True)
    seq = skeletonllm.load(folder)
    assert seq.topology.name == "openpose18_3d" and seq.dims == 3 and seq.metadata["units_3d"] == 0.001
    t = int(np.flatnonzero(seq.present[:, 0])[0])
    z = seq.joints[t, 0, seq.scores[t, 0] > 0, 2]
    np.testing.assert_allclose(z, 3.0, atol=1e-5)  # 3000 mm
    flat = skeletonllm.load(folder, use_3d=False)
    assert flat.topology == OPENPOSE18
    # y is flipped from OpenCV's downward image axis: heads above necks
    both = (seq.scores[:, 0, O18["nose"]] > 0) & (seq.scores[:, 0, O18["neck"]] > 0) & seq.present[:, 0]
    assert (seq.joints[both, 0, O18["nose"], 1] > seq.joints[both, 0, O18["neck"], 1]).all()


# -- MediaPipe Pose -----------------------------------------------------------------------------------
# MediaPipe landmarks from the real HumanML3D motion: where a SMPL joint has a MediaPipe twin it is
# used; face points sit around the head, hand and foot points beside wrists and ankles.
_TWINS = {"left_shoulder": "left_shoulder", "right_shoulder": "right_shoulder", "left_elbow": "left_elbow",
          "right_elbow": "right_elbow", "left_wrist": "left_wrist", "right_wrist": "right_wrist",
          "left_hip": "left_hip", "right_hip": "right_hip", "left_knee": "left_knee", "right_knee": "right_knee",
          "left_ankle": "left_ankle", "right_ankle": "right_ankle", "left_foot_index": "left_foot",
          "right_foot_index": "right_foot"}


def mediapipe_world(frames: int = 40) -> np.ndarray:
    """``(T, 33, 3)`` MediaPipe-style world landmarks (metres, hip-centred, y down, z away)."""
    from skeletonllm.skeleton.topology import SMPL22

    seq = skeletonllm.load(HML)  # canonical: x right, y up, z away
    j = seq.joints[:frames, 0].astype(np.float64)
    out = np.zeros((len(j), 33, 3))
    for mp_name, smpl_name in _TWINS.items():
        out[:, MEDIAPIPE33.index(mp_name)] = j[:, SMPL22.index(smpl_name)]
    head = j[:, SMPL22.index("head")]
    for k, name in enumerate(MEDIAPIPE33.joint_names):
        if MEDIAPIPE33.parts[k] == "head":
            side = 0.04 if "left" in name else -0.04 if "right" in name else 0.0
            out[:, k] = head + [side, -0.03 if "mouth" in name else 0.0, -0.08]
        elif name.endswith(("pinky", "index", "thumb")) and "foot" not in name:
            out[:, k] = j[:, SMPL22.index(name.split("_")[0] + "_wrist")] + [0.0, -0.06, 0.0]
        elif name.endswith("heel"):
            out[:, k] = j[:, SMPL22.index(name.split("_")[0] + "_ankle")] + [0.0, -0.05, 0.04]
    out -= out[:, [MEDIAPIPE33.index("left_hip"), MEDIAPIPE33.index("right_hip")]].mean(axis=1, keepdims=True)
    return out * [1.0, -1.0, 1.0]  # MediaPipe's y points down


def world_to_image(world: np.ndarray, w: int = 640, h: int = 480) -> np.ndarray:
    """A pinhole view of the world landmarks, as normalised image landmarks (x/w, y/h, z/w)."""
    f, depth = 500.0, 3.0
    u = world[..., 0] * f / depth + w / 2
    v = world[..., 1] * f / depth + h / 2
    return np.stack([u / w, v / h, world[..., 2] * f / depth / w], axis=-1)


def test_mediapipe_json_world_and_image(tmp_path):
    world = mediapipe_world()
    image = world_to_image(world)
    vis = np.linspace(0.5, 1.0, 33)
    frames = [{"frame": t, "pose_landmarks": [{"x": a, "y": b, "z": c, "visibility": v}
                                              for (a, b, c), v in zip(image[t].tolist(), vis)],
               "pose_world_landmarks": [[a, b, c, v] for (a, b, c), v in zip(world[t].tolist(), vis)]}
              for t in range(len(world)) if t != 5]  # frame 5: the writer saw no person and skipped it
    path = tmp_path / "pose.json"
    path.write_text(json.dumps({"fps": 25, "width": 640, "height": 480, "frames": frames}))
    assert detect_format(path) == "mediapipe"
    seq = skeletonllm.load(path)
    assert seq.topology == MEDIAPIPE33 and seq.metadata["coordinates"] == "world" and seq.fps == 25.0
    assert seq.joints.shape == (40, 1, 33, 3) and not seq.present[5, 0] and seq.present.sum() == 39
    keep = np.arange(40) != 5
    np.testing.assert_allclose(seq.joints[keep, 0], world[keep] * [1, -1, 1], atol=1e-6)  # y flipped back up
    np.testing.assert_allclose(seq.scores[keep, 0], np.broadcast_to(vis, (39, 33)), atol=1e-6)
    # image landmarks: the same figure in nominal metres, aspect kept by the image size in the file
    img = skeletonllm.load(path, coordinates="image")
    assert img.metadata["coordinates"] == "image" and img.metadata["aspect_assumed"] is False
    ref = seq.joints[keep, 0] - seq.joints[keep, 0].mean(axis=1, keepdims=True)
    got = img.joints[keep, 0] - img.joints[keep, 0].mean(axis=1, keepdims=True)
    scale = np.linalg.norm(ref[..., :2]) / np.linalg.norm(got[..., :2])
    np.testing.assert_allclose(got * scale, ref, atol=1e-4)  # a similarity: shape, aspect and axes agree
    # upright and facing the camera: head above hips, the subject's right hip on the viewer's left
    J = MEDIAPIPE33.index
    assert (img.joints[keep, 0, J("nose"), 1] > img.joints[keep, 0, J("left_hip"), 1]).all()
    assert (img.joints[keep, 0, J("right_hip"), 0] < img.joints[keep, 0, J("left_hip"), 0]).all()


def test_mediapipe_csv_wide_and_long(tmp_path):
    image = world_to_image(mediapipe_world(20))
    vis = np.full(33, 0.9)
    wide = tmp_path / "wide.csv"
    with open(wide, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["frame"] + [f"{a}{k}" for k in range(1, 34) for a in ("x", "y", "z", "v")])
        for t in range(20):
            if t == 3:
                w.writerow([t] + [""] * 132)  # no person in this frame
                continue
            w.writerow([t] + [f"{v:.6f}" for k in range(33) for v in (*image[t, k], vis[k])])
    long = tmp_path / "long.csv"
    with open(long, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["frame_id", "landmark_id", "landmark_name", "x", "y", "z", "visibility"])
        for t in range(20):
            if t != 3:
                for k in range(33):
                    w.writerow([t, k, MEDIAPIPE33.joint_names[k].upper(), *[f"{v:.6f}" for v in image[t, k]], 0.9])
    for path in (wide, long):
        assert detect_format(path) == "mediapipe"
        seq = skeletonllm.load(path, image_size=(640, 480))
        assert seq.joints.shape == (20, 1, 33, 3) and seq.present[:, 0].tolist() == [t != 3 for t in range(20)]
        assert seq.metadata["aspect_assumed"] is False
    a, b = skeletonllm.load(wide, image_size=(640, 480)), skeletonllm.load(long, image_size=(640, 480))
    np.testing.assert_allclose(a.joints, b.joints, atol=1e-6)
    # without the image size the aspect is unknown, and the metadata says so
    assert skeletonllm.load(wide).metadata["aspect_assumed"] is True
    # x and y only (no z column): the 2D variant of the topology
    xy = tmp_path / "xy.csv"
    xy.write_text("\n".join([",".join(f"{n}_{a}" for n in MEDIAPIPE33.joint_names for a in ("x", "y"))] +
                            [",".join(f"{v:.6f}" for v in image[t, :, :2].ravel()) for t in range(20)]) + "\n")
    flat = skeletonllm.load(xy)
    assert flat.topology.name == "mediapipe33_2d" and flat.dims == 2 and (flat.joints[..., 2] == 0).all()


def test_mediapipe_bad(tmp_path):
    image = world_to_image(mediapipe_world(5))
    rows = [{"landmarks": [{"x": a, "y": b, "z": c, "visibility": 1.0} for a, b, c in image[t].tolist()]}
            for t in range(5)]
    p = tmp_path / "bad.json"
    rows[2]["landmarks"] = rows[2]["landmarks"][:30]
    p.write_text(json.dumps(rows))
    with pytest.raises(SkeletonFormatError, match="33 MediaPipe Pose landmarks, found 30") as e:
        skeletonllm.load(p)
    assert e.value.location == "frame record 2" and str(p) in str(e.value)
    rows[2]["landmarks"] = [{"x": 0.5, "y": float("nan"), "z": 0, "visibility": 1}] * 33
    p.write_text(json.dumps(rows))
    with pytest.raises(SkeletonFormatError, match="NaN") as e:
        skeletonllm.load(p)
    assert e.value.location == "frame record 2, landmark 0"
    p.write_text(json.dumps(rows)[:400])
    with pytest.raises(SkeletonFormatError, match="not valid JSON"):
        skeletonllm.load(p, format="mediapipe")
    c = tmp_path / "bad.csv"
    c.write_text(",".join(f"x{k},y{k}" for k in range(33)) + "\n" + ",".join(["0.5"] * 65 + ["nan"]) + "\n")
    with pytest.raises(SkeletonFormatError, match="landmark 32 has an empty or NaN") as e:
        skeletonllm.load(c)
    assert e.value.location == "line 2"


def test_inspect_cli_on_new_formats(tmp_path):
    from typer.testing import CliRunner

    from skeletonllm.cli import app

    folder = kinetics_as_openpose(tmp_path / "op")
    cases = [(folder, "openpose", 299), (KINETICS, "kinetics", 299), (DATA / "amass_npz" / "dmpl_sample.npz", "amass", 235),
             (DATA / "smpl_aistpp" / "gBR_sBM_cAll_d04_mBR0_ch01.pkl", "aistpp", 720),
             (DATA / "cmu_asf_amc" / "11_01.amc", "asf_amc", 597)]
    for path, fmt, frames in cases:
        res = CliRunner().invoke(app, ["inspect", str(path), "--json"])
        assert res.exit_code == 0, res.output
        info = json.loads(res.output)
        assert (info["format"], info["frames"], info["samples"]) == (fmt, frames, 1)
    res = CliRunner().invoke(app, ["inspect", str(tmp_path)])  # a folder that is not OpenPose output
    assert res.exit_code == 2 and "is a folder" in res.output
