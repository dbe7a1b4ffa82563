"""The report's sections 1-4: how this run made its model (the data, the head start, the renders,
the curriculum), each a function that adds its blocks to the :class:`~skeletonllm.demo.document.Document`."""
from __future__ import annotations

from .document import Document, _pct
from .pretrain_settings import POOL_WORDS, frame_tokens_words, options_words

_KIND_WORDS = {"depth": "the direction of a motion along the camera axis",
               "speed": "how fast the hand waves (slow vs the quick wave classes)",
               "order": "which of two crossing arms is in front"}


def data_section(doc: Document, settings, info: dict, ds, train, test_seen, test_unseen) -> None:
    """Section 1: the zero-shot split, its unseen classes and what each shares with the seen ones."""
    from ..synth import DEPICTION_CLASSES, get_action

    split = ds.split
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


def vision_heads_words(p) -> str:
    """What the head start's vision phase learns to predict, in words (:class:`PretrainSettings` ``p``)."""
    classes = "seen- and other-class " if p.other_motions else "seen-class "
    return ("movement / side / part / moving-limb " + (f"/ {classes}" if p.class_head else "")
            + f"heads reading {POOL_WORDS[p.head_pool]}"
            + (f", and a movement head shared by the token positions (weight {p.shared_movement:g})"
               if p.shared_movement else ""))


def head_start_section(doc: Document, settings, train, pre, evaluation: dict, media: dict) -> None:
    """Section 2: the head start, why its renderers, the sweep behind it, and what it reads."""
    from .ablation import ARM_TITLES
    from .probe_report import READING_HEADER, reading_rows

    p = settings.pretrain
    doc.heading("2. Head start: pretraining the tiny backbone")
    doc.text(f"InternVL3 arrives pretrained; the tiny one arrives random. Before the curriculum, the demo pretrains it "
             f"on frames drawn by frozen renderers ({', '.join(f'`{r}`' for r in p.renderers)}, taking turns clip by "
             f"clip; `draction` is DrAction exactly as both DrAction arms start from it, never trained there; "
             f"{p.image_size} px, {p.num_frames} frames) from the "
             f"{len(train)} seen-class training clips"
             + (f" and {p.other_motions} clips of each class outside the split (neither seen nor unseen: "
                "the other motions of the catalogue, never offered in a recognition question)"
                if p.other_motions else "")
             + ", with movement-side-part descriptions only (for many seen "
             "classes the description reads like the class name; no unseen class is ever named): "
             f"{p.vision_steps} steps of the vision tower + projector on {vision_heads_words(p)}"
             + f", then {p.short_steps} + {p.language_steps} steps of the language model answering "
             "part-movement-side questions (short question, then the project's prompt formats: multiple choice "
             f"offering {options_words(p.attribute_options)} of the attribute (the truth among them), answered with "
             "`Label: <option>`, YES/NO checks of the movement and of each limb"
             + (" and of the side and body-part words one at a time" if p.word_checks else "")
             + (f", and {p.mqa_items} recognition questions per clip over "
                + (f"its class and {p.mqa_options - 1} other seen classes" if p.mqa_options else "the seen classes")
                if p.mqa_items else "")
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
             f"pose targets read off the 3D joints, training the vision tower during the language phase, InternVL's "
             f"pixel shuffle on or off, and with it off heads that keep where in the frame a token sits; the "
             f"zero-shot choices were made on eight seen classes held out from the other 23, the last ones over five "
             f"seeds. Chosen: {p.image_size} px, {p.patch_size}-px patches, {p.num_frames} "
             f"frames, {frame_tokens_words(p.image_size, p.patch_size, p.downsample_ratio)}, both towers {p.layers} x "
             f"{p.hidden}, the vision phase's heads on {POOL_WORDS[p.head_pool]}"
             + (" with a seen-class head" if p.class_head else "") + f", {p.short_steps} + "
             f"{p.language_steps} language steps.")
    sweep_section(doc)
    if media.get("loss_head_start"):
        doc.image(media["loss_head_start"], "head start loss (vision phase, then the two language phases)")
    doc.text("What the head start learnt, asked as multiple choice over all values of each attribute (it learnt "
             f"them offering {options_words(p.attribute_options)}), for each "
             "arm's renderer as the arm starts; beside it (after the slash) a linear model on the raw pixels of the "
             "same frames (`skeletonllm.demo.probe`: a logistic regression per attribute, standardised, L2, "
             "fitted on the training clips of the seen classes only). Where the head start falls below the probe, "
             "its frames carry more than it reads:")
    doc.table(READING_HEADER, reading_rows(evaluation["phases"], ARM_TITLES),
              caption="head start / pixel probe, accuracy on held-out clips (seen classes, and unseen classes whose "
                      "attribute values all occur in seen classes)")


def renders_section(doc: Document, settings, media: dict) -> None:
    """Section 3: one unseen clip drawn by each renderer, and in every skeleton format."""
    p = settings.pretrain
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


def curriculum_section(doc: Document, settings, arms: dict, media: dict) -> None:
    """Section 4: the four stages, where the demo departs from the paper's recipe, and the loss curves."""
    from .ablation import ARM_TITLES, MAIN_ARM

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
    departures += [f"{stage} runs {n} epoch{'s' * (n != 1)} (the paper: {paper})" for stage, n, paper in
                   (("CR-Distill", c.distill_epochs, 1), ("recognition refinement", c.recognition_epochs, 3))
                   if n != paper]
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


__all__ = ["curriculum_section", "data_section", "head_start_section", "renders_section", "vision_heads_words"]
