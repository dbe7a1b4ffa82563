"""Evaluation: caption metrics, BertScore, the HumanML3D text-motion evaluator, motion QA,
results files and the report that compares them with the paper.

Submodules are imported on use (``from skeletonllm.eval.captioning import caption_metrics``)
so that ``import skeletonllm.eval`` stays light (no torch, transformers or matplotlib).
"""
from __future__ import annotations

__all__ = ["bertscore", "captioning", "paper_tables", "plots", "qa", "report", "t2m_evaluator"]
