"""Everything the demo measures, on held-out clips only (never trained on).

* recognition: MQA over the candidate list, by likelihood ranking of every ``Label: <class>``
  and by greedy decoding (the paper's protocol), with the project's engine
  (:func:`skeletonllm.eval.recognition.run_mqa_evaluation`: predictions log, confusion matrix,
  results file in the schema of :mod:`skeletonllm.eval.report`);
* cross-format transfer: the same held-out motions emitted as SMPL-22, Kinect v1-20 and
  COCO-17 (2D) skeletons, no fine-tuning;
* captioning: greedy captions against the clips' reference captions (BLEU, ROUGE-L, CIDEr-D);
* QA: each clip's four questions (temporal, causal, fine-grained, contrastive) as 4-option
  multiple choice, answered by likelihood ranking of ``Label: <option>`` as trained;
* the head start's attribute probes: movement / side / body part as multiple choice;
* how the answers spread over the candidates (a collapsed model answers one class for all),
  and top-1 per kind of class (depth / speed / depth order / other).
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ..mllm import prompts as P
from ..skeleton import collate_sequences

#: The formats the unseen clips are transferred to (the demo trains on NTU-25 only), and the
#: display names of every format the demo emits.
TRANSFER_FORMATS = (("smpl22", "SMPL-22"), ("kinect_v1_20", "Kinect v1-20"), ("coco17", "COCO-17 (2D)"))
TOPOLOGY_NAMES = {"ntu25": "NTU-25", **dict(TRANSFER_FORMATS)}


#: Training clips per seen class that calibrate the likelihood ranking (:func:`reference_clips`).
REFERENCE_PER_CLASS = 4
#: The demo's reference clips in its output directory (for ``recognize --reference``).
REFERENCE_FILE = "reference.npz"


def reference_clips(train, per_class: int = REFERENCE_PER_CLASS) -> list:
    """The calibration's reference clips (:mod:`skeletonllm.eval.calibration`): the first
    ``per_class`` clips of every class in ``train`` (training clips; never a held-out one)."""
    taken: dict[str, int] = {}
    out = []
    for s in train:
        if taken.get(s.label, 0) < per_class:
            taken[s.label] = taken.get(s.label, 0) + 1
            out.append(s)
    return out


def draw_once(model):
    """``model`` with its ``render`` drawing each distinct batch of clips once, returned. An
    evaluation asks the same clips many questions (the rankings, the attribute questions and the
    reference clips of both, in the same batches), and a model in eval mode draws the same frames
    for the same clips every time, so the frames are kept (keyed by the batch's joints, presence
    and orientations; about 75 kB per clip at 28 px and 8 frames). For a model that is only
    evaluated: nothing it draws must be trained through."""
    import hashlib

    draw, drawn = model.render, {}

    def render(batch):
        key = hashlib.sha1(str(tuple(batch.joints.shape)).encode())
        for t in (batch.joints, batch.present, batch.orientations):
            if t is not None:
                key.update(t.detach().cpu().numpy().tobytes())
        key = key.hexdigest()
        if key not in drawn:
            drawn[key] = draw(batch)
        return drawn[key]

    model.render = render
    return model


def recognition(model, sequences, candidates: Sequence[str], out_dir: str | Path, *, mode: str, task: str = "recognition",
                split: str | None = None, dataset: str, method: str, seed: int, batch_size: int = 16,
                max_new_tokens: int = 16, extra: dict | None = None, progress: bool = True,
                reference: Sequence | None = None, plain_dir: str | Path | None = None) -> dict:
    """MQA over ``candidates`` on ``sequences`` (their ``label`` is the truth); the result dict.

    ``task="transfer"`` needs ``extra={"source": ..., "target": ..., "source_format": ...}``.
    ``reference``: training clips (synthetic samples) that calibrate the ranking (``mode="score"``);
    with ``plain_dir`` the plain ranking is evaluated there too, from the same scores (method
    ``"<method>, plain likelihood ranking"``): ``{**calibrated result, "plain": plain result}``.
    """
    from ..eval.recognition import run_mqa_evaluation
    from ..eval.report import load_results

    base = {"task": task, "dataset": dataset, "method": method, **(extra or {})}
    if task == "recognition":
        base["split"] = split
    ref = None if reference is None else [s.sequence("ntu25") for s in reference]
    how = mode if ref is None else "score, calibrated"
    plain_base = None if plain_dir is None else {**base, "method": f"{method}, plain likelihood ranking"}
    res = run_mqa_evaluation(model, list(sequences), list(candidates), base, out_dir, mode=mode,
                             batch_size=batch_size, seed=seed, resume=False, progress=progress,
                             max_new_tokens=max_new_tokens, title=f"{dataset}: {method} ({how})", reference=ref,
                             plain_out_dir=plain_dir, plain_base=plain_base,
                             plain_title=f"{dataset}: {method}, plain likelihood ranking ({mode})")
    return res if plain_dir is None else {**res, "plain": load_results(Path(plain_dir) / "results.json")[0]}


def _prediction_lines(out_dir: str | Path) -> list[dict]:
    """Every line of an evaluation's ``predictions.jsonl`` (:func:`recognition`), parsed: the header,
    then one record per clip."""
    import json

    text = (Path(out_dir) / "predictions.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def answer_spread(out_dir: str | Path) -> dict:
    """How an evaluation's answers spread over the candidates (its ``predictions.jsonl``):
    ``{"distinct": classes answered at least once, "candidates": how many there were,
    "most_common": the most frequent answer, "most_common_share": its share of the clips}``.
    A model that answers one class for every clip has collapsed, whatever its top-1."""
    import collections

    lines = _prediction_lines(out_dir)
    header = next(x["header"] for x in lines if "header" in x)
    answers = collections.Counter(x["prediction"] for x in lines if "prediction" in x)
    top, count = answers.most_common(1)[0] if answers else (None, 0)
    return {"distinct": len([a for a in answers if a is not None]), "candidates": len(header["candidates"]),
            "most_common": top, "most_common_share": count / max(1, sum(answers.values()))}


#: The kinds :func:`kind_accuracy` reports: the depiction classes' three, and all others.
KINDS = ("depth", "speed", "order", "other")


def kind_accuracy(per_class: dict) -> dict:
    """Top-1 pooled over the classes of each kind (``synth.DEPICTION_CLASSES``: ``depth``,
    ``speed``, ``order``; ``other``: every other class): ``{kind: {"top1", "num_samples"}}``,
    kinds with no clip left out. ``per_class``: a recognition result's ``{class: {"top1",
    "num_samples"}}``."""
    from ..synth import depiction_kind

    hits, counts = {}, {}
    for name, r in per_class.items():
        kind = depiction_kind(name) or "other"
        hits[kind] = hits.get(kind, 0.0) + r["top1"] * r["num_samples"]
        counts[kind] = counts.get(kind, 0) + r["num_samples"]
    return {k: {"top1": hits[k] / counts[k], "num_samples": counts[k]} for k in KINDS if counts.get(k)}


@torch.no_grad()
def captions(model, samples, num_frames: int, max_new_tokens: int = 40, batch_size: int = 16) -> dict[int, str]:
    """Greedy captions ``{sample index: text}`` of synthetic samples (NTU-25)."""
    out = {}
    for lo in range(0, len(samples), batch_size):
        chunk = samples[lo:lo + batch_size]
        batch = collate_sequences([s.sequence("ntu25") for s in chunk], num_frames=num_frames, max_bodies=2)
        for s, text in zip(chunk, model.generate(batch, P.caption_prompt(), max_new_tokens=max_new_tokens)):
            out[s.index] = text
    return out


def caption_scores(predictions: dict[int, str], samples) -> dict:
    """BLEU@1-4, ROUGE-L, CIDEr-D (and BertScore: not computed offline) against the references."""
    from ..eval.captioning import captioning_metrics_all

    refs = {s.index: list(s.captions) for s in samples}
    return captioning_metrics_all(predictions, {k: refs[k] for k in predictions}, bertscore=None)


@torch.no_grad()
def qa_answers(model, samples, num_frames: int, batch_size: int = 16) -> tuple[list, dict[str, str]]:
    """Each sample's QA items as :class:`skeletonllm.eval.qa.QAItem` and the model's answers.

    Frames are rendered and encoded once per clip; each question's options are ranked by the
    likelihood of ``Label: <option>`` (the stage-3 QA target format).
    """
    from ..eval.qa import QAItem

    items, answers = [], {}
    for lo in range(0, len(samples), batch_size):
        chunk = samples[lo:lo + batch_size]
        batch = collate_sequences([s.sequence("ntu25") for s in chunk], num_frames=num_frames, max_bodies=2)
        frames = model.render(batch.to(model.device))
        for b, s in enumerate(chunk):
            for q in s.qa:
                qid = f"{s.index}:{q.type}"
                scores = model.score_candidates(None, P.qa_prompt(q.question, q.options), q.options,
                                                frames=frames[b:b + 1])
                pick = q.options[int(scores[0].argmax())]
                items.append(QAItem(id=qid, sample=str(s.index), question=q.question, type=q.type,
                                    options=list(q.options), answer=q.answer))
                answers[qid] = P.mqa_target(pick)
    return items, answers


def qa_scores(model, samples, num_frames: int) -> dict:
    """``qa_metrics`` of the model's multiple-choice answers (per type and overall)."""
    from ..eval.qa import qa_metrics

    items, answers = qa_answers(model, samples, num_frames)
    return qa_metrics(items, answers)


def _question_scores(model, samples, prompts: Sequence[tuple[str, list[str]]], num_frames: int,
                     batch_size: int) -> list[torch.Tensor]:
    """Per ``(prompt, options)``, the ``(N, options)`` log-likelihoods of the options on ``samples``,
    each clip rendered and encoded once for all the questions."""
    out = [[] for _ in prompts]
    for lo in range(0, len(samples), batch_size):
        chunk = samples[lo:lo + batch_size]
        batch = collate_sequences([s.sequence("ntu25") for s in chunk], num_frames=num_frames, max_bodies=2)
        frames = model.render(batch.to(model.device))
        for k, (prompt, options) in enumerate(prompts):
            out[k].append(model.score_candidates(None, prompt, options, frames=frames).float().cpu())
    return [torch.cat(rows) for rows in out]


@torch.no_grad()
def attribute_scores(model, groups: dict[str, Sequence], seen: Sequence[str], num_frames: int,
                     batch_size: int = 16, reference: Sequence | None = None) -> dict:
    """The head start's attribute questions (movement, side, part; all options offered) scored on
    each group of clips: ``{"options": {attribute: values}, "plain": {group: {attribute: (N, V)}},
    "calibrated": {...}}``, log-likelihoods of each option; ``"calibrated"`` only with ``reference``
    (training clips; :mod:`skeletonllm.eval.calibration`: each option's log-likelihood minus its
    mean over them). Each clip is drawn once for the three questions."""
    from ..eval.calibration import calibrate, log_mean_likelihood
    from .pretrain_targets import ATTRIBUTE_QUESTIONS, attribute_vocab

    vocab = attribute_vocab(seen)
    keys = [key for _, key in ATTRIBUTE_QUESTIONS]
    prompts = [(P.qa_prompt(question, vocab[key]), vocab[key]) for question, key in ATTRIBUTE_QUESTIONS]
    out = {"options": {key: list(vocab[key]) for key in keys}, "plain": {}}
    priors = None
    if reference is not None:
        priors = [log_mean_likelihood(r) for r in _question_scores(model, list(reference), prompts, num_frames,
                                                                   batch_size)]
        out["calibrated"] = {}
    for name, samples in groups.items():
        scores = _question_scores(model, list(samples), prompts, num_frames, batch_size)
        out["plain"][name] = dict(zip(keys, scores))
        if priors is not None:
            out["calibrated"][name] = {key: calibrate(sc, pr) for key, sc, pr in zip(keys, scores, priors)}
    return out


def attribute_accuracies(scores: dict, groups: dict[str, Sequence]) -> dict:
    """:func:`attribute_scores` -> ``{"plain": {group: accuracies}, "calibrated": ...}``, accuracies
    ``{"movement": acc, ...}`` plus the chance levels (one over the options offered)."""
    from .pretrain_targets import attributes

    out = {}
    for kind in ("plain", "calibrated"):
        if kind not in scores:
            continue
        out[kind] = {}
        for name, samples in groups.items():
            acc = {}
            for key, options in scores["options"].items():
                rows = scores[kind][name][key]
                acc[key] = float(np.mean([options[int(row.argmax())] == getattr(attributes(s), key)
                                          for s, row in zip(samples, rows)]))
                acc[f"{key}_chance"] = 1.0 / len(options)
            out[kind][name] = acc
    return out


def attribute_answers(model, groups: dict[str, Sequence], seen: Sequence[str], num_frames: int,
                      batch_size: int = 16, reference: Sequence | None = None) -> dict:
    """The head start's attribute questions answered on each group of clips (:func:`attribute_scores`,
    :func:`attribute_accuracies`): ``{"plain": {group: accuracies}, "calibrated": {group: accuracies}}``,
    the latter only with ``reference``. Both come from the same scores; each clip is drawn once."""
    groups = {name: list(samples) for name, samples in groups.items()}
    return attribute_accuracies(attribute_scores(model, groups, seen, num_frames, batch_size, reference), groups)


def recorded_scores(out_dir: str | Path, sequences) -> torch.Tensor:
    """``(N, C)``: the candidate scores an evaluation by likelihood ranking (:func:`recognition`,
    ``mode="score"``) wrote to its ``predictions.jsonl`` for each of ``sequences`` (calibrated when
    it was), in their order, so that what was scored once is not scored again."""
    from ..eval.samples import samples_from_sequences

    path = Path(out_dir) / "predictions.jsonl"
    records = {rec["id"]: rec for rec in _prediction_lines(out_dir) if "id" in rec}
    ids = [s.id for s in samples_from_sequences(sequences)]
    missing = [i for i in ids if i not in records or "scores" not in records[i]]
    if missing:
        raise ValueError(f"{path}: no scores for {len(missing)} of the {len(ids)} clips (first: {missing[0]}); "
                         "was it an evaluation by likelihood ranking of these clips?")
    return torch.tensor([records[i]["scores"] for i in ids], dtype=torch.float32)


#: The readouts of :func:`zero_shot_readouts`, in the order the report shows them.
READOUTS = ("names", "composed", "names_and_composed")


@torch.no_grad()
def zero_shot_readouts(model, samples, candidates: Sequence[str], seen: Sequence[str], num_frames: int,
                       reference: Sequence, batch_size: int = 16, *, names: torch.Tensor | None = None,
                       attributes: dict | None = None) -> dict:
    """Three ways for one model to name each clip among ``candidates``, all calibrated on the
    ``reference`` clips (:mod:`skeletonllm.eval.calibration`) and drawn from one rendering per clip:

    * ``names``: the recognition question, each class name's likelihood (the demo's ranking);
    * ``composed``: the three attribute questions (all options offered), each normalised over its
      options and composed into the candidates (:mod:`skeletonllm.demo.composition`), the rule
      the pixel probe composes its regressions by;
    * ``names_and_composed``: the sum of the two, each a log-probability over its options: a clip's
      class must both be named and have its movement, part and side read.

    Scores already computed on these clips with this reference are passed in, not computed again:
    ``names`` ``(N, C)`` the calibrated ranking of ``candidates`` (:func:`recorded_scores` of a
    calibrated :func:`recognition`), ``attributes`` ``{attribute: (N, V)}`` the calibrated scores of
    :func:`attribute_scores` (``scores["calibrated"][group]``, options as it offers them).

    ``{readout: {"top1", "per_class": {class: {"top1", "num_samples"}}}}``."""
    from ..eval.calibration import calibrate, log_mean_likelihood
    from ..eval.mqa_engine import recognition_prompt
    from .composition import class_attributes, compose_scores
    from .pretrain_targets import ATTRIBUTE_QUESTIONS, attribute_vocab

    vocab, candidates, samples = attribute_vocab(seen), list(candidates), list(samples)
    asked = {key: (P.qa_prompt(question, vocab[key]), vocab[key]) for question, key in ATTRIBUTE_QUESTIONS}
    asked["names"] = (recognition_prompt(model, candidates), candidates)
    given = {**(attributes or {}), **({} if names is None else {"names": names})}
    missing = [key for key in asked if key not in given]
    if missing:
        prompts = [asked[key] for key in missing]
        priors = [log_mean_likelihood(r) for r in _question_scores(model, list(reference), prompts, num_frames,
                                                                   batch_size)]
        rows = _question_scores(model, samples, prompts, num_frames, batch_size)
        given.update({key: calibrate(sc, pr) for key, sc, pr in zip(missing, rows, priors)})
    log_probs = {key: torch.log_softmax(given[key].float(), -1).numpy() for key in asked}
    composed = compose_scores({key: (list(vocab[key]), log_probs[key]) for _, key in ATTRIBUTE_QUESTIONS},
                              {c: class_attributes(c) for c in candidates})
    labels = [s.label for s in samples]
    return {name: _named(sc, candidates, labels)
            for name, sc in zip(READOUTS, (log_probs["names"], composed, log_probs["names"] + composed))}


def _named(scores: np.ndarray, candidates: Sequence[str], labels: Sequence[str]) -> dict:
    """``{"top1", "per_class"}`` of the best-scoring candidate of each row of ``scores`` ``(N, C)``."""
    from ..eval.recognition_metrics import top1_by_class

    top1, per_class = top1_by_class([candidates[i] for i in scores.argmax(1)], labels, candidates)
    return {"top1": top1, "per_class": per_class}


@torch.no_grad()
def attribute_answers_offering(model, samples, seen: Sequence[str], num_frames: int, offered: int, seed: int = 0,
                               batch_size: int = 16) -> dict:
    """The attribute questions asked as the head start learns them (:func:`~skeletonllm.demo.pretrain_targets.
    language_items`): each offers the clip's value and ``offered - 1`` other values, drawn anew per clip
    and question (``seed``), ranked by plain likelihood. ``{"movement": acc, ...}`` plus the chance levels
    (``1 / options``, averaged over the questions asked)."""
    from .pretrain_targets import ATTRIBUTE_QUESTIONS, attribute_vocab, attributes, offer

    vocab, rng = attribute_vocab(seen), np.random.default_rng(seed)
    hits = {key: [] for _, key in ATTRIBUTE_QUESTIONS}
    chance = {key: [] for _, key in ATTRIBUTE_QUESTIONS}
    for lo in range(0, len(samples), batch_size):
        chunk = list(samples[lo:lo + batch_size])
        batch = collate_sequences([s.sequence("ntu25") for s in chunk], num_frames=num_frames, max_bodies=2)
        frames = model.render(batch.to(model.device))
        for b, s in enumerate(chunk):
            for question, key in ATTRIBUTE_QUESTIONS:
                truth = getattr(attributes(s), key)
                options = offer(truth, vocab[key], offered, rng)
                scores = model.score_candidates(None, P.qa_prompt(question, options), options, frames=frames[b:b + 1])
                hits[key].append(options[int(scores[0].argmax())] == truth)
                chance[key].append(1.0 / len(options))
    out = {key: float(np.mean(v)) for key, v in hits.items()}
    return {**out, **{f"{key}_chance": float(np.mean(v)) for key, v in chance.items()}}


def attribute_probes(model, samples, seen: Sequence[str], num_frames: int, batch_size: int = 16,
                     reference: Sequence | None = None) -> dict:
    """:func:`attribute_answers` on one group of clips: ``{"movement": acc, "side": acc, "part":
    acc}`` plus the chance levels, calibrated when ``reference`` is given."""
    res = attribute_answers(model, {"clips": samples}, seen, num_frames, batch_size, reference)
    return res["calibrated" if reference is not None else "plain"]["clips"]


__all__ = ["KINDS", "READOUTS", "REFERENCE_FILE", "REFERENCE_PER_CLASS", "answer_spread", "attribute_accuracies",
           "attribute_answers", "attribute_answers_offering", "attribute_probes", "attribute_scores", "caption_scores",
           "captions", "draw_once", "kind_accuracy", "qa_answers", "qa_scores", "recognition", "recorded_scores",
           "reference_clips", "zero_shot_readouts"]
