"""``tiny-backbone``: an offline random backbone directory for demos and tests."""
from __future__ import annotations

import typer

from .root import app


@app.command("tiny-backbone")
def tiny_backbone_cmd(
    kind: str = typer.Argument(..., help="internvl or qwen2_5_vl"),
    out: str = typer.Argument(..., help="directory to write (model + tokenizer, loadable with from_pretrained)"),
    image_size: int = typer.Option(448, "--image-size", help="frame size the InternVL vision tower is configured for"),
    corpus: list[str] = typer.Option([], "--corpus", help="extra text files for the tokenizer (e.g. class names)"),
    seed: int = typer.Option(0, "--seed"),
):
    """Write a tiny, randomly initialised backbone of a real model class with an offline tokenizer."""
    from pathlib import Path

    from ..mllm.tiny import KINDS, write_tiny_backbone

    if kind not in KINDS:
        typer.echo(f"error: kind must be one of {', '.join(KINDS)}, got '{kind}'", err=True)
        raise typer.Exit(2)
    texts = [line for f in corpus for line in Path(f).read_text(encoding="utf-8").splitlines() if line.strip()]
    path = write_tiny_backbone(kind, out, image_size=image_size, corpus=texts, seed=seed)
    typer.echo(f"wrote {path} (use it as a SkeletonLLM backbone: SkeletonLLMConfig(backbone='{path}'))")
