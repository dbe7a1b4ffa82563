"""``skeletonllm demo-study``: the demo's renderer study over several seeds, with statistics.

    from skeletonllm.demo.study import run_study
    summary = run_study("study", seeds=[0, 1, 2, 3, 4])
    print(summary.report_md)

For each seed, :func:`skeletonllm.demo.pipeline.run_seed` runs the data, the head start and
every arm (each evaluated frozen, after the render warm-up and after the curriculum) into
``DIR/seed-N``; ``DIR/seed-N/seed.json`` marks a finished seed and holds its numbers. Each
arm's outcome is written atomically as it finishes, so a killed study, started again with the
same command, resumes at the seed and arm where it stopped (inside an arm, at the stage).

Then :func:`study_statistics` computes, for every arm and evaluation, the mean and standard
deviation over seeds, the paired per-seed differences against the best fixed renderer (the
fixed arm with the highest mean unseen top-1) with a sign test and a paired t-test
(:mod:`skeletonllm.demo.stats`), the renderer-only experiment against the frozen renderer,
DrAction against DrAction without NFM, SUGAR (trained on the same clips) against DrAction, and
whether the study's three goals are met. It all
goes to ``DIR/results.json``, ``DIR/report.md`` and ``DIR/report.html``.
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Sequence

from ..atomic import atomic_write_text
from .ablation import ARM_TITLES, ARMS, PHASE_TITLES
from .pipeline import MARKER, DemoSettings, _machine, _prepare_out_dir, run_seed
from .stats import mean_sd, paired_comparison
from .study_probe import probe_numbers, probe_statistics

STUDY_MARKER = "study.json"
SEED_FILE = "seed.json"
DRACTION, NO_NFM, SUGAR = "draction", "draction_no_nfm", "sugar"


@dataclass
class StudySummary:
    out_dir: Path
    report_md: Path
    report_html: Path
    results_json: Path
    statistics: dict
    seconds: float


def parse_seeds(text: str) -> list[int]:
    """``"0-4"`` -> [0, 1, 2, 3, 4]; ``"0,3,7"``; ``"2"``; mixtures like ``"0-2,9"``."""
    seeds: list[int] = []
    for part in str(text).replace(" ", "").split(","):
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not m:
            raise ValueError(f"--seeds: '{part}' is not a seed or a range A-B (e.g. 0-4 or 0,3,7)")
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        if hi < lo:
            raise ValueError(f"--seeds: empty range '{part}'")
        seeds += [s for s in range(lo, hi + 1) if s not in seeds]
    return seeds


# -- one seed's numbers ------------------------------------------------------------------------------

def seed_numbers(seed: int, arms: dict[str, dict], chance_unseen: float, chance_seen: float) -> dict:
    """What the study keeps of one seed: per arm and evaluation, unseen and seen top-1 (``unseen`` /
    ``seen``: the demo's ranking; ``*_plain``: the uncalibrated one, when the demo calibrates), top-1
    per kind of class, and how the answers spread."""
    out = {"seed": seed, "chance_unseen": chance_unseen, "chance_seen": chance_seen, "arms": {}}
    for arm, outcome in arms.items():
        out["arms"][arm] = {}
        for phase, res in outcome["evaluations"].items():
            out["arms"][arm][phase] = {
                "unseen": res["unseen_score"]["top1"], "seen": res["seen_score"]["top1"],
                **{f"{k}_plain": res[f"{k}_score_plain"]["top1"] for k in ("unseen", "seen") if f"{k}_score_plain" in res},
                "num_unseen_clips": res["num_unseen_clips"], "num_seen_clips": res["num_seen_clips"],
                **{k: res[k] for k in ("unseen_kinds", "seen_kinds", "unseen_answers", "seen_answers") if k in res},
                **probe_numbers(res)}
        out["arms"][arm]["seconds"] = outcome["seconds"]
    return out


def seed_parts(run) -> dict[str, float]:
    """A seed's parts and their durations in seconds: data, head start and every arm, each counted in
    full when the seed was resumed (an arm read back keeps the time it took; a resumed arm adds its
    earlier sessions' training). Arms that ran side by side in several processes are each counted."""
    parts = {"data": run.timings.get("data", 0.0), "head start": run.timings.get("head start", 0.0)}
    parts.update({arm: float(outcome["seconds"].get("total", 0.0)) for arm, outcome in run.arms.items()})
    return parts


# -- statistics over seeds -----------------------------------------------------------------------

def _values(seeds: list[dict], arm: str, phase: str, key: str = "unseen") -> dict[int, float]:
    """``{seed: number}`` of the seeds whose arm and phase measured ``key``."""
    return {s["seed"]: s["arms"][arm][phase][key] for s in seeds if key in s["arms"].get(arm, {}).get(phase, {})}


def _kind_values(seeds: list[dict], arm: str, phase: str, kind: str) -> dict[int, float]:
    return {s["seed"]: s["arms"][arm][phase]["unseen_kinds"][kind]["top1"] for s in seeds
            if kind in s["arms"].get(arm, {}).get(phase, {}).get("unseen_kinds", {})}


def _summary(values: dict[int, float]) -> dict:
    mean, sd = mean_sd(list(values.values()))
    return {"mean": mean, "sd": sd, "n": len(values), "per_seed": {str(k): v for k, v in values.items()}}


def study_statistics(seeds: list[dict]) -> dict:
    """Everything the study concludes from per-seed numbers (:func:`seed_numbers`)."""
    from .evaluate import KINDS

    arms = list(seeds[0]["arms"])
    out = {"seeds": [s["seed"] for s in seeds], "arms": {}}
    for arm in arms:
        out["arms"][arm] = {}
        for phase in PHASE_TITLES:
            if not _values(seeds, arm, phase):
                continue
            entry = {key: _summary(_values(seeds, arm, phase, key)) for key in ("unseen", "seen")}
            entry.update({key: _summary(v) for key in ("unseen_plain", "seen_plain")
                          if len(v := _values(seeds, arm, phase, key)) == entry["unseen"]["n"]})
            entry["unseen_kinds"] = {k: _summary(v) for k in KINDS if (v := _kind_values(seeds, arm, phase, k))}
            answers = [s["arms"][arm][phase].get("unseen_answers") for s in seeds]
            if all(answers):
                entry["unseen_answers_min"] = min(a["distinct"] for a in answers)
                entry["unseen_answers_candidates"] = answers[0]["candidates"]
            out["arms"][arm][phase] = entry
    out["reading"] = probe_statistics(seeds)       # the model against the pixel probe on its frames
    fixed = [a for a in arms if a in ARMS and ARMS[a].fixed]
    if not fixed:
        return out
    best = max(fixed, key=lambda a: out["arms"][a]["final"]["unseen"]["mean"])
    out["best_fixed"] = best
    ref = _values(seeds, best, "final")
    out["against_best_fixed"] = {a: paired_comparison(_values(seeds, a, "final"), ref) for a in arms if a != best}
    out["against_best_fixed_by_kind"] = {
        a: {k: paired_comparison(va, vb) for k in KINDS
            if (va := _kind_values(seeds, a, "final", k)) and (vb := _kind_values(seeds, best, "final", k))}
        for a in arms if a != best}
    out["renderer_only_vs_frozen"] = {
        a: {key: paired_comparison(_values(seeds, a, "renderer_only", key), _values(seeds, a, "frozen", key))
            for key in ("unseen", "seen")}
        for a in arms if _values(seeds, a, "renderer_only")}
    if SUGAR in arms and DRACTION in arms:
        out["sugar_vs_draction"] = {
            key: paired_comparison(_values(seeds, SUGAR, "final", key), _values(seeds, DRACTION, "final", key))
            for key in ("unseen", "seen")}
    if DRACTION in arms and NO_NFM in arms:
        out["nfm"] = {key: paired_comparison(_values(seeds, DRACTION, "final", key), _values(seeds, NO_NFM, "final", key))
                      for key in ("unseen", "seen")}
    out["goals"] = {**_goals(out), **out["reading"]["goals"]}
    return out


def _goals(st: dict) -> dict:
    """The study's three goals, each with the numbers it was judged on."""
    goals = {}
    if DRACTION in st["arms"] and DRACTION in st["against_best_fixed"]:
        d, b = st["arms"][DRACTION]["final"]["unseen"], st["arms"][st["best_fixed"]]["final"]["unseen"]
        gap, sd = d["mean"] - b["mean"], max(d["sd"], b["sd"])
        goals["draction_beats_best_fixed"] = {
            "met": gap > sd, "gap": gap, "seed_sd": sd,
            "rule": "DrAction's mean unseen top-1 above the best fixed renderer's by more than one seed standard "
                    "deviation (the larger of the two arms' sds over seeds)"}
    if DRACTION in st.get("renderer_only_vs_frozen", {}):
        r = st["renderer_only_vs_frozen"][DRACTION]["unseen"]
        goals["renderer_only_above_frozen"] = {
            "met": r["wins"] == len(r["seeds"]), "wins": r["wins"], "seeds": len(r["seeds"]),
            "rule": "DrAction trained alone (render warm-up) above DrAction frozen at its initial values, unseen "
                    "top-1, in every seed"}
    if "nfm" in st:
        r = st["nfm"]["unseen"]
        goals["nfm_helps"] = {"met": r["t_test"]["mean"] > 0, "mean_difference": r["t_test"]["mean"],
                              "rule": "DrAction above DrAction without NFM on average (unseen top-1)"}
    return goals


# -- the run -----------------------------------------------------------------------------------------

def _prepare_study_dir(out_dir: Path, key: dict) -> None:
    """Create ``out_dir``, or check that the study in it ran with the same settings (``key``)."""
    marker = out_dir / STUDY_MARKER
    if out_dir.exists() and not out_dir.is_dir():
        raise FileExistsError(f"{out_dir}: exists and is not a directory")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not marker.is_file():
        raise FileExistsError(f"{out_dir}: not empty and not a previous study (no {STUDY_MARKER}); choose another --out")
    out_dir.mkdir(parents=True, exist_ok=True)
    if marker.is_file():
        before = json.loads(marker.read_text()).get("settings")
        if before != key:
            raise FileExistsError(f"{out_dir}: a study with other settings ran here (quick / full, split, recipe); "
                                  "choose another --out to keep both")
    else:
        atomic_write_text(marker, json.dumps({"status": "running", "settings": key}, indent=1) + "\n")


def _settings_key(settings: DemoSettings) -> dict:
    """The settings a seed's numbers depend on (a resumed study must not mix two recipes)."""
    d = settings.to_dict()
    for k in ("seed", "workers", "threads"):
        d.pop(k)
    return json.loads(json.dumps(d))        # as it reads back from the marker (tuples become lists)


def run_study(out_dir: str | os.PathLike, seeds: Sequence[int], settings: DemoSettings | None = None,
              progress: bool = True, say: Callable[[str], None] = print) -> StudySummary:
    """Run (or resume) the renderer study over ``seeds`` in ``out_dir``; see the module docstring."""
    import torch

    from .pipeline import _configure_process

    settings = settings or DemoSettings.full()
    seeds = list(seeds)
    if not seeds:
        raise ValueError("the study needs at least one seed")
    out_dir = Path(out_dir).resolve()
    key = _settings_key(settings)
    _prepare_study_dir(out_dir, key)
    threads_before = torch.get_num_threads()
    _configure_process(settings.threads)
    t0 = time.time()
    numbers = []
    try:
        for i, seed in enumerate(seeds):
            seed_dir = out_dir / f"seed-{seed}"
            label = f"seed {seed} ({i + 1}/{len(seeds)}): "
            done = seed_dir / SEED_FILE
            if done.is_file():
                record = json.loads(done.read_text())
                say(f"{label}finished before, read back")
                numbers.append(record["numbers"])
                continue
            st = dataclasses.replace(settings, seed=seed)
            _prepare_out_dir(seed_dir, refresh=False)
            t = time.time()
            run = run_seed(seed_dir, st, extras=False, resume=True, progress=progress, say=say, label=label)
            parts = seed_parts(run)
            record = {"seconds": round(sum(parts.values()), 1), "parts": parts,
                      "wall_seconds_last_session": round(time.time() - t, 1),
                      "timings": run.timings, "machine": _machine(settings),
                      "load_average_at_end": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
                      "numbers": seed_numbers(seed, run.arms, 1.0 / len(run.data.unseen), 1.0 / len(run.data.seen))}
            atomic_write_text(done, json.dumps(record, indent=1, default=str) + "\n")
            numbers.append(record["numbers"])
            say(f"{label}done in {record['wall_seconds_last_session']:.0f} s ({record['seconds']:.0f} s of parts in all)")
    finally:
        torch.set_num_threads(threads_before)
    stats = study_statistics(numbers)
    timings = {f"seed {s}": json.loads((out_dir / f"seed-{s}" / SEED_FILE).read_text())["seconds"] for s in seeds}
    info = {"settings": settings.to_dict(), "changes": settings.changes(), "seeds": seeds, "machine": _machine(settings), "seed_seconds": timings,
            "this_run_seconds": round(time.time() - t0, 1),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    results = {"info": info, "statistics": stats, "per_seed": numbers}
    results_path = out_dir / "results.json"
    atomic_write_text(results_path, json.dumps(results, indent=1, default=str) + "\n")
    from .study_report import write_study_report
    md, page = write_study_report(out_dir, stats, numbers, info)
    atomic_write_text(out_dir / STUDY_MARKER, json.dumps({"status": "done", "settings": key, "seeds": seeds,
                                                          "goals": stats.get("goals")}, indent=1, default=str) + "\n")
    return StudySummary(out_dir, md, page, results_path, stats, time.time() - t0)


__all__ = ["MARKER", "StudySummary", "parse_seeds", "run_study", "seed_numbers", "study_statistics"]
