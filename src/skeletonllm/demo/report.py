"""The demo's report: ``results.json`` (every measured result, in the schema of
:mod:`skeletonllm.eval.report`), and ``report.md`` + ``report.html`` (one
:class:`~skeletonllm.demo.document.Document`, rendered twice).

:func:`write_outputs` builds the document section by section: the summary (the numbers it leads
with, :func:`headline_numbers`, and the :func:`verdict`) here; sections 1-4, how this run made
its model, in :mod:`~skeletonllm.demo.report_method`; 5, 6, 9 and 10, what the kept model does,
in :mod:`~skeletonllm.demo.report_tasks`; 7 and 8, the arms compared, in
:mod:`~skeletonllm.demo.report_arms`; 11 and 12 (settings, using the checkpoint) here.
"""
from __future__ import annotations

import json
from pathlib import Path

from .document import RANKINGS, Block, Document, _pct, ranking_name
from .report_arms import learned_pictures_section, renderer_study_section, sugar_section
from .report_method import curriculum_section, data_section, head_start_section, renders_section
from .report_tasks import captioning_section, qa_section, recognition_section, transfer_section


def headline_numbers(evaluation: dict) -> dict:
    """The numbers the summary leads with, read off the evaluation (fractions)."""
    from .ablation import ARMS, MAIN_ARM

    arms = evaluation["arms"]
    main = arms.get(MAIN_ARM) or next(iter(arms.values()))
    out = {"unseen_top1_score": main["unseen_score"]["top1"],
           "unseen_top1_generate": main["unseen_generate"]["top1"] if "unseen_generate" in main else None,
           "unseen_chance": evaluation["chance_unseen"], "seen_top1_score": main["seen_score"]["top1"],
           "seen_chance": evaluation["chance_seen"],
           "transfer_top1": {k: v["top1"] for k, v in main.get("transfer", {}).items()},
           "ablation_unseen_top1": {a: r["unseen_score"]["top1"] for a, r in arms.items()},
           "ranking": ranking_name(main["unseen_score"])}
    if "unseen_score_plain" in main:
        out["unseen_top1_plain"] = main["unseen_score_plain"]["top1"]
        out["seen_top1_plain"] = main["seen_score_plain"]["top1"]
    fixed = {a: v for a, v in out["ablation_unseen_top1"].items() if ARMS[a].fixed}
    if fixed:
        best = max(fixed, key=fixed.get)
        out["best_fixed"] = best
        out["draction_minus_best_fixed"] = out["ablation_unseen_top1"].get(MAIN_ARM, float("nan")) - fixed[best]
    sugar = (evaluation.get("sugar") or {}).get("evaluations", {}).get("final")
    if sugar:
        out["sugar_unseen_top1"] = sugar["unseen_score"]["top1"]
        out["sugar_seen_top1"] = sugar["seen_score"]["top1"]
        out["sugar_minus_draction"] = sugar["unseen_score"]["top1"] - out["ablation_unseen_top1"].get(
            MAIN_ARM, float("nan"))
    phases = evaluation.get("phases", {}).get(MAIN_ARM, {})
    probe = main.get("pixel_probe")
    if probe:
        out["probe_seen_top1"], out["probe_unseen_top1"] = probe["seen_top1"], probe["unseen_top1"]
    if "renderer_only" in phases:
        out["renderer_only_minus_frozen"] = (phases["renderer_only"]["unseen_score"]["top1"]
                                             - phases["frozen"]["unseen_score"]["top1"])
    return out


def verdict(headline: dict, num_unseen_clips: int, alpha: float = 0.01) -> str:
    """Whether this run shows what the demo is for, judged from its own numbers.

    Unseen-class top-1 counts as above chance when a one-sided binomial test against the
    chance rate gives p < ``alpha``; DrAction must at least match the best fixed renderer.
    """
    from scipy.stats import binomtest

    hits = round(headline["unseen_top1_score"] * num_unseen_clips)
    p = binomtest(hits, num_unseen_clips, headline["unseen_chance"], alternative="greater").pvalue
    above = p < alpha
    parts = [f"**Verdict.** Unseen-class top-1 is {'above' if above else '**not** above'} chance "
             f"({hits}/{num_unseen_clips} clips, one-sided binomial p = {p:.3g}, threshold {alpha})."]
    gap = headline.get("draction_minus_best_fixed")
    if gap is not None:
        matches = gap >= 0
        parts.append(f"DrAction {'matches or beats' if matches else '**falls behind**'} the best fixed renderer "
                     f"({headline['best_fixed']}) by {100 * gap:+.1f} points.")
    else:
        matches = True
    if not above:
        parts.append("This run does not show zero-shot learning on unseen compositions; the numbers are reported "
                     "as measured, the generator was not tuned to change them.")
    elif not matches:
        parts.append("This run shows zero-shot learning on unseen compositions, but not DrAction's advantage over "
                     "fixed rendering; the numbers are reported as measured, the generator was not tuned to change "
                     "them.")
    return " ".join(parts)


def _results(evaluation: dict, settings) -> list[dict]:
    """Every measured result, in the schema of :mod:`skeletonllm.eval.report`."""
    from ..eval.report import validate_result
    from .ablation import MAIN_ARM

    out = []
    sugar = (evaluation.get("sugar") or {}).get("evaluations", {}).get("final")
    if sugar:
        out += [sugar[k] for k, _ in RANKINGS if k in sugar]
        out += list(sugar.get("transfer", {}).values())
    for arm, phases in evaluation["phases"].items():
        for phase, res in phases.items():
            out += [res[k] for k, _ in RANKINGS if k in res]
            out += list(res.get("transfer", {}).values())
        res = phases["final"]
        if arm == MAIN_ARM and "captions" in res:
            method = res["unseen_score"]["method"]
            for name, cap in res["captions"].items():
                out.append({"task": "captioning", "method": f"{method} ({name} clips)",
                            "dataset": "Synthetic motions, NTU-25", "num_samples": cap["metrics"]["num_samples"],
                            "metrics": cap["metrics"]["metrics"], "not_computed": cap["metrics"]["not_computed"],
                            "seed": settings.seed})
            out.append({"task": "qa", "method": method, "dataset": "Synthetic motions, NTU-25",
                        "num_samples": res["qa_clips"], "metrics": res["qa"], "seed": settings.seed})
    from .ablation import ARM_TITLES
    from .probe_report import probe_results
    out += probe_results(evaluation["phases"], ARM_TITLES, settings.split, settings.seed)
    return [validate_result(r, "<demo>") for r in out]


def summary_section(doc: Document, settings, info: dict, split, evaluation: dict, headline: dict) -> None:
    """The summary: what this run trained, the headline numbers, the verdict, how to read them."""
    from .ablation import ARM_TITLES, MAIN_ARM
    from .evaluate import TOPOLOGY_NAMES

    main = evaluation["arms"][MAIN_ARM]
    chance_u, chance_s = evaluation["chance_unseen"], evaluation["chance_seen"]
    changes = settings.changes()
    doc.text(f"This run trained the whole SkeletonLLM method on this machine in **{info['seconds']:.0f} s** "
             f"({'quick mode: a handful of clips and steps, for tests; the numbers mean little' if settings.quick_mode else 'full demo'}). "
             "No pretrained weights and no downloaded data: a tiny InternVL (the real `transformers` class, "
             "2 layers x 64) learns on procedural motions whose classes are compositions of a movement, a body "
             "part and a side. Every number below is what this run measured on held-out clips."
             + ("" if not changes else f" Settings changed from the demo's defaults (`--set`): "
                f"{'; '.join(f'`{c}`' for c in changes)}."))
    doc.bullets([
        f"**Open-vocabulary recognition of the {len(split.unseen)} unseen classes** (never in any training prompt): "
        f"top-1 **{_pct(headline['unseen_top1_score'])}** by {ranking_name(main['unseen_score'])}"
        + ("" if "unseen_score_plain" not in main else
           f" ({_pct(main['unseen_score_plain']['top1'])} by the plain ranking)")
        + f", {_pct(headline['unseen_top1_generate'])} by greedy decoding (the paper's protocol), chance {_pct(chance_u)}.",
        f"Held-out clips of the {len(split.seen)} seen classes: top-1 {_pct(headline['seen_top1_score'])} "
        f"(chance {_pct(chance_s)}).",
        "Cross-format transfer of the unseen clips, no fine-tuning: " + ", ".join(
            f"{TOPOLOGY_NAMES[k]} {_pct(v)}" for k, v in headline["transfer_top1"].items()) + ".",
        "Renderer study (unseen top-1 after the curriculum, likelihood, equal budget, one backbone): " + ", ".join(
            f"{ARM_TITLES[a]} {_pct(v)}" for a, v in headline["ablation_unseen_top1"].items()) + "."
        + ("" if "renderer_only_minus_frozen" not in headline else
           f" Training DrAction alone through the frozen model moved its unseen top-1 by "
           f"{100 * headline['renderer_only_minus_frozen']:+.1f} points (section 7)."),
    ] + ([] if "probe_seen_top1" not in headline else [
        f"How much of its frames the model reads: a linear model on the raw pixels of the same frames (fitted on "
        f"the training clips) names {_pct(headline['probe_seen_top1'])} of the held-out seen clips (the model: "
        f"{_pct(headline['seen_top1_score'])}) and, by composing its movement, part and side probes, "
        f"{_pct(headline['probe_unseen_top1'])} of the unseen ones (the model: {_pct(headline['unseen_top1_score'])}); "
        "sections 2 and 7."]) + ([] if "sugar_unseen_top1" not in headline else [
        f"SUGAR on the same clips (skeleton encoder + LLM, no rendering; section 8): unseen top-1 "
        f"{_pct(headline['sugar_unseen_top1'])}, seen {_pct(headline['sugar_seen_top1'])}: "
        + ("above" if headline["sugar_minus_draction"] > 0 else "not above")
        + f" the DrAction arm on unseen classes ({100 * headline['sugar_minus_draction']:+.1f} points)."]))
    doc.text(verdict(headline, main["num_unseen_clips"]))
    doc.text("One seed decides little: `skeletonllm demo-study --seeds 0-4` runs the renderer study over several "
             "seeds and tests the differences (mean, standard deviation, paired sign test and t-test).")
    gen = main["unseen_generate"]
    doc.text(f"Reading the numbers: the model is tiny and trained for minutes, so they move by several points "
             f"from seed to seed (`--seed N`). Greedy decoding answered {gen.get('unmatched', 0)} of "
             f"{gen['num_samples']} unseen clips with a `Label:` line naming no candidate (the tiny language model "
             "writes label-like phrases, often a seen class or a mix of words, rather than copying a candidate), "
             "hence its low score; likelihood ranking asks which candidate the model finds most probable and is the "
             "figure to read. Calibrated, each candidate's log-likelihood is taken relative to its average over "
             "training clips of the seen classes: a language model that learnt names such as *kick right leg* "
             "expects *right* after *kick* whatever it sees, and calibration removes that expectation "
             "(`skeletonllm.eval.calibration`; chosen on a validation split of seen classes). The directory "
             "holding this report is also the trained checkpoint (DrAction arm); see "
             "*Using the checkpoint* at the end.")


def settings_section(doc: Document, settings, info: dict) -> None:
    """Section 11: seed, machine, load, the time of every step, the settings."""
    doc.heading("11. Settings, seeds, timings")
    doc.text(f"Seed {settings.seed} for data, initialisation and data order. Torch threads {settings.threads}; "
             f"load average {info['load_average_at_start']} at the start, {info['load_average_at_end']} at the end "
             f"(the machine may be shared). {info['machine']['platform']}, {info['machine']['processor']}, "
             f"{info['machine']['cpus']} CPUs, torch "
             f"{info['machine']['torch']}.")
    doc.table(["step", "seconds"], [[k, v] for k, v in info["timings"].items()] + [["total", info["seconds"]]])
    doc.code(json.dumps(settings.to_dict(), indent=1))


def checkpoint_section(doc: Document, out_dir: Path, split, evaluation: dict) -> None:
    """Section 12: the commands that use this run's checkpoints, and the files beside them."""
    doc.heading("12. Using the checkpoint")
    labels = ",".join(split.unseen[:3])
    from .evaluate import REFERENCE_FILE

    ref = out_dir / REFERENCE_FILE          # written by the pipeline when the demo calibrates
    calibrated = ref.is_file()
    how = f" --reference {ref}" if calibrated else ""
    commands = [f"skeletonllm recognize S001C001P001R001A001.skeleton --checkpoint {out_dir} --mode score{how}",
                f'skeletonllm recognize 000000.npy --checkpoint {out_dir} --labels "{labels}" --mode score --json',
                f"skeletonllm caption alphapose-results.json --checkpoint {out_dir}",
                f'skeletonllm ask S001C001P001R001A001.skeleton "Which side of the body moves?" --options '
                f'"left,right,both" --mode score --checkpoint {out_dir}',
                f"python -c \"from skeletonllm.mllm.model import SkeletonLLM; SkeletonLLM.from_pretrained('{out_dir}')\""]
    sugar_dir = out_dir / "sugar"
    if evaluation.get("sugar"):
        commands += [f"skeletonllm recognize S001C001P001R001A001.skeleton --checkpoint {sugar_dir} --mode score{how}",
                     f"python -c \"from skeletonllm.sugar import SugarModel; SugarModel.from_pretrained('{sugar_dir}')\""]
    doc.code("\n".join(commands))
    doc.text(f"`{out_dir}` is the SkeletonLLM checkpoint (the DrAction arm)"
             + (f"; `{sugar_dir}` is SUGAR's (Steps 2 + 3, recognition only)" if evaluation.get("sugar") else "")
             + f". Each remembers the split it was trained on: `recognize` without `--labels` or `--split` offers "
             f"its {len(split.unseen)} unseen classes, `--all-classes` all {len(split.classes)}. The model knows only "
             "the demo's world: its tokenizer and words come from the synthetic motions, so give it the demo's class "
             "names and its kind of questions. `--mode score` ranks the candidates by likelihood"
             + (f", and `--reference {ref}` (the training clips this run calibrated on) calibrates the ranking as "
                "the figures of this report are" if calibrated else ", the figure this report leads with")
             + "; greedy answers rarely name a candidate (section 5).")
    doc.text("Files: `results.json` (every result above, schema of `skeletonllm.eval.report`), `eval/` (predictions and "
             "confusion matrices per arm), `runs/` (the backbone, each arm's stages with their logs and final weights), "
             "`media/` (renders and curves), `data/` (the cached synthetic set).")


def write_outputs(out_dir: Path, settings, info: dict, ds, train, test_seen, test_unseen, pre,
                  arms: dict, evaluation: dict, media: dict, headline: dict) -> tuple[Path, Path, Path]:
    """``results.json``, ``report.md`` and ``report.html`` in ``out_dir``; returns their paths."""
    from ..eval.report import save_result

    results_path = out_dir / "results.json"
    save_result(results_path, _results(evaluation, settings))
    doc = Document("SkeletonLLM demo: render, reason, respond on procedural motions")
    summary_section(doc, settings, info, ds.split, evaluation, headline)
    data_section(doc, settings, info, ds, train, test_seen, test_unseen)
    head_start_section(doc, settings, train, pre, evaluation, media)
    renders_section(doc, settings, media)
    curriculum_section(doc, settings, arms, media)
    recognition_section(doc, out_dir, evaluation)
    transfer_section(doc, evaluation)
    chance_u, chance_s = evaluation["chance_unseen"], evaluation["chance_seen"]
    renderer_study_section(doc, evaluation, arms, chance_u, chance_s, headline)
    learned_pictures_section(doc, settings, media)
    sugar_section(doc, evaluation, settings, chance_u, chance_s)
    captioning_section(doc, evaluation)
    qa_section(doc, evaluation)
    settings_section(doc, settings, info)
    checkpoint_section(doc, out_dir, ds.split, evaluation)
    md, page = doc.write(out_dir)
    return md, page, results_path


__all__ = ["Document", "headline_numbers", "renderer_study_section", "sugar_section", "write_outputs"]
__all__ += ["Block"]      # at home in document.py, importable from here as before the split
