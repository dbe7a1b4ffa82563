"""The demo's report, written once as blocks and rendered twice: ``report.md`` and ``report.html``.

    doc = Document("SkeletonLLM demo")
    doc.heading("Recognition"); doc.text("..."); doc.table(["a", "b"], [[1, 2]]); doc.image("x.gif", "caption")
    doc.write(out_dir)      # report.md + report.html, atomically

Images are referenced by paths relative to the report, so the directory can be moved or
served as it is. The HTML is self-contained apart from those images (inline CSS, no scripts).
"""
from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from ..atomic import atomic_write_text


@dataclass
class Block:
    kind: str                       # "heading", "text", "table", "image", "images", "code"
    data: dict = field(default_factory=dict)


class Document:
    """An ordered list of blocks with a title."""

    def __init__(self, title: str):
        self.title = title
        self.blocks: list[Block] = []

    def heading(self, text: str, level: int = 2) -> None:
        self.blocks.append(Block("heading", {"text": text, "level": level}))

    def text(self, text: str) -> None:
        """A paragraph; ``**bold**`` and `` `code` `` are rendered in both formats."""
        self.blocks.append(Block("text", {"text": text}))

    def bullets(self, items: Sequence[str]) -> None:
        self.blocks.append(Block("bullets", {"items": list(items)}))

    def table(self, header: Sequence[str], rows: Sequence[Sequence], caption: str | None = None) -> None:
        self.blocks.append(Block("table", {"header": [str(h) for h in header],
                                           "rows": [[_cell(c) for c in r] for r in rows], "caption": caption}))

    def image(self, path: str, caption: str) -> None:
        self.images([(path, caption)])

    def images(self, items: Sequence[tuple[str, str]]) -> None:
        """Several images side by side (one row in HTML, one line each in Markdown)."""
        self.blocks.append(Block("images", {"items": list(items)}))

    def code(self, text: str) -> None:
        self.blocks.append(Block("code", {"text": text}))

    # -- rendering ------------------------------------------------------------------------
    def to_markdown(self) -> str:
        out = [f"# {self.title}", ""]
        for b in self.blocks:
            d = b.data
            if b.kind == "heading":
                out += ["#" * d["level"] + " " + d["text"], ""]
            elif b.kind == "text":
                out += [d["text"], ""]
            elif b.kind == "bullets":
                out += [f"- {i}" for i in d["items"]] + [""]
            elif b.kind == "table":
                if d["caption"]:
                    out += [f"*{d['caption']}*", ""]
                out += ["| " + " | ".join(d["header"]) + " |", "|" + "|".join("---" for _ in d["header"]) + "|"]
                out += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in d["rows"]] + [""]
            elif b.kind == "images":
                for path, caption in d["items"]:
                    out += [f"![{caption}]({path})", f"*{caption}*", ""]
            elif b.kind == "code":
                out += ["```", d["text"], "```", ""]
        return "\n".join(out).rstrip() + "\n"

    def to_html(self) -> str:
        body = [f"<h1>{html.escape(self.title)}</h1>"]
        for b in self.blocks:
            d = b.data
            if b.kind == "heading":
                lv = min(6, max(2, d["level"]))
                body.append(f"<h{lv}>{_inline(d['text'])}</h{lv}>")
            elif b.kind == "text":
                body.append(f"<p>{_inline(d['text'])}</p>")
            elif b.kind == "bullets":
                body.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in d["items"]) + "</ul>")
            elif b.kind == "table":
                cap = f"<caption>{_inline(d['caption'])}</caption>" if d["caption"] else ""
                head = "".join(f"<th>{_inline(h)}</th>" for h in d["header"])
                rows = "".join("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in r) + "</tr>" for r in d["rows"])
                body.append(f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
            elif b.kind == "images":
                figs = "".join(f'<figure><img src="{html.escape(p, quote=True)}" alt="{html.escape(c, quote=True)}">'
                               f"<figcaption>{_inline(c)}</figcaption></figure>" for p, c in d["items"])
                body.append(f'<div class="row">{figs}</div>')
            elif b.kind == "code":
                body.append(f"<pre>{html.escape(d['text'])}</pre>")
        return _PAGE.format(title=html.escape(self.title), body="\n".join(body))

    def write(self, directory: str | Path, stem: str = "report") -> tuple[Path, Path]:
        directory = Path(directory)
        md, page = directory / f"{stem}.md", directory / f"{stem}.html"
        atomic_write_text(md, self.to_markdown())
        atomic_write_text(page, self.to_html())
        return md, page


def _cell(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


_BOLD = re.compile(r"\*\*(.+?)\*\*")
_CODE = re.compile(r"`([^`]+)`")


def _inline(text: str) -> str:
    """Escape, then render ``**bold**`` and `` `code` `` (the only inline Markdown the report uses)."""
    out = html.escape(text)
    out = _CODE.sub(lambda m: f"<code>{m.group(1)}</code>", out)
    return _BOLD.sub(lambda m: f"<b>{m.group(1)}</b>", out)


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }}
table {{ border-collapse: collapse; margin: 0.8em 0; }}
th, td {{ border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; }}
th {{ background: #f2f2f2; }}
caption {{ caption-side: top; text-align: left; font-style: italic; padding-bottom: 0.3em; }}
.row {{ display: flex; flex-wrap: wrap; gap: 1em; }}
figure {{ margin: 0.5em 0; }}
figure img {{ max-width: 100%; image-rendering: pixelated; background: #000; }}
figcaption {{ font-size: 0.85em; color: #555; max-width: 460px; }}
pre {{ background: #f6f6f6; padding: 0.8em; overflow-x: auto; }}
code {{ background: #f3f3f3; padding: 0 0.2em; }}
</style></head>
<body>
{body}
</body></html>
"""

# -- the demo's report -------------------------------------------------------------------------

def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f} %"


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
           "ablation_unseen_top1": {a: r["unseen_score"]["top1"] for a, r in arms.items()}}
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
        out += [sugar[k] for k in ("unseen_score", "unseen_generate", "seen_score") if k in sugar]
        out += list(sugar.get("transfer", {}).values())
    for arm, phases in evaluation["phases"].items():
        for phase, res in phases.items():
            out += [res[k] for k in ("unseen_score", "unseen_generate", "seen_score") if k in res]
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


_KIND_WORDS = {"depth": "the direction of a motion along the camera axis",
               "speed": "how fast the hand waves (slow vs the quick wave classes)",
               "order": "which of two crossing arms is in front"}


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
              caption="top-1 by likelihood ranking on held-out clips")
    from .probe_report import PROBE_HEADER, probe_rows
    doc.table(PROBE_HEADER, probe_rows(evaluation["phases"], ARM_TITLES),
              caption="the model beside a linear model on the raw pixels of the frames it reads (logistic regression, "
                      "fitted on the training clips of the seen classes; unseen classes scored by the sum of the "
                      "movement, part and side probes' log-probabilities, no unseen clip or name in any fit); for "
                      "DrAction the probe reads the trained renderer's frames")
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
    for key, what, chance in (("unseen_score", "unseen classes, likelihood ranking", chance_u),
                              ("unseen_generate", "unseen classes, greedy decoding", chance_u),
                              ("seen_score", "held-out clips of seen classes, likelihood ranking", chance_s)):
        if key in s:
            rows.append([what, _pct(s[key]["top1"]), _pct(d[key]["top1"]) if key in d else "–", _pct(chance),
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
             + f" the DrAction arm in this seed ({100 * gap:+.1f} points, likelihood ranking); one seed decides "
             "little (`skeletonllm demo-study` compares them over seeds). Training and evaluation took "
             + ", ".join(f"{k} {v:.0f} s" for k, v in outcome["seconds"].items()) + ".")


def write_outputs(out_dir: Path, settings, info: dict, ds, train, test_seen, test_unseen, pre,
                  arms: dict, evaluation: dict, media: dict, headline: dict) -> tuple[Path, Path, Path]:
    """``results.json``, ``report.md`` and ``report.html`` in ``out_dir``; returns their paths."""
    from ..eval.report import save_result
    from ..synth import DEPICTION_CLASSES, get_action
    from .ablation import ARM_TITLES, MAIN_ARM
    from .evaluate import TOPOLOGY_NAMES
    from .probe_report import READING_HEADER, reading_rows

    results_path = out_dir / "results.json"
    save_result(results_path, _results(evaluation, settings))
    split = ds.split
    main = evaluation["arms"][MAIN_ARM]
    chance_u, chance_s = evaluation["chance_unseen"], evaluation["chance_seen"]
    p = settings.pretrain
    doc = Document("SkeletonLLM demo: render, reason, respond on procedural motions")

    # Summary
    doc.text(f"This run trained the whole SkeletonLLM method on this machine in **{info['seconds']:.0f} s** "
             f"({'quick mode: a handful of clips and steps, for tests; the numbers mean little' if settings.quick_mode else 'full demo'}). "
             "No pretrained weights and no downloaded data: a tiny InternVL (the real `transformers` class, "
             "2 layers x 64) learns on procedural motions whose classes are compositions of a movement, a body "
             "part and a side. Every number below is what this run measured on held-out clips.")
    doc.bullets([
        f"**Open-vocabulary recognition of the {len(split.unseen)} unseen classes** (never in any training prompt): "
        f"top-1 **{_pct(headline['unseen_top1_score'])}** by likelihood ranking, {_pct(headline['unseen_top1_generate'])} "
        f"by greedy decoding (the paper's protocol), chance {_pct(chance_u)}.",
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
             "figure to read. The directory holding this report is also the trained checkpoint (DrAction arm); see "
             "*Using the checkpoint* at the end.")

    # Data
    doc.heading("1. Data: a zero-shot split of procedural motions")
    doc.text(f"Split `{split.name}` (seed {ds.seed}): {len(train)} training clips ({settings.train_per_class} per seen "
             f"class), {len(test_seen)} held-out clips of seen classes, {len(test_unseen)} clips of unseen classes. "
             "Every unseen class is a new combination of a movement, a body part and a side that each occur in "
             "seen classes (checked by `check_compositional`):")
    rows = []
    for name, r in info["composition"].items():
        a = get_action(name)
        rows.append([name, f"{a.movement} / {a.part} / {a.side}", ", ".join(r["movement"][:3]),
                     ", ".join(r["side"][:3])])
    doc.table(["unseen class", "movement / part / side", "seen classes with its movement",
               "seen classes with its side (first 3)"], rows)
    doc.text("Seen classes: " + ", ".join(split.seen) + ".")
    depicted = [(kind, [n for n in names if n in split.classes]) for kind, names in DEPICTION_CLASSES.items()]
    if any(names for _, names in depicted):
        doc.text("Classes told apart only by what a plain frontal drawing hides (`synth.DEPICTION_CLASSES`; the "
                 "generator's tests check that the two members of a pair give the same x-y picture and differ in "
                 "depth, or visit the same poses at a different speed). A renderer that shows depth, speed or "
                 "which limb is in front has something to win on them; section 7 reports their accuracy apart:")
        doc.table(["kind", "what differs", "classes (unseen in **bold**)"],
                  [[kind, _KIND_WORDS[kind], ", ".join(f"**{n}**" if n in split.unseen else n for n in names)]
                   for kind, names in depicted if names])

    # Head start
    doc.heading("2. Head start: pretraining the tiny backbone")
    doc.text(f"InternVL3 arrives pretrained; the tiny one arrives random. Before the curriculum, the demo pretrains it "
             f"on frames drawn by frozen renderers ({', '.join(f'`{r}`' for r in p.renderers)}, taking turns clip by "
             f"clip; `draction` is DrAction exactly as both DrAction arms start from it, never trained there; "
             f"{p.image_size} px, {p.num_frames} frames) from the "
             f"{len(train)} seen-class training clips, with movement-side-part descriptions only (for many seen "
             "classes the description reads like the class name; no unseen class is ever named): "
             f"{p.vision_steps} steps of the vision tower + projector on movement / side / part / moving-limb "
             + ("/ seen-class " if p.class_head else "")
             + ("heads reading the mean of the visual tokens" if p.head_pool == "mean"
                else "heads reading every visual token in its place")
             + f", then {p.short_steps} + {p.language_steps} steps of the language model answering "
             "part-movement-side questions (short question, then the project's prompt formats: multiple choice with "
             "`Label: <option>`, YES/NO checks"
             + (f", and {p.mqa_items} recognition questions per clip over the seen classes" if p.mqa_items else "")
             + "). Tokenizer: byte-level BPE trained on the demo's own texts "
             f"({pre.corpus_size} texts; no unseen class name). Time: "
             + ", ".join(f"{k} {v:.1f} s" for k, v in pre.seconds.items()) + "."
             + ("" if not pre.clips_per_renderer else " Clips drawn by each renderer: " + ", ".join(
                 f"{k} {v}" for k, v in pre.clips_per_renderer.items()) + "."))
    doc.text("**Why every arm's renderer in equal shares** (chosen before any outcome of the renderer study was "
             "seen): the arms then share one backbone and differ only in their renderer, and each starts from "
             "frames its backbone saw exactly as often as any other arm's. A head start on a renderer in none of the "
             "arms would make every arm start foreign, and since the curriculum keeps the vision tower and projector "
             "frozen, only DrAction could adapt: the study would measure adaptation, and its outcome would hang on "
             "which outside renderer was picked. One head start per arm would be fair too, but five of them per "
             "seed would not fit the demo's ten minutes, and would add backbone-to-backbone variance. The price of "
             "equal shares: each style gets a quarter of the frames. The study's *frozen* rows (section 7) show how "
             "well the head start alone reads each renderer.")
    from .sweep_report import load_sweep, sweep_section
    base = next((r for r in load_sweep() if r["name"] == "base"), None)
    doc.text("**How the backbone and head start were chosen** (issue 19). The frames of every arm carry more than "
             "the model reads (the linear pixel probe in the table above and in section 7)"
             + ("" if base is None else
                f"; the head start before this sweep named {_pct(base['head_start']['draction']['seen_top1'])} of seed "
                "0's held-out seen clips") + ". "
             f"The sweep below tried, on seed 0 and the seen classes only, longer "
             f"language phases, 7-px patches (four tokens per frame), what the vision heads read, a seen-class head, "
             f"pose targets read off the 3D joints and training the vision tower during the language phase; the "
             f"zero-shot choices were made on eight seen classes held out from the other 23. Chosen: {p.image_size} px, "
             f"{p.patch_size}-px patches, {p.num_frames} frames, one token per frame, both towers {p.layers} x "
             f"{p.hidden}, the heads on the mean of the tokens with a seen-class head, {p.short_steps} + "
             f"{p.language_steps} language steps.")
    sweep_section(doc)
    if media.get("loss_head_start"):
        doc.image(media["loss_head_start"], "head start loss (vision phase, then the two language phases)")
    doc.text("What the head start learnt, asked as multiple choice over all values of each attribute, for each "
             "arm's renderer as the arm starts; beside it (after the slash) a linear model on the raw pixels of the "
             "same frames (`skeletonllm.demo.probe`: a logistic regression per attribute, standardised, L2, "
             "fitted on the training clips of the seen classes only). Where the head start falls below the probe, "
             "its frames carry more than it reads:")
    doc.table(READING_HEADER, reading_rows(evaluation["phases"], ARM_TITLES),
              caption="head start / pixel probe, accuracy on held-out clips (seen classes, and unseen classes whose "
                      "attribute values all occur in seen classes)")

    # Renders
    doc.heading("3. Renders")
    doc.text(f"One held-out clip of the unseen class *{media['clip']}*, drawn by each renderer (shown at 112 px; the "
             f"model sees {p.image_size} px frames).")
    doc.images([(v, k) for k, v in media["gifs"].items()])
    if media.get("model_view"):
        doc.image(media["model_view"], f"what the vision tower receives: the trained DrAction's {p.image_size} px "
                                       f"frames (enlarged)")
    if media.get("topologies"):
        doc.text("The same motion in every skeleton format, drawn by the same trained DrAction (no new parameters):")
        doc.images([(v, k) for k, v in media["topologies"].items()])

    # Curriculum
    doc.heading("4. The curriculum")
    c = settings.curriculum
    doc.text(f"Four stages through the project's trainer (AdamW, weight decay 0.05, cosine schedule with 3 % warm-up, "
             f"batch {c.batch_size}, peak learning rate {c.stage_lr:g}, LoRA r={c.lora_r} / alpha={c.lora_alpha}"
             + (f", at most {c.max_steps} steps per stage" if c.max_steps else "") + "). The generator plays the "
             "teacher: Disc-FT's negatives are the seen classes most alike in movement, part and side "
             "(`similar_classes`, top 5), CR-Distill's targets are the step-by-step rationales it writes for each clip, "
             "ending in `Label: <action>`. Stage 3 mixes captioning and QA into CR-Distill (every clip brings its "
             "rationale, plus a caption target for half of the clips and one QA item for the other half), so the "
             "model also learns to describe and answer. Held-out clips are never trained on.")
    departures = [f"stage 4 trains on {', '.join(c.stage4_tasks)} (the paper: MQA alone; without captions and QA "
                  "the model answers every request with a `Label:` line)"]
    if c.frozen:
        departures.append(f"the {', '.join(c.frozen)} stays as the head start left it (trained in Disc-FT, even "
                          "slowly, it collapsed every prediction to one class)")
    departures += [f"in {stage} the " + ", ".join(f"{g} learns at {v:g}" for g, v in lrs.items())
                   for stage, lrs in c.group_lr.items() if lrs]
    doc.text("Where the demo departs from the paper's recipe, and why (each measured on this demo; the reasons are "
             "in `CurriculumSettings`): " + "; ".join(departures) + ". The table shows what each stage trained.")
    run = arms[MAIN_ARM]
    doc.table(["stage", "tasks", "trains", "steps", "items", "final loss", "seconds"],
              [[s.title, ", ".join(s.tasks), ", ".join(s.trains), s.steps, s.items,
                None if s.last_loss is None else round(s.last_loss, 4), round(s.seconds, 1)] for s in run.stages],
              caption=f"{ARM_TITLES[MAIN_ARM]}")
    doc.images([(v, f"loss, {ARM_TITLES[a]}") for a, v in media.get("loss", {}).items()])

    # Recognition
    doc.heading("5. Open-vocabulary recognition")
    rows = []
    for key, what, chance in (("unseen_score", "unseen classes, likelihood ranking", chance_u),
                              ("unseen_generate", "unseen classes, greedy decoding (paper protocol)", chance_u),
                              ("seen_score", "held-out clips of seen classes, likelihood ranking", chance_s)):
        r = main[key]
        rows.append([what, _pct(r["top1"]), _pct(chance), r["num_samples"], r.get("unmatched", 0)])
    doc.table(["evaluation", "top-1", "chance", "clips", "answers naming no candidate"], rows,
              caption=f"{ARM_TITLES[MAIN_ARM]}: MQA with the candidate list in the prompt")
    doc.table(["unseen class", "top-1 (likelihood)", "clips"],
              [[k, _pct(v["top1"]), v["num_samples"]] for k, v in main["unseen_score"]["per_class"].items()])
    conf = Path("eval") / MAIN_ARM / "unseen-score" / "confusion.png"
    if (out_dir / conf).is_file():
        doc.image(conf.as_posix(), "confusion matrix, unseen classes (likelihood ranking)")
    if main.get("answers"):
        doc.text("Greedy answers of the trained model on unseen clips (MQA prompt, then the CR-Distill student prompt):")
        doc.table(["true class", "MQA answer", "reasoning answer (student prompt)"],
                  [[t, a, r.replace("\n", " / ")] for t, a, r in main["answers"]])

    # Transfer
    doc.heading("6. Cross-format transfer")
    doc.text("Trained on NTU-25 skeletons only; tested, with no fine-tuning, on held-out unseen motions (the NTU-25 "
             "row's clips, or an evenly spread part of them: see the counts) "
             "emitted in other formats (one motion program, different skeletons; COCO-17 is 2D from a random "
             "viewpoint).")
    rows = [["NTU-25 (training format)", _pct(main["unseen_score"]["top1"]), main["unseen_score"]["num_samples"]]]
    rows += [[TOPOLOGY_NAMES[k], _pct(v["top1"]), v["num_samples"]] for k, v in main.get("transfer", {}).items()]
    doc.table(["test format", "unseen top-1 (likelihood)", "clips"], rows + [["chance", _pct(chance_u), ""]])

    # Renderer study
    renderer_study_section(doc, evaluation, arms, chance_u, chance_s, headline)
    if media.get("learned"):
        doc.heading("What training changed in DrAction's pictures", level=3)
        doc.text("The same held-out unseen clips (one per kind of class), drawn by DrAction as it started (the head "
                 "start's DrAction) and as the curriculum left it, with the NFM's saliency gate (white: the gate "
                 "keeps a Gaussian, black: it fades it out; drawn with every Gaussian's opacity before the gate) and "
                 f"the frames at the {p.image_size} px the model reads. Rows, top to bottom: "
                 + "; ".join(media["learned"][0]["rows"]) + ".")
        doc.images([(item["path"], f"unseen class *{item['clip']}*") for item in media["learned"]])

    sugar_section(doc, evaluation, settings, chance_u, chance_s)

    # Captioning
    doc.heading("9. Captioning")
    rows = []
    for name, cap in main["captions"].items():
        m = cap["metrics"]["metrics"]
        rows.append([name, cap["metrics"]["num_samples"], *(round(m[k], 3) for k in ("bleu4", "rouge_l", "cider_d"))])
    doc.table(["clips", "n", "BLEU@4", "ROUGE-L", "CIDEr-D"], rows,
              caption="greedy captions vs the clips' 2-3 reference captions (coco-caption scorers; BertScore not "
                      "computed: it needs a downloaded model)")
    examples = [ex for cap in main["captions"].values() for ex in cap["examples"]][:6]
    doc.table(["class", "a reference caption", "generated"], [list(e) for e in examples])

    # QA
    doc.heading("10. Motion QA")
    qa = main["qa"]
    doc.table(["question type", "accuracy", "questions"],
              [[t, _pct(v["mqa_accuracy"]), v["mqa_count"]] for t, v in qa["per_type"].items()]
              + [["overall", _pct(qa["overall"]["mqa_accuracy"]), qa["overall"]["mqa_count"]], ["chance", "25.0 %", ""]],
              caption=f"4-option questions on {main['qa_clips']} held-out clips (half seen, half unseen classes)")

    # Settings
    doc.heading("11. Settings, seeds, timings")
    doc.text(f"Seed {settings.seed} for data, initialisation and data order. Torch threads {settings.threads}; "
             f"load average {info['load_average_at_start']} at the start, {info['load_average_at_end']} at the end "
             f"(the machine may be shared). {info['machine']['platform']}, {info['machine']['processor']}, "
             f"{info['machine']['cpus']} CPUs, torch "
             f"{info['machine']['torch']}.")
    doc.table(["step", "seconds"], [[k, v] for k, v in info["timings"].items()] + [["total", info["seconds"]]])
    doc.code(json.dumps(settings.to_dict(), indent=1))

    # Using the checkpoint
    doc.heading("12. Using the checkpoint")
    labels = ",".join(split.unseen[:3])
    commands = [f"skeletonllm recognize S001C001P001R001A001.skeleton --checkpoint {out_dir} --mode score",
                f'skeletonllm recognize 000000.npy --checkpoint {out_dir} --labels "{labels}" --mode score --json',
                f"skeletonllm caption alphapose-results.json --checkpoint {out_dir}",
                f'skeletonllm ask S001C001P001R001A001.skeleton "Which side of the body moves?" --options '
                f'"left,right,both" --mode score --checkpoint {out_dir}',
                f"python -c \"from skeletonllm.mllm.model import SkeletonLLM; SkeletonLLM.from_pretrained('{out_dir}')\""]
    sugar_dir = out_dir / "sugar"
    if evaluation.get("sugar"):
        commands += [f"skeletonllm recognize S001C001P001R001A001.skeleton --checkpoint {sugar_dir} --mode score",
                     f"python -c \"from skeletonllm.sugar import SugarModel; SugarModel.from_pretrained('{sugar_dir}')\""]
    doc.code("\n".join(commands))
    doc.text(f"`{out_dir}` is the SkeletonLLM checkpoint (the DrAction arm)"
             + (f"; `{sugar_dir}` is SUGAR's (Steps 2 + 3, recognition only)" if evaluation.get("sugar") else "")
             + f". Each remembers the split it was trained on: `recognize` without `--labels` or `--split` offers "
             f"its {len(split.unseen)} unseen classes, `--all-classes` all {len(split.classes)}. The model knows only "
             "the demo's world: its tokenizer and words come from the synthetic motions, so give it the demo's class "
             "names and its kind of questions. `--mode score` ranks the candidates by likelihood, the figure this "
             "report leads with; greedy answers rarely name a candidate (section 5).")
    doc.text("Files: `results.json` (every result above, schema of `skeletonllm.eval.report`), `eval/` (predictions and "
             "confusion matrices per arm), `runs/` (the backbone, each arm's stages with their logs and final weights), "
             "`media/` (renders and curves), `data/` (the cached synthetic set).")
    md, page = doc.write(out_dir)
    return md, page, results_path


__all__ = ["Document", "headline_numbers", "renderer_study_section", "sugar_section", "write_outputs"]
