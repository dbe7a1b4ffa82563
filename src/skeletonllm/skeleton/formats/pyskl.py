"""PYSKL / mmaction2 skeleton annotation pickles.

Layout: ``{"split": {name: [frame_dir, ...]}, "annotations": [ann, ...]}`` where each
``ann`` has ``frame_dir`` (sample name), ``label`` (0-based int), ``keypoint``
``(M, T, V, C)``, optionally ``keypoint_score`` ``(M, T, V)``, ``total_frames`` and
``img_shape`` ``(h, w)``. Without a ``topology`` key, ``V == 25, C == 3`` is NTU 3D data in Kinect camera space
(converted like the ``.skeleton`` loader: x negated); ``V == 17`` is COCO-17 2D pixels
(``C == 2``, or ``C == 3`` with the score as third channel), converted to nominal metres
as in :mod:`.coco_json`. A body slot is absent in a frame where all its values are zero.

Files written by ``skeletonllm convert`` carry extra keys (see :mod:`..convert`) that this
reader honours: ``topology`` (any built-in or a full definition), ``coordinates``
(``kinect``, ``pixels`` or ``canonical`` metres), ``fps``, ``label_name`` and, for pixels,
the ``pixel_origin`` / ``metres_per_pixel`` that map them back to the same metres.

Honesty note: no real PYSKL file was available when this reader was written. It follows
the published layout, and the test builds such a pickle from the real NTU ``.skeleton``
sample (``keypoint`` = the raw Kinect xyz as ``(M, T, 25, 3)``) and reads it back.

The pickle is read with the restricted unpickler (:mod:`.safe_pickle`): a pickle that
tries to call anything but numpy array reconstruction is refused before it runs.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...errors import SkeletonFormatError
from ..sequence import SkeletonSequence
from ..splits import class_names, parse_ntu_name
from ..topology import BUILTIN_TOPOLOGIES, COCO17, NTU25, Topology
from ._common import check_file, kinect_to_canonical
from ._people import pixels_to_metres, pixels_to_metres_with
from .safe_pickle import load_pickle_bytes

FPS = 30.0


def _annotations(path: Path) -> tuple[list[dict], dict]:
    obj = load_pickle_bytes(check_file(path).read_bytes(), path)
    if isinstance(obj, dict) and "annotations" in obj:
        anns, split = obj["annotations"], obj.get("split") or {}
    elif isinstance(obj, list):  # older mmaction2 dumps: the annotation list alone
        anns, split = obj, {}
    else:
        raise SkeletonFormatError(path, "expected a dict with 'annotations' (and 'split'), the PYSKL layout")
    if not isinstance(anns, list) or not anns:
        raise SkeletonFormatError(path, "'annotations' must be a non-empty list", "key 'annotations'")
    if not isinstance(split, dict):
        raise SkeletonFormatError(path, "'split' must map split names to lists of frame_dir", "key 'split'")
    return anns, split


def _convert(path: Path, k: int, ann, splits_of: dict) -> SkeletonSequence:
    where = f"annotation {k}"
    if not isinstance(ann, dict) or "keypoint" not in ann:
        raise SkeletonFormatError(path, "expected a dict with 'keypoint' (M, T, V, C)", where)
    kp = ann["keypoint"]
    if not isinstance(kp, np.ndarray) or kp.ndim != 4 or not np.issubdtype(kp.dtype, np.number):
        raise SkeletonFormatError(path, f"'keypoint' must be a numeric array (M, T, V, C), got "
                                  f"{getattr(kp, 'shape', type(kp).__name__)}", where)
    M, T, V, C = kp.shape
    if M == 0 or T == 0:
        raise SkeletonFormatError(path, f"'keypoint' has no bodies or no frames (shape {kp.shape})", where)
    if not np.isfinite(kp).all():
        m, t, v, _ = np.argwhere(~np.isfinite(kp))[0]
        raise SkeletonFormatError(path, "NaN or infinite keypoint value", f"{where}, body {m}, frame {t}, joint {v}")
    kp = np.transpose(kp.astype(np.float64), (1, 0, 2, 3))  # (T, M, V, C)
    name = str(ann.get("frame_dir", f"sample{k}"))
    meta = {"source": str(path), "format": "pyskl", "frame_dir": name, "index": k,
            "splits": splits_of.get(name, [])}
    if "img_shape" in ann:
        meta["img_shape"] = [int(x) for x in ann["img_shape"]]
    label_id = ann.get("label")
    label_id = int(label_id) if isinstance(label_id, (int, np.integer)) and label_id >= 0 else None
    label = None
    topo, coords = _layout(path, ann, V, C, where)
    if coords == "kinect":
        present = np.abs(kp).sum(axis=(2, 3)) > 0
        joints, scores = kinect_to_canonical(kp), None
        ntu = parse_ntu_name(name)
        if ntu is not None:
            meta.update({key: ntu[key] for key in ("setup", "camera", "subject", "replication")})
            names = class_names("ntu120")
            label = names[label_id] if label_id is not None and 0 <= label_id < len(names) else None
    else:
        score = ann.get("keypoint_score")
        if score is not None:
            score = np.asarray(score, dtype=np.float64)
            if score.shape != (M, T, V):
                raise SkeletonFormatError(path, f"'keypoint_score' must be shaped {(M, T, V)}, got {score.shape}",
                                          where)
            score = np.transpose(score, (1, 0, 2))
        elif coords == "pixels" and C == 3:
            score = kp[..., 2]
        elif coords == "pixels":
            score = np.ones((T, M, V))
        present = np.abs(kp[..., :topo.dims]).sum(axis=(2, 3)) > 0
        scores = None if score is None else score.astype(np.float32)
        if coords == "pixels" and "pixel_origin" in ann and "metres_per_pixel" in ann:
            info = {"pixel_origin": [float(v) for v in ann["pixel_origin"]],
                    "metres_per_pixel": float(ann["metres_per_pixel"])}
            joints = pixels_to_metres_with(kp[..., :2], present, info["pixel_origin"], info["metres_per_pixel"])
            meta.update(info)
        elif coords == "pixels":
            joints, info = pixels_to_metres(kp[..., :2], scores, present, topo)
            meta.update(info)
        else:
            joints = np.zeros((T, M, V, 3))
            joints[..., :topo.dims] = kp[..., :topo.dims]
    if isinstance(ann.get("label_name"), str):
        label = ann["label_name"]
    if not present.any():
        raise SkeletonFormatError(path, "all keypoints are zero: no body in any frame", where)
    fps = float(ann["fps"]) if isinstance(ann.get("fps"), (int, float)) and ann["fps"] > 0 else FPS
    return SkeletonSequence(joints=joints, present=present, topology=topo, scores=scores, fps=fps,
                            label=label, label_id=label_id, metadata=meta)


def _layout(path: Path, ann: dict, V: int, C: int, where: str) -> tuple[Topology, str]:
    """The annotation's topology and coordinate convention (``kinect``, ``pixels`` or ``canonical``)."""
    spec = ann.get("topology")
    if spec is None:
        if V == 25 and C == 3:
            return NTU25, "kinect"
        if V == 17 and C in (2, 3):
            return COCO17, "pixels"
        raise SkeletonFormatError(path, f"unsupported keypoint layout V={V}, C={C}: expected V=25, C=3 (NTU 3D) "
                                  "or V=17, C=2/3 (COCO 2D), or a 'topology' key", where)
    try:
        topo = BUILTIN_TOPOLOGIES[spec] if isinstance(spec, str) else Topology.from_dict(spec, str(path))
    except KeyError:
        raise SkeletonFormatError(path, f"unknown topology '{spec}'", where) from None
    if topo.num_joints != V:
        raise SkeletonFormatError(path, f"'keypoint' has {V} joints, topology '{topo.name}' has {topo.num_joints}",
                                  where)
    coords = ann.get("coordinates") or ("kinect" if topo == NTU25 else "pixels" if topo.dims == 2 else "canonical")
    need = {"kinect": (3,), "pixels": (2, 3), "canonical": (topo.dims,)}.get(coords)
    if need is None:
        raise SkeletonFormatError(path, f"'coordinates' must be kinect, pixels or canonical, got {coords!r}", where)
    if C not in need:
        raise SkeletonFormatError(path, f"'keypoint' has C={C} values per joint; {coords} coordinates of "
                                  f"'{topo.name}' need {' or '.join(map(str, need))}", where)
    return topo, coords


def read(path) -> list[SkeletonSequence]:
    """Every annotation of the pickle as a :class:`SkeletonSequence`."""
    path = Path(path)
    anns, split = _annotations(path)
    splits_of: dict[str, list[str]] = {}
    for sname, members in split.items():
        for fd in members if isinstance(members, (list, tuple)) else []:
            splits_of.setdefault(str(fd), []).append(str(sname))
    return [_convert(path, k, a, splits_of) for k, a in enumerate(anns)]


def count(path) -> int:
    return len(_annotations(Path(path))[0])


#: The first key of a PYSKL pickle: of the top-level dict, or of the first annotation of a list.
_TOP_KEYS = frozenset({"split", "annotations"})
_ANNOTATION_KEYS = frozenset({"frame_dir", "label", "keypoint", "keypoint_score", "total_frames", "img_shape",
                              "original_shape"})
_STRINGS = frozenset({"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "SHORT_BINSTRING", "BINSTRING"})
_BOOKKEEPING = frozenset({"PROTO", "FRAME", "MEMOIZE", "PUT", "BINPUT", "LONG_BINPUT", "MARK"})


def _first_key(head: bytes) -> tuple[str, str] | None:
    """``(container, first string)`` of a pickle stream's start, read from its opcodes (nothing runs):
    ``("dict", "split")`` for ``{"split": ...}``, ``("list", "frame_dir")`` for ``[{"frame_dir": ...}]``."""
    import io
    import pickletools

    shape = []
    try:
        for op, arg, _ in pickletools.genops(io.BytesIO(head)):
            if op.name in _BOOKKEEPING:
                continue
            if op.name in ("EMPTY_DICT", "EMPTY_LIST") and len(shape) < 2:
                shape.append("dict" if op.name == "EMPTY_DICT" else "list")
                continue
            if op.name in _STRINGS and shape:
                return shape[0], str(arg)
            return None
    except Exception:  # the head ends mid-opcode, or it is not a pickle
        return None
    return None


def sniff(path: Path, head: bytes) -> bool:
    """A pickle shaped like PYSKL's: a dict whose first key is ``split`` or ``annotations``, or a list
    of annotation dicts (older mmaction2 dumps). Other pickles (model weights, label maps) are not claimed."""
    if head[:1] != b"\x80":      # a pickle protocol-2+ stream
        return False
    got = _first_key(head)
    return got is not None and (got[1] in _TOP_KEYS if got[0] == "dict" else got[1] in _ANNOTATION_KEYS)
