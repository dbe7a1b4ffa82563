"""BertScore through bert-score with a tiny, randomly initialised local BERT (no downloads)."""
from pathlib import Path

import pytest

from skeletonllm.eval.bertscore import BertScoreConfig, bert_score_metric

CORPUS = ["a man walks forward", "a person kicks with the left leg", "someone waves both hands",
          "the person sits down slowly", "he jumps up and down", "a figure turns around"]


def build_tiny_bert(directory: Path) -> Path:
    """A 2-layer, 32-wide BertModel and a WordPiece tokenizer trained in-process, saved to ``directory``."""
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertModel, BertTokenizerFast

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok.train_from_iterator(CORPUS * 5, trainers.WordPieceTrainer(vocab_size=150, special_tokens=specials))
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]", special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    fast = BertTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                             sep_token="[SEP]", mask_token="[MASK]", model_max_length=64)
    fast.save_pretrained(directory)
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=tok.get_vocab_size(), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=64)
    BertModel(cfg).save_pretrained(directory)
    return directory


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    return build_tiny_bert(tmp_path_factory.mktemp("tiny_bert"))


def test_identical_candidates_score_one_and_different_ones_less(tiny_bert):
    cfg = BertScoreConfig(model_type=str(tiny_bert), num_layers=2, rescale_with_baseline=False, device="cpu")
    same = bert_score_metric(CORPUS[:3], CORPUS[:3], cfg)
    assert same["computed"] and same["rescaled"] is False and same["num_layers"] == 2
    assert same["f1"] == pytest.approx(1.0, abs=1e-5)
    assert all(f == pytest.approx(1.0, abs=1e-5) for f in same["f1_per_sample"])
    diff = bert_score_metric(["someone waves both hands"], [["the person sits down slowly"]], cfg)
    assert diff["computed"] and diff["f1"] < 0.999
    # Several references: the best-matching one counts.
    multi = bert_score_metric(["someone waves both hands"],
                              [["the person sits down slowly", "someone waves both hands"]], cfg)
    assert multi["f1"] == pytest.approx(1.0, abs=1e-5)


def test_missing_model_is_not_computed_never_zero(tmp_path):
    r = bert_score_metric(["a"], ["a"], BertScoreConfig(model_type=str(tmp_path / "no-such-model"), num_layers=2))
    assert r["computed"] is False and r["f1"] is None and "does not exist" in r["reason"]
    # With local_files_only, an uncached hub model is reported, without going online.
    from huggingface_hub import try_to_load_from_cache

    if isinstance(try_to_load_from_cache("roberta-large", "config.json"), str):
        pytest.skip("roberta-large is cached on this machine")
    r = bert_score_metric(["a"], ["a"], BertScoreConfig(local_files_only=True))
    assert r["computed"] is False and r["f1"] is None and "roberta-large" in r["reason"]


def test_local_model_needs_layers_and_baseline(tiny_bert):
    r = bert_score_metric(["a"], ["a"], BertScoreConfig(model_type=str(tiny_bert), rescale_with_baseline=False))
    assert r["computed"] is False and "num_layers" in r["reason"]
    r = bert_score_metric(["a"], ["a"], BertScoreConfig(model_type=str(tiny_bert), num_layers=2))
    assert r["computed"] is False and "baseline" in r["reason"]


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="2 candidates but 1"):
        bert_score_metric(["a", "b"], ["a"])
    with pytest.raises(ValueError, match="at least one reference"):
        bert_score_metric(["a"], [[]])


def test_default_is_roberta_large_layer_17_rescaled(tmp_path):
    from skeletonllm.eval.bertscore import _resolve

    model_type, layers, baseline = _resolve(BertScoreConfig())
    assert (model_type, layers) == ("roberta-large", 17) and baseline.endswith("en/roberta-large.tsv")
    # A local copy named like the hub model keeps its tuned layer and baseline.
    local = tmp_path / "roberta-large"
    local.mkdir()
    model_type, layers, baseline = _resolve(BertScoreConfig(model_type=str(local)))
    assert model_type == str(local) and layers == 17 and baseline.endswith("roberta-large.tsv")
