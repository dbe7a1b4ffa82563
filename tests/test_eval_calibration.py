"""Calibrated likelihood ranking (skeletonllm.eval.calibration) and the engine's ``reference`` clips."""
import json

import numpy as np
import pytest
import torch
from torch import nn

from skeletonllm.eval.calibration import calibrate, candidate_prior
from skeletonllm.eval.mqa_engine import run_mqa_evaluation
from skeletonllm.skeleton import SkeletonSequence, get_topology

CANDIDATES = ["kick right leg", "kick left leg", "wave left hand"]
#: What the double's "language model" expects whatever it sees: it learnt "kick right leg".
BIAS = torch.tensor([3.0, 0.0, 0.5])


def marked(k: int, label: str | None = None, topology: str = "ntu25") -> SkeletonSequence:
    """A clip whose every coordinate is ``k``: the double reads which candidate it shows off it."""
    topo = get_topology(topology)
    joints = np.full((4, 1, topo.num_joints, 3), float(k), np.float32)
    return SkeletonSequence(joints, np.ones((4, 1), bool), topo, label=label, metadata={"source": f"clip{k}"})


class BiasedScorer(nn.Module):
    """``score_candidates``: the bias plus 2 for the candidate the clip shows (marker k -> candidate k % 3)."""

    def __init__(self):
        super().__init__()
        self.prompts = []

    def score_candidates(self, batch, prompt, candidates):
        self.prompts.append(prompt)
        shown = [int(round(float(batch.joints[b, 0, 0, 0, 0]))) % 3 for b in range(batch.batch_size)]
        scores = BIAS[None, :].repeat(batch.batch_size, 1)
        scores[torch.arange(batch.batch_size), torch.tensor(shown)] += 2.0
        return scores


def test_the_prior_is_the_log_of_the_mean_likelihood_over_the_reference_clips():
    reference = [marked(0), marked(0), marked(3), marked(2, topology="kinect_v1_20")]   # two topologies
    prior = candidate_prior(BiasedScorer(), reference, "which?", CANDIDATES, num_frames=4, batch_size=2)
    rows = np.array([[5.0, 0.0, 0.5]] * 3 + [[3.0, 0.0, 2.5]])
    expected = np.log(np.exp(rows).mean(0))
    assert prior.numpy() == pytest.approx(expected, abs=1e-5)
    scores = torch.tensor([[1.0, 2.0, 3.0]])
    assert calibrate(scores, prior).numpy() == pytest.approx(scores.numpy() - expected[None], abs=1e-5)
    with pytest.raises(ValueError, match="reference"):
        candidate_prior(BiasedScorer(), [], "which?", CANDIDATES, num_frames=4)


def _toy_evaluation():
    """Six test clips showing each candidate twice, four reference ("training") clips that show the
    first and third candidates, and the engine's settings for ranking them."""
    data = [marked(k, CANDIDATES[k % 3]) for k in range(6)]
    reference = [marked(0), marked(3), marked(2), marked(5)]
    common = dict(base={"task": "recognition", "dataset": "toy", "split": "toy"}, mode="score", batch_size=4,
                  num_frames=4, resume=False, progress=False)
    return data, reference, common


def test_calibration_lets_the_clip_outvote_the_language_prior(tmp_path):
    # Test clips show each candidate; the bias makes the plain ranking answer "kick right leg"
    # for the kicks it does not show. The reference clips are the "training" clips: they show
    # the first and third candidates (the unseen "kick left leg" is never among them).
    data, reference, common = _toy_evaluation()
    plain = run_mqa_evaluation(BiasedScorer(), data, CANDIDATES, out_dir=tmp_path / "plain", **common)
    model = BiasedScorer()
    cal = run_mqa_evaluation(model, data, CANDIDATES, out_dir=tmp_path / "cal", reference=reference, **common)
    # plain: bias + 2 -> [5, 0, .5] right, [3, 2, .5] says right (wrong), [3, 0, 2.5] says right (wrong)
    assert plain["top1"] == pytest.approx(2 / 6)
    assert cal["top1"] == pytest.approx(1.0)
    assert cal["per_class"]["kick left leg"]["top1"] == 1.0
    assert cal["settings"]["decoding"] == "likelihood ranking, calibrated on 4 reference clips"
    header = json.loads((tmp_path / "cal" / "predictions.jsonl").read_text().splitlines()[0])["header"]
    expected = np.log(np.exp(np.array([[5.0, 0.0, 0.5], [3.0, 0.0, 2.5]])).mean(0))
    assert header["calibration"] == {"reference_clips": 4}
    prior = cal["settings"]["calibration"]["prior"]
    assert [prior[c] for c in CANDIDATES] == pytest.approx(expected.tolist(), abs=1e-3)
    assert plain["settings"]["calibration"] is None
    assert len(set(model.prompts)) == 1          # the reference clips were asked the same question
    record = json.loads((tmp_path / "cal" / "predictions.jsonl").read_text().splitlines()[2])
    assert record["scores"] == pytest.approx((np.array([3.0, 2.0, 0.5]) - expected).tolist(), abs=1e-4)


def test_calibration_is_refused_for_greedy_decoding(tmp_path):
    with pytest.raises(ValueError, match="likelihood ranking only"):
        run_mqa_evaluation(BiasedScorer(), [marked(0, CANDIDATES[0])], CANDIDATES, {"task": "recognition"},
                           tmp_path, mode="generate", num_frames=4, reference=[marked(0)], progress=False)


def test_reference_clips_spread_over_each_class():
    from skeletonllm.eval.calibration import spread_per_class
    labels = [0, 0, 0, 0, 1, None, 0, 1, 2, 0, 0, 0]        # class 0 at 0 1 2 3 6 9 10 11
    assert spread_per_class(labels, 2) == [0, 4, 6, 7, 8]   # 0 and 6 of class 0: every fourth of its eight
    assert spread_per_class(labels, 100) == [i for i, l in enumerate(labels) if l is not None]
    with pytest.raises(ValueError, match="per_class"):
        spread_per_class(labels, 0)


def test_the_plain_ranking_beside_the_calibrated_one_scores_each_clip_once(tmp_path):
    from skeletonllm.eval.report import load_results

    data, reference, common = _toy_evaluation()
    alone = run_mqa_evaluation(BiasedScorer(), data, CANDIDATES, out_dir=tmp_path / "alone", **common)
    model = BiasedScorer()
    cal = run_mqa_evaluation(model, data, CANDIDATES, out_dir=tmp_path / "cal", reference=reference,
                             plain_out_dir=tmp_path / "plain", plain_base={**common["base"], "method": "plain"},
                             **common)
    plain = load_results(tmp_path / "plain" / "results.json")[0]
    assert cal["top1"] == pytest.approx(1.0) and plain["top1"] == pytest.approx(alone["top1"]) == pytest.approx(2 / 6)
    assert plain["per_class"] == alone["per_class"] and plain["method"] == "plain"
    assert plain["settings"]["calibration"] is None and plain["settings"]["decoding"] == "likelihood ranking"
    lines = lambda d: [json.loads(x) for x in (tmp_path / d / "predictions.jsonl").read_text().splitlines()][1:]  # noqa: E731
    assert [r["scores"] for r in lines("plain")] == [r["scores"] for r in lines("alone")]
    assert len(model.prompts) == 1 + 2              # one batch of reference clips, two of the six clips
    with pytest.raises(ValueError, match="needs reference clips"):
        run_mqa_evaluation(BiasedScorer(), data, CANDIDATES, out_dir=tmp_path / "x", plain_out_dir=tmp_path / "y",
                           **common)
