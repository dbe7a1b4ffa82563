"""HumanML3D motions: ``new_joints/<id>.npy`` ``(T, 22, 3)`` and ``new_joint_vecs/<id>.npy`` ``(T, 263)``.

Both are SMPL body joints (``smpl22``), metres, y up, 20 fps, the subject standing on
the floor (y = 0) with the root at x = z = 0 and facing +z in the first frame. The data
are right-handed: the subject's right hip has the smaller x. Our canonical frame is a
camera's view (x right, y up, z away), so the conversion is ``(x, y, z) -> (x, y, -z)``:
the subject faces the camera and, as in a photograph of someone facing you, their right
side is on the viewer's left. (A 180-degree turn about y would also face the camera but
would show a mirror image: the subject's right side on the viewer's right, disagreeing
with the Kinect and COCO loaders.)

Captions come from the sibling ``texts/<id>.txt`` (one per line,
``caption#word/POS ...#start#end``; start/end in seconds, 0 meaning the whole clip):
``metadata["captions"]`` holds the caption strings and ``metadata["caption_records"]``
dicts with ``caption``, ``tokens``, ``start``, ``end``.

The 263-d vectors are (per frame) root angular velocity about y (1), root linear
velocity in xz expressed in the root's facing frame (2), root height (1), the 21 other
joints' positions relative to the root, in the root's facing frame (63), joint rotations
(126), local velocities (66) and foot contacts (4). :func:`recover_joints` rebuilds
positions from the first four groups alone: integrate the angular velocity into a
heading, rotate the linear velocity back into world axes and integrate it, take the
height as is, and rotate the local positions back by the heading before adding the root's
xz. This is the standard HumanML3D recovery written out in numpy.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...errors import SkeletonFormatError
from ..sequence import SkeletonSequence
from ..topology import SMPL22
from ..reads import note_file
from ._common import check_file, first_nonfinite, read_text
from .safe_pickle import load_npy, npy_header

FPS = 20.0
NUM_JOINTS = 22
VEC_DIM = 263


def recover_joints(vecs: np.ndarray, num_joints: int = NUM_JOINTS) -> np.ndarray:
    """``(T, D)`` HumanML3D features -> ``(T, J, 3)`` joint positions (data frame, y up).

    The heading before frame t is the sum of the angular velocities of frames < t; the
    quaternion convention of the original code, ``(cos a, 0, sin a, 0)``, is a rotation by
    2a about y, and features are in the root's frame, so world = R_y(-2a) @ local.
    """
    vecs = np.asarray(vecs, dtype=np.float64)
    T = vecs.shape[0]
    half = np.concatenate([[0.0], np.cumsum(vecs[:-1, 0])])  # (T,) the "a" above
    phi = -2.0 * half  # world-from-local rotation angle about y
    c, s = np.cos(phi), np.sin(phi)

    def to_world(v):  # rotate (..., 3) vectors about y by phi (broadcast over frames)
        x, z = v[..., 0], v[..., 2]
        shp = (T,) + (1,) * (v.ndim - 2)
        cc, ss = c.reshape(shp), s.reshape(shp)
        return np.stack([cc * x + ss * z, v[..., 1], -ss * x + cc * z], axis=-1)

    vel = np.zeros((T, 3))
    vel[1:, [0, 2]] = vecs[:-1, 1:3]  # velocity of frame t-1 moves the root into frame t
    root = np.cumsum(to_world(vel), axis=0)
    root[:, 1] = vecs[:, 3]
    local = vecs[:, 4:4 + (num_joints - 1) * 3].reshape(T, num_joints - 1, 3)
    others = to_world(local)
    others[..., 0] += root[:, None, 0]
    others[..., 2] += root[:, None, 2]
    return np.concatenate([root[:, None], others], axis=1)


def _to_canonical(j: np.ndarray) -> np.ndarray:
    out = np.array(j, dtype=np.float32, copy=True)
    out[..., 2] *= -1.0
    return out


def read_captions(path) -> list[dict]:
    """Caption records of a ``texts/<id>.txt`` file."""
    records = []
    for lineno, line in enumerate(read_text(path).splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split("#")
        if len(parts) != 4:
            raise SkeletonFormatError(path, f"expected 'caption#tokens#start#end', found {len(parts)} fields",
                                      f"line {lineno}")
        try:
            start, end = float(parts[2]), float(parts[3])
        except ValueError:
            raise SkeletonFormatError(path, "start and end must be numbers (seconds)", f"line {lineno}") from None
        records.append({"caption": parts[0].strip(), "tokens": parts[1].split(), "start": start, "end": end})
    return records


def _text_file(path: Path) -> Path | None:
    cand = path.parent.parent / "texts" / (path.stem + ".txt")
    note_file(cand)              # looked for: a caption file that appears later changes the result
    return cand if cand.is_file() else None


def _load_array(path: Path, want: str) -> np.ndarray:
    check_file(path)
    arr = load_npy(path)
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise SkeletonFormatError(path, f"expected a numeric array shaped {want}, got dtype {arr.dtype}")
    return arr.astype(np.float64)


def _sequence(path: Path, joints: np.ndarray, fmt: str, extra: dict) -> SkeletonSequence:
    meta = {"source": str(path), "format": fmt, "id": path.stem, **extra}
    txt = _text_file(path)
    if txt is not None:
        records = read_captions(txt)
        meta.update(captions=[r["caption"] for r in records], caption_records=records, text_file=str(txt))
    T = joints.shape[0]
    return SkeletonSequence(joints=_to_canonical(joints)[:, None], present=np.ones((T, 1), bool),
                            topology=SMPL22, fps=FPS, metadata=meta)


def read_joints(path) -> list[SkeletonSequence]:
    """``new_joints/<id>.npy`` -> ``[SkeletonSequence]`` (smpl22, captions in metadata)."""
    path = Path(path)
    arr = _load_array(path, "(T, 22, 3)")
    if arr.ndim != 3 or arr.shape[1:] != (NUM_JOINTS, 3) or arr.shape[0] == 0:
        raise SkeletonFormatError(path, f"expected HumanML3D joints shaped (T, 22, 3), got {arr.shape}")
    first_nonfinite(path, arr, ("frame", "joint", "coordinate"), "joint positions")
    return [_sequence(path, arr, "humanml3d", {})]


def read_vectors(path) -> list[SkeletonSequence]:
    """``new_joint_vecs/<id>.npy`` ``(T, 263)`` -> joints recovered by :func:`recover_joints`."""
    path = Path(path)
    arr = _load_array(path, "(T, 263)")
    if arr.ndim != 2 or arr.shape[1] != VEC_DIM or arr.shape[0] == 0:
        raise SkeletonFormatError(path, f"expected HumanML3D feature vectors shaped (T, 263), got {arr.shape}")
    first_nonfinite(path, arr, ("frame", "feature"), "feature vectors")
    return [_sequence(path, recover_joints(arr), "humanml3d_vecs", {"recovered_from": "new_joint_vecs"})]


def sniff_joints(path: Path, head: bytes) -> bool:
    h = npy_header(path)
    return h is not None and len(h[0]) == 3 and h[0][1:] == (NUM_JOINTS, 3)


def sniff_vectors(path: Path, head: bytes) -> bool:
    h = npy_header(path)
    return h is not None and len(h[0]) == 2 and h[0][1] == VEC_DIM
