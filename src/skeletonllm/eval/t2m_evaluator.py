"""The text-motion matching evaluator of Guo et al. (CVPR 2022), HumanML3D's standard.

It embeds a caption and a motion into one 512-d space; captioning is scored by how well
the *generated* caption retrieves its own motion (R-precision) and how close the two
embeddings are (MM-Dist). This module has two halves:

* the math, independent of any network: :func:`r_precision`, :func:`mm_distance` and
  :func:`matching_metrics` (repeated R-precision with a 95 % interval), so tests can feed
  hand-made embeddings whose ranks are known;
* the network: :class:`MovementConvEncoder` -> :class:`MotionEncoderBiGRUCo` for motions,
  :class:`TextEncoderBiGRUCo` over GloVe word vectors + part-of-speech one-hots for text,
  with parameter names that load the published checkpoint
  ``t2m/text_mot_match/model/finest.tar`` (keys ``movement_encoder``,
  ``motion_encoder``, ``text_encoder``) unchanged.

Inputs, as in the original evaluation:

* motion: HumanML3D 263-d features ``(T, 263)``, normalised ``(x - mean) / std`` with the
  evaluator's statistics (the ``mean.npy`` / ``std.npy`` shipped beside the checkpoint in
  ``Comp_v6_KLD01/meta``; HumanML3D's ``Mean.npy`` / ``Std.npy`` are the fallback), cut to
  a multiple of 4 frames (at most 196; deterministic: the first frames are kept), padded
  with zeros to 196 frames; the 4 foot-contact channels are dropped before the conv
  encoder, whose two stride-2 layers give ``T // 4`` GRU steps.
* text: HumanML3D tokens ``word/POS`` (lemmatised nouns and verbs, spaCy universal POS).
  Up to 20 tokens, wrapped in ``sos/OTHER`` ... ``eos/OTHER`` and padded with
  ``unk/OTHER``. A word missing from the GloVe vocabulary becomes ``unk`` with POS OTHER;
  motion words (left, arm, kick, slowly, ...) get one of five "VIP" POS categories.
  Generated captions are tagged by :func:`spacy_tagger` (HumanML3D's own recipe; needs
  spaCy and ``en_core_web_sm``) or by any callable the user gives.

GloVe files (from the text-to-motion release, ``glove/``): ``our_vab_data.npy`` (V, 300),
``our_vab_words.pkl`` (list of V words), ``our_vab_idx.pkl`` (word -> row).
"""
from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

# ---------------------------------------------------------------------------------------
# Embedding-space math
# ---------------------------------------------------------------------------------------


def _pairwise_dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances ``(N, M)`` between rows of ``a`` (N, D) and ``b`` (M, D)."""
    return np.linalg.norm(a[:, None, :] - b[None, :, :], axis=-1)


def _check_pair(text_emb, motion_emb) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(text_emb, dtype=np.float64)
    m = np.asarray(motion_emb, dtype=np.float64)
    if t.ndim != 2 or t.shape != m.shape:
        raise ValueError(f"text and motion embeddings must both be (N, D); got {t.shape} and {m.shape}")
    return t, m


def mm_distance(text_emb, motion_emb) -> float:
    """Mean Euclidean distance between matched rows: ``mean_i ||t_i - m_i||``."""
    t, m = _check_pair(text_emb, motion_emb)
    return float(np.linalg.norm(t - m, axis=1).mean())


def r_precision(text_emb, motion_emb, group_size: int = 32, rng: np.random.Generator | None = None,
                top_k: int = 3) -> np.ndarray:
    """Top-1..top-k retrieval accuracy of each text among the motions of its group.

    The N pairs are shuffled by ``rng`` (kept in order if ``None``) and cut into groups of
    ``group_size``; an incomplete last group is dropped (as the original loader's
    ``drop_last``). Within a group, text i's matched motion has rank r if r - 1 motions of
    the group are strictly closer (ties are broken by position, stable sort).

    Returns: ``(top_k,)`` array, entry k-1 = fraction of texts whose motion ranks <= k.
    """
    t, m = _check_pair(text_emb, motion_emb)
    n = len(t)
    if group_size < 1 or n < group_size:
        raise ValueError(f"R-precision needs at least group_size={group_size} pairs; got {n}")
    order = rng.permutation(n) if rng is not None else np.arange(n)
    n_groups = n // group_size
    hits = np.zeros(top_k)
    for g in range(n_groups):
        idx = order[g * group_size:(g + 1) * group_size]
        ranking = np.argsort(_pairwise_dist(t[idx], m[idx]), axis=1, kind="stable")
        rank = np.argmax(ranking == np.arange(group_size)[:, None], axis=1)  # 0-based
        hits += [(rank < k).sum() for k in range(1, top_k + 1)]
    return hits / (n_groups * group_size)


def matching_metrics(text_emb, motion_emb, group_size: int = 32, repeats: int = 20, seed: int = 0,
                     top_k: int = 3) -> dict:
    """R-precision and MM-Dist repeated over ``repeats`` shuffles, mean and 95 % interval.

    The interval is ``1.96 * std / sqrt(repeats)`` (population std, as in the original
    evaluation). MM-Dist of a repeat is taken over the pairs that fell into whole groups.
    """
    t, m = _check_pair(text_emb, motion_emb)
    rng = np.random.default_rng(seed)
    used = (len(t) // group_size) * group_size
    rp, mm = [], []
    for _ in range(repeats):
        order = rng.permutation(len(t))
        rp.append(r_precision(t[order], m[order], group_size, None, top_k))
        mm.append(mm_distance(t[order[:used]], m[order[:used]]))
    rp, mm = np.array(rp), np.array(mm)

    def stat(x):
        return {"mean": float(x.mean()), "ci95": float(1.96 * x.std() / np.sqrt(repeats))}

    out = {f"top{k}": stat(rp[:, k - 1]) for k in range(1, top_k + 1)}
    return {"r_precision": out, "mm_dist": stat(mm), "repeats": repeats, "group_size": group_size,
            "seed": seed, "num_samples": len(t), "num_used": used}


# ---------------------------------------------------------------------------------------
# Word vectors and part-of-speech categories (HumanML3D scheme)
# ---------------------------------------------------------------------------------------

POS_CATEGORIES = ("VERB", "NOUN", "DET", "ADP", "NUM", "AUX", "PRON", "ADJ", "ADV",
                  "Loc_VIP", "Body_VIP", "Obj_VIP", "Act_VIP", "Desc_VIP", "OTHER")
POS_INDEX = {name: i for i, name in enumerate(POS_CATEGORIES)}
# Motion-relevant words override the tagger's POS; checked in this order.
VIP_WORDS = {
    "Loc_VIP": frozenset("left right clockwise counterclockwise anticlockwise forward back backward "
                         "up down straight curve".split()),
    "Body_VIP": frozenset("arm chin foot feet face hand mouth leg waist eye knee shoulder thigh".split()),
    "Obj_VIP": frozenset("stair dumbbell chair window floor car ball handrail baseball basketball".split()),
    "Act_VIP": frozenset("walk run swing pick bring kick put squat throw hop dance jump turn stumble "
                         "stop sit lift lower raise wash stand kneel stroll rub bend balance flap jog "
                         "shuffle lean rotate spin spread climb".split()),
    "Desc_VIP": frozenset("slowly carefully fast careful slow quickly happy angry sad happily angrily "
                          "sadly".split()),
}


class GloveVocab:
    """The evaluator's GloVe subset: ``word/POS`` token -> (word vector (300,), POS one-hot (15,))."""

    FILES = ("our_vab_data.npy", "our_vab_words.pkl", "our_vab_idx.pkl")

    def __init__(self, vectors: np.ndarray, word2idx: Mapping[str, int], source: str = "<memory>"):
        self.vectors = np.asarray(vectors, dtype=np.float32)
        self.word2idx = dict(word2idx)
        for w in ("unk", "sos", "eos"):
            if w not in self.word2idx:
                raise ValueError(f"{source}: GloVe vocabulary lacks the special word {w!r}")

    @classmethod
    def load(cls, glove_dir: str | Path) -> "GloveVocab":
        d = Path(glove_dir)
        missing = [f for f in cls.FILES if not (d / f).is_file()]
        if missing:
            raise FileNotFoundError(f"{d}: GloVe vocabulary files missing: {', '.join(missing)}")
        vectors = np.load(d / cls.FILES[0])
        with open(d / cls.FILES[1], "rb") as fh:
            words = pickle.load(fh)
        with open(d / cls.FILES[2], "rb") as fh:
            word2idx = pickle.load(fh)
        bad = [w for w in words if w not in word2idx or not 0 <= word2idx[w] < len(vectors)]
        if bad:
            raise ValueError(f"{d}: {len(bad)} words have no valid row in {cls.FILES[0]}, e.g. {bad[:3]}")
        return cls(vectors, {w: word2idx[w] for w in words}, str(d))

    @property
    def dim(self) -> int:
        return self.vectors.shape[1]

    def __call__(self, token: str) -> tuple[np.ndarray, np.ndarray]:
        word, _, pos = token.rpartition("/")
        if not word:
            raise ValueError(f"token {token!r} is not 'word/POS'")
        onehot = np.zeros(len(POS_CATEGORIES), dtype=np.float32)
        if word not in self.word2idx:
            onehot[POS_INDEX["OTHER"]] = 1
            return self.vectors[self.word2idx["unk"]], onehot
        vip = next((k for k, words in VIP_WORDS.items() if word in words), None)
        onehot[POS_INDEX.get(vip or pos, POS_INDEX["OTHER"])] = 1
        return self.vectors[self.word2idx[word]], onehot


def caption_tensors(captions: Sequence[Sequence[str]], vocab: GloveVocab, max_text_len: int = 20):
    """Word vectors ``(B, L+2, 300)``, POS one-hots ``(B, L+2, 15)``, lengths ``(B,)``."""
    words, poses, lens = [], [], []
    for tokens in captions:
        tokens = ["sos/OTHER"] + list(tokens)[:max_text_len] + ["eos/OTHER"]
        lens.append(len(tokens))
        tokens += ["unk/OTHER"] * (max_text_len + 2 - len(tokens))
        w, p = zip(*(vocab(t) for t in tokens))
        words.append(np.stack(w))
        poses.append(np.stack(p))
    return (torch.from_numpy(np.stack(words)), torch.from_numpy(np.stack(poses)),
            torch.tensor(lens, dtype=torch.long))


def spacy_tagger(model: str = "en_core_web_sm") -> Callable[[str], list[str]]:
    """HumanML3D's caption processing: ``"A man kicks."`` -> ``["a/DET", "man/NOUN", "kick/VERB"]``.

    Lower-cases, removes hyphens, skips non-alphabetic tokens, lemmatises nouns and verbs
    (except "left"). Raises ImportError / OSError when spaCy or the model is missing.
    """
    import spacy

    nlp = spacy.load(model)

    def tag(sentence: str) -> list[str]:
        out = []
        for tok in nlp(sentence.lower().replace("-", "")):
            if not tok.text.isalpha():
                continue
            word = tok.lemma_ if tok.pos_ in ("NOUN", "VERB") and tok.text != "left" else tok.text
            out.append(f"{word}/{tok.pos_}")
        return out

    return tag


def read_humanml3d_tokens(text_file: str | Path) -> list[list[str]]:
    """The ``word/POS`` token lists of a HumanML3D ``texts/*.txt`` file, one per caption."""
    out = []
    for lineno, line in enumerate(Path(text_file).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split("#")
        if len(parts) < 2 or not parts[1].strip():
            raise ValueError(f"{text_file}, line {lineno}: expected 'caption#word/POS ...#start#end'")
        out.append(parts[1].split())
    return out


# ---------------------------------------------------------------------------------------
# Networks (parameter names match the published checkpoint)
# ---------------------------------------------------------------------------------------


@dataclass
class T2MEvaluatorConfig:
    dim_pose: int = 263                # HumanML3D features; the last 4 are foot contacts
    dim_word: int = 300
    dim_pos_ohot: int = len(POS_CATEGORIES)
    dim_text_hidden: int = 512
    dim_coemb_hidden: int = 512        # the shared embedding size
    dim_motion_hidden: int = 1024
    dim_movement_enc_hidden: int = 512
    dim_movement_latent: int = 512
    max_text_len: int = 20
    max_motion_length: int = 196
    unit_length: int = 4               # frames per movement step (two stride-2 convs)


class MovementConvEncoder(nn.Module):
    """Motion features ``(B, T, D)`` -> movement codes ``(B, T // 4, latent)``."""

    def __init__(self, input_size: int, hidden_size: int, output_size: int):
        super().__init__()
        # Indices 0 and 3 are the conv layers (dropout/activation in between), as saved.
        self.main = nn.Sequential(
            nn.Conv1d(input_size, hidden_size, 4, 2, 1), nn.Dropout(0.2), nn.LeakyReLU(0.2),
            nn.Conv1d(hidden_size, output_size, 4, 2, 1), nn.Dropout(0.2), nn.LeakyReLU(0.2),
        )
        self.out_net = nn.Linear(output_size, output_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out_net(self.main(x.transpose(1, 2)).transpose(1, 2))


class _BiGRUCo(nn.Module):
    """Shared shape of the two co-embedding encoders: linear -> BiGRU -> MLP on the last states."""

    def __init__(self, input_size: int, hidden_size: int, output_size: int):
        super().__init__()
        self.input_emb = nn.Linear(input_size, hidden_size)
        self.gru = nn.GRU(hidden_size, hidden_size, batch_first=True, bidirectional=True)
        self.output_net = nn.Sequential(
            nn.Linear(hidden_size * 2, hidden_size), nn.LayerNorm(hidden_size),
            nn.LeakyReLU(0.2), nn.Linear(hidden_size, output_size),
        )
        self.hidden = nn.Parameter(torch.randn(2, 1, hidden_size))  # learned initial state

    def _encode(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        h0 = self.hidden.repeat(1, x.shape[0], 1)
        # enforce_sorted=False: outputs come back in input order, no caller-side sorting.
        packed = pack_padded_sequence(self.input_emb(x), lengths.cpu(), batch_first=True,
                                      enforce_sorted=False)
        _, last = self.gru(packed, h0)
        return self.output_net(torch.cat([last[0], last[1]], dim=-1))


class MotionEncoderBiGRUCo(_BiGRUCo):
    def forward(self, movements: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """movements ``(B, S, latent)``, lengths ``(B,)`` in steps -> ``(B, coemb)``."""
        return self._encode(movements, lengths)


class TextEncoderBiGRUCo(_BiGRUCo):
    def __init__(self, word_size: int, pos_size: int, hidden_size: int, output_size: int):
        super().__init__(word_size, hidden_size, output_size)
        self.pos_emb = nn.Linear(pos_size, word_size)

    def forward(self, word_embs: torch.Tensor, pos_onehot: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """word_embs ``(B, L, 300)``, pos_onehot ``(B, L, 15)``, lengths ``(B,)`` -> ``(B, coemb)``."""
        return self._encode(word_embs + self.pos_emb(pos_onehot), lengths)


class T2MEvaluator(nn.Module):
    """The three encoders, the motion statistics and the word vocabulary, in eval mode."""

    def __init__(self, config: T2MEvaluatorConfig, vocab: GloveVocab, mean: np.ndarray, std: np.ndarray):
        super().__init__()
        c = self.config = config
        self.movement_encoder = MovementConvEncoder(c.dim_pose - 4, c.dim_movement_enc_hidden, c.dim_movement_latent)
        self.motion_encoder = MotionEncoderBiGRUCo(c.dim_movement_latent, c.dim_motion_hidden, c.dim_coemb_hidden)
        self.text_encoder = TextEncoderBiGRUCo(c.dim_word, c.dim_pos_ohot, c.dim_text_hidden, c.dim_coemb_hidden)
        mean, std = np.asarray(mean, np.float32).reshape(-1), np.asarray(std, np.float32).reshape(-1)
        if mean.shape != (c.dim_pose,) or std.shape != (c.dim_pose,):
            raise ValueError(f"motion mean/std must have shape ({c.dim_pose},); got {mean.shape}, {std.shape}")
        if vocab.dim != c.dim_word:
            raise ValueError(f"GloVe vectors are {vocab.dim}-d but the evaluator expects {c.dim_word}")
        self.register_buffer("mean", torch.from_numpy(mean))
        self.register_buffer("std", torch.from_numpy(std))
        self.vocab = vocab
        self.eval()

    def state_dicts(self) -> dict:
        """The three sub-networks' weights in the published checkpoint layout."""
        return {"movement_encoder": self.movement_encoder.state_dict(),
                "motion_encoder": self.motion_encoder.state_dict(),
                "text_encoder": self.text_encoder.state_dict()}

    def load_state_dicts(self, ckpt: Mapping, source: str = "<checkpoint>") -> None:
        for key in ("movement_encoder", "motion_encoder", "text_encoder"):
            if key not in ckpt:
                raise KeyError(f"{source}: checkpoint has no '{key}' entry (keys: {sorted(ckpt)})")
            try:
                getattr(self, key).load_state_dict(ckpt[key])
            except RuntimeError as e:
                raise ValueError(f"{source}: '{key}' does not match the evaluator architecture: {e}") from None

    def _device(self) -> torch.device:
        return self.mean.device

    @torch.no_grad()
    def encode_text(self, captions: Sequence[Sequence[str]]) -> torch.Tensor:
        """Token lists (``word/POS``) -> ``(B, coemb)``."""
        w, p, lens = caption_tensors(captions, self.vocab, self.config.max_text_len)
        return self.text_encoder(w.to(self._device()), p.to(self._device()), lens)

    @torch.no_grad()
    def encode_motion(self, motions: Sequence[np.ndarray]) -> torch.Tensor:
        """Unnormalised 263-d feature arrays ``(T_i, 263)`` -> ``(B, coemb)``."""
        c = self.config
        batch = torch.zeros(len(motions), c.max_motion_length, c.dim_pose)
        steps = []
        for i, x in enumerate(motions):
            x = torch.as_tensor(np.asarray(x, np.float32))
            if x.ndim != 2 or x.shape[1] != c.dim_pose:
                raise ValueError(f"motion {i}: expected ({c.dim_pose}-d features) shape (T, {c.dim_pose}); got {tuple(x.shape)}")
            length = min(len(x), c.max_motion_length) // c.unit_length * c.unit_length
            if length == 0:
                raise ValueError(f"motion {i}: {len(x)} frames, fewer than one unit of {c.unit_length}")
            batch[i, :length] = (x[:length] - self.mean.cpu()) / self.std.cpu()
            steps.append(length // c.unit_length)
        movements = self.movement_encoder(batch[..., :-4].to(self._device()))
        return self.motion_encoder(movements, torch.tensor(steps))


def load_t2m_evaluator(checkpoint: str | Path, glove_dir: str | Path, mean: str | Path | np.ndarray,
                       std: str | Path | np.ndarray, config: T2MEvaluatorConfig | None = None,
                       device: str = "cpu", trust_checkpoint: bool = False) -> T2MEvaluator:
    """Build the evaluator and load ``finest.tar`` (or a file in the same layout).

    ``trust_checkpoint`` allows full unpickling (``weights_only=False``) for old files
    that store more than tensors; only use it for files you trust.
    """
    checkpoint = Path(checkpoint)
    if not checkpoint.is_file():
        raise FileNotFoundError(f"{checkpoint}: evaluator checkpoint not found")
    mean = np.load(mean) if isinstance(mean, (str, Path)) else mean
    std = np.load(std) if isinstance(std, (str, Path)) else std
    model = T2MEvaluator(config or T2MEvaluatorConfig(), GloveVocab.load(glove_dir), mean, std)
    try:
        ckpt = torch.load(checkpoint, map_location="cpu", weights_only=not trust_checkpoint)
    except pickle.UnpicklingError as e:
        raise ValueError(f"{checkpoint}: cannot be read with weights_only=True ({e}); "
                         "pass trust_checkpoint=True if you trust this file") from None
    model.load_state_dicts(ckpt, str(checkpoint))
    return model.to(device).eval()


def t2m_caption_metrics(captions: Sequence[str], motions: Sequence[np.ndarray],
                        evaluator: T2MEvaluator | None = None,
                        tagger: Callable[[str], list[str]] | None = None,
                        group_size: int = 32, repeats: int = 20, seed: int = 0) -> dict:
    """R@1/2/3 and MM-Dist of generated ``captions`` against their ``motions``.

    Returns flat keys ``r_precision_top1..3``, ``mm_dist`` (means), their ``*_ci95`` and
    ``computed: True``; or ``computed: False`` with a ``reason`` when there is no
    evaluator (checkpoint / GloVe not given) or no POS tagger (spaCy model missing).
    """
    keys = ("r_precision_top1", "r_precision_top2", "r_precision_top3", "mm_dist")
    if len(captions) != len(motions):
        raise ValueError(f"{len(captions)} captions but {len(motions)} motions")
    if evaluator is None:
        return {**{k: None for k in keys}, "computed": False,
                "reason": "text-to-motion evaluator not given (checkpoint and GloVe directory needed)"}
    if tagger is None:
        try:
            tagger = spacy_tagger()
        except (ImportError, OSError) as e:
            return {**{k: None for k in keys}, "computed": False,
                    "reason": f"no POS tagger for generated captions (spaCy + en_core_web_sm): {e}"}
    text = evaluator.encode_text([tagger(c) for c in captions]).cpu().numpy()
    motion = evaluator.encode_motion(motions).cpu().numpy()
    m = matching_metrics(text, motion, group_size, repeats, seed)
    out = {"computed": True, "repeats": repeats, "group_size": group_size, "seed": seed,
           "num_samples": m["num_samples"], "num_used": m["num_used"]}
    for k in (1, 2, 3):
        out[f"r_precision_top{k}"] = m["r_precision"][f"top{k}"]["mean"]
        out[f"r_precision_top{k}_ci95"] = m["r_precision"][f"top{k}"]["ci95"]
    out["mm_dist"], out["mm_dist_ci95"] = m["mm_dist"]["mean"], m["mm_dist"]["ci95"]
    return out
