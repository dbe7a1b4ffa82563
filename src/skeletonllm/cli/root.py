"""The root command group ``app`` that every command module registers on, and the option checks
several commands share."""
from __future__ import annotations

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="SkeletonLLM: render skeleton sequences of any format for a vision-language model.")


def _require_mode(mode: str) -> None:
    """Exit 2 with a clear message unless ``--mode`` is one the recognition engine knows."""
    if mode not in ("generate", "score"):
        typer.echo(f"error: --mode must be generate or score, got '{mode}'", err=True)
        raise typer.Exit(2)


def _parse_overrides(items: list[str]) -> dict:
    """``--set KEY=VALUE`` options -> ``{key: YAML-parsed value}``; exit 2 on a malformed one."""
    import yaml

    overrides = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            typer.echo(f"error: --set expects KEY=VALUE, got '{item}'", err=True)
            raise typer.Exit(2)
        overrides[key.strip()] = yaml.safe_load(value)
    return overrides


def _echo_stage_results(results) -> None:
    """One line per finished stage (a ``StageResult`` of the curriculum or of SUGAR's steps): steps, items,
    last loss, seconds and where its final checkpoint is."""
    for r in results:
        loss = "n/a" if r.last_loss is None else f"{r.last_loss:.4f}"
        typer.echo(f"{r.stage}: {r.steps} steps on {r.items} items, last loss {loss}, {r.seconds:.1f} s -> {r.final_dir}"
                   + (f" (resumed from {r.resumed_from})" if r.resumed_from else ""))
