"""NW-UCLA (Northwestern-UCLA Multiview Action3D) json files, CTR-GCN layout.

``{"file_name": "a01_s01_e00_v01", "skeletons": [T][20][3], "label": 1..10}``: one
Kinect v1 body of 20 joints (``kinect_v1_20``). Units are metres in Kinect v1 camera
space: the three sample files measure 1.47-1.58 m from head to foot in their first
frame, and the body sits 2.5-3.2 m in front of the camera. Kinect v1 uses the same
right-handed camera space as v2, so the same conversion applies (x negated; checked on
the samples, whose subjects face the camera with their right shoulder at larger raw x).
The file name gives action (``a01``), subject (``s01``), environment (``e00``) and view
(``v01``); ``label`` 1..10 maps to ``label_id`` 0..9 and the class list's names.
Frames are taken as 30 fps (the Kinect v1 rate; the json does not say).
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ...errors import SkeletonFormatError
from ..sequence import SkeletonSequence
from ..splits import class_names, nw_ucla_action_labels
from ..topology import KINECT_V1_20
from ._common import first_nonfinite, kinect_to_canonical, read_json, values_array

FPS = 30.0
_NAME = re.compile(r"(a\d{2})_(s\d{2})_(e\d{2})_(v\d{2})")


def read(path) -> list[SkeletonSequence]:
    path = Path(path)
    obj = read_json(path)
    if not isinstance(obj, dict) or "skeletons" not in obj:
        raise SkeletonFormatError(path, "expected an object with 'skeletons' [T][20][3] (NW-UCLA json layout)")
    arr = values_array(path, obj["skeletons"], "[T][20][3]", "key 'skeletons'", ndim=3)
    if arr.shape[0] == 0:
        raise SkeletonFormatError(path, "'skeletons' has no frames", "key 'skeletons'")
    if arr.shape[1:] != (20, 3):
        raise SkeletonFormatError(path, f"expected 20 joints x 3 values per frame (Kinect v1), got {arr.shape[1:]}",
                                  "key 'skeletons'")
    first_nonfinite(path, arr, ("frame", "joint", "coordinate"), "'skeletons'")
    present = np.abs(arr).sum(axis=(1, 2)) > 0
    name = str(obj.get("file_name") or path.stem)
    meta = {"source": str(path), "format": "nw_ucla", "file_name": name}
    m = _NAME.search(name)
    if m:
        meta.update(zip(("action", "subject", "environment", "view"), m.groups()))
    label_id = None
    if "label" in obj:
        try:
            label_id = int(obj["label"]) - 1
        except (TypeError, ValueError):
            raise SkeletonFormatError(path, f"'label' must be an integer 1..10, got {obj['label']!r}", "key 'label'") from None
        if not 0 <= label_id < 10:
            raise SkeletonFormatError(path, f"'label' must be 1..10, got {label_id + 1}", "key 'label'")
    elif m and m.group(1) in nw_ucla_action_labels():
        label_id = nw_ucla_action_labels()[m.group(1)]
    label = class_names("nw_ucla")[label_id] if label_id is not None else None
    return [SkeletonSequence(joints=kinect_to_canonical(arr[:, None]), present=present[:, None],
                             topology=KINECT_V1_20, fps=FPS, label=label, label_id=label_id, metadata=meta)]


def sniff(path: Path, head: bytes) -> bool:
    return head.lstrip().startswith(b"{") and b'"skeletons"' in head
