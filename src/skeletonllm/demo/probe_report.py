"""Report pieces that set the model's numbers beside the linear pixel probe on the same frames
(:mod:`skeletonllm.demo.probe`): how much of what its renderer draws the model reads."""
from __future__ import annotations

from .evaluate import READOUTS
from .probe import PROBE_ATTRIBUTES

#: How the report names each zero-shot readout (:func:`~skeletonllm.demo.evaluate.zero_shot_readouts`).
READOUT_WORDS = {"names": "class names (the demo's ranking)", "composed": "attribute answers composed",
                 "names_and_composed": "class names and attribute answers"}
#: The evaluations that measure the readouts, as the tables name them.
READOUT_PHASES = (("frozen", "frozen"), ("final", "after the curriculum"))
#: What the readout tables show (the demo's and the study's).
READOUT_CAPTION = ("the same models naming the unseen clips three ways, each calibrated on training clips: by the "
                   "likelihood of each class name (the ranking of every other table), by their answers to the "
                   "movement, part and side questions composed as the probe composes its regressions "
                   "(`skeletonllm.demo.composition`), and by the sum of both")


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f} %"


def reading_rows(phases: dict[str, dict], titles: dict[str, str]) -> list[list[str]]:
    """One row per arm: the head start's answers to the attribute questions (frozen phase) and
    the attribute probes on the same frames, held-out seen / unseen clips."""
    rows = []
    for arm, ev in phases.items():
        frozen = ev.get("frozen", {})
        answers, probe = frozen.get("attributes"), frozen.get("pixel_probe")
        if not answers or not probe:
            continue
        row = [titles[arm]]
        for key in PROBE_ATTRIBUTES:
            for where in ("seen", "unseen"):
                row.append(f"{_pct(answers[where][key])} / {_pct(probe['attributes'][key][where])}")
        rows.append(row)
    return rows


READING_HEADER = ["renderer (head start reading it)"] + [
    f"{key}: {where}" for key in PROBE_ATTRIBUTES for where in ("seen", "unseen")]


def probe_rows(phases: dict[str, dict], titles: dict[str, str]) -> list[list[str]]:
    """One row per arm: the model (frozen, after the curriculum) beside the pixel probe on the
    frames it read (seen top-1 / composed zero-shot unseen top-1)."""
    rows = []
    for arm, ev in phases.items():
        frozen, final = ev.get("frozen"), ev.get("final")
        if not frozen or "pixel_probe" not in frozen or not final:
            continue
        p0, p1 = frozen["pixel_probe"], final.get("pixel_probe", frozen["pixel_probe"])
        rows.append([titles[arm], _pct(frozen["seen_score"]["top1"]), _pct(final["seen_score"]["top1"]),
                     _pct(p1["seen_top1"]), _pct(frozen["unseen_score"]["top1"]), _pct(final["unseen_score"]["top1"]),
                     _pct(p1["unseen_top1"]),
                     "same" if "same_frames_as" in p1 else f"{_pct(p0['seen_top1'])} / {_pct(p0['unseen_top1'])}"])
    return rows


PROBE_HEADER = ["renderer", "seen: model frozen", "seen: model after curriculum", "seen: pixel probe",
                "unseen: model frozen", "unseen: model after curriculum", "unseen: pixel probe (composed)",
                "probe on the frames before training (seen / unseen)"]


def readout_rows(phases: dict[str, dict], titles: dict[str, str]) -> list[list[str]]:
    """One row per arm and evaluation that measured the zero-shot readouts: unseen top-1 by each
    readout, and the pixel probe's composed zero-shot top-1 on the same frames."""
    rows = []
    for arm, ev in phases.items():
        for phase, when in READOUT_PHASES:
            r = ev.get(phase, {})
            if "readouts" not in r:
                continue
            probe = r.get("pixel_probe") or ev.get("frozen", {}).get("pixel_probe")
            rows.append([titles[arm], when, *(_pct(r["readouts"][k]["top1"]) for k in READOUTS),
                         _pct(probe["unseen_top1"]) if probe else "–"])
    return rows


READOUT_HEADER = ["renderer", "evaluated", *(f"unseen: {READOUT_WORDS[k]}" for k in READOUTS),
                  "unseen: pixel probe (composed)"]


def probe_results(phases: dict[str, dict], titles: dict[str, str], split: str, seed: int) -> list[dict]:
    """The pixel probes as results in the schema of :mod:`skeletonllm.eval.report` (two per probe:
    seen classes on held-out clips, and unseen classes by composing the attribute probes)."""
    out = []
    for arm, ev in phases.items():
        for phase, when in (("frozen", "as the arm starts"), ("final", "after the curriculum")):
            probe = ev.get(phase, {}).get("pixel_probe")
            if probe is None or (phase == "final" and "same_frames_as" in probe):
                continue
            method = f"linear pixel probe on the frames of {titles[arm]} ({when})"
            common = {"task": "recognition", "dataset": "Synthetic motions, NTU-25", "method": method, "seed": seed,
                      "attributes": probe["attributes"], "num_features": probe["num_features"],
                      "num_train": probe["num_train"]}
            out.append({**common, "split": f"{split} seen (held-out clips)", "top1": probe["seen_top1"],
                        "num_samples": probe["num_seen"]})
            out.append({**common, "split": f"{split} unseen (attribute probes composed)", "top1": probe["unseen_top1"],
                        "num_samples": probe["num_unseen"], "per_class": probe["unseen_per_class"]})
    return out




# -- the study (several seeds) -------------------------------------------------------------------

def _ms(entry: dict | None) -> str:
    return "–" if entry is None else f"{100 * entry['mean']:.1f} ± {100 * entry['sd']:.1f}"


def _met(x: dict) -> str:
    return "**met**" if x["met"] else "**not met**"


def reading_goal_lines(goals: dict) -> list[str]:
    """One line per reading goal (:func:`skeletonllm.demo.study_probe.reading_goals`), with its numbers."""
    out = []
    if "head_start_reads_attributes" in goals:
        x = goals["head_start_reads_attributes"]
        out.append("Head start's attribute answers vs the attribute probes on the same frames (DrAction as it "
                   "starts; answers minus probe, points): "
                   + ", ".join(f"{k} {100 * v:+.1f}" for k, v in x["gaps"].items()) + f": {_met(x)} ({x['rule']}).")
    for key, what in (("seen_at_least_probe", "seen"), ("unseen_at_least_probe", "unseen")):
        if key in goals:
            x = goals[key]
            out.append(f"DrAction vs the pixel probe on its frames, {what} top-1: {100 * x['mean_difference']:+.1f} "
                       f"points on average (above it in {x['wins']} of {x['seeds']} seeds): {_met(x)} ({x['rule']}).")
    if "at_least_sugar" in goals:
        x = goals["at_least_sugar"]
        out.append(f"DrAction vs SUGAR, unseen top-1: {100 * x['mean_difference']:+.1f} points on average (above it "
                   f"in {x['wins']} of {x['seeds']} seeds): {_met(x)} ({x['rule']}).")
    return out


def readout_lines(reading: dict) -> list[str]:
    """One line per zero-shot readout of the DrAction arm after the curriculum, against the pixel
    probe's composed zero-shot top-1 on its frames and against SUGAR, paired by seed (not goals:
    the goals are judged on the demo's ranking, the class names)."""
    against_probe = reading.get("readouts_vs_probe", {}).get("draction", {})
    against_sugar = reading.get("readouts_vs_sugar", {})
    final = reading.get("arms", {}).get("draction", {}).get("final", {}).get("readouts", {})
    out = []
    for k in READOUTS:
        if k not in final:
            continue
        parts = [f"DrAction's unseen top-1 by {READOUT_WORDS[k]}: {_ms(final[k])}"]
        for name, c in (("the pixel probe", against_probe.get(k)), ("SUGAR", against_sugar.get(k))):
            if c:
                parts.append(f"vs {name} {100 * c['t_test']['mean']:+.1f} points (above in {c['wins']} of "
                             f"{len(c['seeds'])} seeds)")
        out.append(", ".join(parts) + ".")
    return out


def study_reading_tables(reading: dict, titles: dict[str, str]) -> list[tuple[list, list, str]]:
    """``(header, rows, caption)`` of the study's reading tables: the model against the probe
    after the curriculum, and the head start's attribute answers against the attribute probes."""
    tables = []
    rows = []
    for arm, c in reading["model_vs_probe"].items():
        final = reading["arms"][arm]["final"]
        for where in ("seen", "unseen"):
            t = c[where]["t_test"]
            rows.append([titles.get(arm, arm), where, _ms(final.get(f"probe_{where}")),
                         " / ".join(f"{100 * d:+.1f}" for d in c[where]["differences"]), f"{100 * t['mean']:+.1f}",
                         f"{c[where]['wins']} / {len(c[where]['seeds'])}",
                         "–" if t["p"] is None else f"{t['p']:.3g}"])
    tables.append((["arm", "clips", "pixel probe top-1 % (mean ± sd)", "model minus probe per seed (points)", "mean",
                    "seeds above the probe", "t-test p"], rows,
                   "after the curriculum, on the same frames (DrAction: the trained renderer's); unseen: the probe "
                   "composes its movement, part and side regressions"))
    rows = []
    for arm, phases in reading["arms"].items():
        e = phases.get("frozen", {})
        if "answers" not in e or "probe_attributes" not in e:
            continue
        rows.append([titles.get(arm, arm)] + [f"{_ms(e['answers'][k].get(w))} / {_ms(e['probe_attributes'][k].get(w))}"
                                               for k in PROBE_ATTRIBUTES for w in ("seen", "unseen")])
    tables.append((["arm (head start reading it)"] + [f"{k}: {w}" for k in PROBE_ATTRIBUTES for w in ("seen", "unseen")],
                   rows, "the head start's answers to the attribute questions / the attribute probes on the same "
                         "frames, accuracy % (mean ± sd over seeds)"))
    rows = []
    for arm, phases in reading["arms"].items():
        for phase, when in READOUT_PHASES:
            e = phases.get(phase, {})
            if "readouts" in e:
                probe = e.get("probe_unseen") or phases.get("frozen", {}).get("probe_unseen")
                rows.append([titles.get(arm, arm), when, *(_ms(e["readouts"].get(k)) for k in READOUTS), _ms(probe)])
    if rows:
        tables.append((["arm", *READOUT_HEADER[1:]], rows, f"unseen top-1 % (mean ± sd over seeds): {READOUT_CAPTION}"))
    return tables


__all__ = ["PROBE_HEADER", "READING_HEADER", "READOUT_CAPTION", "READOUT_HEADER", "READOUT_PHASES", "READOUT_WORDS", "probe_results", "probe_rows",
           "readout_lines", "readout_rows", "reading_goal_lines", "reading_rows", "study_reading_tables"]
