"""The MQA evaluation engine (:func:`run_mqa_evaluation`): a model answers the recognition
question over a list of candidates for every clip, in batches of one topology, by greedy
decoding or likelihood ranking; answers are matched to the candidates
(:mod:`~skeletonllm.eval.answers`), logged as they come (:mod:`~skeletonllm.eval.predictions`)
and scored (:mod:`~skeletonllm.eval.recognition_metrics`). Open-vocabulary recognition
(:mod:`skeletonllm.eval.recognition`) and cross-format transfer (:mod:`skeletonllm.eval.transfer`)
both run on it; only the result's task fields differ.

Files written to ``out_dir``::

    predictions.jsonl   header line (the settings), then one line per clip, appended batch by
                        batch and fsynced: a killed run resumes where it stopped
    features/*.npz      with ``tsne``: last-block hidden state per clip, one shard per batch
    confusion.png       rows true class, columns predicted (unseen classes)
    tsne.png            with ``tsne``: seen classes faint, unseen bold (paper Figure 10)
    results.json        the result in the schema of :mod:`skeletonllm.eval.report` (atomic)
"""
from __future__ import annotations

import os
import platform
import random
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from ..mllm import prompts as P
from ..skeleton.sequence import SkeletonSequence
from .answers import _answer_record, _score_record, _true_label
from .predictions import FeatureStore, PredictionLog
from .recognition_metrics import recognition_metrics
from .samples import EvalSample, as_samples, subsample

PREDICTIONS = "predictions.jsonl"
RESULTS = "results.json"
CONFUSION = "confusion.png"
TSNE = "tsne.png"
FEATURES = "features"


def _versions() -> dict:
    from importlib import metadata
    out = {"python": platform.python_version()}
    for pkg in ("skeletonllm", "torch", "transformers", "peft"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def _seed_everything(seed: int) -> None:
    import torch
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _batches(samples: Sequence[EvalSample], batch_size: int, transform) -> Iterator[list]:
    """Load samples in order; yield ``[(sample, sequence), ...]`` batches of one topology."""
    buffers: dict = {}
    for s in sorted(samples, key=lambda s: s.group):  # stable: dataset order within a format
        seq = s.load()
        if transform is not None:
            seq = transform(seq)
        buf = buffers.setdefault(seq.topology, [])
        buf.append((s, seq))
        if len(buf) >= batch_size:
            yield buf
            buffers[seq.topology] = []
    for buf in buffers.values():
        if buf:
            yield buf


def recognition_prompt(model, candidates: Sequence[str]) -> str:
    """The recognition question over ``candidates`` in the form ``model`` was trained on:
    ``model.recognition_prompt`` when it has one (SUGAR), else SkeletonLLM's MQA prompt."""
    own = getattr(model, "recognition_prompt", None)
    return own(list(candidates)) if own is not None else P.mqa_prompt(list(candidates))


def frames_for(model, num_frames: int | None) -> int:
    """``num_frames``, or the frame count the model was trained with (its config), or 12."""
    if num_frames is not None:
        return int(num_frames)
    return int(getattr(getattr(model, "config", None), "num_frames", 12))


def run_mqa_evaluation(model, data, candidates: Sequence[str], base: dict, out_dir: str | os.PathLike, *,
                       mode: str = "generate", batch_size: int = 8, num_frames: int | None = None, seed: int = 0,
                       resume: bool = True, tsne: bool = False, tsne_data=None, progress: bool = True,
                       class_names: Sequence[str] | None = None, label_map: dict | None = None,
                       transform: Callable[[SkeletonSequence], SkeletonSequence] | None = None,
                       transform_name: str | None = None, limit: int | None = None, max_new_tokens: int = P.RECOGNITION_MAX_NEW_TOKENS,
                       checkpoint: str | os.PathLike | None = None, settings: dict | None = None,
                       title: str | None = None, finish: Callable[[dict], None] | None = None,
                       reference: Sequence[SkeletonSequence] | None = None,
                       plain_out_dir: str | os.PathLike | None = None, plain_base: dict | None = None,
                       plain_title: str | None = None) -> dict:
    """Evaluate ``model`` by MQA over ``candidates`` on ``data``; write the files, return the result.

    Args:
        model: a :class:`~skeletonllm.mllm.model.SkeletonLLM` (or anything with its
            ``generate`` / ``score_candidates``; ``render`` and ``forward`` for ``tsne``).
        data: a SkeletonDataset, SkeletonSequence objects or :class:`EvalSample` objects;
            every clip's true class must be a candidate (after ``label_map``).
        candidates: the class names offered in the prompt, in prompt order.
        base: the result's task fields (``task``, ``dataset``, ``split`` or ``source``/``target`` ...).
        class_names: ``label_id`` -> class name (default: each sequence's ``label``).
        label_map: true class name -> candidate text, where the two vocabularies differ.
        transform: applied to every loaded sequence (e.g. :func:`~skeletonllm.eval.transfer.to_2d`).
        tsne_data: more clips (e.g. of the seen classes) whose hidden states join the t-SNE.
        limit: evaluate this many clips, spread evenly over ``data``.
        finish: called with the result before it is validated and saved (to add fields).
        reference: with ``mode="score"``, calibrate the ranking on these clips (training clips,
            never the evaluated ones; ``transform`` applies to them too): each candidate's score
            minus its log-likelihood averaged over them (:mod:`skeletonllm.eval.calibration`;
            the priors are in the result's ``settings["calibration"]``).
        plain_out_dir: with ``reference``, also the plain (uncalibrated) ranking's evaluation,
            written there from the same scores before the prior is taken off (no clip is scored
            twice); ``plain_base`` / ``plain_title`` its task fields and figure title (default
            ``base``, ``title`` + " (plain ranking)"). Its result is in that folder's
            ``results.json`` (:func:`~skeletonllm.eval.report.load_results`).
    """
    import torch
    from tqdm.auto import tqdm

    from .plots import plot_tsne

    if mode not in ("generate", "score"):
        raise ValueError(f"mode must be 'generate' or 'score', got {mode!r}")
    if reference is not None and mode != "score":
        raise ValueError("calibration (reference clips) applies to likelihood ranking only (mode='score')")
    if plain_out_dir is not None and reference is None:
        raise ValueError("plain_out_dir: the plain ranking beside a calibrated one needs reference clips")
    if tsne and not hasattr(model, "render"):
        raise ValueError(f"t-SNE of the language model's hidden states needs a SkeletonLLM; this is a {type(model).__name__}")
    num_frames = frames_for(model, num_frames)
    if batch_size < 1 or num_frames < 1:
        raise ValueError("batch_size and num_frames must be at least 1")
    candidates = list(candidates)
    by_norm = {P.normalize_label(c): c for c in candidates}
    if len(by_norm) != len(candidates):
        raise ValueError(f"candidates must be distinct after lower-casing: {candidates}")
    label_map = dict(label_map or {})
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    samples = subsample(as_samples(data), limit)
    if not samples:
        raise ValueError("no clips to evaluate (is the data folder empty, or are none of its clips in the split?)")
    ids = [s.id for s in samples]
    if len(set(ids)) != len(ids):
        raise ValueError("sample ids are not unique")
    extra = subsample(as_samples(tsne_data), limit) if (tsne and tsne_data is not None) else []
    id_set = set(ids)
    extra = [s for s in extra if s.id not in id_set]

    prompt = recognition_prompt(model, candidates)
    if "method" not in base and getattr(model, "report_name", None):
        base = {**base, "method": model.report_name}
    checkpoint = None if checkpoint is None else str(checkpoint)
    header = {"mode": mode, "candidates": candidates, "num_frames": num_frames, "label_map": label_map,
              "transform": transform_name, "checkpoint": checkpoint, "prompt": prompt}
    if mode == "generate":
        header["max_new_tokens"] = max_new_tokens
    prior = None
    if reference is not None:
        from .calibration import candidate_prior
        reference = [transform(r) for r in reference] if transform is not None else list(reference)
        prior = candidate_prior(model, reference, prompt, candidates, num_frames, batch_size)
        header["calibration"] = {"reference_clips": len(reference)}
    log = PredictionLog(out_dir / PREDICTIONS, header, resume=resume)
    plain_log = None
    if plain_out_dir is not None:
        plain_out_dir = Path(plain_out_dir)
        plain_out_dir.mkdir(parents=True, exist_ok=True)
        plain_header = {k: v for k, v in header.items() if k != "calibration"}
        plain_log = PredictionLog(plain_out_dir / PREDICTIONS, plain_header, resume=resume)
    features = FeatureStore(out_dir / FEATURES, resume=resume) if tsne else None

    need_pred = {s.id for s in samples if s.id not in log.records
                 or (plain_log is not None and s.id not in plain_log.records)}
    need_feat = set()
    if features is not None:
        need_feat = {s.id for s in samples + extra if s.id not in features.done}
    pending = [s for s in samples + extra if s.id in need_pred or s.id in need_feat]
    role = {s.id: "eval" for s in samples} | {s.id: "extra" for s in extra}

    _seed_everything(seed)
    was_training = getattr(model, "training", False)
    model.eval()
    bar = tqdm(total=len(pending), disable=not progress, desc=f"{base.get('task', 'eval')} ({mode})", unit="clip")
    try:
        with torch.no_grad():
            for chunk in _batches(pending, batch_size, transform):
                _evaluate_batch(model, chunk, prompt, candidates, mode, num_frames, max_new_tokens, need_pred,
                                need_feat, log, features, role, class_names, label_map, by_norm, prior, plain_log)
                bar.update(len(chunk))
    finally:
        bar.close()
        model.train(was_training)

    title = title or f"{base.get('dataset', '')} {mode}".strip()
    notes, files = [], {}
    if features is not None:
        tsne_file = _plot_features(features, id_set | {s.id for s in extra}, candidates, out_dir / TSNE,
                                   seed, plot_tsne, title)
        if tsne_file:
            files = {"tsne": TSNE, "features": FEATURES}
        else:
            notes.append("t-SNE skipped: it needs at least 3 clips")

    cfg = getattr(model, "config", None)
    run_settings = {
        "checkpoint": checkpoint, "model": type(model).__name__, "backbone": getattr(cfg, "backbone", None),
        "renderer": getattr(cfg, "renderer", None), "image_size": getattr(cfg, "image_size", None),
        "mode": mode, "num_frames": num_frames, "batch_size": batch_size,
        "max_new_tokens": max_new_tokens if mode == "generate" else None,
        "decoding": "greedy" if mode == "generate" else
                    "likelihood ranking" + (f", calibrated on {len(reference)} reference clips" if prior is not None else ""),
        "matching": "strict: last 'Label:' line, lower-case/strip, exact (top1); lenient: top1_fuzzy",
        "candidates": candidates, "label_map": label_map or None, "transform": transform_name,
        "limit": limit, "tsne": tsne, "device": str(getattr(model, "device", "cpu")), "out_dir": str(out_dir),
        "calibration": None if prior is None else {
            "reference_clips": len(reference), "prior": {c: round(float(v), 4) for c, v in zip(candidates, prior)}},
        "versions": _versions(), **(settings or {}),
    }
    if plain_log is not None:
        _write_result(plain_out_dir, [plain_log.records[i] for i in ids], candidates, plain_base or base,
                      {**run_settings, "decoding": "likelihood ranking", "calibration": None,
                       "out_dir": str(plain_out_dir)}, seed, plain_title or f"{title} (plain ranking)", {}, [], finish)
    return _write_result(out_dir, [log.records[i] for i in ids], candidates, base, run_settings, seed, title,
                         files, notes, finish)


def _write_result(out_dir: Path, records: list[dict], candidates: list[str], base: dict, run_settings: dict,
                  seed: int, title: str | None, files: dict, notes: list[str], finish) -> dict:
    """Score ``records``, draw the confusion matrix and save ``results.json`` in ``out_dir``."""
    from .plots import plot_confusion_matrix
    from .report import save_result

    metrics = recognition_metrics(records, candidates)
    plot_confusion_matrix(metrics["confusion"], candidates, out_dir / CONFUSION, title=title)
    files = {"predictions": PREDICTIONS, "confusion": CONFUSION, **files}
    if "top5" in metrics:
        base = {**base, "top5": metrics["top5"]}
    result = {**base, "top1": metrics["top1"], "num_samples": metrics["num_samples"],
              "unmatched": metrics["unmatched"], "top1_fuzzy": metrics["top1_fuzzy"],
              "unmatched_fuzzy": metrics["unmatched_fuzzy"], "per_class": metrics["per_class"],
              "settings": run_settings, "seed": seed,
              "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "files": files}
    if notes:
        result["notes"] = notes
    if finish is not None:
        finish(result)
    save_result(out_dir / RESULTS, result)
    return result


def _evaluate_batch(model, chunk, prompt, candidates, mode, num_frames, max_new_tokens, need_pred, need_feat,
                    log, features, role, class_names, label_map, by_norm, prior=None, plain_log=None) -> None:
    from ..skeleton.batch import collate_sequences

    seqs = [seq for _, seq in chunk]
    sids = [s.id for s, _ in chunk]
    labels = [_true_label(seq, sid, class_names, label_map, by_norm, role[sid] == "eval")
              for sid, seq in zip(sids, seqs)]
    batch = collate_sequences(seqs, num_frames=num_frames, train=False, max_bodies=2)
    pred_rows = [i for i, sid in enumerate(sids) if sid in need_pred]
    feat_rows = [i for i, sid in enumerate(sids) if sid in need_feat]
    # Render once when both the answer and the hidden state are needed.
    frames = model.render(batch) if feat_rows else None

    def rows(sel):
        if len(sel) == len(seqs):
            return batch, frames
        sub = collate_sequences([seqs[i] for i in sel], num_frames=num_frames, train=False, max_bodies=2)
        return sub, None if frames is None else frames[sel]

    if pred_rows:
        sub, f = rows(pred_rows)
        kw = {} if f is None else {"frames": f}
        if mode == "generate":
            texts = model.generate(sub, prompt, max_new_tokens=max_new_tokens, **kw)
            answers = [_answer_record(t, candidates) for t in texts]
        else:
            scores = model.score_candidates(sub, prompt, candidates, **kw)
            if plain_log is not None:
                plain_log.append(_records(pred_rows, [_score_record(row, candidates)
                                                      for row in scores.float().cpu().tolist()], seqs, sids, labels))
            if prior is not None:
                from .calibration import calibrate
                scores = calibrate(scores, prior)
            answers = [_score_record(row, candidates) for row in scores.float().cpu().tolist()]
        log.append(_records(pred_rows, answers, seqs, sids, labels))
    if feat_rows:
        _, f = rows(feat_rows)
        out = model(None, [prompt] * len(feat_rows), frames=f, output_hidden_states=True)
        # Prompts are left-padded: the last position is every row's final prompt token, the
        # state the answer is generated from (paper B.6: last decoder block, before the norm).
        feats = out.hidden_states[:, -1].float().cpu().numpy()
        features.add([sids[i] for i in feat_rows], [labels[i] for i in feat_rows],
                     [role[sids[i]] for i in feat_rows], feats)


def _records(rows, answers, seqs, sids, labels) -> list[dict]:
    """One prediction record per evaluated row: the clip's id, true label, answer and source."""
    records = []
    for i, ans in zip(rows, answers):
        meta = seqs[i].metadata
        rec = {"id": sids[i], "label": labels[i], **ans, "source": meta.get("source")}
        if meta.get("frame_range") is not None:
            rec["frame_range"] = [int(v) for v in meta["frame_range"]]
        records.append(rec)
    return records


def _plot_features(store: FeatureStore, wanted: set, candidates, path, seed, plot_tsne, title) -> bool:
    keep = [k for k, sid in enumerate(store.ids) if sid in wanted]
    if len(keep) < 3:
        return False
    labels = [store.labels[k] for k in keep]
    # Candidates (the evaluated, unseen classes) first, then any other class met among the extra clips.
    names = list(candidates) + sorted({l for l in labels if l not in candidates})
    index = {n: i for i, n in enumerate(names)}
    plot_tsne(np.stack([store.feats[k] for k in keep]), [index[l] for l in labels], names,
              unseen=range(len(candidates)), path=path, seed=seed,
              title=(title + " (t-SNE)") if title else "t-SNE of the last hidden state")
    return True


