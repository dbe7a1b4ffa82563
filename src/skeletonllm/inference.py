"""Using a trained SkeletonLLM (or SUGAR) model on skeleton files: recognise, caption, answer questions.

>>> from skeletonllm.mllm.model import SkeletonLLM
>>> from skeletonllm import inference
>>> model = SkeletonLLM.from_pretrained("runs/ntu60_48_12/final")
>>> inference.recognize(model, ["S001C001P001R001A001.skeleton"], split="ntu60_48_12")
[{'file': 'S001C001P001R001A001.skeleton', 'label': 'pickup', 'raw': 'Label: pickup', ...}]
>>> inference.caption(model, "new_joints/000000.npy")["text"]
>>> inference.ask(model, "0036-L.txt", "Which hand moves first?")["text"]

Any supported file works (:func:`skeletonllm.load_all`): a PKU-MMD recording with a label
file is recognised clip by clip (each result carries ``clip`` and ``frames``, the
``[start, end)`` range), a PYSKL pickle annotation by annotation. Captioning and questions
take one sequence per file (:func:`skeletonllm.load`: a PKU-MMD recording whole).

Recognition reads the answer's last ``Label:`` line and matches it to a candidate
leniently (case, punctuation, near-typos; ``label`` is None when nothing matches, and
``raw`` always holds the model's answer). The benchmark's strict matching is in
:mod:`skeletonllm.eval.recognition`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from .eval.recognition import frames_for, recognition_prompt
from .mllm import prompts as P
from .skeleton.sequence import SkeletonSequence

PathLike = str | os.PathLike


@dataclass
class Clip:
    """One sequence to run the model on, and where it came from."""

    file: str
    sequence: SkeletonSequence
    clip: int | None = None           # index within a multi-clip file
    frames: tuple[int, int] | None = None  # [start, end) in the source recording

    def describe(self) -> dict:
        out = {"file": self.file}
        if self.clip is not None:
            out["clip"] = self.clip
        if self.frames is not None:
            out["frames"] = [int(self.frames[0]), int(self.frames[1])]
        return out


def checkpoint_format(checkpoint: PathLike) -> str | None:
    """The ``format`` its ``config.json`` gives a checkpoint directory (``skeletonllm``,
    ``skeletonllm-sugar`` ...), or None when there is none to read."""
    import json

    try:
        return json.loads((Path(checkpoint) / "config.json").read_text(encoding="utf-8")).get("format")
    except (OSError, ValueError, AttributeError):
        return None


def load_model(checkpoint: PathLike, device: str | None = None, dtype: str | None = None):
    """The model of a checkpoint directory (``save_pretrained``), in eval mode: a SkeletonLLM, or
    a SUGAR model (:class:`skeletonllm.sugar.SugarModel`) when its ``config.json`` says so."""
    fmt = checkpoint_format(checkpoint)
    if fmt == "skeletonllm-sugar":
        from .sugar.model import SugarModel
        return SugarModel.from_pretrained(checkpoint, device=device, dtype=dtype).eval()
    if fmt == "skeletonllm-sugar-aligner":
        raise ValueError(f"{checkpoint}: a SUGAR Step 2 checkpoint (skeleton-text alignment) does not recognise "
                         "actions; use the Step 3 checkpoint (<run>/step3-classifier/final)")
    from .mllm.model import SkeletonLLM
    return SkeletonLLM.from_pretrained(checkpoint, device=device, dtype=dtype).eval()


def _require_task(model, task: str) -> None:
    tasks = getattr(model, "tasks", None)
    if tasks is not None and task not in tasks:
        raise ValueError(f"this {type(model).__name__} checkpoint answers {', '.join(tasks)} only, not {task}")


def load_clips(files: PathLike | SkeletonSequence | Iterable, format: str | None = None,
               whole: bool = False) -> list[Clip]:
    """Files (or in-memory sequences) -> clips.

    ``whole=False``: every sample of a file (:func:`skeletonllm.load_all`); ``True``: one
    sequence per file (:func:`skeletonllm.load`). Raises
    :class:`~skeletonllm.errors.SkeletonFormatError` naming the first bad file.
    """
    from .skeleton.io import load, load_all

    if isinstance(files, (str, os.PathLike, SkeletonSequence)):
        files = [files]
    clips = []
    for f in files:
        if isinstance(f, SkeletonSequence):
            clips.append(Clip(str(f.metadata.get("source", "<memory>")), f))
            continue
        seqs = [load(f, format=format)] if whole else load_all(f, format=format)
        for k, seq in enumerate(seqs):
            rng = seq.metadata.get("frame_range")
            clips.append(Clip(str(f), seq, clip=k if len(seqs) > 1 else None,
                              frames=tuple(rng) if rng is not None else None))
    return clips


def recognition_candidates(labels: Sequence[str] | str | None = None, split: str | None = None,
                           all_classes: bool = False, model=None) -> list[str]:
    """The candidate list: ``labels`` (a list, ``"a,b,c"``, a class-list file with one name per line,
    or a dataset whose class list ships with the package: ``kinetics400``, ``ntu60``, ``ntu120``,
    ``pku_mmd``, ``nw_ucla``), else the split's unseen class names (with ``all_classes``: every class
    of the split's dataset), else the unseen classes the ``model``'s checkpoint was trained without
    (with ``all_classes``: all its classes)."""
    from .skeleton.splits import class_names, is_dataset

    if labels is not None and split is not None:
        raise ValueError("give labels or a split, not both")
    if labels is not None:
        if isinstance(labels, (str, os.PathLike)) and Path(labels).is_file():
            labels = read_class_list(labels)
        elif is_dataset(labels):
            labels = list(class_names(labels))
        elif isinstance(labels, str):
            labels = labels.split(",")
        out = [l.strip() for l in labels if l.strip()]
        if not out:
            raise ValueError("the label list is empty")
    elif split is not None:
        out = _split_candidates(split, all_classes)
    else:
        out = _checkpoint_candidates(model, all_classes)
    if len({P.normalize_label(c) for c in out}) != len(out):
        raise ValueError(f"candidate labels must be distinct: {out}")
    return out


def read_class_list(path: PathLike) -> list[str]:
    """Class names from a text file, one per line in label order (blank lines and ``#`` comments
    skipped; with tab-separated columns, the last one is the name)."""
    from .skeleton.splits import parse_class_list

    names = parse_class_list(Path(path).read_text(encoding="utf-8"))
    if not names:
        raise ValueError(f"{path}: the class list is empty")
    return names


def _checkpoint_candidates(model, all_classes: bool) -> list[str]:
    """The classes a checkpoint remembers (``model.classes``): its unseen ones, or all of them."""
    rec = getattr(model, "classes", None)
    if rec is None:
        raise ValueError("recognition needs candidates: give labels or a split"
                         + ("" if model is None else " (this checkpoint does not name the classes it was trained on)"))
    out = list(rec["classes"] if all_classes else rec["unseen"])
    if not out:
        raise ValueError(f"this checkpoint was trained on {len(rec['seen'])} classes and held none out: pass "
                         "--all-classes for those, or give labels or a split")
    return out


def _split_candidates(split: str, all_classes: bool) -> list[str]:
    """A paper split's (``ntu60_48_12``) or a demo split's (``synth_31_13``) unseen classes, or all
    classes of its dataset."""
    from .skeleton.splits import class_names, get_split, list_splits
    from .synth.dataset import SPLITS as SYNTH_SPLITS

    if split in SYNTH_SPLITS:
        sp = SYNTH_SPLITS[split]
        return list(sp.classes if all_classes else sp.unseen)
    try:
        sp = get_split(split)
    except KeyError:
        raise KeyError(f"unknown split '{split}': expected one of {list_splits() + sorted(SYNTH_SPLITS)}") from None
    return list(class_names(sp.dataset)[:sp.num_classes] if all_classes else sp.unseen_names)


def _batches(clips: list[Clip], batch_size: int):
    """Clips grouped by topology (one batch holds one), in chunks of ``batch_size``."""
    groups: dict = {}
    for i, c in enumerate(clips):
        groups.setdefault(c.sequence.topology, []).append(i)
    for idx in groups.values():
        for lo in range(0, len(idx), batch_size):
            yield idx[lo:lo + batch_size]


def recognize(model, files, labels: Sequence[str] | str | None = None, split: str | None = None, *,
              all_classes: bool = False, mode: str = "generate", num_frames: int | None = None, batch_size: int = 8,
              max_new_tokens: int = P.RECOGNITION_MAX_NEW_TOKENS, format: str | None = None,
              reference=None) -> list[dict]:
    """Which action each clip shows, chosen among candidate labels.

    Args:
        model: a SkeletonLLM.
        files: paths, :class:`Clip` objects or sequences (one path or a list).
        labels, split, all_classes: the candidates (:func:`recognition_candidates`); with neither
            labels nor split, the unseen classes the model's checkpoint was trained without (all its
            classes with ``all_classes``).
        mode: ``"generate"`` (greedy answer, parsed) or ``"score"`` (likelihood of each
            ``Label: <candidate>``; also returns ``scores``).
        reference: score mode: files (or clips) of the model's training distribution that
            calibrate the ranking (:mod:`skeletonllm.eval.calibration`): each candidate's
            log-likelihood minus its average over them; ``scores`` are then the calibrated ones.
            The demo writes its own as ``reference.npz`` in its checkpoint directory.
    Returns one dict per clip: ``file`` (``clip``, ``frames`` for multi-clip files),
    ``label`` (a candidate, or None when the answer names none), ``raw`` (the answer text;
    in score mode the best ``Label:`` line), ``candidates``, ``scores`` (score mode:
    ``{candidate: log-likelihood}``) and ``true_label`` when the file carries one.
    """
    from .skeleton.batch import collate_sequences

    if mode not in ("generate", "score"):
        raise ValueError(f"mode must be 'generate' or 'score', got {mode!r}")
    if reference is not None and mode != "score":
        raise ValueError("reference clips calibrate the likelihood ranking: use mode 'score'")
    candidates = recognition_candidates(labels, split, all_classes, model=model)
    num_frames = frames_for(model, num_frames)
    clips = _as_clips(files, format)
    prompt = recognition_prompt(model, candidates)
    prior = None
    if reference is not None:
        from .eval.calibration import candidate_prior
        prior = candidate_prior(model, [c.sequence for c in _as_clips(reference, None)], prompt, candidates,
                                num_frames, batch_size)
    results: list[dict | None] = [None] * len(clips)
    for idx in _batches(clips, batch_size):
        batch = collate_sequences([clips[i].sequence for i in idx], num_frames=num_frames, max_bodies=2)
        if mode == "generate":
            answers = model.generate(batch, prompt, max_new_tokens=max_new_tokens)
            parsed = [(P.parse_label(a, candidates), a, None) for a in answers]
        else:
            scores = model.score_candidates(batch, prompt, candidates).float().cpu()
            if prior is not None:
                from .eval.calibration import calibrate
                scores = calibrate(scores, prior)
            scores = scores.tolist()
            parsed = []
            for row in scores:
                best = candidates[max(range(len(row)), key=row.__getitem__)]
                parsed.append((best, P.mqa_target(best), dict(zip(candidates, row))))
        for i, (label, raw, sc) in zip(idx, parsed):
            out = {**clips[i].describe(), "label": label, "raw": raw, "candidates": candidates}
            if sc is not None:
                out["scores"] = sc
            if clips[i].sequence.label is not None:
                out["true_label"] = clips[i].sequence.label
            results[i] = out
    return results


def _as_clips(files, format, whole: bool = False) -> list[Clip]:
    if isinstance(files, Clip):
        return [files]
    if isinstance(files, (list, tuple)) and files and all(isinstance(f, Clip) for f in files):
        return list(files)
    return load_clips(files, format=format, whole=whole)


def _one_clip(file, format) -> Clip:
    clips = _as_clips(file, format, whole=True)
    if len(clips) != 1:
        raise ValueError(f"expected one file, got {len(clips)}")
    return clips[0]


def _answer(model, clip: Clip, prompt: str, num_frames: int | None, max_new_tokens: int) -> str:
    from .skeleton.batch import collate_sequences
    batch = collate_sequences([clip.sequence], num_frames=frames_for(model, num_frames), max_bodies=2)
    return model.generate(batch, prompt, max_new_tokens=max_new_tokens)[0]


def caption(model, file, *, num_frames: int | None = None, max_new_tokens: int = 128, format: str | None = None) -> dict:
    """A free-text description of the motion in ``file``: ``{"file", "text"}``."""
    _require_task(model, "caption")
    clip = _one_clip(file, format)
    return {**clip.describe(), "text": _answer(model, clip, P.caption_prompt(), num_frames, max_new_tokens)}


def ask(model, file, question: str, *, options: Sequence[str] | str | None = None, mode: str = "generate",
        num_frames: int | None = None, max_new_tokens: int = 128, format: str | None = None) -> dict:
    """The model's answer to a ``question`` about ``file``: ``{"file", "question", "text"}``.

    With ``options`` (a list or ``"a,b,c"``) the question is multiple choice, asked as in
    training (:func:`~skeletonllm.mllm.prompts.qa_prompt`): the result adds ``options`` and
    ``answer``, the option named by the answer's ``Label:`` line (None if it names none), or with
    ``mode="score"`` the option the model finds most likely (and ``scores``, one per option).
    """
    if not question or not question.strip():
        raise ValueError("the question is empty")
    if mode not in ("generate", "score"):
        raise ValueError(f"mode must be 'generate' or 'score', got {mode!r}")
    _require_task(model, "qa")
    if options is not None:
        options = recognition_candidates(labels=options)   # same checks: non-empty, distinct
    elif mode == "score":
        raise ValueError("mode 'score' ranks options: give the question's options")
    clip = _one_clip(file, format)
    prompt = P.qa_prompt(question, options)
    out = {**clip.describe(), "question": question.strip()}
    if options is None:
        return {**out, "text": _answer(model, clip, prompt, num_frames, max_new_tokens)}
    if mode == "generate":
        text = _answer(model, clip, prompt, num_frames, max_new_tokens)
        return {**out, "text": text, "options": options, "answer": P.parse_label(text, options)}
    from .skeleton.batch import collate_sequences
    batch = collate_sequences([clip.sequence], num_frames=frames_for(model, num_frames), max_bodies=2)
    row = model.score_candidates(batch, prompt, options)[0].float().cpu().tolist()
    best = options[max(range(len(row)), key=row.__getitem__)]
    return {**out, "text": P.mqa_target(best), "options": options, "answer": best, "scores": dict(zip(options, row))}


def evaluate_checkpoint(checkpoint: str | os.PathLike, data: str | os.PathLike, split: str | None = None, *,
                        out_dir: str | os.PathLike | None = None, mode: str = "generate", batch_size: int = 8,
                        num_frames: int | None = None, tsne: bool = False, tsne_seen: bool = False, limit: int | None = None,
                        format: str | None = None, protocol: str | None = None, transfer_from: str | None = None,
                        target: str | None = None, label_map: str | None = "default", to_2d: bool = False,
                        max_new_tokens: int = P.RECOGNITION_MAX_NEW_TOKENS, seed: int = 0, resume: bool = True, device: str | None = None,
                        cache_dir: str | os.PathLike | None = None, method: str | None = None,
                        progress: bool = True, calibrate: int | None = None) -> dict:
    """Load ``checkpoint``, index ``data`` and evaluate: recognition over ``split``'s unseen
    classes, or, with ``transfer_from``, cross-format transfer to ``target`` (see
    the checkpoint may be a SkeletonLLM or a SUGAR model, :func:`load_model`;
    :func:`skeletonllm.eval.transfer.evaluate_transfer`). The data folder is indexed before
    the model loads, so a wrong folder or split fails fast.

    ``protocol`` (``xsub`` / ``xview`` / ``xset``) keeps only the protocol's test part. Without
    ``out_dir`` results go to ``eval/<split or source-to-target>-<mode>``.

    ``calibrate`` (score mode, recognition): rank calibrated on that many clips of every seen
    class of ``split`` found in ``data`` (of the protocol's training part with ``protocol``),
    evenly spread over each class's clips (:mod:`skeletonllm.eval.calibration`).
    """
    from .eval.recognition import evaluate_recognition, protocol_name
    from .skeleton.dataset import SkeletonDataset
    from .skeleton.splits import get_split

    tsne = tsne or tsne_seen
    sp = get_split(split) if split is not None else None
    prot = protocol_name(sp.dataset, protocol) if (protocol and sp is not None) else None
    if protocol and sp is None:
        raise ValueError("--protocol needs --split (the protocol belongs to the split's dataset)")
    subset = {"split": split, "subset": "unseen"} if sp is not None else {}
    part = {"protocol": prot, "part": "test"} if prot else {}
    checkpoint = str(Path(checkpoint).resolve())
    short_protocol = prot.split("_", 1)[1] if prot else None

    if transfer_from is None:
        if sp is None:
            raise ValueError("recognition needs a split (e.g. ntu60_48_12); for cross-format transfer give transfer_from")
        ds = SkeletonDataset(data, format=format, cache_dir=cache_dir, **subset, **part)
        if len(ds) == 0:
            raise ValueError(f"{data}: no clips of the unseen classes of {split}"
                             + (f" in the {prot} test part" if prot else ""))
        seen = None
        if tsne and tsne_seen:
            seen = SkeletonDataset(data, format=format, cache_dir=cache_dir, split=split, subset="seen", **part)
        reference = None if calibrate is None else _seen_reference(data, split, prot, calibrate, mode, format,
                                                                    cache_dir)
        out_dir = out_dir or Path("eval") / f"{split}-{mode}{'-calibrated' if calibrate else ''}"
        model = load_model(checkpoint, device=device)
        return evaluate_recognition(model, ds, split_name=split, mode=mode, batch_size=batch_size,
                                    num_frames=num_frames, seed=seed, out_dir=out_dir, resume=resume, tsne=tsne,
                                    tsne_data=seen, progress=progress, protocol=short_protocol, limit=limit,
                                    max_new_tokens=max_new_tokens, checkpoint=checkpoint, method=method,
                                    settings={"data": str(data)}, reference=reference)

    if calibrate is not None:
        raise ValueError("calibration draws the training split's seen classes from the data: it applies to "
                         "recognition over a split, not to --transfer-from")
    from .eval.transfer import dataset_key, evaluate_transfer
    from .skeleton.splits import class_names as dataset_classes

    ds = SkeletonDataset(data, format=format, cache_dir=cache_dir, **subset, **part)
    if target is None:
        target = _infer_target(ds, sp, to_2d)
    tgt = dataset_key(target)
    names = dataset_classes(sp.dataset) if sp is not None else None
    if names is None and tgt != "humanml3d":
        names = dataset_classes("ntu60" if tgt == "ntu60_2d" else tgt)
    if names is not None and sp is None:  # e.g. NTU-60 classes only, from a folder of NTU-120 files
        ds = SkeletonDataset(data, format=format, cache_dir=cache_dir, class_ids=range(len(names)), **part)
    if len(ds) == 0:
        raise ValueError(f"{data}: no labelled clips of {target}" + (f" (unseen classes of {split})" if sp else ""))
    out_dir = out_dir or Path("eval") / f"{dataset_key(transfer_from)}-to-{tgt}-{mode}"
    model = load_model(checkpoint, device=device)
    return evaluate_transfer(model, ds, transfer_from, tgt, class_names=names, label_map=label_map,
                             to_2d_input=True if to_2d else None, out_dir=out_dir, mode=mode,
                             batch_size=batch_size, num_frames=num_frames, seed=seed, resume=resume, tsne=tsne,
                             progress=progress, limit=limit, max_new_tokens=max_new_tokens, checkpoint=checkpoint,
                             method=method, split_name=split, settings={"data": str(data)})


def _seen_reference(data, split: str, protocol: str | None, per_class: int, mode: str, format, cache_dir) -> list:
    """``per_class`` clips of every seen class of ``split`` in ``data`` (the protocol's training
    part when given): the reference clips of a calibrated ranking."""
    from .eval.calibration import spread_per_class
    from .skeleton.dataset import SkeletonDataset

    if mode != "score":
        raise ValueError("calibration applies to the likelihood ranking: use mode 'score' (--mode score)")
    part = {"protocol": protocol, "part": "train"} if protocol else {}
    seen = SkeletonDataset(data, format=format, cache_dir=cache_dir, split=split, subset="seen", **part)
    if len(seen) == 0:
        raise ValueError(f"{data}: no clips of the seen classes of {split}" + (f" in the {protocol} training part"
                         if protocol else "") + " to calibrate on")
    return [seen[i] for i in spread_per_class(seen.label_ids, per_class)]


def _infer_target(ds, split, to_2d: bool) -> str:
    """The target dataset of a transfer evaluation from the files' formats."""
    formats = {it.format for it in ds.items}
    if split is not None:
        base = split.dataset
    elif formats == {"nw_ucla"}:
        base = "nw_ucla"
    elif formats and formats <= {"ntu", "ntu_npy"}:
        base = "ntu60" if all(l is not None and l < 60 for l in ds.label_ids) else "ntu120"
    elif formats == {"pku_mmd"}:
        base = "pku_mmd"
    else:
        raise ValueError(f"cannot tell the target dataset from the files ({', '.join(sorted(formats)) or 'none'}): "
                         "give the target (e.g. --target nw_ucla)")
    return "ntu60_2d" if (to_2d and base == "ntu60") else base


__all__ = ["Clip", "ask", "caption", "checkpoint_format", "evaluate_checkpoint", "frames_for", "load_clips", "load_model", "recognition_candidates",
           "recognition_prompt", "recognize"]
