"""The sweep behind the demo's backbone and head start (issue 19): one configuration per call.

    python scripts/demo_sweep.py --name lang3x --set short_steps=1800 language_steps=1800 [--curriculum]

Pretrains the head start of seed 0 with ``PretrainSettings`` overrides (``--set key=JSON``),
then measures on the held-out clips of the SEEN classes only (the unseen clips are not drawn,
so nothing unseen can steer a choice): for each renderer in ``--renderers``, the head start's
seen-class top-1 (likelihood ranking over the 31 seen classes, the demo's engine) and its answers
to the movement / side / part questions; with ``--tokprobe`` the pixel probe's regressions on its
visual tokens instead (what the vision tower keeps: seen top-1, and on validation clips each
attribute and the composed zero-shot top-1); with ``--curriculum`` the DrAction arm's four stages and
its seen top-1 after them (``--trace``: also after the initial model and after each stage). Appends
one JSON line (settings, numbers, wall and CPU seconds, load average, the command) to ``--log``
(default: the file the demo's report reads, ``src/skeletonllm/demo/backbone_sweep.json``).

``--validation``: zero-shot measured without any unseen class. Eight of the 31 seen classes
(:func:`validation_split`: each a new combination of movement, part and side that the other 23
keep) play the unseen classes: the head start and the curriculum train on the other 23 only,
and every clip of the eight (training and held-out) is a zero-shot test, ranked among the eight
names, beside the linear pixel probe (:mod:`skeletonllm.demo.probe`) composed on the same
frames. The split's 13 unseen classes are never drawn or named.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch


#: The head-start settings each record lists in full (the knobs this sweep turned).
SETTINGS_SHOWN = ("head_pool", "class_head", "joint_language", "pose_weight", "vision_steps", "short_steps",
                  "language_steps", "patch_size", "mqa_items", "variants", "language_lr", "language_batch_size",
                  "downsample_ratio", "attribute_options", "mqa_options", "other_motions", "other_language")


#: Written beside a head start the sweep trained into ``--head-start``: what it was trained with.
HEAD_START_STAMP = "sweep-head-start.json"


def _head_start_stamp(st, a) -> dict:
    """What decides a head start: the seed, the validation split and every pretraining setting."""
    return {"seed": st.seed, "validation": a.validation, "split_seed": a.split_seed if a.validation else None,
            "pretrain": json.loads(json.dumps(st.pretrain.to_dict()))}


def _check_head_start(head_start: Path, stamp: dict) -> None:
    """Refuse to reuse a head start trained otherwise than this run asks (``SystemExit`` naming the
    settings that differ); one from before the stamp existed is reused with a warning."""
    path = head_start / HEAD_START_STAMP
    if not path.is_file():
        print(f"warning: {head_start} has no {HEAD_START_STAMP}: its settings are not checked", file=sys.stderr)
        return
    had = json.loads(path.read_text())
    flat = lambda d: {**{k: v for k, v in d.items() if k != "pretrain"},  # noqa: E731
                      **{f"pretrain.{k}": v for k, v in d["pretrain"].items()}}
    was, now = flat(had), flat(stamp)
    differ = sorted(k for k in was.keys() | now.keys() if was.get(k) != now.get(k))
    if differ:
        raise SystemExit(f"{path}: the head start there was trained with other settings than this run's: "
                         + "; ".join(f"{k} = {was.get(k)!r} there, {now.get(k)!r} here" for k in differ))


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _machine() -> str:
    """The CPU the sweep ran on, e.g. ``"AMD EPYC, 2 CPUs"``: training is deterministic on one kind
    of CPU, not across kinds (their float kernels differ), so runs pair only with runs on the same."""
    from skeletonllm.demo.pipeline import _cpu_model
    return f"{_cpu_model()}, {os.cpu_count()} CPUs"


def _code_version() -> str:
    """The commit the sweep ran on (``+dirty`` when the worktree had changes)."""
    import subprocess
    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True).stdout.strip()
        return head + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _visual_tokens(model, clips, num_frames: int):
    """``(N, T * D)``: each clip's visual tokens (what the language model reads), concatenated."""
    from skeletonllm.skeleton import collate_sequences

    out = []
    with torch.no_grad():
        for lo in range(0, len(clips), 32):
            b = collate_sequences([s.sequence("ntu25") for s in clips[lo:lo + 32]], num_frames=num_frames,
                                  max_bodies=2)
            out.append(model.encode_frames(model.render(b)).embeds.flatten(1))
    return torch.cat(out).numpy()


def _token_probe(model, train, held_out, num_frames: int, val_clips=(), val_classes=()) -> dict:
    """The pixel probe's regressions on the visual tokens instead of the pixels: seen top-1, and
    with validation clips each attribute's accuracy on them and the composed zero-shot top-1
    (how much of what the frames show the vision tower passes on)."""
    from skeletonllm.demo.composition import class_attributes
    from skeletonllm.demo.probe import SpanLogistic, clip_attributes, fit_probe

    train_X, held_X = _visual_tokens(model, train, num_frames), _visual_tokens(model, held_out, num_frames)
    if not val_clips:
        probe = SpanLogistic().fit(train_X, [s.label for s in train])
        return {"seen_top1": float(np.mean(np.array(probe.predict(held_X)) == np.array([s.label for s in held_out])))}
    sets = [train, held_out, list(val_clips)]
    y = [[s.label for s in c] for c in sets]
    atts = [[clip_attributes(s) for s in c] for c in sets]
    out = fit_probe(train_X, y[0], atts[0], held_X, y[1], atts[1], _visual_tokens(model, val_clips, num_frames), y[2],
                    atts[2], {c: class_attributes(c) for c in val_classes})
    return {"seen_top1": out["seen_top1"], "zero_shot_top1": out["unseen_top1"],
            "attributes": {k: {"seen": v["seen"], "zero_shot": v["unseen"]} for k, v in out["attributes"].items()}}


def validation_split(seen: list[str], k: int = 8, seed: int = 0):
    """``ClassSplit(train classes, validation classes)`` inside ``seen``: ``k`` classes, taken in a
    seeded random order whenever every attribute of the classes taken still occurs in the rest."""
    from skeletonllm.synth.dataset import ClassSplit, check_compositional

    order = [seen[i] for i in np.random.default_rng(seed).permutation(len(seen))]
    held = []
    for name in order:
        trial = held + [name]
        try:
            check_compositional(ClassSplit("validation", tuple(c for c in seen if c not in trial), tuple(trial)))
        except ValueError:
            continue
        held = trial
        if len(held) == k:
            break
    return ClassSplit("validation", tuple(c for c in seen if c not in held), tuple(held))


def validation_clips(data, held: list, split) -> tuple[list, list, list]:
    """``(train, held, val)`` of a validation ``split`` of the demo's seen classes: the training
    clips and held-out clips of its training classes, and every clip (training and held-out) of
    its held-out classes, the zero-shot tests. No clip of the demo's unseen classes is among them."""
    train = [s for s in data.train if s.label in split.seen]
    val = [s for s in data.train + data.test_seen if s.label in split.unseen]
    return train, [s for s in held if s.label in split.seen], val


def head_start_model(pre, settings, renderer: str, seed: int):
    """The head start ``pre`` (:func:`~skeletonllm.demo.pretrain.load_pretrained`) with ``renderer``
    drawing its frames as an arm starts it (DrAction as initialised for the demo's ``seed``), in
    eval mode, for measuring."""
    from skeletonllm.demo.pretrain import initial_draction, renderer_options
    from skeletonllm.mllm.model import SkeletonLLM, SkeletonLLMConfig
    from skeletonllm.render.fixed import build_renderer

    drawing = (initial_draction(settings, seed + 1) if renderer == "draction"
               else build_renderer(renderer, **renderer_options(settings, renderer)))
    config = SkeletonLLMConfig(backbone=str(pre.backbone_dir), renderer=renderer, image_size=settings.image_size,
                               renderer_options=renderer_options(settings, renderer), num_frames=settings.num_frames,
                               lora=False, device="cpu")
    return SkeletonLLM(config, renderer=drawing).eval()


def validation_arguments(ap: argparse.ArgumentParser, work: str) -> None:
    """The stand-alone probe scripts' options for :func:`validation_data`: ``--seed``,
    ``--split-seed`` and ``--work`` (where the data are prepared, ``work`` by default)."""
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--split-seed", type=int, default=0)
    ap.add_argument("--work", default=work)


def validation_data(seed: int, split_seed: int, work: str | Path):
    """``(settings, split, train, held, val)`` for the stand-alone probe scripts: the demo's default
    settings for ``seed``, its data prepared under ``work``, validation split ``split_seed`` and
    :func:`validation_clips` of it (held-out clips as the demo evaluates them)."""
    from skeletonllm.demo.pipeline import DemoData, DemoSettings

    st = DemoSettings.full(seed)
    data = DemoData.prepare(st, Path(work) / f"data-{seed}")
    _, held = data.eval_clips(st)
    split = validation_split(data.seen, seed=split_seed)
    return (st, split, *validation_clips(data, held, split))


def _mqa(model, clips, candidates, where, name, seed, reference=None):
    """Top-1 by likelihood ranking; with ``reference`` (training clips) calibrated on them."""
    from skeletonllm.demo import evaluate as E
    return E.recognition(model, [s.sequence("ntu25") for s in clips], candidates, where, mode="score",
                         split=name, dataset="synth", method=name, seed=seed, progress=False,
                         reference=reference)["top1"]


def _ranked(model, clips, candidates, where: Path, name, seed, reference) -> tuple[float, float]:
    """``(plain, calibrated)`` top-1 by likelihood ranking, from one scoring of the clips (the
    calibrated ranking in ``where``, the plain one beside it in ``where``-plain)."""
    from skeletonllm.demo import evaluate as E
    res = E.recognition(model, [s.sequence("ntu25") for s in clips], candidates, where, mode="score", split=name,
                        dataset="synth", method=name, seed=seed, progress=False, reference=reference,
                        plain_dir=where.with_name(where.name + "-plain"))
    return res["plain"]["top1"], res["top1"]


def _probe(renderer, train, held, val_clips, val_classes, num_frames):
    """The pixel probe on ``renderer``'s frames: seen top-1 and composed zero-shot top-1 on
    ``val_clips`` over ``val_classes`` (None when there are none)."""
    from skeletonllm.demo.composition import class_attributes
    from skeletonllm.demo.probe import clip_attributes, clip_pixels, fit_probe

    sets = [train, held, val_clips]
    X = [clip_pixels(renderer, c, num_frames) for c in sets]
    y = [[s.label for s in c] for c in sets]
    atts = [[clip_attributes(s) for s in c] for c in sets]
    out = fit_probe(X[0], y[0], atts[0], X[1], y[1], atts[1], X[2], y[2], atts[2],
                    {c: class_attributes(c) for c in val_classes})
    return {"seen_top1": out["seen_top1"], "zero_shot_top1": out["unseen_top1"],
            "attributes": {k: {"seen": v["seen"], "zero_shot": v["unseen"]} for k, v in out["attributes"].items()}}


def _stage_measures(model, held, seen, val_clips, split, ref, where: Path, seed: int, num_frames: int) -> dict:
    """One checkpoint of the curriculum: calibrated seen top-1 and, on a validation split, zero-shot
    top-1 (plain and calibrated) and the calibrated attribute answers on the validation clips."""
    from skeletonllm.demo import evaluate as E

    out = {"seen_top1_calibrated": _mqa(model, held, seen, where / "seen", "seen (held-out)", seed, ref)}
    if split is not None:
        zero = list(split.unseen)
        out["zero_shot_top1"], out["zero_shot_top1_calibrated"] = _ranked(model, val_clips, zero, where / "val-cal",
                                                                          "validation", seed, ref)
        groups = {"val": val_clips}
        scored = E.attribute_scores(model, groups, seen, num_frames, reference=ref)
        att = E.attribute_accuracies(scored, groups)["calibrated"]["val"]
        out.update({f"{k}_zero_shot_calibrated": att[k] for k in ("movement", "side", "part")})
        out["readouts"] = _readouts(model, val_clips, zero, seen, num_frames, ref, where / "val-cal",
                                    scored["calibrated"]["val"])
    return out


def _readouts(model, clips, candidates, seen, num_frames, ref, ranked: Path, attributes=None) -> dict:
    """Calibrated zero-shot top-1 of each of :func:`~skeletonllm.demo.evaluate.zero_shot_readouts`
    (class names, attribute answers composed, both), reusing the calibrated ranking written to
    ``ranked`` and, when given, the clips' calibrated attribute scores."""
    from skeletonllm.demo import evaluate as E

    names = E.recorded_scores(ranked, [s.sequence("ntu25") for s in clips])
    return {k: v["top1"] for k, v in E.zero_shot_readouts(model, clips, candidates, seen, num_frames, ref,
                                                           names=names, attributes=attributes).items()}


def _tasks(model, clips, num_frames: int, caption_tokens: int, limit: int = 48) -> dict:
    """BLEU@4 and CIDEr-D of greedy captions, and QA accuracy (multiple choice), on ``limit`` of ``clips``."""
    from skeletonllm.demo import evaluate as E
    from skeletonllm.demo.data import _spread

    clips = _spread(list(clips), limit)
    caps = E.caption_scores(E.captions(model, clips, num_frames, max_new_tokens=caption_tokens), clips)["metrics"]
    qa = E.qa_scores(model, clips, num_frames)
    return {"clips": len(clips), "bleu4": caps["bleu4"], "cider_d": caps["cider_d"],
            "qa_accuracy": qa["overall"]["mqa_accuracy"]}


def _append(path: Path, record: dict) -> None:
    """Add one run to the sweep file (``{"what", "script", "runs": [...]}``), atomically."""
    from skeletonllm.atomic import atomic_write_text

    doc = json.loads(path.read_text()) if path.is_file() else {"script": "scripts/demo_sweep.py", "runs": []}
    doc["runs"].append(record)
    atomic_write_text(path, json.dumps(doc, indent=1) + "\n")


def _parser() -> argparse.ArgumentParser:
    """The sweep's command line. ``--set`` and ``--curriculum-set`` may be given more than once:
    their items add up (a second ``--set`` used to replace the first without a word)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--name", required=True)
    ap.add_argument("--set", nargs="*", action="extend", default=[], help="PretrainSettings overrides, key=JSON")
    ap.add_argument("--curriculum-set", nargs="*", action="extend", default=[], help="CurriculumSettings overrides, key=JSON")
    ap.add_argument("--renderers", default="velocity,draction", help="renderers whose head start is measured "
                    "(comma-separated), or 'none'")
    ap.add_argument("--head-start", help="a directory for the head start: reused when it holds a finished one "
                    "(trained with the same seed, split and --set), else pretrained into it")
    ap.add_argument("--tokprobe", action="store_true")
    ap.add_argument("--extras", action="store_true", help="after the curriculum, also captioning and QA on "
                    "held-out seen clips (what the curriculum's caption and QA items keep)")
    ap.add_argument("--curriculum", action="store_true")
    ap.add_argument("--trace", action="store_true", help="with --curriculum: the same measures after the "
                    "initial model and after every stage (where the curriculum gains or loses)")
    ap.add_argument("--validation", action="store_true", help="zero-shot on eight seen classes held out")
    ap.add_argument("--split-seed", type=int, default=0, help="with --validation: which eight (the seed of "
                    "validation_split's order; every run before this option used 0)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", action="store_true", help="keep the run's models and predictions under --work")
    ap.add_argument("--work", default="/tmp/skeletonllm-sweep")
    ap.add_argument("--log", default=str(Path(__file__).resolve().parents[1] / "src" / "skeletonllm" / "demo"
                                         / "backbone_sweep.json"))
    return ap


def _overrides(items: list[str], section: str, flag: str) -> dict:
    """``{field: value}`` of the demo settings' ``section`` from ``key=JSON`` items (``key`` with or
    without its ``section.`` prefix, as ``skeletonllm demo --set`` writes it)."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"{flag} {item}: expected key=JSON")
        try:
            out[key.removeprefix(section + ".")] = json.loads(value)
        except json.JSONDecodeError as e:
            raise SystemExit(f"{flag} {item}: the value is not JSON ({e})") from None
    return out


def _settings(seed: int, over: dict, cover: dict):
    """The demo's settings for ``seed`` with the sweep's overrides of ``pretrain`` and ``curriculum``
    (checked as the demo checks its own: an unknown setting or a value of the wrong kind exits
    naming it)."""
    from skeletonllm.demo.settings import DemoSettings

    dotted = {**{f"pretrain.{k}": v for k, v in over.items()}, **{f"curriculum.{k}": v for k, v in cover.items()}}
    try:
        return DemoSettings.full(seed).with_overrides(dotted)
    except ValueError as e:
        raise SystemExit(f"--set / --curriculum-set: {e}") from None


def main(argv=None) -> None:
    from skeletonllm.atomic import atomic_write_text
    from skeletonllm.demo import evaluate as E
    from skeletonllm.demo.data import other_motion_clips
    from skeletonllm.demo.pipeline import DemoData, _training_data
    from skeletonllm.demo.pretrain import load_pretrained, pretrain_backbone, renderer_options
    from skeletonllm.mllm.model import SkeletonLLM

    a = _parser().parse_args(argv)
    torch.set_num_threads(1)
    over, cover = _overrides(a.set, "pretrain", "--set"), _overrides(a.curriculum_set, "curriculum", "--curriculum-set")
    st = _settings(a.seed, over, cover)
    work = Path(a.work)
    data = DemoData.prepare(st, work / f"data-{a.seed}")
    seen, train = data.seen, data.train
    _, held = data.eval_clips(st)                           # held-out clips of SEEN classes only
    split, val_clips = None, []
    if a.validation:
        split = validation_split(data.seen, seed=a.split_seed)
        seen = list(split.seen)
        train, held, val_clips = validation_clips(data, held, split)
    assert all(s.label in data.seen for s in train + held + val_clips)       # nothing of the real unseen classes
    out = work / a.name
    shutil.rmtree(out, ignore_errors=True)
    t0, c0 = time.time(), _cpu()
    pre = load_pretrained(a.head_start) if a.head_start else None
    reused = pre is not None
    stamp = _head_start_stamp(st, a)
    if reused:
        _check_head_start(Path(a.head_start), stamp)
    else:
        others = other_motion_clips(data.ds, st.pretrain.other_motions)
        assert not {s.label for s in others} & set(data.ds.split.classes)      # neither seen nor unseen
        pre = pretrain_backbone(train, seen, st.pretrain, Path(a.head_start) if a.head_start else out / "backbone",
                                st.seed, progress=False, other_samples=others)
        if a.head_start:
            atomic_write_text(Path(a.head_start) / HEAD_START_STAMP, json.dumps(stamp, indent=1, sort_keys=True))
    rec = {"name": a.name, "seed": a.seed, "overrides": over, "curriculum_overrides": cover,
           "validation_split": None if split is None else {"train": list(split.seen), "zero_shot": list(split.unseen)},
           "head_start_seconds": {k: round(v, 1) for k, v in pre.seconds.items()},
           **({"head_start_reused": str(a.head_start)} if reused else {}),
           "head_start_cpu_seconds": round(_cpu() - c0, 1), "load_average": os.getloadavg()[0],
           "command": "python scripts/demo_sweep.py " + " ".join(shlex.quote(x) for x in (argv or sys.argv[1:])),
           "code": _code_version(), "machine": _machine(), "head_start": {},
           "settings": {**{k: getattr(st.pretrain, k) for k in SETTINGS_SHOWN}, "length_batches": True,
                        "recognition_epochs": st.curriculum.recognition_epochs}}
    print(a.name, "head start", rec["head_start_seconds"], "cpu", rec["head_start_cpu_seconds"], flush=True)
    p = st.pretrain
    ref = E.reference_clips(train)              # calibration's reference: training clips of the training classes
    for name in ([] if a.renderers == "none" else a.renderers.split(",")):
        model = E.draw_once(head_start_model(pre, p, name, st.seed))          # only evaluated
        groups = {"held": held, **({"val": val_clips} if split is not None else {})}
        scored = E.attribute_scores(model, groups, seen, p.num_frames, reference=ref)   # plain and calibrated
        att = E.attribute_accuracies(scored, groups)
        keys = ("movement", "side", "part")
        ev = dict(zip(("seen_top1", "seen_top1_calibrated"),
                      _ranked(model, held, seen, out / f"seen-cal-{name}", "seen (held-out)", a.seed, ref)))
        ev.update({k: att["plain"]["held"][k] for k in keys})
        ev.update({f"{k}_calibrated": att["calibrated"]["held"][k] for k in keys})
        if split is not None:
            ev["zero_shot_top1"], ev["zero_shot_top1_calibrated"] = _ranked(
                model, val_clips, list(split.unseen), out / f"val-cal-{name}", "validation", a.seed, ref)
            ev.update({f"{k}_zero_shot": att["plain"]["val"][k] for k in keys})
            ev.update({f"{k}_zero_shot_calibrated": att["calibrated"]["val"][k] for k in keys})
            ev["readouts"] = _readouts(model, val_clips, list(split.unseen), seen, p.num_frames, ref,
                                       out / f"val-cal-{name}", scored["calibrated"]["val"])
            ev["pixel_probe"] = _probe(model.renderer, train, held, val_clips, list(split.unseen), p.num_frames)
        if a.tokprobe:
            tok = _token_probe(model, train, held, p.num_frames, val_clips, list(split.unseen) if split else ())
            ev["token_probe_seen"] = tok.pop("seen_top1")
            if tok:
                ev["token_probe"] = tok
        rec["head_start"][name] = ev
        print(a.name, name, {k: (round(v, 3) if isinstance(v, float) else v) for k, v in ev.items()}, flush=True)
    if a.curriculum:
        from skeletonllm.demo.ablation import train_arm
        t, c = time.time(), _cpu()
        trace = {}

        def on_stage(stage, directory):
            if a.trace and directory is not None:
                staged = E.draw_once(SkeletonLLM.from_pretrained(directory, device="cpu").eval())
                trace[stage] = _stage_measures(staged, held, seen, val_clips, split, ref, out / f"trace-{stage}",
                                               a.seed, p.num_frames)
                print(a.name, "after", stage, trace[stage], flush=True)

        run = train_arm("draction", _training_data(train, data.ds, split, st.curriculum.attribute_qa), out / "draction",
                        pre.backbone_dir,
                        renderer_options(p, "draction"), p.num_frames, st.curriculum, st.seed, data.ds.split.name,
                        progress=False, init_renderer=pre.renderer_dir, on_stage=on_stage)
        model = E.draw_once(SkeletonLLM.from_pretrained(run.final_dir, device="cpu").eval())
        seen_plain, seen_calibrated = _ranked(model, held, seen, out / "seen-cal-final", "seen (held-out)", a.seed, ref)
        rec["curriculum"] = {"seen_top1": seen_plain, "seen_top1_calibrated": seen_calibrated,
                             "seconds": round(time.time() - t, 1), "cpu_seconds": round(_cpu() - c, 1),
                             "stages": {s.stage: {"steps": s.steps, "seconds": round(s.seconds, 1)}
                                        for s in run.stages}}
        if split is not None:
            rec["curriculum"]["zero_shot_top1"], rec["curriculum"]["zero_shot_top1_calibrated"] = _ranked(
                model, val_clips, list(split.unseen), out / "val-cal-final", "validation", a.seed, ref)
            rec["curriculum"]["readouts"] = _readouts(model, val_clips, list(split.unseen), seen, p.num_frames, ref,
                                                      out / "val-cal-final")
            rec["curriculum"]["pixel_probe"] = _probe(model.renderer, train, held, val_clips, list(split.unseen),
                                                      p.num_frames)
        if trace:
            rec["curriculum"]["trace"] = trace
        if a.extras:
            rec["curriculum"]["tasks"] = _tasks(model, held, p.num_frames, st.caption_tokens)
        print(a.name, "curriculum", rec["curriculum"], flush=True)
    rec["total_seconds"] = round(time.time() - t0, 1)
    rec["total_cpu_seconds"] = round(_cpu() - c0, 1)
    _append(Path(a.log), rec)
    if not a.keep:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
