"""The report's sections that compare the arms of one seed: the renderer study (7) with what training
changed in DrAction's pictures, and SUGAR on the same clips (8)."""
from __future__ import annotations

from .document import RANKINGS, Document, _pct, ranking_label, ranking_name


def _spread_cell(res: dict, key: str) -> str:
    a = res.get(f"{key}_answers")
    if not a:
        return "–"
    return f"{a['distinct']} of {a['candidates']} (top answer {100 * a['most_common_share']:.0f} %)"


def renderer_study_section(doc: Document, evaluation: dict, arms: dict, chance_u: float, chance_s: float,
                           headline: dict) -> None:
    """Section 7: every arm frozen / after the render warm-up / after the curriculum, the spread
    of its answers, and its top-1 per kind of class (one seed)."""
    from .ablation import ARM_TITLES, PHASE_TITLES
    from .evaluate import KINDS

    doc.heading("7. Renderer study (paper Table 4)")
    doc.text("One pretrained backbone for every arm (its head start drew with every arm's starting renderer in equal "
             "shares, section 2); same stages, steps, clips and seed; only the renderer differs. Each arm is "
             "evaluated three times: **frozen**, the head start reading the arm's renderer as it starts, nothing "
             "trained; **renderer only**, after the render warm-up, which trains the renderer alone with the "
             "recognition loss through the frozen backbone, projector and LoRA (the cleanest test of whether the "
             "model's gradients teach DrAction to draw; fixed renderers have nothing to train); **curriculum**, after "
             "all four stages. *Answers* counts the classes a model named at least once on the unseen clips: a "
             "collapsed model names one class for every clip.")
    rows = []
    for a, phases in evaluation["phases"].items():
        row = [ARM_TITLES[a]]
        for phase in PHASE_TITLES:
            r = phases.get(phase)
            row += ["–", "–"] if r is None else [_pct(r["unseen_score"]["top1"]), _pct(r["seen_score"]["top1"])]
        row += [_spread_cell(phases["final"], "unseen"), f"{arms[a].seconds:.0f}"]
        rows.append(row)
    header = ["renderer"] + [f"{t}: {w}" for t in ("frozen", "renderer only", "curriculum") for w in ("unseen", "seen")]
    doc.table(header + ["answers (unseen, curriculum)", "training s"],
              rows + [["chance", *[_pct(c) for _ in range(3) for c in (chance_u, chance_s)], "", ""]],
              caption=f"top-1 by {ranking_name(evaluation['arms'][next(iter(evaluation['arms']))]['unseen_score'])} "
                      "on held-out clips")
    from .probe_report import PROBE_HEADER, probe_rows
    doc.table(PROBE_HEADER, probe_rows(evaluation["phases"], ARM_TITLES),
              caption="the model beside a linear model on the raw pixels of the frames it reads (logistic regression, "
                      "fitted on the training clips of the seen classes; unseen classes scored by the sum of the "
                      "movement, part and side probes' log-probabilities, no unseen clip or name in any fit); for "
                      "DrAction the probe reads the trained renderer's frames")
    from .probe_report import READOUT_CAPTION, READOUT_HEADER, readout_rows
    rows = readout_rows(evaluation["phases"], ARM_TITLES)
    if rows:
        doc.table(READOUT_HEADER, rows, caption=READOUT_CAPTION)
    rows = []
    for a, phases in evaluation["phases"].items():
        for phase in ("renderer_only", "final"):
            r = phases.get(phase)
            if r is None or "unseen_kinds" not in r:
                continue
            kinds = r["unseen_kinds"]
            rows.append([ARM_TITLES[a], PHASE_TITLES[phase]] + [
                f"{_pct(kinds[k]['top1'])} ({kinds[k]['num_samples']})" if k in kinds else "–" for k in KINDS])
        kinds = phases["final"].get("pixel_probe", {}).get("unseen_kinds")
        if kinds:
            rows.append([ARM_TITLES[a], "pixel probe on its frames (composed)"] + [
                f"{_pct(kinds[k]['top1'])} ({kinds[k]['num_samples']})" if k in kinds else "–" for k in KINDS])
    doc.table(["renderer", "after", *(f"unseen {k}" for k in KINDS)], rows,
              caption="unseen top-1 per kind of class (clips in brackets): depth, speed and order are the classes "
                      "told apart only by depth, speed or which crossing arm is in front (section 1)")
    if "best_fixed" in headline:
        diff = headline["draction_minus_best_fixed"]
        doc.text(f"DrAction vs the best fixed renderer of this seed ({ARM_TITLES[headline['best_fixed']]}): "
                 f"{100 * diff:+.1f} points (unseen top-1, likelihood).")


def learned_pictures_section(doc: Document, settings, media: dict) -> None:
    """Section 7, continued: the same unseen clips drawn by DrAction as it started and as the curriculum left it."""
    p = settings.pretrain
    if media.get("learned"):
        doc.heading("What training changed in DrAction's pictures", level=3)
        doc.text("The same held-out unseen clips (one per kind of class), drawn by DrAction as it started (the head "
                 "start's DrAction) and as the curriculum left it, with the NFM's saliency gate (white: the gate "
                 "keeps a Gaussian, black: it fades it out; drawn with every Gaussian's opacity before the gate) and "
                 f"the frames at the {p.image_size} px the model reads. Rows, top to bottom: "
                 + "; ".join(media["learned"][0]["rows"]) + ".")
        doc.images([(item["path"], f"unseen class *{item['clip']}*") for item in media["learned"]])


def sugar_section(doc: Document, evaluation: dict, settings, chance_u: float, chance_s: float) -> None:
    """Section 8: SUGAR trained on the same clips, measured on the same held-out clips, beside the
    DrAction arm (one seed)."""
    from .ablation import MAIN_ARM
    from .evaluate import KINDS, TOPOLOGY_NAMES

    outcome = evaluation.get("sugar")
    doc.heading("8. SUGAR on the same clips")
    if not outcome:
        doc.text("Not run (the `sugar` arm is not in this run's arms).")
        return
    s, d = outcome["evaluations"]["final"], evaluation["arms"][MAIN_ARM]
    st = settings.sugar
    doc.text("SUGAR (AAAI 2026; `skeletonllm.sugar`) reads no pictures: a CTR-GCN skeleton encoder is first aligned "
             "with the demo's knowledge file (a motion description per body part and visual descriptions per "
             "seen class, written by the generator: `demo/sugar_knowledge.json`) by MIL-NCE, then frozen, and its "
             "tokens, compressed by temporal query projection, are fed to a causal LM fine-tuned with LoRA to name "
             "the class. Trained here on the same training clips (seen classes only), measured on the same held-out "
             f"clips with the same recognition engine. Demo-sized: CTR-GCN {len(st.channels)} blocks of "
             f"{min(st.channels)}-{max(st.channels)} channels, {st.num_frames} frames, TQP "
             f"{st.num_segments} x {st.num_queries} tokens, a tiny random LLaMA and CLIP text encoder; epochs: "
             f"Step 2 {st.step2_epochs}, Step 3 {st.step3_epochs} (`SugarArmSettings` says why each departs from "
             "the paper). Its GCN has weights per joint and edge of NTU-25, so on another topology it reads the "
             "clip retargeted onto NTU-25's joints by name and body part (`skeletonllm.sugar.retarget`); "
             "SkeletonLLM's renderer draws any topology as it is.")
    rows = []
    for key, _ in RANKINGS:
        chance = chance_u if key.startswith("unseen") else chance_s
        if key in s:
            rows.append([ranking_label(key, s[key]), _pct(s[key]["top1"]), _pct(d[key]["top1"]) if key in d else "–", _pct(chance),
                         s[key]["num_samples"]])
    for topo, r in s.get("transfer", {}).items():
        mine = d.get("transfer", {}).get(topo)
        rows.append([f"unseen classes in {TOPOLOGY_NAMES[topo]} (transfer)", _pct(r["top1"]),
                     _pct(mine["top1"]) if mine else "–", _pct(chance_u), r["num_samples"]])
    kinds = s.get("unseen_kinds", {})
    rows += [[f"unseen classes of kind {k}", _pct(kinds[k]["top1"]),
              _pct(d["unseen_kinds"][k]["top1"]) if k in d.get("unseen_kinds", {}) else "–", "", kinds[k]["num_samples"]]
             for k in KINDS if k in kinds]
    doc.table(["evaluation", "SUGAR", "SkeletonLLM (DrAction, curriculum)", "chance", "clips"], rows,
              caption="top-1 on the same held-out clips")
    gap = s["unseen_score"]["top1"] - d["unseen_score"]["top1"]
    doc.text(f"Classes SUGAR named on the unseen clips: {_spread_cell(s, 'unseen')}. On unseen classes it "
             + ("**beats**" if gap > 0 else "**does not beat**" if gap < 0 else "**ties**")
             + f" the DrAction arm in this seed ({100 * gap:+.1f} points, {ranking_name(s['unseen_score'])}); one seed decides "
             "little (`skeletonllm demo-study` compares them over seeds). Training and evaluation took "
             + ", ".join(f"{k} {v:.0f} s" for k, v in outcome["seconds"].items()) + ".")


__all__ = ["learned_pictures_section", "renderer_study_section", "sugar_section"]
