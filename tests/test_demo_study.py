"""``skeletonllm demo-study``: seeds and arms run in order, a killed study resumes where it stopped,
and the statistics and report come from the per-seed numbers. The arms' training is replaced by a
stand-in with known numbers (the real arms run in tests/test_demo.py)."""
import json

import pytest

from skeletonllm.demo import pipeline
from skeletonllm.demo.pipeline import DemoSettings
from skeletonllm.demo.pretrain import RESULT_FILE, PretrainResult
from skeletonllm.demo.study import parse_seeds, run_study

BASE = {"draction": 0.40, "draction_no_nfm": 0.35, "velocity": 0.30, "projection": 0.32, "jtm": 0.20, "sugar": 0.45}


def _evaluation(unseen, seen, probe=None):
    out = {"unseen_score": {"top1": unseen}, "seen_score": {"top1": seen}, "num_unseen_clips": 13,
           "num_seen_clips": 12, "unseen_kinds": {"depth": {"top1": unseen / 2, "num_samples": 4},
                                                  "other": {"top1": unseen, "num_samples": 9}},
           "unseen_answers": {"distinct": 5, "candidates": 13, "most_common": "bow", "most_common_share": 0.3}}
    if probe is not None:       # the pixel probe on the arm's frames, and the head start's attribute answers
        atts = {k: {"seen": probe, "unseen": probe - 0.3, "chance": 0.25} for k in ("movement", "part", "side")}
        out["pixel_probe"] = {"seen_top1": probe, "unseen_top1": probe - 0.4, "attributes": atts,
                              "unseen_kinds": {"depth": {"top1": 0.25, "num_samples": 4}}}
        out["attributes"] = {w: {k: 0.7 for k in ("movement", "part", "side")} for w in ("seen", "unseen")}
        # the same model's three zero-shot readouts: class names (= the ranking), composed, both
        out["readouts"] = {"names": {"top1": unseen}, "composed": {"top1": probe - 0.35},
                           "names_and_composed": {"top1": unseen + 0.15}}
    return out


@pytest.fixture
def stand_in(monkeypatch):
    calls, heads, crash = [], [], {}

    def fake_arm(job, notify):
        seed, arm = job.settings.seed, job.arm
        if crash.pop((seed, arm), False):
            raise KeyboardInterrupt            # the study is killed while this arm trains
        calls.append((seed, arm))
        u = BASE[arm] + 0.01 * seed
        ev = {"final": _evaluation(u, 0.6)} if arm == "sugar" else {"frozen": _evaluation(u - 0.05, 0.5, 0.9),
                                                                     "final": _evaluation(u, 0.6, 0.9)}
        if arm.startswith("draction"):
            ev["renderer_only"] = _evaluation(u - 0.03, 0.55)
        return {"arm": arm, "run": {}, "evaluations": ev, "seconds": {}}

    def fake_head_start(train, seen, settings, out_dir, seed, progress=True, other_samples=()):
        assert list(other_samples) == []                    # the demo's default: seen-class clips only
        heads.append(seed)
        out_dir.mkdir(parents=True)
        result = PretrainResult(out_dir, {}, {"vision": 1.0}, 3)
        (out_dir / RESULT_FILE).write_text(json.dumps(result.to_dict()))
        return result

    monkeypatch.setitem(pipeline.ARM_RUNNERS, "curriculum", fake_arm)
    monkeypatch.setitem(pipeline.ARM_RUNNERS, "sugar", fake_arm)
    monkeypatch.setattr(pipeline, "pretrain_backbone", fake_head_start)
    return calls, heads, crash


def test_parse_seeds():
    assert parse_seeds("0-4") == [0, 1, 2, 3, 4] and parse_seeds("3") == [3]
    assert parse_seeds("0-2,9,1") == [0, 1, 2, 9]
    for bad in ("a", "4-2", "1,,2"):
        with pytest.raises(ValueError):
            parse_seeds(bad)


def test_a_killed_study_resumes_at_the_seed_and_arm_where_it_stopped(tmp_path, stand_in):
    calls, heads, crash = stand_in
    settings = DemoSettings.quick()
    settings.workers = 1
    out = tmp_path / "study"
    lines = []
    crash[(1, "jtm")] = True                 # arms run in pipeline.arm_order: SUGAR, DrAction arms, velocity, JTM, ...
    with pytest.raises(KeyboardInterrupt):
        run_study(out, [0, 1], settings, progress=False, say=lines.append)
    assert (out / "seed-0" / "seed.json").is_file() and not (out / "seed-1" / "seed.json").exists()
    assert sorted(p.stem for p in (out / "seed-1" / "arms").glob("*.json")) == ["draction", "draction_no_nfm",
                                                                                "sugar", "velocity"]
    assert heads == [0, 1]
    calls.clear()
    lines.clear()
    summary = run_study(out, [0, 1], settings, progress=False, say=lines.append)
    # Seed 0 is read back, seed 1 keeps its head start and its four finished arms.
    assert calls == [(1, "projection"), (1, "jtm")] and heads == [0, 1]
    assert any("seed 0 (1/2): finished before" in x for x in lines)
    assert any("seed 1 (2/2): head start: finished before" in x for x in lines)
    assert any("4 finished before" in x for x in lines)

    st = summary.statistics
    assert st["seeds"] == [0, 1] and st["best_fixed"] == "projection"
    d = st["arms"]["draction"]["final"]["unseen"]
    assert d["mean"] == pytest.approx(0.405) and d["sd"] == pytest.approx(0.01 / 2 ** 0.5)
    vs = st["against_best_fixed"]["draction"]
    assert vs["differences"] == pytest.approx([0.08, 0.08]) and vs["wins"] == 2
    assert vs["sign_test"]["p"] == pytest.approx(0.5) and vs["t_test"]["p"] == 0.0
    assert st["against_best_fixed"]["jtm"]["wins"] == 0
    assert st["renderer_only_vs_frozen"]["draction"]["unseen"]["differences"] == pytest.approx([0.02, 0.02])
    assert st["nfm"]["unseen"]["t_test"]["mean"] == pytest.approx(0.05)
    sugar = st["sugar_vs_draction"]["unseen"]              # SUGAR's one evaluation, paired with DrAction's final
    assert sugar["differences"] == pytest.approx([0.05, 0.05]) and sugar["wins"] == 2
    assert set(st["arms"]["sugar"]) == {"final"}
    assert st["arms"]["velocity"]["final"]["unseen_kinds"]["depth"]["mean"] == pytest.approx(0.1525)
    assert {k: v["met"] for k, v in st["goals"].items()} == {
        "draction_beats_best_fixed": True, "renderer_only_above_frozen": True, "nfm_helps": True,
        "head_start_reads_attributes": False, "seen_at_least_probe": False, "unseen_at_least_probe": False,
        "at_least_sugar": False}
    # Against the pixel probe on its frames: seen 0.6 vs 0.9, unseen 0.40 / 0.41 vs 0.5 (composed).
    reading = st["reading"]
    assert reading["model_vs_probe"]["draction"]["seen"]["differences"] == pytest.approx([-0.3, -0.3])
    assert reading["model_vs_probe"]["draction"]["unseen"]["differences"] == pytest.approx([-0.1, -0.09])
    gaps = st["goals"]["head_start_reads_attributes"]["gaps"]
    assert gaps["side seen"] == pytest.approx(-0.2) and gaps["part unseen"] == pytest.approx(0.1)
    assert reading["arms"]["velocity"]["final"]["probe_unseen_kinds"]["depth"]["mean"] == pytest.approx(0.25)
    # Readouts after the curriculum: composed 0.55 and names + composed 0.55 / 0.56 against the probe's 0.5;
    # against SUGAR's 0.45 / 0.46 (paired by seed).
    against = reading["readouts_vs_probe"]["draction"]
    assert against["composed"]["differences"] == pytest.approx([0.05, 0.05])
    assert against["names_and_composed"]["differences"] == pytest.approx([0.05, 0.06])
    assert against["names"]["differences"] == pytest.approx([-0.1, -0.09])
    assert reading["readouts_vs_sugar"]["names"]["differences"] == pytest.approx([-0.05, -0.05])
    assert reading["readouts_vs_sugar"]["names_and_composed"]["wins"] == 2
    assert reading["arms"]["draction"]["final"]["readouts"]["names_and_composed"]["mean"] == pytest.approx(0.555)
    assert reading["arms"]["draction"]["frozen"]["readouts"]["names"]["mean"] == pytest.approx(0.355)
    assert "sugar" not in reading["readouts_vs_probe"]
    saved = json.loads(summary.results_json.read_text())
    assert saved["statistics"]["best_fixed"] == "projection" and len(saved["per_seed"]) == 2
    md = summary.report_md.read_text()
    for needle in ("## Goals", "**met**", "fixed: 2D projection", "+8.0 / +8.0", "renderer-only experiment",
                   "seed 1", "unseen depth %", "SUGAR against DrAction", "SUGAR (same clips, no rendering) beats",
                   "Steps 2 + 3 (SUGAR)", "linear pixel probe", "DrAction vs the pixel probe on its frames, seen top-1: "
                   "-30.0 points", "pixel probe on its frames (composed)",
                   "DrAction's unseen top-1 by attribute answers composed: 55.0 ± 0.0, vs the pixel probe +5.0 points "
                   "(above in 2 of 2 seeds), vs SUGAR +9.5 points (above in 2 of 2 seeds).", "unseen: class names and "
                   "attribute answers"):
        assert needle in md, needle
    assert summary.report_html.is_file()
    # The same directory with other settings is refused: the seeds would mix two recipes.
    other = DemoSettings.quick()
    other.train_per_class = 3
    with pytest.raises(FileExistsError, match="other settings"):
        run_study(out, [0, 1], other, progress=False, say=lines.append)


@pytest.mark.slow
def test_quick_study_end_to_end_resumes_an_arm_at_its_stage(tmp_path):
    """Real arms (quick settings): a finished arm is read back; an arm killed after its third stage
    trains only the fourth again."""
    import shutil

    from skeletonllm.demo.study import run_study

    settings = DemoSettings.quick()
    settings.arms = ("draction", "velocity")
    out = tmp_path / "study"
    first = run_study(out, [0], settings, progress=False, say=lambda _: None)
    assert set(first.statistics["arms"]) == {"draction", "velocity"}
    seed = out / "seed-0"
    # "Kill" the velocity arm after stage 3: its outcome and stage 4 are gone.
    (seed / "seed.json").unlink()
    (seed / "arms" / "velocity.json").unlink()
    shutil.rmtree(seed / "runs" / "velocity" / "stage4-recognition")
    stamps = {p: p.stat().st_mtime_ns for p in (seed / "runs" / "velocity").glob("stage[23]-*/final/config.json")}
    lines = []
    again = run_study(out, [0], settings, progress=False, say=lines.append)
    assert any("1 finished before" in x for x in lines)
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps            # stages 2-3 not trained again
    assert (seed / "runs" / "velocity" / "stage4-recognition" / "final" / "config.json").is_file()
    assert again.statistics["arms"]["draction"] == first.statistics["arms"]["draction"]


def test_a_resumed_seed_counts_the_parts_it_finished_before_the_kill(tmp_path, stand_in, monkeypatch):
    """A seed's seconds are the sum of its parts' durations, the arms finished before the kill included
    (not only the last session's wall clock)."""
    import time

    calls, heads, crash = stand_in
    fake = pipeline.ARM_RUNNERS["curriculum"]

    def slow(job, notify):
        time.sleep(0.3)
        return fake(job, notify)

    monkeypatch.setitem(pipeline.ARM_RUNNERS, "curriculum", slow)
    monkeypatch.setitem(pipeline.ARM_RUNNERS, "sugar", slow)
    settings = DemoSettings.quick()
    settings.workers = 1
    out = tmp_path / "study"
    crash[(0, "velocity")] = True            # four arms finish, then the study is killed
    with pytest.raises(KeyboardInterrupt):
        run_study(out, [0], settings, progress=False, say=lambda _: None)
    summary = run_study(out, [0], settings, progress=False, say=lambda _: None)
    record = json.loads((out / "seed-0" / "seed.json").read_text())
    assert set(record["parts"]) == {"data", "head start", *BASE}
    assert all(record["parts"][arm] >= 0.3 for arm in BASE)           # the four of the first session too
    assert record["seconds"] == pytest.approx(sum(record["parts"].values()), abs=0.2) and record["seconds"] >= 1.8
    assert record["wall_seconds_last_session"] < record["seconds"]    # the last session ran two arms
    assert "sum of its parts' durations" in summary.report_md.read_text()


def test_training_seconds_before_reads_every_session_of_every_stage(tmp_path):
    from skeletonllm.demo.pipeline import training_seconds_before

    def log(path, records):
        path.parent.mkdir(parents=True)
        path.write_text("\n".join(json.dumps(r) for r in records) + "\n{\"time\": 12")   # a line cut by a kill

    log(tmp_path / "stage1" / "log.jsonl", [{"time": 100, "event": "start"}, {"time": 110, "step": 5},
                                            {"time": 120, "event": "done"}])
    log(tmp_path / "stage2" / "log.jsonl", [{"time": 130, "event": "start"}, {"time": 145, "step": 3},  # killed
                                            {"time": 200, "event": "resume"}, {"time": 230, "event": "done"}])
    assert training_seconds_before(tmp_path, since=200) == 20 + 15       # the resumed session is not before 200
    assert training_seconds_before(tmp_path, since=1e9) == 20 + 15 + 30
