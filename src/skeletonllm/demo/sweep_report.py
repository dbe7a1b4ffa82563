"""The sweep behind the demo's backbone and head start, as the reports show it.

``backbone_sweep.json`` (beside this module) holds every configuration that
``scripts/demo_sweep.py`` ran while the head start was chosen (issue 19), each with its numbers
on one seed's (0 unless the run says otherwise) held-out clips of the SEEN classes, its times and
the command that ran it. Runs with a ``validation_split`` held eight seen classes out of training
and measured zero-shot recognition on them; no unseen class of the demo's split took part in any
run. A configuration run on several seeds is also summarised over them (:func:`seed_rows`): one
seed's zero-shot figure moves by ten points and more from seed to seed, so each configuration is
also compared, seed by seed, with its nearest configuration on the same split (:func:`paired_rows`).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from .ablation import CurriculumSettings
from .evaluate import READOUTS
from .probe_report import READOUT_WORDS
from .pretrain_settings import POOL_WORDS, PretrainSettings, frame_tokens_words, options_words
from .stats import mean_sd

SWEEP_FILE = Path(__file__).with_name("backbone_sweep.json")


def load_sweep(path: Path = SWEEP_FILE) -> list[dict]:
    """The recorded runs (empty when the file is absent)."""
    return json.loads(path.read_text())["runs"] if path.is_file() else []


def _pct(x) -> str:
    return "–" if x is None else f"{100 * x:.1f}"


def _both(entry: dict, key: str) -> str:
    """``entry[key]`` in percent, with its calibrated ranking beside it when the run measured one."""
    cal = entry.get(f"{key}_calibrated")
    return _pct(entry.get(key)) + ("" if cal is None else f" (cal. {_pct(cal)})")


#: Head-start settings that records written before the sweep listed them ran with (the defaults then).
UNLISTED_BEFORE = {"downsample_ratio": 0.5, "attribute_options": [4], "mqa_options": 0, "shared_movement": 0.0,
                   "word_checks": False, "other_motions": 0, "other_language": True}


def _head_start(run: dict) -> dict:
    """The run's head-start settings as recorded, its overrides applied, and the settings older
    records do not list at the value they ran with (:data:`UNLISTED_BEFORE`)."""
    h = {**UNLISTED_BEFORE, **run.get("settings", {}), **run.get("overrides", {})}
    if isinstance(h["attribute_options"], int):        # the first runs that turned it gave one count
        h["attribute_options"] = [h["attribute_options"]]
    return h


def _settings(run: dict) -> str:
    """The run's head start in a few words: language steps, tokens per frame, heads, options."""
    return ", ".join(_settings_words(run) + _split_words(run))


def _settings_words(run: dict) -> list[str]:
    """:func:`_settings`' words, the validation split left out."""
    s = run.get("settings", {})
    if not s:
        return [f"{k}={v}" for k, v in run.get("overrides", {}).items()]
    h = _head_start(run)
    words = [f"{s['short_steps']}+{s['language_steps']} language steps",
             frame_tokens_words(h.get("image_size", 28), h["patch_size"], h["downsample_ratio"]),
             f"heads on {POOL_WORDS[s['head_pool']]}"
             + (" + seen classes" if s["class_head"] else "")]
    words += [w for w, on in ((f"{s['patch_size']}-px patches", s["patch_size"] != 14),
                              ("vision trained in the language phase", s["joint_language"]),
                              (f"pose targets x{s['pose_weight']:g}", s["pose_weight"]),
                              (f"a movement head shared by the token positions x{h['shared_movement']:g}",
                               h["shared_movement"]),
                              ("YES/NO checks of the side and part words", h["word_checks"]),
                              (f"{h['other_motions']} clips of each other motion"
                               + ("" if h["other_language"] else " (vision phase only)"), h["other_motions"]),
                              (f"{s['vision_steps']} vision steps", s["vision_steps"] != 2400),
                              (f"language lr {s['language_lr']:g}", s["language_lr"] != 3e-3),
                              (f"language batch {s['language_batch_size']}", s.get("language_batch_size")),
                              (f"{s['mqa_items']} recognition questions per clip", s["mqa_items"] != 2),
                              (f"{s['variants']} samplings", s["variants"] != 4),
                              ("attribute questions offering " + options_words(h["attribute_options"]),
                               h["attribute_options"] != [4]),
                              (f"recognition questions over {h['mqa_options']} classes", h["mqa_options"]),
                              ("batches mixed in length", not s.get("length_batches", True)),
                              (f"curriculum {s.get('recognition_epochs', 3)} recognition epoch(s)",
                               s.get("recognition_epochs", 3) != CurriculumSettings().recognition_epochs)) if on]
    words += [f"{k} = {v}" for k, v in run.get("overrides", {}).items() if k not in s and k not in UNLISTED_BEFORE]
    words += [f"curriculum {k} = {', '.join(v) if isinstance(v, list) else v}"
              for k, v in run.get("curriculum_overrides", {}).items() if k != "recognition_epochs"]
    return words


def _split_seed(run: dict) -> int:
    """Which validation split the run held out (``demo_sweep.py --split-seed``; 0 when not given)."""
    given = re.search(r"--split-seed (\d+)", run.get("command", ""))
    return int(given.group(1)) if given else 0


def _split_words(run: dict) -> list[str]:
    """The validation split, named when the run chose another than the first (``--split-seed``), and
    the machine, named when it is not :data:`EARLIER_MACHINE`."""
    words = [] if _machine(run) == EARLIER_MACHINE else [f"on {_machine(run)}"]
    if not _split_seed(run):
        return words
    return [f"validation split {_split_seed(run)} (held out: {', '.join(run['validation_split']['zero_shot'])})"] + words


def is_current(run: dict) -> bool:
    """Whether the run's head start and curriculum length are the demo's defaults now."""
    s, now = run.get("settings"), PretrainSettings()
    if not s:
        return False
    same = all(getattr(now, k) == (tuple(v) if isinstance(v, list) else v)
               for k, v in _head_start(run).items() if hasattr(now, k))
    curriculum = CurriculumSettings()
    same_curriculum = all(getattr(curriculum, k) == (tuple(v) if isinstance(v, list) else v)
                          for k, v in run.get("curriculum_overrides", {}).items())
    return same and same_curriculum and s.get("length_batches", False) and s.get("recognition_epochs") == \
        curriculum.recognition_epochs


def sweep_rows(runs: list[dict], renderer: str = "draction") -> list[list[str]]:
    """One row per run: what changed, the head start on held-out seen clips (top-1, movement /
    side / part answers, a linear probe on its visual tokens), zero-shot on the validation
    classes (head start, after the curriculum, the pixel probe on the same frames), seen top-1
    after the curriculum, and the head start's CPU seconds."""
    rows = []
    for r in runs:
        h = r.get("head_start", {}).get(renderer, {})
        c = r.get("curriculum", {})
        probe = h.get("pixel_probe", {})
        seed = "" if r.get("seed", 0) == 0 else f" (seed {r['seed']})"
        rows.append([r["name"] + seed + (" (**the demo's settings**)" if is_current(r) else ""), _settings(r),
                     _both(h, "seen_top1"), " / ".join(_both(h, k) for k in ("movement", "side", "part")),
                     _pct(h.get("token_probe_seen")) + ("" if "token_probe" not in h else
                                                        f" (zero-shot {_pct(h['token_probe']['zero_shot_top1'])})"),
                     _both(h, "zero_shot_top1"), _both(c, "zero_shot_top1"), _pct(probe.get("zero_shot_top1")),
                     _both(c, "seen_top1"),
                     "–" if r.get("head_start_cpu_seconds") is None else f"{r['head_start_cpu_seconds']:.0f}"])
    return rows


SWEEP_HEADER = ["run", "head start", "head start: seen top-1 %",
                "head start: movement / side / part %", "probe on its tokens: seen % (validation zero-shot)",
                "validation zero-shot: head start %", "validation zero-shot: after curriculum %",
                "validation zero-shot: pixel probe %", "after curriculum: seen top-1 %", "head start CPU s"]

SWEEP_CAPTION = ("every run of `scripts/demo_sweep.py` (seed 0 unless named, DrAction's initial frames; recorded in "
                 "`skeletonllm/demo/backbone_sweep.json` with its command, code version, wall and CPU times and load "
                 "average). Seen: held-out clips of the seen classes (31, or the 23 kept by a validation run). "
                 "Validation runs (`--validation`) hold eight seen classes out of every training step and rank their "
                 "clips among those eight names (chance 12.5 %): zero-shot measured with no unseen class of the "
                 "split involved. Batches of prompts of about one length came in with `lang3x-bucket`. "
                 "`val-repro` ran two seeds of the default again on later code: the same numbers to the clip (the "
                 "runs are deterministic on one machine; on another kind of CPU, `tr-ref` and `tr1-ref`, the same "
                 "seeds and settings as `tr-rec2` / `tr1-rec2`, started from other head starts). "
                 "(cal. X): the same by the calibrated likelihood ranking (`skeletonllm.eval.calibration`, reference: "
                 "four training clips per training class), measured from `val-calibration` on; that run chose it.")


#: The machine of the records written before the sweep named its machine (every one of them ran there).
EARLIER_MACHINE = "Intel Xeon, 2 vCPUs"


def _machine(run: dict) -> str:
    """The CPU a run trained on (``demo_sweep.py`` records it; :data:`EARLIER_MACHINE` before). Training
    is deterministic on one kind of CPU, not across kinds: the same seed and settings gave another
    head start on another CPU, so runs are compared only with runs on the same."""
    return run.get("machine", EARLIER_MACHINE)


def _held_out(run: dict) -> str:
    """The classes a validation run held out, sorted and joined (one string per split)."""
    return ", ".join(sorted((run.get("validation_split") or {}).get("zero_shot", [])))


def _change(run: dict) -> str:
    """What a run trained, seed and split left out: the head start's settings as it ran them
    (:func:`_head_start`: records list more settings as the sweep went on), curriculum overrides."""
    return json.dumps([_head_start(run), run.get("curriculum_overrides", {})], sort_keys=True)


def _configuration(run: dict) -> str:
    """What a run trained, seed left out: :func:`_change`, the classes a validation run held out and
    the machine it ran on."""
    return _change(run) + " on " + _held_out(run) + " on " + _machine(run)


def _mean(values: list) -> str:
    """The mean in percent; '–' when a seed lacks the figure."""
    if not values or any(v is None for v in values):
        return "–"
    return f"{100 * sum(values) / len(values):.1f}"


def _mean_of(values: list) -> str:
    """``mean (a / b / c)`` in percent; '–' when a seed lacks the figure."""
    mean = _mean(values)
    return mean if mean == "–" else f"{mean} ({' / '.join(_pct(v) for v in values)})"


def _by_configuration(runs: list[dict], measured) -> list[list[dict]]:
    """Validation runs whose curriculum record passes ``measured``, grouped by configuration: for
    each configuration run on two seeds or more, the last such run of each seed, by seed."""
    groups: dict[str, dict[int, dict]] = {}
    for r in runs:
        if r.get("validation_split") and measured(r.get("curriculum", {})):
            groups.setdefault(_configuration(r), {})[r.get("seed", 0)] = r
    return [[by_seed[k] for k in sorted(by_seed)] for by_seed in groups.values() if len(by_seed) >= 2]


def seed_rows(runs: list[dict], renderer: str = "draction") -> list[list[str]]:
    """Validation configurations run on two seeds or more (the last run of each seed): the mean
    over seeds, each seed in brackets, of zero-shot top-1 (calibrated) of the head start, after
    the curriculum and of the pixel probe on the curriculum's frames, with QA accuracy and BLEU@4
    after the curriculum where measured (``--extras``)."""
    rows = []
    for rs in _by_configuration(runs, lambda c: c.get("zero_shot_top1_calibrated") is not None):
        seeds = [r.get("seed", 0) for r in rs]
        cur = [r["curriculum"] for r in rs]
        tasks = [c.get("tasks") or {} for c in cur]
        rows.append([", ".join(r["name"] for r in rs), _settings(rs[0]) or "the demo's of its time",
                     ", ".join(map(str, seeds)),
                     _mean_of([r["head_start"].get(renderer, {}).get("zero_shot_top1_calibrated") for r in rs]),
                     _mean_of([c.get("zero_shot_top1_calibrated") for c in cur]),
                     _mean_of([c.get("pixel_probe", {}).get("zero_shot_top1") for c in cur]),
                     _mean_of([c.get("seen_top1_calibrated") for c in cur]),
                     _mean_of([t.get("qa_accuracy") for t in tasks]),
                     "–" if any("bleu4" not in t for t in tasks) else " / ".join(f"{t['bleu4']:.3f}" for t in tasks)])
    return rows


SEED_HEADER = ["runs", "configuration", "seeds", "validation zero-shot: head start (cal.) %",
               "validation zero-shot: after curriculum (cal.) %", "validation zero-shot: pixel probe %",
               "after curriculum: seen top-1 (cal.) %", "after curriculum: QA %", "after curriculum: BLEU@4"]

SEED_CAPTION = ("validation configurations run on more than one seed: mean over the seeds, each seed in brackets "
                "(a seed draws its own clips, head start and curriculum). The head start column is blank where a "
                "run reused a head start without measuring it again (`--renderers none`). One seed's zero-shot "
                "figure moves by ten points and more between seeds: a difference a single seed shows is a lead "
                "to check on others, not a finding.")


#: The checkpoints a traced run (``demo_sweep.py --trace``) measured, in the curriculum's order.
TRACE_STAGES = ("initial", "render_warmup", "disc_ft", "cr_distill", "recognition")


def trace_rows(runs: list[dict]) -> list[list[str]]:
    """Validation configurations whose curriculum was traced on two seeds or more (the last
    traced run of each seed): one row per checkpoint (the head start, then each stage's end;
    the runs and their configuration named on the first), the mean over seeds, each seed in
    brackets, of calibrated zero-shot top-1, plain zero-shot top-1, calibrated seen top-1 and the
    calibrated movement / side / part answers on the validation clips."""
    rows = []
    for rs in _by_configuration(runs, lambda c: bool(c.get("trace"))):
        traces = [r["curriculum"]["trace"] for r in rs]
        label = [f"{rs[0]['name']} … (seeds {', '.join(str(r.get('seed', 0)) for r in rs)})", _settings(rs[0])]
        for stage in TRACE_STAGES:
            at = [t.get(stage) or {} for t in traces]
            named = label if stage == TRACE_STAGES[0] else ["", ""]
            rows.append(named + [stage] + [_mean_of([a.get(k) for a in at]) for k in (
                "zero_shot_top1_calibrated", "zero_shot_top1", "seen_top1_calibrated")]
                + [" / ".join(_mean([a.get(f"{k}_zero_shot_calibrated") for a in at])
                              for k in ("movement", "side", "part"))])
    return rows


TRACE_HEADER = ["runs", "configuration", "after", "validation zero-shot (cal.) %", "validation zero-shot (plain) %",
                "seen top-1 (cal.) %", "validation clips: movement / side / part (cal.) %"]

TRACE_CAPTION = ("where the curriculum gains or loses (`demo_sweep.py --trace`): the DrAction arm measured on the "
                 "head start it starts from and after each stage, on the validation split (mean over seeds, each "
                 "seed in brackets). The render warm-up trains the renderer alone, Disc-FT the renderer (the "
                 "projector stays frozen in the demo), CR-Distill the renderer and LoRA, recognition LoRA.")


def _paired(runs: list[dict], reference: list[dict], key: str) -> dict[int, float]:
    """Per seed both lists ran: the difference in points of the curriculum's figure ``key``."""
    base = {r.get("seed", 0): r["curriculum"].get(key) for r in reference}
    return {r.get("seed", 0): 100 * (r["curriculum"][key] - base[r.get("seed", 0)]) for r in runs
            if base.get(r.get("seed", 0)) is not None and r["curriculum"].get(key) is not None}


def _spread(diffs: list[float]) -> str:
    """``+1.2 ± 3.4`` (mean ± sd over seeds; the mean alone for one seed)."""
    mean, sd = mean_sd(diffs)
    return f"{mean:+.1f}" if len(diffs) < 2 else f"{mean:+.1f} ± {sd:.1f}"


def _seeds(rs: list[dict]) -> set[int]:
    return {r.get("seed", 0) for r in rs}


def _nearest(rs: list[dict], measured: list[list[dict]]) -> list[dict] | None:
    """The configuration of ``measured`` on ``rs``' validation split and machine, sharing two seeds or
    more with it, whose settings differ from its in the fewest settings (:func:`_settings_words`: a
    setting with another value is one difference, as is one only one side has); on a tie the demo's
    present settings, then the one with more seeds. None when there is none."""
    mine = set(_settings_words(rs[0]))

    def distance(other: list[dict]) -> tuple:
        theirs = set(_settings_words(other[0]))
        return (max(len(mine - theirs), len(theirs - mine)), not all(is_current(r) for r in other), -len(other))

    candidates = [o for o in measured if o is not rs and _held_out(o[0]) == _held_out(rs[0])
                  and _machine(o[0]) == _machine(rs[0]) and len(_seeds(o) & _seeds(rs)) >= 2]
    return min(candidates, key=distance, default=None)


def _change_words(rs: list[dict], ref: list[dict]) -> str:
    """What ``rs`` changed from ``ref``: ``"A"``, ``"A instead of B"`` or ``"without B"``."""
    mine, theirs = _settings_words(rs[0]), _settings_words(ref[0])
    added, dropped = [w for w in mine if w not in theirs], [w for w in theirs if w not in mine]
    if not dropped:
        return ", ".join(added) or "(the same in words)"
    return (", ".join(added) + " instead of " if added else "without ") + ", ".join(dropped)


def paired_rows(runs: list[dict]) -> list[list[str]]:
    """Each validation configuration run on two seeds or more, against its nearest configuration
    (:func:`_nearest`: the demo's present settings where they are one change away) on the same
    split and the same seeds: per seed, the difference in calibrated zero-shot top-1 after the
    curriculum (and in seen top-1), split by split and pooled over every split where the same
    change was run against the same reference. The demo's present settings get no row: they are
    the reference."""
    measured = _by_configuration(runs, lambda c: c.get("zero_shot_top1_calibrated") is not None)
    changes: dict[tuple[str, str], list[tuple[list[dict], list[dict]]]] = {}
    for rs in measured:
        ref = None if all(is_current(r) for r in rs) else _nearest(rs, measured)
        key = None if ref is None else (_change(rs[0]), _change(ref[0]))
        if key is not None and key[::-1] not in changes:      # two old settings nearest to each other: one row
            changes.setdefault(key, []).append((rs, ref))
    rows = []
    for pairs in changes.values():
        per_split, pooled, seen = [], [], []
        for rs, ref in sorted(pairs, key=lambda p: _split_seed(p[0][0])):
            diffs = _paired(rs, ref, "zero_shot_top1_calibrated")
            pooled += diffs.values()
            seen += _paired(rs, ref, "seen_top1_calibrated").values()
            per_split.append(f"split {_split_seed(rs[0])}: {_spread(list(diffs.values()))} "
                             f"({' / '.join(f'{d:+.1f}' for d in diffs.values())})")
        rs, ref = pairs[0]
        against = "the demo's settings" if all(is_current(r) for r in ref) else \
            f"`{re.sub(r'-s[0-9]+$', '', ref[0]['name'])}`"
        rows.append([_change_words(rs, ref), against, "; ".join(per_split), _spread(pooled),
                     f"{sum(d > 0 for d in pooled)} of {len(pooled)}", _spread(seen) if seen else "–"])
    return rows


PAIRED_HEADER = ["change", "against", "validation zero-shot (cal.), points, per split (each seed)",
                 "pooled over splits", "seeds higher", "seen top-1 (cal.), points"]

PAIRED_CAPTION = ("each configuration against the nearest one run on the same validation split and the same seeds "
                  "(the fewest differences in settings; the demo's present settings where they are that near): the "
                  "same clips, since a seed draws its own clips, head start and curriculum; every run on the code of its "
                  "day, which its record names. The difference after the curriculum in points, mean ± sd over seeds, "
                  "split by split and pooled. A change is a finding when it holds on every split, not when one "
                  "split's mean favours it: seeds alone move a split's mean by several points.")


def readout_rows(runs: list[dict], renderer: str = "draction") -> list[list[str]]:
    """Validation configurations that recorded the three zero-shot readouts on two seeds or more
    (:func:`~skeletonllm.demo.evaluate.zero_shot_readouts`; the last run of each seed): for the
    head start and after the curriculum, the mean over seeds, each seed in brackets, of each
    readout's calibrated zero-shot top-1, beside the pixel probe's composed top-1 on the curriculum's
    frames."""
    rows = []
    for rs in _by_configuration(runs, lambda c: bool(c.get("readouts"))):
        label = [f"{rs[0]['name']} … (seeds {', '.join(str(r.get('seed', 0)) for r in rs)})", _settings(rs[0])]
        starts = [r["head_start"].get(renderer, {}).get("readouts") or {} for r in rs]
        ends = [r["curriculum"]["readouts"] for r in rs]
        probe = _mean_of([r["curriculum"].get("pixel_probe", {}).get("zero_shot_top1") for r in rs])
        rows.append(label + ["head start"] + [_mean_of([x.get(k) for x in starts]) for k in READOUTS] + [""])
        rows.append(["", "", "after the curriculum"] + [_mean_of([x.get(k) for x in ends]) for k in READOUTS] + [probe])
    return rows


READOUT_HEADER = ["runs", "configuration", "model",
                  *(f"validation zero-shot: {READOUT_WORDS[k]} (cal.) %" for k in READOUTS),
                  "pixel probe (composed) %"]

READOUT_CAPTION = ("the same models naming the validation clips three ways (`skeletonllm.demo.evaluate."
                   "zero_shot_readouts`, each calibrated on training clips): by the likelihood of each class name "
                   "(the ranking of every other table), by their answers to the movement, side and part questions "
                   "composed as the pixel probe composes its regressions, and by the sum of both; mean over seeds, "
                   "each seed in brackets")


def sweep_section(doc, runs: list[dict] | None = None) -> None:
    """The sweep as a table in ``doc`` (:class:`skeletonllm.demo.document.Document`), then the
    configurations run on several seeds (:func:`seed_rows`), the traced curricula (:func:`trace_rows`),
    each configuration against its nearest (:func:`paired_rows`) and the zero-shot readouts
    (:func:`readout_rows`), each table where it has rows;
    nothing when no run is recorded."""
    runs = load_sweep() if runs is None else runs
    if not runs:
        return
    doc.table(SWEEP_HEADER, sweep_rows(runs), caption=SWEEP_CAPTION)
    rows = seed_rows(runs)
    if rows:
        doc.table(SEED_HEADER, rows, caption=SEED_CAPTION)
    rows = trace_rows(runs)
    if rows:
        doc.table(TRACE_HEADER, rows, caption=TRACE_CAPTION)
    rows = paired_rows(runs)
    if rows:
        doc.table(PAIRED_HEADER, rows, caption=PAIRED_CAPTION)
    rows = readout_rows(runs)
    if rows:
        doc.table(READOUT_HEADER, rows, caption=READOUT_CAPTION)


__all__ = ["PAIRED_HEADER", "READOUT_HEADER", "SEED_HEADER", "SWEEP_FILE", "SWEEP_HEADER", "TRACE_HEADER", "TRACE_STAGES",
           "is_current", "load_sweep", "paired_rows", "readout_rows", "seed_rows", "sweep_rows", "sweep_section",
           "trace_rows"]
