"""Teacher rationales for CR-Distill (SPEC §5, paper appendix E.3.3).

For every training clip, the teacher sees the frames rendered by DrAction (after stages 1
and 2) and a label-conditioned prompt, and writes a step-by-step causal rationale that ends
with ``Label: <action>``. The student is later trained to reproduce it without the label.

Answers cost money, so :class:`RationaleCache` appends each one to a JSONL file and fsyncs
it before anything else happens; a crash loses at most the answer in flight. Reruns skip
every sample already answered. An answer whose last line is not the right label is asked
again (up to ``attempts`` times) and is itself kept in a separate rejects file with the
reason, never dropped.

Files (one JSON object per line)::

    rationales.jsonl          {"id", "label", "rationale", "model", "attempts", "created", [raw], [meta...]}
    rationales.rejects.jsonl  {"id", "label", "kind": "wrong_label"|"refused", "reason", "answer",
                               "attempt", "final", "model", "created"}

``rationale`` ends with exactly ``Label: <label>`` (the teacher's label line is rewritten to
the canonical spelling; ``raw`` keeps the original answer when it differed). A sample is
rejected for good when a ``final`` wrong-label line exists; ``retry_rejected`` asks again.
"""
from __future__ import annotations

import concurrent.futures as cf
import datetime as _dt
import json
import logging
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from ..errors import ConfigError
from .teacher import TeacherError, frames_to_data_urls

log = logging.getLogger(__name__)

# Refusals that concern one request (its content or size), not the whole setup: recorded
# and skipped. 401/403/404 (key, access, model) stop the run instead.
_PER_REQUEST_STATUS = frozenset({400, 413, 415, 422})


# -- the label line --------------------------------------------------------------------------

_LABEL_LINE = re.compile(r"^[\s*_#>`]*label[\s*_`]*[:\uff1a](?P<label>.*)$", re.IGNORECASE)
_EDGE = "*_`\"'[]<>. \t"


def _norm_label(s: str) -> str:
    return " ".join(s.replace("\u2019", "'").strip(_EDGE).lower().split())


def check_label_line(answer: str, label: str) -> tuple[bool, str, str]:
    """Does ``answer`` end with a ``Label: <label>`` line? Case, spacing and markdown emphasis are ignored.

    Returns ``(ok, reason, rationale)``: ``reason`` explains a failure (``""`` when ok);
    ``rationale`` is the answer with its last line rewritten to exactly ``Label: <label>``
    (only meaningful when ok).
    """
    lines = answer.rstrip().splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        return False, "empty answer", ""
    m = _LABEL_LINE.match(lines[-1])
    if m is None:
        return False, "the answer does not end with a 'Label:' line", ""
    found = m.group("label").strip(_EDGE)
    if _norm_label(found) != _norm_label(label):
        return False, f"final label '{found}' does not match '{label}'", ""
    body = "\n".join(lines[:-1]).rstrip()
    return True, "", (body + "\n" if body else "") + f"Label: {label}"


# -- the cache -------------------------------------------------------------------------------

def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _read_jsonl(path: Path) -> list[dict]:
    """Records of a JSONL file; a damaged tail (crash mid-write) is cut off the file.

    Only the tail may be damaged: a bad line followed by a good one is corruption from
    elsewhere and raises :class:`ConfigError` naming the line.
    """
    if not path.exists():
        return []
    data = path.read_bytes()
    records: list[dict] = []
    good_end = 0          # byte offset just after the last good line
    newline_ok = True     # whether that line ended with its newline
    bad_line, bad_err = None, None
    pos = 0
    for lineno, raw in enumerate(data.splitlines(keepends=True), 1):
        pos += len(raw)
        if not raw.strip():
            continue
        try:
            rec = json.loads(raw.decode("utf-8"))
            if not isinstance(rec, dict) or "id" not in rec:
                raise ValueError("not a JSON object with an 'id'")
        except ValueError as e:
            if bad_line is None:
                bad_line, bad_err = lineno, e
            continue
        if bad_line is not None:
            raise ConfigError(path, f"line {bad_line}", f"is not a valid record ({bad_err}) but later lines are; "
                                                        "the file was damaged: fix or remove that line")
        records.append(rec)
        good_end, newline_ok = pos, raw.endswith(b"\n")
    if bad_line is not None or not newline_ok:
        # Cut the partial line and end the last good record with its newline, so that the
        # next append starts on a fresh line.
        if bad_line is not None:
            log.warning("%s: dropping a damaged last line (interrupted write); %d good records kept",
                        path, len(records))
        with open(path, "r+b") as fh:
            fh.truncate(good_end)
            if not newline_ok:
                fh.seek(good_end)
                fh.write(b"\n")
            fh.flush()
            os.fsync(fh.fileno())
    return records


def _append(path: Path, record: dict) -> None:
    line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab") as fh:
        fh.write(line)
        fh.flush()
        os.fsync(fh.fileno())


class RationaleCache:
    """Append-only JSONL store of teacher rationales keyed by sample id, plus a rejects file.

    Args:
        path: the rationales file (created on first write).
        rejects_path: default ``<path stem>.rejects.jsonl`` beside it.
    """

    def __init__(self, path: str | os.PathLike, rejects_path: str | os.PathLike | None = None):
        self.path = Path(path)
        self.rejects_path = Path(rejects_path) if rejects_path else self.path.with_name(self.path.stem + ".rejects.jsonl")
        self._lock = threading.Lock()
        self._records: dict[str, dict] = {}
        for rec in _read_jsonl(self.path):
            self._records[str(rec["id"])] = rec  # a later line wins (e.g. after retry_rejected)
        self._rejects: dict[str, list[dict]] = {}
        for rec in _read_jsonl(self.rejects_path):
            self._rejects.setdefault(str(rec["id"]), []).append(rec)

    def __contains__(self, sample_id) -> bool:
        return str(sample_id) in self._records

    def __len__(self) -> int:
        return len(self._records)

    def get(self, sample_id) -> dict | None:
        return self._records.get(str(sample_id))

    def records(self) -> list[dict]:
        """Every kept rationale, in the order they were written."""
        return list(self._records.values())

    def rejects(self, sample_id=None) -> list[dict]:
        """Reject lines (of one sample, or all)."""
        if sample_id is not None:
            return list(self._rejects.get(str(sample_id), []))
        return [r for lines in self._rejects.values() for r in lines]

    def is_rejected(self, sample_id) -> bool:
        """True when the sample's last wrong-label verdict was final and it has no rationale."""
        if sample_id in self:
            return False
        wrong = [r for r in self._rejects.get(str(sample_id), []) if r.get("kind") == "wrong_label"]
        return bool(wrong) and bool(wrong[-1].get("final"))

    def failed_attempts(self, sample_id) -> int:
        """Wrong-label answers since the sample's last final verdict (attempts already spent)."""
        n = 0
        for r in self._rejects.get(str(sample_id), []):
            if r.get("kind") == "wrong_label":
                n = 0 if r.get("final") else n + 1
        return n

    def add(self, record: Mapping[str, Any]) -> None:
        """Append one rationale and fsync it before returning."""
        record = dict(record)
        sid = str(record["id"])
        with self._lock:
            _append(self.path, record)
            self._records[sid] = record

    def add_reject(self, record: Mapping[str, Any]) -> None:
        """Append one rejected answer (or refused request) and fsync it before returning."""
        record = dict(record)
        with self._lock:
            _append(self.rejects_path, record)
            self._rejects.setdefault(str(record["id"]), []).append(record)


# -- generation ------------------------------------------------------------------------------

@dataclass
class RationaleStats:
    """What one :func:`generate_rationales` call did."""

    samples: int = 0           # samples read from the iterable
    cached: int = 0            # already answered: not asked again
    duplicates: int = 0        # ids seen earlier in the same input: not asked again
    skipped_rejected: int = 0  # rejected for good in an earlier run: not asked again
    generated: int = 0         # new rationales kept
    rejected: int = 0          # samples rejected for good in this run
    refused: int = 0           # samples the endpoint refused (recorded, asked again next run)
    wrong_answers: int = 0     # answers with a missing or wrong label line (all kept in the rejects file)
    requests: int = 0          # HTTP requests, transport retries included


def default_prompt_fn() -> Callable[[str], str]:
    """``skeletonllm.mllm.prompts.teacher_prompt`` (the paper's label-conditioned teacher prompt)."""
    try:
        from ..mllm.prompts import teacher_prompt
    except ImportError as e:
        raise ConfigError("rationales", "prompt_fn", "no prompt function was given and "
                                                     f"skeletonllm.mllm.prompts.teacher_prompt is not available ({e})") from e
    return teacher_prompt


def generate_rationales(client, samples: Iterable[tuple[Any, str, Any]], prompt_fn: Callable[[str], str] | None,
                        cache: RationaleCache | str | os.PathLike, progress: bool = True, *, attempts: int = 3,
                        contact_sheet: bool = False, detail: str | None = None, meta: Mapping[str, Any] | None = None,
                        retry_rejected: bool = False, concurrency: int = 1, total: int | None = None,
                        max_refusals_in_a_row: int = 3) -> RationaleStats:
    """Ask the teacher for a rationale for every sample not answered yet.

    Args:
        client: a :class:`~skeletonllm.train.teacher.TeacherClient` (anything with ``ask(text,
            image_urls, detail=...)``, ``model`` and optionally ``stats.requests``).
        samples: ``(sample_id, label, frames)``; ``frames`` is ``(F, 3, H, W)`` in ``[0, 1]``
            or a zero-argument callable returning it, so cached samples are never rendered.
        prompt_fn: ``label -> prompt text``; ``None`` uses :func:`default_prompt_fn`.
        cache: a :class:`RationaleCache` or the path of its JSONL file.
        attempts: answers asked per sample when the label line is wrong (all are kept).
        contact_sheet, detail: image options (see :func:`frames_to_data_urls`; ``detail`` is
            OpenAI's ``low``/``high``/``auto``).
        meta: extra fields stored in every record (checkpoint, split, ...).
        retry_rejected: ask again for samples rejected for good in an earlier run.
        concurrency: requests in flight at once (paid endpoints allow many; 1 is sequential).
        max_refusals_in_a_row: per-request refusals (HTTP 400/413/422) are recorded and the
            sample skipped, but this many in a row means the setup is wrong: stop.

    Raises :class:`TeacherError` when the endpoint is unusable (bad key, retries exhausted);
    everything answered before is already on disk.
    """
    if prompt_fn is None:
        prompt_fn = default_prompt_fn()
    if not isinstance(cache, RationaleCache):
        cache = RationaleCache(cache)
    model = getattr(client, "model", None)
    extra = dict(meta or {})
    stats = RationaleStats()
    requests_before = getattr(getattr(client, "stats", None), "requests", 0)

    def one(sid: str, label: str, frames) -> str:
        """Returns 'ok', 'rejected' or 'refused' (with counts of wrong answers in a side list)."""
        if callable(frames):
            frames = frames()
        urls = frames_to_data_urls(frames, contact_sheet=contact_sheet)
        prompt = prompt_fn(label)
        first = cache.failed_attempts(sid) + 1
        last = max(attempts, first)
        for attempt in range(first, last + 1):
            try:
                answer = client.ask(prompt, urls, detail=detail)
            except TeacherError as e:
                if e.retryable or e.status not in _PER_REQUEST_STATUS:
                    raise
                cache.add_reject({"id": sid, "label": label, "kind": "refused", "reason": str(e), "answer": None,
                                  "attempt": attempt, "final": False, "model": model, "created": _now()})
                return "refused"
            ok, reason, rationale = check_label_line(answer, label)
            if ok:
                rec = {"id": sid, "label": label, "rationale": rationale, "model": model,
                       "attempts": attempt, "created": _now()}
                if rationale != answer:
                    rec["raw"] = answer
                rec.update({k: v for k, v in extra.items() if k not in rec})
                cache.add(rec)
                return "ok"
            wrong_counter.append(1)
            cache.add_reject({"id": sid, "label": label, "kind": "wrong_label", "reason": reason, "answer": answer,
                              "attempt": attempt, "final": attempt == last, "model": model, "created": _now()})
        return "rejected"

    wrong_counter: list[int] = []  # list.append is atomic across worker threads
    refusals_in_a_row = 0

    def account(outcome: str, sid: str) -> None:
        nonlocal refusals_in_a_row
        if outcome == "ok":
            stats.generated += 1
        elif outcome == "rejected":
            stats.rejected += 1
            log.warning("sample %s rejected after %d answers without the right label line", sid, attempts)
        else:
            stats.refused += 1
        refusals_in_a_row = refusals_in_a_row + 1 if outcome == "refused" else 0
        if refusals_in_a_row >= max_refusals_in_a_row:
            last = cache.rejects(sid)[-1]["reason"]
            raise TeacherError(f"the teacher refused {refusals_in_a_row} samples in a row; the request setup is "
                               f"probably wrong (last: {last})", retryable=False)

    from tqdm.auto import tqdm
    if total is None and hasattr(samples, "__len__"):
        total = len(samples)
    bar = tqdm(total=total, desc="teacher rationales", unit="clip", disable=not progress)
    asked: set[str] = set()
    pool = cf.ThreadPoolExecutor(max_workers=concurrency) if concurrency > 1 else None
    pending: dict[cf.Future, str] = {}
    try:
        for sample_id, label, frames in samples:
            sid = str(sample_id)
            stats.samples += 1
            if label is None or not str(label).strip():
                raise ValueError(f"sample '{sid}' has no label: teacher rationales are label-conditioned")
            if sid in asked:
                stats.duplicates += 1
                log.warning("sample id '%s' occurs twice in the input; asked once (ids must be unique)", sid)
                bar.update(1)
                continue
            if sid in cache:
                stats.cached += 1
                bar.update(1)
                continue
            if not retry_rejected and cache.is_rejected(sid):
                stats.skipped_rejected += 1
                bar.update(1)
                continue
            asked.add(sid)
            if pool is None:
                account(one(sid, str(label), frames), sid)
                bar.update(1)
                continue
            pending[pool.submit(one, sid, str(label), frames)] = sid
            while len(pending) >= 2 * concurrency:  # bounded look-ahead: frames are not all held in memory
                done, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
                for fut in done:
                    account(fut.result(), pending.pop(fut))
                    bar.update(1)
        for fut in cf.as_completed(list(pending)):
            account(fut.result(), pending.pop(fut))
            bar.update(1)
    finally:
        if pool is not None:
            # Requests already running finish and their answers are written; queued ones are dropped.
            pool.shutdown(wait=True, cancel_futures=True)
        bar.close()
        stats.wrong_answers = len(wrong_counter)
        stats.requests = getattr(getattr(client, "stats", None), "requests", 0) - requests_before
    return stats


def find_renderer_dir(path: str | os.PathLike) -> Path:
    """The folder holding a DrAction checkpoint (``renderer_config.json``) inside ``path``.

    Accepts the renderer folder itself or a training checkpoint that contains exactly one
    renderer somewhere below it (e.g. ``step-00000120/model/...``).
    """
    from ..render import CONFIG_NAME

    path = Path(path)
    if (path / CONFIG_NAME).is_file():
        return path
    found = sorted(p.parent for p in path.rglob(CONFIG_NAME)) if path.is_dir() else []
    if len(found) == 1:
        return found[0]
    problem = "does not exist" if not path.exists() else (
        f"holds no {CONFIG_NAME}" if not found else
        f"holds {len(found)} renderers ({', '.join(str(f) for f in found[:3])}); pass one of them")
    raise ConfigError(path, "--checkpoint", problem)


def dataset_samples(dataset, renderer, class_names=None, num_frames: int = 12, max_bodies: int | None = None):
    """``(sample_id, label, lazy frames)`` for each clip of a :class:`~skeletonllm.skeleton.dataset.SkeletonDataset`.

    Ids are :func:`skeletonllm.train.tasks.sample_id` (the key CR-Distill looks rationales up
    by). Labels are ``class_names[label_id]`` when given (the split's canonical spelling),
    else the clip's own label. Frames are rendered by ``renderer.render_sequences`` only
    when the teacher is actually asked: ``(F, 3, H, W)`` in ``[0, 1]``.
    """
    from .tasks import sample_id

    for i in range(len(dataset)):
        seq = dataset[i]
        if class_names is not None and seq.label_id is not None:
            label = class_names[seq.label_id]
        else:
            label = seq.label
        yield sample_id(seq), label, (lambda s=seq: renderer.render_sequences([s], num_frames, max_bodies)[0])


def load_rationales(path: str | os.PathLike) -> dict[str, dict]:
    """``{sample_id: record}`` of a rationales file (for the CR-Distill trainer)."""
    return {str(r["id"]): r for r in RationaleCache(path).records()}
