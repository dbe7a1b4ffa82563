"""MediaPipe Pose landmarks (33 per person: x, y, z, visibility) saved per video as JSON or CSV.

MediaPipe itself writes no file, so there is no one layout; these are the ones its users'
scripts commonly write (one person per frame):

JSON, either a list of frame records or an object holding that list under ``frames``,
``poses``, ``keyframes`` or ``data`` (with optional ``fps`` / ``frame_rate`` /
``frameRate`` and ``width`` / ``height`` or ``frame_size`` / ``image_size`` = [w, h]).
A frame record is the 33 landmarks themselves or an object with them under
``pose_landmarks``, ``landmarks`` or ``keypoints`` (``null`` or empty: no person in that
frame), optionally ``pose_world_landmarks`` / ``world_landmarks``, and optionally its frame
number (``frame``, ``frame_index``, ``frame_idx``, ``frame_number``, ``frame_id``), so
frames skipped by the writer stay in the sequence as absent. A landmark is an object
``{"x", "y", "z", "visibility"}`` (z and visibility optional) or a list ``[x, y, z,
visibility]``.

CSV with a header row, either wide (one row per frame; columns such as ``x0 y0 z0 v0 ...``,
``x1 ... v33``, ``landmark_0_x``, ``0_x`` or ``NOSE_x`` / ``left_shoulder_visibility``:
33 landmarks, 0- or 1-based, axes x, y, optional z, optional v / vis / visibility) or
long (one row per landmark: a frame column, a landmark-index column and x, y, optional z
and visibility). An optional frame column (``frame``, ``frame_id``, ``frame_index``, ...)
gives frame numbers. A row whose landmark cells are all empty (or all NaN) is a frame
without a person; a row with only some of them missing is an error.

Coordinates. World landmarks (metres, origin between the hips, y down) are used when
every frame with a person has them (``coordinates="auto"``; ``"image"`` / ``"world"``
force a choice): canonical = (x, -y, z). Image landmarks are x, y normalised by the
image width and height and z, a depth relative to the hips in the scale of x; they are
turned into pixels with the image size (from the file or ``image_size=(w, h)``; without
either, a square image is assumed and ``metadata["aspect_assumed"]`` is True) and then
into nominal metres like every 2D detector's output (:mod:`._people`), z included
(larger = farther from the camera in both MediaPipe and the canonical frame). Without a
z value the topology is the 2D variant ``mediapipe33_2d``. Visibility goes to
``scores`` (1 where the file has none). 30 fps unless the file or ``fps=`` says otherwise.

Honesty note: no MediaPipe output file was available to the test suite; the tests write
files in the layouts above.
"""
from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np

from ...errors import SkeletonFormatError
from ..sequence import SkeletonSequence
from ..topology import MEDIAPIPE33
from ._common import read_text
from ._people import pixels_to_metres

NUM_JOINTS = 33
FPS = 30.0
_LIST_KEYS = ("frames", "poses", "keyframes", "data")
_LANDMARK_KEYS = ("pose_landmarks", "landmarks", "keypoints")
_WORLD_KEYS = ("pose_world_landmarks", "world_landmarks")
_FRAME_KEYS = ("frame", "frame_index", "frame_idx", "frame_number", "frame_id", "frame_num")
_FPS_KEYS = ("fps", "frame_rate", "frameRate")
_AXES = {"x": 0, "y": 1, "z": 2, "v": 3, "vis": 3, "visibility": 3}


# -- JSON --------------------------------------------------------------------------------------
def _landmarks(path, value, where: str) -> np.ndarray | None:
    """33 landmarks -> ``(33, 4)`` x, y, z, visibility (NaN where absent); None for no person."""
    if value is None or (isinstance(value, list) and not value):
        return None
    if isinstance(value, dict) and "landmark" in value:  # a protobuf-style {"landmark": [...]}
        value = value["landmark"]
    if not isinstance(value, list) or len(value) != NUM_JOINTS:
        n = len(value) if isinstance(value, list) else type(value).__name__
        raise SkeletonFormatError(path, f"expected 33 MediaPipe Pose landmarks, found {n}", where)
    out = np.full((NUM_JOINTS, 4), np.nan)
    for j, lm in enumerate(value):
        try:
            if isinstance(lm, dict):
                vals = [lm.get(k) for k in ("x", "y", "z", "visibility")]
            else:
                vals = list(lm) + [None] * (4 - len(lm))
                if len(vals) != 4:
                    raise ValueError
            out[j] = [np.nan if v is None else float(v) for v in vals]
        except (TypeError, ValueError):
            raise SkeletonFormatError(path, "a landmark must be {x, y, z, visibility} or [x, y, z, visibility] "
                                      "numbers", f"{where}, landmark {j}") from None
        if not np.isfinite(out[j, :2]).all() or np.isinf(out[j]).any():
            raise SkeletonFormatError(path, "NaN or infinite coordinate", f"{where}, landmark {j}")
    if np.isnan(out[:, 2]).any() and not np.isnan(out[:, 2]).all():
        raise SkeletonFormatError(path, "some landmarks have z and some do not", where)
    return out


def _json_frames(path: Path, obj) -> tuple[list, dict]:
    info = {}
    if isinstance(obj, dict):
        key = next((k for k in _LIST_KEYS if isinstance(obj.get(k), list)), None)
        if key is None:
            raise SkeletonFormatError(path, f"expected a list of frames or an object with one of {list(_LIST_KEYS)}")
        info = obj
        obj = obj[key]
    if not isinstance(obj, list) or not obj:
        raise SkeletonFormatError(path, "no frames in the file")
    image, world, numbers = [], [], []
    for k, rec in enumerate(obj):
        where = f"frame record {k}"
        if isinstance(rec, dict):
            lkey = next((x for x in _LANDMARK_KEYS if x in rec), None)
            wkey = next((x for x in _WORLD_KEYS if x in rec), None)
            if lkey is None and wkey is None:
                raise SkeletonFormatError(path, f"frame record has none of {list(_LANDMARK_KEYS + _WORLD_KEYS)}", where)
            image.append(_landmarks(path, rec.get(lkey), where) if lkey else None)
            world.append(_landmarks(path, rec.get(wkey), where + " (world)") if wkey else None)
            fkey = next((x for x in _FRAME_KEYS if x in rec), None)
            numbers.append(rec[fkey] if fkey else None)
        else:
            image.append(_landmarks(path, rec, where))
            world.append(None)
            numbers.append(None)
    return _frame_order(path, numbers, image, world), info


# -- CSV ---------------------------------------------------------------------------------------
_NAMES = {n: j for j, n in enumerate(MEDIAPIPE33.joint_names)}
_AXIS = r"(?P<axis>x|y|z|v|vis|visibility)"
_PATTERNS = (
    re.compile(rf"^{_AXIS}_?(?P<idx>\d+)$"),
    re.compile(rf"^(?:landmark|lm|kp|keypoint|joint|point|pose)?_?(?P<idx>\d+)[_.]{_AXIS}$"),
    re.compile(rf"^(?P<name>[a-z_]+?)[_.]{_AXIS}$"),
)


def _wide_columns(header: list[str]) -> dict[tuple[int, int], int] | None:
    """``{(landmark, axis): column}`` for a wide header, or None if it is not one."""
    found, by_number = {}, {}
    for c, raw in enumerate(header):
        name = raw.strip().lower()
        for pat in _PATTERNS:
            m = pat.match(name)
            if m is None:
                continue
            axis = _AXES[m.group("axis")]
            if "idx" in m.groupdict() and m.group("idx") is not None:
                by_number[(int(m.group("idx")), axis)] = c
            elif m.group("name") in _NAMES:
                found[(_NAMES[m.group("name")], axis)] = c
            break
    if by_number:
        idx = {i for i, _ in by_number}
        base = 0 if idx == set(range(NUM_JOINTS)) else 1 if idx == set(range(1, NUM_JOINTS + 1)) else None
        if base is None:
            return None
        found = {(i - base, a): c for (i, a), c in by_number.items()}
    if any((j, a) not in found for j in range(NUM_JOINTS) for a in (0, 1)):
        return None
    return found


def _long_columns(header: list[str]) -> dict[str, int] | None:
    low = [h.strip().lower() for h in header]
    frame = next((low.index(k) for k in _FRAME_KEYS if k in low), None)
    lm = next((low.index(k) for k in ("landmark", "landmark_id", "landmark_index", "landmark_idx", "keypoint",
                                      "keypoint_id", "joint", "joint_id", "id") if k in low), None)
    if frame is None or lm is None or "x" not in low or "y" not in low:
        return None
    cols = {"frame": frame, "landmark": lm, "x": low.index("x"), "y": low.index("y")}
    for key in ("z", "visibility", "vis", "v"):
        if key in low:
            cols["z" if key == "z" else "v"] = low.index(key)
    return cols


def _cell(path, row: list[str], c: int, lineno: int) -> float:
    text = row[c].strip() if c < len(row) else ""
    if not text:
        return np.nan
    try:
        v = float(text)
    except ValueError:
        raise SkeletonFormatError(path, f"'{text[:40]}' is not a number", f"line {lineno}, column {c + 1}") from None
    if np.isinf(v):
        raise SkeletonFormatError(path, "infinite value", f"line {lineno}, column {c + 1}")
    return v


def _csv_frames(path: Path, text: str) -> list:
    rows = list(csv.reader(io.StringIO(text)))
    if len(rows) < 2:
        raise SkeletonFormatError(path, "expected a header row and at least one data row")
    header = rows[0]
    low = [h.strip().lower() for h in header]
    wide = _wide_columns(header)
    if wide is not None:
        fcol = next((low.index(k) for k in _FRAME_KEYS if k in low), None)
        image, numbers = [], []
        for k, row in enumerate(rows[1:]):
            if not any(cell.strip() for cell in row):
                continue
            lineno = k + 2
            arr = np.full((NUM_JOINTS, 4), np.nan)
            for (j, a), c in wide.items():
                arr[j, a] = _cell(path, row, c, lineno)
            numbers.append(_cell(path, row, fcol, lineno) if fcol is not None else None)
            image.append(_check_row(path, arr, lineno))
        return _frame_order(path, numbers, image, [None] * len(image))
    cols = _long_columns(header)
    if cols is None:
        raise SkeletonFormatError(path, "the header names neither 33 landmarks' x/y columns (wide layout) nor "
                                  "frame, landmark, x, y columns (long layout)", "line 1")
    per_frame: dict[float, np.ndarray] = {}
    line_of: dict[float, int] = {}
    for k, row in enumerate(rows[1:]):
        if not any(cell.strip() for cell in row):
            continue
        lineno = k + 2
        f = _cell(path, row, cols["frame"], lineno)
        j = _cell(path, row, cols["landmark"], lineno)
        if not (np.isfinite(f) and np.isfinite(j)) or j != int(j) or not 0 <= j < NUM_JOINTS:
            raise SkeletonFormatError(path, "frame and landmark must be numbers, landmark 0..32", f"line {lineno}")
        arr = per_frame.setdefault(f, np.full((NUM_JOINTS, 4), np.nan))
        line_of.setdefault(f, lineno)
        arr[int(j)] = [_cell(path, row, cols[a], lineno) if a in cols else np.nan for a in ("x", "y", "z", "v")]
    order = sorted(per_frame)
    image = [_check_row(path, per_frame[f], line_of[f], long=True) for f in order]
    return _frame_order(path, order, image, [None] * len(image))


def _check_row(path, arr: np.ndarray, lineno: int, long: bool = False) -> np.ndarray | None:
    xy = arr[:, :2]
    if np.isnan(xy).all() and np.isnan(arr[:, 2:]).all():
        return None  # a frame without a person
    if np.isnan(xy).any():
        j = int(np.argwhere(np.isnan(xy))[0][0])
        what = f"landmark {j} is missing" if long else f"landmark {j} has an empty or NaN coordinate"
        raise SkeletonFormatError(path, what + " (a frame must give all 33 landmarks or none)",
                                  f"frame starting at line {lineno}" if long else f"line {lineno}")
    if np.isnan(arr[:, 2]).any() and not np.isnan(arr[:, 2]).all():
        raise SkeletonFormatError(path, "some landmarks have z and some do not", f"line {lineno}")
    return arr


# -- both --------------------------------------------------------------------------------------
def _frame_order(path, numbers: list, image: list, world: list):
    """Place records by their frame numbers (gaps become absent frames), or in file order."""
    if any(n is not None for n in numbers):
        if any(n is None or not isinstance(n, (int, float)) or n != int(n) or n < 0 for n in numbers):
            raise SkeletonFormatError(path, "frame numbers must be non-negative integers on every record")
        nums = [int(n) for n in numbers]
        if len(set(nums)) != len(nums):
            raise SkeletonFormatError(path, "the same frame number appears twice")
        base = min(nums)
        T = max(nums) - base + 1
        slots = [n - base for n in nums]
    else:
        T, slots = len(image), list(range(len(image)))
    out_i, out_w = [None] * T, [None] * T
    for s, a, b in zip(slots, image, world):
        out_i[s], out_w[s] = a, b
    return out_i, out_w


def read(path, coordinates: str = "auto", image_size=None, fps: float | None = None) -> list[SkeletonSequence]:
    """A MediaPipe Pose JSON or CSV file -> ``[SkeletonSequence]`` (``mediapipe33``, one person)."""
    if coordinates not in ("auto", "image", "world"):
        raise ValueError(f"coordinates must be 'auto', 'image' or 'world', got {coordinates!r}")
    path = Path(path)
    text = read_text(path)
    info: dict = {}
    if text.lstrip()[:1] in ("[", "{"):
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SkeletonFormatError(path, f"not valid JSON ({exc.msg})",
                                      f"line {exc.lineno}, column {exc.colno}") from None
        (image, world), info = _json_frames(path, obj)
    else:
        image, world = _csv_frames(path, text)
    present = np.array([i is not None or w is not None for i, w in zip(image, world)])
    if not present.any():
        raise SkeletonFormatError(path, "no frame has a person")
    has_world = all(w is not None for w, p in zip(world, present) if p)
    use_world = has_world if coordinates == "auto" else coordinates == "world"
    src = world if use_world else image
    if any(s is None for s, p in zip(src, present) if p):
        raise SkeletonFormatError(path, f"coordinates='{coordinates}' but some frames have no "
                                  f"{'world' if use_world else 'image'} landmarks")
    T = len(src)
    lm = np.zeros((T, 1, NUM_JOINTS, 4))
    for t, a in enumerate(src):
        if a is not None:
            lm[t, 0] = a
    has_z = not np.isnan(lm[present][..., 2]).any()
    vis = np.where(np.isnan(lm[..., 3]), 1.0, lm[..., 3]).astype(np.float32)
    vis[~present] = 0.0
    pres = present[:, None]
    meta = {"source": str(path), "format": "mediapipe", "coordinates": "world" if use_world else "image"}
    if use_world:
        joints = np.nan_to_num(lm[..., :3]) * [1.0, -1.0, 1.0]
        joints[~pres] = 0.0
    else:
        size = image_size or _image_size(info)
        meta["aspect_assumed"] = size is None
        w, h = (1.0, 1.0) if size is None else (float(size[0]), float(size[1]))
        xy = lm[..., :2] * [w, h]
        depth = lm[..., 2] * w if has_z else None
        joints, px = pixels_to_metres(xy, vis, pres, MEDIAPIPE33, depth=depth, confident=0.5)
        meta.update(px, image_size=None if size is None else [w, h])
    topo = MEDIAPIPE33 if has_z else replace(MEDIAPIPE33, name="mediapipe33_2d", dims=2)
    if not has_z:
        joints[..., 2] = 0.0
    rate = fps or next((float(info[k]) for k in _FPS_KEYS if isinstance(info.get(k), (int, float))), FPS)
    return [SkeletonSequence(joints=joints, present=pres, topology=topo, scores=vis, fps=rate, metadata=meta)]


def _image_size(info: dict):
    if isinstance(info.get("width"), (int, float)) and isinstance(info.get("height"), (int, float)):
        return info["width"], info["height"]
    for key in ("frame_size", "image_size"):
        v = info.get(key)
        if isinstance(v, (list, tuple)) and len(v) == 2 and all(isinstance(x, (int, float)) for x in v):
            return v
    return None


def sniff(path: Path, head: bytes) -> bool:
    h = head.lstrip()
    if h[:1] in (b"[", b"{"):
        return (b'"pose_landmarks"' in h or b'"pose_world_landmarks"' in h or b'"world_landmarks"' in h
                or (b'"landmarks"' in h and b'"visibility"' in h))
    first = h.split(b"\n", 1)[0].rstrip(b"\r")
    if b"," not in first or b"\x00" in first:
        return False
    try:
        header = next(csv.reader([first.decode("utf-8", "replace")]), [])
    except csv.Error:
        return False
    return _wide_columns(header) is not None or _long_columns(header) is not None
