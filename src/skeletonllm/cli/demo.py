"""``demo`` (the whole method on procedural motions, on a CPU) and ``demo-study`` (the demo's renderer
study over several seeds, with statistics)."""
from __future__ import annotations

import typer

from .root import app


def _with_overrides(settings, items: list[str] | None, console):
    """``settings`` with the ``--set KEY=VALUE`` items applied (each value read as JSON, else as text);
    says which settings changed."""
    import json

    overrides = {}
    for item in items or []:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"expected KEY=VALUE, got '{item}'", param_hint="--set")
        try:
            overrides[key.strip()] = json.loads(text)
        except json.JSONDecodeError:
            overrides[key.strip()] = text
    try:
        settings = settings.with_overrides(overrides)
    except (ValueError, TypeError) as e:
        raise typer.BadParameter(str(e), param_hint="--set")
    for change in settings.changes():
        console.print(f"setting changed: {change}")
    return settings


@app.command("demo")
def demo_cmd(
    out: str = typer.Option("skeletonllm-demo", "--out", "-o", help="output directory: report, results, and the "
                            "trained checkpoint itself (a previous demo output there is refreshed)"),
    quick: bool = typer.Option(False, "--quick", help="every step on a handful of clips and steps (under 2 minutes; "
                               "the numbers mean little)"),
    seed: int = typer.Option(0, "--seed", help="seed of the data, the initialisation and the data order"),
    threads: int = typer.Option(1, "--threads", min=1, help="torch threads per process (1 is fastest for the tiny "
                                "model, and much faster when other processes share the cores)"),
    workers: int = typer.Option(2, "--workers", min=1, help="renderer-ablation arms trained at once, one process "
                                "each (1: one after the other in this process, with a progress bar per stage)"),
    overrides: list[str] = typer.Option(None, "--set", help="change a demo setting, KEY=VALUE (VALUE in JSON; "
                                        "repeatable): pretrain.downsample_ratio=0.5, curriculum.stage4_tasks='[\"mqa\"]', "
                                        "calibrate=false (skeletonllm.demo.settings.DemoSettings)"),
    quiet: bool = typer.Option(False, "--quiet", help="no progress bars"),
):
    """Train and evaluate SkeletonLLM end to end on procedural motions: head start, the four-stage curriculum
    with DrAction, zero-shot recognition of unseen classes, transfer, renderer ablation, SUGAR on the same clips,
    captioning, QA."""
    from rich.console import Console
    from rich.table import Table

    from ..demo import DemoSettings, run_demo
    from ..demo.evaluate import REFERENCE_FILE
    from ..errors import SkeletonLLMError

    console = Console()
    settings = _with_overrides(DemoSettings.quick(seed) if quick else DemoSettings.full(seed), overrides, console)
    settings.threads, settings.workers = threads, workers
    try:
        summary = run_demo(out, settings, progress=not quiet, say=console.print)
    except (SkeletonLLMError, FileExistsError, OSError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1)
    h = summary.headline
    table = Table(title=f"SkeletonLLM demo ({'quick' if quick else 'full'}, seed {seed}, {summary.seconds:.0f} s)")
    table.add_column("measured on held-out clips")
    table.add_column("top-1", justify="right")
    table.add_column("chance", justify="right")
    table.add_row(f"unseen classes, {h['ranking']}", f"{100 * h['unseen_top1_score']:.1f} %",
                  f"{100 * h['unseen_chance']:.1f} %")
    if "unseen_top1_plain" in h:
        table.add_row("unseen classes, plain likelihood ranking", f"{100 * h['unseen_top1_plain']:.1f} %",
                      f"{100 * h['unseen_chance']:.1f} %")
    table.add_row("unseen classes, greedy decoding", f"{100 * h['unseen_top1_generate']:.1f} %",
                  f"{100 * h['unseen_chance']:.1f} %")
    table.add_row("seen classes", f"{100 * h['seen_top1_score']:.1f} %", f"{100 * h['seen_chance']:.1f} %")
    for fmt, acc in h["transfer_top1"].items():
        table.add_row(f"unseen, transferred to {fmt}", f"{100 * acc:.1f} %", f"{100 * h['unseen_chance']:.1f} %")
    for arm, acc in h["ablation_unseen_top1"].items():
        table.add_row(f"ablation: {arm}", f"{100 * acc:.1f} %", f"{100 * h['unseen_chance']:.1f} %")
    if "sugar_unseen_top1" in h:
        table.add_row("SUGAR on the same clips: unseen classes", f"{100 * h['sugar_unseen_top1']:.1f} %",
                      f"{100 * h['unseen_chance']:.1f} %")
        table.add_row("SUGAR on the same clips: seen classes", f"{100 * h['sugar_seen_top1']:.1f} %",
                      f"{100 * h['seen_chance']:.1f} %")
    console.print(table)
    console.print(f"Report: {summary.report_md} (and {summary.report_html.name}); results: {summary.results_json}")
    ref = summary.out_dir / REFERENCE_FILE
    how = f" --reference {ref}" if ref.is_file() else ""
    console.print(f"Checkpoint: {summary.out_dir}  (e.g. skeletonllm recognize FILE --checkpoint {summary.out_dir} "
                  f"--mode score{how}: the unseen classes of {settings.split}, ranked by likelihood"
                  + (f", calibrated on the training clips in {REFERENCE_FILE}, as above)" if how else ")"))
    if (summary.out_dir / "sugar" / "config.json").is_file():
        console.print(f"SUGAR's checkpoint: {summary.out_dir / 'sugar'}")


@app.command("demo-study")
def demo_study_cmd(
    out: str = typer.Option("skeletonllm-study", "--out", "-o", help="output directory: one seed-N/ per seed, "
                            "results.json and report.md/html (a killed study started again here resumes)"),
    seeds: str = typer.Option("0-4", "--seeds", help="seeds: a range 0-4, a list 0,3,7, or both (0-2,9)"),
    quick: bool = typer.Option(False, "--quick", help="every step on a handful of clips and steps (the numbers mean "
                               "little)"),
    threads: int = typer.Option(1, "--threads", min=1, help="torch threads per process"),
    workers: int = typer.Option(2, "--workers", min=1, help="arms trained at once, one process each"),
    overrides: list[str] = typer.Option(None, "--set", help="change a demo setting, KEY=VALUE (VALUE in JSON; "
                                        "repeatable): pretrain.downsample_ratio=0.5, curriculum.stage4_tasks='[\"mqa\"]', "
                                        "calibrate=false (skeletonllm.demo.settings.DemoSettings)"),
    quiet: bool = typer.Option(False, "--quiet", help="no progress bars"),
):
    """The demo's renderer study over several seeds: every arm (DrAction, DrAction without NFM, velocity, projection,
    JTM) frozen, after the renderer-only warm-up and after the curriculum, and SUGAR on the same clips; mean ± sd,
    paired sign and t-tests."""
    from rich.console import Console
    from rich.table import Table

    from ..demo import DemoSettings
    from ..demo.ablation import ARM_TITLES
    from ..demo.study import parse_seeds, run_study
    from ..demo.study_report import goal_lines, sugar_lines
    from ..errors import SkeletonLLMError

    console = Console()
    try:
        seed_list = parse_seeds(seeds)
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="--seeds")
    settings = _with_overrides(DemoSettings.quick() if quick else DemoSettings.full(), overrides, console)
    settings.threads, settings.workers = threads, workers
    try:
        summary = run_study(out, seed_list, settings, progress=not quiet, say=console.print)
    except (SkeletonLLMError, FileExistsError, OSError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1)
    st = summary.statistics
    table = Table(title=f"renderer study, seeds {seeds} ({'quick' if quick else 'full'}): mean ± sd over seeds")
    for col in ("arm", "frozen unseen %", "renderer only unseen %", "trained unseen %", "trained seen %"):
        table.add_column(col, justify="left" if col == "arm" else "right")
    cell = lambda e: "–" if e is None else f"{100 * e['mean']:.1f} ± {100 * e['sd']:.1f}"  # noqa: E731
    for arm, phases in st["arms"].items():
        table.add_row(ARM_TITLES.get(arm, arm), *(cell(phases.get(p, {}).get("unseen")) for p in
                                                   ("frozen", "renderer_only", "final")),
                      cell(phases["final"]["seen"]))
    console.print(table)
    for line in goal_lines(st) + sugar_lines(st):
        console.print("- " + line.replace("**", ""))
    console.print(f"Report: {summary.report_md} (and {summary.report_html.name}); results: {summary.results_json}")
