"""SkeletonLLM end to end on tiny random backbones of both real classes (skeletonllm.mllm.model)."""
from pathlib import Path

import numpy as np
import pytest
import torch

from skeletonllm.errors import ConfigError
from skeletonllm.mllm import prompts as P
from skeletonllm.mllm.model import GROUPS, SkeletonLLM, SkeletonLLMConfig
from skeletonllm.render.demo import demo_sequence
from skeletonllm.skeleton import SkeletonSequence, collate_sequences, get_topology

DATA = Path(__file__).parent / "data"
CANDIDATES = ["wave", "throw", "drink water", "pick up", "pick up with one hand"]
VARIANTS = [("internvl", "video"), ("qwen2_5_vl", "video"), ("qwen2_5_vl", "images")]
VARIANT_IDS = ["internvl", "qwen-video", "qwen-images"]


def synthetic_sequence(seed: int = 0, frames: int = 24, bodies: int = 1) -> SkeletonSequence:
    """Random plausible NTU-25 joints: a standing figure at ~3 m with smooth random joint motion."""
    rng = np.random.default_rng(seed)
    rest = demo_sequence("ntu25", num_frames=1).joints[0, 0]                      # (25, 3), metres
    t = np.linspace(0, 2 * np.pi, frames)[:, None, None, None]
    phase = rng.uniform(0, 2 * np.pi, (1, bodies, 25, 3))
    amp = rng.uniform(0.0, 0.1, (1, bodies, 25, 3))
    offset = np.stack([[0.7 * m - 0.35 * (bodies - 1), 0.0, 3.0 + rng.normal(0, 0.1)] for m in range(bodies)])
    joints = rest[None, None] + amp * np.sin(t + phase) + offset[None, :, None]
    return SkeletonSequence(joints.astype(np.float32), np.ones((frames, bodies), bool), get_topology("ntu25"))


def make_model(kind="internvl", frames_as="video", size=112, lora=True, seed=0) -> SkeletonLLM:
    torch.manual_seed(seed)
    cfg = SkeletonLLMConfig(backbone=f"tiny:{kind}", image_size=size, frames_as=frames_as, lora=lora,
                            renderer_options={"image_size": size}, device="cpu")
    return SkeletonLLM(cfg)


@pytest.fixture(scope="module")
def batch():
    return collate_sequences([synthetic_sequence(0), synthetic_sequence(1)], num_frames=4)


# -- gradients and parameter groups -----------------------------------------------------------
@pytest.mark.parametrize("kind,frames_as", VARIANTS, ids=VARIANT_IDS)
def test_loss_reaches_every_renderer_parameter_and_frozen_groups_get_no_gradient(kind, frames_as, batch):
    model = make_model(kind, frames_as).train()
    model.set_trainable(["renderer"])  # stage 1: render warm-up
    out = model(batch, P.mqa_prompt(CANDIDATES), [P.mqa_target("wave"), P.mqa_target("throw")])
    assert out.frames.shape == (2, 4, 3, 112, 112) and torch.isfinite(out.loss)
    out.loss.backward()
    groups = model.parameter_groups()
    for name, p in model.renderer.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, f"no gradient reaches renderer parameter {name}"
    for group in ("vision", "projector", "language", "lora"):
        assert all(p.grad is None for p in groups[group]), group


@pytest.mark.parametrize("kind", ["internvl", "qwen2_5_vl"])
def test_a_bfloat16_backbone_trains_a_float32_renderer(kind, batch):
    cfg = SkeletonLLMConfig(backbone=f"tiny:{kind}", image_size=112, renderer_options={"image_size": 112},
                            device="cpu", dtype="bfloat16")
    model = SkeletonLLM(cfg).train()
    assert model.backbone.dtype == torch.bfloat16 and model.renderer.mix_logit.dtype == torch.float32
    out = model(batch, P.mqa_prompt(CANDIDATES), [P.mqa_target("wave")] * 2)
    out.loss.backward()
    assert torch.isfinite(out.loss)
    assert all(p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0
               for p in model.renderer.parameters())


@pytest.mark.parametrize("kind", ["internvl", "qwen2_5_vl"])
def test_bf16_autocast_keeps_the_renderer_in_float32_and_its_gradients(kind, batch):
    """accelerate's mixed_precision='bf16' runs the forward under torch.autocast (CPU here): the
    renderer must still compute in float32 and get gradients, while the backbone runs in bf16."""
    model = make_model(kind).train()
    dtypes = {"renderer": set(), "backbone": set()}

    def record(part):
        def hook(module, args, output):
            for t in (output if isinstance(output, (tuple, list)) else (output,)):
                if isinstance(t, torch.Tensor) and t.is_floating_point():
                    dtypes[part].add(t.dtype)
        return hook

    handles = [m.register_forward_hook(record("renderer")) for m in model.renderer.modules()]
    handles += [m.register_forward_hook(record("backbone")) for m in model.backbone.modules()
                if isinstance(m, torch.nn.Linear)]
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        out = model(batch, P.mqa_prompt(CANDIDATES), [P.mqa_target("wave")] * 2)
    for h in handles:
        h.remove()
    out.loss.backward()
    assert out.frames.dtype == torch.float32
    assert dtypes["renderer"] == {torch.float32}, dtypes["renderer"]  # every renderer module's output
    assert torch.bfloat16 in dtypes["backbone"]  # autocast was on for the backbone
    for name, p in model.renderer.named_parameters():
        assert p.dtype == torch.float32 and p.grad is not None and p.grad.dtype == torch.float32, name
        assert torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


def test_parameter_groups_partition_the_model():
    model = make_model("qwen2_5_vl")
    groups = model.parameter_groups()
    assert tuple(groups) == GROUPS and all(groups[g] for g in GROUPS)
    ids = [id(p) for ps in groups.values() for p in ps]
    assert len(ids) == len(set(ids)), "a parameter is in two groups"
    assert set(ids) == {id(p) for p in model.parameters()}, "a parameter is in no group"
    assert {id(p) for p in groups["projector"]} == {id(p) for p in model.adapter.projector.parameters()}
    assert {id(p) for p in groups["renderer"]} == {id(p) for p in model.renderer.parameters()}
    lora_names = {n for n, p in model.backbone.named_parameters() if ".lora_" in n}
    assert len(lora_names) == len(groups["lora"]) == 2 * 7 * 2  # A and B, 7 layers, 2 decoder blocks
    for g in GROUPS:
        model.set_trainable([g])
        assert model.trainable_groups() == [g]
        assert {id(p) for p in model.parameters() if p.requires_grad} == {id(p) for p in groups[g]}
    with pytest.raises(ValueError, match="unknown parameter groups"):
        model.set_trainable(["decoder"])
    with pytest.raises(ValueError, match="no LoRA"):
        make_model("internvl", lora=False).set_trainable(["lora"])


# -- text formatting ----------------------------------------------------------------------------
def test_prompt_tokens_are_masked_and_the_target_ends_the_turn(batch):
    model = make_model("internvl")
    prompt = model.format_prompt("Which action?", num_frames=4)
    assert prompt.startswith("<|im_start|>user\nFrame1: <img>") and prompt.endswith("<|im_start|>assistant\n")
    assert model.format_target("Label: wave") == "Label: wave<|im_end|>"
    out = model(batch, ["Which action?", "Which action is it, please?"], ["Label: wave", "YES"])
    for row, target in zip(out.labels, ["Label: wave<|im_end|>", "YES<|im_end|>"]):
        kept = row[row != -100].tolist()
        assert kept == model.tokenizer(target, add_special_tokens=False)["input_ids"]
    # logits cover every position that predicts a target token: position i predicts i + 1
    first_target = int((out.labels[0] != -100).nonzero()[0])
    assert out.logits_start <= first_target - 1 and out.logits.shape[1] == out.labels.shape[1] - out.logits_start


def test_hidden_states_are_the_last_block_before_the_final_norm(batch):
    model = make_model("qwen2_5_vl").eval()
    with torch.no_grad():
        out = model(batch, P.mqa_prompt(CANDIDATES), [P.mqa_target("wave")] * 2, output_hidden_states=True)
        h = out.hidden_states[:, out.logits_start:]
        logits = model.backbone.lm_head(model.adapter.language_model.norm(h))
    assert out.hidden_states.shape == (2, out.attention_mask.shape[1], 64)
    assert torch.allclose(logits, out.logits, atol=1e-5)


# -- learning, generation, scoring --------------------------------------------------------------
@pytest.mark.parametrize("kind", ["internvl", "qwen2_5_vl"])
def test_overfit_one_sample_then_generate_its_label(kind):
    model = make_model(kind).train()
    sample = collate_sequences([synthetic_sequence(2)], num_frames=4)
    prompt, target = P.mqa_prompt(CANDIDATES), P.mqa_target("drink water")
    groups = model.parameter_groups()
    opt = torch.optim.AdamW([{"params": groups["renderer"], "lr": 1e-3},
                             {"params": groups["projector"] + groups["lora"], "lr": 1e-2}], weight_decay=0.0)
    losses = []
    for _ in range(10):
        loss = model(sample, prompt, [target]).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.1 * losses[0], losses
    answer = model.generate(sample, prompt, max_new_tokens=12)
    assert answer == ["Label: drink water"]
    assert P.parse_label(answer[0], CANDIDATES, fuzzy=False) == "drink water"
    scores = model.score_candidates(sample, prompt, CANDIDATES)
    assert scores.shape == (1, len(CANDIDATES)) and CANDIDATES[int(scores.argmax())] == "drink water"
    assert model.training  # generate/score restore the mode they found


@pytest.mark.parametrize("kind,frames_as", VARIANTS, ids=VARIANT_IDS)
def test_score_candidates_equals_teacher_forced_likelihood(kind, frames_as, batch):
    """The KV-cache path gives exactly the log-likelihood a full forward pass gives, with padding."""
    model = make_model(kind, frames_as).eval()
    prompts = [P.mqa_prompt(CANDIDATES), "Which one?"]  # different lengths: left vs right padding
    scores = model.score_candidates(batch, prompts, CANDIDATES, chunk_size=2)
    reference = torch.zeros_like(scores)
    with torch.no_grad():
        frames = model.render(batch)
        for j, c in enumerate(CANDIDATES):
            out = model(None, prompts, [P.mqa_target(c)] * 2, frames=frames)
            logp = torch.log_softmax(out.logits[:, :-1].float(), dim=-1)
            labels = out.labels[:, out.logits_start + 1:]
            picked = logp.gather(2, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)
            reference[:, j] = (picked * (labels != -100)).sum(1)
    assert torch.allclose(scores, reference, atol=1e-3), (scores, reference)
    mean = model.score_candidates(batch, prompts, CANDIDATES, normalize="mean")
    lengths = torch.tensor([len(model._ids(model.format_target(P.mqa_target(c)))) for c in CANDIDATES])
    assert torch.allclose(mean, scores / lengths, atol=1e-3)


@pytest.mark.parametrize("kind", ["internvl", "qwen2_5_vl"])
def test_batched_generation_matches_one_at_a_time(kind, batch):
    model = make_model(kind).eval()
    prompts = [P.mqa_prompt(CANDIDATES), "Describe it."]
    together = model.generate(batch, prompts, max_new_tokens=6)
    frames = model.render(batch).detach()
    alone = [model.generate(None, [p], max_new_tokens=6, frames=frames[i:i + 1])[0] for i, p in enumerate(prompts)]
    assert together == alone


# -- checkpoints ----------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["internvl", "qwen2_5_vl"])
def test_save_then_load_reproduces_the_logits(kind, batch, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = make_model(kind).train()
    model.set_trainable(["renderer", "projector", "lora", "vision"])
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    for _ in range(2):  # move every saved part away from its initial value
        loss = model(batch, P.mqa_prompt(CANDIDATES), [P.mqa_target("wave")] * 2).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        before = model(batch, P.mqa_prompt(CANDIDATES), [P.mqa_target("throw")] * 2).logits
    ckpt = tmp_path / "ckpt"
    model.save_pretrained(ckpt)
    names = {p.name for p in ckpt.iterdir()}
    assert {"config.json", "renderer.safetensors", "renderer_config.json", "projector.safetensors",
            "vision.safetensors", "adapter", "base"} <= names
    assert "language.safetensors" not in names  # never trained: comes from the base
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]
    loaded = SkeletonLLM.from_pretrained(ckpt, device="cpu").eval()
    with torch.no_grad():
        after = loaded(batch, P.mqa_prompt(CANDIDATES), [P.mqa_target("throw")] * 2).logits
    assert torch.allclose(before, after, atol=1e-5)
    assert loaded.trained_groups >= {"vision"}

    # the adapter directory is plain peft: PeftModel loads it onto the saved base
    from peft import PeftModel
    from skeletonllm.mllm.backbones import load_backbone
    base, _ = load_backbone(ckpt / "base")
    PeftModel.from_pretrained(base, ckpt / "adapter")
    ours = {n: p for n, p in loaded.backbone.named_parameters() if ".lora_" in n}
    theirs = {n: p for n, p in base.named_parameters() if ".lora_" in n}
    assert ours.keys() == {n.replace("base_model.model.", "", 1) for n in theirs}
    for n, p in theirs.items():
        assert torch.equal(p, ours[n.replace("base_model.model.", "", 1)])


def test_a_backbone_directory_from_the_cli_loads_and_small_bases_are_embedded(batch, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from typer.testing import CliRunner
    from skeletonllm.cli import app
    names = tmp_path / "names.txt"
    names.write_text("drink water\nkicking something\n")
    result = CliRunner().invoke(app, ["tiny-backbone", "qwen2_5_vl", str(tmp_path / "tb"), "--image-size", "112",
                                      "--corpus", str(names)])
    assert result.exit_code == 0, result.output
    cfg = SkeletonLLMConfig(backbone=str(tmp_path / "tb"), image_size=112, renderer_options={"image_size": 112},
                            device="cpu")
    model = SkeletonLLM(cfg).train()
    assert len(model.tokenizer("kicking something", add_special_tokens=False)["input_ids"]) <= 3
    model.set_trainable(["projector", "lora", "vision"])  # the base directory keeps the untrained weights
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    for _ in range(2):
        loss = model(batch, "Which action?", ["Label: drink water"] * 2).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        before = model(batch, "Which action?", ["Label: drink water"] * 2).logits
    model.save_pretrained(tmp_path / "ckpt")
    meta = __import__("json").loads((tmp_path / "ckpt" / "config.json").read_text())
    assert meta["base"] == {"source": "base", "embedded": True, "kind": "qwen2_5_vl", "dtype": "float32"}
    with torch.no_grad():
        after = SkeletonLLM.from_pretrained(tmp_path / "ckpt").eval()(batch, "Which action?",
                                                                      ["Label: drink water"] * 2).logits
    assert torch.allclose(before, after, atol=1e-5)
    # a large base is referenced, not copied: the untrained reference + the saved parts
    # (projector.safetensors, vision.safetensors, adapter/) give the same result
    model.save_pretrained(tmp_path / "ref", embed_base=False)
    assert not (tmp_path / "ref" / "base").exists()
    with torch.no_grad():
        again = SkeletonLLM.from_pretrained(tmp_path / "ref").eval()(batch, "Which action?",
                                                                     ["Label: drink water"] * 2).logits
    assert torch.allclose(before, again, atol=1e-5)


def test_loading_something_else_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a SkeletonLLM checkpoint"):
        SkeletonLLM.from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text('{"model_type": "qwen2"}')
    with pytest.raises(ConfigError, match="format"):
        SkeletonLLM.from_pretrained(tmp_path)


def test_a_fixed_baseline_renderer_runs_without_a_learnable_renderer(batch, tmp_path):
    torch.manual_seed(0)
    cfg = SkeletonLLMConfig(backbone="tiny:internvl", image_size=112, renderer="projection",
                            renderer_options={"image_size": 112}, device="cpu")
    model = SkeletonLLM(cfg)
    assert model.parameter_groups()["renderer"] == []
    model.eval()
    with torch.no_grad():
        before = model(batch, "Which action?", ["Label: wave"] * 2).logits
    model.save_pretrained(tmp_path / "ckpt")
    with torch.no_grad():
        after = SkeletonLLM.from_pretrained(tmp_path / "ckpt").eval()(batch, "Which action?", ["Label: wave"] * 2).logits
    assert torch.allclose(before, after, atol=1e-5)


# -- a real file -------------------------------------------------------------------------------------
def test_a_real_ntu_file_trains_and_answers():
    import skeletonllm
    seq = skeletonllm.load(DATA / "ntu_skeleton" / "S001C003P008R002A058.skeleton")  # 2 bodies, orientations
    sample = collate_sequences([seq], num_frames=4)
    assert sample.orientations is not None and sample.num_bodies == 2
    model = make_model("internvl").train()
    out = model(sample, P.mqa_prompt(["handshaking", "hugging"]), [P.mqa_target("handshaking")])
    out.loss.backward()
    assert torch.isfinite(out.loss) and out.frames.max() > 0  # the figures are drawn
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.renderer.parameters())
    assert isinstance(model.generate(sample, P.mqa_prompt(["handshaking", "hugging"]), max_new_tokens=4)[0], str)
