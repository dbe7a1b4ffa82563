"""Step 1: visual-motion knowledge, one entry per action class, written by a teacher LLM.

For every class the teacher writes a *motion description* decomposed into the six body
parts of HAKE (head, hands, arms, hips, legs, feet), a one-sentence summary (the
description Step 3 learns to say after the class name) and one or more *visual
descriptions* (what the action looks like: objects held, posture, other people; never the
person's appearance or the surroundings: the paper's three rules). A vision teacher may be
given frames rendered from training clips of the class (a contact sheet of the most
dissimilar frames; the paper picks dissimilar video frames with CLIP's image encoder, we
have skeletons, not video, and compare rendered pixels).

The knowledge file is JSON, meant to be read and edited by hand::

    {"format": "skeletonllm-sugar-knowledge", "version": 1,
     "parts": ["head", "hands", "arms", "hips", "legs", "feet"],
     "source": {"teacher": "gpt-4o", ...},
     "classes": {"drink water": {"summary": "...", "motion": {"head": "...", ...},
                                 "visual": ["...", "..."]}, ...}}

Teacher answers are paid for once: each usable answer is appended to
``<out>.answers.jsonl`` and fsynced before the next request
(:class:`~skeletonllm.train.rationales.RationaleCache`), a rerun asks only what is missing,
unusable answers are kept in ``<out>.answers.rejects.jsonl`` and asked again (up to
``attempts`` times), and the client retries transport errors and rate limits. The JSON file
is written (atomically) once every class has its knowledge.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

from ..atomic import atomic_write_text
from ..errors import ConfigError, SkeletonLLMError

FORMAT, VERSION = "skeletonllm-sugar-knowledge", 1
#: The six body parts of the motion descriptions (HAKE's decomposition, as in the paper).
PARTS = ("head", "hands", "arms", "hips", "legs", "feet")
#: Names accepted by :func:`load_knowledge` for files shipped with the package.
SHIPPED = {"synth": ("demo", "sugar_knowledge.json")}


@dataclass
class ClassKnowledge:
    """One class's knowledge.

    Attributes:
        summary: one sentence; Step 3's target is ``Label: <class>`` then this.
        motion: body part -> one sentence, for every part of :data:`PARTS`.
        visual: one or more visual descriptions.
    """

    summary: str
    motion: dict[str, str]
    visual: list[str]

    def motion_texts(self) -> list[str]:
        """The six part sentences, in :data:`PARTS` order (each encoded on its own in Step 2)."""
        return [self.motion[p] for p in PARTS]

    def to_dict(self) -> dict:
        return {"summary": self.summary, "motion": {p: self.motion[p] for p in PARTS}, "visual": list(self.visual)}


@dataclass
class Knowledge:
    """Every class's knowledge, in class order, plus where it came from."""

    classes: dict[str, ClassKnowledge]
    source: dict = field(default_factory=dict)
    path: str | None = None

    def __contains__(self, name: str) -> bool:
        return self.find(name) is not None

    def find(self, name: str) -> ClassKnowledge | None:
        """A class's entry; names match ignoring case and spacing."""
        if name in self.classes:
            return self.classes[name]
        key = _norm(name)
        for n, k in self.classes.items():
            if _norm(n) == key:
                return k
        return None

    def get(self, name: str) -> ClassKnowledge:
        entry = self.find(name)
        if entry is None:
            raise ConfigError(self.path or "<knowledge>", name, "no knowledge for this class (the file has "
                              f"{len(self.classes)} classes; generate it with skeletonllm sugar knowledge)")
        return entry

    def require(self, names: Iterable[str]) -> None:
        """Raise naming the first class of ``names`` that has no entry."""
        for n in names:
            self.get(n)

    def to_dict(self) -> dict:
        return {"format": FORMAT, "version": VERSION, "parts": list(PARTS), "source": self.source,
                "classes": {n: k.to_dict() for n, k in self.classes.items()}}

    def save(self, path: str | os.PathLike) -> Path:
        atomic_write_text(path, json.dumps(self.to_dict(), indent=1, ensure_ascii=False) + "\n")
        return Path(path)


def _norm(name: str) -> str:
    return " ".join(str(name).lower().split())


def _text(value, path, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(path, key, f"must be a non-empty string, got {value!r}")
    return " ".join(value.split())


def entry_from_dict(data, path, name: str) -> ClassKnowledge:
    """Validate one class's entry (as read from JSON)."""
    if not isinstance(data, Mapping):
        raise ConfigError(path, f"classes.{name}", "must be an object with summary, motion and visual")
    motion = data.get("motion")
    if not isinstance(motion, Mapping):
        raise ConfigError(path, f"classes.{name}.motion", f"must map each body part ({', '.join(PARTS)}) to a sentence")
    missing = [p for p in PARTS if p not in motion]
    if missing:
        raise ConfigError(path, f"classes.{name}.motion", f"has no sentence for {', '.join(missing)}")
    visual = data.get("visual")
    if isinstance(visual, str):
        visual = [visual]
    if not isinstance(visual, list) or not visual:
        raise ConfigError(path, f"classes.{name}.visual", "must be a non-empty list of visual descriptions")
    return ClassKnowledge(summary=_text(data.get("summary"), path, f"classes.{name}.summary"),
                          motion={p: _text(motion[p], path, f"classes.{name}.motion.{p}") for p in PARTS},
                          visual=[_text(v, path, f"classes.{name}.visual[{i}]") for i, v in enumerate(visual)])


def knowledge_from_dict(data, path="<knowledge>") -> Knowledge:
    if not isinstance(data, Mapping):
        raise ConfigError(path, "<root>", "must be a JSON object")
    if data.get("format") != FORMAT:
        raise ConfigError(path, "format", f"expected '{FORMAT}', got {data.get('format')!r}")
    if data.get("version") != VERSION:
        raise ConfigError(path, "version", f"this library reads version {VERSION}, got {data.get('version')!r}")
    classes = data.get("classes")
    if not isinstance(classes, Mapping) or not classes:
        raise ConfigError(path, "classes", "must be a non-empty object {class name: entry}")
    seen: dict[str, str] = {}
    out = {}
    for name, entry in classes.items():
        if _norm(name) in seen:
            raise ConfigError(path, f"classes.{name}", f"duplicates class '{seen[_norm(name)]}'")
        seen[_norm(name)] = name
        out[name] = entry_from_dict(entry, path, name)
    source = data.get("source") or {}
    return Knowledge(out, dict(source) if isinstance(source, Mapping) else {}, str(path))


def shipped_knowledge_path(name: str) -> Path | None:
    """The path of a knowledge file shipped with the package (``synth``: the demo world's)."""
    if name not in SHIPPED:
        return None
    return Path(str(resources.files("skeletonllm").joinpath(*SHIPPED[name])))


def load_knowledge(path: str | os.PathLike) -> Knowledge:
    """Read and validate a knowledge file (or a shipped one by name, e.g. ``synth``)."""
    shipped = shipped_knowledge_path(str(path))
    p = shipped if shipped is not None and not Path(path).exists() else Path(path)
    if not p.is_file():
        raise ConfigError(p, "<file>", f"no such knowledge file (shipped ones: {', '.join(SHIPPED)})")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ConfigError(p, "<file>", f"is not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None
    return knowledge_from_dict(data, p)


# -- asking the teacher -------------------------------------------------------------------------

def motion_prompt(action: str) -> str:
    """The motion-knowledge question for one class (text only)."""
    parts = ", ".join(PARTS)
    keys = ", ".join(f'"{p}": "..."' for p in PARTS)
    return (
        "We are teaching a model to recognise human actions from skeleton sequences (3D joint positions over "
        "time). For one action, describe the movement of each body part as a motion-capture skeleton would "
        "show it.\n\n"
        f'Action: "{action}"\n\n'
        f"Describe, for each of the six body parts ({parts}), how it moves while a person performs this action: "
        "one short sentence per part, naming the part (say that it stays still when it does not move). Then "
        "summarise the whole action in one sentence.\n\n"
        f'Answer with one JSON object and nothing else: {{"summary": "...", {keys}}}'
    )


def visual_prompt(action: str, n: int, with_images: bool = False) -> str:
    """The visual-knowledge question for one class; ``with_images`` when frames are attached."""
    seen = ("The attached image shows frames rendered from skeleton sequences of this action (coloured joints "
            "and bones; no person, objects or scene are visible); use it for the posture and movement.\n\n"
            if with_images else "")
    return (
        "We are teaching a model to recognise human actions. For one action, write what a person performing it "
        "looks like in a video.\n\n"
        f'Action: "{action}"\n\n{seen}'
        f"Write {n} short visual descriptions of this action, each one sentence. Follow three rules:\n"
        "1. Describe only what helps to recognise the action: objects held or touched, the posture, how the "
        "body parts move, other people taking part.\n"
        "2. Do not describe the person's appearance (clothes, hair, age, gender) or the surroundings (room, "
        "background, lighting).\n"
        "3. Do not invent details that the action does not imply.\n\n"
        f"Answer with a JSON array of {n} strings and nothing else."
    )


def _first_json(text: str, kind: type):
    """The first JSON value of type ``kind`` (dict or list) in ``text`` (fences and chatter around it are fine)."""
    opener = "{" if kind is dict else "["
    decoder = json.JSONDecoder()
    start = text.find(opener)
    while start != -1:
        try:
            value, _ = decoder.raw_decode(text, start)
        except ValueError:
            value = None
        if isinstance(value, kind):
            return value
        start = text.find(opener, start + 1)
    return None


def parse_motion_answer(text: str) -> dict | None:
    """``{"summary", "motion": {part: sentence}}`` from a teacher answer, or None when unusable."""
    obj = _first_json(text, dict)
    if obj is None:
        return None
    by_key = {_norm(k): v for k, v in obj.items()}
    out = {}
    for part in PARTS + ("summary",):
        value = by_key.get(part)
        if value is None and part.endswith("s"):
            value = by_key.get(part[:-1])            # "hand" for "hands", "hip" for "hips"
        if value is None and part == "feet":
            value = by_key.get("foot")
        if not isinstance(value, str) or not value.strip():
            return None
        out[part] = " ".join(value.split())
    return {"summary": out.pop("summary"), "motion": out}


def parse_visual_answer(text: str, n: int) -> list[str] | None:
    """At least one (at most ``n``) visual descriptions from a teacher answer, or None."""
    items = _first_json(text, list)
    if items is None:
        return None
    out = []
    for v in items:
        if isinstance(v, dict):
            v = next((v[k] for k in ("description", "text") if k in v), None)
        if isinstance(v, str) and v.strip() and " ".join(v.split()) not in out:
            out.append(" ".join(v.split()))
    return out[:n] or None


class IncompleteKnowledgeError(SkeletonLLMError, RuntimeError):
    """The teacher gave no usable answer for some classes after every attempt."""

    def __init__(self, path, missing: dict[str, list[str]]):
        self.path, self.missing = Path(path), missing
        names = ", ".join(f"'{c}' ({'/'.join(kinds)})" for c, kinds in missing.items())
        super().__init__(f"{path}: no usable teacher answer for {len(missing)} class(es): {names}. Every answer "
                         "is kept in the answers files beside it; run again to ask only these classes, or write "
                         "their entries by hand.")


def answers_path(out: str | os.PathLike) -> Path:
    out = Path(out)
    return out.with_name(out.name + ".answers.jsonl")


@dataclass
class KnowledgeStats:
    classes: int = 0
    cached: int = 0          # answers already in the cache
    asked: int = 0           # questions sent (transport retries not counted)
    unusable: int = 0        # answers that could not be parsed (kept in the rejects file)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def generate_knowledge(client, class_names: Sequence[str], out: str | os.PathLike, *, num_visual: int = 3,
                       attempts: int = 3, frames: Callable[[str], object] | None = None, progress: bool = False,
                       detail: str | None = None) -> tuple[Knowledge, KnowledgeStats]:
    """Ask ``client`` (a :class:`~skeletonllm.train.teacher.TeacherClient`) for every class's knowledge.

    Args:
        class_names: the classes, in the order of the file.
        out: the knowledge JSON to write; its answers cache sits beside it.
        num_visual: visual descriptions asked per class.
        attempts: questions per class and kind when answers are unusable.
        frames: ``class -> (F, 3, H, W)`` rendered frames in [0, 1] (or None for a class
            without clips): sent with the visual question as one contact sheet.

    Returns the knowledge (also written to ``out``) and what this call did. Raises
    :class:`IncompleteKnowledgeError` when some class got no usable answer (everything
    answered is cached), and :class:`~skeletonllm.train.teacher.TeacherError` when the
    endpoint is unusable.
    """
    from ..train.rationales import RationaleCache
    from ..train.teacher import frames_to_data_urls

    names = [str(n) for n in class_names]
    if len({_norm(n) for n in names}) != len(names):
        raise ConfigError("--classes", "classes", "class names must be distinct")
    if num_visual < 1 or attempts < 1:
        raise ValueError("num_visual and attempts must be at least 1")
    cache = RationaleCache(answers_path(out))
    model = getattr(client, "model", None)
    stats = KnowledgeStats(classes=len(names))
    missing: dict[str, list[str]] = {}
    try:
        from tqdm.auto import tqdm
        todo = tqdm(names, desc="knowledge", unit="class", disable=not progress)
    except ImportError:
        todo = names
    for name in todo:
        for kind in ("motion", "visual"):
            key = f"{name}|{kind}"
            if key in cache:
                stats.cached += 1
                continue
            urls: list[str] = []
            if kind == "motion":
                prompt, parse = motion_prompt(name), parse_motion_answer
            else:
                shown = frames(name) if frames is not None else None
                urls = frames_to_data_urls(shown, contact_sheet=True) if shown is not None else []
                prompt, parse = visual_prompt(name, num_visual, bool(urls)), (lambda t: parse_visual_answer(t, num_visual))
            for attempt in range(1, attempts + 1):
                answer = client.ask(prompt, urls, detail=detail)
                stats.asked += 1
                value = parse(answer)
                if value is not None:
                    cache.add({"id": key, "class": name, "kind": kind, "value": value, "raw": answer, "model": model,
                               "attempts": attempt, "images": len(urls), "created": _now()})
                    break
                stats.unusable += 1
                cache.add_reject({"id": key, "class": name, "kind": "unusable", "reason": f"no usable {kind} JSON",
                                  "answer": answer, "attempt": attempt, "final": attempt == attempts, "model": model,
                                  "created": _now()})
            else:
                missing.setdefault(name, []).append(kind)
    if missing:
        raise IncompleteKnowledgeError(out, missing)
    classes = {}
    for name in names:
        motion = cache.get(f"{name}|motion")["value"]
        classes[name] = ClassKnowledge(motion["summary"], dict(motion["motion"]),
                                       list(cache.get(f"{name}|visual")["value"]))
    models = sorted({str(cache.get(f"{n}|{k}").get("model")) for n in names for k in ("motion", "visual")})
    knowledge = Knowledge(classes, {"teacher": models[0] if len(models) == 1 else models,
                                    "answers": answers_path(out).name, "num_visual": num_visual,
                                    "created": _now()}, str(out))
    knowledge.save(out)
    return knowledge, stats


def dissimilar_frames(frames, k: int):
    """``k`` of ``frames`` ``(F, 3, H, W)``, chosen greedily to be far apart (mean squared pixel difference),
    in time order: the first frame, then repeatedly the frame farthest from those chosen."""
    import torch

    F = frames.shape[0]
    if k >= F:
        return frames
    flat = frames.reshape(F, -1).float()
    dist = torch.cdist(flat, flat)
    chosen = [0]
    while len(chosen) < k:
        d = dist[:, chosen].min(dim=1).values
        d[chosen] = -1
        chosen.append(int(d.argmax()))
    return frames[sorted(chosen)]


def class_frames_from_dataset(dataset, class_names: Sequence[str], renderer: str = "velocity", image_size: int = 224,
                              num_frames: int = 16, keep: int = 6, max_bodies: int = 2) -> Callable[[str], object]:
    """``class -> frames`` for :func:`generate_knowledge`: the first clip of each class in ``dataset``
    (a :class:`~skeletonllm.skeleton.dataset.SkeletonDataset` with label ids into ``class_names``),
    rendered by a fixed renderer, reduced to its ``keep`` most dissimilar frames."""
    from ..render.fixed import build_renderer
    from ..skeleton.batch import collate_sequences

    first: dict[str, int] = {}
    for i, label in enumerate(dataset.label_ids):
        if label is not None and 0 <= label < len(class_names):
            first.setdefault(class_names[label], i)
    draw = build_renderer(renderer, image_size=image_size)

    def frames(name: str):
        if name not in first:
            return None
        batch = collate_sequences([dataset[first[name]]], num_frames=num_frames, max_bodies=max_bodies)
        return dissimilar_frames(draw(batch)[0].detach(), keep)

    return frames


__all__ = ["PARTS", "ClassKnowledge", "IncompleteKnowledgeError", "Knowledge", "KnowledgeStats", "answers_path",
           "class_frames_from_dataset", "dissimilar_frames", "entry_from_dict", "generate_knowledge",
           "knowledge_from_dict", "load_knowledge", "motion_prompt", "parse_motion_answer", "parse_visual_answer",
           "shipped_knowledge_path", "visual_prompt"]
