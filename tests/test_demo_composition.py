"""Zero-shot by composition (``skeletonllm.demo.composition``) and the model's three readouts
(``evaluate.zero_shot_readouts``), on cases whose answer is known."""
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from skeletonllm.demo import evaluate as E
from skeletonllm.demo.composition import class_attributes, compose_scores, composed_predictions
from skeletonllm.demo.pretrain_targets import ATTRIBUTE_QUESTIONS, attribute_vocab
from skeletonllm.synth import get_split

SPLIT = get_split("synth_31_13")
UNSEEN = list(SPLIT.unseen[:5])      # kick left leg, wave left hand, punch with right arm, lift right leg sideways, ...


def test_a_class_scores_the_sum_of_its_values_log_probabilities():
    lp = {"movement": (["kick", "wave"], np.log([[0.9, 0.1], [0.2, 0.8]])),
          "side": (["left", "right"], np.log([[0.3, 0.7], [0.6, 0.4]]))}
    cands = {"kick left": {"movement": "kick", "side": "left"}, "wave right": {"movement": "wave", "side": "right"}}
    scores = compose_scores(lp, cands)
    assert scores == pytest.approx(np.log([[0.9 * 0.3, 0.1 * 0.7], [0.2 * 0.6, 0.8 * 0.4]]))
    with pytest.raises(ValueError, match="'jump up': its movement 'jump' never occurs"):
        compose_scores(lp, {"jump up": {"movement": "jump", "side": "left"}})


def test_composed_predictions_read_each_class_off_its_definition():
    truth = UNSEEN[3]                                   # lift right leg sideways
    atts = class_attributes(truth)
    assert atts == {"movement": "lift sideways", "part": "leg", "side": "right"}
    values = {k: sorted({class_attributes(c)[k] for c in UNSEEN}) for k in atts}
    lp = {k: (v, np.log(np.array([[0.9 if x == atts[k] else 0.1 for x in v]]))) for k, v in values.items()}
    assert composed_predictions(lp, UNSEEN) == [truth]


class _Batch(list):
    def to(self, device):
        return self


class _Reader:
    """A stand-in model whose answers are known: each attribute question gives the clip's true value
    +20 and "left" a bias of +30 on every clip (a prior that calibration must remove: without it,
    every clip would be "left"); the
    recognition question over the candidates gives the class AFTER the clip's own +1 (it names
    every clip wrong)."""

    device = "cpu"

    def __init__(self, candidates):
        self.candidates = list(candidates)

    def render(self, batch):
        return list(batch)

    def score_candidates(self, batch, prompt, options, frames):
        rows = []
        for label in frames:
            if options == self.candidates:
                row = [0.0] * len(options)
                if label in options:
                    row[(options.index(label) + 1) % len(options)] = 1.0
            else:
                key = next(k for k, (_, v) in _questions().items() if list(v) == list(options))
                truth = class_attributes(label)[key]
                row = [20.0 * (v == truth) + 30.0 * (v == "left") for v in options]
            rows.append(row)
        return torch.tensor(rows)


def _questions():
    vocab = attribute_vocab(SPLIT.seen)
    return {key: (q, vocab[key]) for q, key in ATTRIBUTE_QUESTIONS}


def test_three_readouts_of_one_model(monkeypatch):
    monkeypatch.setattr(E, "collate_sequences", lambda seqs, **kw: _Batch(seqs))
    clip = lambda label: SimpleNamespace(label=label, sequence=lambda topo: label)  # noqa: E731
    clips = [clip(c) for c in UNSEEN for _ in range(2)]
    reference = [clip(c) for c in SPLIT.seen]           # training clips of the seen classes
    out = E.zero_shot_readouts(_Reader(UNSEEN), clips, UNSEEN, SPLIT.seen, num_frames=8, reference=reference)
    assert list(out) == list(E.READOUTS)
    assert out["names"]["top1"] == 0.0                  # every clip named as the next class
    assert out["composed"]["top1"] == 1.0               # its attribute answers are right once "left" is calibrated
    assert out["names_and_composed"]["top1"] == 1.0     # names +1 against composed margins of about 20 each
    assert out["composed"]["per_class"][UNSEEN[0]] == {"top1": 1.0, "num_samples": 2}


class _Silent(_Reader):
    """The same answers, but it refuses the questions whose scores were passed in (``refused``)."""

    def __init__(self, candidates, refused):
        super().__init__(candidates)
        self.refused = [list(v) for v in refused]

    def score_candidates(self, batch, prompt, options, frames):
        assert list(options) not in self.refused, f"asked again: {options[:3]}..."
        return super().score_candidates(batch, prompt, options, frames)


def test_readouts_reuse_the_scores_already_computed(monkeypatch):
    monkeypatch.setattr(E, "collate_sequences", lambda seqs, **kw: _Batch(seqs))
    clip = lambda label: SimpleNamespace(label=label, sequence=lambda topo: label)  # noqa: E731
    clips = [clip(c) for c in UNSEEN for _ in range(2)]
    reference = [clip(c) for c in SPLIT.seen]
    own = E.zero_shot_readouts(_Reader(UNSEEN), clips, UNSEEN, SPLIT.seen, num_frames=8, reference=reference)
    scored = E.attribute_scores(_Reader(UNSEEN), {"unseen": clips}, SPLIT.seen, 8, reference=reference)
    names = torch.tensor([[1.0 * ((UNSEEN.index(c.label) + 1) % 5 == k) for k in range(5)] for c in clips])
    vocab = attribute_vocab(SPLIT.seen)
    everything = _Silent(UNSEEN, [UNSEEN, *vocab.values()])
    given = E.zero_shot_readouts(everything, clips, UNSEEN, SPLIT.seen, num_frames=8, reference=reference,
                                 names=names, attributes=scored["calibrated"]["unseen"])
    assert given == own
    # only the attributes given: the class names are still asked, of the clips and the reference
    partly = E.zero_shot_readouts(_Silent(UNSEEN, vocab.values()), clips, UNSEEN, SPLIT.seen, num_frames=8,
                                  reference=reference, attributes=scored["calibrated"]["unseen"])
    assert partly == own


def test_recorded_scores_come_back_in_the_clips_order(tmp_path):
    from skeletonllm.eval.mqa_engine import run_mqa_evaluation
    from skeletonllm.skeleton import SkeletonSequence, get_topology

    class Marker(torch.nn.Module):              # candidate k scores k * the clip's marker
        def score_candidates(self, batch, prompt, candidates):
            marks = batch.joints[:, 0, 0, 0, 0]
            return marks[:, None] * torch.arange(len(candidates), dtype=torch.float32)[None] - 1.0

    topo = get_topology("ntu25")
    clip = lambda k, source: SkeletonSequence(np.full((4, 1, topo.num_joints, 3), float(k), np.float32),  # noqa: E731
                                              np.ones((4, 1), bool), topo, label=UNSEEN[k % 3],
                                              metadata={"source": source})
    seqs = [clip(k, f"clip{k}") for k in range(5)]
    run_mqa_evaluation(Marker(), seqs, UNSEEN[:3], {"task": "recognition", "dataset": "toy", "split": "toy"},
                       tmp_path, mode="score", batch_size=2, num_frames=4, resume=False, progress=False)
    back = E.recorded_scores(tmp_path, seqs[::-1])
    assert back.numpy() == pytest.approx(np.array([[k * c - 1.0 for c in range(3)] for k in range(4, -1, -1)]))
    stranger = clip(0, "other")                  # never evaluated
    with pytest.raises(ValueError, match=r"predictions.jsonl: no scores for 1 of the 2 clips \(first: other"):
        E.recorded_scores(tmp_path, [seqs[0], stranger])


def test_draw_once_draws_each_batch_of_clips_once():
    from skeletonllm.skeleton import collate_sequences
    from skeletonllm.synth import SyntheticMotionSet

    class Counting:
        def __init__(self):
            self.drawn = 0

        def render(self, batch):
            self.drawn += 1
            return batch.joints.sum((2, 3)) * 2.0          # (B, F, 3): stands for frames

    clips = list(SyntheticMotionSet(num_per_class=2, seed=3, classes=UNSEEN[:2]))
    batch = lambda cs: collate_sequences([c.sequence("ntu25") for c in cs], num_frames=4, max_bodies=2)  # noqa: E731
    model = E.draw_once(Counting())
    first = model.render(batch(clips[:2]))
    again = model.render(batch(clips[:2]))            # the same clips collated again
    assert model.drawn == 1 and again is first
    other = model.render(batch(clips[2:]))
    assert model.drawn == 2 and not torch.equal(other, first)
    assert torch.equal(first, batch(clips[:2]).joints.sum((2, 3)) * 2.0)
