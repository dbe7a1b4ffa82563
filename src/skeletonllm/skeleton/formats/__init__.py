"""Readers for native skeleton files, and the registry that picks one for a file.

Each format is a :class:`Format`: its name, the file extensions it claims, ``read``
(file -> every sample as a :class:`SkeletonSequence`), an optional ``read_one`` for
containers that also make sense whole (a PKU-MMD recording), and ``sniff`` (a cheap
content check used when an extension is shared or generic: ``.npy``, ``.json``, ``.txt``,
``.csv``, ``.npz``, ``.pkl``, or unknown).

==================  ==========================  ==============================================
name                files                       module
==================  ==========================  ==============================================
``ntu``             ``*.skeleton``              :mod:`.ntu` (NTU RGB+D text)
``ntu_npy``         ``*.npy`` (pickled dict)    :mod:`.ntu` (the NTU authors' txt2npy output)
``pyskl``           ``*.pkl``, ``*.pickle``     :mod:`.pyskl` (PYSKL / mmaction2 annotations)
``nw_ucla``         ``*.json``                  :mod:`.nw_ucla` (CTR-GCN layout)
``pku_mmd``         ``*.txt`` + label file      :mod:`.pku_mmd` (v1 recordings, cut into clips)
``humanml3d``       ``new_joints/*.npy``        :mod:`.humanml3d` (+ ``texts/*.txt`` captions)
``humanml3d_vecs``  ``new_joint_vecs/*.npy``    :mod:`.humanml3d` (263-d features -> joints)
``coco_json``       ``*.json``                  :mod:`.coco_json` (COCO-17 detections, tracked)
``bvh``             ``*.bvh``                   :mod:`.bvh` (own parser + forward kinematics)
``kinetics``        ``*.json``                  :mod:`.kinetics` (Kinetics-skeleton, ST-GCN release)
``openpose``        folder of ``*_keypoints``   :mod:`.openpose` (``--write_json`` output, BODY_25/COCO)
``mediapipe``       ``*.json``, ``*.csv``       :mod:`.mediapipe` (MediaPipe Pose, 33 landmarks)
``amass``           ``*.npz``                   :mod:`.smpl` (SMPL+H parameters -> forward kinematics)
``aistpp``          ``*.pkl``                   :mod:`.smpl` (AIST++ SMPL parameters)
``asf_amc``         ``*.amc`` + ``*.asf``       :mod:`.asf_amc` (Acclaim / CMU mocap)
``npz_store``       ``*.npz``                   :mod:`.npz_store` (``skeletonllm convert --to npz``)
==================  ==========================  ==============================================

Formats with ``folders=True`` (OpenPose) read a folder as one sample.

A new format is one module with a ``read`` function plus a :func:`register` call.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from . import (asf_amc, bvh, coco_json, humanml3d, kinetics, mediapipe, npz_store, ntu, nw_ucla, openpose, pku_mmd,
               pyskl, smpl)
from .safe_pickle import npy_header

HEAD_BYTES = 1 << 16  # how much of a file the sniffers see
# Extensions shared with files that are not skeleton data (or by several formats): always sniff.
GENERIC_EXTENSIONS = (".txt", ".json", ".npy", ".csv", ".npz", ".pkl", ".pickle")


@dataclass(frozen=True)
class Format:
    name: str
    extensions: tuple[str, ...]
    read: Callable  # (path, **options) -> list[SkeletonSequence]
    sniff: Callable  # (path, head bytes) -> bool
    read_one: Callable | None = None  # (path, **options) -> SkeletonSequence, for containers
    description: str = ""
    folders: bool = False  # reads a folder as one sample (its sniff is then also asked about folders)


FORMATS: dict[str, Format] = {}


def register(fmt: Format) -> None:
    """Add (or replace) a format; detection tries formats in registration order."""
    FORMATS[fmt.name] = fmt


for _f in (
    Format("ntu", (".skeleton",), ntu.read, ntu.sniff_skeleton, description="NTU RGB+D .skeleton text"),
    Format("ntu_npy", (".npy",), ntu.read_txt2npy, ntu.sniff_txt2npy, description="NTU txt2npy dict .npy"),
    Format("humanml3d", (".npy",), humanml3d.read_joints, humanml3d.sniff_joints,
           description="HumanML3D new_joints (T, 22, 3)"),
    Format("humanml3d_vecs", (".npy",), humanml3d.read_vectors, humanml3d.sniff_vectors,
           description="HumanML3D new_joint_vecs (T, 263)"),
    Format("aistpp", (".pkl",), smpl.read_aistpp, smpl.sniff_aistpp, description="AIST++ SMPL motion pickle"),
    Format("pyskl", (".pkl", ".pickle"), pyskl.read, pyskl.sniff, description="PYSKL/mmaction2 annotation pickle"),
    Format("nw_ucla", (".json",), nw_ucla.read, nw_ucla.sniff, description="NW-UCLA json (CTR-GCN layout)"),
    Format("coco_json", (".json",), coco_json.read, coco_json.sniff, description="COCO-17 keypoint detections"),
    Format("kinetics", (".json",), kinetics.read, kinetics.sniff, description="Kinetics-skeleton json (ST-GCN)"),
    Format("openpose", (".json",), openpose.read, openpose.sniff, folders=True,
           description="OpenPose --write_json folder of *_keypoints.json (BODY_25 / COCO-18)"),
    Format("mediapipe", (".json", ".csv"), mediapipe.read, mediapipe.sniff,
           description="MediaPipe Pose landmarks (33) per video, JSON or CSV"),
    Format("pku_mmd", (".txt",), pku_mmd.read, pku_mmd.sniff, read_one=pku_mmd.read_recording,
           description="PKU-MMD v1 skeleton recording + labels"),
    Format("bvh", (".bvh",), bvh.read, bvh.sniff, description="BVH motion capture"),
    Format("asf_amc", (".amc",), asf_amc.read, asf_amc.sniff, description="Acclaim ASF/AMC motion capture"),
    Format("amass", (".npz",), smpl.read_amass, smpl.sniff_amass, description="AMASS SMPL+H motion .npz"),
    Format("npz_store", (".npz",), npz_store.read, npz_store.sniff, description="skeletonllm convert --to npz store"),
):
    register(_f)


def get_format(name: str) -> Format:
    try:
        return FORMATS[name]
    except KeyError:
        raise KeyError(f"unknown format '{name}': expected one of {sorted(FORMATS)}") from None


def _head(path: Path) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(HEAD_BYTES)


def sniff_format(path: str | Path) -> str | None:
    """The format name for a file, from its extension and content; None if nothing fits.

    A specific extension claimed by one format decides alone (so a damaged file still
    reaches the parser that can say what is wrong with it); generic (``.txt``, ``.json``,
    ``.npy``) or unknown extensions are settled by the sniffers.
    """
    path = Path(path)
    if path.is_dir():
        return next((f.name for f in FORMATS.values() if f.folders and f.sniff(path, b"")), None)
    ext = path.suffix.lower()
    by_ext = [f for f in FORMATS.values() if ext in f.extensions]
    if len(by_ext) == 1 and ext not in GENERIC_EXTENSIONS:
        return by_ext[0].name
    head = _head(path)
    for f in by_ext or FORMATS.values():
        if f.sniff(path, head):
            return f.name
    return None


def explain_unknown(path: str | Path) -> str:
    """Why :func:`sniff_format` found nothing, in words a user can act on."""
    path = Path(path)
    ext = path.suffix.lower()
    head = _head(path)
    if ext == ".npy":
        h = npy_header(path)
        if h is None:
            return "not a valid .npy file"
        return (f"a .npy array of shape {h[0]} {h[1]}: expected (T, 22, 3) HumanML3D joints, (T, 263) HumanML3D "
                "feature vectors, or an NTU txt2npy pickled dict")
    if ext == ".json":
        if b'"bones"' in head and b'"joints"' in head:
            return "a topology file (joints/bones), not a skeleton sequence: pass it to get_topology()"
        return ("JSON that is none of NW-UCLA ('skeletons'), COCO keypoint detections ('keypoints'), "
                "Kinetics-skeleton ('data' frames with 'skeleton'), OpenPose ('people' with 'pose_keypoints_2d') "
                "or MediaPipe Pose ('pose_landmarks' / 'landmarks' with 'visibility')")
    if ext == ".csv":
        return ("CSV whose header names neither 33 MediaPipe landmarks' x/y columns (x0, y0, ... or NOSE_x, ...) "
                "nor frame, landmark, x, y columns")
    if ext == ".npz":
        return "an .npz that is neither AMASS motion ('poses' and 'trans') nor a skeletonllm store"
    if ext in (".pkl", ".pickle"):
        return "a pickle that is neither a PYSKL annotation file nor an AIST++ motion ('smpl_poses')"
    if ext == ".asf":
        return "an ASF skeleton file: load the .amc motion file (the .asf beside it is found automatically)"
    if ext == ".txt":
        first = head.split(b"\n", 1)[0].strip()
        if first.count(b",") == 3:
            return "looks like a PKU-MMD label file; load the skeleton file (the label file is found beside it)"
        if b"#" in first:
            return "looks like a HumanML3D caption file; load new_joints/<id>.npy (captions are attached)"
        return "text that is not a PKU-MMD skeleton file (150 numbers per line)"
    return f"unknown extension '{ext}' and no format recognised the content"
