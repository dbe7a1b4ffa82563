"""``skeletonllm demo``: the whole SkeletonLLM method on procedural motions, on a CPU, in minutes.

    from skeletonllm.demo import DemoSettings, run_demo
    summary = run_demo("skeletonllm-demo", DemoSettings.quick())
    print(summary.report_md)

Modules: :mod:`~skeletonllm.demo.pipeline` (the run, top to bottom), with its steps
:mod:`~skeletonllm.demo.settings`, :mod:`~skeletonllm.demo.data` (the clips) and
:mod:`~skeletonllm.demo.arm_jobs` (one arm of one seed: train, evaluate, write its outcome);
:mod:`~skeletonllm.demo.pretrain` (the tiny backbone's head start: its phases), with
``pretrain_settings``, ``pretrain_targets``, ``pretrain_frames`` and ``pretrain_model``;
:mod:`~skeletonllm.demo.ablation` (the arms: one curriculum run per renderer),
:mod:`~skeletonllm.demo.evaluate` (the measurements), :mod:`~skeletonllm.demo.media`
(renders and curves), :mod:`~skeletonllm.demo.report` (report.md / report.html / results.json;
its sections in ``report_method``, ``report_tasks`` and ``report_arms``, the Markdown / HTML
:mod:`~skeletonllm.demo.document`),
:mod:`~skeletonllm.demo.study` (the renderer study over several seeds, ``skeletonllm demo-study``),
:mod:`~skeletonllm.demo.stats` (its statistics), :mod:`~skeletonllm.demo.study_report` (its report).
"""
from .pipeline import DemoSettings, DemoSummary, run_demo

__all__ = ["DemoSettings", "DemoSummary", "run_demo"]
