"""``report``: results files -> Markdown tables beside the paper's numbers."""
from __future__ import annotations

import typer

from .root import app


@app.command("report")
def report_cmd(
    results: list[str] = typer.Argument(..., help="results JSON files (schema: skeletonllm.eval.report)"),
    paper_rows: str = typer.Option("ours", "--paper-rows", help="paper rows shown alongside: ours, all or none"),
    table: int = typer.Option(1, "--table", help="paper table giving the NTU recognition comparison rows: 1, 4, 5, 7 or 8"),
    output: str = typer.Option(None, "--output", "-o", help="also write the Markdown to this file"),
):
    """Print results as Markdown tables in the paper's layouts (Tables 1, 2, 3, 9, 15)."""
    from ..atomic import atomic_write_text
    from ..eval.report import ResultsFormatError, load_results, render_report

    try:
        loaded = [r for path in results for r in load_results(path)]
        text = render_report(loaded, paper_rows=paper_rows, recognition_table=table)
    except (ResultsFormatError, ValueError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2)
    typer.echo(text, nl=False)
    if output:
        atomic_write_text(output, text)
