"""OpenPose ``--write_json`` output: a folder of per-frame ``<name>_<frame>_keypoints.json``.

Each file (OpenPose's documented layout, versions 1.0-1.7)::

    {"version": 1.3,
     "people": [{"person_id": [-1],
                 "pose_keypoints_2d": [x0, y0, c0, x1, y1, c1, ...],
                 "pose_keypoints_3d": [x0, y0, z0, c0, ...] or [],
                 "face_keypoints_2d": [...], "hand_left_keypoints_2d": [...], ...}, ...]}

(pre-1.2 files name the array ``pose_keypoints``). 25 keypoints (75 numbers) are read as
BODY_25 (``openpose25``), 18 (54 numbers) as COCO-18 (``openpose18``); ``model=`` forces
one. MPI_15 and BODY_25B are not read. Face and hand keypoints are ignored.

``load(folder)`` gives one sequence: every ``*_keypoints.json`` of the folder is one frame,
in file-name order (OpenPose numbers frames with zero-padded 12-digit counters, so that
order is the video's); a file with no people is an absent frame. A single
``*_keypoints.json`` file loads as a one-frame sequence. People are linked across frames
and converted from pixels to nominal metres as for COCO detections (:mod:`._people`);
keypoints OpenPose did not find (score 0) sit on their nearest detected neighbour.
Coordinates in pixels (OpenPose's default ``--keypoint_scale 0``) need nothing else;
coordinates normalised per axis need ``image_size=(width, height)`` to keep the aspect.

3D: when every person has a ``pose_keypoints_3d`` array (OpenPose's multi-camera 3D
reconstruction, ``--3d``), those coordinates are used (``use_3d="auto"``; ``True`` /
``False`` force it). They are in the units of the camera calibration (millimetres with
OpenPose's calibration tool: ``units_3d`` = metres per unit, default 0.001) and in the
first camera's OpenCV frame (x right, y down, z forward), so y is negated; the topology is
then the 3D variant (``openpose25_3d`` / ``openpose18_3d``), and people are still linked
by their 2D keypoints. Frames are taken as 30 fps unless ``fps=`` is given: the files do
not record it.

Honesty note: no OpenPose output file was available to the test suite; the layout follows
OpenPose's output documentation and published example files, and the tests write files
in that layout from the real Kinetics-skeleton clip (itself OpenPose COCO-18 output).
"""
from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import numpy as np

from ...errors import SkeletonFormatError
from ..sequence import SkeletonSequence
from ..topology import OPENPOSE18, OPENPOSE25, Topology
from ..reads import note_folder
from ._common import read_json
from ._people import DETECTED, Detection, fill_missing, keep_tracks, link_tracks, pixels_to_metres

SUFFIX = "_keypoints.json"
MODELS = {"BODY_25": OPENPOSE25, "COCO": OPENPOSE18}
FPS = 30.0


def frame_files(folder: Path) -> list[Path]:
    """The ``*_keypoints.json`` files of a folder, in frame order (numbers compared as numbers)."""
    def key(p: Path):
        return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", p.name)]
    note_folder(folder)          # a frame file added or removed changes the sequence
    return sorted((p for p in folder.iterdir() if p.name.endswith(SUFFIX) and p.is_file()), key=key)


def _model(path: Path, n: int, model: str | None, where: str) -> Topology:
    if model is not None:
        if model not in MODELS:
            raise ValueError(f"model must be one of {sorted(MODELS)}, got {model!r}")
        topo = MODELS[model]
        if n != 3 * topo.num_joints:
            raise SkeletonFormatError(path, f"'pose_keypoints_2d' holds {n} numbers, {model} needs "
                                      f"{3 * topo.num_joints}", where)
        return topo
    for topo in MODELS.values():
        if n == 3 * topo.num_joints:
            return topo
    raise SkeletonFormatError(path, f"'pose_keypoints_2d' holds {n} numbers: expected 75 (BODY_25: 25 keypoints x "
                              "(x, y, score)) or 54 (COCO: 18 x 3)", where)


def _numbers(path: Path, value, where: str, key: str) -> np.ndarray:
    try:
        arr = np.asarray(value if value is not None else [], dtype=np.float64)
    except (TypeError, ValueError):
        raise SkeletonFormatError(path, f"'{key}' must be a list of numbers", where) from None
    if arr.ndim != 1:
        raise SkeletonFormatError(path, f"'{key}' must be a flat list of numbers", where)
    if not np.isfinite(arr).all():
        raise SkeletonFormatError(path, f"NaN or infinite value in '{key}'", where)
    return arr


def read_frame(path: Path, model: str | None = None) -> tuple[list, Topology | None, object]:
    """One ``*_keypoints.json``: ``([(keypoints2d (J, 3), keypoints3d (J, 4) or None), ...], topology, version)``."""
    obj = read_json(path)
    if not isinstance(obj, dict) or not isinstance(obj.get("people"), list):
        raise SkeletonFormatError(path, "expected an object with a 'people' list (OpenPose --write_json layout)")
    people, topo = [], None
    for m, person in enumerate(obj["people"]):
        where = f"person {m}"
        if not isinstance(person, dict):
            raise SkeletonFormatError(path, "expected a person object", where)
        key = "pose_keypoints_2d" if "pose_keypoints_2d" in person else "pose_keypoints"
        if key not in person:
            raise SkeletonFormatError(path, "person has no 'pose_keypoints_2d'", where)
        kp = _numbers(path, person[key], where, key)
        if kp.size == 0:
            continue
        t = _model(path, kp.size, model, where)
        if topo is not None and t is not topo:
            raise SkeletonFormatError(path, "people of one file have different keypoint counts", where)
        topo = t
        kp3 = _numbers(path, person.get("pose_keypoints_3d"), where, "pose_keypoints_3d")
        if kp3.size and kp3.size != 4 * t.num_joints:
            raise SkeletonFormatError(path, f"'pose_keypoints_3d' holds {kp3.size} numbers, expected "
                                      f"{4 * t.num_joints} ({t.num_joints} x (x, y, z, score))", where)
        people.append((kp.reshape(-1, 3), kp3.reshape(-1, 4) if kp3.size else None))
    return people, topo, obj.get("version")


def read(path, max_people: int = 2, gate: float = 0.5, max_gap: int = 30, model: str | None = None,
         use_3d="auto", units_3d: float = 0.001, image_size=None, fps: float = FPS) -> list[SkeletonSequence]:
    """An OpenPose output folder (or one frame file) -> ``[SkeletonSequence]``."""
    path = Path(path)
    files = frame_files(path) if path.is_dir() else [path]
    if not files:
        raise SkeletonFormatError(path, f"no *{SUFFIX} files in the folder")
    scale = np.ones(2) if image_size is None else np.asarray(image_size, np.float64)
    frames: list[list[Detection]] = []
    topo, version, all_3d = None, None, True
    for f in files:
        people, t, version = read_frame(f, model)
        if t is not None:
            if topo is not None and t is not topo:
                raise SkeletonFormatError(f, f"{t.num_joints} keypoints per person, earlier frames have "
                                          f"{topo.num_joints}: one folder must hold one OpenPose model's output")
            topo = t
        dets = []
        for kp, kp3 in people:
            if not (kp[:, 2] > 0).any():
                continue
            all_3d &= kp3 is not None
            dets.append(Detection(kp[:, :2] * scale, kp[:, 2].astype(np.float32), float(kp[:, 2].sum()),
                                  extra=kp3 if kp3 is not None else np.zeros((len(kp), 4))))
        frames.append(dets)
    if topo is None or not any(frames):
        raise SkeletonFormatError(path, f"no person is detected in any of the {len(files)} frame files")
    want_3d = all_3d if use_3d == "auto" else bool(use_3d)
    if want_3d and not all_3d:
        raise SkeletonFormatError(path, "use_3d=True but some people have no 'pose_keypoints_3d'")
    tracks = link_tracks(frames, gate=gate, max_gap=max_gap, confident=DETECTED)
    xy, ks, present, kp3 = keep_tracks(tracks, len(frames), max_people)
    meta = {"source": str(path), "format": "openpose", "model": "BODY_25" if topo is OPENPOSE25 else "COCO",
            "version": version, "frame_files": len(files), "num_tracks": len(tracks),
            "num_detections": sum(len(f) for f in frames)}
    if want_3d:
        missing = kp3[..., 3] <= 0
        joints = fill_missing(kp3[..., :3], missing, topo) * float(units_3d)
        joints[..., 1] *= -1.0  # OpenCV camera frame: y points down
        joints[~present] = 0.0
        topo = replace(topo, name=f"{topo.name}_3d", dims=3)
        meta["units_3d"] = float(units_3d)
    else:
        xy = fill_missing(xy, ks <= 0, topo)
        joints, info = pixels_to_metres(xy, ks, present, topo, confident=DETECTED)
        meta.update(info)
    if image_size is not None:
        meta["image_size"] = [float(image_size[0]), float(image_size[1])]
    return [SkeletonSequence(joints=joints, present=present, topology=topo, scores=ks, fps=fps, metadata=meta)]


def sniff(path: Path, head: bytes) -> bool:
    """A folder holding ``*_keypoints.json`` files, or one such file."""
    if path.is_dir():
        try:
            return any(p.name.endswith(SUFFIX) for p in path.iterdir())
        except OSError:
            return False
    h = head.lstrip()
    if not (h.startswith(b"{") and b'"people"' in h):
        return False
    return path.name.endswith(SUFFIX) or b'"pose_keypoints_2d"' in h or b'"pose_keypoints"' in h
