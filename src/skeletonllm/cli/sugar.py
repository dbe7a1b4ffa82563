"""``sugar``: the second method (knowledge, training, the paper's protocols, its demo), a command
group of its own."""
from __future__ import annotations

import typer

from .root import _echo_stage_results, _parse_overrides, _require_mode, app
from .teacher import _TEACHER_ENV, _teacher_client


sugar_app = typer.Typer(no_args_is_help=True, help="SUGAR (AAAI 2026): skeleton encoder aligned with LLM-written "
                        "visual-motion knowledge, read by an LLM classifier.")
app.add_typer(sugar_app, name="sugar")


@sugar_app.command("knowledge", epilog=_TEACHER_ENV)
def sugar_knowledge_cmd(
    classes: str = typer.Option(..., "--classes", help="ntu60, ntu120, pku_mmd, nw_ucla, a split name, or a "
                                "class-name file (.txt one per line, or a .json list)"),
    out: str = typer.Option(..., "--out", help="knowledge JSON to write; its answers cache beside it is resumed"),
    visual: int = typer.Option(3, "--visual", min=1, help="visual descriptions per class"),
    attempts: int = typer.Option(3, "--attempts", min=1, help="questions per class and kind when answers are unusable"),
    frames_from: str = typer.Option(None, "--frames-from", help="a skeleton data folder: send the vision teacher a "
                                    "contact sheet of one rendered clip per class (optional)"),
    renderer: str = typer.Option("velocity", "--renderer", help="with --frames-from: velocity, projection or jtm"),
    base_url: str = typer.Option(None, "--base-url", help="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1"),
    model: str = typer.Option(None, "--model", help="teacher model (default gpt-4o on the OpenAI endpoint)"),
    api_key: str = typer.Option(None, "--api-key", help="API key"),
    timeout: float = typer.Option(120.0, "--timeout", help="seconds per HTTP request"),
    max_retries: int = typer.Option(6, "--max-retries", help="retries per request (errors, rate limits)"),
    temperature: float = typer.Option(None, "--temperature", help="sampling temperature (server default if unset)"),
):
    """Step 1: ask a teacher LLM for every class's motion description (head, hands, arms, hips, legs, feet)
    and visual descriptions; write the knowledge file."""
    from ..errors import SkeletonLLMError
    from ..sugar.knowledge import class_frames_from_dataset, generate_knowledge
    from ..train.negatives import resolve_class_names

    try:
        names = resolve_class_names(classes)
        frames = None
        if frames_from:
            from ..skeleton.dataset import SkeletonDataset
            frames = class_frames_from_dataset(SkeletonDataset(frames_from), names, renderer=renderer)
        with _teacher_client(base_url, model, api_key, timeout, max_retries, temperature) as client:
            knowledge, stats = generate_knowledge(client, names, out, num_visual=visual, attempts=attempts,
                                                  frames=frames, progress=True)
    except (SkeletonLLMError, FileNotFoundError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1)
    typer.echo(f"{len(knowledge.classes)} classes -> {out} ({stats.asked} questions this run, {stats.cached} answers "
               f"from the cache, {stats.unusable} unusable answers kept in the rejects file)")


@sugar_app.command("train")
def sugar_train_cmd(
    config: str = typer.Argument(..., help="SUGAR config YAML, or a shipped one (tiny_cpu, ntu60_xsub, ntu60_zeroshot, "
                                 "ntu60_48_12 ...)"),
    step: str = typer.Option("all", "--step", help="2 (contrastive learning), 3 (LLM classifier) or all"),
    resume: bool = typer.Option(False, "--resume", help="skip finished steps; continue an interrupted one from its "
                                "newest complete checkpoint"),
    cpu: bool = typer.Option(False, "--cpu", help="run on the CPU even when a GPU is present"),
    set_: list[str] = typer.Option([], "--set", help="override a config key, e.g. --set step2.epochs=5 (YAML value; "
                                   "repeatable)"),
    quiet: bool = typer.Option(False, "--quiet", help="no progress bar"),
):
    """Steps 2 and 3 of SUGAR through the project's trainer (checkpoints, JSONL logs, exact resume)."""
    from ..errors import SkeletonLLMError
    from ..sugar.config import load_sugar_config
    from ..sugar.training import final_checkpoint, run_sugar

    overrides = _parse_overrides(set_)
    try:
        cfg = load_sugar_config(config, overrides)
        results = run_sugar(cfg, step=step, resume=resume, progress=not quiet, cpu=cpu)
    except (SkeletonLLMError, FileNotFoundError, ValueError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1)
    _echo_stage_results(results)
    if final_checkpoint(cfg).is_dir():
        typer.echo(f"SUGAR checkpoint: {final_checkpoint(cfg)}")


@sugar_app.command("eval")
def sugar_eval_cmd(
    checkpoint: str = typer.Argument(..., help="a checkpoint directory (SUGAR or SkeletonLLM)"),
    data: str = typer.Option(..., "--data", help="folder of the protocol's test data (NTU RGB+D skeletons; PKU-MMD)"),
    protocol: str = typer.Option(..., "--protocol", help="ntu60_xsub, ntu60_xview, ntu120_xsub, ntu120_xset, "
                                 "p1 (NTU-60 -> NTU-120's 60 new classes) or p2 (NTU-60 -> PKU-MMD)"),
    mode: str = typer.Option("score", "--mode", help="score: likelihood ranking (gives top-5); generate: greedy "
                             "answer, strict 'Label:' match"),
    out: str = typer.Option(None, "--out", help="output folder (default eval/<protocol>-<mode>); resumed if it holds "
                            "predictions"),
    batch_size: int = typer.Option(8, "--batch-size", min=1),
    limit: int = typer.Option(None, "--limit", min=1, help="evaluate N clips spread evenly over the data"),
    cache_dir: str = typer.Option(None, "--cache-dir", help="parsed-skeleton cache folder"),
    device: str = typer.Option(None, "--device", help="torch device (default: cuda if available, else cpu)"),
    method: str = typer.Option(None, "--method", help="row label in reports"),
    quiet: bool = typer.Option(False, "--quiet", help="no progress bar"),
):
    """Evaluate a checkpoint on one of the SUGAR paper's protocols (top-1, and top-5 by ranking)."""
    from pathlib import Path

    from ..errors import SkeletonLLMError
    from ..inference import load_model
    from ..sugar.protocols import evaluate_protocol, get_protocol, protocol_dataset

    _require_mode(mode)
    try:
        p = get_protocol(protocol)
        ds = protocol_dataset(p, data, cache_dir=cache_dir)
        model = load_model(checkpoint, device=device)
        result = evaluate_protocol(model, ds, p, out or Path("eval") / f"{p.name}-{mode}", mode=mode,
                                   batch_size=batch_size, limit=limit, method=method,
                                   checkpoint=str(Path(checkpoint).resolve()), progress=not quiet)
    except (SkeletonLLMError, FileNotFoundError, KeyError, ValueError) as e:
        typer.echo(f"error: {e.args[0] if isinstance(e, KeyError) else e}", err=True)
        raise typer.Exit(2)
    top5 = f", top-5 {100 * result['top5']:.2f}%" if "top5" in result else ""
    typer.echo(f"{p.title} ({mode}): top-1 {100 * result['top1']:.2f}%{top5} on {result['num_samples']} clips "
               f"-> {result['settings']['out_dir']}/results.json")


@sugar_app.command("demo")
def sugar_demo_cmd(
    out: str = typer.Option("sugar-demo", "--out", "-o", help="output directory (runs/, eval/)"),
    seed: int = typer.Option(0, "--seed", help="seed of the data, the initialisation and the data order"),
    quick: bool = typer.Option(False, "--quick", help="a handful of steps (the numbers mean nothing)"),
    quiet: bool = typer.Option(False, "--quiet", help="no progress bars"),
):
    """SUGAR alone on the demo's procedural motions (the demo's split synth_31_13 and clips), about two and a half
    minutes; `skeletonllm demo` runs it beside the SkeletonLLM arms."""
    from ..demo.evaluate import TOPOLOGY_NAMES
    from ..demo.sugar_arm import SugarArmSettings, run_sugar_arm_on_split

    settings = SugarArmSettings.quick() if quick else SugarArmSettings()
    r = run_sugar_arm_on_split(out, seed=seed, settings=settings, progress=not quiet,
                               **({"train_per_class": 2, "test_per_class": 1} if quick else {}))
    how = "likelihood ranking, calibrated on training clips" if settings.calibrate else "likelihood ranking"
    lines = [f"unseen classes, {how}: top-1 {100 * r.unseen_top1:.1f} % (chance {100 * r.chance_unseen:.1f} %)"]
    if "unseen_score_plain" in r.results:
        lines.append(f"unseen classes, plain likelihood ranking: top-1 {100 * r.results['unseen_score_plain']['top1']:.1f} %")
    if r.unseen_top1_generate is not None:
        lines.append(f"unseen classes, greedy decoding: top-1 {100 * r.unseen_top1_generate:.1f} %")
    lines.append(f"seen classes (held-out clips): top-1 {100 * r.seen_top1:.1f} % (chance {100 * r.chance_seen:.1f} %)")
    lines += [f"unseen, {TOPOLOGY_NAMES[t]} retargeted onto NTU-25: top-1 {100 * a:.1f} %" for t, a in r.transfer_top1.items()]
    typer.echo("\n".join(lines) + f"\n{r.seconds:.0f} s; checkpoint: {r.checkpoint}")
