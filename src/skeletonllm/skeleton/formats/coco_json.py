"""COCO-17 keypoints from a 2D pose detector (AlphaPose / COCO "results" json).

Accepted layouts:

* results list: ``[{"image_id": "12.jpg" | 12, "keypoints": [x, y, score] * 17, "score": s,
  ...}, ...]`` (AlphaPose, mmpose, detectron2 exports);
* a COCO dataset dict ``{"images": [...], "annotations": [...]}``, where the third
  keypoint value is a visibility flag (scores become 1 where it is > 0).

Frames: in the results layout, numeric image ids (or the last number in ``"N.jpg"``)
give the frame index, so frames with no detection stay in the sequence as absent; in the
dataset layout (whose image ids are arbitrary numbers) the annotated images are taken in
id order; ids without numbers are taken in order of first appearance.

Tracks: detections carry no identity, so people are linked frame to frame by the shared
tracker of :mod:`._people` (Hungarian matching of keypoint distances relative to person
size; pairs farther than ``gate``, default 0.5 person sizes, are not linked; a track that
misses more than ``max_gap`` frames ends). If every detection has an integer
``track_id`` (or AlphaPose ``idx``), those ids are used instead. The ``max_people``
tracks (default 2) with the largest total detection score (length and confidence
together) are kept, ordered by first appearance; frames where a kept track has no
detection are absent in ``present``. Keypoint confidences go to ``scores``.

Pixels -> nominal metres (:func:`._people.pixels_to_metres`, also used for PYSKL 2D data):
the median shoulder/hip centre is the origin and the median pixel height of detections
showing a head keypoint and an ankle maps to 1.7 m; y is flipped (image y points down) and
``z = 0``; the topology is ``coco17`` with ``dims = 2``. ``metadata`` keeps
``pixel_origin`` and ``metres_per_pixel`` to undo it.

Missing keypoints: a keypoint with score (or visibility) 0, such as the joints of a person
truncated by the image border, which COCO writes as ``(0, 0, 0)``, keeps score 0 in
``scores`` (the explicit mask) and is placed on its nearest detected neighbour, as for
OpenPose (:func:`._people.fill_missing`), so that no bone is drawn to the image corner. A
detection with no keypoint above 0 is not a person and is left out. A NaN or infinite value
in a detection is an error naming the record and the joint.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ...errors import SkeletonFormatError
from ..sequence import SkeletonSequence
from ..topology import COCO17
from ._common import read_json
from ._people import Detection, fill_missing, keep_tracks, link_tracks, pixels_to_metres, tracks_from_ids

NUM_JOINTS = 17


def _frame_key(image_id) -> int | None:
    if isinstance(image_id, (int, np.integer)) and not isinstance(image_id, bool):
        return int(image_id)
    nums = re.findall(r"\d+", str(image_id))
    return int(nums[-1]) if nums else None


def _parse(path: Path, obj) -> tuple[list, list[Detection], bool]:
    """(image ids, detections, is-dataset-layout) from either layout; errors name the record."""
    visibility = False
    if isinstance(obj, dict) and isinstance(obj.get("annotations"), list):
        records, visibility = obj["annotations"], True
    elif isinstance(obj, list):
        records = obj
    else:
        raise SkeletonFormatError(path, "expected a list of detections (COCO results) or a dict with 'annotations'")
    if not records:
        raise SkeletonFormatError(path, "no detections in the file")
    ids, dets = [], []
    for k, rec in enumerate(records):
        where = f"record {k}"
        if not isinstance(rec, dict) or "keypoints" not in rec or "image_id" not in rec:
            raise SkeletonFormatError(path, "expected an object with 'image_id' and 'keypoints'", where)
        try:
            kp = np.asarray(rec["keypoints"], dtype=np.float64)
        except (TypeError, ValueError):
            raise SkeletonFormatError(path, "'keypoints' must be 51 numbers (17 x (x, y, score))", where) from None
        if kp.shape != (NUM_JOINTS * 3,):
            raise SkeletonFormatError(path, f"'keypoints' must hold 51 numbers (17 COCO joints x 3), "
                                      f"found {kp.size}", where)
        kp = kp.reshape(NUM_JOINTS, 3)
        if not np.isfinite(kp).all():
            j, c = np.argwhere(~np.isfinite(kp))[0]
            raise SkeletonFormatError(path, f"NaN or infinite {'xys'[c]} of keypoint {j} ({COCO17.joint_names[j]})",
                                      where)
        ks = (kp[:, 2] > 0).astype(np.float64) if visibility else kp[:, 2]
        try:
            score = float(rec.get("score", 1.0))
        except (TypeError, ValueError):
            raise SkeletonFormatError(path, f"'score' must be a number, got {rec.get('score')!r}", where) from None
        if not np.isfinite(score):
            raise SkeletonFormatError(path, f"'score' must be a finite number, got {score}", where)
        if not (ks > 0).any():
            continue                                  # nothing detected: not a person
        track = rec.get("track_id", rec.get("idx"))
        track = int(track) if isinstance(track, (int, np.integer)) and not isinstance(track, bool) else None
        ids.append(rec["image_id"])
        dets.append(Detection(kp[:, :2], ks, score, track))
    if not dets:
        raise SkeletonFormatError(path, f"none of the {len(records)} detections has a keypoint with a score above 0")
    return ids, dets, visibility


def read(path, max_people: int = 2, gate: float = 0.5, max_gap: int = 30, min_score: float = 0.0,
         fps: float = 30.0) -> list[SkeletonSequence]:
    """A detector's json -> ``[SkeletonSequence]`` (coco17, 2D, up to ``max_people`` tracks)."""
    path = Path(path)
    obj = read_json(path)
    ids, dets, dataset_layout = _parse(path, obj)
    keys = [_frame_key(i) for i in ids]
    if dataset_layout and all(k is not None for k in keys):  # arbitrary image ids: order them, no gaps
        order = sorted(set(keys))
        index = {k: n for n, k in enumerate(order)}
        frame_of = [index[k] for k in keys]
        T = len(order)
        frame_ids = order
    elif all(k is not None for k in keys):
        base = min(keys)
        frame_of = [k - base for k in keys]
        T = max(frame_of) + 1
        frame_ids = list(range(base, base + T))
    else:
        order = list(dict.fromkeys(map(str, ids)))
        index = {i: n for n, i in enumerate(order)}
        frame_of = [index[str(i)] for i in ids]
        T = len(order)
        frame_ids = order
    frames: list[list[Detection]] = [[] for _ in range(T)]
    for f, d in zip(frame_of, dets):
        if d.score >= min_score:
            frames[f].append(d)
    if all(d.track is not None for d in dets):
        tracks = tracks_from_ids(frames)
    else:
        tracks = link_tracks(frames, gate=gate, max_gap=max_gap)
    if not tracks:
        raise SkeletonFormatError(path, f"no detection has score >= {min_score}")
    xy, ks, present, _ = keep_tracks(tracks, T, max_people)
    xy = fill_missing(xy, ks <= 0, COCO17)       # undetected keypoints (0, 0, 0) onto a detected neighbour
    joints, info = pixels_to_metres(xy, ks, present, COCO17)
    meta = {"source": str(path), "format": "coco_json", "num_detections": len(dets), "num_tracks": len(tracks),
            "frame_ids": frame_ids, **info}
    return [SkeletonSequence(joints=joints, present=present, topology=COCO17, scores=ks, fps=fps, metadata=meta)]


def sniff(path: Path, head: bytes) -> bool:
    h = head.lstrip()
    return (h.startswith(b"[") and b'"keypoints"' in h) or (h.startswith(b"{") and b'"annotations"' in h
                                                            and b'"keypoints"' in h)
