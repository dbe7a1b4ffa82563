"""Open-vocabulary recognition: a trained model answers MQA over a split's unseen classes (SPEC §6).

Protocol (the paper's): for every clip of the unseen classes, render it, ask the MQA prompt
listing the candidate actions (:func:`~skeletonllm.mllm.prompts.mqa_prompt`), decode
greedily, read the last ``Label:`` line, lower-case/strip it and count it correct when it
equals the true class name exactly (:func:`~skeletonllm.mllm.prompts.parse_label` with
``fuzzy=False``). Reported beside it, never instead of it: the accuracy when answers are
matched leniently (``top1_fuzzy``: punctuation, quotes, near-typos) and the number of
answers that matched no candidate. ``mode="score"`` replaces decoding by likelihood
ranking of every ``Label: <candidate>`` answer (:meth:`SkeletonLLM.score_candidates`): the
prediction is always a candidate.

Files written to ``out_dir``::

    predictions.jsonl   header line (the settings), then one line per clip, appended batch by
                        batch and fsynced: a killed run resumes where it stopped
    features/*.npz      with ``tsne``: last-block hidden state per clip, one shard per batch
    confusion.png       rows true class, columns predicted (unseen classes)
    tsne.png            with ``tsne``: seen classes faint, unseen bold (paper Figure 10)
    results.json        the result in the schema of :mod:`skeletonllm.eval.report` (atomic)

The engine (:func:`run_mqa_evaluation`) also serves cross-format transfer
(:mod:`skeletonllm.eval.transfer`); only the result's task fields differ.
"""
from __future__ import annotations

import json
import os
import platform
import random
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np

from ..atomic import atomic_write_bytes, atomic_write_text
from ..errors import ConfigError, SkeletonFormatError
from ..mllm import prompts as P
from ..skeleton.sequence import SkeletonSequence

#: Display names of datasets, as the report and the paper write them.
DATASET_NAMES = {"ntu60": "NTU-60", "ntu120": "NTU-120", "pku_mmd": "PKU-MMD", "nw_ucla": "NW-UCLA",
                 "humanml3d": "HumanML3D"}

PREDICTIONS = "predictions.jsonl"
RESULTS = "results.json"
CONFUSION = "confusion.png"
TSNE = "tsne.png"
FEATURES = "features"


# -- samples ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EvalSample:
    """One clip to evaluate: a stable ``id`` (the resume key) and how to load it.

    ``group`` orders loading (clips of one format come together, so batches of one
    topology fill up); batches are formed by the loaded sequence's topology.
    """

    id: str
    load: Callable[[], SkeletonSequence]
    group: str = ""


def samples_from_dataset(dataset) -> list[EvalSample]:
    """Samples of a :class:`~skeletonllm.skeleton.dataset.SkeletonDataset`, loaded lazily.

    Ids are the file's path below the dataset root, plus ``#<k>`` for the k-th clip of a
    multi-clip file (PKU-MMD recordings, PYSKL pickles).
    """
    root = dataset.root if dataset.root.is_dir() else dataset.root.parent
    out = []
    for i, item in enumerate(dataset.items):
        try:
            rel = item.path.relative_to(root).as_posix()
        except ValueError:
            rel = item.path.as_posix()
        sid = f"{rel}#{item.index}" if item.format in ("pku_mmd", "pyskl") else rel
        out.append(EvalSample(sid, (lambda i=i: dataset[i]), item.format))
    return out


def samples_from_sequences(sequences: Iterable[SkeletonSequence]) -> list[EvalSample]:
    """Samples of in-memory sequences; ids from :func:`skeletonllm.train.tasks.sample_id`
    (file stem, clip range), or the position when a sequence has no source."""
    from ..train.tasks import sample_id

    out, seen = [], set()
    for k, seq in enumerate(sequences):
        try:
            sid = sample_id(seq)
        except ValueError:
            sid = f"sample{k}"
        if sid in seen:
            sid = f"{sid}@{k}"
        seen.add(sid)
        out.append(EvalSample(sid, (lambda s=seq: s), seq.topology.name))
    return out


def as_samples(data) -> list[EvalSample]:
    """A dataset, a list of sequences or a list of :class:`EvalSample` -> samples."""
    if hasattr(data, "items") and hasattr(data, "root"):
        return samples_from_dataset(data)
    data = list(data)
    if all(isinstance(d, EvalSample) for d in data):
        return data
    if all(isinstance(d, SkeletonSequence) for d in data):
        return samples_from_sequences(data)
    raise TypeError("data must be a SkeletonDataset, SkeletonSequence objects or EvalSample objects")


def subsample(samples: Sequence[EvalSample], limit: int | None) -> list[EvalSample]:
    """``limit`` samples spread evenly over the list (deterministic, covers every part of a
    sorted dataset rather than its first classes only); all when ``limit`` is None."""
    samples = list(samples)
    if limit is None or limit >= len(samples):
        return samples
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    idx = np.unique(np.linspace(0, len(samples) - 1, limit).round().astype(int))
    return [samples[i] for i in idx]


# -- the predictions log (resumable) ----------------------------------------------------------
class PredictionLog:
    """``predictions.jsonl``: a header line with the run's settings, then one record per clip.

    Records are appended and fsynced batch by batch. Reopening checks that the header
    matches the current settings (a different candidate list or mode must not mix with
    old answers) and drops a torn last line left by a killed process.
    """

    def __init__(self, path: str | os.PathLike, header: dict, resume: bool = True):
        self.path = Path(path)
        self.header = header
        self.records: dict[str, dict] = {}
        if resume and self.path.is_file():
            self._reopen()
        else:
            atomic_write_text(self.path, json.dumps({"header": header}) + "\n")

    def _reopen(self) -> None:
        lines = self.path.read_text(encoding="utf-8").splitlines()
        parsed = []
        for n, line in enumerate(lines):
            if not line.strip():
                continue
            try:
                parsed.append(json.loads(line))
            except json.JSONDecodeError:
                if n == len(lines) - 1:
                    break  # torn last line of a killed run: that batch is evaluated again
                raise ConfigError(self.path, f"line {n + 1}", "not valid JSON (the file is damaged; "
                                  "delete it or evaluate with resume off)") from None
        if not parsed or "header" not in parsed[0]:
            raise ConfigError(self.path, "header", "first line is not a header; delete the file or turn resume off")
        old = parsed[0]["header"]
        for key, value in self.header.items():
            if old.get(key) != value:
                raise ConfigError(self.path, f"header.{key}",
                                  f"was {old.get(key)!r}, this run has {value!r}: these predictions belong to "
                                  "another evaluation; use another output folder or turn resume off (--no-resume)")
        for rec in parsed[1:]:
            self.records[rec["id"]] = rec
        # Rewrite without the torn line, so that appends start on a clean line.
        atomic_write_text(self.path, "".join(json.dumps(r) + "\n" for r in parsed))

    def append(self, records: Sequence[dict]) -> None:
        with open(self.path, "a", encoding="utf-8") as fh:
            for r in records:
                fh.write(json.dumps(r) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        for r in records:
            self.records[r["id"]] = r


class FeatureStore:
    """Hidden-state vectors per clip in ``features/part-NNNNN.npz`` (ids, labels, roles, features)."""

    def __init__(self, directory: str | os.PathLike, resume: bool = True):
        self.dir = Path(directory)
        self.ids: list[str] = []
        self.labels: list[str] = []
        self.roles: list[str] = []
        self.feats: list[np.ndarray] = []
        self._parts = 0
        if self.dir.is_dir():
            for part in sorted(self.dir.glob("part-*.npz")):
                if not resume:
                    part.unlink()
                    continue
                with np.load(part, allow_pickle=False) as z:
                    self.ids += z["ids"].tolist()
                    self.labels += z["labels"].tolist()
                    self.roles += z["roles"].tolist()
                    self.feats += list(z["features"])
                self._parts = max(self._parts, int(part.stem.split("-")[1]) + 1)
        self.done = set(self.ids)

    def add(self, ids: list[str], labels: list[str], roles: list[str], feats: np.ndarray) -> None:
        import io
        buf = io.BytesIO()
        np.savez(buf, ids=np.array(ids), labels=np.array(labels), roles=np.array(roles),
                 features=np.asarray(feats, np.float32))
        atomic_write_bytes(self.dir / f"part-{self._parts:05d}.npz", buf.getvalue())
        self._parts += 1
        self.ids += ids
        self.labels += labels
        self.roles += roles
        self.feats += list(np.asarray(feats, np.float32))
        self.done.update(ids)


# -- scoring ---------------------------------------------------------------------------------------
def recognition_metrics(records: Sequence[dict], candidates: Sequence[str]) -> dict:
    """Accuracy figures of prediction records against their true labels.

    Each record has ``label`` (true class, spelled as a candidate), ``prediction`` (the
    strictly matched candidate or None), ``fuzzy_prediction`` and, from likelihood ranking,
    ``scores`` (one per candidate). Returns ``top1``, ``top5`` (ranking, more than 5 candidates),
    ``top1_fuzzy``, ``unmatched``, ``unmatched_fuzzy``, ``num_samples``, ``per_class``
    ``{class: {"top1", "top1_fuzzy", "num_samples"}}`` (classes with samples, candidate
    order) and ``confusion`` ``(C, C)`` counts of the strict predictions (unmatched answers
    fall in no column).
    """
    from .plots import confusion_matrix

    index = {c: i for i, c in enumerate(candidates)}
    n = len(records)
    if n == 0:
        raise ValueError("no predictions to score")
    correct = sum(r["prediction"] == r["label"] for r in records)
    correct_fuzzy = sum(r["fuzzy_prediction"] == r["label"] for r in records)
    per_class = {}
    for c in candidates:
        rs = [r for r in records if r["label"] == c]
        if rs:
            per_class[c] = {"top1": sum(r["prediction"] == c for r in rs) / len(rs),
                            "top1_fuzzy": sum(r["fuzzy_prediction"] == c for r in rs) / len(rs),
                            "num_samples": len(rs)}
    cm = confusion_matrix([index[r["label"]] for r in records],
                          [index.get(r["prediction"], -1) if r["prediction"] is not None else -1 for r in records],
                          len(candidates))
    out = {"top1": correct / n, "top1_fuzzy": correct_fuzzy / n, "num_samples": n,
           "unmatched": sum(r["prediction"] is None for r in records),
           "unmatched_fuzzy": sum(r["fuzzy_prediction"] is None for r in records),
           "per_class": per_class, "confusion": cm}
    if len(candidates) > 5 and all("scores" in r for r in records):
        out["top5"] = sum(index[r["label"]] in np.argsort(r["scores"])[::-1][:5] for r in records) / n
    return out


def _answer_record(text: str, candidates: Sequence[str]) -> dict:
    return {"text": text, "raw_label": P.raw_label(text),
            "prediction": P.parse_label(text, candidates, fuzzy=False),
            "fuzzy_prediction": P.parse_label(text, candidates, fuzzy=True)}


def _score_record(scores: Sequence[float], candidates: Sequence[str]) -> dict:
    best = candidates[int(np.argmax(scores))]
    return {"scores": [float(s) for s in scores], "prediction": best, "fuzzy_prediction": best}


# -- the engine ---------------------------------------------------------------------------------------
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


def _true_label(seq: SkeletonSequence, sid: str, class_names, label_map: dict, by_norm: dict,
                must_be_candidate: bool = True) -> str:
    name = None
    # ``class_names`` is the evaluated dataset's list; extra t-SNE clips may come from elsewhere
    # and keep the name their loader gave them.
    if (must_be_candidate or seq.label is None) and class_names is not None and seq.label_id is not None \
            and 0 <= seq.label_id < len(class_names):
        name = class_names[seq.label_id]
    name = name or seq.label
    if name is None:
        raise SkeletonFormatError(seq.metadata.get("source", sid), "has no action label: "
                                  "evaluation needs labelled clips")
    mapped = label_map.get(name, name)
    key = P.normalize_label(mapped)
    if key not in by_norm and not must_be_candidate:
        return mapped
    if key not in by_norm:
        raise ValueError(f"{seq.metadata.get('source', sid)}: true class '{mapped}' is not one of the "
                         f"{len(by_norm)} candidates {list(by_norm.values())}")
    return by_norm[key]


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
                       title: str | None = None, finish: Callable[[dict], None] | None = None) -> dict:
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
    """
    import torch
    from tqdm.auto import tqdm

    from .plots import plot_confusion_matrix, plot_tsne
    from .report import save_result

    if mode not in ("generate", "score"):
        raise ValueError(f"mode must be 'generate' or 'score', got {mode!r}")
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
    log = PredictionLog(out_dir / PREDICTIONS, header, resume=resume)
    features = FeatureStore(out_dir / FEATURES, resume=resume) if tsne else None

    need_pred = {s.id for s in samples if s.id not in log.records}
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
                                need_feat, log, features, role, class_names, label_map, by_norm)
                bar.update(len(chunk))
    finally:
        bar.close()
        model.train(was_training)

    records = [log.records[i] for i in ids]
    metrics = recognition_metrics(records, candidates)
    files = {"predictions": PREDICTIONS, "confusion": CONFUSION}
    plot_confusion_matrix(metrics["confusion"], candidates, out_dir / CONFUSION,
                          title=title or f"{base.get('dataset', '')} {mode}".strip())
    notes = []
    if features is not None:
        tsne_file = _plot_features(features, id_set | {s.id for s in extra}, candidates, out_dir / TSNE,
                                   seed, plot_tsne, title)
        if tsne_file:
            files["tsne"] = TSNE
            files["features"] = FEATURES
        else:
            notes.append("t-SNE skipped: it needs at least 3 clips")

    cfg = getattr(model, "config", None)
    run_settings = {
        "checkpoint": checkpoint, "model": type(model).__name__, "backbone": getattr(cfg, "backbone", None),
        "renderer": getattr(cfg, "renderer", None), "image_size": getattr(cfg, "image_size", None),
        "mode": mode, "num_frames": num_frames, "batch_size": batch_size,
        "max_new_tokens": max_new_tokens if mode == "generate" else None,
        "decoding": "greedy" if mode == "generate" else "likelihood ranking",
        "matching": "strict: last 'Label:' line, lower-case/strip, exact (top1); lenient: top1_fuzzy",
        "candidates": candidates, "label_map": label_map or None, "transform": transform_name,
        "limit": limit, "tsne": tsne, "device": str(getattr(model, "device", "cpu")), "out_dir": str(out_dir),
        "versions": _versions(), **(settings or {}),
    }
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
                    log, features, role, class_names, label_map, by_norm) -> None:
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
            answers = [_score_record(row, candidates) for row in scores.float().cpu().tolist()]
        records = []
        for i, ans in zip(pred_rows, answers):
            meta = seqs[i].metadata
            rec = {"id": sids[i], "label": labels[i], **ans, "source": meta.get("source")}
            if meta.get("frame_range") is not None:
                rec["frame_range"] = [int(v) for v in meta["frame_range"]]
            records.append(rec)
        log.append(records)
    if feat_rows:
        _, f = rows(feat_rows)
        out = model(None, [prompt] * len(feat_rows), frames=f, output_hidden_states=True)
        # Prompts are left-padded: the last position is every row's final prompt token, the
        # state the answer is generated from (paper B.6: last decoder block, before the norm).
        feats = out.hidden_states[:, -1].float().cpu().numpy()
        features.add([sids[i] for i in feat_rows], [labels[i] for i in feat_rows],
                     [role[sids[i]] for i in feat_rows], feats)


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


# -- the recognition benchmark -------------------------------------------------------------------------
def canonical_split_id(name: str) -> str:
    """The report's split id: ``pku_46_5`` -> ``pku51_46_5``; other names unchanged."""
    from ..skeleton.splits import _canonical_split_name, _split_table
    key = _canonical_split_name(name)
    return key if key in _split_table()["splits"] else name


def evaluate_recognition(model, data, candidates: Sequence[str] | None = None, split_name: str | None = None, *,
                         mode: str = "generate", batch_size: int = 8, num_frames: int | None = None, seed: int = 0,
                         out_dir: str | os.PathLike = "eval", resume: bool = True, tsne: bool = False,
                         tsne_data=None, progress: bool = True, protocol: str | None = None,
                         dataset_name: str | None = None, class_names: Sequence[str] | None = None,
                         limit: int | None = None, max_new_tokens: int = P.RECOGNITION_MAX_NEW_TOKENS,
                         checkpoint: str | os.PathLike | None = None, method: str | None = None,
                         settings: dict | None = None) -> dict:
    """Open-vocabulary recognition of ``data`` (the split's unseen clips); returns the result dict.

    Args:
        model: a SkeletonLLM (eval mode and ``torch.no_grad`` are applied here).
        data: SkeletonDataset (e.g. ``SkeletonDataset(root, split=s, subset="unseen")``),
            SkeletonSequence objects or EvalSample objects.
        candidates: the classes offered; default the unseen class names of ``split_name``.
        split_name: a zero-shot split (``ntu60_48_12``, ``pku_46_5`` ...) or, with
            ``candidates``, any name for a custom split.
        mode: ``"generate"`` (greedy decoding, the paper's protocol) or ``"score"``.
        protocol: ``"xsub"``, ``"xview"`` or ``"xset"``, recorded in the result.
        tsne, tsne_data: also collect hidden states (of ``data`` and of ``tsne_data``,
            e.g. the seen classes) and draw ``tsne.png``.
        Other arguments: see :func:`run_mqa_evaluation`.
    """
    from ..skeleton.splits import class_names as dataset_classes, get_split

    split = None
    if split_name is not None:
        try:
            split = get_split(split_name)
        except KeyError:
            if candidates is None:
                raise
    if candidates is None:
        if split is None:
            raise ValueError("give candidates or a known split_name")
        candidates = split.unseen_names
    if split_name is None:
        split_name = "custom"
    if class_names is None and split is not None:
        class_names = dataset_classes(split.dataset)
    if dataset_name is None:
        dataset_name = DATASET_NAMES.get(split.dataset, split.dataset) if split is not None else None
    base = {"task": "recognition", "split": canonical_split_id(split_name)}
    if method:
        base["method"] = method
    if dataset_name:
        base["dataset"] = dataset_name
    if protocol:
        base["protocol"] = protocol
    title = f"{dataset_name or ''} {split_name}{f' {protocol}' if protocol else ''} ({mode})".strip()
    return run_mqa_evaluation(model, data, candidates, base, out_dir, mode=mode, batch_size=batch_size,
                              num_frames=num_frames, seed=seed, resume=resume, tsne=tsne, tsne_data=tsne_data,
                              progress=progress, class_names=class_names, limit=limit,
                              max_new_tokens=max_new_tokens, checkpoint=checkpoint, settings=settings, title=title)


# -- from a checkpoint and a data folder (what ``skeletonllm eval`` runs) ----------------------------
def protocol_name(dataset: str, protocol: str) -> str:
    """``("ntu60", "xsub")`` -> ``"ntu60_xsub"``; ``("pku_mmd", "xview")`` -> ``"pku_xview"``;
    a full protocol name is checked against the dataset and returned."""
    from ..skeleton.splits import PROTOCOLS

    prefix = {"ntu60": "ntu60", "ntu120": "ntu120", "pku_mmd": "pku"}.get(dataset)
    if prefix is None:
        raise ValueError(f"dataset '{dataset}' has no train/test protocols")
    name = protocol if protocol in PROTOCOLS else f"{prefix}_{protocol.lower()}"
    if name not in PROTOCOLS or not name.startswith(prefix + "_"):
        choices = [p.split("_", 1)[1] for p in PROTOCOLS if p.startswith(prefix + "_")]
        raise ValueError(f"protocol '{protocol}' does not apply to {dataset}: choose {', '.join(choices)}")
    return name


__all__ = ["DATASET_NAMES", "EvalSample", "FeatureStore", "PredictionLog", "as_samples", "canonical_split_id",
           "frames_for", "evaluate_recognition", "protocol_name", "recognition_metrics", "recognition_prompt", "run_mqa_evaluation", "samples_from_dataset",
           "samples_from_sequences", "subsample"]
