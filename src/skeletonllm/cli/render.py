"""``render``: a skeleton file -> GIF / MP4 / PNG contact sheet."""
from __future__ import annotations

import typer

from .root import app


@app.command("render")
def render_cmd(
    file: str = typer.Argument(None, help="a skeleton file of any supported format"),
    out: str = typer.Option(..., "--out", "-o", help="output file: .gif, .mp4 or .png (contact sheet)"),
    renderer: str = typer.Option("draction", "--renderer", help="draction, velocity, projection or jtm"),
    frames: int = typer.Option(12, "--frames", min=1, help="frames sampled evenly from the sequence"),
    size: int = typer.Option(None, "--size", min=8, help="square frame size in pixels (default 448, or the checkpoint's)"),
    checkpoint: str = typer.Option(None, "--checkpoint", help="directory with renderer.safetensors + renderer_config.json"),
    format: str = typer.Option(None, "--format", help="reader to use (default: detect), e.g. ntu, pku_mmd, bvh"),
    sample: int = typer.Option(None, "--sample", min=0, help="render sample N of a multi-sample file (load_all)"),
    auto_frame: bool = typer.Option(None, "--auto-frame/--no-auto-frame",
                                    help="centre and fit the sequence in view (default: the renderer's fixed camera)"),
    demo: str = typer.Option(None, "--demo", help="render the built-in demo figure of a topology instead of FILE"),
    fps: float = typer.Option(4.0, "--fps", help="frames per second of GIF/MP4 output"),
    device: str = typer.Option("cpu", "--device", help="torch device, e.g. cpu or cuda"),
):
    """Render a skeleton sequence to images, e.g. `skeletonllm render S001C001P001R001A001.skeleton --out a.gif`."""
    from ..errors import SkeletonLLMError
    from ..render.files import RENDERER_NAMES, load_renderer, render_file, render_sequence
    from ..render.video import write_frames

    if renderer not in RENDERER_NAMES:
        typer.echo(f"error: unknown renderer '{renderer}' (choose {', '.join(RENDERER_NAMES)})", err=True)
        raise typer.Exit(2)
    if (file is None) == (demo is None):
        typer.echo("error: give a FILE or --demo TOPOLOGY (not both)", err=True)
        raise typer.Exit(2)
    try:
        if demo is not None:
            from ..render.demo import demo_sequence
            model = load_renderer(renderer, checkpoint, size, auto_frame, device)
            path = write_frames(render_sequence(model, demo_sequence(demo), frames), out, fps=fps)
        else:
            path = render_file(file, out, renderer=renderer, num_frames=frames, image_size=size,
                               checkpoint=checkpoint, format=format, sample=sample, auto_frame=auto_frame,
                               fps=fps, device=device)
    except (SkeletonLLMError, OSError, ValueError, KeyError, IndexError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1)
    typer.echo(f"wrote {path}")
