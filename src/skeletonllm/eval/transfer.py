"""Cross-format transfer: a checkpoint trained on one skeleton format, tested on another (SPEC §6).

No fine-tuning happens: the target clips are rendered by the same DrAction (its parameters
are shared across topologies) and the model answers the same MQA prompt, with the target
dataset's classes as candidates. The paper's three settings (its Table 2)::

    NTU-60 (Kinect v2, 25 joints)  -> NW-UCLA (Kinect v1, 20 joints)
    HumanML3D (SMPL, 22 joints)    -> NW-UCLA
    HumanML3D                      -> NTU-60 (2D): depth removed

NTU-60 (2D). The paper's target is 2D pose (no depth at all). Given NTU's 3D files,
:func:`to_2d` makes that input: it projects every joint through the Kinect's own pinhole
(the camera the coordinates are measured in), as a 2D pose detector would see the person,
rescales the image coordinates to nominal metres at the clip's median depth, sets z = 0
and marks the topology ``dims = 2`` (``ntu25_2d``: same joints, bones and parts). The
renderer then treats it like any 2D format (constant depth, no joint orientations). A
PYSKL 2D pickle (``ntu60_2d.pkl``, HRNet COCO-17 keypoints) loads as ``coco17`` with
``dims = 2`` already and needs no conversion.

Label maps. Where the target's class names are terse or unlike the phrasing a model was
trained on, a JSON file ``{target class name: candidate text}`` rewrites them: the
candidates are the mapped texts, and an answer is scored against the mapped text of the
clip's class. Classes missing from the map keep their name. Shipped maps live in
``skeletonllm/data/label_maps/`` (``nw_ucla.json``: e.g. ``"donning" -> "put on clothes"``)
and are used by default for their dataset; pass ``label_map=None`` for the raw names.
"""
from __future__ import annotations

import functools
import json
import os
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import ConfigError
from ..mllm.prompts import RECOGNITION_MAX_NEW_TOKENS
from ..skeleton.sequence import SkeletonSequence
from ..skeleton.topology import Topology
from .mqa_engine import run_mqa_evaluation
from .recognition import DATASET_NAMES

#: The topology each training dataset's files have (recorded as the result's ``source_format``).
DATASET_FORMATS = {"ntu60": "ntu25", "ntu120": "ntu25", "pku_mmd": "ntu25", "nw_ucla": "kinect_v1_20",
                   "humanml3d": "smpl22", "ntu60_2d": "ntu25_2d"}
_ALIASES = {"ntu-60": "ntu60", "ntu": "ntu60", "ntu-120": "ntu120", "pku": "pku_mmd", "pku-mmd": "pku_mmd",
            "pku51": "pku_mmd", "nw-ucla": "nw_ucla", "ucla": "nw_ucla", "humanml": "humanml3d",
            "ntu60-2d": "ntu60_2d", "ntu-60-2d": "ntu60_2d", "ntu60 (2d)": "ntu60_2d", "ntu-60 (2d)": "ntu60_2d"}

#: Sequences whose median depth is below this (metres) are not in a camera's frame (mocap,
#: normalised data): :func:`to_2d` then drops z instead of projecting through a pinhole.
MIN_CAMERA_DEPTH = 1.0


def dataset_key(name: str) -> str:
    """``"NTU-60"`` / ``"ntu60"`` -> ``"ntu60"``; ``"HumanML3D"`` -> ``"humanml3d"``."""
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key not in DATASET_FORMATS:
        raise KeyError(f"unknown dataset '{name}': expected one of {sorted(DATASET_FORMATS)}")
    return key


def display_name(key: str) -> str:
    """The paper's name of a dataset key (``ntu60_2d`` -> ``"NTU-60 (2D)"``)."""
    if key == "ntu60_2d":
        return "NTU-60 (2D)"
    return DATASET_NAMES.get(key, key)


# -- 2D conversion -----------------------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def topology_2d(topology: Topology) -> Topology:
    """The image-plane variant of a 3D topology: same joints, bones and parts, ``dims = 2``,
    name ``<name>_2d``. A 2D topology is returned unchanged."""
    if topology.dims == 2:
        return topology
    return replace(topology, name=f"{topology.name}_2d", dims=2)


def to_2d(seq: SkeletonSequence, min_camera_depth: float = MIN_CAMERA_DEPTH) -> SkeletonSequence:
    """Drop the depth of a 3D sequence: what a 2D pose estimator would report.

    Camera-space data (median joint depth ``z_ref`` >= ``min_camera_depth``, e.g. Kinect):
    perspective projection, ``x' = x z_ref / z``, ``y' = y z_ref / z`` (image coordinates
    scaled to metres at the median depth, so the figure keeps its size), ``z' = 0``. Other
    data: orthographic (``z' = 0``). Orientations are dropped (2D has none); ``metadata
    ["projection_2d"]`` records the method and ``z_ref``. 2D input is returned as is.
    """
    if seq.topology.dims == 2:
        return seq
    joints = seq.joints.copy()
    z = joints[..., 2]
    valid = seq.present[..., None] & np.isfinite(z) & (np.abs(joints).sum(-1) > 0)
    z_ref = float(np.median(z[valid])) if valid.any() else 0.0
    if z_ref >= min_camera_depth:
        # A joint with no depth (tracking lost, z ~ 0) is placed at the median depth instead
        # of being thrown to infinity.
        depth = np.where(valid & (z > 0.1 * z_ref), z, z_ref)
        joints[..., :2] *= (z_ref / depth)[..., None]
        method = "perspective"
    else:
        method = "orthographic"
    joints[..., 2] = 0.0
    meta = {**seq.metadata, "projection_2d": {"method": method, "reference_depth": z_ref}}
    return replace(seq, joints=joints, topology=topology_2d(seq.topology), orientations=None, metadata=meta)


# -- label maps ---------------------------------------------------------------------------------------
def label_map_names() -> list[str]:
    """Names of the shipped label maps (``nw_ucla``, ...)."""
    folder = resources.files("skeletonllm").joinpath("data", "label_maps")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".json"))


def load_label_map(name_or_path: str | os.PathLike) -> dict[str, str]:
    """A label map ``{target class: candidate text}`` from a JSON file or a shipped name."""
    path = Path(name_or_path)
    if path.suffix.lower() == ".json" or path.exists():
        source = path
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as e:
            raise ConfigError(path, "<file>", f"cannot read the label map ({e.strerror})") from None
    else:
        if str(name_or_path) not in label_map_names():
            raise ConfigError(name_or_path, "<name>", f"no such label-map file, and not a shipped map "
                              f"({', '.join(label_map_names())})")
        source = f"label_maps/{name_or_path}.json"
        text = resources.files("skeletonllm").joinpath("data", "label_maps", f"{name_or_path}.json").read_text("utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(source, "<file>", f"not valid JSON ({e.msg}, line {e.lineno})") from None
    if not isinstance(data, dict) or not data:
        raise ConfigError(source, "<root>", "expected a non-empty object {target class: candidate text}")
    for k, v in data.items():
        if not isinstance(v, str) or not v.strip():
            raise ConfigError(source, k, f"candidate text must be a non-empty string, got {v!r}")
    return {str(k): v.strip() for k, v in data.items()}


def default_label_map(target: str) -> dict[str, str] | None:
    """The shipped map for a target dataset key, if there is one."""
    base = "ntu60" if target == "ntu60_2d" else target
    return load_label_map(base) if base in label_map_names() else None


def mapped_candidates(class_names: Sequence[str], label_map: dict[str, str] | None) -> list[str]:
    """Candidate texts of ``class_names`` under ``label_map``; unknown map keys are an error."""
    label_map = label_map or {}
    unknown = sorted(set(label_map) - set(class_names))
    if unknown:
        raise ConfigError("label map", unknown[0], f"is not a class of the target; classes are {list(class_names)}")
    return [label_map.get(c, c) for c in class_names]


# -- the evaluation -----------------------------------------------------------------------------------
def evaluate_transfer(model, data, source: str, target: str, candidates: Sequence[str] | None = None, *,
                      class_names: Sequence[str] | None = None, label_map: dict[str, str] | str | None = "default",
                      to_2d_input: bool | None = None, out_dir: str | os.PathLike = "eval", mode: str = "generate",
                      batch_size: int = 8, num_frames: int = 12, seed: int = 0, resume: bool = True,
                      tsne: bool = False, progress: bool = True, limit: int | None = None,
                      max_new_tokens: int = RECOGNITION_MAX_NEW_TOKENS, checkpoint: str | os.PathLike | None = None,
                      method: str | None = None, split_name: str | None = None, settings: dict | None = None) -> dict:
    """Evaluate a checkpoint trained on ``source`` on ``target`` data, with no fine-tuning.

    Args:
        model: the SkeletonLLM trained on ``source``.
        data: the target clips (SkeletonDataset, sequences or EvalSample objects).
        source, target: dataset names (``ntu60``, ``humanml3d``, ``nw_ucla``, ``ntu60_2d`` ...).
            ``ntu60_2d`` on 3D files applies :func:`to_2d` to every clip.
        candidates: the offered classes; default every class of the target (``class_names``
            or the target dataset's list) under ``label_map``.
        class_names: ``label_id`` -> class name of the target data (default: the target's list).
        label_map: ``"default"`` (the shipped map of the target, if any), a dict, a JSON path
            or shipped name, or None (raw class names).
        to_2d_input: force (or prevent) the 2D conversion; default: only for ``ntu60_2d``.
        split_name: ``data`` holds only this split's unseen classes: they are the default
            candidates (recorded in the settings).
    """
    from ..skeleton.splits import class_names as dataset_classes

    src, tgt = dataset_key(source), dataset_key(target)
    if isinstance(label_map, str):
        label_map = default_label_map(tgt) if label_map == "default" else load_label_map(label_map)
    if class_names is None:
        base_tgt = "ntu60" if tgt == "ntu60_2d" else tgt
        if base_tgt == "humanml3d":
            raise ValueError("HumanML3D has no action classes: give class_names and candidates")
        class_names = dataset_classes(base_tgt)
    offered = mapped_candidates(class_names, label_map)  # also checks the map's keys
    if candidates is None:
        candidates = offered
        if split_name is not None:  # only the split's unseen classes
            from ..skeleton.splits import get_split
            unseen = set(get_split(split_name).unseen_names)
            candidates = [c for n, c in zip(class_names, offered) if n in unseen]
    flat = to_2d_input if to_2d_input is not None else tgt == "ntu60_2d"
    base = {"task": "transfer", "source": display_name(src), "target": display_name(tgt),
            "dataset": display_name(tgt), "source_format": DATASET_FORMATS[src]}
    if method:
        base["method"] = method
    # The topology the clips actually have, recorded after the first one is loaded.
    seen_formats: set[str] = set()

    def transform(seq: SkeletonSequence) -> SkeletonSequence:
        out = to_2d(seq) if flat else seq
        seen_formats.add(out.topology.name)
        return out

    def finish(result: dict) -> None:
        if not seen_formats:  # every clip came from the predictions log: read the format off one clip
            from .samples import as_samples
            transform(as_samples(data)[0].load())
        result["target_format"] = ",".join(sorted(seen_formats))

    extra = {"split": split_name} if split_name else {}
    return run_mqa_evaluation(
        model, data, candidates, base, out_dir, mode=mode, batch_size=batch_size, num_frames=num_frames, seed=seed,
        resume=resume, tsne=tsne, progress=progress, class_names=class_names, label_map=label_map,
        transform=transform, transform_name="to_2d" if flat else None, limit=limit, max_new_tokens=max_new_tokens,
        checkpoint=checkpoint, settings={**extra, **(settings or {})},
        title=f"{display_name(src)} -> {display_name(tgt)} ({mode})", finish=finish)


__all__ = ["DATASET_FORMATS", "dataset_key", "default_label_map", "display_name", "evaluate_transfer",
           "label_map_names", "load_label_map", "mapped_candidates", "to_2d", "topology_2d"]
