"""Converted pickles read by mmaction2 itself: its own `PoseDataset` and the stock skeleton pipelines of its
ST-GCN configs, on NTU-60 files, NTU-120-style files and a Kinetics-skeleton clip converted by
`skeletonllm convert`. Needs the optional `interop` extra (mmengine, mmcv-lite, mmaction2; installed by
scripts/setup.sh); skipped where mmaction2 is absent."""
import shutil
from pathlib import Path

import pytest

from skeletonllm.skeleton.convert import convert

mmaction = pytest.importorskip("mmaction.datasets", reason="mmaction2 is not installed: pip install -e '.[interop]'")

DATA = Path(__file__).parent / "data"
NTU = DATA / "ntu_skeleton" / "S001C001P001R001A001.skeleton"


def _pipeline(dims: int, dataset: str) -> list[dict]:
    """The training pipeline of mmaction2's stgcn_8xb16-joint-u100-80e_ntu60-xsub-keypoint-{3d,2d}.py."""
    return [dict(type="PreNormalize3D" if dims == 3 else "PreNormalize2D"),
            dict(type="GenSkeFeat", dataset=dataset, feats=["j"]),
            dict(type="UniformSampleFrames", clip_len=100), dict(type="PoseDecode"),
            dict(type="FormatGCNInput", num_person=2), dict(type="PackActionInputs")]


def _read(ann_file: Path, split: str, dims: int = 3, dataset: str = "nturgb+d") -> list[tuple[tuple, int]]:
    """``(inputs shape, label)`` of every sample mmaction2's PoseDataset gives for ``split``."""
    from mmaction.datasets import PoseDataset
    from mmengine.registry import init_default_scope

    init_default_scope("mmaction")          # the stock configs' default_scope
    ds = PoseDataset(ann_file=str(ann_file), pipeline=_pipeline(dims, dataset), split=split)
    out = []
    for i in range(len(ds)):
        sample = ds[i]
        assert sample["inputs"].isfinite().all()
        out.append((tuple(sample["inputs"].shape), int(sample["data_samples"].gt_label)))
    return out


def test_converted_ntu60_files_work_in_mmaction2_under_its_split_names(tmp_path):
    shutil.copytree(DATA / "ntu_skeleton", tmp_path / "ntu")
    out = tmp_path / "ntu60.pkl"
    convert([tmp_path / "ntu"], out, progress=False)
    shape = (1, 2, 100, 25, 3)                 # clips, persons, frames, joints, xyz
    assert _read(out, "xsub_train") == [(shape, 0), (shape, 57)]      # both performers train
    assert _read(out, "xview_train") == [(shape, 57)]          # camera 3 trains, camera 1 tests
    assert _read(out, "xview_val") == [(shape, 0)]
    assert _read(out, "ntu60_xview_val") == [(shape, 0)]       # our own names stay, as aliases


def test_converted_ntu120_style_files_work_in_mmaction2_under_its_split_names(tmp_path):
    """NTU-120 names (setups 18+, actions 61+): the cross-subject and cross-setup splits mmaction2's
    NTU-120 configs read."""
    d = tmp_path / "ntu120"
    d.mkdir()
    shutil.copy(NTU, d / "S018C001P050R001A061.skeleton")      # subject 50 trains, even setup trains
    shutil.copy(NTU, d / "S019C002P051R002A120.skeleton")      # subject 51 tests, odd setup tests
    out = tmp_path / "ntu120.pkl"
    convert([d], out, progress=False)
    shape = (1, 2, 100, 25, 3)
    assert _read(out, "xsub_train") == [(shape, 60)] and _read(out, "xsub_val") == [(shape, 119)]
    assert _read(out, "xset_train") == [(shape, 60)] and _read(out, "xset_val") == [(shape, 119)]


def test_a_converted_kinetics_clip_works_in_mmaction2s_2d_pipeline(tmp_path):
    shutil.copy(DATA / "kinetics_skeleton" / "__NrybzYzUg.json", tmp_path / "clip.json")
    out = tmp_path / "kinetics.pkl"
    convert([tmp_path / "clip.json"], out, progress=False)
    # OpenPose COCO-18 joints, x, y and score: mmaction2's 'openpose' layout; abseiling is label 0.
    assert _read(out, "all", dims=2, dataset="openpose") == [((1, 2, 100, 18, 3), 0)]
