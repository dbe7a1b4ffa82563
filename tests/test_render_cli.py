"""`skeletonllm render`: every real sample file renders to a PNG contact sheet; GIF/MP4; checkpoints."""
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from skeletonllm.cli import app
from skeletonllm.render import DrAction, DrActionConfig

DATA = Path(__file__).parent / "data"
SAMPLES = [
    "ntu_skeleton/S001C001P001R001A001.skeleton",
    "ntu_skeleton/S001C003P008R002A058.skeleton",
    "ntu_txt2npy/S001C001P001R001A001.skeleton.npy",
    "humanml3d/new_joints/000000.npy",
    "nw_ucla/a01_s01_e00_v01.json",
    "nw_ucla/a05_s01_e00_v01.json",
    "nw_ucla/a11_s01_e00_v01.json",
    "pku_mmd/skeleton/0036-L.txt",
    "coco17_alphapose/alphapose-results.json",
    "bvh/cmu_01_01.bvh",
    "kinetics_skeleton/__NrybzYzUg.json",
    "amass_npz/dmpl_sample.npz",
    "smpl_aistpp/gBR_sBM_cAll_d04_mBR0_ch01.pkl",
    "cmu_asf_amc/11_01.amc",
]
# Frames showing a person, of 4 sampled: the Kinetics clip has a body in 41 of its 299 frames.
MIN_VISIBLE = {"kinetics_skeleton/__NrybzYzUg.json": 1}
runner = CliRunner()


def render(*args):
    result = runner.invoke(app, ["render", *map(str, args)])
    return result


def load_png(path):
    return np.asarray(Image.open(path).convert("RGB"))


def test_sample_list_covers_every_skeleton_file():
    skip_dirs = {"splits", "texts", "meta", "new_joint_vecs", "label"}
    found = {str(p.relative_to(DATA)) for p in DATA.rglob("*") if p.is_file() and p.suffix not in (".md", ".asf")
             and not skip_dirs & set(p.relative_to(DATA).parts)}
    assert found == set(SAMPLES)


@pytest.mark.parametrize("sample", SAMPLES)
def test_every_real_file_renders_to_png(sample, tmp_path):
    out = tmp_path / "sheet.png"
    result = render(DATA / sample, "--out", out, "--size", 48, "--frames", 4)
    assert result.exit_code == 0, result.output
    img = load_png(out)
    # 4 frames in one row of 48 px tiles with 2 px gaps; a visible figure in most tiles.
    assert img.shape == (48, 4 * 48 + 3 * 2, 3)
    tiles = [img[:, k * 50:k * 50 + 48] for k in range(4)]
    assert sum(int((t.max(-1) > 60).sum() > 10) for t in tiles) >= MIN_VISIBLE.get(sample, 3)


@pytest.mark.parametrize("renderer", ["velocity", "projection", "jtm"])
def test_fixed_renderers_through_cli(renderer, tmp_path):
    out = tmp_path / "r.png"
    result = render(DATA / SAMPLES[0], "--out", out, "--size", 48, "--frames", 2, "--renderer", renderer)
    assert result.exit_code == 0, result.output
    assert load_png(out).max() > 100


def test_gif_mp4_and_demo(tmp_path):
    for ext in ("gif", "mp4"):
        out = tmp_path / f"a.{ext}"
        assert render(DATA / SAMPLES[4], "--out", out, "--size", 32, "--frames", 3).exit_code == 0
        assert out.stat().st_size > 100
    out = tmp_path / "demo.png"
    assert render("--demo", "smpl22", "--out", out, "--size", 32, "--frames", 2, "--auto-frame").exit_code == 0
    assert load_png(out).max() > 100


def test_checkpoint_directory(tmp_path):
    ckpt = tmp_path / "ckpt"
    r = DrAction(DrActionConfig(image_size=40, init_mix_logit=8.0, init_color_logit=-8.0))  # a dark renderer
    r.save_pretrained(ckpt)
    (ckpt / "adapter_model.safetensors").write_bytes(b"not ours")        # other checkpoint files
    out = tmp_path / "c.png"
    result = render(DATA / SAMPLES[0], "--out", out, "--frames", 2, "--checkpoint", ckpt)
    assert result.exit_code == 0, result.output
    img = load_png(out)
    assert img.shape[0] == 40 and img[:, :40].max() < 40                  # its size, its (dark) colours
    result = render(DATA / SAMPLES[0], "--out", out, "--checkpoint", tmp_path / "nowhere")
    assert result.exit_code == 1 and "renderer_config.json" in result.output


def test_errors(tmp_path):
    result = render(DATA / SAMPLES[0], "--out", tmp_path / "x.png", "--renderer", "heatmap")
    assert result.exit_code == 2 and "unknown renderer" in result.output
    result = render(tmp_path / "missing.skeleton", "--out", tmp_path / "x.png")
    assert result.exit_code == 1 and "missing.skeleton" in result.output
    result = render(DATA / SAMPLES[0], "--out", tmp_path / "x.bmp", "--size", 16, "--frames", 1)
    assert result.exit_code == 1 and "x.bmp" in result.output
