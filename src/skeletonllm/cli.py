"""The ``skeletonllm`` command line. Each command is a thin layer over the library."""
from __future__ import annotations

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="SkeletonLLM: render skeleton sequences of any format for a vision-language model.")


if __name__ == "__main__":
    app()
