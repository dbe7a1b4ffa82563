"""The ``skeletonllm`` command line. Each command is a thin layer over the library."""
from __future__ import annotations

import os

# Busy-waiting OpenMP threads make torch many times slower on a small, shared CPU; passive
# waiting costs nothing on an idle one. Must be set before torch is first imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import typer  # noqa: E402

from .mllm.prompts import RECOGNITION_MAX_NEW_TOKENS  # noqa: E402  (no torch: prompts only)

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="SkeletonLLM: render skeleton sequences of any format for a vision-language model.")


def _require_mode(mode: str) -> None:
    """Exit 2 with a clear message unless ``--mode`` is one the recognition engine knows."""
    if mode not in ("generate", "score"):
        typer.echo(f"error: --mode must be generate or score, got '{mode}'", err=True)
        raise typer.Exit(2)


# -- inspect (what a skeleton file holds) -------------------------------------------------------


@app.command("inspect")
def inspect_cmd(
    file: str = typer.Argument(..., help="a skeleton file of any supported format"),
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
    format: str = typer.Option(None, "--format", help="reader to use (default: detect), e.g. ntu, pku_mmd, bvh"),
):
    """Show a skeleton file's format, topology, size, label and value ranges."""
    import json

    from .errors import SkeletonFormatError
    from .skeleton.io import summarize

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
    from .errors import SkeletonLLMError
    from .skeleton.convert import TARGETS, convert, default_workers

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


# -- render (a skeleton file -> GIF / MP4 / PNG contact sheet) --------------------------------


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
    from .errors import SkeletonLLMError
    from .render.files import RENDERER_NAMES, load_renderer, render_file, render_sequence
    from .render.video import write_frames

    if renderer not in RENDERER_NAMES:
        typer.echo(f"error: unknown renderer '{renderer}' (choose {', '.join(RENDERER_NAMES)})", err=True)
        raise typer.Exit(2)
    if (file is None) == (demo is None):
        typer.echo("error: give a FILE or --demo TOPOLOGY (not both)", err=True)
        raise typer.Exit(2)
    try:
        if demo is not None:
            from .render.demo import demo_sequence
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


# -- teacher (hard negatives, CR-Distill rationales) ------------------------------------------

_TEACHER_ENV = ("Endpoint settings fall back to SKELETONLLM_TEACHER_BASE_URL / _MODEL / _API_KEY, then "
                "OPENAI_BASE_URL / OPENAI_API_KEY (prefer the environment for keys: command lines are visible "
                "to other users).")


def _teacher_client(base_url, model, api_key, timeout, max_retries, temperature):
    from .train.teacher import TeacherClient

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
    from .errors import SkeletonLLMError
    from .train.negatives import mine_negatives, resolve_class_names

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
    from .errors import SkeletonLLMError
    from .render import DrAction
    from .skeleton.dataset import SkeletonDataset
    from .skeleton.splits import class_names, get_split
    from .train.rationales import RationaleCache, dataset_samples, find_renderer_dir, generate_rationales

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


# -- report (results files -> Markdown tables beside the paper's numbers) ----------------------


@app.command("report")
def report_cmd(
    results: list[str] = typer.Argument(..., help="results JSON files (schema: skeletonllm.eval.report)"),
    paper_rows: str = typer.Option("ours", "--paper-rows", help="paper rows shown alongside: ours, all or none"),
    table: int = typer.Option(1, "--table", help="paper table giving the NTU recognition comparison rows: 1, 4, 5, 7 or 8"),
    output: str = typer.Option(None, "--output", "-o", help="also write the Markdown to this file"),
):
    """Print results as Markdown tables in the paper's layouts (Tables 1, 2, 3, 9, 15)."""
    from .atomic import atomic_write_text
    from .eval.report import ResultsFormatError, load_results, render_report

    try:
        loaded = [r for path in results for r in load_results(path)]
        text = render_report(loaded, paper_rows=paper_rows, recognition_table=table)
    except (ResultsFormatError, ValueError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2)
    typer.echo(text, nl=False)
    if output:
        atomic_write_text(output, text)


# -- train (the cooperative curriculum) --------------------------------------------------------


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


@app.command("train", epilog="Multi-GPU: accelerate launch --config_file "
             "$(python -c 'import skeletonllm,os;print(os.path.dirname(skeletonllm.__file__))')"
             "/configs/accelerate/ddp_8gpu.yaml -m skeletonllm.cli train CONFIG")
def train_cmd(
    config: str = typer.Argument(..., help="run config YAML, or the name of a shipped one (e.g. ntu60_55_5, tiny_cpu)"),
    stage: str = typer.Option("all", "--stage", help="N, A-B, all, or a stage name"),
    resume: bool = typer.Option(False, "--resume", help="skip finished stages; continue an interrupted one "
                                "from its newest complete checkpoint"),
    joint: bool = typer.Option(False, "--joint", help="ablation: train everything from the start on all tasks mixed"),
    cpu: bool = typer.Option(False, "--cpu", help="run on the CPU even when a GPU is present"),
    set_: list[str] = typer.Option([], "--set", help="override a config key, e.g. --set train.max_steps=10 "
                                   "(value parsed as YAML; repeatable)"),
    quiet: bool = typer.Option(False, "--quiet", help="no progress bar"),
):
    """Train SkeletonLLM through the four-stage curriculum (SPEC 5), or the joint ablation."""
    from .errors import SkeletonLLMError
    from .train.config import load_config
    from .train.trainer import run_training

    overrides = _parse_overrides(set_)
    try:
        cfg = load_config(config, overrides)
        results = run_training(cfg, stages=stage, resume=resume, joint=joint, progress=not quiet, cpu=cpu)
    except (SkeletonLLMError, FileNotFoundError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1)
    for r in results:
        loss = "n/a" if r.last_loss is None else f"{r.last_loss:.4f}"
        typer.echo(f"{r.stage}: {r.steps} steps on {r.items} items, last loss {loss}, {r.seconds:.1f} s -> {r.final_dir}"
                   + (f" (resumed from {r.resumed_from})" if r.resumed_from else ""))


# -- plan (parameters, visual tokens and memory per device, before a run) -----------------------


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
    from .errors import SkeletonLLMError
    from .train.config import load_config
    from .train.plan import PlanRequest, format_plan, make_plan

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


# -- tiny-backbone (an offline random backbone directory for demos and tests) ------------------


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

    from .mllm.tiny import KINDS, write_tiny_backbone

    if kind not in KINDS:
        typer.echo(f"error: kind must be one of {', '.join(KINDS)}, got '{kind}'", err=True)
        raise typer.Exit(2)
    texts = [line for f in corpus for line in Path(f).read_text(encoding="utf-8").splitlines() if line.strip()]
    path = write_tiny_backbone(kind, out, image_size=image_size, corpus=texts, seed=seed)
    typer.echo(f"wrote {path} (use it as a SkeletonLLM backbone: SkeletonLLMConfig(backbone='{path}'))")


# -- eval (open-vocabulary recognition, cross-format transfer) --------------------------------


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
    from .errors import SkeletonLLMError
    from .inference import evaluate_checkpoint

    _require_mode(mode)
    try:
        result = evaluate_checkpoint(
            checkpoint, data, split, out_dir=out, mode=mode, batch_size=batch_size, num_frames=frames, tsne=tsne,
            tsne_seen=tsne_seen, limit=limit, format=format, protocol=protocol, transfer_from=transfer_from,
            target=target, label_map=None if label_map.lower() == "none" else label_map, to_2d=to_2d,
            max_new_tokens=max_new_tokens, seed=seed, resume=resume, device=device, cache_dir=cache_dir,
            method=method, progress=not quiet)
    except (SkeletonLLMError, FileNotFoundError, KeyError, ValueError) as e:
        typer.echo(f"error: {e.args[0] if isinstance(e, KeyError) else e}", err=True)
        raise typer.Exit(2)
    what = (f"{result['source']} -> {result['target']}" if result["task"] == "transfer"
            else f"{result.get('dataset', '')} {result['split']}".strip())
    typer.echo(f"{what} ({mode}): top-1 {100 * result['top1']:.2f}% (lenient match {100 * result['top1_fuzzy']:.2f}%) "
               f"on {result['num_samples']} clips, {result['unmatched']} answers matched no candidate")
    out_dir = result["settings"]["out_dir"]
    typer.echo(f"wrote {out_dir}/results.json, " + ", ".join(f"{out_dir}/{f}" for k, f in result["files"].items()
                                                               if k != "features"))


# -- recognize / caption / ask (a trained model on skeleton files) -----------------------------


def _inference_inputs(files: list[str], format: str | None, whole: bool):
    """Load every input before the model (a bad file fails fast, named); exit 2 on errors."""
    from .errors import SkeletonLLMError
    from .inference import load_clips

    try:
        return load_clips(files, format=format, whole=whole)
    except (SkeletonLLMError, OSError, ValueError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2)


def _inference_model(checkpoint: str, device: str | None):
    from .errors import SkeletonLLMError
    from .inference import load_model

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
    frames: int = typer.Option(None, "--frames", min=1, help="frames rendered per clip (default: what the checkpoint was trained with)"),
    batch_size: int = typer.Option(8, "--batch-size", min=1, help="clips per forward pass"),
    max_new_tokens: int = typer.Option(RECOGNITION_MAX_NEW_TOKENS, "--max-new-tokens", min=1,
                                       help="generate mode: answer length limit (room for a rationale)"),
    format: str = typer.Option(None, "--format", help="reader to use (default: detect)"),
    as_json: bool = typer.Option(False, "--json", help="print JSON (one object per clip; a list for several)"),
    device: str = typer.Option(None, "--device", help="torch device (default: cuda if available, else cpu)"),
):
    """Recognise the action in skeleton files among candidate labels (PKU-MMD recordings: clip by clip)."""
    from .inference import recognition_candidates, recognize

    _require_mode(mode)

    def candidates(model=None):
        try:
            recognition_candidates(labels, split, all_classes, model=model)
        except (KeyError, ValueError) as e:
            typer.echo(f"error: {e.args[0] if isinstance(e, KeyError) else e}", err=True)
            raise typer.Exit(2)

    if labels is not None or split is not None:
        candidates()                    # a wrong list fails before the model loads
    clips = _inference_inputs(files, format, whole=False)
    model = _inference_model(checkpoint, device)
    candidates(model)                   # without labels or a split: the checkpoint's own classes
    results = recognize(model, clips, labels, split, all_classes=all_classes, mode=mode, num_frames=frames,
                        batch_size=batch_size, max_new_tokens=max_new_tokens)
    if as_json:
        _print_json(results)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{len(results[0]['candidates'])} candidates ({mode})")
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
    from .inference import caption

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
    from .inference import ask

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


# -- sugar (the second method: knowledge, training, the paper's protocols) --------------------

sugar_app = typer.Typer(no_args_is_help=True, help="SUGAR (AAAI 2026): skeleton encoder aligned with LLM-written "
                        "visual-motion knowledge, read by an LLM classifier.")
app.add_typer(sugar_app, name="sugar")


@sugar_app.command("knowledge", epilog=_TEACHER_ENV)
def sugar_knowledge_cmd(
    classes: str = typer.Option(..., "--classes", help="ntu60, ntu120, pku_mmd, nw_ucla, a split name, or a "
                                "class-name file (.txt one per line, or a .json list)"),
    out: str = typer.Option(..., "--out", help="knowledge JSON to write; its answers cache beside it is resumed"),
    visual: int = typer.Option(3, "--visual", min=1, help="visual descriptions per class"),
    attempts: int = typer.Option(3, "--attempts", min=1, help="questions per class and kind when answers are unusable"),
    frames_from: str = typer.Option(None, "--frames-from", help="a skeleton data folder: send the vision teacher a "
                                    "contact sheet of one rendered clip per class (optional)"),
    renderer: str = typer.Option("velocity", "--renderer", help="with --frames-from: velocity, projection or jtm"),
    base_url: str = typer.Option(None, "--base-url", help="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1"),
    model: str = typer.Option(None, "--model", help="teacher model (default gpt-4o on the OpenAI endpoint)"),
    api_key: str = typer.Option(None, "--api-key", help="API key"),
    timeout: float = typer.Option(120.0, "--timeout", help="seconds per HTTP request"),
    max_retries: int = typer.Option(6, "--max-retries", help="retries per request (errors, rate limits)"),
    temperature: float = typer.Option(None, "--temperature", help="sampling temperature (server default if unset)"),
):
    """Step 1: ask a teacher LLM for every class's motion description (head, hands, arms, hips, legs, feet)
    and visual descriptions; write the knowledge file."""
    from .errors import SkeletonLLMError
    from .sugar.knowledge import class_frames_from_dataset, generate_knowledge
    from .train.negatives import resolve_class_names

    try:
        names = resolve_class_names(classes)
        frames = None
        if frames_from:
            from .skeleton.dataset import SkeletonDataset
            frames = class_frames_from_dataset(SkeletonDataset(frames_from), names, renderer=renderer)
        with _teacher_client(base_url, model, api_key, timeout, max_retries, temperature) as client:
            knowledge, stats = generate_knowledge(client, names, out, num_visual=visual, attempts=attempts,
                                                  frames=frames, progress=True)
    except (SkeletonLLMError, FileNotFoundError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1)
    typer.echo(f"{len(knowledge.classes)} classes -> {out} ({stats.asked} questions this run, {stats.cached} answers "
               f"from the cache, {stats.unusable} unusable answers kept in the rejects file)")


@sugar_app.command("train")
def sugar_train_cmd(
    config: str = typer.Argument(..., help="SUGAR config YAML, or a shipped one (tiny_cpu, ntu60_xsub, ntu60_zeroshot, "
                                 "ntu60_48_12 ...)"),
    step: str = typer.Option("all", "--step", help="2 (contrastive learning), 3 (LLM classifier) or all"),
    resume: bool = typer.Option(False, "--resume", help="skip finished steps; continue an interrupted one from its "
                                "newest complete checkpoint"),
    cpu: bool = typer.Option(False, "--cpu", help="run on the CPU even when a GPU is present"),
    set_: list[str] = typer.Option([], "--set", help="override a config key, e.g. --set step2.epochs=5 (YAML value; "
                                   "repeatable)"),
    quiet: bool = typer.Option(False, "--quiet", help="no progress bar"),
):
    """Steps 2 and 3 of SUGAR through the project's trainer (checkpoints, JSONL logs, exact resume)."""
    from .errors import SkeletonLLMError
    from .sugar.config import load_sugar_config
    from .sugar.training import final_checkpoint, run_sugar

    overrides = _parse_overrides(set_)
    try:
        cfg = load_sugar_config(config, overrides)
        results = run_sugar(cfg, step=step, resume=resume, progress=not quiet, cpu=cpu)
    except (SkeletonLLMError, FileNotFoundError, ValueError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1)
    for r in results:
        loss = "n/a" if r.last_loss is None else f"{r.last_loss:.4f}"
        typer.echo(f"{r.stage}: {r.steps} steps on {r.items} items, last loss {loss}, {r.seconds:.1f} s -> {r.final_dir}"
                   + (f" (resumed from {r.resumed_from})" if r.resumed_from else ""))
    if final_checkpoint(cfg).is_dir():
        typer.echo(f"SUGAR checkpoint: {final_checkpoint(cfg)}")


@sugar_app.command("eval")
def sugar_eval_cmd(
    checkpoint: str = typer.Argument(..., help="a checkpoint directory (SUGAR or SkeletonLLM)"),
    data: str = typer.Option(..., "--data", help="folder of the protocol's test data (NTU RGB+D skeletons; PKU-MMD)"),
    protocol: str = typer.Option(..., "--protocol", help="ntu60_xsub, ntu60_xview, ntu120_xsub, ntu120_xset, "
                                 "p1 (NTU-60 -> NTU-120's 60 new classes) or p2 (NTU-60 -> PKU-MMD)"),
    mode: str = typer.Option("score", "--mode", help="score: likelihood ranking (gives top-5); generate: greedy "
                             "answer, strict 'Label:' match"),
    out: str = typer.Option(None, "--out", help="output folder (default eval/<protocol>-<mode>); resumed if it holds "
                            "predictions"),
    batch_size: int = typer.Option(8, "--batch-size", min=1),
    limit: int = typer.Option(None, "--limit", min=1, help="evaluate N clips spread evenly over the data"),
    cache_dir: str = typer.Option(None, "--cache-dir", help="parsed-skeleton cache folder"),
    device: str = typer.Option(None, "--device", help="torch device (default: cuda if available, else cpu)"),
    method: str = typer.Option(None, "--method", help="row label in reports"),
    quiet: bool = typer.Option(False, "--quiet", help="no progress bar"),
):
    """Evaluate a checkpoint on one of the SUGAR paper's protocols (top-1, and top-5 by ranking)."""
    from pathlib import Path

    from .errors import SkeletonLLMError
    from .inference import load_model
    from .sugar.protocols import evaluate_protocol, get_protocol, protocol_dataset

    _require_mode(mode)
    try:
        p = get_protocol(protocol)
        ds = protocol_dataset(p, data, cache_dir=cache_dir)
        model = load_model(checkpoint, device=device)
        result = evaluate_protocol(model, ds, p, out or Path("eval") / f"{p.name}-{mode}", mode=mode,
                                   batch_size=batch_size, limit=limit, method=method,
                                   checkpoint=str(Path(checkpoint).resolve()), progress=not quiet)
    except (SkeletonLLMError, FileNotFoundError, KeyError, ValueError) as e:
        typer.echo(f"error: {e.args[0] if isinstance(e, KeyError) else e}", err=True)
        raise typer.Exit(2)
    top5 = f", top-5 {100 * result['top5']:.2f}%" if "top5" in result else ""
    typer.echo(f"{p.title} ({mode}): top-1 {100 * result['top1']:.2f}%{top5} on {result['num_samples']} clips "
               f"-> {result['settings']['out_dir']}/results.json")


@sugar_app.command("demo")
def sugar_demo_cmd(
    out: str = typer.Option("sugar-demo", "--out", "-o", help="output directory (runs/, eval/)"),
    seed: int = typer.Option(0, "--seed", help="seed of the data, the initialisation and the data order"),
    quick: bool = typer.Option(False, "--quick", help="a handful of steps (the numbers mean nothing)"),
    quiet: bool = typer.Option(False, "--quiet", help="no progress bars"),
):
    """SUGAR alone on the demo's procedural motions (the demo's split synth_31_13 and clips), about two and a half
    minutes; `skeletonllm demo` runs it beside the SkeletonLLM arms."""
    from .demo.evaluate import TOPOLOGY_NAMES
    from .demo.sugar_arm import SugarArmSettings, run_sugar_arm_on_split

    settings = SugarArmSettings.quick() if quick else SugarArmSettings()
    r = run_sugar_arm_on_split(out, seed=seed, settings=settings, progress=not quiet,
                               **({"train_per_class": 2, "test_per_class": 1} if quick else {}))
    lines = [f"unseen classes, likelihood ranking: top-1 {100 * r.unseen_top1:.1f} % (chance {100 * r.chance_unseen:.1f} %)"]
    if r.unseen_top1_generate is not None:
        lines.append(f"unseen classes, greedy decoding: top-1 {100 * r.unseen_top1_generate:.1f} %")
    lines.append(f"seen classes (held-out clips): top-1 {100 * r.seen_top1:.1f} % (chance {100 * r.chance_seen:.1f} %)")
    lines += [f"unseen, {TOPOLOGY_NAMES[t]} retargeted onto NTU-25: top-1 {100 * a:.1f} %" for t, a in r.transfer_top1.items()]
    typer.echo("\n".join(lines) + f"\n{r.seconds:.0f} s; checkpoint: {r.checkpoint}")


# -- demo (the whole method on procedural motions, on a CPU) ----------------------------------


@app.command("demo")
def demo_cmd(
    out: str = typer.Option("skeletonllm-demo", "--out", "-o", help="output directory: report, results, and the "
                            "trained checkpoint itself (a previous demo output there is refreshed)"),
    quick: bool = typer.Option(False, "--quick", help="every step on a handful of clips and steps (under 2 minutes; "
                               "the numbers mean little)"),
    seed: int = typer.Option(0, "--seed", help="seed of the data, the initialisation and the data order"),
    threads: int = typer.Option(1, "--threads", min=1, help="torch threads per process (1 is fastest for the tiny "
                                "model, and much faster when other processes share the cores)"),
    workers: int = typer.Option(2, "--workers", min=1, help="renderer-ablation arms trained at once, one process "
                                "each (1: one after the other in this process, with a progress bar per stage)"),
    quiet: bool = typer.Option(False, "--quiet", help="no progress bars"),
):
    """Train and evaluate SkeletonLLM end to end on procedural motions: head start, the four-stage curriculum
    with DrAction, zero-shot recognition of unseen classes, transfer, renderer ablation, SUGAR on the same clips,
    captioning, QA."""
    from rich.console import Console
    from rich.table import Table

    from .demo import DemoSettings, run_demo
    from .errors import SkeletonLLMError

    console = Console()
    settings = DemoSettings.quick(seed) if quick else DemoSettings.full(seed)
    settings.threads, settings.workers = threads, workers
    try:
        summary = run_demo(out, settings, progress=not quiet, say=console.print)
    except (SkeletonLLMError, FileExistsError, OSError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1)
    h = summary.headline
    table = Table(title=f"SkeletonLLM demo ({'quick' if quick else 'full'}, seed {seed}, {summary.seconds:.0f} s)")
    table.add_column("measured on held-out clips")
    table.add_column("top-1", justify="right")
    table.add_column("chance", justify="right")
    table.add_row("unseen classes, likelihood ranking", f"{100 * h['unseen_top1_score']:.1f} %",
                  f"{100 * h['unseen_chance']:.1f} %")
    table.add_row("unseen classes, greedy decoding", f"{100 * h['unseen_top1_generate']:.1f} %",
                  f"{100 * h['unseen_chance']:.1f} %")
    table.add_row("seen classes", f"{100 * h['seen_top1_score']:.1f} %", f"{100 * h['seen_chance']:.1f} %")
    for fmt, acc in h["transfer_top1"].items():
        table.add_row(f"unseen, transferred to {fmt}", f"{100 * acc:.1f} %", f"{100 * h['unseen_chance']:.1f} %")
    for arm, acc in h["ablation_unseen_top1"].items():
        table.add_row(f"ablation: {arm}", f"{100 * acc:.1f} %", f"{100 * h['unseen_chance']:.1f} %")
    if "sugar_unseen_top1" in h:
        table.add_row("SUGAR on the same clips: unseen classes", f"{100 * h['sugar_unseen_top1']:.1f} %",
                      f"{100 * h['unseen_chance']:.1f} %")
        table.add_row("SUGAR on the same clips: seen classes", f"{100 * h['sugar_seen_top1']:.1f} %",
                      f"{100 * h['seen_chance']:.1f} %")
    console.print(table)
    console.print(f"Report: {summary.report_md} (and {summary.report_html.name}); results: {summary.results_json}")
    console.print(f"Checkpoint: {summary.out_dir}  (e.g. skeletonllm recognize FILE --checkpoint {summary.out_dir} "
                  f"--mode score: the unseen classes of {settings.split}, ranked by likelihood)")
    if (summary.out_dir / "sugar" / "config.json").is_file():
        console.print(f"SUGAR's checkpoint: {summary.out_dir / 'sugar'}")


# -- demo-study (the demo's renderer study over several seeds, with statistics) -----------------


@app.command("demo-study")
def demo_study_cmd(
    out: str = typer.Option("skeletonllm-study", "--out", "-o", help="output directory: one seed-N/ per seed, "
                            "results.json and report.md/html (a killed study started again here resumes)"),
    seeds: str = typer.Option("0-4", "--seeds", help="seeds: a range 0-4, a list 0,3,7, or both (0-2,9)"),
    quick: bool = typer.Option(False, "--quick", help="every step on a handful of clips and steps (the numbers mean "
                               "little)"),
    threads: int = typer.Option(1, "--threads", min=1, help="torch threads per process"),
    workers: int = typer.Option(2, "--workers", min=1, help="arms trained at once, one process each"),
    quiet: bool = typer.Option(False, "--quiet", help="no progress bars"),
):
    """The demo's renderer study over several seeds: every arm (DrAction, DrAction without NFM, velocity, projection,
    JTM) frozen, after the renderer-only warm-up and after the curriculum, and SUGAR on the same clips; mean ± sd,
    paired sign and t-tests."""
    from rich.console import Console
    from rich.table import Table

    from .demo import DemoSettings
    from .demo.ablation import ARM_TITLES
    from .demo.study import parse_seeds, run_study
    from .demo.study_report import goal_lines, sugar_lines
    from .errors import SkeletonLLMError

    console = Console()
    try:
        seed_list = parse_seeds(seeds)
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="--seeds")
    settings = DemoSettings.quick() if quick else DemoSettings.full()
    settings.threads, settings.workers = threads, workers
    try:
        summary = run_study(out, seed_list, settings, progress=not quiet, say=console.print)
    except (SkeletonLLMError, FileExistsError, OSError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1)
    st = summary.statistics
    table = Table(title=f"renderer study, seeds {seeds} ({'quick' if quick else 'full'}): mean ± sd over seeds")
    for col in ("arm", "frozen unseen %", "renderer only unseen %", "trained unseen %", "trained seen %"):
        table.add_column(col, justify="left" if col == "arm" else "right")
    cell = lambda e: "–" if e is None else f"{100 * e['mean']:.1f} ± {100 * e['sd']:.1f}"  # noqa: E731
    for arm, phases in st["arms"].items():
        table.add_row(ARM_TITLES.get(arm, arm), *(cell(phases.get(p, {}).get("unseen")) for p in
                                                   ("frozen", "renderer_only", "final")),
                      cell(phases["final"]["seen"]))
    console.print(table)
    for line in goal_lines(st) + sugar_lines(st):
        console.print("- " + line.replace("**", ""))
    console.print(f"Report: {summary.report_md} (and {summary.report_html.name}); results: {summary.results_json}")


if __name__ == "__main__":
    app()
