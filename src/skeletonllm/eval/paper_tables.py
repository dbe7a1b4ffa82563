"""The SkeletonLLM paper's reported numbers, as data, for side-by-side comparison.

Transcribed from the paper's text (arXiv 2603.18003, ``reference/skeletonllm-paper.txt``).
All values are percentages exactly as printed, except MM-Dist (a distance). ``None`` marks a
cell the paper prints as "-".

What the text extraction lost, and how it was resolved:

* Table captions are gone; tables are identified by the sentences that cite them and by
  their column layout (e.g. the NFM ablation, Table 7, sits under section A.1.5 in the
  extracted text).
* Arrows in transfer names are gone ("NTU-60NW-UCLA", "Kinect v2 Kinect v1"); restored as
  source -> target.
* Inline math is gone: Table 10's resolutions and Table 11's configurations are empty in
  the text, so those tables are not transcribed here.
* Cross-checks that the digits survived: every difference the prose quotes matches these
  numbers (Table 1: +0.88 over TDSM on 55/5, +11.96 on 30/30, +7.73 on NTU-120 60/60,
  +8.44 / +9.69 over InternVL3 on 48/12 / 30/30; Table 2: +17.19, +27.99, +23.23;
  Table 3: +5.35 R@1, +8.76 CIDEr; Table 4: +3.63 from NFM on 48/12; Table 5: -1.94 on
  30/30, -1.32 on 80/40; Table 7: GRU over LSTM by 0.22-0.83; Table 15: +15.6 temporal,
  +17.1 contrastive, +13.2 / +12.9 over "w/o CR").
"""
from __future__ import annotations

from dataclasses import dataclass, field

# Split ids follow tests/data/splits/zero_shot_splits.json.
NTU_SPLITS = ("ntu60_55_5", "ntu60_48_12", "ntu60_40_20", "ntu60_30_30",
              "ntu120_110_10", "ntu120_96_24", "ntu120_80_40", "ntu120_60_60")
PKU_COLUMNS = (("pku51_46_5", "xsub"), ("pku51_39_12", "xsub"),
               ("pku51_46_5", "xview"), ("pku51_39_12", "xview"))

SPLIT_LABELS = {
    "ntu60_55_5": "NTU-60 55/5", "ntu60_48_12": "NTU-60 48/12",
    "ntu60_40_20": "NTU-60 40/20", "ntu60_30_30": "NTU-60 30/30",
    "ntu120_110_10": "NTU-120 110/10", "ntu120_96_24": "NTU-120 96/24",
    "ntu120_80_40": "NTU-120 80/40", "ntu120_60_60": "NTU-120 60/60",
    "pku51_46_5": "PKU-MMD 46/5", "pku51_39_12": "PKU-MMD 39/12",
}

OURS = "SkeletonLLM (Ours)"


@dataclass(frozen=True)
class PaperTable:
    """One table: ``rows[method]`` holds one value per entry of ``columns``."""

    number: int
    title: str
    columns: tuple
    rows: dict = field(default_factory=dict)
    note: str = ""
    decimals: int | tuple = 2  # as printed: one int for all columns, or one per column

    def value(self, method: str, column) -> float | None:
        return self.rows[method][self.columns.index(column)]

    def formatted(self, method) -> list[str]:
        """The row's cells as the paper prints them ("-" for a missing value)."""
        dec = self.decimals if isinstance(self.decimals, tuple) else (self.decimals,) * len(self.columns)
        return ["–" if v is None else f"{v:.{d}f}" for v, d in zip(self.rows[method], dec)]


TABLE1 = PaperTable(
    1, "Open-vocabulary recognition on NTU-60 / NTU-120 (top-1 %, seen/unseen splits)",
    NTU_SPLITS,
    {
        "ReViSE": (53.91, 17.49, 24.26, 14.81, 55.04, 32.38, 19.47, 8.27),
        "JPoSE": (64.82, 28.75, 20.05, 12.39, 51.93, 32.44, 13.71, 7.65),
        "CADA-VAE": (76.84, 28.96, 16.21, 11.51, 59.53, 35.77, 10.55, 5.67),
        "SynSE": (75.81, 33.30, 19.85, 12.00, 62.69, 38.70, 13.64, 7.73),
        "PURLS": (79.23, 40.99, 31.05, 23.52, 71.95, 52.01, 28.38, 19.63),
        "SCoPLe": (84.10, 52.96, None, None, 74.53, 52.17, None, None),
        "TDSM": (86.49, 56.03, 36.09, 25.88, 74.15, 65.06, 36.95, 27.21),
        "MotionGPT": (29.88, 15.91, 12.14, 8.57, 31.10, 20.39, 12.96, 5.15),
        "MotionLLM": (50.24, 26.98, 21.58, 16.46, 49.80, 33.62, 16.91, 11.45),
        "Qwen2.5-VL-7B (fixed rendering, finetuned)": (76.08, 53.70, 31.76, 26.95, 63.25, 56.86, 35.17, 25.12),
        "InternVL3-8B (fixed rendering, finetuned)": (79.66, 56.28, 32.04, 28.15, 67.03, 58.33, 36.06, 26.48),
        OURS: (87.37, 64.72, 46.15, 37.84, 76.05, 67.20, 44.37, 34.94),
    },
)

# Table 2: rows keyed by (training set, test set, method); one column, top-1 %.
TRANSFER_FORMATS = {
    ("NTU-60", "NW-UCLA"): "Kinect v2 -> Kinect v1",
    ("HumanML3D", "NW-UCLA"): "MoCap -> Kinect v1",
    ("HumanML3D", "NTU-60 (2D)"): "MoCap -> 2D pose",
}
TABLE2 = PaperTable(
    2, "Cross-format transfer, no finetuning on the target (top-1 %)", ("top1",),
    {
        ("NTU-60", "NW-UCLA", "TDSM"): (43.19,),
        ("NTU-60", "NW-UCLA", "MotionGPT"): (10.35,),
        ("NTU-60", "NW-UCLA", "SKI-LVLM"): (31.87,),
        ("NTU-60", "NW-UCLA", OURS): (60.38,),
        ("HumanML3D", "NW-UCLA", "MotionGPT"): (9.11,),
        ("HumanML3D", "NW-UCLA", "SKI-LVLM"): (28.74,),
        ("HumanML3D", "NW-UCLA", OURS): (56.73,),
        ("HumanML3D", "NTU-60 (2D)", "MotionGPT"): (5.69,),
        ("HumanML3D", "NTU-60 (2D)", "SKI-LVLM"): (17.13,),
        ("HumanML3D", "NTU-60 (2D)", OURS): (40.36,),
    },
    note="the prose also names NTU-60 -> HumanML3D; that transfer is the captioning of Table 3",
)

CAPTION_COLUMNS = ("r_precision_top1", "r_precision_top3", "mm_dist", "bleu4", "rouge_l", "cider_d", "bertscore_f1")
TABLE3 = PaperTable(
    3, "Motion captioning, NTU-60 -> HumanML3D (R@k, BLEU, ROUGE, CIDEr, BertScore x100; MM-Dist raw)",
    CAPTION_COLUMNS,
    {
        "MotionGPT": (2.83, 9.86, 12.27, 3.50, 13.83, 4.16, 14.03),
        "MotionLLM": (4.90, 14.34, 9.67, 5.57, 19.72, 5.08, 23.44),
        "InternVL3-8B": (6.25, 20.08, 6.36, 7.15, 27.01, 9.49, 29.45),
        OURS: (11.60, 28.56, 5.94, 9.63, 39.84, 18.25, 37.28),
    },
    note="trained on NTU-60 recognition only; captions on HumanML3D with no captioning supervision",
)

TABLE4 = PaperTable(
    4, "Renderer ablation (top-1 %)", NTU_SPLITS,
    {
        "3D+Velocity": (81.32, 58.77, 37.83, 31.45, 70.48, 60.60, 37.74, 28.59),
        "2D Projection": (81.51, 58.16, 38.81, 31.80, 70.94, 61.09, 38.30, 27.69),
        "JTM": (55.86, 26.37, 23.45, 16.83, 45.51, 34.03, 15.09, 8.75),
        "Ours (w/o NFM)": (83.30, 61.09, 40.93, 33.87, 71.29, 62.62, 40.69, 30.67),
        "Ours (Full)": (87.37, 64.72, 46.15, 37.84, 76.05, 67.20, 44.37, 34.94),
    },
)

TABLE5 = PaperTable(
    5, "Training-curriculum ablation (top-1 %)", NTU_SPLITS,
    {
        "w/o CR-Distill": (85.27, 63.37, 43.06, 35.90, 74.68, 64.97, 43.96, 33.79),
        "w/o Disc-FT": (85.80, 63.66, 45.58, 36.29, 75.25, 65.90, 43.05, 33.40),
        "w/o Both": (84.43, 62.09, 40.78, 35.05, 72.95, 64.05, 41.13, 32.77),
        "Joint Training": (82.68, 61.46, 40.30, 34.10, 72.42, 62.03, 40.18, 30.94),
        "Full Pipeline": (87.37, 64.72, 46.15, 37.84, 76.05, 67.20, 44.37, 34.94),
    },
)

TABLE7 = PaperTable(
    7, "NFM ablation (top-1 %)", NTU_SPLITS,
    {
        "w/o NFM": (83.30, 61.09, 40.93, 33.87, 71.29, 62.62, 40.69, 30.67),
        "w/o Temporal": (86.35, 63.56, 45.62, 36.94, 74.80, 65.98, 43.01, 33.45),
        "w/ RNN": (86.33, 64.45, 45.99, 37.18, 75.97, 66.89, 43.17, 34.36),
        "w/ LSTM": (86.65, 64.95, 45.41, 37.62, 75.72, 67.43, 43.54, 34.27),
        "w/ GRU (Full)": (87.37, 64.72, 46.15, 37.84, 76.05, 67.20, 44.37, 34.94),
    },
)

TABLE8 = PaperTable(
    8, "CR-Distill variants (top-1 %)",
    ("ntu60_55_5", "ntu60_48_12", "ntu120_110_10", "ntu120_96_24"),
    {
        "w/o CR-Distill": (85.27, 63.37, 74.68, 64.97),
        "w/o Cond. Label": (86.67, 64.58, 75.53, 66.59),
        "w/o Final Label": (85.47, 63.77, 75.58, 65.78),
        "Ours (Full)": (87.37, 64.72, 76.05, 67.20),
    },
)

TABLE9 = PaperTable(
    9, "Open-vocabulary recognition on PKU-MMD (top-1 %)", PKU_COLUMNS,
    {
        "ReViSE": (54.2, 19.3, 54.1, 12.7),
        "JPoSE": (57.4, 27.0, 53.1, 22.8),
        "CADA-VAE": (73.9, 33.7, 74.5, 29.5),
        "SynSE": (69.5, 36.5, 71.7, 25.4),
        "SMIE": (72.9, 44.2, 71.6, 40.7),
        "STAR": (76.3, 50.2, 75.4, 50.5),
        "Neuron": (89.2, 61.4, 88.2, 62.2),
        "MotionGPT": (34.7, 16.0, 32.1, 10.6),
        "MotionLLM": (46.4, 27.8, 49.4, 20.9),
        "Qwen2.5-VL-7B (fixed rendering, finetuned)": (80.9, 57.3, 83.8, 60.8),
        "InternVL3-8B (fixed rendering, finetuned)": (83.4, 58.2, 85.0, 60.6),
        OURS: (90.1, 63.9, 89.5, 64.2),
    },
    decimals=1,
)

QA_TYPES = ("temporal", "causal", "fine-grained", "contrastive")
TABLE15 = PaperTable(
    15, "Motion QA on Skeleton-QA (MQA accuracy % per type; open answers ROUGE-L, BertScore x100)",
    QA_TYPES + ("rouge_l", "bertscore_f1"),
    {
        "MotionGPT": (30.5, 26.3, 33.2, 39.8, 22.36, 33.5),
        "MotionLLM": (36.7, 32.6, 38.5, 43.2, 26.72, 39.2),
        "SKI-LVLM": (28.6, 24.8, 31.5, 37.9, 20.83, 34.7),
        "InternVL3-8B": (52.8, 48.3, 55.2, 58.7, 39.24, 48.5),
        "Ours (w/o CR)": (55.2, 51.8, 58.6, 62.3, 42.58, 51.2),
        "Ours (Full)": (68.4, 64.7, 72.5, 75.8, 52.36, 57.2),
    },
    note="200 NTU-120 samples; the benchmark itself is not public",
    decimals=(1, 1, 1, 1, 2, 1),
)

# Recognition tables that share Table 1's column layout (or a subset of it).
RECOGNITION_TABLES = {1: TABLE1, 4: TABLE4, 5: TABLE5, 7: TABLE7, 8: TABLE8}
# Which row of each table is the paper's full SkeletonLLM.
FULL_MODEL_ROW = {1: OURS, 2: OURS, 3: OURS, 4: "Ours (Full)", 5: "Full Pipeline",
                  7: "w/ GRU (Full)", 8: "Ours (Full)", 9: OURS, 15: "Ours (Full)"}
TABLES = {t.number: t for t in (TABLE1, TABLE2, TABLE3, TABLE4, TABLE5, TABLE7, TABLE8, TABLE9, TABLE15)}


# -- SUGAR (AAAI 2026, arXiv 2511.10091), the second method -------------------------------------
# Transcribed from reference/sugar-summary.txt (the only description available: a summary with
# the paper's tables; no code). Percentages as printed. Toyota Smarthome has no loader here, so
# its columns can only show the paper's figures.
SUGAR_MAIN_COLUMNS = ("toyota_xsub", "toyota_xview1", "toyota_xview2", "ntu60_xsub", "ntu60_xview",
                      "ntu120_xsub", "ntu120_xset")
SUGAR_COLUMN_LABELS = {
    "toyota_xsub": "Toyota SH X-sub", "toyota_xview1": "Toyota SH X-view1", "toyota_xview2": "Toyota SH X-view2",
    "ntu60_xsub": "NTU60 X-sub", "ntu60_xview": "NTU60 X-view", "ntu120_xsub": "NTU120 X-sub",
    "ntu120_xset": "NTU120 X-view (X-set here)",
    "sugar_p1": "Protocol 1 (NTU60 -> NTU120)", "sugar_p2": "Protocol 2 (NTU60 -> PKU)",
}
SUGAR_OURS = "SUGAR"

SUGAR_MAIN = PaperTable(
    1, "Supervised recognition (top-1 %; classifier / input in brackets)", SUGAR_MAIN_COLUMNS,
    {
        "2s-AGCN (FC, joint+bone)": (55.7, 21.6, 53.3, 84.2, 93.0, 78.2, 82.9),
        "ST-GCN (FC, joint+bone)": (62.9, 40.6, 51.4, 81.5, 88.3, 82.1, 84.5),
        "UNIK (FC, joint+bone)": (62.1, 33.4, 63.6, 86.8, 94.4, 80.8, 86.5),
        "LLM-AR (LLM, joint)": (67.0, 36.1, 66.6, 95.0, 98.4, 88.7, 91.5),
        SUGAR_OURS: (70.2, 50.9, 67.1, 95.2, 97.8, 90.1, 89.7),
    },
    note="the summary labels NTU-120's second column X-view; NTU-120's standard second protocol is cross-setup",
    decimals=1,
)

SUGAR_ZERO_SHOT = PaperTable(
    2, "Zero-shot recognition (top-1 / top-5 %)",
    (("sugar_p1", "top1"), ("sugar_p1", "top5"), ("sugar_p2", "top1"), ("sugar_p2", "top5")),
    {
        "ST-GCN (FC)": (30.1, 45.2, 36.9, 55.2),
        "LLM-AR (LLM)": (59.7, 84.1, 49.4, 74.2),
        SUGAR_OURS: (65.3, 89.8, 53.4, 77.6),
    },
    decimals=1,
)

SUGAR_KNOWLEDGE = PaperTable(
    3, "Ablation: visual-motion knowledge in Step 2 (Toyota Smarthome, accuracy %)", ("toyota",),
    {"No visual, no motion knowledge": (69.2,), "Visual knowledge only": (69.4,), "Motion knowledge only": (72.1,),
     "Visual + motion knowledge": (73.4,)},
    note="ours: step2.texts = [name] / [visual] / [motion] / [motion, visual]",
    decimals=1,
)

SUGAR_BRIDGE = PaperTable(
    4, "Ablation: the bridge between encoder and LLM (Toyota Smarthome, accuracy %)", ("toyota",),
    {"Cross-attention": (52.1,), "One Q-Former": (70.7,), "One linear layer": (70.4,),
     "Temporal Query Projection": (73.4,)},
    note="ours: bridge.kind = cross_attention / qformer / linear / tqp. The token-length ablation (1, 128, full "
         "length ~1000 tokens; 128 best) has no numbers in the summary",
    decimals=1,
)

SUGAR_TABLES = {"main": SUGAR_MAIN, "zero_shot": SUGAR_ZERO_SHOT, "knowledge": SUGAR_KNOWLEDGE, "bridge": SUGAR_BRIDGE}
SUGAR_PROTOCOL_SPLITS = ("ntu60_xsub", "ntu60_xview", "ntu120_xsub", "ntu120_xset", "sugar_p1", "sugar_p2")
