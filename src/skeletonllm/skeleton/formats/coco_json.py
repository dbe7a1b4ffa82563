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

Tracks: detections carry no identity, so people are linked frame to frame. A track's
distance to a detection is the mean pixel distance of keypoints confident (score >= 0.3)
in both, divided by the size of the track's last detection (larger side of the box around
its confident keypoints); pairs farther than ``gate`` (default 0.5 person sizes) are not
linked, and the rest are matched by the Hungarian method
(``scipy.optimize.linear_sum_assignment``). A track that misses more than ``max_gap``
frames ends. If every detection has an integer ``track_id`` (or AlphaPose ``idx``),
those ids are used instead. The ``max_people`` tracks (default 2) with the largest total
detection score (length and confidence together) are kept, ordered by first appearance;
frames where a kept track has no detection are absent in ``present``. Keypoint
confidences go to ``scores``.

Pixels -> nominal metres (:func:`pixels_to_metres`, also used for PYSKL 2D data): the
origin is the median over the clip of each kept detection's shoulder/hip centre (mean of
its confident shoulders and hips); a person's pixel height is the vertical extent of its
confident keypoints, measured on detections that show a head keypoint and an ankle; the
median of those maps to 1.7 m. ``x = (u - u0) * s``, ``y = -(v - v0) * s`` (image y points
down), ``z = 0``; the topology is ``coco17`` with ``dims = 2``. ``metadata`` keeps
``pixel_origin`` and ``metres_per_pixel`` to undo it.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

from ...errors import SkeletonFormatError
from ..sequence import SkeletonSequence
from ..topology import COCO17
from ._common import read_text

NUM_JOINTS = 17
CONFIDENT = 0.3
PERSON_HEIGHT_M = 1.7
_TORSO = (5, 6, 11, 12)  # shoulders and hips
_HEAD = (0, 1, 2, 3, 4)
_ANKLES = (15, 16)


@dataclass
class _Det:
    xy: np.ndarray  # (17, 2) pixels
    kscore: np.ndarray  # (17,)
    score: float
    track: int | None = None


def _frame_key(image_id) -> int | None:
    if isinstance(image_id, (int, np.integer)) and not isinstance(image_id, bool):
        return int(image_id)
    nums = re.findall(r"\d+", str(image_id))
    return int(nums[-1]) if nums else None


def _parse(path: Path, obj) -> tuple[list, list[_Det], bool]:
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
        if not np.isfinite(kp).all():
            raise SkeletonFormatError(path, "NaN or infinite keypoint value", where)
        kp = kp.reshape(NUM_JOINTS, 3)
        ks = (kp[:, 2] > 0).astype(np.float64) if visibility else kp[:, 2]
        try:
            score = float(rec.get("score", 1.0))
        except (TypeError, ValueError):
            raise SkeletonFormatError(path, f"'score' must be a number, got {rec.get('score')!r}", where) from None
        track = rec.get("track_id", rec.get("idx"))
        track = int(track) if isinstance(track, (int, np.integer)) and not isinstance(track, bool) else None
        ids.append(rec["image_id"])
        dets.append(_Det(kp[:, :2], ks, score, track))
    return ids, dets, visibility


def _box_size(d: _Det) -> float:
    pts = d.xy[d.kscore >= CONFIDENT]
    if len(pts) < 2:
        pts = d.xy
    return max(float(np.ptp(pts[:, 0])), float(np.ptp(pts[:, 1])), 1.0)


def _distance(a: _Det, b: _Det) -> float:
    both = (a.kscore >= CONFIDENT) & (b.kscore >= CONFIDENT)
    if both.sum() < 3:
        both = np.ones(NUM_JOINTS, bool)
    return float(np.linalg.norm(a.xy[both] - b.xy[both], axis=1).mean()) / _box_size(a)


def link_tracks(frames: list[list[_Det]], gate: float = 0.5, max_gap: int = 30) -> list[dict[int, _Det]]:
    """Link per-frame detections into tracks: list of ``{frame index: detection}``."""
    tracks: list[dict[int, _Det]] = []
    last: list[tuple[int, _Det]] = []  # per track: (frame, detection) of its latest hit
    for t, dets in enumerate(frames):
        active = [k for k, (f, _) in enumerate(last) if t - f <= max_gap]
        matched = set()
        if active and dets:
            cost = np.array([[_distance(last[k][1], d) for d in dets] for k in active])
            rows, cols = linear_sum_assignment(np.where(cost <= gate, cost, 1e6))
            for r, c in zip(rows, cols):
                if cost[r, c] <= gate:
                    k = active[r]
                    tracks[k][t] = dets[c]
                    last[k] = (t, dets[c])
                    matched.add(c)
        for c, d in enumerate(dets):
            if c not in matched:
                tracks.append({t: d})
                last.append((t, d))
    return tracks


def pixels_to_metres(xy: np.ndarray, kscore: np.ndarray, present: np.ndarray) -> tuple[np.ndarray, dict]:
    """``xy (T, M, 17, 2)`` pixels -> ``(T, M, 17, 3)`` nominal metres (module docstring)."""
    pts = xy[present]  # (N, 17, 2)
    sc = kscore[present]
    conf = sc >= CONFIDENT
    centres, heights, spans = [], [], []
    for p, c in zip(pts, conf):
        torso = [j for j in _TORSO if c[j]]
        sel = p[torso] if torso else (p[c] if c.any() else p)
        centres.append(sel.mean(axis=0))
        if c.sum() >= 2:
            span = float(np.ptp(p[c][:, 1]))
            spans.append(span)
            if c[list(_HEAD)].any() and c[list(_ANKLES)].any():
                heights.append(span)
    origin = np.median(np.array(centres), axis=0)
    height = np.median(heights) if heights else (np.median(spans) if spans else 0.0)
    if not height > 1.0:  # degenerate: no confident extent at all
        height = max(float(np.ptp(pts[..., 1])), 1.0)
    s = PERSON_HEIGHT_M / float(height)
    out = np.zeros(xy.shape[:-1] + (3,), np.float32)
    out[..., 0] = (xy[..., 0] - origin[0]) * s
    out[..., 1] = -(xy[..., 1] - origin[1]) * s
    out[~present] = 0.0
    info = {"pixel_origin": [float(origin[0]), float(origin[1])], "metres_per_pixel": s,
            "person_height_px": float(height)}
    return out, info


def read(path, max_people: int = 2, gate: float = 0.5, max_gap: int = 30, min_score: float = 0.0,
         fps: float = 30.0) -> list[SkeletonSequence]:
    """A detector's json -> ``[SkeletonSequence]`` (coco17, 2D, up to ``max_people`` tracks)."""
    path = Path(path)
    try:
        obj = json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise SkeletonFormatError(path, f"not valid JSON ({exc.msg})", f"line {exc.lineno}, column {exc.colno}") from None
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
    frames: list[list[_Det]] = [[] for _ in range(T)]
    for f, d in zip(frame_of, dets):
        if d.score >= min_score:
            frames[f].append(d)
    if all(d.track is not None for d in dets):
        by_id: dict[int, dict[int, _Det]] = {}
        for t, fd in enumerate(frames):
            for d in fd:
                by_id.setdefault(d.track, {})[t] = d
        tracks = list(by_id.values())
    else:
        tracks = link_tracks(frames, gate=gate, max_gap=max_gap)
    if not tracks:
        raise SkeletonFormatError(path, f"no detection has score >= {min_score}")
    ranked = sorted(range(len(tracks)), key=lambda k: -sum(d.score for d in tracks[k].values()))
    kept = sorted(ranked[:max_people], key=lambda k: min(tracks[k]))
    M = len(kept)
    xy = np.zeros((T, M, NUM_JOINTS, 2))
    ks = np.zeros((T, M, NUM_JOINTS), np.float32)
    present = np.zeros((T, M), bool)
    for m, k in enumerate(kept):
        for t, d in tracks[k].items():
            xy[t, m], ks[t, m], present[t, m] = d.xy, d.kscore, True
    joints, info = pixels_to_metres(xy, ks, present)
    meta = {"source": str(path), "format": "coco_json", "num_detections": len(dets), "num_tracks": len(tracks),
            "frame_ids": frame_ids, **info}
    return [SkeletonSequence(joints=joints, present=present, topology=COCO17, scores=ks, fps=fps, metadata=meta)]


def sniff(path: Path, head: bytes) -> bool:
    h = head.lstrip()
    return (h.startswith(b"[") and b'"keypoints"' in h) or (h.startswith(b"{") and b'"annotations"' in h
                                                            and b'"keypoints"' in h)
