"""The demo's linear pixel probe, on cases whose answer is known."""
import itertools
import json

import numpy as np
import pytest

from skeletonllm.demo.probe import SpanLogistic, fit_probe, span_basis

MOVES, PARTS, SIDES = ("raise", "kick", "wave"), ("arm", "leg"), ("left", "right")


def _features(atts, rng, noise=0.05, hide=()):
    """One-hot blocks of each attribute (a block of zeros for attributes in ``hide``), plus noise."""
    blocks = []
    for key, values in (("movement", MOVES), ("part", PARTS), ("side", SIDES)):
        onehot = np.array([[a[key] == v for v in values] for a in atts], dtype=float)
        blocks.append(np.zeros_like(onehot) if key in hide else onehot)
    X = np.concatenate(blocks, 1)
    X = np.repeat(X, 20, axis=1)                     # many features per block, as pixels are
    return X + noise * rng.standard_normal(X.shape)


def _world(rng, n_train=12, n_test=6, hide=()):
    combos = [dict(movement=m, part=p, side=s) for m, p, s in itertools.product(MOVES, PARTS, SIDES)]
    name = lambda a: f"{a['movement']} {a['side']} {a['part']}"  # noqa: E731
    unseen = [combos[i] for i in (1, 6, 10)]         # raise right leg, wave left arm, kick left leg ...
    seen = [a for a in combos if a not in unseen]
    train = [a for a in seen for _ in range(n_train)]
    test_seen = [a for a in seen for _ in range(n_test)]
    test_unseen = [a for a in unseen for _ in range(n_test)]
    X = [_features(s, rng, hide=hide) for s in (train, test_seen, test_unseen)]
    labels = [[name(a) for a in s] for s in (train, test_seen, test_unseen)]
    return X, labels, (train, test_seen, test_unseen), {name(a): a for a in unseen}


def test_attributes_that_the_pixels_carry_compose_to_every_unseen_class():
    rng = np.random.default_rng(0)
    X, y, atts, unseen = _world(rng)
    out = fit_probe(X[0], y[0], atts[0], X[1], y[1], atts[1], X[2], y[2], atts[2], unseen)
    assert out["seen_top1"] == 1.0
    assert out["unseen_top1"] == 1.0                 # every unseen class is a new combination of seen values
    for key in ("movement", "part", "side"):
        assert out["attributes"][key]["seen"] == 1.0 and out["attributes"][key]["unseen"] == 1.0
    assert out["attributes"]["movement"]["chance"] == pytest.approx(1 / 3)
    assert set(out["unseen_per_class"]) == set(unseen)
    assert out["num_train"] == len(y[0]) and out["num_features"] == X[0].shape[1]


def test_a_side_the_pixels_do_not_show_cannot_be_read():
    rng = np.random.default_rng(1)
    X, y, atts, unseen = _world(rng, hide=("side",))
    out = fit_probe(X[0], y[0], atts[0], X[1], y[1], atts[1], X[2], y[2], atts[2], unseen)
    assert out["attributes"]["movement"]["unseen"] == 1.0 and out["attributes"]["part"]["unseen"] == 1.0
    assert out["attributes"]["side"]["seen"] < 0.75          # chance 0.5, noise only
    # Seen classes come in left / right pairs with the same movement and part: about half are named.
    assert out["seen_top1"] < 0.75


def test_pure_noise_gives_chance():
    rng = np.random.default_rng(2)
    X, y, atts, unseen = _world(rng, n_train=30, n_test=30, hide=("movement", "part", "side"))
    out = fit_probe(X[0], y[0], atts[0], X[1], y[1], atts[1], X[2], y[2], atts[2], unseen)
    assert out["unseen_top1"] < 0.6                  # 3 candidates: chance 1/3
    assert out["seen_top1"] < 0.25                   # 9 classes: chance 1/9


def test_the_span_fit_is_the_full_fit():
    """In the span of the training rows the L2 optimum is the same: so are its probabilities."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(3)
    X = rng.standard_normal((40, 300))
    y = np.array(["a", "b", "c", "d"] * 10)
    X[:, :5] += 2.0 * (y[:, None] == np.array(["a", "b", "c", "d", "a"]))
    test = rng.standard_normal((15, 300))
    span = SpanLogistic().fit(X, y)
    scaler = StandardScaler().fit(X)
    full = LogisticRegression(C=0.05, max_iter=5000, tol=1e-8).fit(scaler.transform(X), y)
    np.testing.assert_allclose(np.exp(span.log_proba(test)), full.predict_proba(scaler.transform(test)), atol=2e-4)
    basis = span_basis(X)
    assert basis.shape == (300, 40)
    np.testing.assert_allclose(basis.T @ basis, np.eye(40), atol=1e-8)


def test_no_unseen_class_reaches_the_fit():
    rng = np.random.default_rng(4)
    X, y, atts, unseen = _world(rng)
    leaked = list(unseen)[0]
    y0 = list(y[0])
    y0[0] = leaked
    with pytest.raises(ValueError, match="unseen"):
        fit_probe(X[0], y0, atts[0], X[1], y[1], atts[1], X[2], y[2], atts[2], unseen)


def test_the_shipped_sweep_records_how_the_head_start_was_chosen():
    """Every run has its command and numbers on seen clips; validation runs held out seen classes only;
    the demo's present head start is one of the runs."""
    from skeletonllm.demo.report import Document
    from skeletonllm.demo.sweep_report import SWEEP_HEADER, is_current, load_sweep, sweep_rows
    from skeletonllm.synth import get_split

    split = get_split("synth_31_13")
    runs = load_sweep()
    assert len(runs) >= 10
    for r in runs:
        assert r["command"].startswith("python ") and "--name " + r["name"] in r["command"]
        # a run that reused another run's head start may leave it unmeasured (--renderers none)
        assert r["head_start"]["draction"]["seen_top1"] >= 0 if r["head_start"] else r["head_start_reused"]
        v = r.get("validation_split")
        if v:
            assert set(v["train"]) | set(v["zero_shot"]) == set(split.seen)
            assert not set(v["zero_shot"]) & set(split.unseen)
    assert sum(is_current(r) for r in runs) >= 1
    # A run whose curriculum differs from the demo's is not the demo's, and its row says how it differs.
    import copy
    other = copy.deepcopy(next(r for r in runs if is_current(r)))
    other["curriculum_overrides"] = {"stage4_tasks": ["mqa"]}
    assert not is_current(other) and "stage4_tasks = mqa" in sweep_rows([other])[0][1]
    rows = sweep_rows(runs)
    assert len(rows) == len(runs) and all(len(row) == len(SWEEP_HEADER) for row in rows)
    # a head-start override the record's settings do not list still marks the run as not the demo's
    other = copy.deepcopy(next(r for r in runs if is_current(r)))
    other["overrides"] = {"vision_hidden": 32}
    assert not is_current(other) and "vision_hidden = 32" in sweep_rows([other])[0][1]
    # a record older than the listing of downsample_ratio ran with one token per frame
    older = copy.deepcopy(next(r for r in runs if is_current(r)))
    older["settings"].pop("downsample_ratio", None)
    older["overrides"] = {k: v for k, v in older["overrides"].items() if k != "downsample_ratio"}
    assert not is_current(older) and "one token per frame (pixel shuffle)" in sweep_rows([older])[0][1]
    assert "four tokens per frame (no pixel shuffle)" in sweep_rows([next(r for r in runs if is_current(r))])[0][1]
    # attribute questions: records before the setting asked them with 4 options; the first runs gave one count
    for given, words in ((0, "attribute questions offering all values"),
                         ([4, 0], "attribute questions offering 4 values and all values")):
        other = copy.deepcopy(older)
        other["settings"]["attribute_options"] = given
        assert words in sweep_rows([other])[0][1]
    # the shared movement head: named when on, silent when a record predates it
    shared = copy.deepcopy(next(r for r in runs if is_current(r)))
    shared["overrides"] = {"shared_movement": 0.5}
    assert not is_current(shared) and "a movement head shared by the token positions x0.5" in sweep_rows([shared])[0][1]
    assert "shared by the token positions" not in sweep_rows([older])[0][1]
    shared["overrides"] = {"word_checks": True}
    assert "YES/NO checks of the side and part words" in sweep_rows([shared])[0][1]
    assert "YES/NO checks" not in sweep_rows([older])[0][1]
    for given, words in (({"other_motions": 10}, "10 clips of each other motion"),
                         ({"other_motions": 3, "other_language": False},
                          "3 clips of each other motion (vision phase only)")):
        shared["overrides"] = given
        assert not is_current(shared) and words in sweep_rows([shared])[0][1]
    assert "other motion" not in sweep_rows([older])[0][1]
    doc = Document("t")
    from skeletonllm.demo.sweep_report import sweep_section
    sweep_section(doc, runs)
    assert "the demo's settings" in doc.to_markdown()


def test_a_configuration_run_on_several_seeds_is_summarised_over_them():
    import copy

    from skeletonllm.demo.sweep_report import SEED_HEADER, seed_rows
    base = {"name": "a", "seed": 0, "settings": {}, "overrides": {"short_steps": 1}, "curriculum_overrides": {},
            "validation_split": {"train": [], "zero_shot": []},
            "head_start": {"draction": {"zero_shot_top1_calibrated": 0.2}},
            "curriculum": {"zero_shot_top1_calibrated": 0.4, "seen_top1_calibrated": 0.9,
                           "pixel_probe": {"zero_shot_top1": 0.5}, "tasks": {"qa_accuracy": 0.5, "bleu4": 0.01}}}
    runs = [base]
    for seed, name, zs in ((1, "a-s1", 0.6), (1, "a-s1-again", 0.5), (2, "a-s2", 0.3)):
        r = copy.deepcopy(base)
        r.update(name=name, seed=seed)
        r["curriculum"]["zero_shot_top1_calibrated"] = zs
        runs.append(r)
    lonely = copy.deepcopy(base)
    lonely["curriculum_overrides"] = {"stage4_tasks": ["mqa"]}           # one seed only: no summary row
    no_head = copy.deepcopy(base)
    no_head.update(seed=3, name="a-s3")
    no_head["head_start"] = {}
    [row] = seed_rows(runs + [lonely])
    assert len(row) == len(SEED_HEADER)
    assert row[0] == "a, a-s1-again, a-s2" and row[2] == "0, 1, 2"         # the last run of each seed
    assert row[3] == "20.0 (20.0 / 20.0 / 20.0)" and row[4] == "40.0 (40.0 / 50.0 / 30.0)"
    assert row[8] == "0.010 / 0.010 / 0.010"
    [row] = seed_rows(runs + [no_head])
    assert row[3] == "–" and row[2] == "0, 1, 2, 3"


def test_a_traced_curriculum_is_shown_checkpoint_by_checkpoint():
    import copy

    from skeletonllm.demo.sweep_report import TRACE_HEADER, TRACE_STAGES, trace_rows
    at = {"zero_shot_top1_calibrated": 0.4, "zero_shot_top1": 0.3, "seen_top1_calibrated": 0.9,
          "movement_zero_shot_calibrated": 0.2, "side_zero_shot_calibrated": 0.5, "part_zero_shot_calibrated": 0.6}
    base = {"name": "t-s0", "seed": 0, "settings": {}, "overrides": {}, "curriculum_overrides": {},
            "validation_split": {"train": [], "zero_shot": []},
            "curriculum": {"trace": {stage: dict(at) for stage in TRACE_STAGES}}}
    other = copy.deepcopy(base)
    other.update(name="t-s1", seed=1)
    other["curriculum"]["trace"]["cr_distill"]["zero_shot_top1_calibrated"] = 0.6
    untraced = copy.deepcopy(base)
    untraced.update(name="u-s2", seed=2)
    del untraced["curriculum"]["trace"]
    rows = trace_rows([base, other, untraced])
    assert [r[2] for r in rows] == list(TRACE_STAGES) and all(len(r) == len(TRACE_HEADER) for r in rows)
    assert rows[0][0] == "t-s0 … (seeds 0, 1)" and rows[1][0] == ""
    assert rows[3][3] == "50.0 (40.0 / 60.0)" and rows[3][4] == "30.0 (30.0 / 30.0)"
    assert rows[0][6] == "20.0 / 50.0 / 60.0"
    assert trace_rows([base]) == []                     # one seed: no summary
    elsewhere = copy.deepcopy(other)                   # another validation split is another configuration
    elsewhere["validation_split"]["zero_shot"] = ["raise left arm"]
    elsewhere["command"] = "python scripts/demo_sweep.py --name t-s1 --validation --split-seed 1"
    assert "validation split 1 (held out: raise left arm)" in trace_rows([elsewhere, dict(elsewhere, seed=2)])[0][1]
    assert len(trace_rows([base, other, elsewhere])) == len(TRACE_STAGES)
    assert trace_rows([base, elsewhere]) == []


def _script(name: str = "demo_sweep"):
    """``scripts/<name>.py`` loaded as a module (the scripts are not a package)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


def test_the_token_probe_redraws_only_the_parts_it_names():
    import torch

    from skeletonllm.mllm.model import SkeletonLLM, SkeletonLLMConfig

    script = _script("token_probe")
    torch.manual_seed(0)
    model = SkeletonLLM(SkeletonLLMConfig(backbone="tiny:internvl", image_size=56, renderer_options={"image_size": 56},
                                          device="cpu", num_frames=2))
    groups = lambda: {g: [p.detach().clone() for p in ps] for g, ps in model.parameter_groups().items()}  # noqa: E731
    changed = lambda a, b: {g for g in a if any(not torch.equal(x, y) for x, y in zip(a[g], b[g]))}  # noqa: E731
    start = groups()
    script.redraw(model, ("projector",), 3)
    after_projector = groups()
    assert changed(start, after_projector) == {"projector"}
    script.redraw(model, ("vision", "projector"), 3)
    after_both = groups()
    assert changed(after_projector, after_both) == {"vision"}      # the same seed draws the same projector
    assert changed(start, after_both) == {"vision", "projector"}


def test_the_motion_probe_asks_every_limb_about_the_frames_it_names():
    """Each clip is asked about each limb for each frame pair: the truths are the directions read
    off the same samplings' joints (a standing leg is still), the answers are directions, and
    the probe's features hold the two named frames' tokens, their change and the limb."""
    import torch

    from skeletonllm.demo.pretrain_targets import DIRECTIONS, LIMBS
    from skeletonllm.mllm.model import SkeletonLLM, SkeletonLLMConfig
    from skeletonllm.synth import SyntheticMotionSet

    script = _script("motion_probe")
    torch.manual_seed(0)
    model = SkeletonLLM(SkeletonLLMConfig(backbone="tiny:internvl", image_size=56, renderer_options={"image_size": 56},
                                          device="cpu", num_frames=3)).eval()
    clips = list(SyntheticMotionSet(num_per_class=1, seed=0, classes=["raise left arm", "kick right leg"]))
    truths, answers, features = script.asked(model, clips, 3, pairs=((0, 1), (1, 2)))
    assert len(truths) == len(answers) == len(features) == len(LIMBS) * 2 * len(clips)
    assert set(answers) <= set(DIRECTIONS) and set(truths) <= set(DIRECTIONS)
    asked = lambda limb, pair, clip: (LIMBS.index(limb) * 2 + pair) * len(clips) + clip  # noqa: E731
    assert truths[asked("right leg", 0, 0)] == "still" and truths[asked("left leg", 0, 1)] == "still"
    assert truths[asked("left arm", 0, 0)] != "still" and truths[asked("right leg", 0, 1)] != "still"
    with torch.no_grad():
        from skeletonllm.skeleton import collate_sequences
        batch = collate_sequences([s.sequence("ntu25") for s in clips], num_frames=3, max_bodies=2)
        tokens = model.encode_frames(model.render(batch)).embeds.reshape(len(clips), 3, -1).numpy()
    row = features[asked("left leg", 1, 1)]
    width = tokens.shape[-1]
    assert np.allclose(row[:width], tokens[1, 1]) and np.allclose(row[width:2 * width], tokens[1, 2])
    assert np.allclose(row[2 * width:3 * width], tokens[1, 2] - tokens[1, 1]) and list(row[3 * width:]) == [0, 0, 1, 0]


def test_the_sweep_reuses_a_head_start_only_with_its_own_settings(tmp_path, capsys):
    from argparse import Namespace

    from skeletonllm.demo.settings import DemoSettings

    script = _script()
    st = DemoSettings.full(3)
    stamp = script._head_start_stamp(st, Namespace(validation=True, split_seed=1))
    assert stamp["seed"] == 3 and stamp["split_seed"] == 1 and stamp["pretrain"]["hidden"] == 64
    script._check_head_start(tmp_path, stamp)               # an older head start, without a stamp: reused
    assert "no sweep-head-start.json" in capsys.readouterr().err
    (tmp_path / script.HEAD_START_STAMP).write_text(json.dumps(stamp))
    script._check_head_start(tmp_path, json.loads(json.dumps(stamp)))     # the same settings
    wider = script._head_start_stamp(DemoSettings.full(3).with_overrides({"pretrain.hidden": 128}),
                                     Namespace(validation=True, split_seed=1))
    with pytest.raises(SystemExit, match="pretrain.hidden = 64 there, 128 here"):
        script._check_head_start(tmp_path, wider)
    other_split = script._head_start_stamp(st, Namespace(validation=True, split_seed=0))
    with pytest.raises(SystemExit, match="split_seed = 1 there, 0 here"):
        script._check_head_start(tmp_path, other_split)


def test_the_sweeps_overrides_add_up_and_name_a_setting_that_does_not_exist():
    script = _script()
    a = script._parser().parse_args(["--name", "x", "--set", "layers=1", "--set", "pretrain.vision_layers=2",
                                     'head_pool="frames"', "--curriculum-set", "attribute_qa=true"])
    assert a.set == ["layers=1", "pretrain.vision_layers=2", 'head_pool="frames"']
    over = script._overrides(a.set, "pretrain", "--set")
    assert over == {"layers": 1, "vision_layers": 2, "head_pool": "frames"}
    cover = script._overrides(a.curriculum_set, "curriculum", "--curriculum-set")
    st = script._settings(4, over, cover)
    assert (st.seed, st.pretrain.layers, st.pretrain.vision_layers, st.curriculum.attribute_qa) == (4, 1, 2, True)
    assert script._parser().parse_args(["--name", "y"]).set == []          # the default list is not shared
    with pytest.raises(SystemExit, match="unknown demo setting 'pretrain.layer'"):
        script._settings(0, {"layer": 1}, {})
    with pytest.raises(SystemExit, match="expected a value like 2"):
        script._settings(0, {"layers": "two"}, {})
    with pytest.raises(SystemExit, match="--set layers: expected key=JSON"):
        script._overrides(["layers"], "pretrain", "--set")
    with pytest.raises(SystemExit, match="the value is not JSON"):
        script._overrides(["head_pool=frames"], "pretrain", "--set")


def test_the_sweeps_readouts_are_shown_for_the_head_start_and_after_the_curriculum():
    import copy

    from skeletonllm.demo.sweep_report import READOUT_HEADER, readout_rows
    base = {"name": "r-s0", "seed": 0, "settings": {}, "overrides": {}, "curriculum_overrides": {},
            "validation_split": {"train": [], "zero_shot": []},
            "head_start": {"draction": {"readouts": {"names": 0.4, "composed": 0.5, "names_and_composed": 0.45}}},
            "curriculum": {"readouts": {"names": 0.5, "composed": 0.4, "names_and_composed": 0.6},
                           "pixel_probe": {"zero_shot_top1": 0.55}}}
    other = copy.deepcopy(base)
    other.update(name="r-s1", seed=1)
    other["curriculum"]["readouts"]["names_and_composed"] = 0.4
    older = copy.deepcopy(base)                         # a record from before the readouts: left out
    older.update(name="o-s2", seed=2)
    del older["curriculum"]["readouts"]
    rows = readout_rows([base, other, older])
    assert len(rows) == 2 and all(len(r) == len(READOUT_HEADER) for r in rows)
    assert rows[0][:3] == ["r-s0 … (seeds 0, 1)", "", "head start"] and rows[0][4] == "50.0 (50.0 / 50.0)"
    assert rows[1][2] == "after the curriculum" and rows[1][5] == "50.0 (60.0 / 40.0)"
    assert rows[1][6] == "55.0 (55.0 / 55.0)" and rows[0][6] == ""
    assert readout_rows([base, older]) == []


def test_a_change_is_compared_with_its_nearest_configuration_on_the_same_split_and_seeds():
    import copy

    from skeletonllm.demo.pretrain_settings import PretrainSettings
    from skeletonllm.demo.sweep_report import PAIRED_HEADER, paired_rows, sweep_section
    from skeletonllm.demo.ablation import CurriculumSettings

    settings = {k: (list(v) if isinstance(v, tuple) else v) for k, v in PretrainSettings().to_dict().items()}
    settings.update(length_batches=True, recognition_epochs=CurriculumSettings().recognition_epochs)

    def run(name, seed, zero_shot, seen=0.9, held_out=("bow",), split=0, **overrides):
        return {"name": f"{name}-s{seed}", "seed": seed, "settings": dict(settings), "overrides": overrides,
                "curriculum_overrides": {}, "command": f"python scripts/demo_sweep.py --name {name}-s{seed}"
                + (f" --split-seed {split}" if split else ""),
                "validation_split": {"train": [], "zero_shot": list(held_out)},
                "curriculum": {"zero_shot_top1_calibrated": zero_shot, "seen_top1_calibrated": seen}, "head_start": {}}

    default = [run("d", 0, 0.40), run("d", 1, 0.50), run("d", 2, 0.30)]
    other_split = [run("d1", 0, 0.20, held_out=("jump up",), split=1), run("d1", 1, 0.30, held_out=("jump up",), split=1)]
    change = [run("w", 0, 0.45, seen=0.96, word_checks=True), run("w", 1, 0.40, word_checks=True)]
    change_1 = [run("w1", 0, 0.30, held_out=("jump up",), split=1, word_checks=True),
                run("w1", 1, 0.35, held_out=("jump up",), split=1, word_checks=True)]
    lonely = [run("v", 3, 0.9, vision_steps=10), run("v", 4, 0.9, vision_steps=10)]   # no default on seeds 3-4
    [row] = paired_rows(default + other_split + change + change_1 + lonely)
    assert len(row) == len(PAIRED_HEADER)
    assert row[:2] == ["YES/NO checks of the side and part words", "the demo's settings"]   # only what differs
    assert row[2] == "split 0: -2.5 ± 10.6 (+5.0 / -10.0); split 1: +7.5 ± 3.5 (+10.0 / +5.0)"
    assert row[3] == "+2.5 ± 8.7" and row[4] == "3 of 4" and row[5] == "+1.5 ± 3.0"
    # without a configuration on the same split and seeds, nothing is compared there
    [row] = paired_rows(default + change + change_1)
    assert row[2].startswith("split 0") and "split 1" not in row[2]
    assert paired_rows(change + change_1) == []
    # runs on another kind of CPU (training is deterministic on one, not across) pair only among themselves
    from skeletonllm.demo.sweep_report import _settings
    amd = [dict(r, machine="AMD EPYC, 2 CPUs") for r in change]
    assert paired_rows(default + amd) == [] and _settings(amd[0]).endswith("on AMD EPYC, 2 CPUs")
    [row] = paired_rows(default + amd + [dict(r, machine="AMD EPYC, 2 CPUs") for r in default])
    assert row[2] == "split 0: -2.5 ± 10.6 (+5.0 / -10.0)"
    # a record that gave one count for attribute_options is the same change as one that gave a list
    allopt = [run("a", 0, 0.3, attribute_options=0), run("a", 1, 0.3, attribute_options=[0])]
    assert [r[4] for r in paired_rows(default + allopt)] == ["0 of 2"]
    # two changes at once are compared with the nearest configuration: the one-change runs, named
    both = [run("b", 0, 0.55, word_checks=True, shared_movement=1.0), run("b", 1, 0.30, word_checks=True,
                                                                            shared_movement=1.0)]
    rows = paired_rows(default + change + both)
    assert [r[:2] for r in rows] == [["YES/NO checks of the side and part words", "the demo's settings"],
                                     ["a movement head shared by the token positions x1", "`w`"]]
    assert rows[1][2] == "split 0: +0.0 ± 14.1 (+10.0 / -10.0)"
    # two old settings nearest to each other make one row, named by what one has and the other lacks
    [row] = paired_rows(both + change)
    assert row[:2] == ["a movement head shared by the token positions x1", "`w`"]
    [row] = paired_rows(change + [run("c", 0, 0.5, shared_movement=1.0), run("c", 1, 0.5, shared_movement=1.0)])
    assert row[0] == "YES/NO checks of the side and part words instead of a movement head shared by the token " \
                     "positions x1" and row[1] == "`c`"
    # a setting with another value is one difference, as is one that only one side has: the old
    # default pairs with today's (a tie goes to the present settings), not with a variant of itself
    def shorter(r):
        r["settings"]["language_steps"] = 1800
        return r
    old = [shorter(run("o", 0, 0.35)), shorter(run("o", 1, 0.45))]
    old_wc = [shorter(run("ow", 0, 0.30, word_checks=True)), shorter(run("ow", 1, 0.30, word_checks=True))]
    rows = paired_rows(default + old + old_wc)
    assert [r[:2] for r in rows] == [["1800+1800 language steps instead of 1800+3600 language steps",
                                      "the demo's settings"], ["YES/NO checks of the side and part words", "`o`"]]
    assert rows[0][2] == "split 0: -5.0 ± 0.0 (-5.0 / -5.0)" and rows[0][4] == "0 of 2"
    # the comparison is a table of the sweep section
    from skeletonllm.demo.report import Document
    doc = Document("t")
    sweep_section(doc, default + change)
    assert "pooled over splits" in doc.to_markdown()
