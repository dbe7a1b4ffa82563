"""Smaller things users hit: the PYSKL sniffer claims only PYSKL-shaped pickles; the COCO reader on NaN
values and on truncated people (keypoints written as (0, 0, 0)); `skeletonllm render` of a clip whose
sampled frames are all empty."""
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
from skeletonllm.skeleton.convert import convert
from skeletonllm.skeleton.dataset import SkeletonDataset
from skeletonllm.skeleton.formats import sniff_format

DATA = Path(__file__).parent / "data"
COCO = DATA / "coco17_alphapose" / "alphapose-results.json"
NTU = DATA / "ntu_skeleton" / "S001C001P001R001A001.skeleton"


# -- PYSKL sniffing ---------------------------------------------------------------------------------
def test_only_pyskl_shaped_pickles_are_taken_for_pyskl(tmp_path):
    ann = {"frame_dir": "S001C001P001R001A001", "label": 0, "total_frames": 2,
           "keypoint": np.ones((1, 2, 25, 3), np.float32)}
    pyskl = {"new.pkl": {"split": {"xsub_train": ["S001C001P001R001A001"]}, "annotations": [ann]},
             "annotations_only.pkl": {"annotations": [ann]}, "old_list.pkl": [ann]}
    others = {"weights.pkl": {"conv.weight": np.zeros((3, 3), np.float32)}, "label_map.pkl": {"drink water": 0},
              "numbers.pkl": [1, 2, 3], "text.pkl": "hello"}
    for name, obj in {**pyskl, **others}.items():
        (tmp_path / name).write_bytes(pickle.dumps(obj, protocol=4))
    for name in pyskl:
        assert sniff_format(tmp_path / name) == "pyskl", name
    for name in others:
        assert sniff_format(tmp_path / name) is None, name
    # A folder holding other pickles indexes (and converts) its PYSKL files only.
    ds = SkeletonDataset(tmp_path)
    assert len(ds) == 3 and {p.name for p in ds.skipped} == set(others)
    report = convert([tmp_path], tmp_path / "out" / "all.pkl", progress=False)
    assert not report.failed and {Path(s).name for s, _ in report.skipped} == set(others)
    assert all("neither a PYSKL annotation file nor an AIST++ motion" in why for _, why in report.skipped)


# -- COCO: NaN and truncated people -----------------------------------------------------------------
def _write(tmp_path, dets) -> Path:
    p = tmp_path / "res.json"
    p.write_text(json.dumps(dets).replace('"NAN"', "NaN"))
    return p


def test_coco_nan_values_are_errors_naming_record_and_joint(tmp_path):
    dets = json.loads(COCO.read_text())[:60]
    dets[7]["keypoints"][5 * 3 + 1] = "NAN"                   # y of keypoint 5, as json.dumps writes NaN
    with pytest.raises(SkeletonFormatError, match=r"NaN or infinite y of keypoint 5 \(left_shoulder\)") as err:
        skeletonllm.load(_write(tmp_path, dets))
    assert err.value.location == "record 7" and str(tmp_path / "res.json") in str(err.value)
    dets = json.loads(COCO.read_text())[:60]
    dets[9]["score"] = "NAN"
    with pytest.raises(SkeletonFormatError, match="'score' must be a finite number") as err:
        skeletonllm.load(_write(tmp_path, dets))
    assert err.value.location == "record 9"


def test_coco_truncated_people_keep_a_mask_and_no_bone_to_the_corner(tmp_path):
    """A person cut by the image border: COCO writes the joints outside as (0, 0, 0). Their score stays 0
    (the mask) and they sit on a detected neighbour, not at pixel (0, 0), far from the body."""
    dets = json.loads(COCO.read_text())
    whole = skeletonllm.load(COCO)
    legs = [13, 14, 15, 16]                                   # knees and ankles below the border
    for d in dets:
        for j in legs:
            d["keypoints"][3 * j:3 * j + 3] = [0, 0, 0]
    seq = skeletonllm.load(_write(tmp_path, dets))
    on = seq.present
    assert (seq.scores[on][:, legs] == 0).all() and (seq.scores[on][:, :11] > 0).all()
    body = seq.joints[on][:, :13, :2]
    lo, hi = body.min(axis=1), body.max(axis=1)                # each person's box without the legs
    legs_xy = seq.joints[on][:, legs, :2]
    assert ((legs_xy >= lo[:, None] - 1e-9) & (legs_xy <= hi[:, None] + 1e-9)).all()
    assert np.abs(seq.joints[on]).max() < 2 * np.abs(whole.joints[whole.present]).max()
    # A detection with no keypoint at all is not a person; a file of nothing else is an error.
    dets[0]["keypoints"] = [0] * 51
    assert skeletonllm.load(_write(tmp_path, dets)).metadata["num_detections"] == len(dets) - 1
    with pytest.raises(SkeletonFormatError, match="none of the 2 detections has a keypoint"):
        skeletonllm.load(_write(tmp_path, [dict(dets[0]), dict(dets[0])]))


# -- render of empty frames -------------------------------------------------------------------------
def _present_only_in(src: Path, dst: Path, frames: set[int]) -> Path:
    """An NTU .skeleton whose bodies are kept in ``frames`` only (0 bodies elsewhere)."""
    lines = src.read_text().splitlines()
    out, k = [lines[0]], 1
    for t in range(int(lines[0])):
        bodies = int(lines[k])
        block = lines[k:k + 1 + bodies * 27]
        k += len(block)
        out += block if t in frames else ["0"]
    dst.write_text("\n".join(out) + "\n")
    return dst


def test_render_of_a_clip_whose_sampled_frames_are_all_empty_is_a_clear_error(tmp_path):
    clip = _present_only_in(NTU, tmp_path / NTU.name, {50, 51})
    out = tmp_path / "x.gif"
    res = CliRunner().invoke(app, ["render", str(clip), "--out", str(out), "--size", "64"])
    assert res.exit_code == 1 and not out.exists()
    assert str(clip) in res.output and "every one of the 12 frames sampled from its 103 is empty" in res.output
    assert "--frames 103" in res.output
    res = CliRunner().invoke(app, ["render", str(clip), "--out", str(out), "--size", "64", "--frames", "103"])
    assert res.exit_code == 0 and out.is_file()                # all frames: the two with a body are drawn
