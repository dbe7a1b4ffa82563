"""The dataset cache never serves stale data: an entry is keyed on every file its reader used (the .asf of
an .amc, a PKU-MMD label file, a HumanML3D caption file, each file of an OpenPose folder, a class list given
as an option, and the places a reader looked for one), on the reader options and on the readers' version."""
import json
import os
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from skeletonllm.skeleton import reads
from skeletonllm.skeleton.dataset import SkeletonDataset
from skeletonllm.skeleton.formats import get_format

DATA = Path(__file__).parent / "data"
KINETICS = DATA / "kinetics_skeleton" / "__NrybzYzUg.json"


def _fresh(path, fmt, index=0, **options):
    return get_format(fmt).read(path, **options)[index]


def _cached(root, cache, index=0, **kw):
    return SkeletonDataset(root, cache_dir=cache, **kw)[index]


def _touch_later(path: Path) -> None:
    """Make sure an edit shows in the modification time even on a coarse clock."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def test_an_edited_asf_is_not_served_from_the_cache(tmp_path):
    shutil.copytree(DATA / "cmu_asf_amc", tmp_path / "cmu")
    amc, asf, cache = tmp_path / "cmu" / "11_01.amc", tmp_path / "cmu" / "11.asf", tmp_path / "cache"
    before = _cached(amc, cache)
    # Longer bones in the skeleton file; the motion file is unchanged.
    asf.write_text(re.sub(r"(length\s+)([\d.]+)", lambda m: f"{m.group(1)}{float(m.group(2)) * 1.5:.5f}",
                          asf.read_text()))
    _touch_later(asf)
    after, fresh = _cached(amc, cache), _fresh(amc, "asf_amc")
    assert not np.allclose(after.joints, before.joints)
    np.testing.assert_array_equal(after.joints, fresh.joints)


def test_an_edited_pku_label_file_is_not_served_from_the_cache(tmp_path):
    shutil.copytree(DATA / "pku_mmd", tmp_path / "pku")
    rec, labels, cache = tmp_path / "pku" / "skeleton" / "0036-L.txt", tmp_path / "pku" / "label" / "0036-L.txt", \
        tmp_path / "cache"
    before = _cached(rec, cache)
    lines = labels.read_text().splitlines()
    label, start, end, conf = lines[0].split(",")
    lines[0] = ",".join([label, str(int(start) + 40), end, conf])   # the first clip starts 40 frames later
    labels.write_text("\n".join(lines) + "\n")
    _touch_later(labels)
    after, fresh = _cached(rec, cache), _fresh(rec, "pku_mmd")
    assert after.num_frames == fresh.num_frames == before.num_frames - 40
    np.testing.assert_array_equal(after.joints, fresh.joints)


def test_an_edited_or_new_caption_file_is_not_served_from_the_cache(tmp_path):
    shutil.copytree(DATA / "humanml3d", tmp_path / "h3d")
    motion, texts, cache = tmp_path / "h3d" / "new_joints" / "000000.npy", tmp_path / "h3d" / "texts", tmp_path / "cache"
    text = (texts / "000000.txt").read_text()
    (texts / "000000.txt").unlink()
    assert not _cached(motion, cache).metadata.get("captions")         # no caption file yet
    (texts / "000000.txt").write_text(text)                                # it appears: the reader looked there
    assert _cached(motion, cache).metadata["captions"][0].startswith("a man kicks")
    (texts / "000000.txt").write_text(text.replace("a man kicks", "a woman waves", 1))
    _touch_later(texts / "000000.txt")
    after = _cached(motion, cache)
    assert after.metadata["captions"][0].startswith("a woman waves")
    assert after.metadata["captions"] == _fresh(motion, "humanml3d").metadata["captions"]


def test_an_openpose_folder_is_keyed_on_every_frame_file(tmp_path):
    from test_formats_people import kinetics_as_openpose

    folder, cache = kinetics_as_openpose(tmp_path / "run"), tmp_path / "cache"
    before = _cached(folder, cache)
    frames = sorted(folder.glob("*_keypoints.json"))
    frames[-1].unlink()                                          # a frame file removed
    assert _cached(folder, cache).num_frames == _fresh(folder, "openpose").num_frames < before.num_frames
    obj = json.loads(frames[10].read_text())                     # a frame file edited: everyone moves
    for person in obj["people"]:
        person["pose_keypoints_2d"] = [v + 5.0 if k % 3 < 2 and v else v
                                       for k, v in enumerate(person["pose_keypoints_2d"])]
    frames[10].write_text(json.dumps(obj))
    _touch_later(frames[10])
    np.testing.assert_array_equal(_cached(folder, cache).joints, _fresh(folder, "openpose").joints)


def test_a_class_list_option_is_part_of_the_key(tmp_path):
    clip, names, cache = tmp_path / "clip.json", tmp_path / "classes.txt", tmp_path / "cache"
    obj = json.loads(KINETICS.read_text())
    del obj["label"]                                             # only label_index 0 left
    clip.write_text(json.dumps(obj))
    names.write_text("first name\nsecond name\n")
    assert _cached(clip, cache, options={"class_names": str(names)}).label == "first name"
    names.write_text("renamed\nsecond name\n")
    _touch_later(names)
    assert _cached(clip, cache, options={"class_names": str(names)}).label == "renamed"
    assert _cached(clip, cache).label == "abseiling"             # other options: another entry


def test_a_cache_written_by_other_readers_is_not_served(tmp_path, monkeypatch):
    from skeletonllm.skeleton import dataset

    src, cache = DATA / "ntu_skeleton" / "S001C001P001R001A001.skeleton", tmp_path / "cache"
    _cached(src, cache)
    parsed = []
    real = dataset.get_format

    def counting(name):
        parsed.append(name)
        return real(name)

    monkeypatch.setattr(dataset, "get_format", counting)
    _cached(src, cache)
    assert parsed == []                                          # served from the cache
    monkeypatch.setattr(dataset, "loader_version", lambda: "another-version")
    _cached(src, cache)
    assert parsed == ["ntu"]                                     # parsed again


def test_the_loader_version_covers_the_readers_code_and_shipped_lists():
    v = reads.loader_version()
    assert re.fullmatch(r"[0-9a-f]{16}", v) and v == reads.loader_version()


# -- every file a reader opens is reported --------------------------------------------------------
SAMPLES = [("ntu", "ntu_skeleton/S001C001P001R001A001.skeleton"), ("ntu_npy", "ntu_txt2npy/S001C001P001R001A001.skeleton.npy"),
           ("nw_ucla", "nw_ucla/a11_s01_e00_v01.json"), ("pku_mmd", "pku_mmd/skeleton/0036-L.txt"),
           ("humanml3d", "humanml3d/new_joints/000000.npy"), ("humanml3d_vecs", "humanml3d/new_joint_vecs/000000.npy"),
           ("coco_json", "coco17_alphapose/alphapose-results.json"), ("bvh", "bvh/cmu_01_01.bvh"),
           ("asf_amc", "cmu_asf_amc/11_01.amc"), ("amass", "amass_npz/dmpl_sample.npz"),
           ("aistpp", "smpl_aistpp/gBR_sBM_cAll_d04_mBR0_ch01.pkl"), ("kinetics", "kinetics_skeleton/__NrybzYzUg.json")]

_OPENED: list | None = None


def _audit(event, args):
    if _OPENED is not None and event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        _OPENED.append(os.path.abspath(os.fsdecode(args[0])))


sys.addaudithook(_audit)


def _check_reads_cover_opens(fmt: str, path: Path, root: Path) -> None:
    """Every file under ``root`` opened while ``fmt``'s reader reads ``path`` is among its reported reads."""
    global _OPENED
    _OPENED = []
    try:
        with reads.recording() as got:
            get_format(fmt).read(path)
    finally:
        opened, _OPENED = _OPENED, None
    used = {p for p in opened if p.startswith(str(root.resolve()))}
    assert used, "the reader opened nothing under the root"
    assert used <= {p for kind, p in got if kind == "file"}, used - {p for _, p in got}


@pytest.mark.parametrize("fmt,rel", SAMPLES, ids=[s[0] for s in SAMPLES])
def test_every_file_a_reader_opens_is_in_its_cache_key(fmt, rel):
    """Python's audit hook sees every file opened while a reader runs; each one under the test data must be
    among the reads the reader reported (so an edit to it invalidates the cache entry)."""
    _check_reads_cover_opens(fmt, DATA / rel, DATA)


def test_the_written_formats_report_their_reads_too(tmp_path):
    """OpenPose folders, PYSKL pickles and .npz stores (no real sample file: written here)."""
    from test_formats_people import kinetics_as_openpose

    from skeletonllm.skeleton.convert import convert

    folder = kinetics_as_openpose(tmp_path / "run")
    _check_reads_cover_opens("openpose", folder, tmp_path)
    shutil.copy(DATA / "ntu_skeleton" / "S001C001P001R001A001.skeleton", tmp_path / "S001C001P001R001A001.skeleton")
    for to in ("pyskl", "npz"):
        out = tmp_path / f"out.{'pkl' if to == 'pyskl' else 'npz'}"
        convert([tmp_path / "S001C001P001R001A001.skeleton"], out, to=to, progress=False)
        _check_reads_cover_opens("pyskl" if to == "pyskl" else "npz_store", out, tmp_path)
