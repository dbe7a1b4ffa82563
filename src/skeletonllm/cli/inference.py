"""``recognize`` / ``caption`` / ``ask``: a trained model on skeleton files."""
from __future__ import annotations

import typer

from ..mllm.prompts import RECOGNITION_MAX_NEW_TOKENS  # no torch: prompts only
from .root import _require_mode, app


def _inference_inputs(files: list[str], format: str | None, whole: bool):
    """Load every input before the model (a bad file fails fast, named); exit 2 on errors."""
    from ..errors import SkeletonLLMError
    from ..inference import load_clips

    try:
        return load_clips(files, format=format, whole=whole)
    except (SkeletonLLMError, OSError, ValueError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2)


def _reference_files(path: str) -> list[str]:
    """``--reference``: the file, or every file in a folder (a folder format's folder counts as one)."""
    from pathlib import Path

    from ..skeleton.formats import sniff_format

    p = Path(path)
    if p.is_dir() and sniff_format(p) is None:
        files = sorted(str(f) for f in p.iterdir() if f.is_file())
        if not files:
            typer.echo(f"error: {p}: --reference folder holds no files", err=True)
            raise typer.Exit(2)
        return files
    return [path]


def _inference_model(checkpoint: str, device: str | None):
    from ..errors import SkeletonLLMError
    from ..inference import load_model

    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # keep the terminal to the answer
    try:
        return load_model(checkpoint, device=device)
    except (SkeletonLLMError, OSError, ValueError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2)


def _print_json(results: list[dict]) -> None:
    import json

    typer.echo(json.dumps(results[0] if len(results) == 1 else results, indent=2, ensure_ascii=False))


def _where(r: dict) -> str:
    where = r["file"]
    if "clip" in r:
        where += f" #{r['clip']}"
    if "frames" in r:
        where += f" [{r['frames'][0]}:{r['frames'][1]}]"
    return where


@app.command("recognize")
def recognize_cmd(
    files: list[str] = typer.Argument(..., help="skeleton files of any supported format"),
    checkpoint: str = typer.Option(..., "--checkpoint", help="SkeletonLLM or SUGAR checkpoint directory"),
    labels: str = typer.Option(None, "--labels", help="candidate actions, comma-separated: \"drink water,throw\", a file with one class name per line, or a shipped class list: kinetics400, ntu60, ntu120, pku_mmd, nw_ucla"),
    split: str = typer.Option(None, "--split", help="candidates = this zero-shot split's unseen classes (ntu60_48_12, ...; synth_31_13 for the demo's checkpoint); without --labels and --split: the unseen classes of the split the checkpoint was trained on"),
    all_classes: bool = typer.Option(False, "--all-classes", help="every class, seen and unseen: of --split's dataset, or of the checkpoint's split"),
    mode: str = typer.Option("generate", "--mode", help="generate (answer parsed) or score (likelihood ranking)"),
    reference: str = typer.Option(None, "--reference", help="score mode: skeleton file(s) of the model's training "
                                  "data (a file, e.g. a skeletonllm .npz store of many clips, or a folder of files) that calibrate the ranking: each candidate's "
                                  "log-likelihood minus its average over them (the demo's: DIR/reference.npz)"),
    frames: int = typer.Option(None, "--frames", min=1, help="frames rendered per clip (default: what the checkpoint was trained with)"),
    batch_size: int = typer.Option(8, "--batch-size", min=1, help="clips per forward pass"),
    max_new_tokens: int = typer.Option(RECOGNITION_MAX_NEW_TOKENS, "--max-new-tokens", min=1,
                                       help="generate mode: answer length limit (room for a rationale)"),
    format: str = typer.Option(None, "--format", help="reader to use (default: detect)"),
    as_json: bool = typer.Option(False, "--json", help="print JSON (one object per clip; a list for several)"),
    device: str = typer.Option(None, "--device", help="torch device (default: cuda if available, else cpu)"),
):
    """Recognise the action in skeleton files among candidate labels (PKU-MMD recordings: clip by clip)."""
    from ..inference import recognition_candidates, recognize

    _require_mode(mode)
    if reference is not None and mode != "score":
        typer.echo("error: --reference calibrates the likelihood ranking: add --mode score", err=True)
        raise typer.Exit(2)

    def candidates(model=None):
        try:
            recognition_candidates(labels, split, all_classes, model=model)
        except (KeyError, ValueError) as e:
            typer.echo(f"error: {e.args[0] if isinstance(e, KeyError) else e}", err=True)
            raise typer.Exit(2)

    if labels is not None or split is not None:
        candidates()                    # a wrong list fails before the model loads
    clips = _inference_inputs(files, format, whole=False)
    ref = None if reference is None else _inference_inputs(_reference_files(reference), None, whole=False)
    model = _inference_model(checkpoint, device)
    candidates(model)                   # without labels or a split: the checkpoint's own classes
    results = recognize(model, clips, labels, split, all_classes=all_classes, mode=mode, num_frames=frames,
                        batch_size=batch_size, max_new_tokens=max_new_tokens, reference=ref)
    if as_json:
        _print_json(results)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{len(results[0]['candidates'])} candidates ({mode}{', calibrated' if ref else ''})")
    for col in ("file", "label", "true label", "answer"):
        table.add_column(col, overflow="fold")
    for r in results:
        table.add_row(_where(r), r["label"] or "[red](no candidate)[/red]", r.get("true_label") or "",
                      r["raw"] if len(r["raw"]) < 80 else r["raw"][:77] + "...")
    Console().print(table)


@app.command("caption")
def caption_cmd(
    file: str = typer.Argument(..., help="a skeleton file of any supported format"),
    checkpoint: str = typer.Option(..., "--checkpoint", help="SkeletonLLM checkpoint directory (a SUGAR model "
                                    "only recognises)"),
    frames: int = typer.Option(None, "--frames", min=1, help="frames rendered (default: what the checkpoint was trained with)"),
    max_new_tokens: int = typer.Option(128, "--max-new-tokens", min=1, help="answer length limit"),
    format: str = typer.Option(None, "--format", help="reader to use (default: detect)"),
    as_json: bool = typer.Option(False, "--json", help="print {file, text} as JSON"),
    device: str = typer.Option(None, "--device", help="torch device (default: cuda if available, else cpu)"),
):
    """Describe the motion in a skeleton file in words."""
    from ..inference import caption

    clip = _inference_inputs([file], format, whole=True)[0]
    try:
        result = caption(_inference_model(checkpoint, device), clip, num_frames=frames, max_new_tokens=max_new_tokens)
    except ValueError as e:
        typer.echo(f"error: {checkpoint}: {e}", err=True)
        raise typer.Exit(2)
    if as_json:
        _print_json([result])
        return
    from rich.console import Console
    from rich.panel import Panel

    Console().print(Panel(result["text"] or "(empty answer)", title=_where(result)))


@app.command("ask")
def ask_cmd(
    file: str = typer.Argument(..., help="a skeleton file of any supported format"),
    question: str = typer.Argument(..., help="a question about the motion, e.g. \"Which hand moves first?\""),
    checkpoint: str = typer.Option(..., "--checkpoint", help="SkeletonLLM checkpoint directory (a SUGAR model "
                                    "only recognises)"),
    options: str = typer.Option(None, "--options", help="multiple choice: the options, comma-separated "
                                "(\"left,right,both\"); the answer names one of them"),
    mode: str = typer.Option("generate", "--mode", help="with --options: generate (answer parsed) or score "
                             "(the most likely option)"),
    frames: int = typer.Option(None, "--frames", min=1, help="frames rendered (default: what the checkpoint was trained with)"),
    max_new_tokens: int = typer.Option(128, "--max-new-tokens", min=1, help="answer length limit"),
    format: str = typer.Option(None, "--format", help="reader to use (default: detect)"),
    as_json: bool = typer.Option(False, "--json", help="print {file, question, text} (with --options also options "
                                 "and answer) as JSON"),
    device: str = typer.Option(None, "--device", help="torch device (default: cuda if available, else cpu)"),
):
    """Ask a question about the motion in a skeleton file."""
    from ..inference import ask

    if not question.strip():
        typer.echo("error: the question is empty", err=True)
        raise typer.Exit(2)
    if mode not in ("generate", "score") or (mode == "score" and options is None):
        typer.echo("error: --mode is generate or score, and score needs --options", err=True)
        raise typer.Exit(2)
    clip = _inference_inputs([file], format, whole=True)[0]
    try:
        result = ask(_inference_model(checkpoint, device), clip, question, options=options, mode=mode,
                     num_frames=frames, max_new_tokens=max_new_tokens)
    except ValueError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2)
    if as_json:
        _print_json([result])
        return
    from rich.console import Console
    from rich.panel import Panel

    body = result["text"] or "(empty answer)"
    if options is not None:
        body += f"\n\nanswer: {result['answer'] if result['answer'] is not None else '(no option named)'}"
    Console().print(Panel(body, title=f"{_where(result)}: {result['question']}"))
