"""Results files and the Markdown report that sets them beside the paper's numbers.

Results JSON schema (version 1)
===============================
A results file holds one JSON object, or a list of them. Every object has:

=================  =====================================================================
``task``           ``"recognition"``, ``"transfer"``, ``"captioning"`` or ``"qa"`` (required)
``method``         row label in the report (default ``"SkeletonLLM (this run)"``)
``dataset``        the evaluation dataset, e.g. ``"NTU-60"``, ``"HumanML3D"``
``num_samples``    how many samples were evaluated (required for recognition/transfer)
``settings``       free-form object: backbone, checkpoint, renderer, frames, resolution ...
``seed``           integer seed of the run
``created``        optional ISO-8601 time stamp
``schema_version`` optional; if present it must be 1
=================  =====================================================================

All accuracies and scores are stored as computed: accuracies, R-precision, BLEU, ROUGE-L
and BertScore as **fractions** (0.6472, not 64.72), CIDEr-D as coco-caption returns it;
the report prints all of them x100 as the paper does. MM-Dist is a distance, printed raw.

``recognition``
    ``split`` (required): a split id of ``zero_shot_splits.json`` (``ntu60_55_5``,
    ``ntu60_48_12``, ``ntu60_40_20``, ``ntu60_30_30``, ``ntu120_110_10``, ``ntu120_96_24``,
    ``ntu120_80_40``, ``ntu120_60_60``, ``pku51_46_5``, ``pku51_39_12``) or any other name
    (listed in a separate table); ``protocol``: ``"xsub"`` / ``"xview"`` / ``"xset"``
    (PKU-MMD needs it; NTU defaults to the paper's setting); ``top1`` (required);
    ``top5`` (optional, from likelihood ranking over more than 5 candidates);
    ``unmatched``: answers whose ``Label:`` matched no candidate; ``per_class``:
    ``{class name: {"top1": float, "num_samples": int}}``.
``transfer``
    ``source`` and ``target`` (required; dataset names as in the paper: ``"NTU-60"``,
    ``"NW-UCLA"``, ``"HumanML3D"``, ``"NTU-60 (2D)"``), ``source_format`` /
    ``target_format`` (topology names, optional), then ``top1``, ``unmatched``,
    ``per_class`` as for recognition.
``captioning``
    ``source``: the training data (optional, e.g. ``"NTU-60"``); ``metrics``: any of
    ``bleu4``, ``rouge_l``, ``cider_d``, ``bertscore_f1``, ``r_precision_top1``,
    ``r_precision_top3``, ``mm_dist`` (numbers, or ``null`` when not computed);
    ``not_computed``: ``{metric: reason}``.
``qa``
    ``metrics``: what :func:`skeletonllm.eval.qa.qa_metrics` returns
    (``{"overall": {...}, "per_type": {"temporal": {...}, ...}}``).

Example::

    {"task": "recognition", "method": "SkeletonLLM (tiny, CPU)", "dataset": "NTU-60",
     "split": "ntu60_48_12", "top1": 0.41, "num_samples": 120, "unmatched": 3,
     "per_class": {"drink water": {"top1": 0.5, "num_samples": 10}},
     "settings": {"backbone": "tiny-internvl"}, "seed": 0}
"""
from __future__ import annotations

import json
import math
import os
import statistics
from collections import OrderedDict
from pathlib import Path
from typing import Iterable, Sequence

from skeletonllm.atomic import atomic_write_text
from skeletonllm.errors import ConfigError
from skeletonllm.eval import paper_tables as pt

TASKS = ("recognition", "transfer", "captioning", "qa")
DEFAULT_METHOD = "SkeletonLLM (this run)"
PROTOCOLS = ("xsub", "xview", "xset")
CAPTION_METRICS = pt.CAPTION_COLUMNS
# Multiplier from the stored value to the paper's printed unit (x100 unless listed).
_SCALE = {"mm_dist": 1.0}
_LABELS = {"r_precision_top1": "R@1", "r_precision_top3": "R@3", "mm_dist": "MM-Dist",
           "bleu4": "BLEU@4", "rouge_l": "ROUGE-L", "cider_d": "CIDEr", "bertscore_f1": "BertScore",
           "temporal": "Temporal", "causal": "Causal", "fine-grained": "Fine-grained",
           "contrastive": "Contrastive"}


class ResultsFormatError(ConfigError):
    """A results file does not follow the schema; the message names file and key."""


# ---------------------------------------------------------------------------------------
# Validation, reading, writing
# ---------------------------------------------------------------------------------------


def _fraction(obj: dict, key: str, source, required: bool) -> None:
    if key not in obj or obj[key] is None:
        if required:
            raise ResultsFormatError(source, key, "missing")
        return
    v = obj[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 <= v <= 1.0:
        raise ResultsFormatError(source, key, f"must be a fraction in [0, 1]; got {v!r}")


def _count(obj: dict, key: str, source, required: bool) -> None:
    if key not in obj:
        if required:
            raise ResultsFormatError(source, key, "missing")
        return
    v = obj[key]
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise ResultsFormatError(source, key, f"must be a non-negative integer; got {v!r}")


def _string(obj: dict, key: str, source, required: bool) -> None:
    if key not in obj:
        if required:
            raise ResultsFormatError(source, key, "missing")
        return
    if not isinstance(obj[key], str) or not obj[key].strip():
        raise ResultsFormatError(source, key, f"must be a non-empty string; got {obj[key]!r}")


def _per_class(obj: dict, source) -> None:
    pc = obj.get("per_class")
    if pc is None:
        return
    if not isinstance(pc, dict):
        raise ResultsFormatError(source, "per_class", "must be an object {class name: {top1, num_samples}}")
    for name, v in pc.items():
        if not isinstance(v, dict):
            raise ResultsFormatError(source, f"per_class.{name}", "must be an object with top1 and num_samples")
        _fraction(v, "top1", f"{source} (per_class.{name})", True)
        _count(v, "num_samples", f"{source} (per_class.{name})", True)


def validate_result(obj, source: str | os.PathLike = "<result>") -> dict:
    """Check one result object against the schema; return it with defaults filled in."""
    if not isinstance(obj, dict):
        raise ResultsFormatError(source, "<root>", f"expected an object, got {type(obj).__name__}")
    if obj.get("schema_version", 1) != 1:
        raise ResultsFormatError(source, "schema_version", f"unsupported version {obj['schema_version']!r}")
    task = obj.get("task")
    if task not in TASKS:
        raise ResultsFormatError(source, "task", f"must be one of {', '.join(TASKS)}; got {task!r}")
    for key in ("method", "dataset", "created"):
        _string(obj, key, source, False)
    if "settings" in obj and not isinstance(obj["settings"], dict):
        raise ResultsFormatError(source, "settings", "must be an object")
    if "seed" in obj and (isinstance(obj["seed"], bool) or not isinstance(obj["seed"], int)):
        raise ResultsFormatError(source, "seed", f"must be an integer; got {obj['seed']!r}")
    if task in ("recognition", "transfer"):
        _fraction(obj, "top1", source, True)
        _fraction(obj, "top5", source, False)
        _count(obj, "num_samples", source, True)
        _count(obj, "unmatched", source, False)
        _per_class(obj, source)
    if task == "recognition":
        _string(obj, "split", source, True)
        if "protocol" in obj and obj["protocol"] not in PROTOCOLS:
            raise ResultsFormatError(source, "protocol", f"must be one of {', '.join(PROTOCOLS)}; got {obj['protocol']!r}")
    elif task == "transfer":
        for key in ("source", "target"):
            _string(obj, key, source, True)
        for key in ("source_format", "target_format"):
            _string(obj, key, source, False)
    elif task == "captioning":
        metrics = obj.get("metrics")
        if not isinstance(metrics, dict) or not metrics:
            raise ResultsFormatError(source, "metrics", "must be a non-empty object of caption metrics")
        for k, v in metrics.items():
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)):
                raise ResultsFormatError(source, f"metrics.{k}", f"must be a number or null; got {v!r}")
        nc = obj.get("not_computed", {})
        if not isinstance(nc, dict) or not all(isinstance(v, str) for v in nc.values()):
            raise ResultsFormatError(source, "not_computed", "must be an object {metric: reason}")
    elif task == "qa":
        metrics = obj.get("metrics")
        if not isinstance(metrics, dict) or not isinstance(metrics.get("overall"), dict) \
                or not isinstance(metrics.get("per_type"), dict):
            raise ResultsFormatError(source, "metrics", "must hold 'overall' and 'per_type' objects (see qa_metrics)")
    out = dict(obj)
    out.setdefault("method", DEFAULT_METHOD)
    return out


def load_results(path: str | os.PathLike) -> list[dict]:
    """Read one results file (an object or a list of objects) and validate every entry."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResultsFormatError(path, "<file>", "file not found") from None
    except json.JSONDecodeError as e:
        raise ResultsFormatError(path, "<file>", f"not valid JSON ({e.msg}, line {e.lineno})") from None
    items = data if isinstance(data, list) else [data]
    if not items:
        raise ResultsFormatError(path, "<root>", "empty list")
    out = []
    for i, obj in enumerate(items):
        src = f"{path} [entry {i}]" if isinstance(data, list) else path
        r = validate_result(obj, src)
        r["_source"] = str(path)
        out.append(r)
    return out


def save_result(path: str | os.PathLike, result: dict | Sequence[dict]) -> None:
    """Validate and write results atomically (pretty-printed JSON)."""
    items = [result] if isinstance(result, dict) else list(result)
    for i, r in enumerate(items):
        validate_result(r, f"{path} [entry {i}]")
    payload = items[0] if isinstance(result, dict) else items
    atomic_write_text(path, json.dumps(payload, indent=2, sort_keys=False) + "\n")


# ---------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------


def _key(name: str) -> str:
    """Dataset names compare without case, spaces or hyphens: "NW-UCLA" == "nw ucla"."""
    return "".join(ch for ch in name.lower() if ch.isalnum() or ch in "()")


def _cell(values: list[float], scale: float = 100.0) -> str:
    if not values:
        return "–"
    vals = [v * scale for v in values]
    if len(vals) == 1:
        return f"{vals[0]:.2f}"
    return f"{statistics.mean(vals):.2f} ± {statistics.stdev(vals):.2f} (n={len(vals)})"


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _paper_rows(table: pt.PaperTable, paper_rows: str) -> list[str]:
    if paper_rows == "none":
        return []
    if paper_rows == "all":
        return list(table.rows)
    return [pt.FULL_MODEL_ROW[table.number]]


def _grouped(results: list[dict], key) -> "OrderedDict":
    groups: OrderedDict = OrderedDict()
    for r in results:
        groups.setdefault(key(r), []).append(r)
    return groups


def _recognition_section(results: list[dict], paper_rows: str, table_no: int) -> list[str]:
    out = []
    ntu = [r for r in results if r["split"] in pt.NTU_SPLITS]
    pku = [r for r in results if r["split"] in ("pku51_46_5", "pku51_39_12")]
    other = [r for r in results if r not in ntu and r not in pku and r["split"] not in pt.SUGAR_PROTOCOL_SPLITS]
    if ntu:
        table = pt.RECOGNITION_TABLES[table_no]
        header = ["Method"] + [pt.SPLIT_LABELS[s] for s in pt.NTU_SPLITS]
        rows = []
        for name in _paper_rows(table, paper_rows):
            cells = dict(zip(table.columns, table.formatted(name)))
            rows.append([f"{name} — paper Table {table_no}"] + [cells.get(s, "–") for s in pt.NTU_SPLITS])
        # Different protocols (e.g. X-sub vs X-set) of one method are different rows.
        label = (lambda r: r["method"] + (f" [{r['protocol']}]" if r.get("protocol") else ""))
        for method, rs in _grouped(ntu, label).items():
            rows.append([method] + [_cell([r["top1"] for r in rs if r["split"] == s]) for s in pt.NTU_SPLITS])
        out += [f"## Open-vocabulary recognition, NTU-60 / NTU-120 (top-1 %, layout of paper Table 1)",
                "", _table(header, rows), ""]
    if pku:
        table = pt.TABLE9
        header = ["Method"] + [f"{p.capitalize()} {pt.SPLIT_LABELS[s].split()[-1]}" for s, p in pt.PKU_COLUMNS]
        rows = [[f"{name} — paper Table 9"] + table.formatted(name)
                for name in _paper_rows(table, paper_rows)]
        for method, rs in _grouped(pku, lambda r: r["method"]).items():
            rows.append([method] + [_cell([r["top1"] for r in rs if r["split"] == s and r.get("protocol") == p])
                                    for s, p in pt.PKU_COLUMNS])
        out += ["## Open-vocabulary recognition, PKU-MMD (top-1 %, layout of paper Table 9)", "",
                _table(header, rows), ""]
        if any(r.get("protocol") not in ("xsub", "xview") for r in pku):
            out += ["PKU-MMD results without protocol xsub/xview are not shown above.", ""]
    if other:
        rows = [[m, s, _cell([r["top1"] for r in rs]), str(sum(r["num_samples"] for r in rs))]
                for (m, s), rs in _grouped(other, lambda r: (r["method"], r["split"])).items()]
        out += ["## Recognition on other splits (top-1 %)", "",
                _table(["Method", "Split", "Top-1", "Samples"], rows), ""]
    return out


def _transfer_section(results: list[dict], paper_rows: str) -> list[str]:
    rows = []
    for (src, tgt), rs in _grouped(results, lambda r: (_key(r["source"]), _key(r["target"]))).items():
        s_name, t_name = rs[0]["source"], rs[0]["target"]
        for key in pt.TABLE2.rows:
            ps, ptg, method = key
            if (_key(ps), _key(ptg)) == (src, tgt) and (paper_rows == "all" or
                                                         (paper_rows == "ours" and method == pt.OURS)):
                rows.append([ps, ptg, f"{method} — paper Table 2", pt.TABLE2.formatted(key)[0], ""])
        for method, ms in _grouped(rs, lambda r: r["method"]).items():
            rows.append([s_name, t_name, method, _cell([r["top1"] for r in ms]),
                         str(sum(r["num_samples"] for r in ms))])
    return ["## Cross-format transfer, no finetuning (top-1 %, layout of paper Table 2)", "",
            _table(["Training", "Testing", "Method", "Top-1", "Samples"], rows), ""]


def _captioning_section(results: list[dict], paper_rows: str) -> list[str]:
    header = ["Method"] + [_LABELS[c] for c in CAPTION_METRICS]
    rows = [[f"{name} — paper Table 3"] + pt.TABLE3.formatted(name)
            for name in _paper_rows(pt.TABLE3, paper_rows)]
    reasons: dict[str, str] = {}
    for method, rs in _grouped(results, lambda r: r["method"]).items():
        row = [method]
        for c in CAPTION_METRICS:
            vals = [r["metrics"][c] for r in rs if r["metrics"].get(c) is not None]
            if vals:
                row.append(_cell(vals, _SCALE.get(c, 100.0)))
            else:
                row.append("n/c")
                why = next((r.get("not_computed", {}).get(c) for r in rs if r.get("not_computed", {}).get(c)), None)
                reasons[_LABELS[c]] = why or "not in the results file"
        rows.append(row)
    out = ["## Motion captioning on HumanML3D (layout of paper Table 3; x100 except MM-Dist)", "",
           _table(header, rows), ""]
    if reasons:
        out += ["n/c = not computed: " + "; ".join(f"{k}: {v}" for k, v in reasons.items()), ""]
    return out


def _qa_section(results: list[dict], paper_rows: str) -> list[str]:
    cols = pt.TABLE15.columns
    header = ["Method"] + [_LABELS[c] for c in cols]
    rows = [[f"{name} — paper Table 15"] + pt.TABLE15.formatted(name)
            for name in _paper_rows(pt.TABLE15, paper_rows)]
    for method, rs in _grouped(results, lambda r: r["method"]).items():
        row = [method]
        for c in cols:
            if c in pt.QA_TYPES:
                vals = [r["metrics"]["per_type"].get(c, {}).get("mqa_accuracy") for r in rs]
            else:
                vals = [r["metrics"]["overall"].get(c) for r in rs]
            vals = [v for v in vals if v is not None]
            row.append(_cell(vals) if vals else "n/c")
        rows.append(row)
    return ["## Motion QA (MQA accuracy % per type; open answers ROUGE-L / BertScore x100; "
            "layout of paper Table 15)", "", _table(header, rows), ""]


def _uses_sugar(results: list[dict]) -> bool:
    return any(r.get("split") in pt.SUGAR_PROTOCOL_SPLITS or (r.get("settings") or {}).get("model") == "SugarModel"
               for r in results)


def _sugar_section(results: list[dict], paper_rows: str) -> list[str]:
    """The SUGAR paper's main and zero-shot tables beside our results on its protocols, then its ablations."""
    def paper(table):
        if paper_rows == "none":
            return []
        return list(table.rows) if paper_rows == "all" else [pt.SUGAR_OURS]

    ours = [r for r in results if r["split"] in pt.SUGAR_PROTOCOL_SPLITS]
    main = pt.SUGAR_MAIN
    rows = [[f"{n} — SUGAR paper"] + main.formatted(n) for n in paper(main)]
    for method, rs in _grouped([r for r in ours if r["split"] in main.columns], lambda r: r["method"]).items():
        rows.append([method] + [_cell([r["top1"] for r in rs if r["split"] == c]) for c in main.columns])
    out = ["## SUGAR protocols: supervised recognition (top-1 %, layout of the SUGAR paper's main table)", "",
           _table(["Method"] + [pt.SUGAR_COLUMN_LABELS[c] for c in main.columns], rows), "",
           f"Note: {main.note}. Toyota Smarthome has no loader in this library.", ""]
    zs = pt.SUGAR_ZERO_SHOT
    rows = [[f"{n} — SUGAR paper"] + zs.formatted(n) for n in paper(zs)]
    for method, rs in _grouped([r for r in ours if r["split"] in ("sugar_p1", "sugar_p2")],
                               lambda r: r["method"]).items():
        rows.append([method] + [_cell([r[k] for r in rs if r["split"] == split and r.get(k) is not None])
                                for split, k in zs.columns])
    header = ["Method"] + [f"{pt.SUGAR_COLUMN_LABELS[s]} {k.replace('top', 'top-')}" for s, k in zs.columns]
    out += ["## SUGAR protocols: zero-shot recognition (top-1 / top-5 %; top-5 from likelihood ranking)", "",
            _table(header, rows), ""]
    if paper_rows != "none":
        for table in (pt.SUGAR_KNOWLEDGE, pt.SUGAR_BRIDGE):
            out += [f"## SUGAR paper: {table.title}", "",
                    _table(["Variant", "Accuracy"], [[n] + table.formatted(n) for n in table.rows]), "",
                    f"({table.note}.)", ""]
    return out


def render_report(results: Sequence[dict], paper_rows: str = "ours", recognition_table: int = 1) -> str:
    """Markdown tables of ``results`` (validated dicts) in the paper's layouts.

    ``paper_rows``: ``"ours"`` (the paper's full SkeletonLLM row), ``"all"`` (every row of
    the paper table) or ``"none"``. ``recognition_table``: which paper table (1, 4, 5, 7
    or 8; same split columns) supplies the comparison rows for NTU recognition.
    """
    if paper_rows not in ("ours", "all", "none"):
        raise ValueError(f"paper_rows must be 'ours', 'all' or 'none'; got {paper_rows!r}")
    if recognition_table not in pt.RECOGNITION_TABLES:
        raise ValueError(f"recognition_table must be one of {sorted(pt.RECOGNITION_TABLES)}")
    by_task = {t: [r for r in results if r["task"] == t] for t in TASKS}
    out: list[str] = ["# SkeletonLLM results", ""]
    if by_task["recognition"]:
        out += _recognition_section(by_task["recognition"], paper_rows, recognition_table)
    if _uses_sugar(by_task["recognition"]):
        out += _sugar_section(by_task["recognition"], paper_rows)
    if by_task["transfer"]:
        out += _transfer_section(by_task["transfer"], paper_rows)
    if by_task["captioning"]:
        out += _captioning_section(by_task["captioning"], paper_rows)
    if by_task["qa"]:
        out += _qa_section(by_task["qa"], paper_rows)
    sources = sorted({r.get("_source", "<memory>") for r in results})
    out += [f"Rows marked 'paper' are the figures printed in the SkeletonLLM paper (or, marked so, the SUGAR "
            f"paper); the others come "
            f"from {', '.join(sources)}. Several results for one cell are shown as mean ± std (n)."]
    return "\n".join(out) + "\n"
