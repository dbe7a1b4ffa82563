"""The teacher commands: ``mine-negatives`` (hard negatives for Disc-FT) and ``teacher`` (CR-Distill
rationales); the endpoint settings they share with ``sugar knowledge``."""
from __future__ import annotations

import typer

from .root import app


_TEACHER_ENV = ("Endpoint settings fall back to SKELETONLLM_TEACHER_BASE_URL / _MODEL / _API_KEY, then "
                "OPENAI_BASE_URL / OPENAI_API_KEY (prefer the environment for keys: command lines are visible "
                "to other users).")


def _teacher_client(base_url, model, api_key, timeout, max_retries, temperature):
    from ..train.teacher import TeacherClient

    return TeacherClient.from_env(base_url=base_url, model=model, api_key=api_key, timeout=timeout,
                                  max_retries=max_retries, temperature=temperature)


@app.command("mine-negatives", epilog=_TEACHER_ENV)
def mine_negatives_cmd(
    classes: str = typer.Option(..., "--classes", help="class-name file (.txt one per line, tab-separated id "
                                "columns allowed, or a .json list), a dataset (ntu60, ntu120, pku_mmd, nw_ucla) "
                                "or a split (ntu60_48_12: all classes of its dataset are mined)"),
    out: str = typer.Option(..., "--out", help="negatives JSON; an existing one is resumed"),
    base_url: str = typer.Option(None, "--base-url", help="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1"),
    model: str = typer.Option(None, "--model", help="teacher model (default gpt-4o on the OpenAI endpoint)"),
    api_key: str = typer.Option(None, "--api-key", help="API key"),
    k: int = typer.Option(5, "--k", help="neighbours kept per class"),
    attempts: int = typer.Option(3, "--attempts", help="questions per class when an answer has too few valid names"),
    timeout: float = typer.Option(120.0, "--timeout", help="seconds per HTTP request"),
    max_retries: int = typer.Option(6, "--max-retries", help="retries per request (errors, rate limits)"),
    temperature: float = typer.Option(None, "--temperature", help="sampling temperature (server default if unset)"),
):
    """Ask a teacher MLLM, for each class, which other classes move most alike; keep the top k (Disc-FT negatives)."""
    from ..errors import SkeletonLLMError
    from ..train.negatives import mine_negatives, resolve_class_names

    try:
        names = resolve_class_names(classes)
        with _teacher_client(base_url, model, api_key, timeout, max_retries, temperature) as client:
            result = mine_negatives(client, names, out, k=k, attempts=attempts, progress=True)
            requests = client.stats.requests
    except SkeletonLLMError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1)
    typer.echo(f"{len(result)} classes x {len(next(iter(result.values())))} neighbours -> {out} "
               f"({requests} requests this run)")


@app.command("teacher", epilog=_TEACHER_ENV)
def teacher_cmd(
    data: str = typer.Option(..., "--data", help="folder (or file) of skeleton data"),
    split: str = typer.Option(..., "--split", help="zero-shot split, e.g. ntu60_48_12; only its seen classes are used"),
    checkpoint: str = typer.Option(..., "--checkpoint", help="DrAction checkpoint after stage 2 (or a training "
                                   "checkpoint holding exactly one)"),
    out: str = typer.Option(..., "--out", help="rationales JSONL; an existing one is resumed "
                            "(rejected answers go to <stem>.rejects.jsonl beside it)"),
    format: str = typer.Option(None, "--format", help="skeleton format (default: detected per file)"),
    protocol: str = typer.Option(None, "--protocol", help="train/test protocol, e.g. ntu60_xsub (train part used)"),
    cache_dir: str = typer.Option(None, "--cache-dir", help="parsed-skeleton cache folder"),
    num_frames: int = typer.Option(12, "--num-frames", help="frames rendered per clip"),
    image_size: int = typer.Option(None, "--image-size", help="render at this size instead of the checkpoint's"),
    contact_sheet: bool = typer.Option(False, "--contact-sheet", help="send the frames tiled into one image"),
    detail: str = typer.Option(None, "--detail", help="OpenAI image detail: low, high or auto"),
    attempts: int = typer.Option(3, "--attempts", help="answers asked per clip when the Label line is wrong"),
    concurrency: int = typer.Option(1, "--concurrency", help="requests in flight at once"),
    retry_rejected: bool = typer.Option(False, "--retry-rejected", help="ask again for clips rejected earlier"),
    device: str = typer.Option("cpu", "--device", help="device that renders the frames"),
    base_url: str = typer.Option(None, "--base-url", help="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1"),
    model: str = typer.Option(None, "--model", help="teacher model (default gpt-4o on the OpenAI endpoint)"),
    api_key: str = typer.Option(None, "--api-key", help="API key"),
    timeout: float = typer.Option(120.0, "--timeout", help="seconds per HTTP request"),
    max_retries: int = typer.Option(6, "--max-retries", help="retries per request (errors, rate limits)"),
    temperature: float = typer.Option(None, "--temperature", help="sampling temperature (server default if unset)"),
):
    """Collect label-conditioned teacher rationales for CR-Distill (stage 3) on frames rendered by DrAction."""
    from ..errors import SkeletonLLMError
    from ..render import DrAction
    from ..skeleton.dataset import SkeletonDataset
    from ..skeleton.splits import class_names, get_split
    from ..train.rationales import RationaleCache, dataset_samples, find_renderer_dir, generate_rationales

    try:
        sp = get_split(split)
        ds = SkeletonDataset(data, format=format, cache_dir=cache_dir, split=split, subset="seen",
                             protocol=protocol, part="train" if protocol else None)
        ckpt = find_renderer_dir(checkpoint)
        renderer = DrAction.from_pretrained(ckpt, **({"image_size": image_size} if image_size else {}))
        renderer = renderer.to(device).eval()
        samples = dataset_samples(ds, renderer, class_names(sp.dataset), num_frames=num_frames)
        with _teacher_client(base_url, model, api_key, timeout, max_retries, temperature) as client:
            stats = generate_rationales(client, samples, None, RationaleCache(out), progress=True, attempts=attempts,
                                        contact_sheet=contact_sheet, detail=detail, retry_rejected=retry_rejected,
                                        concurrency=concurrency, total=len(ds),
                                        meta={"split": split, "checkpoint": str(ckpt), "num_frames": num_frames})
    except (SkeletonLLMError, KeyError, FileNotFoundError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1)
    typer.echo(f"{len(ds)} clips: {stats.generated} new rationales, {stats.cached} already cached, "
               f"{stats.rejected} rejected ({stats.wrong_answers} answers with a wrong label line kept in the "
               f"rejects file), {stats.refused} refused, {stats.requests} requests -> {out}")
