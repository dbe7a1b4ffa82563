"""Open-vocabulary recognition and cross-format transfer evaluation (skeletonllm.eval.recognition / .transfer)."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn
from typer.testing import CliRunner

import skeletonllm
from skeletonllm.cli import app
from skeletonllm.errors import ConfigError
from skeletonllm.eval.recognition import evaluate_recognition, recognition_metrics
from skeletonllm.eval.report import load_results, validate_result
from skeletonllm.eval.transfer import load_label_map, to_2d, topology_2d
from skeletonllm.skeleton import SkeletonSequence, get_topology

DATA = Path(__file__).parent / "data"
NTU_A001 = DATA / "ntu_skeleton" / "S001C001P001R001A001.skeleton"
NTU_A058 = DATA / "ntu_skeleton" / "S001C003P008R002A058.skeleton"
CANDIDATES = ["wave", "throw", "sit down"]


# -- a deterministic model double: known answers, so the expected figures are known exactly -------
def marked_sequence(k: int, label: str, topology: str = "ntu25") -> SkeletonSequence:
    """A clip whose every coordinate is ``k``: the double reads its answer off the batch."""
    topo = get_topology(topology)
    joints = np.full((5, 1, topo.num_joints, 3), float(k), np.float32)
    return SkeletonSequence(joints, np.ones((5, 1), bool), topo, label=label,
                            metadata={"source": f"clip{k}.skeleton"})


class AnswerDouble(nn.Module):
    """Implements SkeletonLLM's ``generate`` / ``score_candidates`` from a table of answers."""

    def __init__(self, answers: dict[int, str], best: dict[int, int] | None = None, fail_after: int | None = None):
        super().__init__()
        self.answers, self.best, self.fail_after = answers, best or {}, fail_after
        self.calls, self.asked, self.modes = 0, [], []

    def _ids(self, batch):
        assert batch.joints.shape[1] == 4  # num_frames honoured
        self.calls += 1
        self.modes.append(self.training)
        if self.fail_after is not None and self.calls > self.fail_after:
            raise RuntimeError("simulated crash")
        ids = [int(round(float(batch.joints[b, 0, 0, 0, 0]))) for b in range(batch.batch_size)]
        self.asked += ids
        return ids

    def generate(self, batch, prompts, max_new_tokens=64):
        assert not torch.is_grad_enabled()
        return [self.answers[k] for k in self._ids(batch)]

    def score_candidates(self, batch, prompt, candidates):
        scores = torch.full((batch.batch_size, len(candidates)), -5.0)
        for row, k in enumerate(self._ids(batch)):
            scores[row, self.best[k]] = -1.0
        return scores


TRUTH = ["wave", "wave", "wave", "throw", "sit down", "sit down", "sit down"]
ANSWERS = {
    0: "Label: wave",                          # exact
    1: "The arm swings.\nlabel:   WAVE  ",     # lower/strip: still exact under the paper's rule
    2: "Label: throw",                         # wrong, but a candidate
    3: "Label: 'throw'.",                      # strict: no candidate; lenient: throw
    4: "I am not sure what this is.",          # no Label line
    5: "Label: jump",                          # not a candidate
    6: "Label: sit down",                      # exact (a Kinect v1 clip: a second topology)
}


def double_data():
    return [marked_sequence(k, TRUTH[k], "kinect_v1_20" if k == 6 else "ntu25") for k in range(7)]


def test_accuracy_per_class_and_unmatched_are_computed_exactly(tmp_path):
    model = AnswerDouble(ANSWERS).train()
    res = evaluate_recognition(model, double_data(), CANDIDATES, "toy_3", batch_size=2, num_frames=4,
                               out_dir=tmp_path, progress=False)
    assert res["top1"] == pytest.approx(3 / 7) and res["top1_fuzzy"] == pytest.approx(4 / 7)
    assert res["unmatched"] == 3 and res["unmatched_fuzzy"] == 2 and res["num_samples"] == 7
    assert res["per_class"]["wave"] == {"top1": pytest.approx(2 / 3), "top1_fuzzy": pytest.approx(2 / 3), "num_samples": 3}
    assert res["per_class"]["throw"]["top1"] == 0.0 and res["per_class"]["throw"]["top1_fuzzy"] == 1.0
    assert res["per_class"]["sit down"]["top1"] == pytest.approx(1 / 3)
    assert sorted(model.asked) == list(range(7)) and model.calls == 4  # 6 Kinect v2 clips in 3 batches, 1 Kinect v1
    assert model.modes and not any(model.modes) and model.training  # eval while answering, mode restored after
    validate_result(json.loads((tmp_path / "results.json").read_text()))
    records = [json.loads(l) for l in (tmp_path / "predictions.jsonl").read_text().splitlines()[1:]]
    by_id = {r["id"]: r for r in records}
    assert by_id["clip3"]["prediction"] is None and by_id["clip3"]["fuzzy_prediction"] == "throw"
    assert by_id["clip5"]["raw_label"] == "jump" and by_id["clip1"]["prediction"] == "wave"
    metrics = recognition_metrics(records, CANDIDATES)
    assert metrics["confusion"].tolist() == [[2, 1, 0], [0, 0, 0], [0, 0, 1]]  # unmatched answers: no column
    assert Image.open(tmp_path / "confusion.png").size[0] > 100


def test_score_mode_always_predicts_a_candidate(tmp_path):
    best = {0: 0, 1: 1, 2: 1, 3: 1, 4: 2, 5: 0, 6: 2}  # right for 0, 3, 4, 6
    res = evaluate_recognition(AnswerDouble({}, best), double_data(), CANDIDATES, "toy_3", mode="score",
                               batch_size=8, num_frames=4, out_dir=tmp_path, progress=False)
    assert res["top1"] == pytest.approx(4 / 7) and res["unmatched"] == 0
    assert res["per_class"]["sit down"]["top1"] == pytest.approx(2 / 3)
    assert res["settings"]["decoding"] == "likelihood ranking"


def test_an_interrupted_run_resumes_without_asking_again(tmp_path):
    with pytest.raises(RuntimeError, match="simulated crash"):
        evaluate_recognition(AnswerDouble(ANSWERS, fail_after=2), double_data(), CANDIDATES, "toy_3", batch_size=2,
                             num_frames=4, out_dir=tmp_path, progress=False)
    lines = (tmp_path / "predictions.jsonl").read_text().splitlines()
    assert len(lines) == 1 + 4 and not (tmp_path / "results.json").exists()
    with open(tmp_path / "predictions.jsonl", "a") as fh:
        fh.write('{"id": "clip4", "label": "sit do')  # a torn line, as a kill mid-write leaves it
    again = AnswerDouble(ANSWERS)
    res = evaluate_recognition(again, double_data(), CANDIDATES, "toy_3", batch_size=2, num_frames=4,
                               out_dir=tmp_path, progress=False)
    assert sorted(again.asked) == [4, 5, 6] and res["top1"] == pytest.approx(3 / 7)
    # a different candidate list cannot reuse these answers
    with pytest.raises(ConfigError, match="candidates"):
        evaluate_recognition(AnswerDouble(ANSWERS), double_data(), CANDIDATES[::-1], "toy_3", num_frames=4,
                             out_dir=tmp_path, progress=False)


def test_a_clip_whose_class_is_not_a_candidate_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="clip0.skeleton.*'jump'"):
        evaluate_recognition(AnswerDouble(ANSWERS), [marked_sequence(0, "jump")], CANDIDATES, "toy_3",
                             num_frames=4, out_dir=tmp_path, progress=False)


# -- end to end: a real (tiny) checkpoint on real files --------------------------------------------
@pytest.fixture(scope="module")
def checkpoint(tiny_checkpoint):
    return tiny_checkpoint


def test_eval_command_on_real_ntu_files_writes_results_figure_and_report(checkpoint, tmp_path, monkeypatch):
    from skeletonllm.mllm.model import SkeletonLLM

    runner = CliRunner()
    out = tmp_path / "eval"
    args = ["eval", str(checkpoint), "--data", str(DATA / "ntu_skeleton"), "--split", "ntu60_40_20", "--frames", "4",
            "--max-new-tokens", "8", "--out", str(out), "--quiet"]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "ntu60_40_20" in r.output and "top-1" in r.output
    [res] = load_results(out / "results.json")
    assert res["task"] == "recognition" and res["split"] == "ntu60_40_20" and res["dataset"] == "NTU-60"
    assert res["num_samples"] == 2 and set(res["per_class"]) == {"drink water", "handshaking"}
    assert res["settings"]["checkpoint"] == str(checkpoint.resolve()) and res["settings"]["versions"]["torch"]
    assert len(res["settings"]["candidates"]) == 20 and res["seed"] == 0
    assert res["unmatched"] + round(res["top1"] * 2) <= 2
    assert Image.open(out / "confusion.png").size[0] > 100
    records = [json.loads(l) for l in (out / "predictions.jsonl").read_text().splitlines()[1:]]
    assert {r["id"] for r in records} == {NTU_A001.name, NTU_A058.name}
    assert all(isinstance(r["text"], str) for r in records)

    rep = runner.invoke(app, ["report", str(out / "results.json")])
    assert rep.exit_code == 0, rep.output
    assert "40/20" in rep.output and "SkeletonLLM (this run)" in rep.output

    # a second run asks the model nothing: every clip is in predictions.jsonl
    calls = []
    original = SkeletonLLM.generate
    monkeypatch.setattr(SkeletonLLM, "generate", lambda self, *a, **k: calls.append(1) or original(self, *a, **k))
    r2 = runner.invoke(app, args)
    assert r2.exit_code == 0, r2.output
    assert calls == [] and load_results(out / "results.json")[0]["top1"] == res["top1"]


def test_tsne_of_hidden_states_with_seen_classes_faint(checkpoint, tmp_path):
    from skeletonllm.mllm.model import SkeletonLLM

    model = SkeletonLLM.from_pretrained(checkpoint)
    unseen = [skeletonllm.load(NTU_A001), skeletonllm.load(NTU_A058),
              skeletonllm.load(DATA / "ntu_txt2npy" / "S001C001P001R001A001.skeleton.npy")]
    seen = skeletonllm.load_all(DATA / "pku_mmd" / "skeleton" / "0036-L.txt")[:3]  # other classes, same topology
    res = evaluate_recognition(model, unseen, ["drink water", "handshaking"], "two_classes", mode="score",
                               num_frames=4, out_dir=tmp_path, tsne=True, tsne_data=seen, progress=False)
    assert res["num_samples"] == 3 and res["files"]["tsne"] == "tsne.png"
    assert Image.open(tmp_path / "tsne.png").size[0] > 100
    parts = list((tmp_path / "features").glob("part-*.npz"))
    with np.load(parts[0]) as z:
        assert z["features"].shape[1] == 64
    n = sum(len(np.load(p)["ids"]) for p in parts)
    assert n == 6


def test_transfer_ntu_checkpoint_on_nw_ucla_with_the_label_map(checkpoint, tmp_path):
    out = tmp_path / "transfer"
    r = CliRunner().invoke(app, ["eval", str(checkpoint), "--data", str(DATA / "nw_ucla"), "--transfer-from", "ntu60",
                                 "--frames", "4", "--max-new-tokens", "6", "--out", str(out), "--quiet"])
    assert r.exit_code == 0, r.output
    [res] = load_results(out / "results.json")
    assert (res["task"], res["source"], res["target"]) == ("transfer", "NTU-60", "NW-UCLA")
    assert res["source_format"] == "ntu25" and res["target_format"] == "kinect_v1_20" and res["num_samples"] == 3
    cands = res["settings"]["candidates"]
    assert len(cands) == 10 and "put on clothes" in cands and "donning" not in cands
    assert set(res["per_class"]) == {"pick up with one hand", "sit down", "throw"}
    assert load_label_map("nw_ucla")["carry"] == "carry an object"
    rep = CliRunner().invoke(app, ["report", str(out / "results.json")])
    assert "Cross-format transfer" in rep.output and "60.38" in rep.output  # the paper's row beside ours


def test_to_2d_drops_depth_and_renders(tmp_path):
    from skeletonllm.render import DrAction, DrActionConfig
    from skeletonllm.skeleton import collate_sequences

    seq = skeletonllm.load(NTU_A058)
    flat = to_2d(seq)
    assert flat.topology.dims == 2 and flat.topology.name == "ntu25_2d" and flat.topology == topology_2d(seq.topology)
    assert flat.topology.bones == seq.topology.bones and flat.topology.parts == seq.topology.parts
    assert np.all(flat.joints[..., 2] == 0) and flat.orientations is None
    z_ref = flat.metadata["projection_2d"]["reference_depth"]
    assert flat.metadata["projection_2d"]["method"] == "perspective" and 2.0 < z_ref < 5.0
    t, m = np.argwhere(seq.present)[0]
    j = seq.joints[t, m, 3]  # the head: image position kept, x' = x z_ref / z
    assert flat.joints[t, m, 3, :2] == pytest.approx(j[:2] * z_ref / j[2], rel=1e-5)
    assert to_2d(flat) is flat
    frames = DrAction(DrActionConfig(image_size=64))(collate_sequences([flat], num_frames=3))
    assert frames.shape == (1, 3, 3, 64, 64) and torch.isfinite(frames).all() and frames.max() > 0.05


def test_transfer_to_ntu60_2d_in_score_mode(checkpoint, tmp_path):
    out = tmp_path / "t2d"
    r = CliRunner().invoke(app, ["eval", str(checkpoint), "--data", str(DATA / "ntu_skeleton"),
                                 "--transfer-from", "humanml3d", "--to-2d", "--mode", "score", "--frames", "4",
                                 "--limit", "1", "--out", str(out), "--quiet"])
    assert r.exit_code == 0, r.output
    [res] = load_results(out / "results.json")
    assert (res["source"], res["target"], res["target_format"]) == ("HumanML3D", "NTU-60 (2D)", "ntu25_2d")
    assert res["num_samples"] == 1 and res["unmatched"] == 0 and len(res["settings"]["candidates"]) == 60
    assert res["settings"]["transform"] == "to_2d"


def test_eval_command_errors_exit_2_with_a_clear_message(checkpoint, tmp_path):
    runner = CliRunner()
    r = runner.invoke(app, ["eval", str(checkpoint), "--data", str(DATA / "ntu_skeleton"), "--split", "ntu60_55_5",
                            "--out", str(tmp_path)])
    assert r.exit_code == 2 and "no clips of the unseen classes of ntu60_55_5" in r.output
    r = runner.invoke(app, ["eval", str(checkpoint), "--data", str(DATA / "ntu_skeleton"), "--split", "ntu60_40_20",
                            "--protocol", "xsub"])  # both sample subjects are training subjects
    assert r.exit_code == 2 and "in the ntu60_xsub test part" in r.output
    r = runner.invoke(app, ["eval", str(checkpoint), "--data", str(DATA / "ntu_skeleton"), "--split", "ntu60_40_20",
                            "--protocol", "xset"])
    assert r.exit_code == 2 and "does not apply to ntu60: choose xsub, xview" in r.output
    r = runner.invoke(app, ["eval", str(checkpoint), "--data", str(DATA / "ntu_skeleton"), "--split", "nope"])
    assert r.exit_code == 2 and "unknown split 'nope'" in r.output
    r = runner.invoke(app, ["eval", str(tmp_path), "--data", str(DATA / "ntu_skeleton"), "--split", "ntu60_40_20"])
    assert r.exit_code == 2 and "not a SkeletonLLM checkpoint" in r.output


def test_eval_calibrate_draws_the_splits_seen_clips_from_the_data(checkpoint, tmp_path):
    """ntu60_30_30: A001 (drink water) is unseen, A058 (handshaking) seen: the only reference clip."""
    from skeletonllm.eval.calibration import candidate_prior
    from skeletonllm.inference import load_model

    runner = CliRunner()
    out = tmp_path / "cal"
    r = runner.invoke(app, ["eval", str(checkpoint), "--data", str(DATA / "ntu_skeleton"), "--split", "ntu60_30_30",
                            "--mode", "score", "--calibrate", "3", "--frames", "4", "--out", str(out), "--quiet"])
    assert r.exit_code == 0, r.output
    assert "calibrated on 1 seen clips" in r.output
    [res] = load_results(out / "results.json")
    assert res["num_samples"] == 1 and set(res["per_class"]) == {"drink water"}
    cal = res["settings"]["calibration"]
    assert cal["reference_clips"] == 1 and len(cal["prior"]) == 30
    header = json.loads((out / "predictions.jsonl").read_text().splitlines()[0])["header"]
    model = load_model(checkpoint)
    prior = candidate_prior(model, [skeletonllm.load(NTU_A058)], header["prompt"], res["settings"]["candidates"], 4)
    assert [cal["prior"][c] for c in res["settings"]["candidates"]] == pytest.approx(prior.tolist(), abs=2e-4)

    for extra, message in ((["--split", "ntu60_30_30", "--calibrate", "2"], "use mode 'score'"),
                           (["--split", "ntu60_40_20", "--mode", "score", "--calibrate", "2"],
                            "no clips of the seen classes of ntu60_40_20 to calibrate on"),
                           (["--transfer-from", "ntu60", "--mode", "score", "--calibrate", "2"],
                            "not to --transfer-from")):
        r = runner.invoke(app, ["eval", str(checkpoint), "--data", str(DATA / "ntu_skeleton"), *extra,
                                "--out", str(tmp_path / "x")])
        assert r.exit_code == 2 and message in r.output, r.output


def test_top1_by_class_counts_each_classes_own_clips():
    from skeletonllm.eval.recognition_metrics import top1_by_class

    top1, per_class = top1_by_class(["a", "b", "b", "c"], ["a", "a", "b", "b"], ["c", "b", "a"])
    assert top1 == 0.5
    assert per_class == {"b": {"top1": 0.5, "num_samples": 2}, "a": {"top1": 0.5, "num_samples": 2}}
    assert list(per_class) == ["b", "a"]                 # the classes' order; a class without clips left out
    top1, per_class = top1_by_class([], [], ["a"])
    assert top1 != top1 and per_class == {}             # NaN without clips
