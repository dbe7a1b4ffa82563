"""The curriculum's and SUGAR's configs share their data-source keys (``train.config.DataSource``)
and check them the same way: the same keys, defaults and errors for both."""
import dataclasses
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from skeletonllm.errors import ConfigError  # noqa: E402
from skeletonllm.sugar.config import SugarDataSection  # noqa: E402
from skeletonllm.sugar.config import config_from_dict as sugar_config  # noqa: E402
from skeletonllm.train.config import DataSection, DataSource  # noqa: E402
from skeletonllm.train.config import config_from_dict as curriculum_config  # noqa: E402

SHARED = ("dataset", "root", "files", "synth", "split")


def curriculum(data: dict):
    return curriculum_config({"model_class": "_toy_model:ToyModel", "model": {"hidden": 8}, "data": data})


def sugar(data: dict):
    return sugar_config({"data": data})


def test_both_sections_start_with_the_shared_keys_and_defaults():
    for section in (DataSection, SugarDataSection):
        assert issubclass(section, DataSource)
        names = [f.name for f in dataclasses.fields(section)]
        assert tuple(names[:len(SHARED)]) == SHARED
        assert all(getattr(section(), k) is None for k in SHARED)


@pytest.mark.parametrize("data, key, words", [
    ({}, "data", "give exactly one data source"),
    ({"files": ["a.skeleton"], "synth": {}}, "data", "(got files, synth)"),
    ({"dataset": "ntu60"}, "data.root", "is required with data.dataset 'ntu60'"),
    ({"files": "a.skeleton"}, "data.files", "expected list"),
])
def test_both_configs_refuse_the_same_data_sections_with_the_same_error(data, key, words):
    errors = []
    for load in (curriculum, sugar):
        with pytest.raises(ConfigError) as info:
            load(data)
        assert info.value.key == key and words in info.value.problem
        errors.append((info.value.key, info.value.problem))
    assert errors[0] == errors[1]


def test_both_configs_accept_each_single_source():
    for data in ({"files": ["a.skeleton"]}, {"synth": {"split": "synth_24_6"}},
                 {"dataset": "ntu60", "root": "somewhere", "split": "ntu60_48_12"}):
        assert curriculum(data).data.split == sugar(data).data.split == data.get("split")
