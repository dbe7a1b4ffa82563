"""Kinetics-skeleton: the OpenPose skeletons of Kinetics-400 released with ST-GCN.

One JSON file per clip::

    {"data": [{"frame_index": 1, "skeleton": [{"pose": [x, y] * 18, "score": [s] * 18}, ...]}, ...],
     "label": "abseiling", "label_index": 0}

Joints are OpenPose COCO-18 (``openpose18``). The release resized every video to 340 x 256
pixels at 30 fps before running OpenPose and divided x by 340 and y by 256, so
coordinates are first multiplied back into pixels (``image_size``, default (340, 256));
without that the figures would be squashed by 340/256. Keypoints OpenPose did not find are
``(0, 0)`` with score 0: they are placed on their nearest detected neighbour (score kept
at 0) so that no bone is drawn to the image corner. ``frame_index`` is 1-based; frames
missing from the list, or with an empty ``skeleton`` list, are absent in ``present``.

People are listed per frame without identities (ordered by detection score), so they are
linked into tracks like COCO detections (:mod:`._people`; ``max_people`` tracks kept,
default 2) and converted from pixels to nominal metres the same way (2D, ``dims = 2``).
``label`` and ``label_index`` become the sequence's ``label`` / ``label_id`` (a negative
index, as in unlabelled test files, means no label). A file with a ``label_index`` but no
``label`` name gets it from a class list: ``class_names`` (a dataset whose list ships with the
package, or a text file with one name per line), by default ``kinetics400``, the Kinetics-400
names in ``label_index`` order that ship with skeletonllm (the st-gcn release's list).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...errors import SkeletonFormatError
from ..sequence import SkeletonSequence
from ..splits import class_names as dataset_class_names, is_dataset, parse_class_list
from ..topology import OPENPOSE18
from ._common import read_json, read_text
from ._people import Detection, people_sequence

NUM_JOINTS = 18
FPS = 30.0
IMAGE_SIZE = (340, 256)  # (width, height) the release resized every video to
CLASS_NAMES = "kinetics400"


def _class_list(spec) -> tuple[str, ...]:
    """A shipped dataset's class names (``kinetics400``) or those of a class-list text file."""
    if is_dataset(spec):
        return dataset_class_names(spec)
    return tuple(parse_class_list(read_text(spec)))   # read_text reports the file to the dataset cache


def _label(path: Path, obj: dict, class_names) -> tuple[str | None, int | None]:
    """``(label, label_index)``; the name from the class list when the file gives only the index."""
    label, label_id = obj.get("label"), obj.get("label_index")
    if label_id is not None and (not isinstance(label_id, int) or isinstance(label_id, bool)):
        raise SkeletonFormatError(path, f"'label_index' must be an integer, got {label_id!r}", "key 'label_index'")
    if label_id is None or label_id < 0:   # a negative index (unlabelled test files): no label
        return (str(label) if label and label_id is None else None), None
    if not label:
        names = _class_list(class_names)
        if label_id >= len(names):
            raise SkeletonFormatError(path, f"'label_index' {label_id} is past the {len(names)} names of the class "
                                      f"list {class_names}, and the file names no label: pass class_names=",
                                      "key 'label_index'")
        label = names[label_id]
    return str(label), label_id


def _person(path: Path, rec, where: str, size) -> Detection | None:
    if not isinstance(rec, dict) or "pose" not in rec or "score" not in rec:
        raise SkeletonFormatError(path, "expected a person object with 'pose' and 'score'", where)
    try:
        pose = np.asarray(rec["pose"], dtype=np.float64)
        score = np.asarray(rec["score"], dtype=np.float64)
    except (TypeError, ValueError):
        raise SkeletonFormatError(path, "'pose' and 'score' must be lists of numbers", where) from None
    if pose.shape != (2 * NUM_JOINTS,) or score.shape != (NUM_JOINTS,):
        raise SkeletonFormatError(path, f"expected 'pose' of 36 numbers (18 OpenPose joints x (x, y)) and 'score' "
                                  f"of 18, found {pose.size} and {score.size}", where)
    if not (np.isfinite(pose).all() and np.isfinite(score).all()):
        raise SkeletonFormatError(path, "NaN or infinite value in 'pose' or 'score'", where)
    if not (score > 0).any():
        return None  # nothing detected: not a person
    xy = pose.reshape(NUM_JOINTS, 2) * np.asarray(size, np.float64)
    return Detection(xy, score.astype(np.float32), float(score.sum()))


def read(path, max_people: int = 2, gate: float = 0.5, max_gap: int = 30, image_size=IMAGE_SIZE,
         fps: float = FPS, class_names=CLASS_NAMES) -> list[SkeletonSequence]:
    """A Kinetics-skeleton clip -> ``[SkeletonSequence]`` (``openpose18``, 2D, tracked people)."""
    path = Path(path)
    obj = read_json(path)
    if not isinstance(obj, dict) or not isinstance(obj.get("data"), list):
        raise SkeletonFormatError(path, "expected an object with a 'data' list (Kinetics-skeleton layout)")
    if not obj["data"]:
        raise SkeletonFormatError(path, "'data' holds no frames", "key 'data'")
    by_frame: dict[int, list[Detection]] = {}
    for k, frame in enumerate(obj["data"]):
        where = f"data[{k}]"
        if not isinstance(frame, dict) or "skeleton" not in frame or "frame_index" not in frame:
            raise SkeletonFormatError(path, "expected a frame object with 'frame_index' and 'skeleton'", where)
        t = frame["frame_index"]
        if not isinstance(t, int) or isinstance(t, bool) or t < 1:
            raise SkeletonFormatError(path, f"'frame_index' must be an integer >= 1, got {t!r}", where)
        if not isinstance(frame["skeleton"], list):
            raise SkeletonFormatError(path, "'skeleton' must be a list of people", where)
        people = [_person(path, p, f"{where}, person {m}", image_size) for m, p in enumerate(frame["skeleton"])]
        by_frame.setdefault(t, []).extend(d for d in people if d is not None)
    T = max(by_frame)
    frames = [by_frame.get(t, []) for t in range(1, T + 1)]
    label, label_id = _label(path, obj, class_names)
    meta = {"image_size": [int(image_size[0]), int(image_size[1])], "clip": path.stem}
    return [people_sequence(path, frames, OPENPOSE18, "kinetics", max_people=max_people, gate=gate,
                            max_gap=max_gap, fps=fps, metadata=meta, label=label, label_id=label_id)]


def read_label(path) -> tuple[str | None, int | None]:
    """``(label, label_index)`` as the file gives them, without building the sequence (for dataset indexing)."""
    obj = read_json(path)
    label_id = obj.get("label_index") if isinstance(obj, dict) else None
    if not isinstance(label_id, int) or isinstance(label_id, bool) or label_id < 0:
        return None, None
    return obj.get("label"), label_id


def sniff(path: Path, head: bytes) -> bool:
    h = head.lstrip()
    return h.startswith(b"{") and b'"data"' in h and b'"frame_index"' in h and b'"skeleton"' in h
