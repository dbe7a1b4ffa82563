"""SUGAR (AAAI 2026, arXiv 2511.10091): skeleton representations learnt from visual-motion
knowledge, read by an LLM classifier. The second method beside SkeletonLLM, on the same data,
trainer, splits and evaluation.

Step 1 :mod:`~skeletonllm.sugar.knowledge` (teacher-written motion and visual descriptions),
Step 2 :mod:`~skeletonllm.sugar.contrastive` (CTR-GCN, :mod:`~skeletonllm.sugar.encoder`,
aligned with CLIP text, :mod:`~skeletonllm.sugar.text`, by MIL-NCE), Step 3
:mod:`~skeletonllm.sugar.model` (frozen encoder -> Temporal Query Projection,
:mod:`~skeletonllm.sugar.tqp` -> LLM + LoRA, :mod:`~skeletonllm.sugar.classifier`), trained by
:mod:`~skeletonllm.sugar.training`, evaluated on the paper's protocols by
:mod:`~skeletonllm.sugar.protocols`.
"""
from .model import SugarConfig, SugarModel

__all__ = ["SugarConfig", "SugarModel"]
