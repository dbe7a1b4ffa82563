"""``plan``: parameters, visual tokens and memory per device, before a run."""
from __future__ import annotations

import typer

from .root import app


@app.command("plan", epilog="Examples: skeletonllm plan ntu60_48_12 --processes 8; "
             "skeletonllm plan ntu60_48_12 --backbone Qwen/Qwen2.5-VL-7B-Instruct --batch 1")
def plan_cmd(
    config: str = typer.Argument(..., help="run config YAML, or the name of a shipped one (e.g. ntu60_48_12)"),
    backbone: str = typer.Option(None, "--backbone", help="override model.backbone (a shipped true-shape name "
                                 "such as InternVL3-1B-hf, a hub id, a local directory, or tiny:internvl)"),
    frames: int = typer.Option(None, "--frames", help="frames per clip (default: data.num_frames)"),
    image_size: int = typer.Option(None, "--image-size", help="frame side (default: model.image_size)"),
    batch: int = typer.Option(None, "--batch", help="clips per device (default: train.per_device_batch_size)"),
    processes: int = typer.Option(1, "--processes", help="data-parallel processes (GPUs)"),
    trains: str = typer.Option("renderer,projector,lora", "--trains", help="parameter groups that get gradients"),
    text_tokens: int = typer.Option(300, "--text-tokens", help="prompt and answer tokens besides the visual ones"),
    checkpointing: bool = typer.Option(None, "--gradient-checkpointing/--no-gradient-checkpointing",
                                       help="default: the config's model.gradient_checkpointing"),
):
    """Print parameters, trainable parameters, visual tokens and estimated memory per device (no weights loaded)."""
    from ..errors import SkeletonLLMError
    from ..train.config import load_config
    from ..train.plan import PlanRequest, format_plan, make_plan

    try:
        cfg = load_config(config)
        model = dict(cfg.model)
        if backbone:
            model["backbone"] = backbone
        request = PlanRequest(model=model, num_frames=frames or cfg.data.num_frames, image_size=image_size,
                              batch=batch or cfg.train.per_device_batch_size, processes=processes,
                              trains=tuple(t.strip() for t in trains.split(",") if t.strip()),
                              text_tokens=text_tokens, gradient_checkpointing=checkpointing)
        typer.echo(format_plan(make_plan(request), request))
    except (SkeletonLLMError, FileNotFoundError, OSError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1)
