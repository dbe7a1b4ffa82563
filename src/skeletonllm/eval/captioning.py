"""Caption metrics for motion captioning (HumanML3D): BLEU@1-4, ROUGE-L and CIDEr-D.

One pinned implementation: the scorers of ``pycocoevalcap`` (the coco-caption code most
captioning papers report): ``Bleu(4)`` (corpus BLEU, "closest" reference length),
``Rouge`` (sentence ROUGE-L F-measure with beta = 1.2 over the best-matching reference,
averaged over samples) and ``Cider`` (coco-caption's CIDEr-D: clipped n-gram counts,
Gaussian length penalty sigma = 6, x10 scale, idf from the references of the evaluated
corpus, so a corpus of one sample scores 0).

coco-caption tokenises with Stanford's Java ``PTBTokenizer`` (``-preserveLines
-lowerCase``) and then drops a fixed set of punctuation tokens. Java is not a dependency
here, so :func:`ptb_tokenize` does the same job in pure Python:

1. lower-case; curly quotes become straight ones; newlines become spaces;
2. brackets ``()[]{}`` and double quotes are removed (PTB turns them into ``-LRB-``,
   `````` ...; coco-caption removes those);
3. English clitics are split off the word the way PTB does: ``don't -> do n't``,
   ``person's -> person 's`` (also ``'re 've 'll 'd 'm``); they are kept as tokens;
4. every whitespace-separated token loses its leading and trailing punctuation
   characters ``. , ; : ! ? ' ` " -`` (these are the characters of coco-caption's removal
   set ``'' ' `` ` . ? ! , : - -- ... ;``); tokens made only of them disappear;
5. punctuation inside a word stays: ``t-pose``, ``1.5``, ``left/right``.

Known differences from the Java tokenizer: a trailing abbreviation period is removed
(``e.g.`` -> ``e.g``; PTB keeps ``e.g.``), and symbols such as ``$ % &`` stay attached to
their word (PTB splits ``50%`` into ``50 %``). Neither occurs in HumanML3D captions often
enough to move a metric in the reported digits.

Scales: all values are returned as computed (BLEU and ROUGE-L in [0, 1], CIDEr-D on its
usual 0-10 scale). The paper prints them x100; :mod:`skeletonllm.eval.report` does that.
"""
from __future__ import annotations

import re
from typing import Hashable, Mapping, Sequence

# coco-caption's removal set (pycocoevalcap/tokenizer/ptbtokenizer.py), for reference.
PTB_PUNCTUATION = frozenset(["''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-",
                             ".", "?", "!", ",", ":", "-", "--", "...", ";"])
_EDGE_CHARS = ".,;:!?'`\"-"
_CLITICS = ("n't", "'s", "'re", "'ve", "'ll", "'d", "'m")
_CLITIC_RE = re.compile(r"(?<=\w)(n't|'s|'re|'ve|'ll|'d|'m)(?![\w'])")
_DROP_RE = re.compile(r"[()\[\]{}\"]")
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})


def ptb_tokenize(text: str) -> str:
    """Tokenise one caption as coco-caption's PTB step would; returns space-joined tokens."""
    text = text.translate(_QUOTES).lower().replace("\r", " ").replace("\n", " ")
    text = _DROP_RE.sub(" ", text)
    text = _CLITIC_RE.sub(r" \1", text)
    tokens = []
    for tok in text.split():
        if tok not in _CLITICS:
            tok = tok.strip(_EDGE_CHARS)
        if tok:
            tokens.append(tok)
    return " ".join(tokens)


def _check_inputs(predictions: Mapping, references: Mapping) -> None:
    if not predictions:
        raise ValueError("caption_metrics: no predictions given")
    missing = [k for k in predictions if k not in references]
    if missing:
        raise ValueError(f"caption_metrics: no references for ids {missing[:5]}"
                         f"{' ...' if len(missing) > 5 else ''}")
    for k in predictions:
        refs = references[k]
        if isinstance(refs, str) or not isinstance(refs, Sequence) or len(refs) == 0:
            raise ValueError(f"caption_metrics: references[{k!r}] must be a non-empty list of strings")
        if not isinstance(predictions[k], str):
            raise ValueError(f"caption_metrics: predictions[{k!r}] must be a string")


def caption_metrics(predictions: Mapping[Hashable, str],
                    references: Mapping[Hashable, Sequence[str]],
                    per_sample: bool = False) -> dict:
    """BLEU@1-4, ROUGE-L and CIDEr-D of ``predictions`` against ``references``.

    Args:
        predictions: sample id -> generated caption.
        references: sample id -> list of reference captions (ids absent from
            ``predictions`` are ignored; every predicted id must have references).
        per_sample: also return per-sample ROUGE-L and CIDEr-D lists (in id order).

    Returns:
        ``{"bleu1", "bleu2", "bleu3", "bleu4", "rouge_l", "cider_d", "num_samples"}``
        (plus ``"ids"``, ``"rouge_l_per_sample"``, ``"cider_d_per_sample"`` if asked).
    """
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    _check_inputs(predictions, references)
    ids = list(predictions)
    # pycocoevalcap keys by id and asserts res.keys() == gts.keys(); use positions.
    res = {i: [ptb_tokenize(predictions[k])] for i, k in enumerate(ids)}
    gts = {i: [ptb_tokenize(r) for r in references[k]] for i, k in enumerate(ids)}

    bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    rouge, rouge_each = Rouge().compute_score(gts, res)
    cider, cider_each = Cider().compute_score(gts, res)
    out = {
        "bleu1": float(bleu[0]), "bleu2": float(bleu[1]),
        "bleu3": float(bleu[2]), "bleu4": float(bleu[3]),
        "rouge_l": float(rouge), "cider_d": float(cider),
        "num_samples": len(ids),
    }
    if per_sample:
        out["ids"] = ids
        out["rouge_l_per_sample"] = [float(x) for x in rouge_each]
        out["cider_d_per_sample"] = [float(x) for x in cider_each]
    return out


def captioning_metrics_all(predictions: Mapping[Hashable, str],
                           references: Mapping[Hashable, Sequence[str]],
                           motions: Mapping[Hashable, object] | None = None,
                           evaluator=None, tagger=None, bertscore=None,
                           group_size: int = 32, repeats: int = 20, seed: int = 0) -> dict:
    """Every captioning metric of the paper's Table 3, shaped for a results file.

    Args:
        predictions / references: as for :func:`caption_metrics`.
        motions: sample id -> HumanML3D 263-d features ``(T, 263)`` (for R-precision and
            MM-Dist); with ``evaluator`` (:func:`~skeletonllm.eval.t2m_evaluator.load_t2m_evaluator`)
            and an optional POS ``tagger``.
        bertscore: a :class:`~skeletonllm.eval.bertscore.BertScoreConfig`, or ``None`` to skip.

    Returns ``{"metrics": {...}, "not_computed": {metric: reason}}``: the ``metrics`` and
    ``not_computed`` fields of a ``"captioning"`` result (:mod:`skeletonllm.eval.report`).
    """
    ids = list(predictions)
    text = caption_metrics(predictions, references)
    metrics = {k: text[k] for k in ("bleu1", "bleu2", "bleu3", "bleu4", "rouge_l", "cider_d")}
    not_computed: dict[str, str] = {}

    if bertscore is None:
        metrics["bertscore_f1"] = None
        not_computed["bertscore_f1"] = "BertScore not requested"
    else:
        from skeletonllm.eval.bertscore import bert_score_metric

        bs = bert_score_metric([predictions[k] for k in ids], [list(references[k]) for k in ids], bertscore)
        metrics["bertscore_f1"] = bs["f1"]
        if not bs["computed"]:
            not_computed["bertscore_f1"] = bs["reason"]

    t2m_keys = ("r_precision_top1", "r_precision_top2", "r_precision_top3", "mm_dist")
    if motions is None:
        metrics.update({k: None for k in t2m_keys})
        not_computed.update({k: "no motions given for the text-to-motion evaluator" for k in t2m_keys})
    else:
        from skeletonllm.eval.t2m_evaluator import t2m_caption_metrics

        missing = [k for k in ids if k not in motions]
        if missing:
            raise ValueError(f"captioning_metrics_all: no motion for ids {missing[:5]}")
        tm = t2m_caption_metrics([predictions[k] for k in ids], [motions[k] for k in ids], evaluator, tagger,
                                 group_size, repeats, seed)
        for k in t2m_keys:
            metrics[k] = tm[k]
            if tm["computed"]:
                metrics[k + "_ci95"] = tm[k + "_ci95"]
            else:
                not_computed[k] = tm["reason"]
    return {"metrics": metrics, "not_computed": not_computed, "num_samples": len(ids)}
