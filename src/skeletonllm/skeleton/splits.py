"""Class lists, zero-shot class splits and the standard train/test protocols.

Everything here is read from package data (``skeletonllm/data``), copied byte for byte
from the project's reference files (provenance: ``tests/data/splits/PROVENANCE.md``):

* ``zero_shot_splits.json``: the open-vocabulary splits (NTU-60 55/5, 48/12, 40/20, 30/30;
  NTU-120 110/10, 96/24, 80/40, 60/60; PKU-MMD 46/5, 39/12). Seen = complement of unseen.
* ``*_class_names.txt``: class names of NTU-60, NTU-120, PKU-MMD, NW-UCLA and Kinetics-400 (in
  ``label_index`` order, the st-gcn release's list that Kinetics-skeleton files refer to).
* ``pku_mmd_cross_subject.txt`` / ``pku_mmd_cross_view.txt``: the official PKU-MMD lists.

All class indices are 0-based (NTU A001 -> 0, PKU-MMD label 1 -> 0, NW-UCLA label 1 -> 0).
"""
from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from importlib import resources

from .missing import has_missing_skeleton

# Official NTU RGB+D training lists (Shahroudy et al. 2016; Liu et al. 2019, NTU-120).
# Cross-subject: these performers train, the rest test. Cross-view (NTU-60): cameras 2
# and 3 train, camera 1 tests. Cross-setup (NTU-120): even setup ids train.
NTU_XSUB_TRAIN_SUBJECTS = frozenset((
    1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38,  # NTU-60 list
    45, 46, 47, 49, 50, 52, 53, 54, 55, 56, 57, 58, 59, 70, 74, 78, 80, 81, 82, 83,
    84, 85, 86, 89, 91, 92, 93, 94, 95, 97, 98, 100, 103))  # added by NTU-120
NTU_XVIEW_TRAIN_CAMERAS = frozenset((2, 3))
NTU_XSET_TRAIN_SETUPS = frozenset(range(2, 33, 2))

PROTOCOLS = ("ntu60_xsub", "ntu60_xview", "ntu120_xsub", "ntu120_xset", "pku_xsub", "pku_xview")

_DATASET_ALIASES = {
    "ntu60": "ntu60", "ntu-60": "ntu60", "ntu": "ntu120", "ntu120": "ntu120", "ntu-120": "ntu120",
    "pku": "pku_mmd", "pku51": "pku_mmd", "pku_mmd": "pku_mmd", "pku-mmd": "pku_mmd",
    "nw_ucla": "nw_ucla", "nw-ucla": "nw_ucla", "ucla": "nw_ucla",
    "kinetics400": "kinetics400", "kinetics-400": "kinetics400", "kinetics": "kinetics400",
}
#: The datasets :func:`class_names` knows, by their canonical names.
DATASETS = ("ntu60", "ntu120", "pku_mmd", "nw_ucla", "kinetics400")
_DATASET_OF_SPLIT = {"NTU-60": "ntu60", "NTU-120": "ntu120"}


def _data_text(name: str) -> str:
    return resources.files("skeletonllm").joinpath("data", name).read_text(encoding="utf-8")


def is_dataset(name) -> bool:
    """Whether ``name`` names a dataset whose class list ships with the package (``kinetics400``, ...)."""
    return isinstance(name, str) and name.lower() in _DATASET_ALIASES


@functools.lru_cache(maxsize=None)
def class_names(dataset: str) -> tuple[str, ...]:
    """Class names in 0-based label order: ``ntu60``, ``ntu120``, ``pku_mmd``, ``nw_ucla``, ``kinetics400``."""
    key = _DATASET_ALIASES.get(dataset.lower())
    if key is None:
        raise KeyError(f"unknown dataset '{dataset}': expected one of {', '.join(DATASETS)}")
    return tuple(parse_class_list(_data_text(f"{key}_class_names.txt")))


def parse_class_list(text: str) -> list[str]:
    """Class names from a class-list text, one per line in label order: blank lines and ``#`` comments
    skipped; with tab-separated columns (``A001<TAB>drink water``) the last one is the name."""
    return [line.split("\t")[-1].strip() for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


@functools.lru_cache(maxsize=None)
def nw_ucla_action_labels() -> dict[str, int]:
    """NW-UCLA file-name action id -> 0-based label (``"a08"`` -> 6)."""
    out = {}
    for line in _data_text("nw_ucla_class_names.txt").splitlines():
        if line.strip() and not line.startswith("#"):
            action, label, _ = line.split("\t")
            out[action] = int(label) - 1
    return out


@dataclass(frozen=True)
class ZeroShotSplit:
    """A seen/unseen class split. Indices are 0-based class ids of ``dataset``."""

    name: str
    dataset: str  # "ntu60", "ntu120" or "pku_mmd"
    num_classes: int
    seen: tuple[int, ...]
    unseen: tuple[int, ...]
    seen_names: tuple[str, ...]
    unseen_names: tuple[str, ...]


@functools.lru_cache(maxsize=None)
def _split_table() -> dict:
    return json.loads(_data_text("zero_shot_splits.json"))


def _canonical_split_name(name: str) -> str:
    # Short PKU names ("pku_46_5") map onto the JSON's keys ("pku51_46_5").
    return re.sub(r"^pku(?:51|_mmd)?_", "pku51_", name.lower())


def list_splits(include_extra: bool = False) -> list[str]:
    """Names accepted by :func:`get_split` (the benchmark splits; ``include_extra`` adds ablations)."""
    table = _split_table()
    names = [n.replace("pku51_", "pku_") for n in table["splits"]]
    if include_extra:
        names += list(table["extra_non_benchmark_splits"])
    return names


def get_split(name: str) -> ZeroShotSplit:
    """A zero-shot split by name, e.g. ``"ntu60_55_5"``, ``"ntu120_96_24"``, ``"pku_46_5"``."""
    table = _split_table()
    key = _canonical_split_name(name)
    entry = table["splits"].get(key) or table["extra_non_benchmark_splits"].get(name)
    if entry is None:
        raise KeyError(f"unknown split '{name}': expected one of {list_splits()}")
    dataset = _DATASET_OF_SPLIT.get(entry["dataset"], "pku_mmd")
    names = class_names(dataset)
    n = int(entry["num_classes"])
    unseen = tuple(sorted(int(i) for i in entry["unseen_0based"]))
    seen = tuple(i for i in range(n) if i not in set(unseen))
    return ZeroShotSplit(name=name, dataset=dataset, num_classes=n, seen=seen, unseen=unseen,
                         seen_names=tuple(names[i] for i in seen), unseen_names=tuple(names[i] for i in unseen))


# -- train/test protocols ----------------------------------------------------------------
_NTU_NAME = re.compile(r"S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})")


def parse_ntu_name(name: str) -> dict[str, int] | None:
    """``"S001C002P003R002A013"`` -> setup, camera, subject, replication, action (1-based); None if no match."""
    m = _NTU_NAME.search(name)
    if m is None:
        return None
    return dict(zip(("setup", "camera", "subject", "replication", "action"), map(int, m.groups())))


@functools.lru_cache(maxsize=None)
def _pku_lists(kind: str) -> dict[str, frozenset[str]]:
    """``{"train": {...}, "test": {...}}`` recording names from the official PKU-MMD file.

    The file has a "Training videos:" line and a "Validataion videos:" line (sic), each
    followed by a comma-separated list; the second list is the test set of the protocol.
    """
    out: dict[str, set[str]] = {}
    part = None
    for line in _data_text(f"pku_mmd_cross_{kind}.txt").splitlines():
        low = line.strip().lower()
        if low.startswith("training"):
            part = "train"
        elif low.startswith(("validat", "valid", "test")):
            part = "test"
        elif low and part is not None:
            out.setdefault(part, set()).update(x.strip() for x in line.split(",") if x.strip())
    return {k: frozenset(v) for k, v in out.items()}


def protocol_part(protocol: str, sample_name: str, keep_missing_skeletons: bool = False) -> str | None:
    """``"train"`` or ``"test"`` for a sample under a standard protocol; None if it is not in it.

    ``sample_name`` is an NTU file stem (``S001C001P001R001A001``) or a PKU-MMD recording
    name (``0036-L``). NTU-60 protocols only cover actions A001..A060 and setups 1..17, and
    no NTU protocol holds the samples the dataset's authors list as having missing or
    incomplete skeletons (:mod:`skeletonllm.skeleton.missing`), as in CTR-GCN and PYSKL,
    unless ``keep_missing_skeletons``.
    """
    if protocol not in PROTOCOLS:
        raise KeyError(f"unknown protocol '{protocol}': expected one of {list(PROTOCOLS)}")
    if protocol.startswith("pku_"):
        lists = _pku_lists("subject" if protocol == "pku_xsub" else "view")
        rec = re.search(r"\d{4}-[LMR]", sample_name)
        rec = rec.group(0) if rec else sample_name
        for part in ("train", "test"):
            if rec in lists.get(part, ()):
                return part
        return None
    info = parse_ntu_name(sample_name)
    if info is None or (not keep_missing_skeletons and has_missing_skeleton(sample_name)):
        return None
    if protocol.startswith("ntu60") and (info["action"] > 60 or info["setup"] > 17):
        return None
    if protocol.endswith("xsub"):
        train = info["subject"] in NTU_XSUB_TRAIN_SUBJECTS
    elif protocol.endswith("xview"):
        train = info["camera"] in NTU_XVIEW_TRAIN_CAMERAS
    else:
        train = info["setup"] in NTU_XSET_TRAIN_SETUPS
    return "train" if train else "test"
