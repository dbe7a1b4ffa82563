"""The package's import graph: imports flow only down the pipeline, and no modules import each other.

The pipeline, bottom to top: the shared helpers (``atomic``, ``errors``), ``skeleton`` (files,
topologies, datasets), ``synth`` (the procedural motion set, which produces skeletons), ``render``,
``mllm``, ``train``, ``eval``, then the front ends ``sugar``, ``inference``, ``demo`` and ``cli``.
A module may import its own package and the packages below it, never one above. Every import
counts, at the top of a module or inside a function: a lazy import still ties the two modules
together, it only moves the moment it runs.

The graph is read from the source with :mod:`ast` (nothing is imported), so a new module is
checked the moment it exists.
"""
from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "skeletonllm"

#: Top-level modules and packages of ``skeletonllm``, bottom of the pipeline first.
LAYERS = (("atomic", "errors"), ("skeleton",), ("synth",), ("render",), ("mllm",), ("train",), ("eval",),
          ("sugar",), ("inference",), ("demo",), ("cli",))
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}
#: The package's own ``__init__`` (``skeletonllm.load``) sits with the skeleton readers it forwards to.
RANK[""] = RANK["skeleton"]


def modules() -> dict[str, tuple[Path, bool]]:
    """Dotted module name -> (file, is a package ``__init__``)."""
    out = {}
    for path in SRC.rglob("*.py"):
        parts = ["skeletonllm", *path.relative_to(SRC).with_suffix("").parts]
        is_package = parts[-1] == "__init__"
        out[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return out


def import_graph() -> dict[str, set[str]]:
    """Module -> the ``skeletonllm`` modules it imports (anywhere in its source)."""
    mods = modules()

    def known(name: str) -> str | None:          # a name imported from a module -> that module
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = defaultdict(set)
    for name, (path, is_package) in mods.items():
        package = name if is_package else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[:len(package.split(".")) - node.level + 1]
                    origin = ".".join(base + ([node.module] if node.module else []))
                else:
                    origin = node.module or ""
                targets = [known(f"{origin}.{alias.name}") or known(origin) for alias in node.names]
            elif isinstance(node, ast.Import):
                targets = [known(alias.name) for alias in node.names]
            else:
                continue
            graph[name].update(t for t in targets if t is not None and t.startswith("skeletonllm") and t != name)
    return graph


def layer(module: str) -> str:
    """``skeletonllm.train.trainer`` -> ``train``; the package itself -> ``""``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Groups of modules that reach each other through imports (Tarjan's strongly connected components)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(set(graph) | {w for ws in graph.values() for w in ws}):
        if v not in index:
            visit(v)
    return found


def test_every_top_level_module_has_a_place_in_the_pipeline():
    top = {layer(m) for m in modules()}
    assert top <= set(RANK), f"place {sorted(top - set(RANK))} in LAYERS"


def test_imports_flow_only_down_the_pipeline():
    upward = sorted(f"{a} imports {b}" for a, bs in import_graph().items() for b in bs
                    if RANK[layer(b)] > RANK[layer(a)])
    assert not upward, "imports against the pipeline order:\n" + "\n".join(upward)


def test_no_modules_import_each_other_in_a_circle():
    assert not cycles(import_graph())


def test_the_checks_see_what_they_are_meant_to_see():
    """The graph reader and the cycle finder on known cases, so the two tests above cannot pass vacuously."""
    graph = import_graph()
    assert "skeletonllm.train.checkpointing" in graph["skeletonllm.train.trainer"]     # from . import x as y
    assert "skeletonllm.mllm.precision" in graph["skeletonllm.train.trainer"]          # from ..a.b import c
    assert "skeletonllm.synth" in graph["skeletonllm.train.data"]                      # an import inside a function
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
