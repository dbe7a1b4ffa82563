"""recognize / caption / ask on real files of every kind, through the CLI and the Python API (skeletonllm.inference)."""
import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

import skeletonllm
from skeletonllm import inference
from skeletonllm.cli import app
from skeletonllm.mllm.prompts import mqa_prompt
from skeletonllm.skeleton import collate_sequences

DATA = Path(__file__).parent / "data"
NTU = DATA / "ntu_skeleton" / "S001C001P001R001A001.skeleton"
HUMANML3D = DATA / "humanml3d" / "new_joints" / "000000.npy"
COCO = DATA / "coco17_alphapose" / "alphapose-results.json"
PKU = DATA / "pku_mmd" / "skeleton" / "0036-L.txt"
LABELS = ["drink water", "kick", "wave"]


@pytest.fixture(scope="module")
def checkpoint(tiny_checkpoint):
    return str(tiny_checkpoint)


def run(*args):
    """Exit code, stdout alone (what --json promises) and everything printed (messages go to stderr)."""
    r = CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "250"})
    return r.exit_code, r.stdout, r.output


def test_recognize_json_on_ntu_humanml3d_and_coco_files(checkpoint):
    code, stdout, out = run("recognize", NTU, HUMANML3D, COCO, "--checkpoint", checkpoint, "--labels", ",".join(LABELS),
                    "--frames", "4", "--max-new-tokens", "6", "--json")
    assert code == 0, out
    results = json.loads(stdout)
    assert [r["file"] for r in results] == [str(NTU), str(HUMANML3D), str(COCO)]  # input order, three topologies
    for r in results:
        assert {"file", "label", "raw", "candidates"} <= r.keys() and r["candidates"] == LABELS
        assert r["label"] is None or r["label"] in LABELS
    assert results[0]["true_label"] == "drink water"


def test_recognize_score_mode_with_a_split_and_a_table(checkpoint):
    code, stdout, out = run("recognize", NTU, "--checkpoint", checkpoint, "--split", "ntu60_40_20", "--mode", "score",
                    "--frames", "4", "--json")
    assert code == 0, out
    r = json.loads(stdout)  # one clip: one object
    assert len(r["candidates"]) == 20 and r["label"] == max(r["scores"], key=r["scores"].get)
    assert r["raw"] == f"Label: {r['label']}"
    code, stdout, out = run("recognize", NTU, "--checkpoint", checkpoint, "--labels", "drink water,throw", "--mode", "score",
                    "--frames", "4")
    assert code == 0 and "S001C001P001R001A001" in out and "drink water" in out


def test_a_pku_mmd_recording_is_recognised_clip_by_clip(checkpoint):
    code, stdout, out = run("recognize", PKU, "--checkpoint", checkpoint, "--split", "pku_39_12", "--all-classes",
                    "--frames", "2", "--max-new-tokens", "2", "--json")
    assert code == 0, out
    results = json.loads(stdout)
    assert len(results) == 7 and [r["clip"] for r in results] == list(range(7))
    assert all(len(r["frames"]) == 2 and r["frames"][0] < r["frames"][1] for r in results)
    assert len(results[0]["candidates"]) == 51 and all(r["true_label"] for r in results)


def test_caption_and_ask_json(checkpoint):
    code, stdout, out = run("caption", HUMANML3D, "--checkpoint", checkpoint, "--frames", "4", "--max-new-tokens", "8",
                    "--json")
    assert code == 0, out
    r = json.loads(stdout)
    assert r["file"] == str(HUMANML3D) and isinstance(r["text"], str)
    code, stdout, out = run("ask", COCO, "Which hand moves first?", "--checkpoint", checkpoint, "--frames", "4",
                    "--max-new-tokens", "8", "--json")
    assert code == 0, out
    r = json.loads(stdout)
    assert r["file"] == str(COCO) and r["question"] == "Which hand moves first?" and isinstance(r["text"], str)
    code, stdout, out = run("ask", NTU, "What happens?", "--checkpoint", checkpoint, "--frames", "4", "--max-new-tokens", "4")
    assert code == 0 and "What happens?" in out


def test_ask_with_options_scores_or_parses_one_option(checkpoint):
    from skeletonllm.mllm.model import SkeletonLLM
    from skeletonllm.mllm.prompts import qa_prompt

    model = SkeletonLLM.from_pretrained(checkpoint)
    options = ["left", "right", "both"]
    r = inference.ask(model, NTU, "Which side moves?", options="left, right,both", mode="score", num_frames=4)
    assert r["options"] == options and r["answer"] == max(r["scores"], key=r["scores"].get)
    # The same likelihoods as scoring the options by hand with the training prompt.
    batch = collate_sequences([skeletonllm.load(NTU)], num_frames=4, max_bodies=2)
    by_hand = model.score_candidates(batch, qa_prompt("Which side moves?", options), options)[0]
    assert torch.allclose(torch.tensor([r["scores"][o] for o in options]), by_hand.float(), atol=1e-4)
    g = inference.ask(model, NTU, "Which side moves?", options=options, num_frames=4, max_new_tokens=6)
    assert g["answer"] is None or g["answer"] in options
    with pytest.raises(ValueError, match="give the question's options"):
        inference.ask(model, NTU, "Which side moves?", mode="score")
    with pytest.raises(ValueError, match="distinct"):
        inference.ask(model, NTU, "Which side moves?", options="left,Left")
    code, stdout, out = run("ask", COCO, "Which side moves?", "--options", "left,right", "--mode", "score",
                            "--checkpoint", checkpoint, "--frames", "4", "--json")
    assert code == 0, out
    r = json.loads(stdout)
    assert r["answer"] in ("left", "right") and r["text"] == f"Label: {r['answer']}"
    code, stdout, out = run("ask", COCO, "Which side moves?", "--mode", "score", "--checkpoint", checkpoint)
    assert code == 2 and "needs --options" in out


def test_recognize_accepts_the_demo_splits(checkpoint):
    from skeletonllm.synth.dataset import SPLITS

    assert inference.recognition_candidates(split="synth_24_6") == list(SPLITS["synth_24_6"].unseen)
    assert inference.recognition_candidates(split="synth_24_6", all_classes=True) == list(SPLITS["synth_24_6"].classes)
    with pytest.raises(KeyError, match="synth_24_6"):
        inference.recognition_candidates(split="no_such_split")


def test_bad_input_exits_2_and_names_the_file(checkpoint, tmp_path):
    bad = tmp_path / "broken.skeleton"
    bad.write_text("3\n1\nnot a number\n")
    for cmd in (["recognize", NTU, bad, "--labels", "a,b"], ["caption", bad], ["ask", bad, "Why?"]):
        code, stdout, out = run(*cmd, "--checkpoint", checkpoint)
        assert code == 2 and "broken.skeleton" in out, out
    code, stdout, out = run("recognize", tmp_path / "missing.skeleton", "--checkpoint", checkpoint, "--labels", "a,b")
    assert code == 2 and "missing.skeleton" in out
    code, stdout, out = run("recognize", NTU, "--checkpoint", checkpoint)
    assert code == 2 and "labels or a split" in out
    code, stdout, out = run("caption", NTU, "--checkpoint", tmp_path)
    assert code == 2 and "not a SkeletonLLM checkpoint" in out


def test_python_api(checkpoint):
    from skeletonllm.mllm.model import SkeletonLLM

    model = SkeletonLLM.from_pretrained(checkpoint)
    [r] = inference.recognize(model, NTU, labels=LABELS, mode="score", num_frames=4)
    scores = r["scores"]
    assert r["file"] == str(NTU) and r["label"] == max(scores, key=scores.get) and set(scores) == set(LABELS)
    [g] = inference.recognize(model, [NTU], labels=LABELS, num_frames=4, max_new_tokens=6)
    batch = collate_sequences([skeletonllm.load(NTU)], num_frames=4)
    assert g["raw"] == model.generate(batch, mqa_prompt(LABELS), max_new_tokens=6)[0]  # the same greedy answer
    assert inference.caption(model, HUMANML3D, num_frames=4, max_new_tokens=4).keys() == {"file", "text"}
    with pytest.raises(ValueError, match="labels or a split"):
        inference.recognize(model, NTU)


def test_frame_count_defaults_to_what_the_checkpoint_was_trained_with():
    from types import SimpleNamespace

    from skeletonllm.inference import frames_for
    from skeletonllm.mllm.model import SkeletonLLMConfig

    trained_on_6 = SimpleNamespace(config=SkeletonLLMConfig(backbone="tiny:internvl", num_frames=6))
    assert frames_for(trained_on_6, None) == 6
    assert frames_for(trained_on_6, 9) == 9
    assert SkeletonLLMConfig.from_dict(SkeletonLLMConfig(num_frames=6).to_dict()).num_frames == 6
    assert frames_for(SimpleNamespace(), None) == 12


def test_recognize_new_formats_with_a_class_list_file(checkpoint, tmp_path):
    """Kinetics-skeleton, an OpenPose folder, AMASS, AIST++ and ASF/AMC input, with the candidates in a
    class-list file (one name per line, as a user's Kinetics-400 list would be)."""
    from test_formats_people import kinetics_as_openpose

    classes = tmp_path / "kinetics_classes.txt"
    classes.write_text("# my class list\nabseiling\nair drumming\nanswering questions\n")
    folder = kinetics_as_openpose(tmp_path / "openpose")
    files = [DATA / "kinetics_skeleton" / "__NrybzYzUg.json", folder, DATA / "amass_npz" / "dmpl_sample.npz",
             DATA / "smpl_aistpp" / "gBR_sBM_cAll_d04_mBR0_ch01.pkl", DATA / "cmu_asf_amc" / "11_01.amc"]
    code, stdout, out = run("recognize", *files, "--checkpoint", checkpoint, "--labels", classes, "--mode", "score",
                            "--frames", "4", "--json")
    assert code == 0, out
    results = json.loads(stdout)
    assert [r["file"] for r in results] == [str(f) for f in files]
    for r in results:
        assert r["candidates"] == ["abseiling", "air drumming", "answering questions"] and r["label"] in r["candidates"]
    assert results[0]["true_label"] == "abseiling"
