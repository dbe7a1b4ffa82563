"""`skeletonllm demo --quick`: every step runs, the report holds every section, DIR is a checkpoint."""
import json
import re
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from skeletonllm.cli import app

DATA = Path(__file__).parent / "data"
NTU_FILE = DATA / "ntu_skeleton" / "S001C001P001R001A001.skeleton"
HUMANML3D_FILE = DATA / "humanml3d" / "new_joints" / "000000.npy"
COCO_FILE = DATA / "coco17_alphapose" / "alphapose-results.json"
SECTIONS = ["1. Data", "2. Head start", "3. Renders", "4. The curriculum", "5. Open-vocabulary recognition",
            "6. Cross-format transfer", "7. Renderer study", "8. SUGAR on the same clips", "9. Captioning",
            "10. Motion QA", "11. Settings, seeds, timings", "12. Using the checkpoint"]


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "out"
    result = CliRunner().invoke(app, ["demo", "--quick", "--out", str(out), "--quiet", "--seed", "3"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert "Report:" in result.output and "unseen classes, likelihood ranking" in result.output
    return out


def test_report_has_every_section_and_its_files(demo_dir):
    md = (demo_dir / "report.md").read_text()
    page = (demo_dir / "report.html").read_text()
    for title in SECTIONS:
        assert f"## {title}" in md, title
        assert title in page, title
    for needle in ("top-1", "chance", "SMPL-22", "Kinect v1-20", "COCO-17", "DrAction without NFM", "fixed: JTM",
                   "BLEU@4", "CIDEr-D", "temporal", "contrastive", "seed 3", "renderer only: unseen", "frozen: seen",
                   "answers (unseen, curriculum)", "unseen depth", "unseen speed", "unseen order",
                   "Why every arm's renderer in equal shares", "stretch left arm backward", "NFM saliency",
                   "recognition refinement runs 1 epoch (the paper: 3)", "where the curriculum gains or loses",
                   "YES/NO checks of the movement and of each limb", "pooled over splits"):
        assert needle in md, needle
    # Every picture the report shows exists (GIF renders per renderer and topology, loss curves).
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert any(p.endswith("draction-before.gif") for p in images)
    assert any(p.endswith("draction-after.gif") for p in images)
    assert sum(p.startswith("media/topology-") for p in images) == 4
    assert any(p.startswith("media/loss-") and p.endswith(".png") for p in images)
    # What training changed in DrAction: one picture per kind of unseen class (depth, speed, order, other).
    assert sum(p.startswith("media/learned-") for p in images) == 4
    for p in images:
        assert (demo_dir / p).is_file() and (demo_dir / p).stat().st_size > 0, p
    for p in re.findall(r'src="([^"]+)"', page):
        assert (demo_dir / p).is_file(), p


def test_results_follow_the_schema_and_match_the_report(demo_dir):
    from skeletonllm.eval.report import load_results

    results = load_results(demo_dir / "results.json")
    tasks = {r["task"] for r in results}
    assert tasks == {"recognition", "transfer", "captioning", "qa"}
    transfer = {r["target_format"] for r in results if r["task"] == "transfer"}
    assert transfer == {"smpl22", "kinect_v1_20", "coco17"}
    meta = json.loads((demo_dir / "demo.json").read_text())
    unseen = [r for r in results if r["task"] == "recognition" and r["split"].endswith("unseen")
              and r["settings"]["mode"] == "score" and "with NFM), curriculum" in r["method"]]
    assert len(unseen) == 2                     # the demo's (calibrated) ranking and the plain one
    (calibrated,) = [r for r in unseen if "calibrated" in r["settings"]["decoding"]]
    (plain,) = [r for r in unseen if r is not calibrated]
    assert plain["method"].endswith("plain likelihood ranking") and plain["settings"]["decoding"] == "likelihood ranking"
    assert meta["headline"]["unseen_top1_score"] == calibrated["top1"]
    assert meta["headline"]["unseen_top1_plain"] == plain["top1"]
    # One ablation row per renderer, each measured; every arm evaluated frozen and after the curriculum,
    # the DrAction arms also after the renderer-only warm-up.
    arms = {"draction", "draction_no_nfm", "velocity", "projection", "jtm"}
    assert set(meta["headline"]["ablation_unseen_top1"]) == arms
    for arm in arms:
        outcome = json.loads((demo_dir / "arms" / f"{arm}.json").read_text())
        phases = {"frozen", "final"} | ({"renderer_only"} if arm.startswith("draction") else set())
        assert set(outcome["evaluations"]) == phases, arm
        for res in outcome["evaluations"].values():
            spread = res["unseen_answers"]
            assert 1 <= spread["distinct"] <= spread["candidates"] == 13
            assert sum(k["num_samples"] for k in res["unseen_kinds"].values()) == res["num_unseen_clips"]
    # SUGAR: trained on the same clips, one evaluation on the same held-out clips, transfer to every format.
    sugar = json.loads((demo_dir / "arms" / "sugar.json").read_text())
    final = sugar["evaluations"]["final"]
    assert set(sugar["evaluations"]) == {"final"} and sugar["run"] is None
    draction = json.loads((demo_dir / "arms" / "draction.json").read_text())["evaluations"]["final"]
    assert (final["num_unseen_clips"], final["num_seen_clips"]) == (draction["num_unseen_clips"],
                                                                     draction["num_seen_clips"])
    assert set(final["transfer"]) == {"smpl22", "kinect_v1_20", "coco17"}
    assert meta["headline"]["sugar_unseen_top1"] == final["unseen_score"]["top1"]
    assert any(r["method"].startswith("SUGAR") for r in results if r["task"] == "transfer")
    recognition = [r for r in results if r["task"] == "recognition"]
    probes = [r for r in recognition if r["method"].startswith("linear pixel probe")]
    # unseen + seen per evaluation, each calibrated and plain, greedy for DrAction; SUGAR: the same and
    # greedy; the pixel probe (seen, composed unseen) on every renderer's frames as its arm starts, and on
    # the trained DrAction's
    assert len(recognition) - len(probes) == 4 * (5 + 5 + 2) + 1 + 5
    assert len(probes) == 2 * (5 + 2)
    assert meta["headline"]["probe_seen_top1"] == draction["pixel_probe"]["seen_top1"]
    assert meta["seconds"] > 0


def test_every_ranking_is_calibrated_on_training_clips_only(demo_dir):
    """The calibration's reference clips are training clips of the seen classes (never a held-out or
    unseen clip), the same for every arm and SUGAR; the plain ranking is kept beside it."""
    from skeletonllm.demo.data import DemoData
    from skeletonllm.demo.evaluate import REFERENCE_PER_CLASS, reference_clips
    from skeletonllm.demo.settings import DemoSettings

    data = DemoData.prepare(DemoSettings.quick(3), demo_dir / "data")
    reference = reference_clips(data.train)
    assert {s.index for s in reference} <= {s.index for s in data.train}
    assert {s.label for s in reference} == set(data.seen)
    assert len(reference) == len(data.seen) * min(REFERENCE_PER_CLASS, 2)     # --quick: 2 training clips per class
    headers = []
    for path in (demo_dir / "eval").rglob("predictions.jsonl"):
        header = json.loads(path.read_text().splitlines()[0])["header"]
        if header["mode"] == "score" and "transfer" not in str(path):
            headers.append((path, header.get("calibration")))
    assert headers and all(c is None for p, c in headers if "plain" in p.parent.name)
    calibrated = [c for p, c in headers if "plain" not in p.parent.name]
    assert calibrated and all(c["reference_clips"] == len(reference) for c in calibrated)
    sugar = json.loads((demo_dir / "arms" / "sugar.json").read_text())["evaluations"]["final"]
    assert "calibrated" in sugar["unseen_score"]["settings"]["decoding"] and "unseen_score_plain" in sugar


def test_every_renderer_arm_is_measured_against_a_pixel_probe_on_its_own_frames(demo_dir):
    """The probe is fitted on the arm's frames of the training clips (seen classes only) and scored on
    the very clips the model is scored on; the head start's attribute answers stand beside it."""
    from skeletonllm.demo.probe import PROBE_ATTRIBUTES

    train = 31 * 2                                      # --quick: two training clips per seen class
    p = json.loads((demo_dir / "demo.json").read_text())["settings"]["pretrain"]
    for arm in ("draction", "draction_no_nfm", "velocity", "projection", "jtm"):
        ev = json.loads((demo_dir / "arms" / f"{arm}.json").read_text())["evaluations"]
        for phase in ("frozen", "final"):
            probe = ev[phase]["pixel_probe"]
            assert probe["num_train"] == train
            assert (probe["num_seen"], probe["num_unseen"]) == (ev[phase]["num_seen_clips"], ev[phase]["num_unseen_clips"])
            assert probe["num_features"] == p["num_frames"] * 3 * p["image_size"] ** 2
            assert set(probe["attributes"]) == set(PROBE_ATTRIBUTES)
            assert set(probe["unseen_per_class"]) <= set(ev[phase]["unseen_score"]["per_class"])
            assert ("same_frames_as" in probe) == (phase == "final" and not arm.startswith("draction"))
        answers = ev["frozen"]["attributes"]
        assert set(answers) == {"seen", "unseen"} and all(0 <= answers[w][k] <= 1 for w in answers
                                                           for k in PROBE_ATTRIBUTES)
        for phase in ("frozen", "final"):           # the same model read out three ways on the same clips
            readouts = ev[phase]["readouts"]
            assert list(readouts) == ["names", "composed", "names_and_composed"]
            # naming the classes is the demo's own ranking, calibrated on the same training clips
            assert readouts["names"]["top1"] == pytest.approx(ev[phase]["unseen_score"]["top1"])
            assert sum(r["num_samples"] for r in readouts["composed"]["per_class"].values()) == \
                ev[phase]["num_unseen_clips"]
    report = (demo_dir / "report.md").read_text()
    assert "pixel probe" in report and "composed" in report
    assert "class names and attribute answers" in report


def test_demo_dir_is_a_checkpoint_that_recognises_a_real_ntu_file(demo_dir):
    from skeletonllm import inference
    from skeletonllm.mllm.model import SkeletonLLM

    model = SkeletonLLM.from_pretrained(demo_dir).eval()
    assert model.config.renderer == "draction" and model.config.num_frames == 8
    labels = ["kick left leg", "wave left hand", "raise both arms"]
    (res,) = inference.recognize(model, str(NTU_FILE), labels=labels, mode="score")
    assert res["label"] in labels and set(res["scores"]) == set(labels)
    out = CliRunner().invoke(app, ["recognize", str(NTU_FILE), "--checkpoint", str(demo_dir),
                                   "--labels", ",".join(labels), "--json"])
    assert out.exit_code == 0, out.output
    # Calibrated on the demo's reference clips (training clips): every score moves by its candidate's prior.
    reference = demo_dir / "reference.npz"
    (cal,) = inference.recognize(model, str(NTU_FILE), labels=labels, mode="score", reference=str(reference))
    shift = {c: res["scores"][c] - cal["scores"][c] for c in labels}
    from skeletonllm.eval.calibration import candidate_prior
    from skeletonllm.inference import load_clips
    from skeletonllm.mllm import prompts as P
    prior = candidate_prior(model, [c.sequence for c in load_clips(str(reference))], P.mqa_prompt(labels), labels,
                            model.config.num_frames, batch_size=8)
    assert [shift[c] for c in labels] == pytest.approx(prior.tolist(), abs=1e-4)
    run = CliRunner().invoke(app, ["recognize", str(NTU_FILE), "--checkpoint", str(demo_dir), "--labels",
                                   ",".join(labels), "--mode", "score", "--reference", str(reference), "--json"])
    assert run.exit_code == 0, run.output
    assert json.loads(run.output)["scores"] == pytest.approx(cal["scores"], abs=1e-4)
    run = CliRunner().invoke(app, ["recognize", str(NTU_FILE), "--checkpoint", str(demo_dir), "--reference",
                                   str(reference)])
    assert run.exit_code == 2 and "--mode score" in run.output
    answer = json.loads(out.output[out.output.index("{"):])  # one file -> one JSON object
    assert answer["file"].endswith(NTU_FILE.name) and answer["label"] in labels + [None]


@pytest.mark.parametrize("path", [NTU_FILE, HUMANML3D_FILE, COCO_FILE], ids=["ntu25", "humanml3d", "coco17"])
def test_every_inference_command_reads_real_files_with_the_demo_checkpoint(demo_dir, path):
    from skeletonllm.synth.dataset import SPLITS

    def run(*args):
        out = CliRunner().invoke(app, [*args, "--checkpoint", str(demo_dir), "--json"])
        assert out.exit_code == 0, out.output + repr(out.exception)
        return json.loads(out.output[out.output.index("{"):])

    unseen = list(SPLITS["synth_24_6"].unseen)
    for mode in ("score", "generate"):
        got = run("recognize", str(path), "--split", "synth_24_6", "--mode", mode, "--max-new-tokens", "12")
        assert got["file"].endswith(path.name) and got["candidates"] == unseen
        assert got["label"] in unseen or (mode == "generate" and got["label"] is None)
    got = run("caption", str(path), "--max-new-tokens", "12")
    assert got["file"].endswith(path.name) and isinstance(got["text"], str)
    got = run("ask", str(path), "Which side of the body moves?", "--options", "left,right,both", "--mode", "score")
    assert got["answer"] in ("left", "right", "both") and got["text"] == f"Label: {got['answer']}"
    assert set(got["scores"]) == {"left", "right", "both"}
    got = run("ask", str(path), "What does the person do?", "--max-new-tokens", "12")
    assert got["question"] == "What does the person do?" and "answer" not in got


@pytest.mark.parametrize("where", ["", "sugar"], ids=["skeletonllm", "sugar"])
def test_both_demo_checkpoints_default_to_their_unseen_classes(demo_dir, where):
    """`recognize FILE --checkpoint DIR` with no candidates: the demo split's unseen classes, which the
    checkpoint (DIR for SkeletonLLM, DIR/sugar for SUGAR) remembers; the report names both."""
    from skeletonllm.synth.dataset import SPLITS

    split = SPLITS["synth_31_13"]
    for extra, want in (([], list(split.unseen)), (["--all-classes"], list(split.classes))):
        out = CliRunner().invoke(app, ["recognize", str(NTU_FILE), "--checkpoint", str(demo_dir / where),
                                       "--mode", "score", "--json", *extra])
        assert out.exit_code == 0, out.output + repr(out.exception)
        got = json.loads(out.output[out.output.index("{"):])
        assert got["candidates"] == want and got["label"] in want
    section = (demo_dir / "report.md").read_text().split("12. Using the checkpoint")[1]
    assert f"--checkpoint {demo_dir / where} --mode score" in section


def test_demo_curriculum_applies_its_recipe(demo_dir, tmp_path):
    from safetensors.torch import load_file

    from skeletonllm.demo.ablation import CurriculumSettings, run_config

    options = {"image_size": 28, "auto_frame": True, "frame_fill": 1.1}
    cfg = run_config("draction", tmp_path, tmp_path / "backbone", options, 8, CurriculumSettings(), 0, "synth_31_13")
    stages = cfg.stages
    assert stages["render_warmup"].trains == ["renderer"] and not stages["render_warmup"].group_lr
    assert stages["disc_ft"].trains == ["renderer"] and stages["disc_ft"].group_lr == {"renderer": 5e-4}
    assert stages["cr_distill"].trains == ["renderer", "lora"]
    assert stages["recognition"].trains == ["lora"] and stages["recognition"].tasks == ["mqa", "caption", "qa"]
    assert stages["cr_distill"].epochs == 1 and stages["recognition"].epochs == 2     # the paper: 1 and 3
    longer = run_config("draction", tmp_path, tmp_path / "backbone", options, 8, CurriculumSettings(distill_epochs=2),
                        0, "synth_31_13")
    assert longer.stages["cr_distill"].epochs == 2
    # The trained checkpoint's projector is still the head start's, to the bit (an older recipe that
    # trained it fails here).
    trained = load_file(str(demo_dir / "projector.safetensors"))
    from skeletonllm.mllm.model import SkeletonLLM, SkeletonLLMConfig
    head_start = SkeletonLLM(SkeletonLLMConfig(backbone=str(demo_dir / "runs" / "backbone"), image_size=28,
                                               lora=False, device="cpu"))
    original = {k: v for k, v in head_start.backbone.state_dict().items() if "projector" in k}
    assert trained and len(trained) == len(original)
    for name, value in trained.items():
        match = [v for k, v in original.items() if k.endswith(name.split("projector", 1)[1])]
        assert len(match) == 1 and torch.equal(match[0], value), name


def test_demo_refuses_a_directory_it_did_not_write(tmp_path):
    from skeletonllm.demo import DemoSettings, run_demo

    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not a previous demo output"):
        run_demo(tmp_path, DemoSettings.quick(), progress=False, say=lambda _: None)
    assert (tmp_path / "precious.txt").read_text() == "keep me"


def test_head_start_texts_never_name_an_unseen_class():
    from skeletonllm.demo.pretrain import describe, language_items, tokenizer_corpus
    from skeletonllm.synth import SyntheticMotionSet

    ds = SyntheticMotionSet.for_split("synth_24_6", num_per_class=1, seed=0)
    seen = list(ds.split.seen)
    train = [ds[i] for i in ds.seen_indices()]
    corpus = " | ".join(tokenizer_corpus(train, seen)).lower()
    for name in ds.split.unseen:
        assert name not in corpus, name
    import numpy as np
    short, long = language_items(train, seen, np.random.default_rng(0))
    assert len(short) == len(train) and {t for _, _, t in short} >= {"kick right leg", "bow torso"}
    assert describe("kick right leg") == "kick right leg" and describe("lift left arm sideways") == "lift sideways left arm"
    assert {t for _, _, t in long} >= {"YES", "NO", "Label: left", "Label: leg"}


def test_word_checks_ground_the_side_and_part_words_one_at_a_time():
    import numpy as np

    from skeletonllm.demo.pretrain_targets import attribute_vocab, attributes, language_items, word_phrase
    from skeletonllm.mllm import prompts as P
    from skeletonllm.synth import SyntheticMotionSet

    ds = SyntheticMotionSet.for_split("synth_24_6", num_per_class=1, seed=0)
    seen = list(ds.split.seen)
    train = [ds[i] for i in ds.seen_indices()]
    _, plain = language_items(train, seen, np.random.default_rng(0))
    _, again = language_items(train, seen, np.random.default_rng(0), word_checks=False)
    assert [(p, t) for _, p, t in plain] == [(p, t) for _, p, t in again]      # off: the same items, same draws
    _, checked = language_items(train, seen, np.random.default_rng(0), word_checks=True)
    vocab = attribute_vocab(seen)
    phrases = {word_phrase(k, v): (k, v) for k in ("side", "part") for v in vocab[k] if v != "neither"}
    assert word_phrase("side", "both") == "both sides" and word_phrase("part", "leg") == "the leg"
    word_prompts = {P.disc_prompt(x) for x in phrases}
    assert word_prompts <= {p for _, p, _ in checked} and not word_prompts & {p for _, p, _ in plain}
    for sample in train:
        seq, att = sample.sequence("ntu25"), attributes(sample)
        asked = [(phrases[p[p.index("'") + 1:p.rindex("'")]], t) for s, p, t in checked
                 if s is seq and "'" in p and p[p.index("'") + 1:p.rindex("'")] in phrases]
        for key in ("side", "part"):
            mine = [(v, t) for (k, v), t in asked if k == key]
            if getattr(att, key) == "neither":
                assert mine == []
            else:
                assert (getattr(att, key), P.YES) in mine and len(mine) == 2
                assert [t for v, t in mine if v != getattr(att, key)] == [P.NO]


def test_attribute_questions_offer_as_many_options_as_asked():
    import numpy as np

    from skeletonllm.demo.pretrain_targets import ATTRIBUTE_QUESTIONS, attribute_vocab, attributes, language_items
    from skeletonllm.synth import SyntheticMotionSet

    ds = SyntheticMotionSet.for_split("synth_24_6", num_per_class=1, seed=0)
    seen = list(ds.split.seen)
    train = [ds[i] for i in ds.seen_indices()][:6]
    vocab = attribute_vocab(seen)
    for asked in (4, 0):
        _, long = language_items(train, seen, np.random.default_rng(0), options=(asked,))
        for question, key in ATTRIBUTE_QUESTIONS:
            items = [(seq, p, t) for seq, p, t in long if question in p]
            assert len(items) == len(train)
            for (seq, prompt, target), sample in zip(items, train):
                offered = [line[2:] for line in prompt.splitlines() if line.startswith("- ")]
                truth = getattr(attributes(sample), key)
                assert target == f"Label: {truth}" and truth in offered and len(set(offered)) == len(offered)
                assert set(offered) <= set(vocab[key])
                assert len(offered) == (min(asked, len(vocab[key])) if asked else len(vocab[key]))
    from skeletonllm.demo.pretrain_settings import PretrainSettings
    assert PretrainSettings(attribute_options=0).attribute_options == (0,)         # as the sweep's first runs gave it
    assert PretrainSettings(attribute_options=[4, 0]).attribute_options == (4, 0)
    for bad in ((), (1,), (-2,)):
        with pytest.raises(ValueError, match="attribute_options"):
            PretrainSettings(attribute_options=bad)
    for bad in (1, -3):
        with pytest.raises(ValueError, match="mqa_options"):
            PretrainSettings(mqa_options=bad)
    _, long = language_items(train, seen, np.random.default_rng(0), options=(4, 0))
    sizes = [sum(line.startswith("- ") for line in p.splitlines()) for _, p, _ in long if "Which movement" in p]
    assert sizes == [4, len(vocab["movement"])] * len(train)     # each clip asked both ways


def test_recognition_questions_offer_all_seen_classes_or_a_subset_with_the_truth():
    import numpy as np

    from skeletonllm.demo.pretrain_targets import language_items
    from skeletonllm.synth import SyntheticMotionSet

    ds = SyntheticMotionSet.for_split("synth_24_6", num_per_class=1, seed=0)
    seen = list(ds.split.seen)
    train = [ds[i] for i in ds.seen_indices()][:6]
    for asked, size in ((0, len(seen)), (5, 5)):
        _, long = language_items(train, seen, np.random.default_rng(0), mqa=2, mqa_options=asked)
        lists = [([line[2:] for line in p.splitlines() if line.startswith("- ")], t) for _, p, t in long]
        mqa = [(offered, t) for offered, t in lists if offered and set(offered) <= set(seen)]
        assert len(mqa) == 2 * len(train)
        for offered, target in mqa:
            assert len(offered) == len(set(offered)) == size
            assert target == f"Label: {target[7:]}" and target[7:] in offered


def test_attribute_answers_offering_ranks_the_options_each_question_offered():
    """A model that always prefers the alphabetically first option is right exactly when the truth is
    the first of what was offered: replaying the same draws gives the expected accuracy."""
    import numpy as np
    import torch

    from skeletonllm.demo.evaluate import attribute_answers_offering
    from skeletonllm.demo.pretrain_targets import ATTRIBUTE_QUESTIONS, attribute_vocab, attributes, offer
    from skeletonllm.synth import SyntheticMotionSet

    class FirstInOrder:
        device = "cpu"

        def render(self, batch):
            return torch.zeros(batch.joints.shape[0], 1)

        def score_candidates(self, _, prompt, options, frames):
            assert all(f"- {o}" in prompt for o in options) and frames.shape[0] == 1
            return -torch.tensor([sorted(options).index(o) for o in options], dtype=torch.float)[None]

    ds = SyntheticMotionSet.for_split("synth_24_6", num_per_class=1, seed=0)
    seen = list(ds.split.seen)
    clips = [ds[i] for i in ds.seen_indices()][:7]
    got = attribute_answers_offering(FirstInOrder(), clips, seen, 4, offered=3, seed=5, batch_size=3)
    rng, vocab = np.random.default_rng(5), attribute_vocab(seen)
    hits = {k: [] for _, k in ATTRIBUTE_QUESTIONS}
    for s in clips:
        for _, key in ATTRIBUTE_QUESTIONS:
            truth = getattr(attributes(s), key)
            hits[key].append(min(offer(truth, vocab[key], 3, rng)) == truth)
    for key, h in hits.items():
        assert got[key] == pytest.approx(np.mean(h)) and got[f"{key}_chance"] == pytest.approx(1 / 3)
    assert 0 < sum(got[k] for k in hits) < 3          # neither always right nor always wrong


def test_attribute_format_script_reads_a_demo_output(demo_dir, capsys):
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "scripts" / "attribute_format.py"
    spec = importlib.util.spec_from_file_location("attribute_format", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    res = script.measure(demo_dir, offered=2)
    assert set(res) == {"seen", "unseen"}
    for ways in res.values():
        assert set(ways) == {"all values", "all values, calibrated", "2 values"}
        assert ways["2 values"]["side_chance"] == pytest.approx(0.5) and ways["all values"]["side_chance"] == 0.25
    assert script.main([str(demo_dir / "nowhere")]) == 2 and "demo.json: not found" in capsys.readouterr().err


def test_report_document_renders_markdown_and_escaped_html(tmp_path):
    from skeletonllm.demo.report import Document

    doc = Document("t")
    doc.heading("A <b>")
    doc.text("**bold** and `code` <script>")
    doc.table(["x", "y"], [[1.23456, None], ["a|b", 2]])
    doc.image("media/x.gif", "cap")
    md, page = doc.write(tmp_path)
    text = md.read_text()
    assert "| 1.235 | – |" in text and "a\\|b" in text and "![cap](media/x.gif)" in text
    html = page.read_text()
    assert "<b>bold</b>" in html and "<code>code</code>" in html and "&lt;script&gt;" in html
    assert "<h2>A &lt;b&gt;</h2>" in html


def test_verdict_is_computed_from_the_numbers():
    from skeletonllm.demo.report import verdict

    at_chance = {"unseen_top1_score": 16 / 96, "unseen_chance": 1 / 6, "draction_minus_best_fixed": -0.1,
                 "best_fixed": "velocity"}
    text = verdict(at_chance, 96)
    assert "**not** above chance" in text and "**falls behind**" in text and "does not show" in text
    clearly_above = {"unseen_top1_score": 48 / 96, "unseen_chance": 1 / 6, "draction_minus_best_fixed": 0.05,
                     "best_fixed": "velocity"}
    text = verdict(clearly_above, 96)
    assert "is above chance" in text and "matches or beats" in text and "does not show" not in text
    above_but_behind = dict(clearly_above, draction_minus_best_fixed=-0.04)
    text = verdict(above_but_behind, 96)
    assert "is above chance" in text and "**falls behind**" in text and "-4.0 points" in text
    assert "shows zero-shot learning" in text and "not DrAction's advantage" in text


def test_dractions_start_from_the_head_starts_renderer(demo_dir):
    """Both DrAction arms start from the very DrAction the head start drew with (the no-NFM arm
    from its weights outside the NFM); the head start drew every arm's renderer equally often."""
    from safetensors.torch import load_file

    backbone = demo_dir / "runs" / "backbone"
    head = load_file(str(backbone / "initial-draction" / "renderer.safetensors"))
    for arm in ("draction", "draction_no_nfm"):
        start = load_file(str(demo_dir / "runs" / arm / "initial" / "renderer.safetensors"))
        assert start and all(torch.equal(v, head[k]) for k, v in start.items()), arm
        assert any(k.startswith("nfm.") for k in start) == (arm == "draction")
    counts = json.loads((backbone / "head-start.json").read_text())["clips_per_renderer"]
    assert set(counts) == {"velocity", "projection", "jtm", "draction"}
    assert max(counts.values()) - min(counts.values()) <= 1


def test_demo_settings_take_overrides_and_name_what_changed():
    from typer.testing import CliRunner

    from skeletonllm.cli import app
    from skeletonllm.demo.settings import DemoSettings
    s = DemoSettings.full(3).with_overrides({"pretrain.vision_steps": 100, "curriculum.stage4_tasks": ["mqa"],
                                              "calibrate": False})
    assert s.seed == 3 and s.pretrain.vision_steps == 100 and s.curriculum.stage4_tasks == ("mqa",)
    assert s.changes() == [f"pretrain.vision_steps = 100 (default {DemoSettings.full().pretrain.vision_steps})",
                           "curriculum.stage4_tasks = ('mqa',) (default ('mqa', 'caption', 'qa'))",
                           "calibrate = False (default True)"]
    assert DemoSettings.quick(5).changes() == [] and DemoSettings.full().with_overrides({}).changes() == []
    for bad, message in (({"pretrain.nope": 1}, "unknown demo setting 'pretrain.nope'"),
                         ({"seed": 2}, "unknown demo setting 'seed'"),
                         ({"x.y": 1}, "sections: pretrain, curriculum, sugar"),
                         ({"pretrain.downsample_ratio": "half"},
                          f"expected a value like {DemoSettings.full().pretrain.downsample_ratio!r}"),
                         ({"calibrate": 1}, "expected a value like True")):
        with pytest.raises(ValueError, match=re.escape(message)):
            DemoSettings.full().with_overrides(bad)
    r = CliRunner().invoke(app, ["demo", "--quick", "--set", "pretrain.nope=1"])
    assert r.exit_code == 2 and "unknown demo setting 'pretrain.nope'" in r.output
    r = CliRunner().invoke(app, ["demo-study", "--quick", "--set", "calibrate"])
    assert r.exit_code == 2 and "expected KEY=VALUE" in r.output
