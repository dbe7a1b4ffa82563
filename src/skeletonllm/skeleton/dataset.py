"""A folder of skeleton files of any supported format as an indexed, lazily loaded dataset.

>>> ds = SkeletonDataset("nturgbd_skeletons/", cache_dir="cache/", split="ntu60_55_5", subset="seen",
...                      protocol="ntu60_xsub", part="train")
>>> seq = ds[0]            # a SkeletonSequence, parsed (or read from the cache) on demand

Indexing reads file names and small side files only (NTU and NW-UCLA labels come from
the file name, PKU-MMD clips from the label file); PYSKL pickles are opened to count
their annotations. PKU-MMD recordings expand into one item per labelled clip.

Cache: with ``cache_dir``, each source file's parsed samples are stored as one ``.npz``
(arrays plus a JSON header; no pickles), written atomically, under a name derived from the
source, the format and the reader options. The header records every file the reader used
(the source, and e.g. an ``.amc``'s ``.asf``, a PKU-MMD label file, a HumanML3D caption file,
each frame file of an OpenPose folder, a class list given as an option; also the places it
looked for one and found none), the options, and the readers' version (:mod:`.reads`): when any
of these changed, the source is parsed again. A cache file that cannot be read is ignored and
rewritten.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import SkeletonFormatError
from .formats import FORMATS, get_format, kinetics, pku_mmd, sniff_format
from .missing import has_missing_skeleton
from .reads import loader_version, note_file, note_folder, recording, signature, unchanged
from .sequence import SkeletonSequence
from .splits import get_split, nw_ucla_action_labels, parse_ntu_name, protocol_part
from .packing import unpack, write_npz

CACHE_VERSION = 2   # 2: keyed on every file the reader used and on the readers' version


@dataclass(frozen=True)
class Item:
    """One sample: the ``index``-th sequence that ``format``'s reader returns for ``path``."""

    path: Path
    format: str
    index: int
    label_id: int | None
    name: str


class SkeletonDataset:
    """Map-style dataset of :class:`SkeletonSequence` (works with ``torch.utils.data.DataLoader``).

    Args:
        root: a folder (searched recursively) or a single file.
        format: read every file with this format; None detects per file and skips files
            that are not skeleton data (label files, captions, statistics).
        cache_dir: where to keep ``.npz`` caches; None parses on every access.
        split, subset: a zero-shot split name (:func:`~.splits.get_split`) and ``"seen"`` or
            ``"unseen"``: keep only those classes.
        class_ids: keep only these 0-based class ids (combined with ``split``).
        protocol, part: a standard protocol (``"ntu60_xsub"``, ``"ntu60_xview"``,
            ``"ntu120_xsub"``, ``"ntu120_xset"``, ``"pku_xsub"``, ``"pku_xview"``) and
            ``"train"`` or ``"test"``.
        options: keyword arguments for the reader (e.g. ``{"max_bodies": 2}``).
        keep_missing_skeletons: keep the NTU samples that the dataset's authors list as
            having missing or incomplete skeletons (:mod:`.missing`); by default they are
            left out, as CTR-GCN and PYSKL do, and counted in ``excluded``.
    """

    def __init__(self, root, format: str | None = None, cache_dir=None, split: str | None = None,
                 subset: str | None = None, class_ids=None, protocol: str | None = None, part: str | None = None,
                 options: dict | None = None, keep_missing_skeletons: bool = False):
        self.root = Path(root)
        if not self.root.exists():
            raise FileNotFoundError(f"{self.root}: no such file or folder")
        self.format = format
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.options = dict(options or {})
        if (split is None) != (subset is None):
            raise ValueError("give split and subset ('seen' or 'unseen') together")
        if subset not in (None, "seen", "unseen"):
            raise ValueError(f"subset must be 'seen' or 'unseen', got {subset!r}")
        if (protocol is None) != (part is None):
            raise ValueError("give protocol and part ('train' or 'test') together")
        if part not in (None, "train", "test"):
            raise ValueError(f"part must be 'train' or 'test', got {part!r}")
        allowed = None
        if split is not None:
            sp = get_split(split)
            allowed = set(sp.seen if subset == "seen" else sp.unseen)
        if class_ids is not None:
            ids = {int(c) for c in class_ids}
            allowed = ids if allowed is None else allowed & ids
        self.skipped: list[Path] = []  # files that are not skeleton data
        self.excluded: list[str] = []  # NTU samples on the authors' missing-skeleton lists
        # before indexing: a PYSKL pickle is parsed (through the memo and cache) to count its annotations
        self._memo: tuple[Path, list[SkeletonSequence]] | None = None
        items = []
        for path in self._files():
            for it in self._describe(path):
                if not keep_missing_skeletons and self._on_missing_list(it):
                    continue
                if allowed is not None and it.label_id not in allowed:
                    continue
                if protocol is not None and protocol_part(protocol, it.name, keep_missing_skeletons) != part:
                    continue
                items.append(it)
        self.items: list[Item] = items

    # -- indexing ------------------------------------------------------------------------
    def _on_missing_list(self, item: Item) -> bool:
        """Whether ``item`` is an NTU sample with a missing skeleton (then noted in ``excluded``)."""
        if has_missing_skeleton(item.name):
            self.excluded.append(item.name)
            return True
        return False

    def _files(self) -> list[Path]:
        cache = self.cache_dir.resolve() if self.cache_dir else None
        return find_sources(self.root, skip=cache)

    def _describe(self, path: Path) -> list[Item]:
        fmt = self.format
        if fmt is None:
            try:
                fmt = sniff_format(path)
            except OSError:
                fmt = None
            if fmt is None:
                self.skipped.append(path)
                return []
        if fmt in ("ntu", "ntu_npy"):
            info = parse_ntu_name(path.name)
            return [Item(path, fmt, 0, info["action"] - 1 if info else None, path.name.split(".")[0])]
        if fmt == "nw_ucla":
            label = nw_ucla_action_labels().get(path.name[:3])
            if label is None:
                label = self._load(path, fmt)[0].label_id
            return [Item(path, fmt, 0, label, path.stem)]
        if fmt == "pku_mmd":
            label_path = self.options.get("label_path") or pku_mmd.find_label_file(path)
            if label_path is None:
                return [Item(path, fmt, 0, None, path.stem)]
            segs = pku_mmd.read_labels(label_path)
            return [Item(path, fmt, k, s[0], path.stem) for k, s in enumerate(segs)]
        if fmt == "pyskl":
            return [Item(path, fmt, k, s.label_id, s.metadata.get("frame_dir", path.stem))
                    for k, s in enumerate(self._load(path, fmt))]
        if fmt == "kinetics":
            return [Item(path, fmt, 0, kinetics.read_label(path)[1], path.stem)]
        return [Item(path, fmt, 0, None, path.stem)]

    # -- access --------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> SkeletonSequence:
        it = self.items[i]
        seqs = self._load(it.path, it.format)
        if it.index >= len(seqs):
            raise SkeletonFormatError(it.path, f"has {len(seqs)} samples now, the index expected at least "
                                      f"{it.index + 1} (file changed? rebuild the dataset)")
        return seqs[it.index]

    @property
    def label_ids(self) -> list[int | None]:
        return [it.label_id for it in self.items]

    def _load(self, path: Path, fmt: str) -> list[SkeletonSequence]:
        if self._memo is not None and self._memo[0] == path:
            return self._memo[1]  # consecutive clips of one recording parse it once
        seqs = None
        cache = self._cache_path(path, fmt)
        if cache is not None:
            seqs = read_cache(cache, path, fmt, self.options)
        if seqs is None:
            seqs, reads = parse_recording_reads(path, fmt, self.options)
            if cache is not None:
                write_cache(cache, path, fmt, seqs, reads, self.options)
        self._memo = (path, seqs)
        return seqs

    def _cache_path(self, path: Path, fmt: str) -> Path | None:
        if self.cache_dir is None:
            return None
        key = json.dumps([str(path.resolve()), fmt, self.options], sort_keys=True, default=str)
        return self.cache_dir / f"{path.name}.{hashlib.sha1(key.encode()).hexdigest()[:12]}.npz"


def find_sources(root, skip: Path | None = None) -> list[Path]:
    """Every candidate sample source under ``root``: files (recursively, hidden ones and the
    folder ``skip`` left out) and, as single sources, folders that a folder format reads
    whole (an OpenPose output folder), whose files are then not listed one by one."""
    root = Path(root)
    if root.is_file() or _is_folder_sample(root):
        return [root]
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        keep, folders = [], []
        for d in sorted(dirnames):
            sub = Path(dirpath) / d
            if d.startswith(".") or (skip is not None and sub.resolve() == skip):
                continue
            (folders if _is_folder_sample(sub) else keep).append(d)
        dirnames[:] = keep
        out += [Path(dirpath) / f for f in sorted(filenames) if not f.startswith(".")]
        out += [Path(dirpath) / d for d in folders]
    return out


def _is_folder_sample(path: Path) -> bool:
    return path.is_dir() and any(f.folders and f.sniff(path, b"") for f in FORMATS.values())


DEFAULT_PROTOCOL = {"ntu60": "ntu60_xsub", "ntu120": "ntu120_xsub", "pku_mmd": "pku_xsub"}


def load_dataset(dataset: str, root, subset: str = "train", split: str | None = None,
                 protocol: str | None = "default", cache_dir=None, options: dict | None = None) -> SkeletonDataset:
    """A named dataset's standard part, as the training configs ask for it.

    ``subset="train"`` keeps the protocol's training part and, with a zero-shot ``split``,
    its seen classes; ``"test"`` the test part and the unseen classes; ``"all"`` everything
    under ``root``. The protocol defaults to cross-subject for ``ntu60``, ``ntu120`` and
    ``pku_mmd`` (``protocol=None`` turns it off; other datasets have none).
    """
    if subset not in ("train", "test", "all"):
        raise ValueError(f"subset must be 'train', 'test' or 'all', got {subset!r}")
    if protocol == "default":
        protocol = DEFAULT_PROTOCOL.get(dataset)
    if subset == "all":
        return SkeletonDataset(root, cache_dir=cache_dir, options=options)
    return SkeletonDataset(root, cache_dir=cache_dir, options=options, split=split,
                           subset=None if split is None else ("seen" if subset == "train" else "unseen"),
                           protocol=protocol, part=subset if protocol else None)


# -- cache files ------------------------------------------------------------------------------
def parse_recording_reads(source: Path, fmt: str, options: dict) -> tuple[list[SkeletonSequence], list]:
    """``format``'s reader on ``source``, and the files it used (:func:`.reads.recording`; the source
    itself always among them)."""
    with recording() as reads:
        (note_folder if source.is_dir() else note_file)(source)
        seqs = get_format(fmt).read(source, **options)
    return seqs, reads


def _options_key(options: dict) -> str:
    return json.dumps(options, sort_keys=True, default=str)


def write_cache(cache: Path, source: Path, fmt: str, seqs: list[SkeletonSequence], reads: list,
                options: dict | None = None) -> None:
    """Store parsed sequences of ``source`` in one ``.npz`` (atomic write), keyed on the files the
    reader used (``reads``, from :func:`parse_recording_reads`), the options and the readers' version."""
    write_npz(cache, {"version": CACHE_VERSION, "loader": loader_version(), "source": str(source.resolve()),
                      "format": fmt, "options": _options_key(options or {}), "reads": signature(reads)}, seqs)


def read_cache(cache: Path, source: Path, fmt: str, options: dict | None = None) -> list[SkeletonSequence] | None:
    """The cached sequences, or None if the cache is missing, stale (a file the reader used
    changed, or the options, or the readers' version) or unreadable."""
    if not cache.is_file():
        return None
    try:
        with np.load(cache, allow_pickle=False) as z:
            header = json.loads(z["header"].tobytes().decode("utf-8"))
            if (header.get("version") != CACHE_VERSION or header.get("loader") != loader_version()
                    or header.get("source") != str(source.resolve()) or header.get("format") != fmt
                    or header.get("options") != _options_key(options or {}) or not unchanged(header["reads"])):
                return None
            return unpack(header["sequences"], z, str(cache))
    except Exception:  # any damage (truncated zip, bad JSON, wrong shapes) means: parse the source again
        return None
