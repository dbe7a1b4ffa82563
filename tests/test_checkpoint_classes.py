"""A checkpoint trained on a split knows its classes: `recognize FILE --checkpoint DIR` without candidates
offers its unseen classes (`--all-classes`: all of them), for SkeletonLLM and SUGAR alike; a checkpoint
that names none says so. (Training writes the record: tests/test_train_stages.py, test_sugar_train.py and
the demo in test_demo.py check that on real runs.)"""
import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from skeletonllm.cli import app
from skeletonllm.mllm.checkpoint import class_record
from skeletonllm.skeleton.splits import class_names, get_split

NTU_FILE = Path(__file__).parent / "data" / "ntu_skeleton" / "S001C001P001R001A001.skeleton"
SPLIT = get_split("ntu60_55_5")
RECORD = class_record("ntu60_55_5", class_names("ntu60"), SPLIT.seen_names, SPLIT.unseen_names)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    from skeletonllm.mllm.model import SkeletonLLM, SkeletonLLMConfig
    from skeletonllm.sugar.model import SugarModel
    from test_sugar_model import LABELS, tiny_config

    root = tmp_path_factory.mktemp("classes")
    torch.manual_seed(0)
    model = SkeletonLLM(SkeletonLLMConfig(backbone="tiny:internvl", image_size=56, renderer_options={"image_size": 56},
                                          num_frames=4, device="cpu"))
    model.save_pretrained(root / "plain")                     # trained on no split: names no classes
    model.classes = RECORD
    model.save_pretrained(root / "skeletonllm")
    sugar = SugarModel(tiny_config(), corpus=LABELS + list(class_names("ntu60")))
    sugar.classes = RECORD
    sugar.save_pretrained(root / "sugar")
    return root


def _recognize(checkpoint, *args):
    out = CliRunner().invoke(app, ["recognize", str(NTU_FILE), "--checkpoint", str(checkpoint), "--mode", "score",
                                   "--json", *args])
    return out.exit_code, out.output


@pytest.mark.parametrize("method", ["skeletonllm", "sugar"])
def test_recognize_defaults_to_the_checkpoints_unseen_classes(checkpoints, method):
    from skeletonllm.inference import load_model

    assert load_model(checkpoints / method).classes == RECORD          # saved and read back
    code, out = _recognize(checkpoints / method)
    assert code == 0, out
    got = json.loads(out[out.index("{"):])
    assert got["candidates"] == list(SPLIT.unseen_names) and got["label"] in SPLIT.unseen_names
    code, out = _recognize(checkpoints / method, "--all-classes")
    assert code == 0, out
    assert json.loads(out[out.index("{"):])["candidates"] == list(class_names("ntu60"))
    code, out = _recognize(checkpoints / method, "--labels", "kick,wave")    # given candidates still win
    assert code == 0 and json.loads(out[out.index("{"):])["candidates"] == ["kick", "wave"]


def test_a_checkpoint_without_classes_asks_for_candidates(checkpoints):
    code, out = _recognize(checkpoints / "plain")
    assert code == 2 and "give labels or a split" in out and "does not name the classes" in out


def test_a_damaged_class_record_names_the_file(checkpoints, tmp_path):
    import shutil

    from skeletonllm.errors import ConfigError
    from skeletonllm.mllm.model import SkeletonLLM

    bad = tmp_path / "bad"
    shutil.copytree(checkpoints / "skeletonllm", bad)
    meta = json.loads((bad / "config.json").read_text())
    meta["classes"]["unseen"] = "kick"
    (bad / "config.json").write_text(json.dumps(meta))
    with pytest.raises(ConfigError, match="classes"):
        SkeletonLLM.from_pretrained(bad)
