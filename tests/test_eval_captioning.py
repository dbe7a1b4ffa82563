import math

import pytest

from skeletonllm.eval.captioning import caption_metrics, ptb_tokenize

# A small corpus in HumanML3D style (several references per motion).
PRED = {
    "m1": "a person walks forward and then turns around",
    "m2": "a man kicks with his left leg",
    "m3": "someone jumps up and down twice",
    "m4": "the person waves the right hand above the head",
    "m5": "a person sits down on a chair slowly",
    "m6": "a figure runs in a circle",
}
REFS = {
    "m1": ["a person walks forward then turns around and walks back", "the man walks forward and turns"],
    "m2": ["a man kicks something with his left leg", "he is kicking with the left foot"],
    "m3": ["a person jumps up and down", "someone hops in place twice", "the person jumps twice"],
    "m4": ["a person waves with the right hand", "someone raises the right hand and waves it"],
    "m5": ["a person slowly sits down", "the man sits on a chair"],
    "m6": ["a person runs in a circle", "someone jogs around in a circle clockwise"],
}


def test_tokenizer_lowercases_splits_clitics_and_drops_ptb_punctuation():
    assert ptb_tokenize("A man walks forward, then turns.") == "a man walks forward then turns"
    assert ptb_tokenize("He doesn't stop; the person's arm (left) swings...") == \
        "he does n't stop the person 's arm left swings"
    assert ptb_tokenize('"Quoted" T-pose at 1.5 m -- ok?!') == "quoted t-pose at 1.5 m ok"
    assert ptb_tokenize("It\u2019s \u201cfine\u201d") == "it 's fine"
    assert ptb_tokenize(" ... ") == ""


def test_identical_caption_scores_one():
    m = caption_metrics({"a": "A man walks forward slowly."}, {"a": ["a man walks forward slowly"]})
    assert m["bleu4"] == pytest.approx(1.0, abs=1e-6)
    assert m["rouge_l"] == pytest.approx(1.0)
    assert m["num_samples"] == 1


def test_rouge_l_hand_computed_beta_1_2():
    # LCS("a person walks forward", "the person quickly walks forward then stops") = "person walks forward" = 3
    cand, ref = "a person walks forward", "the person quickly walks forward then stops"
    p, r, beta = 3 / 4, 3 / 7, 1.2
    expected = (1 + beta**2) * p * r / (r + beta**2 * p)
    assert expected == pytest.approx(0.519886, abs=1e-6)
    assert caption_metrics({0: cand}, {0: [ref]})["rouge_l"] == pytest.approx(expected, abs=1e-9)


def test_bleu4_brevity_penalty():
    # The candidate is the first 6 of the reference's 8 tokens: every n-gram precision is 1,
    # so BLEU-4 is just the brevity penalty exp(1 - r/c) = exp(1 - 8/6).
    ref = "a person walks forward and then sits down"
    cand = "a person walks forward and then"
    m = caption_metrics({0: cand}, {0: [ref]})
    assert m["bleu4"] == pytest.approx(math.exp(1 - 8 / 6), rel=1e-6)
    assert m["bleu1"] == pytest.approx(math.exp(1 - 8 / 6), rel=1e-6)


def test_cider_d_perfect_and_single_sample():
    # Two motions with disjoint vocabularies, each candidate equal to its only reference:
    # every n-gram has document frequency 1, cosine similarity 1 for n = 1..4 -> 10.
    m = caption_metrics({1: "a man walks forward", 2: "someone jumps very high"},
                        {1: ["a man walks forward"], 2: ["someone jumps very high"]})
    assert m["cider_d"] == pytest.approx(10.0)
    # CIDEr-D's idf comes from the evaluated corpus: one sample gives idf 0 everywhere.
    assert caption_metrics({1: "a man walks"}, {1: ["a man walks"]})["cider_d"] == 0.0
    good = caption_metrics(PRED, REFS)["cider_d"]
    bad = caption_metrics({k: "the sky is blue today" for k in PRED}, REFS)["cider_d"]
    assert good > 0.3 > bad


def test_bleu_agrees_with_sacrebleu_on_tokenised_corpus():
    sacrebleu = pytest.importorskip("sacrebleu")
    ids = list(PRED)
    hyps = [ptb_tokenize(PRED[i]) for i in ids]
    nref = max(len(REFS[i]) for i in ids)
    # sacrebleu wants reference *streams*; pad missing references with None.
    streams = [[ptb_tokenize(REFS[i][k]) if k < len(REFS[i]) else None for i in ids] for k in range(nref)]
    ref_bleu = sacrebleu.corpus_bleu(hyps, streams, tokenize="none", smooth_method="none", force=True)
    ours = caption_metrics(PRED, REFS)
    assert ours["bleu4"] * 100 == pytest.approx(ref_bleu.score, abs=1e-4)
    for n in range(4):
        assert ours[f"bleu{n + 1}"] == pytest.approx(_bleu_n(ref_bleu, n + 1), abs=1e-6)


def _bleu_n(b, n):
    # Cumulative BLEU-n from sacrebleu's statistics, same brevity penalty.
    logs = [math.log(b.counts[k] / b.totals[k]) for k in range(n)]
    return b.bp * math.exp(sum(logs) / n)


def test_rouge_l_agrees_with_rouge_score_lcs():
    rouge_scorer = pytest.importorskip("rouge_score.rouge_scorer")
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    ids = list(PRED)
    single = {i: [REFS[i][0]] for i in ids}
    ours = caption_metrics(PRED, single, per_sample=True)
    beta = 1.2
    for i, got in zip(ours["ids"], ours["rouge_l_per_sample"]):
        s = scorer.score(single[i][0], PRED[i])["rougeL"]
        p, r = s.precision, s.recall
        expected = 0.0 if p == 0 or r == 0 else (1 + beta**2) * p * r / (r + beta**2 * p)
        assert got == pytest.approx(expected, abs=1e-9), i


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="no references for ids"):
        caption_metrics({"x": "a"}, {"y": ["a"]})
    with pytest.raises(ValueError, match="non-empty list"):
        caption_metrics({"x": "a"}, {"x": []})
    with pytest.raises(ValueError, match="non-empty list"):
        caption_metrics({"x": "a"}, {"x": "a plain string"})


def test_all_metrics_marks_what_was_not_computed():
    from skeletonllm.eval.captioning import captioning_metrics_all
    from skeletonllm.eval.report import validate_result

    out = captioning_metrics_all(PRED, REFS)
    m = out["metrics"]
    assert m["bleu4"] == caption_metrics(PRED, REFS)["bleu4"] and m["cider_d"] > 0
    assert m["bertscore_f1"] is None and m["r_precision_top1"] is None and m["mm_dist"] is None
    assert set(out["not_computed"]) == {"bertscore_f1", "r_precision_top1", "r_precision_top2",
                                        "r_precision_top3", "mm_dist"}
    # The output drops straight into a results file.
    validate_result({"task": "captioning", "dataset": "HumanML3D", **out})
    motions = {k: None for k in PRED}
    out = captioning_metrics_all(PRED, REFS, motions=motions, evaluator=None)
    assert "checkpoint" in out["not_computed"]["mm_dist"]
