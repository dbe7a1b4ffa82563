"""``train``: the cooperative curriculum."""
from __future__ import annotations

import typer

from .root import _echo_stage_results, _parse_overrides, app


@app.command("train", epilog="Multi-GPU: accelerate launch --config_file "
             "$(python -c 'import skeletonllm,os;print(os.path.dirname(skeletonllm.__file__))')"
             "/configs/accelerate/ddp_8gpu.yaml -m skeletonllm.cli train CONFIG")
def train_cmd(
    config: str = typer.Argument(..., help="run config YAML, or the name of a shipped one (e.g. ntu60_55_5, tiny_cpu)"),
    stage: str = typer.Option("all", "--stage", help="N, A-B, all, or a stage name"),
    resume: bool = typer.Option(False, "--resume", help="skip finished stages; continue an interrupted one "
                                "from its newest complete checkpoint"),
    joint: bool = typer.Option(False, "--joint", help="ablation: train everything from the start on all tasks mixed"),
    cpu: bool = typer.Option(False, "--cpu", help="run on the CPU even when a GPU is present"),
    set_: list[str] = typer.Option([], "--set", help="override a config key, e.g. --set train.max_steps=10 "
                                   "(value parsed as YAML; repeatable)"),
    quiet: bool = typer.Option(False, "--quiet", help="no progress bar"),
):
    """Train SkeletonLLM through the four-stage curriculum (SPEC 5), or the joint ablation."""
    from ..errors import SkeletonLLMError
    from ..train.config import load_config
    from ..train.trainer import run_training

    overrides = _parse_overrides(set_)
    try:
        cfg = load_config(config, overrides)
        results = run_training(cfg, stages=stage, resume=resume, joint=joint, progress=not quiet, cpu=cpu)
    except (SkeletonLLMError, FileNotFoundError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1)
    _echo_stage_results(results)
