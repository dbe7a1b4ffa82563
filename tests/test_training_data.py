"""Training data at dataset scale: NTU's missing-skeleton lists, clips read lazily in the
DataLoader's workers, and files that fail to parse skipped up to a limit."""
import json
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from _toy_model import toy_config  # noqa: E402
from test_dataset import count_reads  # noqa: E402,F401  (the fixture: every format's reader, counted)

from skeletonllm.errors import SkeletonFormatError  # noqa: E402
from skeletonllm.skeleton import formats  # noqa: E402
from skeletonllm.skeleton.dataset import SkeletonDataset, load_dataset  # noqa: E402
from skeletonllm.skeleton.missing import has_missing_skeleton, missing_skeleton_samples, read_list  # noqa: E402
from skeletonllm.skeleton.splits import PROTOCOLS, protocol_part  # noqa: E402
from skeletonllm.train.config import DataSection, config_from_dict  # noqa: E402
from skeletonllm.train.data import BadFileLog, LazyClip, TooManyBadFiles  # noqa: E402
from skeletonllm.train.trainer import load_training_data, run_training  # noqa: E402

DATA = Path(__file__).parent / "data"
A001 = DATA / "ntu_skeleton" / "S001C001P001R001A001.skeleton"
A058 = DATA / "ntu_skeleton" / "S001C003P008R002A058.skeleton"
LISTED = "S001C002P005R002A008"          # first name on both of the authors' lists
NO_BODY = "1\n0\n"                       # a frame with no body: what a listed file can look like


def _ntu_tree(root: Path, names_from: dict[str, Path], broken: dict[str, str] = ()) -> Path:
    """A folder of NTU files: ``name -> copy of a real file``, plus ``name -> text`` files."""
    root.mkdir(parents=True, exist_ok=True)
    for name, src in names_from.items():
        shutil.copy(src, root / f"{name}.skeleton")
    for name, text in dict(broken).items():
        (root / f"{name}.skeleton").write_text(text)
    return root


# -- item 2: the authors' missing-skeleton lists ---------------------------------------------------

def test_the_authors_lists_ship_with_the_package():
    from importlib import resources
    ntu60 = read_list(resources.files("skeletonllm").joinpath("data", "NTU_RGBD_samples_with_missing_skeletons.txt")
                      .read_text())
    ntu120 = read_list(resources.files("skeletonllm").joinpath("data", "NTU_RGBD120_samples_with_missing_skeletons.txt")
                       .read_text())
    assert (len(ntu60), len(ntu120)) == (302, 535) and ntu60 <= ntu120
    assert missing_skeleton_samples() == ntu120
    assert has_missing_skeleton(f"{LISTED}.skeleton") and has_missing_skeleton(f"nturgb+d/{LISTED}.skeleton.npy")
    assert not has_missing_skeleton("S001C001P001R001A001.skeleton") and not has_missing_skeleton("0036-L")


def test_no_ntu_protocol_holds_a_listed_sample():
    neighbour = "S001C002P005R002A009"   # same subject, camera and setup, not listed
    for proto in (p for p in PROTOCOLS if p.startswith("ntu")):
        assert protocol_part(proto, LISTED) is None, proto
        assert protocol_part(proto, neighbour) in ("train", "test"), proto


@pytest.mark.parametrize("kwargs", [{"split": "ntu60_48_12", "subset": "seen"}, {"protocol": "ntu60_xsub", "part": "train"},
                                    {}])
def test_the_index_leaves_listed_samples_out(tmp_path, kwargs):
    root = _ntu_tree(tmp_path / "ntu", {"S001C001P001R001A001": A001}, {LISTED: NO_BODY})
    ds = SkeletonDataset(root, **kwargs)
    assert [it.name for it in ds.items] == ["S001C001P001R001A001"] and ds.excluded == [LISTED]
    kept = SkeletonDataset(root, keep_missing_skeletons=True, **kwargs)
    assert sorted(it.name for it in kept.items) == sorted(["S001C001P001R001A001", LISTED])


def test_a_listed_file_no_longer_stops_a_training_run_before_its_first_step(tmp_path):
    """The NTU reader raises on the listed file (no body in any frame); before the lists were
    applied, loading the training data parsed it and stopped."""
    root = _ntu_tree(tmp_path / "ntu", {"S001C001P001R001A001": A001}, {LISTED: NO_BODY})
    with pytest.raises(SkeletonFormatError, match="no body"):
        formats.get_format("ntu").read(root / f"{LISTED}.skeleton")
    data = DataSection(dataset="ntu60", root=str(root), split="ntu60_48_12")
    training = load_training_data(data, bad_files=None)
    assert len(training.sequences) == 1 and training.sequences[0]().label == "drink water"


def test_sugar_protocols_leave_listed_samples_out(tmp_path):
    from skeletonllm.sugar.training import _dataset_data
    root = _ntu_tree(tmp_path / "ntu", {"S001C001P001R001A001": A001}, {LISTED: NO_BODY})
    section = type("D", (), {"dataset": "ntu60", "root": str(root), "protocol": "default", "part": "train",
                             "max_bodies": 2, "cache_dir": None})()
    clips, _ = _dataset_data(section)
    assert [label for _, label in clips] == ["drink water"]


# -- item 3: clips read when a batch needs them ----------------------------------------------------

def test_training_data_parses_no_file_before_the_first_batch(tmp_path, count_reads):
    root = _ntu_tree(tmp_path / "ntu", {"S001C001P001R001A001": A001, "S001C003P008R002A058": A058})
    data = DataSection(dataset="ntu60", root=str(root), split="ntu60_48_12", cache_dir=str(tmp_path / "cache"))
    training = load_training_data(data)
    assert count_reads == []
    assert all(isinstance(c, LazyClip) for c in training.sequences)
    assert sorted(c.label for c in training.sequences) == ["drink water", "handshaking"]
    # The index's labels and sample ids are those of the parsed clips.
    from skeletonllm.train.tasks import sample_id
    for clip in training.sequences:
        seq = clip()
        assert seq.label == clip.label and sample_id(seq) == sample_id(clip)
    assert sorted(name for _, name in count_reads) == ["S001C001P001R001A001.skeleton", "S001C003P008R002A058.skeleton"]
    for clip in training.sequences:  # read again: from the cache
        clip()
    assert len(count_reads) == 2


def test_pku_and_ucla_labels_from_the_index_match_the_files(tmp_path):
    from skeletonllm.skeleton.splits import class_names
    from skeletonllm.train.data import LazyClips
    for name, folder in (("pku_mmd", "pku_mmd"), ("nw_ucla", "nw_ucla")):
        ds = load_dataset(name, DATA / folder, subset="all")
        for clip in LazyClips(ds, class_names(name)).clips():
            assert clip.label == clip().label, (name, clip)


def test_the_paper_configs_read_through_a_cache_with_workers():
    from skeletonllm.sugar.config import list_shipped, load_sugar_config
    from skeletonllm.train.config import list_shipped_configs, load_config
    for name in list_shipped_configs():
        cfg = load_config(name)
        if cfg.data.dataset is not None:
            assert cfg.data.cache_dir and cfg.train.num_workers >= 2, name
    for name in list_shipped():
        cfg = load_sugar_config(name)
        if cfg.data.dataset is not None:
            assert cfg.data.cache_dir and cfg.step2.train.num_workers >= 2 and cfg.step3.train.num_workers >= 2, name


# -- item 2: other files that fail to parse are skipped, up to a limit -----------------------------

def test_a_bad_file_is_replaced_by_a_clip_of_its_class_and_logged(tmp_path):
    root = _ntu_tree(tmp_path / "ntu", {"S001C001P001R001A001": A001, "S001C001P002R001A001": A001},
                     {"S001C001P004R001A001": "2\n1\n"})   # cut short: not on the authors' lists
    log = BadFileLog(tmp_path / "bad.jsonl", limit=1)
    data = DataSection(dataset="ntu60", root=str(root), split="ntu60_48_12")
    clips = load_training_data(data, bad_files=log).sequences
    bad = next(c for c in clips if "P004" in repr(c))
    seq = bad()
    assert seq.label == "drink water" and "P004" not in str(seq.source)
    assert list(log.files()) == [str(root / "S001C001P004R001A001.skeleton")]
    assert "file ends early" in json.loads((tmp_path / "bad.jsonl").read_text().splitlines()[0])["error"]
    with pytest.raises(SkeletonFormatError):   # without a log, the error stops the caller
        load_training_data(data, bad_files=None).sequences[2]()


def test_past_the_limit_the_run_stops(tmp_path):
    root = _ntu_tree(tmp_path / "ntu", {"S001C001P001R001A001": A001},
                     {"S001C001P004R001A001": "2\n1\n", "S001C001P005R001A001": "x\n"})
    log = BadFileLog(tmp_path / "bad.jsonl", limit=1)
    clips = load_training_data(DataSection(dataset="ntu60", root=str(root), split="ntu60_48_12"), bad_files=log).sequences
    with pytest.raises(TooManyBadFiles, match="2 training files failed to parse"):
        clips[1]()     # P004 fails, and so does the clip of its class tried in its place
    assert BadFileLog(tmp_path / "bad.jsonl", limit=5).files().keys() == {
        str(root / "S001C001P004R001A001.skeleton"), str(root / "S001C001P005R001A001.skeleton")}


def test_a_run_trains_from_lazy_clips_in_worker_processes_and_skips_a_bad_file(tmp_path):
    subjects = (1, 2, 4)    # cross-subject training subjects
    names = {f"S001C001P00{p}R001A001": A001 for p in subjects} | {f"S001C003P00{p}R002A058": A058 for p in subjects}
    root = _ntu_tree(tmp_path / "ntu", names, {"S001C001P009R001A001": "x\n", LISTED: NO_BODY})
    cfg = toy_config(tmp_path)
    cfg["data"] = {"dataset": "ntu60", "root": str(root), "split": "ntu60_48_12", "num_frames": 4,
                   "cache_dir": str(tmp_path / "cache"), "max_bad_files": 1}
    cfg["train"].update(num_workers=2, max_steps=2)
    results = run_training(config_from_dict(cfg, "test"), stages=1, progress=False, cpu=True)
    assert results[0].steps == 2 and results[0].items == 7
    out = tmp_path / "run"
    assert list(BadFileLog(out / "bad_files.jsonl", 1).files()) == [str(root / "S001C001P009R001A001.skeleton")]
    assert len(list((tmp_path / "cache").glob("*.npz"))) >= 1   # written by the workers
