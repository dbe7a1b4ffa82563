"""``inspect`` (what a skeleton file holds) and ``convert`` (files and folders of any format -> one
PYSKL pickle or .npz store)."""
from __future__ import annotations

import typer

from .root import app


@app.command("inspect")
def inspect_cmd(
    file: str = typer.Argument(..., help="a skeleton file of any supported format"),
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
    format: str = typer.Option(None, "--format", help="reader to use (default: detect), e.g. ntu, pku_mmd, bvh"),
):
    """Show a skeleton file's format, topology, size, label and value ranges."""
    import json

    from ..errors import SkeletonFormatError
    from ..skeleton.io import summarize

    try:
        info = summarize(file, format=format)
    except (SkeletonFormatError, OSError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2)
    if as_json:
        typer.echo(json.dumps(info, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=file, show_header=False)
    for key, val in info.items():
        if isinstance(val, float):
            val = f"{val:.4g}"
        elif isinstance(val, list):
            val = "[" + ", ".join(f"{v:.3f}" if isinstance(v, float) else str(v) for v in val) + "]"
        table.add_row(key, str(val))
    Console().print(table)


# -- convert (files and folders of any format -> one PYSKL pickle or .npz store) ----------------


@app.command("convert", epilog="Exit code: 0 all converted, 1 some sources failed (listed; the output holds the "
             "rest), 2 nothing written.")
def convert_cmd(
    sources: list[str] = typer.Argument(..., help="skeleton files and folders (searched recursively), any mix of formats"),
    out: str = typer.Option(..., "--out", "-o", help="output file: a .pkl (PYSKL) or .npz store"),
    to: str = typer.Option("pyskl", "--to", help="pyskl (PYSKL/mmaction2 annotation pickle) or npz (skeletonllm store)"),
    workers: int = typer.Option(None, "--workers", min=1, help="parallel worker processes (default: CPU count, at most 8)"),
    format: str = typer.Option(None, "--format", help="read every source with this reader (default: detect per file)"),
    keep_parts: bool = typer.Option(False, "--keep-parts", help="keep the per-file results folder OUT.parts/"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bar"),
):
    """Convert skeleton files to one dataset file, e.g. `skeletonllm convert ntu/ kinetics/ --to pyskl --out all.pkl`.

    Resumable: an interrupted run keeps OUT.parts/, and running the same command again parses only
    the files without a result there. Every failed or skipped file is reported (also in OUT.report.json)."""
    from ..errors import SkeletonLLMError
    from ..skeleton.convert import TARGETS, convert, default_workers

    if to not in TARGETS:
        typer.echo(f"error: --to must be one of {', '.join(TARGETS)}, got '{to}'", err=True)
        raise typer.Exit(2)
    try:
        report = convert(sources, out, to=to, workers=workers or default_workers(), format=format,
                         progress=not quiet, keep_parts=keep_parts)
    except (SkeletonLLMError, OSError, ValueError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2)
    for src, why in report.failed:  # one line per file, whole (easy to grep), never wrapped in a table
        typer.echo(f"failed: {why if src in why else f'{src}: {why}'}")
    typer.echo(f"wrote {report.output}: {report.samples} samples from {len(report.converted)} sources "
               f"({report.parsed} parsed in this run); {len(report.failed)} failed, {len(report.skipped)} "
               f"not skeleton data; report in {report.output}.report.json")
    if report.failed:
        raise typer.Exit(1)
