"""The renderer study's report (``report.md`` / ``report.html``), from :func:`study.study_statistics`.

Every sentence that states a result is computed from the numbers; nothing is written in
advance of the run.
"""
from __future__ import annotations

import json
from pathlib import Path

from .ablation import ARM_TITLES, phase_title
from .evaluate import KINDS
from .probe_report import readout_lines, reading_goal_lines, study_reading_tables
from .document import Document


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f} %"


def _ms(entry: dict | None) -> str:
    """``mean ± sd`` in percent."""
    return "–" if entry is None else f"{100 * entry['mean']:.1f} ± {100 * entry['sd']:.1f}"


def _p(p: float | None) -> str:
    return "–" if p is None else f"{p:.3g}"


def _diffs(c: dict) -> str:
    return " / ".join(f"{100 * d:+.1f}" for d in c["differences"])


def comparison_row(name: str, c: dict) -> list:
    t = c["t_test"]
    return [name, _diffs(c), f"{100 * t['mean']:+.1f}", f"{100 * t['sd']:.1f}",
            f"{c['wins']} / {len(c['seeds'])}", _p(c["sign_test"]["p"]),
            "–" if t["t"] is None else f"{t['t']:.2f}", _p(t["p"])]


COMPARISON_HEADER = ["", "per-seed difference (points)", "mean", "sd", "seeds won", "sign test p",
                     "paired t", "t-test p"]


def goal_lines(stats: dict) -> list[str]:
    """One line per goal: met or not, with its numbers."""
    g = stats.get("goals", {})
    out = []
    if "draction_beats_best_fixed" in g:
        x = g["draction_beats_best_fixed"]
        out.append(f"DrAction vs the best fixed renderer ({ARM_TITLES[stats['best_fixed']]}): mean unseen top-1 "
                   f"{100 * x['gap']:+.1f} points, one seed sd = {100 * x['seed_sd']:.1f} points: "
                   + ("**met**" if x["met"] else "**not met**") + f" ({x['rule']}).")
    if "renderer_only_above_frozen" in g:
        x = g["renderer_only_above_frozen"]
        out.append(f"Renderer-only training above the frozen renderer in {x['wins']} of {x['seeds']} seeds: "
                   + ("**met**" if x["met"] else "**not met**") + f" ({x['rule']}).")
    if "nfm_helps" in g:
        x = g["nfm_helps"]
        out.append(f"DrAction vs DrAction without NFM: {100 * x['mean_difference']:+.1f} points on average: "
                   + ("**met**" if x["met"] else "**not met**") + f" ({x['rule']}).")
    return out


def sugar_lines(stats: dict) -> list[str]:
    """SUGAR against the DrAction arm, said plainly (empty when either is missing)."""
    c = stats.get("sugar_vs_draction")
    if not c:
        return []
    t = c["unseen"]["t_test"]
    verdict = ("beats" if t["mean"] > 0 and c["unseen"]["wins"] > len(c["unseen"]["seeds"]) / 2
               else "does not beat")
    return [f"SUGAR (same clips, no rendering) {verdict} the DrAction arm on unseen classes: "
            f"{100 * t['mean']:+.1f} points on average, above it in {c['unseen']['wins']} of "
            f"{len(c['unseen']['seeds'])} seeds (sign test p = {_p(c['unseen']['sign_test']['p'])}, paired t-test "
            f"p = {_p(t['p'])}); seen classes {100 * c['seen']['t_test']['mean']:+.1f} points."]


def write_study_report(out_dir: Path, stats: dict, numbers: list[dict], info: dict) -> tuple[Path, Path]:
    """``report.md`` + ``report.html`` of a study in ``out_dir``."""
    seeds = stats["seeds"]
    s = info["settings"]
    doc = Document(f"SkeletonLLM renderer study: {len(seeds)} seeds")
    chance_u, chance_s = numbers[0]["chance_unseen"], numbers[0]["chance_seen"]
    changes = info.get("changes") or []
    doc.text(f"Seeds {', '.join(map(str, seeds))} ({s['mode']} settings, split `{s['split']}`"
             + ("" if not changes else "; changed from the demo's defaults with `--set`: "
                + "; ".join(f"`{c}`" for c in changes)) + "). For each seed: its "
             "own procedural data, one head start whose frames were drawn by every arm's starting renderer in equal "
             "shares, then every arm through the same four-stage curriculum on the same clips in the same order; "
             "each arm is evaluated on held-out clips frozen (the head start reading the arm's renderer, nothing "
             "trained), after the render warm-up (the renderer trained alone with the recognition loss, backbone, "
             "projector and LoRA frozen: DrAction arms) and after the curriculum. Top-1 by likelihood ranking"
             + (" calibrated on training clips (every arm, SUGAR too; the plain ranking in section 1's last table)"
                if s.get("calibrate") else "") + "; "
             f"chance {_pct(chance_u)} on the unseen classes, {_pct(chance_s)} on the seen ones. Comparisons are paired "
             "by seed: each difference is between two arms that shared the seed's data and head start.")
    doc.heading("Goals")
    goals = goal_lines(stats) + reading_goal_lines(stats.get("goals", {}))
    doc.bullets(goals or ["no goal could be judged (an arm is missing)"])
    if sugar_lines(stats):
        doc.text("The other method on the same clips: " + sugar_lines(stats)[0])
    readouts = readout_lines(stats.get("reading", {}))
    if readouts:
        doc.text("The same models read out three ways (section 6; the goals above use the first, the paper's):")
        doc.bullets(readouts)

    doc.heading("1. Every arm, mean ± sd over seeds")
    rows = []
    for arm, phases in stats["arms"].items():
        for phase, e in phases.items():
            answers = (f"{e['unseen_answers_min']} of {e['unseen_answers_candidates']}"
                       if "unseen_answers_min" in e else "–")
            rows.append([ARM_TITLES.get(arm, arm), phase_title(arm, phase), _ms(e["unseen"]), _ms(e["seen"]), answers])
    doc.table(["arm", "evaluated", "unseen top-1 %", "seen top-1 %", "fewest distinct answers (unseen)"], rows,
              caption="a model that answers one class for every clip has collapsed: the last column shows the "
                      "fewest classes an arm named on the unseen clips in any seed")
    doc.table(["arm", *(f"seed {x}" for x in seeds)],
              [[ARM_TITLES.get(a, a), *(_pct(n["arms"][a]["final"]["unseen"]) for n in numbers)] for a in stats["arms"]],
              caption="unseen top-1 after the curriculum (SUGAR: after its Steps 2 and 3), per seed")
    plain = [[ARM_TITLES.get(a, a), phase_title(a, ph), _ms(e["unseen"]), _ms(e["unseen_plain"]), _ms(e["seen"]),
              _ms(e["seen_plain"])]
             for a, phases in stats["arms"].items() for ph, e in phases.items() if "unseen_plain" in e]
    if plain:
        doc.table(["arm", "evaluated", "unseen, calibrated", "unseen, plain", "seen, calibrated", "seen, plain"], plain,
                  caption="top-1 (mean ± sd %) by the calibrated likelihood ranking every number above uses (each "
                          "candidate's log-likelihood minus its average over four training clips per seen class, "
                          "`skeletonllm.eval.calibration`) and by the plain ranking, same models and clips")

    if "against_best_fixed" in stats:
        best = stats["best_fixed"]
        doc.heading("2. Against the best fixed renderer")
        doc.text(f"The best fixed renderer is the fixed arm with the highest mean unseen top-1 after the curriculum: "
                 f"**{ARM_TITLES[best]}**. Paired per-seed differences of unseen top-1 (arm minus it), two-sided "
                 "sign test and paired t-test.")
        doc.table(COMPARISON_HEADER, [comparison_row(ARM_TITLES.get(a, a), c)
                                      for a, c in stats["against_best_fixed"].items()])
        rows = []
        for a, kinds in stats["against_best_fixed_by_kind"].items():
            rows += [comparison_row(f"{ARM_TITLES.get(a, a)}: {k}", c) for k, c in kinds.items()]
        doc.table(COMPARISON_HEADER, rows, caption="the same, per kind of unseen class (depth, speed, order: the "
                                                   "classes told apart only by depth, speed or which arm is in front)")

    doc.heading("3. The renderer-only experiment")
    doc.text("The render warm-up trains the renderer alone, with the recognition loss, through the frozen backbone, "
             "projector and LoRA, for a fixed budget (one epoch of the seen training clips); compared with the same "
             "model with the renderer frozen at its initial values (the head start's DrAction). Paired per seed.")
    rows = []
    for a, by_key in stats.get("renderer_only_vs_frozen", {}).items():
        rows += [comparison_row(f"{ARM_TITLES.get(a, a)}: {key}", c) for key, c in by_key.items()]
    doc.table(COMPARISON_HEADER, rows, caption="renderer only minus frozen, top-1 on unseen and on held-out seen clips")

    if "nfm" in stats:
        doc.heading("4. DrAction with and without the NFM")
        doc.table(COMPARISON_HEADER, [comparison_row(f"with minus without NFM: {key}", c)
                                      for key, c in stats["nfm"].items()],
                  caption="after the curriculum")

    if "sugar_vs_draction" in stats:
        doc.heading("5. SUGAR against DrAction")
        doc.text("SUGAR (`skeletonllm.sugar`, demo-sized: `skeletonllm.demo.sugar_arm.SugarArmSettings`) trained on "
                 "each seed's training clips and measured on the same held-out clips as the renderer arms; paired "
                 "per seed against the DrAction arm after the curriculum.")
        doc.table(COMPARISON_HEADER, [comparison_row(f"SUGAR minus DrAction: {key}", c)
                                      for key, c in stats["sugar_vs_draction"].items()])

    if stats.get("reading", {}).get("model_vs_probe"):
        doc.heading("6. Reading the frames: the model beside a linear pixel probe")
        doc.text("For each arm and seed, a logistic regression on the raw pixels of the arm's own frames (fitted on "
                 "the seed's training clips of the seen classes; `skeletonllm.demo.probe`): how much of what the "
                 "renderer draws a linear model reads. Paired per seed with the model on the same clips.")
        for header, rows, caption in study_reading_tables(stats["reading"], ARM_TITLES):
            doc.table(header, rows, caption=caption)

    doc.heading("7. Per kind of class")
    rows = []
    for arm, phases in stats["arms"].items():
        for phase in ("renderer_only", "final"):
            e = phases.get(phase)
            if e is not None:
                rows.append([ARM_TITLES.get(arm, arm), phase_title(arm, phase),
                             *(_ms(e["unseen_kinds"].get(k)) for k in KINDS)])
    for arm, phases in stats.get("reading", {}).get("arms", {}).items():
        e = phases.get("final", {})
        if "probe_unseen_kinds" in e:
            rows.append([ARM_TITLES.get(arm, arm), "pixel probe on its frames (composed)",
                         *(_ms(e["probe_unseen_kinds"].get(k)) for k in KINDS)])
    doc.table(["arm", "evaluated", *(f"unseen {k} %" for k in KINDS)], rows,
              caption="unseen top-1 per kind of class, mean ± sd over seeds")

    doc.heading("8. How the backbone and head start were chosen")
    doc.text("Every configuration tried for issue 19 (`scripts/demo_sweep.py`, seed 0, seen classes only; the "
             "validation runs hold eight seen classes out of training to measure zero-shot recognition without any "
             "unseen class):")
    from .sweep_report import sweep_section
    sweep_section(doc)

    doc.heading("9. Settings and timings")
    m = info["machine"]
    doc.text(f"Machine: {m['platform']}, {m.get('processor', '?')}, {m['cpus']} CPUs, torch {m['torch']}; "
             f"{m['workers']} worker processes, "
             f"{m['torch_threads']} torch thread(s) each. Seconds per seed, the sum of its parts' durations (data, "
             "head start, every arm; parts finished before a resume included; arms that ran side by side each "
             "counted): " + ", ".join(f"{k}: {v:.0f}" for k, v in info["seed_seconds"].items()) + ".")
    doc.code(json.dumps(s, indent=1))
    doc.text("Files: `results.json` (every number above, per seed and aggregated), `seed-N/` (each seed: `arms/` the "
             "per-arm outcomes, `eval/` the predictions, `runs/` the backbone and every stage's weights).")
    return doc.write(out_dir)


__all__ = ["goal_lines", "sugar_lines", "write_study_report"]
