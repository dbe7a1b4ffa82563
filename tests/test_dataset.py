"""SkeletonDataset: indexing folders of any format, filters, and the .npz cache."""
import os
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import skeletonllm
from skeletonllm.skeleton import formats
from skeletonllm.skeleton.dataset import SkeletonDataset

DATA = Path(__file__).parent / "data"


@pytest.fixture
def ntu_dir(tmp_path):
    d = tmp_path / "ntu"
    d.mkdir()
    for f in (DATA / "ntu_skeleton").iterdir():
        shutil.copy(f, d / f.name)
    return d


@pytest.fixture
def pku_dir(tmp_path):
    d = tmp_path / "pku"
    shutil.copytree(DATA / "pku_mmd", d)  # skeleton/, label/ and meta/ (meta and labels are skipped)
    return d


@pytest.fixture
def count_reads(monkeypatch):
    """Wrap every format's reader to count parses."""
    calls = []
    for name, fmt in list(formats.FORMATS.items()):
        def read(path, _orig=fmt.read, _name=name, **kw):
            calls.append((_name, Path(path).name))
            return _orig(path, **kw)
        monkeypatch.setitem(formats.FORMATS, name, replace(fmt, read=read))
    return calls


def test_mixed_folder_indexes_every_format(tmp_path):
    root = tmp_path / "all"
    shutil.copytree(DATA / "ntu_skeleton", root / "ntu")
    shutil.copytree(DATA / "pku_mmd", root / "pku")
    shutil.copytree(DATA / "nw_ucla", root / "ucla")
    shutil.copytree(DATA / "humanml3d", root / "hml")  # joints + vecs + texts + Mean/Std
    shutil.copy(DATA / "coco17_alphapose" / "alphapose-results.json", root / "coco.json")
    ds = SkeletonDataset(root)
    fmts = sorted(it.format for it in ds.items)
    assert fmts == sorted(["ntu"] * 2 + ["pku_mmd"] * 7 + ["nw_ucla"] * 3 + ["humanml3d", "humanml3d_vecs", "coco_json"])
    skipped = sorted(p.name for p in ds.skipped)
    assert "Mean.npy" in skipped and "000000.txt" in skipped and "cross-view.txt" in skipped
    for i in range(len(ds)):
        seq = ds[i]
        assert seq.num_frames > 0 and seq.present.any()
        assert seq.label_id == ds.items[i].label_id


def test_pku_recording_expands_into_clips_parsed_once(pku_dir, count_reads):
    ds = SkeletonDataset(pku_dir)
    assert len(ds) == 7 and ds.label_ids == [25, 17, 26, 23, 20, 15, 13]
    clips = [ds[i] for i in range(7)]
    assert [c.label_id for c in clips] == ds.label_ids
    assert count_reads == [("pku_mmd", "0036-L.txt")]  # one parse for the seven clips
    ref = skeletonllm.load_all(pku_dir / "skeleton" / "0036-L.txt")
    for a, b in zip(clips, ref):
        np.testing.assert_array_equal(a.joints, b.joints)


def test_filters_split_classes_protocol(ntu_dir, pku_dir):
    assert len(SkeletonDataset(ntu_dir)) == 2
    seen = SkeletonDataset(ntu_dir, split="ntu60_48_12", subset="seen")
    assert [ds.label_id for ds in seen.items] == [0, 57]  # A001 and A058 are both seen classes
    # ntu60_30_30 has A001 unseen and A058 seen
    assert [it.label_id for it in SkeletonDataset(ntu_dir, split="ntu60_30_30", subset="unseen").items] == [0]
    assert [it.label_id for it in SkeletonDataset(ntu_dir, split="ntu60_30_30", subset="seen").items] == [57]
    assert [it.label_id for it in SkeletonDataset(ntu_dir, class_ids=[57]).items] == [57]
    # cross-view: C001 tests, C003 trains
    assert [it.name for it in SkeletonDataset(ntu_dir, protocol="ntu60_xview", part="train").items] == \
        ["S001C003P008R002A058"]
    # cross-subject: P001 and P008 both train
    assert len(SkeletonDataset(ntu_dir, protocol="ntu60_xsub", part="train")) == 2
    assert len(SkeletonDataset(ntu_dir, protocol="ntu60_xsub", part="test")) == 0
    # PKU 46/5: unseen 0-based (1, 9, 20, 34, 50); the recording's labels are 13..26 -> the clip of label 20
    unseen = SkeletonDataset(pku_dir, split="pku_46_5", subset="unseen")
    assert unseen.label_ids == [20] and unseen[0].label == "pat on back of other person"
    assert len(SkeletonDataset(pku_dir, protocol="pku_xview", part="train")) == 7
    assert len(SkeletonDataset(pku_dir, protocol="pku_xview", part="test")) == 0
    with pytest.raises(ValueError):
        SkeletonDataset(ntu_dir, split="ntu60_55_5")  # subset missing


def test_cache_roundtrip_and_no_reparse(pku_dir, ntu_dir, tmp_path, count_reads):
    cache = tmp_path / "cache"
    ds = SkeletonDataset(ntu_dir, cache_dir=cache)
    fresh = [ds[i] for i in range(len(ds))]
    assert len(list(cache.glob("*.npz"))) == 2 and not list(cache.glob(".tmp-*"))
    n = len(count_reads)
    again = SkeletonDataset(ntu_dir, cache_dir=cache)
    cached = [again[i] for i in range(len(again))]
    assert len(count_reads) == n  # the second pass parsed nothing
    for a, b in zip(fresh, cached):
        np.testing.assert_array_equal(a.joints, b.joints)
        np.testing.assert_array_equal(a.present, b.present)
        np.testing.assert_array_equal(a.orientations, b.orientations)
        np.testing.assert_array_equal(a.scores, b.scores)
        assert (a.label, a.label_id, a.fps, a.topology) == (b.label, b.label_id, b.fps, b.topology)
        assert a.metadata == b.metadata
    # PKU: tuples in metadata survive the JSON header
    p1 = SkeletonDataset(pku_dir, cache_dir=cache)
    p1[0]
    p2 = SkeletonDataset(pku_dir, cache_dir=cache)
    assert p2[3].metadata == p1[3].metadata and isinstance(p2[3].metadata["frame_range"], tuple)


def test_cache_invalidated_by_source_change_and_corruption(ntu_dir, tmp_path, count_reads):
    cache = tmp_path / "cache"
    src = ntu_dir / "S001C001P001R001A001.skeleton"
    SkeletonDataset(src, cache_dir=cache)[0]
    assert len(count_reads) == 1
    SkeletonDataset(src, cache_dir=cache)[0]
    assert len(count_reads) == 1
    st = src.stat()
    os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))  # source touched -> stale
    SkeletonDataset(src, cache_dir=cache)[0]
    assert len(count_reads) == 2
    (npz,) = cache.glob("*.npz")
    npz.write_bytes(b"PK\x03\x04 this is not a zip")  # damaged cache: ignored and rebuilt
    seq = SkeletonDataset(src, cache_dir=cache)[0]
    assert len(count_reads) == 3 and seq.joints.shape == (103, 1, 25, 3)
    SkeletonDataset(src, cache_dir=cache)[0]
    assert len(count_reads) == 3  # the rebuilt cache is good


def test_bvh_topology_survives_the_cache(tmp_path):
    shutil.copy(DATA / "bvh" / "cmu_01_01.bvh", tmp_path / "a.bvh")
    a = SkeletonDataset(tmp_path / "a.bvh", cache_dir=tmp_path / "c")[0]
    b = SkeletonDataset(tmp_path / "a.bvh", cache_dir=tmp_path / "c")[0]
    assert a.topology == b.topology and a.topology.name.startswith("bvh31_")
    np.testing.assert_array_equal(a.joints, b.joints)


def test_load_dataset_named_parts(ntu_dir):
    from skeletonllm.skeleton.dataset import load_dataset

    # cross-subject: both samples' performers (P001, P008) train; 48/12 sees both classes
    assert len(load_dataset("ntu60", ntu_dir, subset="train", split="ntu60_48_12")) == 2
    assert len(load_dataset("ntu60", ntu_dir, subset="test", split="ntu60_48_12")) == 0
    # 30/30: A001 unseen -> only A058 trains
    assert load_dataset("ntu60", ntu_dir, subset="train", split="ntu60_30_30").label_ids == [57]
    assert len(load_dataset("ntu60", ntu_dir, subset="all")) == 2
    with pytest.raises(ValueError):
        load_dataset("ntu60", ntu_dir, subset="seen")


def test_new_formats_in_the_index_and_the_cache(tmp_path, count_reads):
    from test_formats_people import kinetics_as_openpose

    root = tmp_path / "more"
    root.mkdir()
    shutil.copy(DATA / "kinetics_skeleton" / "__NrybzYzUg.json", root / "clip.json")
    kinetics_as_openpose(root / "openpose_run")
    shutil.copy(DATA / "amass_npz" / "dmpl_sample.npz", root / "amass.npz")
    shutil.copy(DATA / "smpl_aistpp" / "gBR_sBM_cAll_d04_mBR0_ch01.pkl", root / "aist.pkl")
    shutil.copytree(DATA / "cmu_asf_amc", root / "cmu")
    ds = SkeletonDataset(root, cache_dir=tmp_path / "cache")
    assert sorted((it.format, it.path.name) for it in ds.items) == [
        ("aistpp", "aist.pkl"), ("amass", "amass.npz"), ("asf_amc", "11_01.amc"), ("kinetics", "clip.json"),
        ("openpose", "openpose_run")]  # the OpenPose folder is one sample; its 299 files are not items
    assert [p.name for p in ds.skipped] == ["11.asf"]
    kin = next(it for it in ds.items if it.format == "kinetics")
    assert kin.label_id == 0 and count_reads == []  # the label came from the file without building the sequence
    assert len(SkeletonDataset(root, class_ids=[0])) == 1
    fresh = [ds[i] for i in range(len(ds))]
    n = len(count_reads)
    again = SkeletonDataset(root, cache_dir=tmp_path / "cache")
    cached = [again[i] for i in range(len(again))]
    assert len(count_reads) == n == 5  # each source parsed once; the second pass read the cache
    for a, b in zip(fresh, cached):
        assert a.topology == b.topology and a.metadata == b.metadata and (a.label, a.fps) == (b.label, b.fps)
        np.testing.assert_array_equal(a.joints, b.joints)
    # editing one frame file of the OpenPose folder makes its cache stale
    frame = root / "openpose_run" / "__NrybzYzUg_000000000125_keypoints.json"
    st = frame.stat()
    os.utime(frame, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    i = next(k for k, it in enumerate(again.items) if it.format == "openpose")
    SkeletonDataset(root, cache_dir=tmp_path / "cache")[i]
    assert count_reads[-1] == ("openpose", "openpose_run") and len(count_reads) == n + 1
