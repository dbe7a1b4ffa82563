"""Hard-negative mining for Disc-FT (SPEC §5, paper appendix E.3.2).

For every class name a teacher ranks all other classes of the dataset by similarity in the
body parts involved and the motion pattern; the top ``k`` (5) become that class's hard
negatives. Mining runs over the whole class list once per dataset; a split then keeps only
its seen classes with :func:`filter_seen`, so unseen classes never reach a training prompt.

The result is a JSON file::

    {"classes": [...all names...], "model": "gpt-4o", "k": 5,
     "neighbors": {"drink water": ["eat meal/snack", ...], ...},
     "raw": {"drink water": "<the teacher's answer>", ...},
     "incomplete": {"x": {"valid": [...], "answers": [...]}}}

It is rewritten atomically after every class, so an interrupted run resumes where it
stopped without asking the teacher again. A teacher that cannot name ``k`` valid classes
is never padded with invented ones: the class is recorded under ``incomplete`` and
:class:`IncompleteMiningError` is raised at the end. Users can also bring their own file
(only ``neighbors`` is required, or a bare ``{class: [names]}`` mapping): :func:`load_negatives`.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from ..atomic import atomic_write_text
from ..errors import ConfigError, SkeletonLLMError

NUM_NEIGHBORS = 5


class IncompleteMiningError(SkeletonLLMError):
    """The teacher gave fewer than ``k`` valid neighbours for some classes (after retries).

    Attributes: ``path`` (the cache file, which records the classes and the answers),
    ``incomplete`` ({class: valid names found}), ``neighbors`` (the complete classes).
    """

    def __init__(self, path, incomplete: dict[str, list[str]], neighbors: dict[str, list[str]], k: int):
        self.path = str(path)
        self.incomplete = incomplete
        self.neighbors = neighbors
        names = ", ".join(f"'{c}' ({len(v)} valid)" for c, v in incomplete.items())
        super().__init__(f"{self.path}: the teacher named fewer than {k} valid similar classes for "
                         f"{len(incomplete)} class(es): {names}. Their answers are saved in the file under "
                         f"'incomplete'; run again to re-ask only these classes, or edit the file by hand.")


def mining_prompt(anchor: str, candidates: Sequence[str], k: int = NUM_NEIGHBORS) -> str:
    """The question asked for one class. The candidate list is every other class of the dataset."""
    listing = "\n".join(f"- {c}" for c in candidates)
    return (
        "We are training a model to recognise human actions from skeleton sequences (3D joint positions "
        "over time, no RGB, no objects). To teach it fine distinctions we need, for one action, the other "
        "actions that would be easiest to confuse with it.\n\n"
        f'Target action: "{anchor}"\n\n'
        f'Rank the candidate actions below by how similar they are to "{anchor}" in the body parts that '
        "move and in the motion itself (trajectory, posture, speed, one or both hands, standing or sitting, "
        "one or two people). Judge only what a moving skeleton would show.\n\n"
        f"Answer with a JSON array holding the {k} most similar candidates, most similar first, each name "
        "copied exactly as written in the list, and nothing else.\n\n"
        f"Candidate actions:\n{listing}\n"
    )


# -- parsing ---------------------------------------------------------------------------------

_BULLET = re.compile(r"^\s*(?:\(?\d+[.):]|[-*\u2022])\s*")
_SEPARATORS = (" - ", " \u2013 ", " \u2014 ", ": ", " (")


def _norm(name: str) -> str:
    name = name.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')
    name = name.strip().strip("*`\"'").strip().rstrip(".,;").strip().strip("*`\"'")
    return " ".join(name.lower().split())


def _json_items(text: str) -> list | None:
    """The first JSON array in ``text`` (code fences and chatter around it are fine)."""
    decoder = json.JSONDecoder()
    for m in re.finditer(r"\[", text):
        try:
            value, _ = decoder.raw_decode(text, m.start())
        except ValueError:
            continue
        if isinstance(value, list) and value:
            items = []
            for v in value:
                if isinstance(v, dict):  # [{"name": ...}, ...]
                    v = next((v[key] for key in ("name", "action", "class", "label") if key in v), None)
                if isinstance(v, str):
                    items.append(v)
            if items:
                return items
    return None


def _line_items(text: str) -> list[str]:
    """Names from a numbered or bulleted list, one per line, possibly followed by explanations."""
    items = []
    for line in text.splitlines():
        line = _BULLET.sub("", line).strip()
        if line:
            items.append(line)
    return items


def parse_ranked_names(text: str, class_names: Sequence[str], anchor: str | None = None) -> list[str]:
    """Valid class names from a teacher answer, in the teacher's order.

    Accepts a JSON array (of names, or of objects with a ``name``/``action`` key) anywhere in
    the text, else a numbered/bulleted list whose lines may carry explanations after the name.
    Matching ignores case, surrounding quotes/markdown and extra spaces; unknown names, the
    anchor itself and repeats are dropped.
    """
    lookup = {_norm(n): n for n in class_names}
    items = _json_items(text)
    if items is None:
        items = _line_items(text)
    out: list[str] = []
    for item in items:
        name = lookup.get(_norm(item))
        if name is None:  # "name - because ..." / "name: because ..." / "name (why)"
            for sep in _SEPARATORS:
                if sep in item:
                    name = lookup.get(_norm(item.split(sep, 1)[0]))
                    if name is not None:
                        break
        if name is not None and name != anchor and name not in out:
            out.append(name)
    return out


# -- mining ----------------------------------------------------------------------------------

def _check_names(class_names: Iterable[str], source: str) -> list[str]:
    names = [str(n) for n in class_names]
    seen: dict[str, str] = {}
    for n in names:
        key = _norm(n)
        if not key:
            raise ConfigError(source, "classes", "contains an empty class name")
        if key in seen:
            raise ConfigError(source, "classes", f"class '{n}' appears twice (as '{seen[key]}' and '{n}')")
        seen[key] = n
    if len(names) < 2:
        raise ConfigError(source, "classes", f"need at least 2 classes to mine negatives, got {len(names)}")
    return names


def _effective_k(k: int, names: Sequence[str]) -> int:
    # Tiny class lists (procedural sets) cannot have 5 neighbours; ask for all the others then.
    return max(1, min(k, len(names) - 1))


def mine_negatives(client, class_names: Sequence[str], cache_path: str | os.PathLike, k: int = NUM_NEIGHBORS,
                   attempts: int = 3, progress: bool = False) -> dict[str, list[str]]:
    """Ask ``client`` (a :class:`~skeletonllm.train.teacher.TeacherClient`) for each class's ``k`` nearest classes.

    Classes already in ``cache_path`` are not asked again. A class whose answer holds fewer
    than ``k`` valid names is asked again, up to ``attempts`` times in all; if it still falls
    short it is recorded as incomplete and, after all other classes are done,
    :class:`IncompleteMiningError` is raised. Endpoint errors (:class:`TeacherError`)
    propagate at once; everything mined so far is already on disk.

    Returns: ``{class: [k names]}`` for every class, in class order.
    """
    path = Path(cache_path)
    names = _check_names(class_names, str(path))
    k = _effective_k(k, names)
    state = _load_cache(path, names, client.model, k)
    todo = [c for c in names if c not in state["neighbors"]]
    try:
        from tqdm.auto import tqdm
        todo_iter = tqdm(todo, desc="mining negatives", unit="class", disable=not progress)
    except ImportError:  # tqdm is a dependency; this only keeps the library usable without it
        todo_iter = todo
    for anchor in todo_iter:
        prompt = mining_prompt(anchor, [c for c in names if c != anchor], k)
        answers, best = [], []
        for _ in range(max(1, attempts)):
            answer = client.ask(prompt)
            answers.append(answer)
            got = parse_ranked_names(answer, names, anchor)
            if len(got) > len(best):
                best = got
            if len(got) >= k:
                break
        if len(best) >= k:
            state["neighbors"][anchor] = best[:k]
            state["raw"][anchor] = answers[-1]
            state["incomplete"].pop(anchor, None)
        else:
            state["incomplete"][anchor] = {"valid": best, "answers": answers}
        _save_cache(path, state, names)
    neighbors = {c: state["neighbors"][c] for c in names if c in state["neighbors"]}
    if state["incomplete"]:
        raise IncompleteMiningError(path, {c: v["valid"] for c, v in state["incomplete"].items()}, neighbors, k)
    return neighbors


def _load_cache(path: Path, names: list[str], model: str, k: int) -> dict:
    state = {"classes": names, "model": model, "k": k, "neighbors": {}, "raw": {}, "incomplete": {}}
    if not path.exists():
        return state
    data = _read_json(path)
    if not isinstance(data, dict) or "neighbors" not in data:
        raise ConfigError(path, "neighbors", "is missing: this is not a negatives cache written by mine_negatives")
    if data.get("classes") is not None and list(data["classes"]) != names:
        raise ConfigError(path, "classes", "the file was mined for a different class list; "
                                           "choose another output file or delete this one")
    if data.get("model") not in (None, model):
        raise ConfigError(path, "model", f"the file was mined with teacher '{data['model']}', not '{model}'; "
                                         "choose another output file so the two are not mixed")
    state["neighbors"] = _validate(data["neighbors"], names, k, path, require_all=False)
    state["raw"] = {c: a for c, a in (data.get("raw") or {}).items() if c in state["neighbors"]}
    state["incomplete"] = {c: v for c, v in (data.get("incomplete") or {}).items() if c not in state["neighbors"]}
    return state


def _save_cache(path: Path, state: dict, names: list[str]) -> None:
    out = dict(state)
    out["neighbors"] = {c: state["neighbors"][c] for c in names if c in state["neighbors"]}
    atomic_write_text(path, json.dumps(out, indent=1, ensure_ascii=False) + "\n")


def _read_json(path: Path):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ConfigError(path, "<file>", f"is not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None


# -- validation ------------------------------------------------------------------------------

def _validate(mapping, names: Sequence[str], k: int, path, require_all: bool) -> dict[str, list[str]]:
    """Check ``{class: [neighbours]}`` against ``names``; return it with canonical spellings, in class order."""
    if not isinstance(mapping, Mapping):
        raise ConfigError(path, "neighbors", f"must map each class name to a list of {k} names")
    lookup = {_norm(n): n for n in names}
    out: dict[str, list[str]] = {}
    for key, value in mapping.items():
        anchor = lookup.get(_norm(str(key)))
        if anchor is None:
            raise ConfigError(path, str(key), "is not a class of this dataset")
        if anchor in out:
            raise ConfigError(path, str(key), f"class '{anchor}' is listed twice")
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(path, anchor, "neighbours must be a list of class names")
        if len(value) != k:
            raise ConfigError(path, anchor, f"has {len(value)} neighbours, expected exactly {k}")
        resolved = []
        for v in value:
            name = lookup.get(_norm(v))
            if name is None:
                raise ConfigError(path, anchor, f"neighbour '{v}' is not a class of this dataset")
            if name == anchor:
                raise ConfigError(path, anchor, "lists itself as its own neighbour")
            if name in resolved:
                raise ConfigError(path, anchor, f"lists neighbour '{name}' twice")
            resolved.append(name)
        out[anchor] = resolved
    if require_all:
        missing = [n for n in names if n not in out]
        if missing:
            raise ConfigError(path, missing[0], f"has no neighbours ({len(missing)} class(es) missing: "
                                                f"{', '.join(missing[:5])}{', ...' if len(missing) > 5 else ''}); "
                                                "an incomplete mining run? run mine-negatives again")
    return {n: out[n] for n in names if n in out}


def load_negatives(path: str | os.PathLike, class_names: Sequence[str], k: int = NUM_NEIGHBORS) -> dict[str, list[str]]:
    """Read and validate a negatives file (mined here or written by a user).

    The file is ``{"neighbors": {class: [k names]}}`` (other keys ignored) or a bare
    ``{class: [k names]}``. Every class of ``class_names`` must have exactly ``k`` distinct
    neighbours (``len(class_names) - 1`` when there are fewer classes), all of them other
    known classes. Names match ignoring case and spacing; the result uses ``class_names``'
    spellings. Raises :class:`ConfigError` naming the file and the class.
    """
    path = Path(path)
    names = _check_names(class_names, str(path))
    data = _read_json(path)
    mapping = data["neighbors"] if isinstance(data, dict) and "neighbors" in data else data
    return _validate(mapping, names, _effective_k(k, names), path, require_all=True)


def filter_seen(neighbors: Mapping[str, Sequence[str]], seen_names: Iterable[str]) -> dict[str, list[str]]:
    """Restrict mined neighbours to a split's seen classes.

    Keeps only seen anchors, and only seen neighbours in each list (order kept), so no
    unseen class name can reach a Disc-FT prompt. A list may become empty; such an anchor
    then gets no negative samples.
    """
    seen = set(seen_names)
    return {a: [n for n in nb if n in seen] for a, nb in neighbors.items() if a in seen}


def read_class_names(path: str | os.PathLike) -> list[str]:
    """Class names from a file: a JSON list (or ``{"classes": [...]}``), or text with one class per line.

    Text lines may carry id columns separated by tabs (``A001<TAB>drink water``,
    ``a01<TAB>1<TAB>pick up with one hand``): the last column is the name. Blank lines and
    lines starting with ``#`` are skipped.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(path, "<file>", "does not exist")
    if path.suffix.lower() == ".json":
        data = _read_json(path)
        names = data.get("classes") if isinstance(data, dict) else data
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ConfigError(path, "classes", "must be a list of class-name strings")
        return _check_names(names, str(path))
    names = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name = line.split("\t")[-1].strip()
        if not name:
            raise ConfigError(path, f"line {i}", "has no class name after its id column")
        names.append(name)
    return _check_names(names, str(path))


def resolve_class_names(spec: str | os.PathLike) -> list[str]:
    """Class names from a file (see :func:`read_class_names`), a dataset name or a split name.

    A dataset (``ntu60``, ``ntu120``, ``pku_mmd``, ``nw_ucla``) gives its built-in class list; a
    zero-shot split (``ntu60_48_12``) gives the class list of its whole dataset, seen and
    unseen: mining covers every class once, and :func:`filter_seen` applies the split later.
    """
    path = Path(spec)
    if path.is_file():
        return read_class_names(path)
    from ..skeleton import splits

    name = str(spec)
    try:
        return list(splits.class_names(name))
    except KeyError:
        pass
    try:
        return list(splits.class_names(splits.get_split(name).dataset))
    except KeyError:
        pass
    raise ConfigError("--classes", name, "is neither an existing file, nor a dataset (ntu60, ntu120, pku_mmd, "
                                         f"nw_ucla), nor a split ({', '.join(splits.list_splits())})")
