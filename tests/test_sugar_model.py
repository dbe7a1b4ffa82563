"""SUGAR's parts: MIL-NCE, CTR-GCN on any topology, TQP's chaining, the frozen encoder in Step 3,
LoRA on the language model only, checkpoints, retargeting, and recognition on a real NTU file."""
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from skeletonllm.skeleton.batch import SkeletonBatch
from skeletonllm.skeleton.topology import BUILTIN_TOPOLOGIES, NTU25, SMPL22, Topology
from skeletonllm.sugar.classifier import ClassifierConfig
from skeletonllm.sugar.contrastive import mil_nce
from skeletonllm.sugar.encoder import CTRGCN, EncoderConfig, topology_subsets
from skeletonllm.sugar.model import SugarConfig, SugarModel
from skeletonllm.sugar.retarget import retarget_batch, retarget_matrix
from skeletonllm.sugar.tqp import BridgeConfig, TemporalQueryProjection, build_bridge, segment_bounds, sinusoid

DATA = Path(__file__).parent / "data"
NTU_FILE = DATA / "ntu_skeleton" / "S001C001P001R001A001.skeleton"
LABELS = ["drink water", "kick left leg", "wave right hand", "sit down"]


def tiny_config(**bridge) -> SugarConfig:
    return SugarConfig(
        encoder=EncoderConfig(channels=[8, 16], strides=[1, 2], num_frames=8, embed_dim=16),
        bridge=BridgeConfig(**{"kind": "tqp", "num_segments": 2, "num_queries": 2, "layers": 1, "heads": 2,
                               "hidden": 16, "dropout": 0.0, **bridge}),
        llm=ClassifierConfig(source="tiny:llama", lora_r=4, lora_alpha=8, lora_dropout=0.0,
                             tiny_options={"hidden": 32, "layers": 1, "heads": 2, "vocab_size": 400}))


def random_batch(topology: Topology, B: int = 2, T: int = 8, M: int = 2, seed: int = 0) -> SkeletonBatch:
    g = torch.Generator().manual_seed(seed)
    joints = torch.randn(B, T, M, topology.num_joints, 3, generator=g)
    present = torch.ones(B, T, M, dtype=torch.bool)
    present[0, :, 1] = False  # clip 0 has one person
    return SkeletonBatch(joints, present, topology)


@pytest.fixture(scope="module")
def sugar_checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    model = SugarModel(tiny_config(), corpus=LABELS)
    path = tmp_path_factory.mktemp("sugar") / "ckpt"
    model.save_pretrained(path)
    return path


# -- MIL-NCE ---------------------------------------------------------------------------------

def test_mil_nce_equals_the_hand_computed_value():
    s = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    t = torch.tensor([[[1.0, 0.0], [0.8, 0.6]],
                      [[0.0, 1.0], [0.6, 0.8]],
                      [[0.6, 0.8], [1.0, 0.0]]])
    positives = torch.eye(3, dtype=torch.bool)
    tau = 0.5
    expected = 0.0
    for i in range(3):
        dots = [[float(s[i] @ t[j, n]) / tau for n in range(2)] for j in range(3)]
        num = sum(math.exp(d) for d in dots[i])
        den = sum(math.exp(d) for row in dots for d in row)
        expected += -math.log(num / den)
    expected /= 3
    assert mil_nce(s, t, positives, tau).item() == pytest.approx(expected, rel=1e-6)
    # Clip 0 and 2 of one class: each is positive with the other's texts too.
    same = torch.tensor([[1, 0, 1], [0, 1, 0], [1, 0, 1]], dtype=torch.bool)
    num0 = sum(math.exp(float(s[0] @ t[j, n]) / tau) for j in (0, 2) for n in range(2))
    den0 = sum(math.exp(float(s[0] @ t[j, n]) / tau) for j in range(3) for n in range(2))
    assert mil_nce(s, t, same, tau) < mil_nce(s, t, positives, tau)
    loss_rows = []
    for i, pos in enumerate(([0, 2], [1], [0, 2])):
        num = sum(math.exp(float(s[i] @ t[j, n]) / tau) for j in pos for n in range(2))
        den = sum(math.exp(float(s[i] @ t[j, n]) / tau) for j in range(3) for n in range(2))
        loss_rows.append(-math.log(num / den))
    assert mil_nce(s, t, same, tau).item() == pytest.approx(sum(loss_rows) / 3, rel=1e-6)
    assert -math.log(num0 / den0) == pytest.approx(loss_rows[0])


def test_mil_nce_is_smallest_when_each_clip_matches_its_own_texts():
    torch.manual_seed(0)
    s = torch.nn.functional.normalize(torch.randn(3, 8), dim=-1)
    matched = s[:, None, :].repeat(1, 2, 1)           # every text of clip i equals s_i
    eye = torch.eye(3, dtype=torch.bool)
    best = mil_nce(s, matched, eye, 0.1)
    for perm in ([1, 2, 0], [2, 0, 1], [0, 2, 1], [1, 0, 2], [2, 1, 0]):
        assert mil_nce(s, matched[perm], eye, 0.1) > best
    for _ in range(20):
        other = torch.nn.functional.normalize(torch.randn(3, 2, 8), dim=-1)
        assert mil_nce(s, other, eye, 0.1) > best


# -- CTR-GCN ----------------------------------------------------------------------------------

USER_TOPOLOGY = {"name": "stick_figure", "dims": 3,
                 "joints": ["hips", "chest", "head", "l_hand", "r_hand", "l_foot", "r_foot"],
                 "bones": [["hips", "chest"], ["chest", "head"], ["chest", "l_hand"], ["chest", "r_hand"],
                           ["hips", "l_foot"], ["hips", "r_foot"]],
                 "parts": ["torso", "torso", "head", "left_hand", "right_hand", "left_foot", "right_foot"]}


@pytest.mark.parametrize("name", sorted(BUILTIN_TOPOLOGIES) + ["user"])
def test_ctrgcn_runs_on_every_topology_without_temporal_pooling(name, tmp_path):
    if name == "user":
        path = tmp_path / "rig.json"
        path.write_text(json.dumps(USER_TOPOLOGY))
        topo, spec = Topology.from_file(path), str(path)
    else:
        topo, spec = BUILTIN_TOPOLOGIES[name], name
    cfg = EncoderConfig(topology=spec if name != "user" else USER_TOPOLOGY, channels=[8, 16, 16],
                        strides=[1, 2, 1], num_frames=12, embed_dim=24)
    enc = CTRGCN(cfg)
    assert enc.topology == topo
    out = enc(random_batch(topo, T=12))
    assert out.shape == (2, cfg.out_length, 24) == (2, 6, 24)
    out.sum().backward()
    assert enc.blocks[0].gcn.topology.grad is not None and torch.isfinite(out).all()


def test_graph_subsets_come_from_the_bone_list():
    A = topology_subsets(NTU25)
    assert A.shape == (3, 25, 25)
    assert np.allclose(A[0], np.eye(25))
    assert np.allclose(A.sum(axis=2)[A.sum(axis=2) > 0], 1.0)        # rows are means over neighbours
    i, p = NTU25.index("left_elbow"), NTU25.index("left_shoulder")
    assert A[1, i, p] > 0 and A[1, p, i] == 0       # towards the root (the shoulder is nearer)
    assert A[2, p, i] > 0 and A[2, i, p] == 0       # away from the root
    assert (A[1] + A[2] > 0).sum() == 2 * len(NTU25.bones)


def test_encoder_refuses_another_topology_and_ignores_absent_bodies():
    enc = CTRGCN(EncoderConfig(channels=[8, 8], strides=[1, 1], num_frames=8, embed_dim=None)).eval()
    with pytest.raises(ValueError, match="retarget"):
        enc(random_batch(SMPL22))
    batch = random_batch(NTU25)
    out1 = enc(batch)
    noisy = SkeletonBatch(batch.joints.clone(), batch.present, NTU25)
    noisy.joints[0, :, 1] = 99.0                      # garbage where clip 0's second body is absent
    assert torch.allclose(enc(noisy), out1)


# -- TQP ---------------------------------------------------------------------------------------

def test_tqp_chains_queries_through_segments_and_a_plain_qformer_does_not():
    torch.manual_seed(0)
    cfg = BridgeConfig(num_segments=3, num_queries=2, layers=1, heads=2, dropout=0.0, input_norm=False)
    tqp = TemporalQueryProjection(cfg, 8, 8).eval()
    x = torch.randn(1, 6, 8)
    bounds = segment_bounds(6, 3)
    assert bounds == [(0, 2), (2, 4), (4, 6)]
    y = x.clone()
    y[:, 0:2] += torch.randn(1, 2, 8)                 # change segment 1 only

    def tokens(feats, chained: bool):
        """TQP written out; ``chained=False`` is a Q-Former whose queries start afresh in every segment."""
        h = tqp.input(feats) + sinusoid(6, 8)
        q0 = tqp.queries.unsqueeze(0)
        q, out = q0, []
        for lo, hi in bounds:
            q = tqp.qformer(q if chained else q0, h[:, lo:hi])
            out.append(q)
        return torch.cat(out, 1)

    with torch.no_grad():
        a, b = tqp.tokens(tqp.input(x) + sinusoid(6, 8)), tqp.tokens(tqp.input(y) + sinusoid(6, 8))
        assert torch.allclose(a, tokens(x, True), atol=1e-6)                  # the module is the chained form
        assert not torch.allclose(a[:, 2:4], b[:, 2:4])                        # segment 2's tokens moved
        indep_a, indep_b = tokens(x, False), tokens(y, False)
        assert torch.allclose(indep_a[:, 2:], indep_b[:, 2:])                  # independent queries: they do not
        assert not torch.allclose(indep_a[:, :2], indep_b[:, :2])
        assert tqp(x).shape == (1, 6, 8)


@pytest.mark.parametrize("kind", ["tqp", "qformer", "linear", "cross_attention"])
def test_every_bridge_gives_L_tokens_in_the_llm_width(kind):
    cfg = BridgeConfig(kind=kind, num_segments=4, num_queries=3, layers=1, heads=2, dropout=0.0)
    bridge = build_bridge(cfg, 16, 40)
    for length in (2, 9, 30):                        # fewer encoder steps than segments, too
        assert bridge(torch.randn(2, length, 16)).shape == (2, 12, 40)


# -- the model -----------------------------------------------------------------------------------

def test_step3_frozen_encoder_gets_no_gradient_and_keeps_its_statistics():
    torch.manual_seed(0)
    model = SugarModel(tiny_config(), corpus=LABELS)
    model.train()
    assert not model.encoder.training and model.bridge.training
    stats = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    out = model(random_batch(NTU25), "which action?", ["Label: sit down", "Label: drink water"])
    out.loss.backward()
    assert all(p.grad is None for p in model.encoder.parameters())
    assert all(torch.equal(v, model.encoder.state_dict()[k]) for k, v in stats.items())   # BN running stats too
    assert all(p.grad is not None for p in model.bridge.parameters() if p.requires_grad)
    assert all(p.grad is not None for p in model.parameter_groups()["lora"])
    assert all(p.grad is None for p in model.parameter_groups()["language"])


def test_lora_wraps_only_the_language_model():
    from skeletonllm.mllm.lora import lora_wrapped_modules

    model = SugarModel(tiny_config(), corpus=LABELS)
    wrapped = lora_wrapped_modules(model)
    assert wrapped and all(n.startswith("classifier.llm.model.layers.") for n in wrapped)
    assert {n.rsplit(".", 1)[-1] for n in wrapped} == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                                                       "down_proj"}
    cfg = model.classifier.lora_config
    assert (cfg.r, cfg.lora_alpha) == (4, 8)
    trainable = {n.split(".")[0] for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"bridge", "classifier"}
    assert all("lora_" in n for n, p in model.classifier.named_parameters() if p.requires_grad)
    assert ClassifierConfig().lora_r == 64 and ClassifierConfig().lora_alpha == 16   # the paper's defaults


def test_checkpoint_round_trip(sugar_checkpoint, tmp_path):
    from skeletonllm.inference import load_model

    saved = json.loads((sugar_checkpoint / "config.json").read_text())
    assert saved["format"] == "skeletonllm-sugar" and saved["method"] == "sugar" and saved["base"]["embedded"]
    model = SugarModel.from_pretrained(sugar_checkpoint, device="cpu").eval()
    again = load_model(sugar_checkpoint, device="cpu")
    assert isinstance(again, SugarModel)
    batch = random_batch(NTU25)
    prompt = model.recognition_prompt(LABELS)
    a = model.score_candidates(batch, prompt, LABELS)
    b = again.score_candidates(batch, prompt, LABELS)
    assert a.shape == (2, 4) and torch.allclose(a, b)
    assert model.generate(batch, prompt, max_new_tokens=5) == again.generate(batch, prompt, max_new_tokens=5)
    # Trained weights survive: perturb the bridge and LoRA, save, load.
    with torch.no_grad():
        for p in list(model.bridge.parameters()) + model.parameter_groups()["lora"]:
            p.add_(0.01 * torch.randn_like(p))
    model.save_pretrained(tmp_path / "changed")
    back = SugarModel.from_pretrained(tmp_path / "changed", device="cpu")
    for (n1, p1), (n2, p2) in zip(model.state_dict().items(), back.state_dict().items()):
        assert n1 == n2 and torch.equal(p1, p2), n1
    assert torch.allclose(model.score_candidates(batch, prompt, LABELS), back.score_candidates(batch, prompt, LABELS))


def test_scoring_agrees_with_the_training_loss(sugar_checkpoint):
    """Likelihood ranking scores a candidate's label line exactly as the loss sees those tokens."""
    from skeletonllm.sugar import prompts as SP

    model = SugarModel.from_pretrained(sugar_checkpoint, device="cpu").eval()
    batch = random_batch(NTU25, B=1)
    prompt = model.recognition_prompt(LABELS)
    scores = model.score_candidates(batch, prompt, LABELS)[0]
    clf = model.classifier
    with torch.no_grad():
        tokens = model.tokens(batch)
        for c, score in zip(LABELS, scores):
            ids = clf._ids(SP.label_line(c, True))
            rows, starts = clf._rows(tokens, [prompt], [ids])
            logits = clf.llm(inputs_embeds=rows[0][None]).logits[0].float().log_softmax(-1)
            ref = sum(logits[starts[0] + i - 1, t] for i, t in enumerate(ids))
            assert float(score) == pytest.approx(float(ref), abs=1e-3)


def test_retargeting_maps_joints_by_name_and_body_part():
    W = retarget_matrix(NTU25, NTU25)
    assert np.allclose(W, np.eye(25))
    W = retarget_matrix(SMPL22, NTU25)
    assert W.shape == (25, 22) and np.allclose(W.sum(axis=1), 1.0)
    assert W[NTU25.index("spine_base"), SMPL22.index("pelvis")] == 1.0
    assert W[NTU25.index("left_elbow"), SMPL22.index("left_elbow")] == 1.0
    assert W[NTU25.index("left_hand_tip"), SMPL22.index("left_wrist")] == 1.0
    coco = BUILTIN_TOPOLOGIES["coco17"]
    W = retarget_matrix(coco, NTU25)
    hips = [coco.index("left_hip"), coco.index("right_hip")]
    assert np.allclose(W[NTU25.index("spine_base"), hips], 0.5)
    batch = random_batch(SMPL22)
    moved = retarget_batch(batch, NTU25)
    assert moved.topology == NTU25 and moved.joints.shape == (2, 8, 2, 25, 3)
    assert torch.allclose(moved.joints[..., NTU25.index("right_knee"), :], batch.joints[..., SMPL22.index("right_knee"), :])


def test_model_reads_other_topologies_by_retargeting_or_refuses():
    model = SugarModel(tiny_config(), corpus=LABELS).eval()
    batch = random_batch(SMPL22)
    assert model.score_candidates(batch, model.recognition_prompt(LABELS), LABELS).shape == (2, 4)
    model.config.retarget = "refuse"
    with pytest.raises(ValueError, match="smpl22"):
        model.score_candidates(batch, model.recognition_prompt(LABELS), LABELS)


def test_sugar_answers_recognition_only(sugar_checkpoint):
    from skeletonllm import inference

    model = inference.load_model(sugar_checkpoint, device="cpu")
    with pytest.raises(ValueError, match="recognition only"):
        inference.caption(model, str(NTU_FILE))
    with pytest.raises(ValueError, match="recognition only"):
        inference.ask(model, str(NTU_FILE), "Which hand moves?", options="left,right", mode="score")


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "skeletonllm.cli", *args], capture_output=True, text=True, timeout=300)


def test_a_sugar_checkpoint_answers_recognize_on_a_real_ntu_file(sugar_checkpoint):
    res = _cli("recognize", str(NTU_FILE), "--checkpoint", str(sugar_checkpoint), "--labels", ",".join(LABELS),
               "--mode", "score", "--json", "--device", "cpu")
    assert res.returncode == 0, res.stderr[-2000:]
    out = json.loads(res.stdout)
    assert out["label"] in LABELS and set(out["scores"]) == set(LABELS) and out["true_label"] == "drink water"
    assert out["raw"] == f"Label: {out['label']}"
    res = _cli("recognize", str(NTU_FILE), "--checkpoint", str(sugar_checkpoint), "--labels", ",".join(LABELS),
               "--max-new-tokens", "6", "--json", "--device", "cpu")
    assert res.returncode == 0, res.stderr[-2000:]
    out = json.loads(res.stdout)
    assert isinstance(out["raw"], str) and (out["label"] is None or out["label"] in LABELS)


def test_caption_on_a_sugar_checkpoint_is_a_clear_error_not_a_traceback(sugar_checkpoint):
    res = _cli("caption", str(NTU_FILE), "--checkpoint", str(sugar_checkpoint), "--device", "cpu")
    assert res.returncode == 2
    assert str(sugar_checkpoint) in res.stderr and "recognition only" in res.stderr and "Traceback" not in res.stderr


def test_sugar_eval_protocol_on_real_files_gives_top1_and_top5(sugar_checkpoint, tmp_path):
    """NTU-60 cross-view: camera 1 is the test part (S001C001P001R001A001); all 60 classes are candidates."""
    res = _cli("sugar", "eval", str(sugar_checkpoint), "--data", str(DATA / "ntu_skeleton"), "--protocol",
               "ntu60_xview", "--out", str(tmp_path / "ev"), "--quiet", "--device", "cpu")
    assert res.returncode == 0, res.stderr[-2000:]
    result = json.loads((tmp_path / "ev" / "results.json").read_text())
    assert result["split"] == "ntu60_xview" and result["protocol"] == "xview" and result["num_samples"] == 1
    assert result["method"] == "SUGAR (this run)" and result["settings"]["model"] == "SugarModel"
    assert 0.0 <= result["top1"] <= result["top5"] <= 1.0
    pred = [json.loads(l) for l in (tmp_path / "ev" / "predictions.jsonl").read_text().splitlines()[1:]]
    assert len(pred[0]["scores"]) == 60
    rank = int(np.argsort(pred[0]["scores"])[::-1].tolist().index(0))   # drink water is class 0
    assert result["top5"] == (1.0 if rank < 5 else 0.0) and result["top1"] == (1.0 if rank == 0 else 0.0)
