"""BertScore through the ``bert-score`` package, with an honest "not computed".

Default: ``roberta-large``, layer 17 (bert-score's choice for English), F1 rescaled with
bert-score's published English baseline, as motion-captioning papers report it. Any
local Hugging Face model directory works too: give ``model_type=<dir>`` and
``num_layers`` (how many transformer layers to keep; the last kept layer's token
embeddings are compared).

When the weights cannot be had (no network, nothing cached, a directory that does not
exist) the result says so: ``{"f1": None, "computed": False, "reason": ...}``. A score of
0 would be read as a real, terrible score.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence


@dataclass
class BertScoreConfig:
    model_type: str = "roberta-large"   # hub id or local model directory
    num_layers: int | None = None       # None: bert-score's tuned layer for known models
    lang: str = "en"
    rescale_with_baseline: bool = True
    baseline_path: str | None = None    # custom baseline .tsv (needed to rescale a local model)
    idf: bool = False
    batch_size: int = 32
    device: str | None = None           # None: cuda if available, else cpu
    local_files_only: bool = False      # never touch the network (use the HF cache only)


def not_computed(reason: str) -> dict:
    return {"precision": None, "recall": None, "f1": None, "computed": False, "reason": reason}


def _looks_like_path(name: str) -> bool:
    # A hub id is "name" or "org/name"; anything else is meant as a directory.
    return name.startswith((".", "/", "~")) or name.count("/") > 1 or "\\" in name


def _resolve(config: BertScoreConfig) -> tuple[str, int, str | None] | str:
    """(model_type, num_layers, baseline_path) or a reason string why it cannot run."""
    from bert_score.utils import model2layers

    model_type = config.model_type
    local = Path(os.path.expanduser(model_type))
    is_dir = local.is_dir()
    if not is_dir and _looks_like_path(model_type):
        return f"BertScore model directory {model_type} does not exist"
    if is_dir:
        model_type = str(local)
    # A local copy of a known model (".../roberta-large") keeps its tuned layer and baseline.
    known = local.name if is_dir else model_type
    num_layers = config.num_layers
    if num_layers is None:
        if known not in model2layers:
            return (f"BertScore: num_layers must be given for model {config.model_type!r} "
                    f"(bert-score has no tuned layer for it)")
        num_layers = model2layers[known]
    baseline = None
    if config.rescale_with_baseline:
        import bert_score

        baseline = config.baseline_path or os.path.join(
            os.path.dirname(bert_score.__file__), "rescale_baseline", config.lang, f"{known}.tsv")
        if not os.path.isfile(baseline):
            # bert-score would only print a warning and return unrescaled numbers.
            return (f"BertScore: no rescaling baseline for {known!r} in language {config.lang!r} "
                    f"({baseline}); pass baseline_path or rescale_with_baseline=False")
    return model_type, num_layers, baseline


def bert_score_metric(candidates: Sequence[str],
                      references: Sequence[str] | Sequence[Sequence[str]],
                      config: BertScoreConfig | None = None) -> dict:
    """Corpus-mean BertScore P/R/F1 of ``candidates`` against ``references``.

    ``references[i]`` is one string or a list of strings (the best-scoring reference
    counts, as in bert-score). Returns ``{"precision", "recall", "f1", "f1_per_sample",
    "computed": True, "model_type", "num_layers", "rescaled"}`` or, when the model is not
    available, :func:`not_computed` with the reason.
    """
    config = config or BertScoreConfig()
    if len(candidates) != len(references):
        raise ValueError(f"bert_score_metric: {len(candidates)} candidates but {len(references)} references")
    if len(candidates) == 0:
        raise ValueError("bert_score_metric: nothing to score")
    refs = [[r] if isinstance(r, str) else list(r) for r in references]
    if any(len(r) == 0 for r in refs):
        raise ValueError("bert_score_metric: every candidate needs at least one reference")

    resolved = _resolve(config)
    if isinstance(resolved, str):
        return not_computed(resolved)
    model_type, num_layers, baseline = resolved

    from transformers import AutoConfig

    try:  # cheap availability probe before bert-score loads tokenizer and weights
        AutoConfig.from_pretrained(model_type, local_files_only=config.local_files_only)
    except OSError as e:
        return not_computed(f"BertScore model {config.model_type!r} is not available: {str(e).splitlines()[0]}")

    import bert_score

    try:
        p, r, f = bert_score.score(
            list(candidates), refs, model_type=model_type, num_layers=num_layers,
            lang=config.lang, idf=config.idf, batch_size=config.batch_size,
            device=config.device or ("cuda" if _cuda() else "cpu"), rescale_with_baseline=baseline is not None,
            baseline_path=baseline, use_fast_tokenizer=True)
    except OSError as e:  # weights missing although the config was found
        return not_computed(f"BertScore model {config.model_type!r} could not be loaded: {str(e).splitlines()[0]}")
    return {
        "precision": float(p.mean()), "recall": float(r.mean()), "f1": float(f.mean()),
        "f1_per_sample": [float(x) for x in f], "computed": True,
        "model_type": config.model_type, "num_layers": num_layers, "rescaled": baseline is not None,
    }


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()
