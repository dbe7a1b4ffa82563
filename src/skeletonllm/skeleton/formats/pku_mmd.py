"""PKU-MMD (v1) untrimmed recordings: skeleton ``.txt`` plus a label file.

Skeleton file: one line per frame, 150 numbers = 2 persons x 25 Kinect v2 joints x xyz
(metres, Kinect camera space, the NTU joint order). A person that is not there has all
75 numbers zero; that becomes ``present`` False, never a figure at the origin. Body slots
that are empty for the whole recording are dropped. Coordinates are converted like NTU's
(see :mod:`._common`: x negated). 30 fps.

Label file (same stem, in the sibling ``label/`` folder of the dataset layout
``<root>/skeleton/0036-L.txt`` + ``<root>/label/0036-L.txt``, or passed as ``label_path``):
one row per action instance, ``label,start,end,confidence`` with labels 1..51. Start and
end are used as 0-based row indices into the skeleton file, end inclusive (the files do
not state a base; the labelled spans sit well inside the recordings, so a one-frame
difference at a clip edge is all that is at stake).

:func:`read_recording` gives the whole recording with ``metadata["segments"]`` = list of
``(label_id, start, end, confidence)`` (``label_id`` 0-based); :func:`read` gives one clip
per segment with its label, ``metadata["clip"]`` (index) and ``metadata["frame_range"]``.
A recording without a label file comes back whole from both.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from ...errors import SkeletonFormatError
from ..sequence import SkeletonSequence
from ..splits import class_names
from ..topology import NTU25
from ..reads import note_file
from ._common import kinect_to_canonical, parse_rows, read_text

NUM_VALUES = 150  # 2 persons x 25 joints x 3
NUM_CLASSES = 51
FPS = 30.0
_LABEL_DIRS = ("label", "labels", "Label", "Labels", "Train_Label_PKU_final")


def find_label_file(path) -> Path | None:
    """The label file that goes with a skeleton file, if one of the usual places has it."""
    path = Path(path)
    for base in (path.parent.parent, path.parent):
        for d in _LABEL_DIRS:
            cand = base / d / path.name
            note_file(cand)      # looked for: a label file that appears later changes the result
            if cand.is_file() and cand.resolve() != path.resolve():
                return cand
    return None


def read_labels(path) -> list[tuple[int, int, int, float]]:
    """``[(label_id, start, end, confidence), ...]`` with 0-based label ids."""
    out = []
    for lineno, line in enumerate(read_text(path).splitlines(), 1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != 4:
            raise SkeletonFormatError(path, f"expected 'label,start,end,confidence', found {len(parts)} fields",
                                      f"line {lineno}")
        try:
            label, start, end = int(parts[0]), int(parts[1]), int(parts[2])
            conf = float(parts[3])
        except ValueError:
            raise SkeletonFormatError(path, "label, start and end must be integers, confidence a number",
                                      f"line {lineno}") from None
        if not 1 <= label <= NUM_CLASSES:
            raise SkeletonFormatError(path, f"label {label} outside 1..{NUM_CLASSES}", f"line {lineno}")
        if start < 0 or end < start:
            raise SkeletonFormatError(path, f"bad frame range {start}..{end} (need 0 <= start <= end)",
                                      f"line {lineno}")
        out.append((label - 1, start, end, conf))
    if not out:
        raise SkeletonFormatError(path, "no label rows")
    return out


def read_skeleton(path) -> tuple[np.ndarray, np.ndarray]:
    """``(xyz (T, 2, 25, 3) float64 Kinect space, present (T, 2))``."""
    lines = read_text(path).rstrip().splitlines()
    vals = parse_rows(path, lines, 1, NUM_VALUES, "2 persons x 25 joints x xyz")
    xyz = vals.reshape(-1, 2, 25, 3)
    return xyz, np.abs(xyz).sum(axis=(2, 3)) > 0


def read_recording(path, label_path=None) -> SkeletonSequence:
    """The whole recording, with ``metadata["segments"]`` from its label file (if any)."""
    path = Path(path)
    xyz, present = read_skeleton(path)
    if not present.any():
        raise SkeletonFormatError(path, "every line is zeros: no person in any frame")
    keep = np.flatnonzero(present.any(axis=0))
    label_path = Path(label_path) if label_path is not None else find_label_file(path)
    segments = read_labels(label_path) if label_path is not None else []
    T = xyz.shape[0]
    for k, (_, start, _, _) in enumerate(segments):
        if start >= T:
            raise SkeletonFormatError(label_path, f"segment starts at frame {start} but the recording "
                                      f"{path.name} has {T} frames", f"row {k + 1}")
    meta = {"source": str(path), "format": "pku_mmd", "recording": path.stem,
            "label_file": str(label_path) if label_path else None, "segments": segments}
    if len(path.stem) == 6 and path.stem[-2] == "-":
        meta["view"] = path.stem[-1]  # L / M / R camera
    return SkeletonSequence(joints=kinect_to_canonical(xyz[:, keep]), present=present[:, keep],
                            topology=NTU25, fps=FPS, metadata=meta)


def read(path, label_path=None) -> list[SkeletonSequence]:
    """The labelled clips of a recording (the whole recording if it has no labels)."""
    rec = read_recording(path, label_path)
    segments = rec.metadata["segments"]
    if not segments:
        return [rec]
    names = class_names("pku_mmd")
    clips = []
    for k, (label_id, start, end, conf) in enumerate(segments):
        stop = min(end + 1, rec.num_frames)
        meta = {key: val for key, val in rec.metadata.items() if key != "segments"}
        meta.update(clip=k, frame_range=(start, stop), confidence=conf)
        try:
            clip = rec.crop(start, stop)
        except SkeletonFormatError:
            raise SkeletonFormatError(rec.metadata["label_file"], f"segment {start}..{end} of {Path(path).name} "
                                      "has no person in any frame", f"row {k + 1}") from None
        clips.append(replace(clip, label=names[label_id], label_id=label_id, metadata=meta))
    return clips


def sniff(path: Path, head: bytes) -> bool:
    first = head.split(b"\n", 1)[0]
    return len(first.split()) == NUM_VALUES and b"," not in first
