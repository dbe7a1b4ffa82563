"""People seen by a 2D pose detector: linking per-frame detections into tracks, and pixels
into nominal metres. Shared by the COCO-json, Kinetics-skeleton, OpenPose and MediaPipe readers.

Tracks: detections carry no identity, so people are linked frame to frame. A track's
distance to a detection is the mean pixel distance of keypoints confident in both (score
>= 0.3 for detectors that score every keypoint, such as AlphaPose; > 0 for OpenPose, which
reports keypoints it did not find as score 0), divided by the size of the track's last
detection (larger side of the box around its confident keypoints); pairs farther than ``gate`` person sizes are not linked, and the
rest are matched by the Hungarian method (``scipy.optimize.linear_sum_assignment``). A
track that misses more than ``max_gap`` frames ends. :func:`keep_tracks` keeps the
``max_people`` tracks with the largest total detection score (length and confidence
together), ordered by first appearance.

Pixels -> nominal metres (:func:`pixels_to_metres`): the origin is the median over the
clip of each detection's shoulder/hip centre (mean of its confident shoulders and hips); a
person's pixel height is the vertical extent of its confident keypoints, measured on
detections that show a head keypoint (nose, eye or ear) and an ankle; the median of those
maps to 1.7 m. ``x = (u - u0) * s``, ``y = -(v - v0) * s`` (image y points down); z is
0, or for detectors with a relative depth, that depth times ``s``. Which joints count as
shoulders, hips, head and ankles comes from the topology's joint names.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import SkeletonFormatError
from ..sequence import SkeletonSequence
from ..topology import Topology

CONFIDENT = 0.3  # AlphaPose-style detectors score every keypoint; below this it is a guess
DETECTED = 1e-6  # OpenPose-style detectors report undetected keypoints as score 0
PERSON_HEIGHT_M = 1.7


@dataclass
class Detection:
    """One person in one frame: ``xy (J, 2)`` pixels, ``kscore (J,)`` and an overall ``score``.
    ``extra`` carries per-joint values that travel with the detection (e.g. a depth)."""

    xy: np.ndarray
    kscore: np.ndarray
    score: float
    track: int | None = None
    extra: np.ndarray | None = None


def _box_size(d: Detection, confident: float) -> float:
    pts = d.xy[d.kscore >= confident]
    if len(pts) < 2:
        pts = d.xy
    return max(float(np.ptp(pts[:, 0])), float(np.ptp(pts[:, 1])), 1e-6)


def _distance(a: Detection, b: Detection, confident: float) -> float:
    both = (a.kscore >= confident) & (b.kscore >= confident)
    if both.sum() < 3:
        both = np.ones(len(a.kscore), bool)
    return float(np.linalg.norm(a.xy[both] - b.xy[both], axis=1).mean()) / _box_size(a, confident)


def link_tracks(frames: list[list[Detection]], gate: float = 0.5, max_gap: int = 30,
                confident: float = CONFIDENT) -> list[dict[int, Detection]]:
    """Link per-frame detections into tracks: list of ``{frame index: detection}``."""
    from scipy.optimize import linear_sum_assignment  # here: importing scipy.optimize takes ~1 s

    tracks: list[dict[int, Detection]] = []
    last: list[tuple[int, Detection]] = []  # per track: (frame, detection) of its latest hit
    for t, dets in enumerate(frames):
        active = [k for k, (f, _) in enumerate(last) if t - f <= max_gap]
        matched = set()
        if active and dets:
            cost = np.array([[_distance(last[k][1], d, confident) for d in dets] for k in active])
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


def tracks_from_ids(frames: list[list[Detection]]) -> list[dict[int, Detection]]:
    """Tracks from the detections' own ``track`` ids (every detection must have one)."""
    by_id: dict[int, dict[int, Detection]] = {}
    for t, fd in enumerate(frames):
        for d in fd:
            by_id.setdefault(d.track, {})[t] = d
    return list(by_id.values())


def keep_tracks(tracks: list[dict[int, Detection]], num_frames: int, max_people: int):
    """The ``max_people`` strongest tracks as arrays.

    Returns ``xy (T, M, J, 2)``, ``kscore (T, M, J)`` float32, ``present (T, M)`` and
    ``extra (T, M, J, E)`` (None when detections carry none).
    """
    ranked = sorted(range(len(tracks)), key=lambda k: -sum(d.score for d in tracks[k].values()))
    kept = sorted(ranked[:max_people], key=lambda k: min(tracks[k]))
    first = next(iter(tracks[kept[0]].values()))
    J, M = len(first.kscore), len(kept)
    xy = np.zeros((num_frames, M, J, 2))
    ks = np.zeros((num_frames, M, J), np.float32)
    present = np.zeros((num_frames, M), bool)
    extra = None if first.extra is None else np.zeros((num_frames, M) + first.extra.shape)
    for m, k in enumerate(kept):
        for t, d in tracks[k].items():
            xy[t, m], ks[t, m], present[t, m] = d.xy, d.kscore, True
            if extra is not None:
                extra[t, m] = d.extra
    return xy, ks, present, extra


def _landmarks(topology: Topology) -> tuple[list[int], list[int], list[int]]:
    """Joint indices of shoulders+hips, head points (nose/eyes/ears) and ankles, by name."""
    names = topology.joint_names
    torso = [i for i, n in enumerate(names) if n in ("left_shoulder", "right_shoulder", "left_hip", "right_hip")]
    head = [i for i, n in enumerate(names) if n == "nose" or n.endswith(("_eye", "_ear"))]
    ankles = [i for i, n in enumerate(names) if n.endswith("_ankle")]
    return torso, head, ankles


def pixels_to_metres(xy: np.ndarray, kscore: np.ndarray, present: np.ndarray, topology: Topology,
                     depth: np.ndarray | None = None, confident: float = CONFIDENT) -> tuple[np.ndarray, dict]:
    """``xy (T, M, J, 2)`` pixels -> ``(T, M, J, 3)`` nominal metres (module docstring).

    ``depth (T, M, J)``, if given, is a relative depth in pixel units (away from the camera
    positive) and becomes z.
    """
    torso_j, head_j, ankle_j = _landmarks(topology)
    pts = xy[present]  # (N, J, 2)
    conf = kscore[present] >= confident
    centres, heights, spans = [], [], []
    for p, c in zip(pts, conf):
        torso = [j for j in torso_j if c[j]]
        sel = p[torso] if torso else (p[c] if c.any() else p)
        centres.append(sel.mean(axis=0))
        if c.sum() >= 2:
            span = float(np.ptp(p[c][:, 1]))
            spans.append(span)
            if c[head_j].any() and c[ankle_j].any():
                heights.append(span)
    origin = np.median(np.array(centres), axis=0)
    height = np.median(heights) if heights else (np.median(spans) if spans else 0.0)
    if not height > 1e-6:  # degenerate: no confident extent at all
        height = max(float(np.ptp(pts[..., 1])), 1e-6)
    s = PERSON_HEIGHT_M / float(height)
    out = pixels_to_metres_with(xy, present, origin, s, depth)
    info = {"pixel_origin": [float(origin[0]), float(origin[1])], "metres_per_pixel": s,
            "person_height_px": float(height)}
    return out, info


def pixels_to_metres_with(xy: np.ndarray, present: np.ndarray, origin, s: float,
                          depth: np.ndarray | None = None) -> np.ndarray:
    """The pixel -> metre map with a given ``origin`` (u0, v0) and scale ``s`` (metres per pixel)."""
    out = np.zeros(xy.shape[:-1] + (3,), np.float32)
    out[..., 0] = (xy[..., 0] - origin[0]) * s
    out[..., 1] = -(xy[..., 1] - origin[1]) * s
    if depth is not None:
        out[..., 2] = depth * s
    out[~present] = 0.0
    return out


def metres_to_pixels(joints: np.ndarray, present: np.ndarray, metadata: dict) -> np.ndarray:
    """Undo :func:`pixels_to_metres`: ``(T, M, J, 3)`` -> ``(T, M, J, 2)`` pixels (zeros where absent)."""
    u0, v0 = metadata["pixel_origin"]
    s = float(metadata["metres_per_pixel"])
    out = np.zeros(joints.shape[:-1] + (2,), np.float64)
    out[..., 0] = joints[..., 0] / s + u0
    out[..., 1] = -joints[..., 1] / s + v0
    out[~present] = 0.0
    return out


def fill_missing(xy: np.ndarray, missing: np.ndarray, topology: Topology) -> np.ndarray:
    """Put each missing keypoint on its nearest detected neighbour in the bone graph.

    Detectors write undetected keypoints as (0, 0) with score 0; drawn as they are, they
    would pull bones to the image corner. ``xy (..., J, 2+)``, ``missing (..., J)`` bool.
    A body with no detected keypoint is left as it is (its caller marks it absent).
    """
    J = topology.num_joints
    neighbours = [[] for _ in range(J)]
    for a, b in topology.bones:
        neighbours[a].append(b)
        neighbours[b].append(a)
    out = np.array(xy, copy=True)
    flat, miss = out.reshape(-1, J, out.shape[-1]), missing.reshape(-1, J)
    for k in np.flatnonzero(miss.any(axis=1) & ~miss.all(axis=1)):
        have = ~miss[k]
        for j in np.flatnonzero(miss[k]):
            seen, frontier = {j}, [j]
            while frontier:  # breadth-first: the nearest detected joint by bone hops
                hit = [n for n in frontier if have[n]]
                if hit:
                    flat[k, j] = flat[k, hit[0]]
                    break
                frontier = [n for f in frontier for n in neighbours[f] if n not in seen]
                seen.update(frontier)
            else:  # no path to a detected joint (a disconnected part): use the body's mean
                flat[k, j] = flat[k, have].mean(axis=0)
    return out


def people_sequence(path, frames: list[list[Detection]], topology: Topology, fmt: str, *, max_people: int = 2,
                    gate: float = 0.5, max_gap: int = 30, fps: float = 30.0, metadata: dict | None = None,
                    label: str | None = None, label_id: int | None = None,
                    confident: float = DETECTED) -> SkeletonSequence:
    """Per-frame detections of a pose detector -> one tracked :class:`SkeletonSequence`.

    Missing keypoints (score 0) are placed by :func:`fill_missing` before the pixel ->
    metre conversion; their score stays 0. ``fmt`` names the format in the metadata.
    ``confident``: the keypoint score from which a keypoint counts in tracking and scaling
    (default: any detected keypoint, OpenPose's convention).
    """
    tracks = link_tracks(frames, gate=gate, max_gap=max_gap, confident=confident)
    if not tracks:
        raise SkeletonFormatError(path, "no person is detected in any frame")
    xy, ks, present, _ = keep_tracks(tracks, len(frames), max_people)
    xy = fill_missing(xy, ks <= 0, topology)
    joints, info = pixels_to_metres(xy, ks, present, topology, confident=confident)
    meta = {"source": str(path), "format": fmt, "num_detections": sum(len(f) for f in frames),
            "num_tracks": len(tracks), **info, **(metadata or {})}
    return SkeletonSequence(joints=joints, present=present, topology=topology, scores=ks, fps=fps,
                            label=label, label_id=label_id, metadata=meta)
