"""The Kinetics-400 class names ship with the package: a Kinetics-skeleton file that gives only its
label_index gets its name from them, and `recognize --labels kinetics400` offers all 400 as candidates."""
import json
from pathlib import Path

import pytest

import skeletonllm
from skeletonllm.errors import SkeletonFormatError
from skeletonllm.inference import recognition_candidates
from skeletonllm.skeleton.splits import class_names

KINETICS = Path(__file__).parent / "data" / "kinetics_skeleton" / "__NrybzYzUg.json"


def _clip(tmp_path, label_index, label=None):
    """The real clip with its label replaced: only ``label_index`` (and ``label`` when given)."""
    obj = json.loads(KINETICS.read_text())
    obj.pop("label")
    obj["label_index"] = label_index
    if label is not None:
        obj["label"] = label
    path = tmp_path / f"clip_{label_index}.json"
    path.write_text(json.dumps(obj))
    return path


def test_the_shipped_list_is_the_release_order():
    names = class_names("kinetics400")
    assert len(names) == len(set(names)) == 400
    assert names[0] == "abseiling" and names[207] == "parkour" and names[-1] == "zumba"
    assert class_names("kinetics") == names


def test_the_two_samples_labels(tmp_path):
    real = skeletonllm.load(KINETICS)                       # the file names its class itself
    assert (real.label, real.label_id) == ("abseiling", 0)
    assert (skeletonllm.load(_clip(tmp_path, 0)).label, skeletonllm.load(_clip(tmp_path, 207)).label) == \
        ("abseiling", "parkour")                            # only label_index: the name from the shipped list
    assert skeletonllm.load(_clip(tmp_path, 5, label="my own name")).label == "my own name"   # the file wins
    assert skeletonllm.load(_clip(tmp_path, -1)).label is None                              # unlabelled test file


def test_an_index_past_the_list_is_a_clear_error(tmp_path):
    path = _clip(tmp_path, 400)
    with pytest.raises(SkeletonFormatError, match="'label_index' 400 is past the 400 names") as err:
        skeletonllm.load(path)
    assert str(path) in str(err.value)
    names = tmp_path / "k600.txt"
    names.write_text("\n".join(f"class {i}" for i in range(600)) + "\n")
    assert skeletonllm.load(path, class_names=str(names)).label == "class 400"   # the user's own list


def test_recognize_offers_the_shipped_list_as_candidates():
    got = recognition_candidates(labels="kinetics400")
    assert len(got) == 400 and got[0] == "abseiling" and got[207] == "parkour"
    assert recognition_candidates(labels="ntu60")[0] == "drink water"
    assert recognition_candidates(labels="kick,wave") == ["kick", "wave"]       # plain lists as before
