"""Zero-shot class splits, class names and the NTU / PKU-MMD train/test protocols."""
import json
from importlib import resources
from pathlib import Path

import pytest

from skeletonllm.skeleton.splits import (class_names, get_split, list_splits, nw_ucla_action_labels,
                                         parse_ntu_name, protocol_part)

DATA = Path(__file__).parent / "data"

EXPECTED = {"ntu60_55_5": 5, "ntu60_48_12": 12, "ntu60_40_20": 20, "ntu60_30_30": 30, "ntu120_110_10": 10,
            "ntu120_96_24": 24, "ntu120_80_40": 40, "ntu120_60_60": 60, "pku_46_5": 5, "pku_39_12": 12}


def test_package_data_is_a_copy_of_the_reference_files():
    pkg = resources.files("skeletonllm").joinpath("data")
    for name in ("zero_shot_splits.json", "ntu60_class_names.txt", "ntu120_class_names.txt",
                 "pku_mmd_class_names.txt", "nw_ucla_class_names.txt"):
        assert pkg.joinpath(name).read_bytes() == (DATA / "splits" / name).read_bytes()
    assert pkg.joinpath("pku_mmd_cross_subject.txt").read_bytes() == (DATA / "pku_mmd/meta/cross-subject.txt").read_bytes()
    assert pkg.joinpath("pku_mmd_cross_view.txt").read_bytes() == (DATA / "pku_mmd/meta/cross-view.txt").read_bytes()


def test_class_names():
    assert len(class_names("ntu60")) == 60 and len(class_names("ntu120")) == 120
    assert class_names("ntu120")[:60] == class_names("ntu60")
    assert class_names("ntu60")[0] == "drink water" and class_names("ntu120")[57] == "handshaking"
    pku = class_names("pku_mmd")
    assert len(pku) == 51 and pku[0] == "bow" and pku[-1] == "writing" and class_names("pku") == pku
    ucla = class_names("nw_ucla")
    assert len(ucla) == 10 and ucla[0] == "pick up with one hand" and ucla[9] == "carry"
    assert nw_ucla_action_labels()["a08"] == 6 and nw_ucla_action_labels()["a12"] == 9
    assert len(class_names("kinetics")) == 400          # shipped since the Kinetics-400 list was added
    with pytest.raises(KeyError):
        class_names("kinetics700")


@pytest.mark.parametrize("name,n_unseen", EXPECTED.items())
def test_every_benchmark_split(name, n_unseen):
    sp = get_split(name)
    table = json.loads((DATA / "splits" / "zero_shot_splits.json").read_text())["splits"]
    entry = table[name.replace("pku_", "pku51_")]
    assert len(sp.unseen) == n_unseen and len(sp.seen) == sp.num_classes - n_unseen
    assert set(sp.seen) | set(sp.unseen) == set(range(sp.num_classes)) and not set(sp.seen) & set(sp.unseen)
    assert sorted(sp.unseen) == sorted(entry["unseen_0based"])
    assert sorted(sp.unseen_names) == sorted(entry["unseen_names"])
    assert len(sp.seen_names) == len(sp.seen)
    assert get_split(name.replace("pku_", "pku51_")).unseen == sp.unseen  # the JSON's own keys work too


def test_split_details():
    sp = get_split("ntu60_55_5")
    assert sp.dataset == "ntu60" and sp.num_classes == 60 and sp.unseen == (10, 11, 19, 26, 56)
    assert sp.unseen_names == ("reading", "writing", "put on a hat/cap", "jump up", "touch other person's pocket")
    assert get_split("pku_46_5").dataset == "pku_mmd" and get_split("pku_46_5").unseen == (1, 9, 20, 34, 50)
    assert set(EXPECTED) <= set(list_splits())
    assert "ntu60_55_5_ablation_split1" in list_splits(include_extra=True)
    with pytest.raises(KeyError, match="unknown split"):
        get_split("ntu60_50_10")


def test_ntu_protocols():
    assert parse_ntu_name("S017C003P020R002A060.skeleton") == {
        "setup": 17, "camera": 3, "subject": 20, "replication": 2, "action": 60}
    a = "S001C001P001R001A001"
    assert protocol_part("ntu60_xsub", a) == "train"  # performer 1 trains
    assert protocol_part("ntu60_xsub", "S001C001P003R001A001") == "test"
    assert protocol_part("ntu60_xview", a) == "test"  # camera 1 tests
    assert protocol_part("ntu60_xview", "S001C002P003R001A001") == "train"
    assert protocol_part("ntu120_xset", a) == "test" and protocol_part("ntu120_xset", "S002C001P001R001A001") == "train"
    assert protocol_part("ntu120_xsub", "S020C001P045R001A100") == "train"
    assert protocol_part("ntu60_xsub", "S020C001P045R001A100") is None  # not an NTU-60 sample
    assert protocol_part("ntu60_xsub", "0036-L") is None


def test_pku_protocols():
    # from the official lists: 0036-L trains in cross-view, and its -M twin is a validation video
    assert protocol_part("pku_xview", "0036-L") == "train"
    assert protocol_part("pku_xview", "0036-M") == "test"
    assert protocol_part("pku_xsub", "0002-L") == "train" and protocol_part("pku_xsub", "0291-L") == "test"
    assert protocol_part("pku_xsub", "9999-L") is None
    with pytest.raises(KeyError):
        protocol_part("kinetics", "x")
