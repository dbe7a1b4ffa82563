import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from skeletonllm.eval.t2m_evaluator import (
    POS_CATEGORIES, POS_INDEX, GloveVocab, T2MEvaluator, T2MEvaluatorConfig, load_t2m_evaluator,
    matching_metrics, mm_distance, r_precision, read_humanml3d_tokens, t2m_caption_metrics,
)

DATA = Path(__file__).parent / "data" / "humanml3d"
TINY = T2MEvaluatorConfig(dim_word=8, dim_text_hidden=8, dim_coemb_hidden=6, dim_motion_hidden=8,
                          dim_movement_enc_hidden=8, dim_movement_latent=8)


# --- math -------------------------------------------------------------------------------


def _known_ranks():
    """4 pairs whose matched motion ranks 1, 2, 3, 4 for texts 0, 1, 2, 3.

    Motions are the unit vectors e_j, so ||t - e_j||^2 = ||t||^2 - 2 t_j + 1: the larger
    t_j, the closer e_j. The rank of e_i for text i is 1 + #{j: t_j > t_i} (no ties).
    """
    motion = np.eye(4)
    text = np.array([
        [1.0, 0.0, 0.0, 0.0],
        [0.0, 0.55, 0.8, 0.0],
        [0.9, 0.7, 0.45, 0.1],
        [0.4, 0.3, 0.2, 0.1],
    ])
    return text, motion


def test_r_precision_known_ranks():
    text, motion = _known_ranks()
    d = np.linalg.norm(text[:, None] - motion[None], axis=-1)
    assert [int((d[i] < d[i, i]).sum()) + 1 for i in range(4)] == [1, 2, 3, 4]
    np.testing.assert_allclose(r_precision(text, motion, group_size=4), [0.25, 0.5, 0.75])
    np.testing.assert_allclose(r_precision(text, motion, group_size=4, top_k=4), [0.25, 0.5, 0.75, 1.0])
    # Shuffling inside one full group changes nothing.
    rng = np.random.default_rng(3)
    np.testing.assert_allclose(r_precision(text, motion, 4, rng), [0.25, 0.5, 0.75])


def test_r_precision_groups_and_drop_last():
    # Two well-separated clusters of identical pairs: inside each group every text finds its motion.
    emb = np.arange(9, dtype=float)[:, None] * np.ones((1, 3))
    np.testing.assert_allclose(r_precision(emb, emb, group_size=4, rng=np.random.default_rng(0)), [1, 1, 1])
    m = matching_metrics(emb, emb + 0.1, group_size=4, repeats=5, seed=1)
    assert m["num_used"] == 8 and m["num_samples"] == 9
    assert m["mm_dist"]["mean"] == pytest.approx(0.1 * np.sqrt(3))
    with pytest.raises(ValueError, match="at least group_size=32"):
        r_precision(emb, emb)


def test_matching_metrics_interval_and_seed():
    rng = np.random.default_rng(0)
    t, mo = rng.normal(size=(64, 5)), rng.normal(size=(64, 5))
    a = matching_metrics(t, mo, group_size=32, repeats=10, seed=7)
    b = matching_metrics(t, mo, group_size=32, repeats=10, seed=7)
    assert a == b
    assert a["r_precision"]["top1"]["ci95"] > 0
    assert a["r_precision"]["top1"]["mean"] <= a["r_precision"]["top2"]["mean"] <= a["r_precision"]["top3"]["mean"]
    # One group holding everything: every repeat is the same, so the interval is 0.
    text, motion = _known_ranks()
    c = matching_metrics(text, motion, group_size=4, repeats=6)
    assert c["r_precision"]["top2"] == {"mean": pytest.approx(0.5), "ci95": pytest.approx(0.0)}


def test_mm_distance_by_hand():
    assert mm_distance([[0, 0], [1, 1]], [[3, 4], [1, 1]]) == pytest.approx(2.5)
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        mm_distance(np.zeros((3, 2)), np.zeros((2, 2)))


# --- network ----------------------------------------------------------------------------

PUBLISHED_SHAPES = {  # text-to-motion's finest.tar (HumanML3D, t2m): name -> shape
    "movement_encoder": {"main.0.weight": (512, 259, 4), "main.0.bias": (512,), "main.3.weight": (512, 512, 4),
                         "main.3.bias": (512,), "out_net.weight": (512, 512), "out_net.bias": (512,)},
    "motion_encoder": {"hidden": (2, 1, 1024), "input_emb.weight": (1024, 512), "gru.weight_ih_l0": (3072, 1024),
                       "gru.weight_hh_l0_reverse": (3072, 1024), "output_net.0.weight": (1024, 2048),
                       "output_net.1.weight": (1024,), "output_net.3.weight": (512, 1024),
                       "output_net.3.bias": (512,)},
    "text_encoder": {"hidden": (2, 1, 512), "pos_emb.weight": (300, 15), "input_emb.weight": (512, 300),
                     "gru.weight_ih_l0": (1536, 512), "gru.bias_hh_l0_reverse": (1536,),
                     "output_net.0.weight": (512, 1024), "output_net.1.bias": (512,),
                     "output_net.3.weight": (512, 512)},
}


def _vocab(dim: int, words=None) -> GloveVocab:
    words = words or ["unk", "sos", "eos", "a", "man", "kick", "something", "or", "someone", "with", "his",
                      "left", "leg", "the", "stand", "person", "their", "foot"]
    rng = np.random.default_rng(0)
    return GloveVocab(rng.normal(size=(len(words), dim)).astype(np.float32), {w: i for i, w in enumerate(words)})


def test_full_size_parameter_names_and_shapes_match_published_checkpoint():
    model = T2MEvaluator(T2MEvaluatorConfig(), _vocab(300), np.zeros(263), np.ones(263))
    sd = model.state_dicts()
    for part, shapes in PUBLISHED_SHAPES.items():
        for name, shape in shapes.items():
            assert tuple(sd[part][name].shape) == shape, (part, name)
    assert len(POS_CATEGORIES) == 15


def test_vocab_pos_rules():
    v = _vocab(4)
    vec, oh = v("left/ADJ")  # a motion word: POS overridden by the VIP category
    assert oh[POS_INDEX["Loc_VIP"]] == 1 and oh.sum() == 1
    np.testing.assert_array_equal(vec, v.vectors[v.word2idx["left"]])
    assert v("kick/VERB")[1][POS_INDEX["Act_VIP"]] == 1
    assert v("man/NOUN")[1][POS_INDEX["NOUN"]] == 1
    assert v("man/INTJ")[1][POS_INDEX["OTHER"]] == 1
    vec, oh = v("zebra/NOUN")  # unknown word -> unk vector, POS OTHER
    np.testing.assert_array_equal(vec, v.vectors[v.word2idx["unk"]])
    assert oh[POS_INDEX["OTHER"]] == 1
    with pytest.raises(ValueError, match="special word 'sos'"):
        GloveVocab(np.zeros((1, 4)), {"unk": 0})


@pytest.fixture(scope="module")
def tiny_release(tmp_path_factory):
    """A tiny evaluator saved in the published layout: checkpoint + GloVe files + stats."""
    d = tmp_path_factory.mktemp("t2m")
    torch.manual_seed(0)
    vocab = _vocab(TINY.dim_word)
    model = T2MEvaluator(TINY, vocab, np.load(DATA / "meta" / "Mean.npy"), np.load(DATA / "meta" / "Std.npy"))
    torch.save({**model.state_dicts(), "epoch": 3, "iter": 10}, d / "finest.tar")
    glove = d / "glove"
    glove.mkdir()
    words = sorted(vocab.word2idx, key=vocab.word2idx.get)
    np.save(glove / "our_vab_data.npy", vocab.vectors)
    (glove / "our_vab_words.pkl").write_bytes(pickle.dumps(words))
    (glove / "our_vab_idx.pkl").write_bytes(pickle.dumps(vocab.word2idx))
    return d, model


def _load(d):
    return load_t2m_evaluator(d / "finest.tar", d / "glove", DATA / "meta" / "Mean.npy", DATA / "meta" / "Std.npy",
                              config=TINY)


def test_checkpoint_round_trip_and_batch_invariance(tiny_release):
    d, original = tiny_release
    ev = _load(d)
    captions = read_humanml3d_tokens(DATA / "texts" / "000000.txt")
    assert captions[0][:3] == ["a/DET", "man/NOUN", "kick/VERB"] and len(captions) == 4
    t = ev.encode_text(captions)
    assert t.shape == (4, TINY.dim_coemb_hidden) and torch.isfinite(t).all()
    torch.testing.assert_close(t, original.encode_text(captions))
    # Captions of different lengths in one batch come back in input order.
    for i, c in enumerate(captions):
        torch.testing.assert_close(ev.encode_text([c])[0], t[i], atol=1e-5, rtol=1e-5)
    feats = np.load(DATA / "new_joint_vecs" / "000000.npy")
    assert feats.shape == (116, 263)
    motions = [feats, feats[:57], feats[10:90]]
    m = ev.encode_motion(motions)
    assert m.shape == (3, TINY.dim_coemb_hidden) and torch.isfinite(m).all()
    for i, x in enumerate(motions):
        torch.testing.assert_close(ev.encode_motion([x])[0], m[i], atol=1e-5, rtol=1e-5)
    # 57 frames are cut to 56 (a multiple of 4): the extra frame changes nothing.
    torch.testing.assert_close(ev.encode_motion([feats[:56]])[0], m[1], atol=1e-6, rtol=1e-6)
    with pytest.raises(ValueError, match="shape"):
        ev.encode_motion([feats[:, :100]])


def test_checkpoint_errors(tiny_release, tmp_path):
    d, model = tiny_release
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        load_t2m_evaluator(tmp_path / "none.tar", d / "glove", np.zeros(263), np.ones(263), config=TINY)
    torch.save({"text_encoder": model.text_encoder.state_dict()}, tmp_path / "partial.tar")
    with pytest.raises(KeyError, match="movement_encoder"):
        load_t2m_evaluator(tmp_path / "partial.tar", d / "glove", np.zeros(263), np.ones(263), config=TINY)
    with pytest.raises(ValueError, match="does not match"):  # tiny weights into the full-size network
        load_t2m_evaluator(d / "finest.tar", d / "glove", np.zeros(263), np.ones(263),
                           config=T2MEvaluatorConfig(dim_word=TINY.dim_word))
    with pytest.raises(FileNotFoundError, match="our_vab_words.pkl"):
        (tmp_path / "g").mkdir()
        np.save(tmp_path / "g" / "our_vab_data.npy", np.zeros((3, 8)))
        GloveVocab.load(tmp_path / "g")


def test_caption_metrics_with_tiny_evaluator(tiny_release):
    d, _ = tiny_release
    feats = np.load(DATA / "new_joint_vecs" / "000000.npy")
    captions = ["a man kicks", "the person stands", "someone kicks with the left leg", "a man stands"]
    motions = [feats, feats[:60], feats[20:], feats[:80]]
    none = t2m_caption_metrics(captions, motions, evaluator=None)
    assert none["computed"] is False and none["r_precision_top1"] is None and "checkpoint" in none["reason"]

    def tagger(s):  # a stand-in for spaCy: every word a noun
        return [f"{w}/NOUN" for w in s.split()]

    r = t2m_caption_metrics(captions, motions, evaluator=_load(d), tagger=tagger, group_size=2, repeats=4)
    assert r["computed"] and r["num_used"] == 4
    assert 0 <= r["r_precision_top1"] <= r["r_precision_top2"] == 1.0  # groups of 2: top-2 always hits
    assert r["mm_dist"] > 0


def test_spacy_tagger_follows_humanml3d_recipe(monkeypatch):
    """spaCy is optional; a stand-in module checks our processing around it."""
    import sys
    import types

    from skeletonllm.eval.t2m_evaluator import spacy_tagger

    tags = {"a": ("DET", "a"), "man": ("NOUN", "man"), "kicks": ("VERB", "kick"), "left": ("VERB", "leave"),
            "his": ("PRON", "his"), "legs": ("NOUN", "leg"), "twice": ("ADV", "twice"), ".": ("PUNCT", "."),
            "upward": ("ADV", "upward"), "3": ("NUM", "3")}
    seen = []

    def nlp(text):
        seen.append(text)
        return [types.SimpleNamespace(text=w, pos_=tags[w][0], lemma_=tags[w][1])
                for w in text.replace(".", " .").split()]

    monkeypatch.setitem(sys.modules, "spacy", types.SimpleNamespace(load=lambda name: nlp))
    tag = spacy_tagger()
    assert tag("A man kicks his left legs twice up-ward 3.") == [
        "a/DET", "man/NOUN", "kick/VERB", "his/PRON", "left/VERB", "leg/NOUN", "twice/ADV", "upward/ADV"]
    assert seen == ["a man kicks his left legs twice upward 3."]
