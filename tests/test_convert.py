"""`skeletonllm convert`: a folder mixing formats (one file broken) -> one PYSKL pickle or .npz store;
round trip through our own readers; resuming an interrupted run without parsing any file twice."""
import json
import pickle
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import skeletonllm
from skeletonllm.cli import app
from skeletonllm.skeleton import formats
from skeletonllm.skeleton.convert import convert
from skeletonllm.skeleton.io import detect_format
from test_formats_people import kinetics_as_openpose

DATA = Path(__file__).parent / "data"


@pytest.fixture
def mixed(tmp_path):
    """NTU x2, Kinetics, an OpenPose folder, AMASS, AIST++, ASF/AMC, NW-UCLA, PKU-MMD (+ labels and
    meta files that are not skeleton data) and one truncated NTU file."""
    d = tmp_path / "mixed"
    shutil.copytree(DATA / "ntu_skeleton", d / "ntu")
    shutil.copy(DATA / "kinetics_skeleton" / "__NrybzYzUg.json", d / "kinetics.json")
    kinetics_as_openpose(d / "openpose" / "clip_a")
    shutil.copy(DATA / "amass_npz" / "dmpl_sample.npz", d / "amass.npz")
    shutil.copy(DATA / "smpl_aistpp" / "gBR_sBM_cAll_d04_mBR0_ch01.pkl", d / "aist.pkl")
    shutil.copytree(DATA / "cmu_asf_amc", d / "cmu")
    shutil.copy(DATA / "nw_ucla" / "a05_s01_e00_v01.json", d / "ucla.json")
    shutil.copytree(DATA / "pku_mmd", d / "pku")
    lines = (DATA / "ntu_skeleton" / "S001C001P001R001A001.skeleton").read_text().splitlines()
    (d / "ntu" / "S002C001P003R001A010.skeleton").write_text("\n".join(lines[:200]) + "\n")
    return d


def _assert_same(got, want, atol):
    assert got.topology == want.topology, (got.topology.name, want.topology.name)
    np.testing.assert_array_equal(got.present, want.present)
    np.testing.assert_allclose(got.joints, want.joints, atol=atol)
    assert (got.label, got.label_id, got.fps) == (want.label, want.label_id, want.fps)
    if want.dims == 2:
        np.testing.assert_allclose(got.scores, want.scores, atol=1e-6)


def test_convert_mixed_folder_to_pyskl_round_trip(mixed, tmp_path):
    out = tmp_path / "out" / "all.pkl"
    report = convert([mixed], out, to="pyskl", workers=1, progress=False)
    broken = str(mixed / "ntu" / "S002C001P003R001A010.skeleton")
    assert [s for s, _ in report.failed] == [broken]
    assert broken in report.failed[0][1] and "file ends early" in report.failed[0][1]
    skipped = {Path(s).name for s, _ in report.skipped}
    assert {"11.asf", "Actions.xlsx", "cross-subject.txt"} <= skipped and "0036-L.txt" in skipped  # the label file
    assert report.samples == 2 + 1 + 1 + 1 + 1 + 1 + 1 + 7 and not (tmp_path / "out" / "all.pkl.parts").exists()
    saved = json.loads((tmp_path / "out" / "all.pkl.report.json").read_text())
    assert saved["failed"] == [{"source": broken, "error": report.failed[0][1]}] and saved["samples"] == report.samples

    data = pickle.loads(out.read_bytes())
    anns = data["annotations"]
    assert len(anns) == report.samples and set(data["split"]["all"]) == {a["frame_dir"] for a in anns}
    assert len({a["frame_dir"] for a in anns}) == len(anns)
    for a in anns:  # PYSKL's keys and shapes
        M, T, V, C = a["keypoint"].shape
        assert a["keypoint"].dtype == np.float32 and a["total_frames"] == T and isinstance(a["label"], int)
        if "keypoint_score" in a:
            assert a["keypoint_score"].shape == (M, T, V)
    by_name = {a["frame_dir"]: a for a in anns}
    assert by_name["S001C001P001R001A001"]["coordinates"] == "kinect" and by_name["kinetics"]["coordinates"] == "pixels"
    assert by_name["kinetics"]["img_shape"] == (256, 340) and by_name["kinetics"]["label_name"] == "abseiling"
    assert by_name["amass"]["coordinates"] == "canonical"
    assert "S001C001P001R001A001" in data["split"]["ntu60_xsub_train"]
    # mmaction2's and PYSKL's split names (their stock NTU configs read split='xsub_train'); ours stay as aliases
    assert data["split"]["xsub_train"] == data["split"]["ntu60_xsub_train"] == ["S001C001P001R001A001",
                                                                              "S001C003P008R002A058"]
    assert data["split"]["xview_train"] == ["S001C003P008R002A058"] and data["split"]["xview_val"] == [
        "S001C001P001R001A001"]
    assert "xsub_val" not in data["split"]      # no sample there: left out, not an empty list
    # raw NTU keypoints are Kinect camera space, as in PYSKL's own NTU files
    raw = skeletonllm.load(DATA / "ntu_skeleton" / "S001C001P001R001A001.skeleton")
    np.testing.assert_allclose(by_name["S001C001P001R001A001"]["keypoint"][0], raw.joints[:, 0] * [-1, 1, 1], atol=1e-6)

    # round trip: our pyskl reader gives back what each source gives
    assert detect_format(out) == "pyskl"
    back = skeletonllm.load_all(out)
    direct = {}
    for src in [mixed / "ntu" / "S001C001P001R001A001.skeleton", mixed / "ntu" / "S001C003P008R002A058.skeleton",
                mixed / "kinetics.json", mixed / "openpose" / "clip_a", mixed / "amass.npz", mixed / "aist.pkl",
                mixed / "cmu" / "11_01.amc", mixed / "ucla.json", mixed / "pku" / "skeleton" / "0036-L.txt"]:
        seqs = skeletonllm.load_all(src)
        stem = src.name.split(".")[0]
        for k, s in enumerate(seqs):
            direct[stem if len(seqs) == 1 else f"{stem}_{k}"] = s
    assert set(direct) == {s.metadata["frame_dir"] for s in back}
    for s in back:
        _assert_same(s, direct[s.metadata["frame_dir"]], atol=2e-4 if s.dims == 2 else 1e-6)


def test_convert_resumes_without_parsing_twice(mixed, tmp_path, monkeypatch):
    calls = []
    stop_at = {"n": 6}

    for name, fmt in list(formats.FORMATS.items()):
        def read(path, _orig=fmt.read, **kw):
            if len(calls) == stop_at["n"]:
                raise KeyboardInterrupt  # the user presses Ctrl-C while this file is parsed
            calls.append(str(path))
            return _orig(path, **kw)
        monkeypatch.setitem(formats.FORMATS, name, replace(fmt, read=read))
    out = tmp_path / "all.pkl"
    with pytest.raises(KeyboardInterrupt):
        convert([mixed], out, workers=1, progress=False)
    assert not out.exists() and len(list((tmp_path / "all.pkl.parts").iterdir())) >= 6
    first = list(calls)
    stop_at["n"] = -1
    report = convert([mixed], out, workers=1, progress=False)
    again = calls[len(first):]
    assert not set(first) & set(again)  # nothing parsed twice
    assert report.parsed < len(report.converted) + len(report.failed) + len(report.skipped)
    # the result equals an uninterrupted conversion
    fresh = convert([mixed], tmp_path / "fresh.pkl", workers=1, progress=False)
    a, b = pickle.loads(out.read_bytes()), pickle.loads((tmp_path / "fresh.pkl").read_bytes())
    assert [x["frame_dir"] for x in a["annotations"]] == [x["frame_dir"] for x in b["annotations"]]
    for x, y in zip(a["annotations"], b["annotations"]):
        np.testing.assert_array_equal(x["keypoint"], y["keypoint"])
    assert report.failed == fresh.failed


def test_convert_to_npz_store(mixed, tmp_path):
    out = tmp_path / "all.npz"
    report = convert([mixed / "kinetics.json", mixed / "cmu", mixed / "openpose", mixed / "nope.json"], out,
                     to="npz", workers=1, progress=False)
    assert [Path(s).name for s, _ in report.failed] == ["nope.json"] and "not found" in report.failed[0][1]
    assert detect_format(out) == "npz_store"
    back = skeletonllm.load_all(out)
    assert [s.metadata["frame_dir"] for s in back] == ["kinetics", "11_01", "clip_a"]
    for s, src in zip(back, [mixed / "kinetics.json", mixed / "cmu" / "11_01.amc", mixed / "openpose" / "clip_a"]):
        ref = skeletonllm.load(src)
        _assert_same(s, ref, atol=0)
        assert s.metadata["source"] == ref.metadata["source"]


def test_convert_cli_with_workers(mixed, tmp_path):
    out = tmp_path / "cli.pkl"
    res = CliRunner().invoke(app, ["convert", str(mixed / "ntu"), str(mixed / "kinetics.json"), "--to", "pyskl",
                                   "--out", str(out), "--workers", "2", "--quiet"])
    assert res.exit_code == 1, res.output  # one source failed; the others are written
    assert "S002C001P003R001A010.skeleton" in res.output and "file ends early" in res.output.replace("\n", " ")
    names = [a["frame_dir"] for a in pickle.loads(out.read_bytes())["annotations"]]
    assert names == ["S001C001P001R001A001", "S001C003P008R002A058", "kinetics"]
    res = CliRunner().invoke(app, ["convert", str(tmp_path / "nothing"), "--out", str(tmp_path / "x.pkl"), "--quiet"])
    assert res.exit_code == 2 and "nothing to write" in res.output


def test_a_fixed_file_is_parsed_again_and_the_rest_is_not(mixed, tmp_path, monkeypatch):
    out = tmp_path / "all.pkl"
    first = convert([mixed / "ntu"], out, workers=1, progress=False, keep_parts=True)
    assert len(first.failed) == 1 and (tmp_path / "all.pkl.parts").is_dir()
    broken = Path(first.failed[0][0])
    shutil.copy(DATA / "ntu_skeleton" / "S001C001P001R001A001.skeleton", broken)  # the user fixes the file
    calls = []
    for name, fmt in list(formats.FORMATS.items()):
        def read(path, _orig=fmt.read, **kw):
            calls.append(Path(path).name)
            return _orig(path, **kw)
        monkeypatch.setitem(formats.FORMATS, name, replace(fmt, read=read))
    second = convert([mixed / "ntu"], out, workers=1, progress=False)
    assert calls == [broken.name] and not second.failed and second.samples == 3
    assert not (tmp_path / "all.pkl.parts").exists()
