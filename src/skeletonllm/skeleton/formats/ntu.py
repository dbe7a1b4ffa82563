"""NTU RGB+D ``.skeleton`` text files and the NTU authors' ``txt2npy`` dict ``.npy`` files.

``.skeleton`` layout (LF or CRLF line endings)::

    <frames>
    per frame:  <bodies>
      per body: <bodyID clippedEdges handLeftConf handLeftState handRightConf handRightState
                 isRestricted leanX leanY trackingState>          (10 values)
                <joints>                                          (always 25)
                25 x <x y z depthX depthY colorX colorY orientW orientX orientY orientZ trackingState>

Bodies are tracked across frames by ``bodyID``: each distinct id gets one body slot, in
order of first appearance; a slot is absent (``present`` False) in frames without its id.
Kinect sometimes reports short-lived spurious bodies; ``max_bodies`` (default 2) keeps the
ids seen in the most frames. Coordinates go through the Kinect -> canonical conversion of
:mod:`._common` (x negated, quaternions (w, x, -y, -z)). Orientations are kept; Kinect
leaves the leaf joints' quaternions at zero (head, feet, hand tips, thumbs), and those
copy their parent joint's orientation so that every quaternion is a rotation. The
per-joint tracking state (2 tracked, 1 inferred, 0 not tracked) becomes ``scores`` = state / 2.

Labels and metadata come from the file name ``SsssCcccPpppRrrrAaaa``: ``label_id = a - 1``,
the name from the NTU-120 class list (whose first 60 entries are NTU-60's); setup, camera,
subject and replication go to ``metadata``. Frames are at 30 fps.

``txt2npy`` files (``np.load(p, allow_pickle=True).item()`` in the authors' code) are a
pickled dict: ``file_name``, ``nbodys`` (bodies per frame), ``njoints``, ``skel_body{k}``
``(T, 25, 3)`` (xyz of the k-th body listed in each frame). They are read through the
restricted unpickler (:mod:`.safe_pickle`), never with ``allow_pickle``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import SkeletonFormatError
from ..sequence import SkeletonSequence
from ..splits import class_names, parse_ntu_name
from ..topology import NTU25
from ._common import (check_file, kinect_quat_to_canonical, kinect_to_canonical, parse_int, parse_rows,
                      read_text)
from .safe_pickle import load_npy, npy_header

NUM_JOINTS = 25
FPS = 30.0


@dataclass
class NTURaw:
    """The numbers of a ``.skeleton`` file, before any conversion.

    Attributes:
        body_ids: M body ids, in order of first appearance.
        values: ``(T, M, 25, 12)`` float64, the 12 per-joint columns of the file (zeros where absent).
        present: ``(T, M)`` bool.
    """

    body_ids: list[str]
    values: np.ndarray
    present: np.ndarray


def read_raw(path) -> NTURaw:
    """Parse a ``.skeleton`` file; errors name the line and what was expected there."""
    text = read_text(path)
    lines = text.splitlines()
    n = len(lines)

    def line(i):  # 0-based index -> text, None past the end
        return lines[i] if i < n else None

    num_frames = parse_int(path, line(0), 1, "the frame count")
    if num_frames == 0:
        raise SkeletonFormatError(path, "the header says 0 frames", "line 1")
    # Pass 1: walk the structure, remembering where each body's 25 joint rows start.
    blocks: list[tuple[int, int, int]] = []  # (frame, body slot, first joint line index)
    slot_of: dict[str, int] = {}
    i = 1
    for t in range(num_frames):
        nb = parse_int(path, line(i), i + 1, f"the body count of frame {t + 1} of {num_frames}")
        i += 1
        for b in range(nb):
            info = line(i)
            if info is None:
                raise SkeletonFormatError(path, f"file ends early: expected body {b + 1} of frame {t + 1}",
                                          f"line {i + 1}")
            parts = info.split()
            if len(parts) != 10:
                raise SkeletonFormatError(path, f"expected a body line of 10 values (frame {t + 1}, body {b + 1}), "
                                          f"found {len(parts)} values", f"line {i + 1}")
            slot = slot_of.setdefault(parts[0], len(slot_of))
            nj = parse_int(path, line(i + 1), i + 2, f"the joint count of frame {t + 1}, body {b + 1}")
            if nj != NUM_JOINTS:
                raise SkeletonFormatError(path, f"expected {NUM_JOINTS} joints per body (Kinect v2), "
                                          f"found {nj}", f"line {i + 2}")
            if i + 2 + NUM_JOINTS > n:
                raise SkeletonFormatError(path, f"file ends early: frame {t + 1}, body {b + 1} needs {NUM_JOINTS} "
                                          f"joint lines, only {n - i - 2} left", f"line {n}")
            blocks.append((t, slot, i + 2))
            i += 2 + NUM_JOINTS
    rest = [k for k in range(i, n) if lines[k].strip()]
    if rest:
        raise SkeletonFormatError(path, f"unexpected content after the last of the {num_frames} frames "
                                  "the header announces", f"line {rest[0] + 1}")
    # Pass 2: convert every joint row at once (the per-line re-check only runs on errors).
    M = max(len(slot_of), 1)
    values = np.zeros((num_frames, M, NUM_JOINTS, 12))
    present = np.zeros((num_frames, M), bool)
    if blocks:
        rows = [lines[k] for _, _, s in blocks for k in range(s, s + NUM_JOINTS)]
        try:
            flat = parse_rows(path, rows, 1, 12, "joint values")
        except SkeletonFormatError as exc:
            # Re-locate the bad row in file coordinates (parse_rows numbered them 1..N).
            row = int(exc.location.split()[-1]) - 1 if exc.location and exc.location.startswith("line ") else 0
            t, _, s = blocks[row // NUM_JOINTS]
            raise SkeletonFormatError(path, exc.problem + f" in frame {t + 1}",
                                      f"line {s + row % NUM_JOINTS + 1}") from None
        flat = flat.reshape(len(blocks), NUM_JOINTS, 12)
        for k, (t, slot, _) in enumerate(blocks):
            if present[t, slot]:
                raise SkeletonFormatError(path, f"body id listed twice in frame {t + 1}", f"line {blocks[k][2] - 1}")
            values[t, slot] = flat[k]
            present[t, slot] = True
    return NTURaw(body_ids=list(slot_of), values=values, present=present)


def _keep_bodies(present: np.ndarray, max_bodies: int | None) -> np.ndarray:
    """Slots to keep: those present in the most frames, in their original order."""
    M = present.shape[1]
    if max_bodies is None or M <= max_bodies:
        return np.arange(M)
    order = np.argsort(-present.sum(axis=0), kind="stable")[:max_bodies]
    return np.sort(order)


def _fill_leaf_orientations(q: np.ndarray) -> np.ndarray:
    """``(T, M, 25, 4)``: unit quaternions; zero ones copy their parent's (identity at the root)."""
    q = q.copy()
    norm = np.linalg.norm(q, axis=-1, keepdims=True)
    zero = norm[..., 0] < 1e-6
    q = np.where(zero[..., None], 0.0, q / np.where(norm < 1e-6, 1.0, norm))
    root = zero[..., 0]
    q[..., 0, :][root] = (1.0, 0.0, 0.0, 0.0)
    for parent, child in NTU25.bones:  # bones are listed parents-first
        z = zero[..., child]
        q[..., child, :][z] = q[..., parent, :][z]
    return q


def _label(path: Path, meta: dict) -> tuple[str | None, int | None]:
    info = parse_ntu_name(path.name)
    if info is None:
        return None, None
    meta.update({k: info[k] for k in ("setup", "camera", "subject", "replication")})
    meta["action"] = f"A{info['action']:03d}"
    names = class_names("ntu120")
    label_id = info["action"] - 1
    return (names[label_id] if label_id < len(names) else None), label_id


def read(path, max_bodies: int | None = 2) -> list[SkeletonSequence]:
    """One NTU ``.skeleton`` file -> ``[SkeletonSequence]`` (ntu25, with orientations)."""
    path = Path(path)
    raw = read_raw(path)
    if not raw.present.any():
        raise SkeletonFormatError(path, "no body in any frame")
    keep = _keep_bodies(raw.present, max_bodies)
    v = raw.values[:, keep]
    present = raw.present[:, keep]
    meta = {"source": str(path), "format": "ntu", "body_ids": [raw.body_ids[k] for k in keep]}
    label, label_id = _label(path, meta)
    orient = _fill_leaf_orientations(kinect_quat_to_canonical(v[..., 7:11]))
    return [SkeletonSequence(
        joints=kinect_to_canonical(v[..., :3]), present=present, topology=NTU25,
        orientations=orient, scores=(v[..., 11] / 2.0).astype(np.float32), fps=FPS,
        label=label, label_id=label_id, metadata=meta)]


def read_txt2npy(path, max_bodies: int | None = 2) -> list[SkeletonSequence]:
    """An NTU ``txt2npy`` dict ``.npy`` -> ``[SkeletonSequence]`` (ntu25, xyz only)."""
    path = check_file(path)
    arr = load_npy(path)
    obj = arr.item() if isinstance(arr, np.ndarray) and arr.dtype == object and arr.shape == () else None
    if not isinstance(obj, dict):
        raise SkeletonFormatError(path, "expected a pickled dict with keys file_name, nbodys, njoints, skel_body0 "
                                  "(the NTU txt2npy layout)")
    keys = sorted((k for k in obj if isinstance(k, str) and k.startswith("skel_body")),
                  key=lambda k: int(k[9:]) if k[9:].isdigit() else 0)
    if not keys:
        raise SkeletonFormatError(path, "no 'skel_body0' array in the dict (NTU txt2npy layout expected)",
                                  "key skel_body0")
    bodies = []
    for k in keys:
        a = obj[k]
        if not isinstance(a, np.ndarray) or a.ndim != 3 or a.shape[1:] != (NUM_JOINTS, 3):
            raise SkeletonFormatError(path, f"expected an array shaped (T, 25, 3), got "
                                      f"{getattr(a, 'shape', type(a).__name__)}", f"key {k}")
        bodies.append(np.asarray(a, dtype=np.float64))
    T = bodies[0].shape[0]
    if any(b.shape[0] != T for b in bodies) or T == 0:
        raise SkeletonFormatError(path, "skel_body arrays disagree on the frame count (or have none)")
    xyz = np.stack(bodies, axis=1)  # (T, M, 25, 3)
    bad = np.argwhere(~np.isfinite(xyz))
    if bad.size:
        raise SkeletonFormatError(path, "NaN or infinite coordinate", f"key {keys[bad[0][1]]}, frame {bad[0][0]}")
    nbodys = obj.get("nbodys")
    if isinstance(nbodys, (list, tuple, np.ndarray)) and len(nbodys) == T:
        present = np.arange(len(keys))[None, :] < np.asarray(nbodys, dtype=np.int64)[:, None]
    else:  # no per-frame count: a body is there where its rows are not all zero
        present = np.abs(xyz).sum(axis=(2, 3)) > 0
    keep = _keep_bodies(present, max_bodies)
    name = str(obj.get("file_name") or path.name)
    meta = {"source": str(path), "format": "ntu_npy", "file_name": name}
    label, label_id = _label(Path(name), meta)
    if label is None:
        label, label_id = _label(path, meta)
    return [SkeletonSequence(joints=kinect_to_canonical(xyz[:, keep]), present=present[:, keep], topology=NTU25,
                             fps=FPS, label=label, label_id=label_id, metadata=meta)]


def sniff_skeleton(path: Path, head: bytes) -> bool:
    """An integer line, an integer line, then a 10-value body line (or 0 bodies)."""
    lines = head.decode("latin1").splitlines()[:3]
    return len(lines) >= 2 and lines[0].strip().isdigit() and lines[1].strip().isdigit() and (
        len(lines) < 3 or len(lines[2].split()) in (1, 10))


def sniff_txt2npy(path: Path, head: bytes) -> bool:
    """A ``.npy`` holding a pickled object (the only kind of pickled .npy we read)."""
    h = npy_header(path)
    return h is not None and h[1].hasobject
