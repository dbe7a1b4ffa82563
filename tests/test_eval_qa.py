import json

import pytest

from skeletonllm.eval.bertscore import BertScoreConfig
from skeletonllm.eval.qa import QAFormatError, load_qa_benchmark, parse_choice, qa_metrics, rouge_l_f1

OPTS = ["salute", "headache", "neck pain", "sit down"]


def _write(path, lines):
    path.write_text("\n".join(json.dumps(x) if not isinstance(x, str) else x for x in lines) + "\n")
    return path


BENCH = [
    {"id": "t1", "sample": "S001C001P001R001A044.skeleton", "question": "Which action?", "type": "temporal",
     "options": OPTS, "answer": 1},
    {"id": "c1", "sample": "S001C001P001R001A044.skeleton", "question": "Which action?", "type": "causal",
     "options": OPTS, "answer": "B"},
    {"id": "f1", "sample": "x.npy", "question": "Which action?", "type": "fine-grained",
     "options": OPTS, "answer": "neck pain"},
    "# a comment line",
    "",
    {"id": "o1", "sample": "x.npy", "question": "Why?", "type": "causal",
     "reference": "the person presses the forehead because of a headache"},
    {"id": "o2", "sample": "x.npy", "question": "What distinguishes it?", "type": "contrastive",
     "reference": ["the hand touches the head", "the hand presses the temple"]},
]


def test_load_valid_benchmark(tmp_path):
    items = load_qa_benchmark(_write(tmp_path / "b.jsonl", BENCH))
    assert [it.id for it in items] == ["t1", "c1", "f1", "o1", "o2"]
    assert [it.answer for it in items[:3]] == [1, 1, 2]
    assert items[3].reference == ["the person presses the forehead because of a headache"]
    assert items[4].type == "contrastive" and items[4].line == 7 and not items[4].is_choice


@pytest.mark.parametrize("bad, message", [
    ({"sample": "x", "question": "q", "type": "spatial", "reference": "r"}, "expected one of temporal"),
    ({"sample": "x", "question": "q", "type": "causal"}, "either 'options'"),
    ({"sample": "x", "question": "q", "type": "causal", "options": OPTS[:3], "answer": 0}, "exactly 4"),
    ({"sample": "x", "question": "q", "type": "causal", "options": OPTS, "answer": 4}, "outside 0-3"),
    ({"sample": "x", "question": "q", "type": "causal", "options": OPTS, "answer": "dance"}, "neither a letter"),
    ({"sample": "x", "question": "q", "type": "causal", "options": OPTS}, "without 'answer'"),
    ({"sample": "", "question": "q", "type": "causal", "reference": "r"}, "'sample'"),
    ('{"sample": "x", "question": ', "not valid JSON"),
])
def test_bad_line_is_named(tmp_path, bad, message):
    path = _write(tmp_path / "b.jsonl", [BENCH[0], bad])
    with pytest.raises(QAFormatError, match=message) as e:
        load_qa_benchmark(path)
    assert "b.jsonl, line 2" in str(e.value)


def test_duplicate_ids_and_empty_file(tmp_path):
    with pytest.raises(QAFormatError, match="line 2: duplicate id 't1'"):
        load_qa_benchmark(_write(tmp_path / "d.jsonl", [BENCH[0], BENCH[0]]))
    with pytest.raises(QAFormatError, match="no questions"):
        load_qa_benchmark(_write(tmp_path / "e.jsonl", ["# nothing"]))


@pytest.mark.parametrize("text, expected", [
    ("B", 1), ("B.", 1), ("(C) neck pain", 2), ("D: sit down", 3),
    ("The hand presses the temple, the head droops. Label: headache", 1),
    ("Not a salute, and neck pain would touch the neck. Answer: B", 1),
    ("Final answer: neck pain", 2),
    ("I choose option D", 3),
    ("It could be a salute or a headache", None),   # two options named, no marker
    ("The person is dancing", None),
    ("A person raises the hand to salute.", 0),
])
def test_parse_choice(text, expected):
    assert parse_choice(text, OPTS) == expected


def test_parse_choice_prefers_longest_option():
    opts = ["sit", "sit down", "stand up", "walk"]
    assert parse_choice("Label: sit down", opts) == 1
    assert parse_choice("Label: sit", opts) == 0


def test_qa_metrics_per_type(tmp_path):
    items = load_qa_benchmark(_write(tmp_path / "b.jsonl", BENCH))
    preds = {"t1": "Label: headache", "c1": "I think it is a salute. Answer: A", "f1": "no idea",
             "o1": "the person presses the forehead because of a headache", "o2": "the person sits down"}
    m = qa_metrics(items, preds)
    assert m["per_type"]["temporal"]["mqa_accuracy"] == 1.0
    assert m["per_type"]["causal"]["mqa_accuracy"] == 0.0 and m["per_type"]["causal"]["rouge_l"] == pytest.approx(1.0)
    assert m["per_type"]["fine-grained"]["unparsed"] == 1
    assert m["overall"]["mqa_accuracy"] == pytest.approx(1 / 3) and m["overall"]["mqa_count"] == 3
    o2 = rouge_l_f1(["the person sits down"], [BENCH[6]["reference"]])[0]
    assert 0 < o2 < 1
    assert m["overall"]["rouge_l"] == pytest.approx((1.0 + o2) / 2)
    assert m["per_type"]["contrastive"]["mqa_accuracy"] is None
    assert m["overall"]["bertscore_f1"] is None and m["bertscore"]["computed"] is False
    with pytest.raises(ValueError, match="no prediction for ids"):
        qa_metrics(items, {"t1": "B"})


def test_qa_bertscore_with_tiny_model(tmp_path):
    from test_eval_bertscore import build_tiny_bert

    model = build_tiny_bert(tmp_path / "bert")
    items = load_qa_benchmark(_write(tmp_path / "b.jsonl", BENCH))
    preds = {"t1": "B", "c1": "B", "f1": "C", "o1": BENCH[5]["reference"], "o2": "the hand touches the head"}
    cfg = BertScoreConfig(model_type=str(model), num_layers=2, rescale_with_baseline=False, device="cpu")
    m = qa_metrics(items, preds, bertscore=cfg)
    assert m["bertscore"]["computed"]
    assert m["overall"]["bertscore_f1"] == pytest.approx(1.0, abs=1e-5)
    assert m["overall"]["mqa_accuracy"] == 1.0
