"""``eval``: open-vocabulary recognition and cross-format transfer of a checkpoint."""
from __future__ import annotations

import typer

from ..mllm.prompts import RECOGNITION_MAX_NEW_TOKENS  # no torch: prompts only
from .root import _require_mode, app


@app.command("eval", epilog="Examples: skeletonllm eval runs/x/final --data nturgbd_skeletons/ --split ntu60_48_12 "
             "--protocol xsub   |   skeletonllm eval runs/ntu/final --data nw_ucla/ --transfer-from ntu60   |   "
             "skeletonllm eval runs/hml/final --data nturgbd_skeletons/ --transfer-from humanml3d --to-2d")
def eval_cmd(
    checkpoint: str = typer.Argument(..., help="SkeletonLLM or SUGAR checkpoint directory (save_pretrained; its "
                                    "config.json says which)"),
    data: str = typer.Option(..., "--data", help="folder (or file) of skeleton data of the evaluation dataset"),
    split: str = typer.Option(None, "--split", help="zero-shot split, e.g. ntu60_48_12: its unseen classes are "
                              "evaluated, with their names as candidates (required unless --transfer-from)"),
    mode: str = typer.Option("generate", "--mode", help="generate: greedy answer, strict 'Label:' match (the "
                             "paper's protocol); score: likelihood ranking of the candidates"),
    calibrate: int = typer.Option(None, "--calibrate", min=1, help="score mode: rank each candidate by its "
                                  "log-likelihood minus its average over N clips of every seen class of the split "
                                  "in --data (the protocol's training part with --protocol): removes the name "
                                  "prior the language model learnt from the seen classes"),
    out: str = typer.Option(None, "--out", help="output folder (default eval/<split>-<mode>); an existing "
                            "predictions.jsonl there is resumed"),
    batch_size: int = typer.Option(8, "--batch-size", min=1, help="clips per forward pass"),
    frames: int = typer.Option(None, "--frames", min=1, help="frames rendered per clip (default: what the checkpoint was trained with)"),
    tsne: bool = typer.Option(False, "--tsne", help="also write tsne.png of the last hidden state per clip"),
    tsne_seen: bool = typer.Option(False, "--tsne-seen", help="t-SNE with the split's seen classes added (faint); implies --tsne"),
    limit: int = typer.Option(None, "--limit", min=1, help="evaluate N clips spread evenly over the data"),
    format: str = typer.Option(None, "--format", help="skeleton format of the files (default: detected per file)"),
    protocol: str = typer.Option(None, "--protocol", help="xsub, xview or xset: keep only the protocol's test part"),
    transfer_from: str = typer.Option(None, "--transfer-from", help="cross-format transfer: the dataset the "
                                      "checkpoint was trained on (ntu60, ntu120, pku_mmd, humanml3d, nw_ucla)"),
    target: str = typer.Option(None, "--target", help="transfer target dataset (nw_ucla, ntu60, ntu60_2d, ...; "
                               "default: told from the files)"),
    to_2d: bool = typer.Option(False, "--to-2d", help="transfer: drop depth (project to the image plane, dims=2), "
                               "e.g. NTU-60 (2D)"),
    label_map: str = typer.Option("default", "--label-map", help="transfer: JSON {class: candidate text}, a shipped "
                                  "map name (nw_ucla), 'default' (the target's shipped map if any) or 'none'"),
    max_new_tokens: int = typer.Option(RECOGNITION_MAX_NEW_TOKENS, "--max-new-tokens", min=1,
                                       help="generate mode: answer length limit (room for a rationale)"),
    seed: int = typer.Option(0, "--seed", help="random seed (torch, numpy)"),
    resume: bool = typer.Option(True, "--resume/--no-resume", help="reuse predictions already in --out"),
    device: str = typer.Option(None, "--device", help="torch device (default: cuda if available, else cpu)"),
    cache_dir: str = typer.Option(None, "--cache-dir", help="parsed-skeleton cache folder"),
    method: str = typer.Option(None, "--method", help="row label in reports (default 'SkeletonLLM (this run)')"),
    quiet: bool = typer.Option(False, "--quiet", help="no progress bar"),
):
    """Evaluate a checkpoint: open-vocabulary recognition (SPEC 6), or cross-format transfer with --transfer-from."""
    from ..errors import SkeletonLLMError
    from ..inference import evaluate_checkpoint

    _require_mode(mode)
    try:
        result = evaluate_checkpoint(
            checkpoint, data, split, out_dir=out, mode=mode, batch_size=batch_size, num_frames=frames, tsne=tsne,
            tsne_seen=tsne_seen, limit=limit, format=format, protocol=protocol, transfer_from=transfer_from,
            target=target, label_map=None if label_map.lower() == "none" else label_map, to_2d=to_2d,
            max_new_tokens=max_new_tokens, seed=seed, resume=resume, device=device, cache_dir=cache_dir,
            method=method, progress=not quiet, calibrate=calibrate)
    except (SkeletonLLMError, FileNotFoundError, KeyError, ValueError) as e:
        typer.echo(f"error: {e.args[0] if isinstance(e, KeyError) else e}", err=True)
        raise typer.Exit(2)
    what = (f"{result['source']} -> {result['target']}" if result["task"] == "transfer"
            else f"{result.get('dataset', '')} {result['split']}".strip())
    if calibrate:
        mode = f"{mode}, calibrated on {result['settings']['calibration']['reference_clips']} seen clips"
    typer.echo(f"{what} ({mode}): top-1 {100 * result['top1']:.2f}% (lenient match {100 * result['top1_fuzzy']:.2f}%) "
               f"on {result['num_samples']} clips, {result['unmatched']} answers matched no candidate")
    out_dir = result["settings"]["out_dir"]
    typer.echo(f"wrote {out_dir}/results.json, " + ", ".join(f"{out_dir}/{f}" for k, f in result["files"].items()
                                                               if k != "features"))
