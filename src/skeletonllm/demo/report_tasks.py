"""The report's sections on what the kept model (the DrAction arm) does on held-out clips:
recognition (5), cross-format transfer (6), captioning (9) and motion QA (10)."""
from __future__ import annotations

from pathlib import Path

from .document import RANKINGS, Document, _pct, ranking_label, ranking_name


def recognition_section(doc: Document, out_dir: Path, evaluation: dict) -> None:
    """Section 5: unseen and seen top-1, per unseen class, the confusion matrix and example answers."""
    from .ablation import ARM_TITLES, MAIN_ARM

    main = evaluation["arms"][MAIN_ARM]
    chance_u, chance_s = evaluation["chance_unseen"], evaluation["chance_seen"]
    doc.heading("5. Open-vocabulary recognition")
    rows = []
    for key, _ in RANKINGS:
        if key in main:
            r = main[key]
            rows.append([ranking_label(key, r), _pct(r["top1"]), _pct(chance_u if key.startswith("unseen") else chance_s),
                         r["num_samples"], r.get("unmatched", 0)])
    doc.table(["evaluation", "top-1", "chance", "clips", "answers naming no candidate"], rows,
              caption=f"{ARM_TITLES[MAIN_ARM]}: MQA with the candidate list in the prompt")
    doc.table(["unseen class", f"top-1 ({ranking_name(main['unseen_score'])})", "clips"],
              [[k, _pct(v["top1"]), v["num_samples"]] for k, v in main["unseen_score"]["per_class"].items()])
    conf = Path("eval") / MAIN_ARM / "unseen-score" / "confusion.png"
    if (out_dir / conf).is_file():
        doc.image(conf.as_posix(), f"confusion matrix, unseen classes ({ranking_name(main['unseen_score'])})")
    if main.get("answers"):
        doc.text("Greedy answers of the trained model on unseen clips (MQA prompt, then the CR-Distill student prompt):")
        doc.table(["true class", "MQA answer", "reasoning answer (student prompt)"],
                  [[t, a, r.replace("\n", " / ")] for t, a, r in main["answers"]])


def transfer_section(doc: Document, evaluation: dict) -> None:
    """Section 6: the unseen clips in other skeleton formats, no fine-tuning."""
    from .ablation import MAIN_ARM
    from .evaluate import TOPOLOGY_NAMES

    main = evaluation["arms"][MAIN_ARM]
    chance_u = evaluation["chance_unseen"]
    doc.heading("6. Cross-format transfer")
    doc.text("Trained on NTU-25 skeletons only; tested, with no fine-tuning, on held-out unseen motions (the NTU-25 "
             "row's clips, or an evenly spread part of them: see the counts) "
             "emitted in other formats (one motion program, different skeletons; COCO-17 is 2D from a random "
             "viewpoint).")
    rows = [["NTU-25 (training format)", _pct(main["unseen_score"]["top1"]), main["unseen_score"]["num_samples"]]]
    rows += [[TOPOLOGY_NAMES[k], _pct(v["top1"]), v["num_samples"]] for k, v in main.get("transfer", {}).items()]
    doc.table(["test format", "unseen top-1 (likelihood)", "clips"], rows + [["chance", _pct(chance_u), ""]])


def captioning_section(doc: Document, evaluation: dict) -> None:
    """Section 9: greedy captions against the reference captions."""
    from .ablation import MAIN_ARM

    main = evaluation["arms"][MAIN_ARM]
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


def qa_section(doc: Document, evaluation: dict) -> None:
    """Section 10: the four question types as 4-option multiple choice."""
    from .ablation import MAIN_ARM

    main = evaluation["arms"][MAIN_ARM]
    doc.heading("10. Motion QA")
    qa = main["qa"]
    doc.table(["question type", "accuracy", "questions"],
              [[t, _pct(v["mqa_accuracy"]), v["mqa_count"]] for t, v in qa["per_type"].items()]
              + [["overall", _pct(qa["overall"]["mqa_accuracy"]), qa["overall"]["mqa_count"]], ["chance", "25.0 %", ""]],
              caption=f"4-option questions on {main['qa_clips']} held-out clips (half seen, half unseen classes)")


__all__ = ["captioning_section", "qa_section", "recognition_section", "transfer_section"]
