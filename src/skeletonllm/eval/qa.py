"""Motion question answering: the benchmark file format, answer parsing and metrics.

Benchmark format: JSON Lines, one question per line (blank lines and lines starting with
``#`` are skipped)::

    {"id": "q1", "sample": "S001C001P001R001A001.skeleton", "question": "...",
     "type": "temporal", "options": ["...", "...", "...", "..."], "answer": 2}
    {"sample": "clips/42.npy", "question": "Why might ...?", "type": "causal",
     "reference": "To relieve a headache ..."}

* ``sample``: a skeleton file path (relative paths are relative to the benchmark file)
  or a dataset sample id; the caller decides how to load it.
* ``type``: one of ``temporal``, ``causal``, ``fine-grained``, ``contrastive``.
* multiple choice: ``options`` (exactly 4 strings) and ``answer`` (0-based index, a letter
  ``A``-``D``, or the text of one option);
* open answer: ``reference`` (a string or a list of strings).
* ``id`` is optional; the default is ``"line<N>"``.

Metrics (paper Appendix D): 4-option accuracy for multiple choice, ROUGE-L F1
(``rouge-score``, stemming on) and BertScore F1 for open answers; per type and overall.
A model answer whose choice cannot be parsed counts as wrong and is counted in
``unparsed``.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

from skeletonllm.errors import SkeletonLLMError

QA_TYPES = ("temporal", "causal", "fine-grained", "contrastive")
LETTERS = "ABCD"


class QAFormatError(SkeletonLLMError, ValueError):
    """A benchmark line is malformed; the message names the file and line."""

    def __init__(self, path, line: int | None, problem: str):
        self.path, self.line, self.problem = str(path), line, problem
        super().__init__(f"{path}, line {line}: {problem}" if line else f"{path}: {problem}")


@dataclass
class QAItem:
    id: str
    sample: str
    question: str
    type: str
    options: list[str] | None = None
    answer: int | None = None           # 0-based index into options
    reference: list[str] | None = None  # open-answer references
    line: int | None = None
    extra: dict = field(default_factory=dict)

    @property
    def is_choice(self) -> bool:
        return self.options is not None


def _parse_item(obj, path, line: int, base: Path | None) -> QAItem:
    def bad(problem):
        return QAFormatError(path, line, problem)

    if not isinstance(obj, dict):
        raise bad(f"expected a JSON object, got {type(obj).__name__}")
    for key in ("sample", "question", "type"):
        if not isinstance(obj.get(key), str) or not obj[key].strip():
            raise bad(f"'{key}' must be a non-empty string")
    qtype = obj["type"].strip().lower()
    if qtype not in QA_TYPES:
        raise bad(f"'type' is {obj['type']!r}; expected one of {', '.join(QA_TYPES)}")
    has_opts, has_ref = "options" in obj, "reference" in obj
    if has_opts == has_ref:
        raise bad("give either 'options' + 'answer' (multiple choice) or 'reference' (open answer)")
    sample = obj["sample"]
    if base is not None and not Path(sample).is_absolute() and (base / sample).exists():
        sample = str(base / sample)
    item = QAItem(id=str(obj.get("id", f"line{line}")), sample=sample, question=obj["question"],
                  type=qtype, line=line,
                  extra={k: v for k, v in obj.items()
                         if k not in ("id", "sample", "question", "type", "options", "answer", "reference")})
    if has_opts:
        opts = obj["options"]
        if not isinstance(opts, list) or len(opts) != 4 or not all(isinstance(o, str) and o.strip() for o in opts):
            raise bad("'options' must be a list of exactly 4 non-empty strings")
        if "answer" not in obj:
            raise bad("multiple-choice question without 'answer'")
        ans = obj["answer"]
        if isinstance(ans, bool) or not isinstance(ans, (int, str)):
            raise bad(f"'answer' must be an index 0-3, a letter A-D or an option's text; got {ans!r}")
        if isinstance(ans, int):
            if not 0 <= ans < 4:
                raise bad(f"'answer' index {ans} is outside 0-3")
            idx = ans
        elif ans.strip().upper() in LETTERS and len(ans.strip()) == 1:
            idx = LETTERS.index(ans.strip().upper())
        else:
            norm = [_norm(o) for o in opts]
            if _norm(ans) not in norm:
                raise bad(f"'answer' {ans!r} is neither a letter A-D nor one of the options")
            idx = norm.index(_norm(ans))
        item.options, item.answer = list(opts), idx
    else:
        ref = obj["reference"]
        refs = [ref] if isinstance(ref, str) else ref
        if not isinstance(refs, list) or not refs or not all(isinstance(r, str) and r.strip() for r in refs):
            raise bad("'reference' must be a non-empty string or list of strings")
        item.reference = list(refs)
    return item


def load_qa_benchmark(path: str | Path) -> list[QAItem]:
    """Read and validate a JSONL benchmark; raises :class:`QAFormatError` naming the line."""
    path = Path(path)
    items, seen = [], {}
    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as e:
            raise QAFormatError(path, lineno, f"not valid JSON ({e.msg} at column {e.colno})") from None
        item = _parse_item(obj, path, lineno, path.parent)
        if item.id in seen:
            raise QAFormatError(path, lineno, f"duplicate id {item.id!r} (first on line {seen[item.id]})")
        seen[item.id] = lineno
        items.append(item)
    if not items:
        raise QAFormatError(path, None, "no questions in file")
    return items


def _norm(s: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", s.lower()).split())


_MARKER = re.compile(r"(?i)\b(?:final\s+)?(?:answer|label|choice)\s*(?:is)?\s*[:=]\s*(.*)")
# "B", "B.", "(B)", "B)", "B: salute" at the start of the span.
_LEAD_LETTER = re.compile(r"^\s*[(\[]?([A-Da-d])(?:[)\].:]|\s*$)")
# A marked letter anywhere: "(B)", "B)", "[C]", "option D".
_MARKED_LETTER = re.compile(r"(?:[(\[]([A-D])[)\]]|(?:^|\s)([A-D])\)|\boption\s+([A-D])\b)", re.I)


def parse_choice(text: str, options: Sequence[str]) -> int | None:
    """The option (0-3) a model's free text chooses, or ``None`` if it cannot be told.

    The span searched is the text after the last ``Answer:`` / ``Label:`` / ``Choice:``
    marker if there is one (the model's reasoning may name the options it rejects), else
    the whole text. Evidence, in order: a leading letter (``B``, ``B.``, ``(B)``,
    ``B: salute``); the one option whose text appears in the span (when one option's
    text contains another's, the longer wins); a marked letter (``(C)``, ``option C``).
    Two different options named -> ``None``.
    """
    if len(options) != 4:
        raise ValueError("parse_choice expects 4 options")
    markers = list(_MARKER.finditer(text))
    span = markers[-1].group(1) if markers else text
    m = _LEAD_LETTER.match(span)
    if m:
        return LETTERS.index(m.group(1).upper())
    padded = f" {_norm(span)} "
    found = {i for i, o in enumerate(options) if f" {_norm(o)} " in padded}
    found = {i for i in found if not any(j != i and f" {_norm(options[i])} " in f" {_norm(options[j])} "
                                          and _norm(options[i]) != _norm(options[j]) for j in found)}
    if found:
        return found.pop() if len({_norm(options[i]) for i in found}) == 1 else None
    letters = {(a or b or c).upper() for a, b, c in _MARKED_LETTER.findall(span)}
    return LETTERS.index(letters.pop()) if len(letters) == 1 else None


def rouge_l_f1(predictions: Sequence[str], references: Sequence[Sequence[str]]) -> list[float]:
    """Sentence ROUGE-L F1 (``rouge-score``, Porter stemming); best over each item's references."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    return [max(scorer.score(r, p)["rougeL"].fmeasure for r in refs) for p, refs in zip(predictions, references)]


def qa_metrics(items: Sequence[QAItem], predictions: Mapping[str, str], bertscore=None) -> dict:
    """Per-type and overall QA metrics.

    Args:
        items: the benchmark (:func:`load_qa_benchmark`).
        predictions: item id -> the model's text answer. Every item needs one.
        bertscore: a :class:`~skeletonllm.eval.bertscore.BertScoreConfig` to score open
            answers, or ``None`` to skip BertScore (reported as not computed).

    Returns ``{"overall": {...}, "per_type": {type: {...}}, "bertscore": {...}}``; each
    group has ``mqa_accuracy``, ``mqa_count``, ``unparsed``, ``rouge_l``,
    ``bertscore_f1``, ``open_count`` (metrics of an empty group are ``None``).
    """
    missing = [it.id for it in items if it.id not in predictions]
    if missing:
        raise ValueError(f"qa_metrics: no prediction for ids {missing[:5]}{' ...' if len(missing) > 5 else ''}")
    choice = [it for it in items if it.is_choice]
    open_ = [it for it in items if not it.is_choice]
    correct, unparsed = {}, set()
    for it in choice:
        pick = parse_choice(predictions[it.id], it.options)
        unparsed.update([it.id] if pick is None else [])
        correct[it.id] = pick == it.answer
    rouge = dict(zip([it.id for it in open_],
                     rouge_l_f1([predictions[it.id] for it in open_], [it.reference for it in open_])))
    bs_f1, bs_info = {}, {"computed": False, "reason": "BertScore not requested"}
    if open_ and bertscore is not None:
        from skeletonllm.eval.bertscore import bert_score_metric

        bs_info = bert_score_metric([predictions[it.id] for it in open_], [it.reference for it in open_], bertscore)
        if bs_info["computed"]:
            bs_f1 = dict(zip([it.id for it in open_], bs_info.pop("f1_per_sample")))

    def group(sel: Sequence[QAItem]) -> dict:
        ch = [it for it in sel if it.is_choice]
        op = [it for it in sel if not it.is_choice]
        mean = (lambda xs: sum(xs) / len(xs) if xs else None)
        return {
            "mqa_accuracy": mean([float(correct[it.id]) for it in ch]), "mqa_count": len(ch),
            "unparsed": sum(it.id in unparsed for it in ch),
            "rouge_l": mean([rouge[it.id] for it in op]),
            "bertscore_f1": mean([bs_f1[it.id] for it in op]) if bs_f1 else None,
            "open_count": len(op),
        }

    return {"overall": group(items),
            "per_type": {t: group([it for it in items if it.type == t]) for t in QA_TYPES},
            "bertscore": bs_info}
