"""The renderer study's view of the linear pixel probe (:mod:`skeletonllm.demo.probe`): per seed,
what the probe, the head start's attribute answers and the model's three zero-shot readouts
(:func:`~skeletonllm.demo.evaluate.zero_shot_readouts`) scored; over seeds, their mean ± sd, the
model against the probe on the same frames (paired by seed), and the goals that ask the model
to read its frames at least as well as the probe does."""
from __future__ import annotations

from .evaluate import KINDS, READOUTS
from .probe import PROBE_ATTRIBUTES
from .stats import mean_sd, paired_comparison

DRACTION, SUGAR = "draction", "sugar"
WHERE = ("seen", "unseen")


def probe_numbers(res: dict) -> dict:
    """What a seed keeps of one evaluation's probe (``pixel_probe``) and attribute answers
    (``attributes``) and zero-shot readouts (``readouts``), when it has them: ``{"probe": {"seen",
    "unseen", "attributes": {key: {where: acc}}, "unseen_kinds"}, "answers": {key: {where: acc}},
    "readouts": {readout: top1}}``."""
    out = {}
    p = res.get("pixel_probe")
    if p:
        out["probe"] = {"seen": p["seen_top1"], "unseen": p["unseen_top1"],
                        "attributes": {k: {w: p["attributes"][k][w] for w in WHERE} for k in PROBE_ATTRIBUTES},
                        "unseen_kinds": p.get("unseen_kinds", {})}
    a = res.get("attributes")
    if a:
        out["answers"] = {k: {w: a[w][k] for w in WHERE} for k in PROBE_ATTRIBUTES}
    if res.get("readouts"):
        out["readouts"] = {k: r["top1"] for k, r in res["readouts"].items()}
    return out


def _summary(values: dict[int, float]) -> dict:
    mean, sd = mean_sd(list(values.values()))
    return {"mean": mean, "sd": sd, "n": len(values), "per_seed": {str(k): v for k, v in values.items()}}


def _per_seed(seeds: list[dict], arm: str, phase: str, path: tuple) -> dict[int, float]:
    out = {}
    for s in seeds:
        x = s["arms"].get(arm, {}).get(phase)
        for key in path:
            x = x.get(key) if isinstance(x, dict) else None
        if x is not None:
            out[s["seed"]] = x
    return out


def probe_statistics(seeds: list[dict]) -> dict:
    """Over seeds (:func:`skeletonllm.demo.study.seed_numbers` with :func:`probe_numbers`):

    ``{"arms": {arm: {phase: {"probe_seen", "probe_unseen", "probe_unseen_kinds": {kind},
    "probe_attributes": {key: {where}}, "answers": {key: {where}}, "readouts": {readout}}}},
    "model_vs_probe": {arm: {"seen", "unseen"}}, "readouts_vs_probe": {arm: {readout}},
    "readouts_vs_sugar": {readout}, "goals": {...}}``; summaries are mean / sd / per seed,
    comparisons paired by seed (model minus probe on the frames it read after the curriculum;
    DrAction's readouts minus SUGAR's unseen top-1)."""
    arms = list(seeds[0]["arms"])
    out = {"arms": {}, "model_vs_probe": {}, "readouts_vs_probe": {}}
    final_readouts = {arm: {k: v for k in READOUTS if (v := _per_seed(seeds, arm, "final", ("readouts", k)))}
                      for arm in arms}
    for arm in arms:
        for phase in ("frozen", "final"):
            entry = {}
            for where in WHERE:
                v = _per_seed(seeds, arm, phase, ("probe", where))
                if v:
                    entry[f"probe_{where}"] = _summary(v)
            kinds = {k: _summary(v) for k in KINDS if (v := _per_seed(seeds, arm, phase, ("probe", "unseen_kinds", k, "top1")))}
            if kinds:
                entry["probe_unseen_kinds"] = kinds
            for name, path in (("probe_attributes", ("probe", "attributes")), ("answers", ("answers",))):
                block = {k: {w: _summary(v) for w in WHERE if (v := _per_seed(seeds, arm, phase, (*path, k, w)))}
                         for k in PROBE_ATTRIBUTES}
                if any(block.values()):
                    entry[name] = block
            readouts = {k: _summary(v) for k in READOUTS if (v := _per_seed(seeds, arm, phase, ("readouts", k)))}
            if readouts:
                entry["readouts"] = readouts
            if entry:
                out["arms"].setdefault(arm, {})[phase] = entry
        model = {w: _per_seed(seeds, arm, "final", (w,)) for w in WHERE}
        probe = {w: _per_seed(seeds, arm, "final", ("probe", w)) for w in WHERE}
        if all(probe.values()):
            out["model_vs_probe"][arm] = {w: paired_comparison(model[w], probe[w]) for w in WHERE}
            if final_readouts[arm]:
                out["readouts_vs_probe"][arm] = {k: paired_comparison(v, probe["unseen"])
                                                 for k, v in final_readouts[arm].items()}
    sugar = _per_seed(seeds, SUGAR, "final", ("unseen",))
    readouts = final_readouts.get(DRACTION)
    if sugar and readouts:
        out["readouts_vs_sugar"] = {k: paired_comparison(v, sugar) for k, v in readouts.items()}
    out["goals"] = reading_goals(out, seeds)
    return out


def reading_goals(st: dict, seeds: list[dict]) -> dict:
    """The goals about reading the frames (DrAction arm), each with its numbers:

    * ``head_start_reads_attributes``: the head start's answers (frozen) at least the attribute
      probes' accuracy on the same frames, for movement, part and side, seen and unseen (means);
    * ``seen_at_least_probe`` / ``unseen_at_least_probe``: after the curriculum, mean seen top-1
      at least the probe's, mean unseen top-1 at least the probe's composed zero-shot top-1;
    * ``at_least_sugar``: mean unseen top-1 at least SUGAR's on the same clips.
    """
    goals = {}
    frozen = st["arms"].get(DRACTION, {}).get("frozen", {})
    if "answers" in frozen and "probe_attributes" in frozen:
        gaps = {f"{k} {w}": frozen["answers"][k][w]["mean"] - frozen["probe_attributes"][k][w]["mean"]
                for k in PROBE_ATTRIBUTES for w in WHERE
                if w in frozen["answers"][k] and w in frozen["probe_attributes"][k]}
        goals["head_start_reads_attributes"] = {
            "met": all(g >= 0 for g in gaps.values()), "gaps": gaps,
            "rule": "the head start's answers to the movement, part and side questions (DrAction as it starts) at "
                    "least as accurate as the attribute probes on the same frames, seen and unseen clips (means "
                    "over seeds)"}
    if DRACTION in st["model_vs_probe"]:
        for where in WHERE:
            c = st["model_vs_probe"][DRACTION][where]
            goals[f"{where}_at_least_probe"] = {
                "met": c["t_test"]["mean"] >= 0, "mean_difference": c["t_test"]["mean"], "wins": c["wins"],
                "seeds": len(c["seeds"]),
                "rule": f"DrAction's mean {where} top-1 after the curriculum at least the pixel probe's "
                        + ("seen-class top-1" if where == "seen" else "composed zero-shot top-1")
                        + " on the same frames"}
    d = {s["seed"]: s["arms"][DRACTION]["final"]["unseen"] for s in seeds if DRACTION in s["arms"]}
    g = {s["seed"]: s["arms"][SUGAR]["final"]["unseen"] for s in seeds if SUGAR in s["arms"]}
    if d and g:
        c = paired_comparison(d, g)
        goals["at_least_sugar"] = {
            "met": c["t_test"]["mean"] >= 0, "mean_difference": c["t_test"]["mean"], "wins": c["wins"],
            "seeds": len(c["seeds"]),
            "rule": "DrAction's mean unseen top-1 after the curriculum at least SUGAR's on the same clips"}
    return goals


__all__ = ["probe_numbers", "probe_statistics", "reading_goals"]
