"""SMPL-family motion: AMASS ``.npz`` and AIST++ ``.pkl``, as joint positions by forward kinematics.

Both store SMPL pose parameters, not joints: per frame one axis-angle rotation per joint
of the SMPL kinematic tree (the body's 22 joints first: AMASS SMPL+H ``poses`` (T, 156) =
52 joints x 3, AIST++ ``smpl_poses`` (T, 72) = 24 joints x 3; hand joints are ignored)
and a root translation. Joint positions are the tree's forward kinematics over a *rest
skeleton* (each joint's offset from its parent with all rotations zero); the result is
the ``smpl22`` topology (as HumanML3D, which is SMPL FK output).

Rest skeleton. The exact one comes from the SMPL body model (joint regressor applied to
the template mesh shaped by the file's ``betas``), which is licensed and not shipped:

* ``body_model=PATH`` gives it: a SMPL ``.pkl`` or SMPL-H / SMPL-X ``.npz`` / ``.pkl`` model
  file, read by the ``smplx`` package (``pip install "skeletonllm[smpl]"``; ``smplx``
  unpickles ``.pkl`` model files, so give it only model files you trust), with the
  sequence's betas. The pelvis then sits at the model's root joint plus the translation,
  and joints are exact.
* Otherwise a **default rest skeleton** (:data:`DEFAULT_REST`): bone lengths measured on
  the HumanML3D sample shipped in ``tests/data`` (SMPL FK output retargeted by HumanML3D to
  one body; left and right averaged), and bone directions of a T-pose: legs straight down,
  collar-to-shoulder and both arm bones straight out sideways, every other bone (pelvis to
  hips, spine, neck, head, collars, feet) in its direction on that sample's first frame
  (a standing pose; spine and head bones kept in the sagittal plane, left and right
  mirrored and averaged). The pelvis is put at the translation itself (the model's root
  offset is unknown). This is an approximation: it ignores the subject's body shape and
  the model's exact rest directions. Measured on the AMASS sample against joint centres
  taken from its motion-capture markers (midpoints of the lateral and medial knee, elbow
  and wrist markers), after removing one constant offset (the unknown root offset): median
  error 5.5 cm (tests/test_formats_mocap.py checks < 8 cm). ``metadata["rest_skeleton"]``
  says which skeleton was used.

Axes and frame. SMPL's rest pose stands along +y facing +z. AMASS worlds are z-up (turned
to y-up by ``(x, y, z) -> (x, z, -y)``); AIST++ worlds are y-up. The figure is then turned
about y to face the camera in its first frame and z reflected, as for BVH
(:func:`._kinematics.face_camera`): metres, x right, y up, z away, the subject's right side
on the viewer's left. The first frame's pelvis is moved to x = z = 0 and the clip's lowest
joint to y = 0 (floor heights in these worlds depend on the unknown root offset).

AMASS: ``poses`` (or ``root_orient`` + ``pose_body`` in newer releases), ``trans`` (metres),
``mocap_framerate`` (or ``mocap_frame_rate``), ``betas``, ``gender``; read with
``allow_pickle=False``. AIST++: a pickled dict ``smpl_poses``, ``smpl_trans`` and
``smpl_scaling`` (translations are in the scaled world: metres = trans / scaling), read
through the restricted unpickler; 60 fps (the dataset's rate; the file does not say).
"""
from __future__ import annotations

import contextlib
import io
import re
import zipfile
from pathlib import Path

import numpy as np

from ...errors import SkeletonFormatError
from ..reads import note_file
from ..sequence import SkeletonSequence
from ..topology import SMPL22
from ._common import check_file, first_nonfinite, npz_members
from ._kinematics import axis_angle_to_matrix, chain, face_camera
from .safe_pickle import load_pickle_bytes

NUM_JOINTS = 22
PARENTS = tuple({b: a for a, b in SMPL22.bones}.get(j, -1) for j in range(NUM_JOINTS))
AISTPP_FPS = 60.0
# AIST++ names: genre, situation, camera, dancer, music, choreography (gBR_sBM_cAll_d04_mBR0_ch01).
_AISTPP_NAME = re.compile(r"g(?P<genre>[A-Z]{2})_s(?P<situation>[A-Za-z]+)_c(?P<camera>\w+?)_d(?P<dancer>\d+)"
                          r"_m(?P<music>\w+?)_ch(?P<choreo>\d+)")

#: Default rest skeleton, SMPL rest frame (x = subject's left, y up, z forward): bone to the
#: named joint -> (length in metres, unit direction). ``left_*`` entries also give the right
#: side with x negated. Derivation in the module docstring; tests re-derive it from the sample.
DEFAULT_REST = {
    "left_hip": (0.1065, (0.5567, -0.8254, -0.0937)),
    "spine1": (0.1316, (0.0, 0.9440, -0.3299)),
    "left_knee": (0.3919, (0.0, -1.0, 0.0)),
    "spine2": (0.1432, (0.0, 0.9778, 0.2095)),
    "left_ankle": (0.4290, (0.0, -1.0, 0.0)),
    "spine3": (0.0574, (0.0, 0.9870, 0.1610)),
    "left_foot": (0.1464, (0.4339, -0.2688, 0.8600)),
    "neck": (0.2194, (0.0, 0.9937, -0.1120)),
    "left_collar": (0.1404, (0.5192, 0.8461, -0.1205)),
    "head": (0.1030, (0.0, 0.8916, 0.4527)),
    "left_shoulder": (0.1273, (1.0, 0.0, 0.0)),
    "left_elbow": (0.2600, (1.0, 0.0, 0.0)),
    "left_wrist": (0.2679, (1.0, 0.0, 0.0)),
}


def default_rest_offsets() -> np.ndarray:
    """``(22, 3)`` offsets of :data:`DEFAULT_REST` (row 0, the pelvis, is zero)."""
    out = np.zeros((NUM_JOINTS, 3))
    for j, name in enumerate(SMPL22.joint_names[1:], start=1):
        key = name.replace("right_", "left_")
        length, direction = DEFAULT_REST[key]
        d = np.asarray(direction, np.float64)
        d = d / np.linalg.norm(d)
        if name.startswith("right_"):
            d = d * [-1.0, 1.0, 1.0]
        out[j] = length * d
    return out


def model_rest_joints(body_model, betas: np.ndarray | None, model_type: str, gender: str = "neutral") -> np.ndarray:
    """``(22, 3)`` rest joint positions of a SMPL-family body model shaped by ``betas`` (needs ``smplx``)."""
    try:
        import smplx
        import torch
        from smplx.lbs import blend_shapes, vertices2joints
    except ImportError:
        raise ImportError("body_model needs the smplx package: pip install 'skeletonllm[smpl]'") from None
    path = Path(body_model)
    note_file(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: body model file not found")
    classes = {"smpl": smplx.SMPL, "smplh": smplx.SMPLH, "smplx": smplx.SMPLX}
    if model_type not in classes:
        raise ValueError(f"body_model_type must be one of {sorted(classes)}, got {model_type!r}")
    kwargs = {"model_path": str(path), "gender": gender}
    if model_type != "smpl":
        kwargs["ext"] = path.suffix.lstrip(".")
    with contextlib.redirect_stdout(io.StringIO()):  # smplx prints warnings about shape-space sizes
        model = classes[model_type](**kwargs)
    n = model.shapedirs.shape[-1]
    b = np.zeros(n)
    if betas is not None:
        k = min(n, len(betas))
        b[:k] = np.asarray(betas, np.float64)[:k]
    with torch.no_grad():
        shaped = model.v_template[None] + blend_shapes(torch.as_tensor(b[None], dtype=model.shapedirs.dtype),
                                                       model.shapedirs)
        joints = vertices2joints(model.J_regressor, shaped)[0]
    return joints[:NUM_JOINTS].double().numpy()


def forward_kinematics(poses: np.ndarray, trans: np.ndarray, rest_joints: np.ndarray | None = None) -> np.ndarray:
    """``(T, >= 66)`` axis-angle poses + ``(T, 3)`` translations -> ``(T, 22, 3)`` joints (model world).

    ``rest_joints`` ``(22, 3)``: absolute rest positions from a body model (the pelvis then sits
    at its rest position plus the translation, as in SMPL); None uses
    :func:`default_rest_offsets` with the pelvis at the translation.
    """
    T = poses.shape[0]
    rot = axis_angle_to_matrix(poses[:, :3 * NUM_JOINTS].reshape(T, NUM_JOINTS, 3))
    if rest_joints is None:
        offsets = default_rest_offsets()
    else:
        offsets = rest_joints - np.concatenate([[np.zeros(3)], rest_joints[list(PARENTS[1:])]])
    pos, _ = chain(PARENTS, offsets, rot, trans)
    return pos


def _to_canonical(pos: np.ndarray, z_up: bool) -> tuple[np.ndarray, dict]:
    if z_up:
        pos = np.stack([pos[..., 0], pos[..., 2], -pos[..., 1]], axis=-1)
    names = SMPL22.joint_names
    pos, turned = face_camera(pos, [names.index("left_hip")], [names.index("right_hip")])
    pos[..., 0] -= pos[0, 0, 0]
    pos[..., 2] -= pos[0, 0, 2]
    pos[..., 1] -= pos[..., 1].min()
    return pos, {"turned_deg": turned}


def _sequence(path: Path, fmt: str, poses, trans, fps: float, betas, gender: str, body_model, body_model_type,
              z_up: bool, extra: dict) -> SkeletonSequence:
    rest = None
    if body_model is not None:
        rest = model_rest_joints(body_model, betas, body_model_type, gender)
    pos, info = _to_canonical(forward_kinematics(poses, trans, rest), z_up)
    meta = {"source": str(path), "format": fmt, "rest_skeleton": "default" if rest is None else str(body_model),
            "gender": gender, **info, **extra}
    if rest is None:
        meta["approximation"] = ("default rest skeleton (HumanML3D bone lengths, T-pose directions): joint "
                                 "positions approximate; pass body_model= for exact ones")
    T = pos.shape[0]
    return SkeletonSequence(joints=pos[:, None].astype(np.float32), present=np.ones((T, 1), bool), topology=SMPL22,
                            fps=fps, metadata=meta)


def _poses(path: Path, poses, where: str, T_name: str = "frames") -> np.ndarray:
    if not isinstance(poses, np.ndarray) or not np.issubdtype(poses.dtype, np.number):
        raise SkeletonFormatError(path, f"'{where}' must be a numeric array (T, 3 x joints)")
    if poses.ndim != 2 or poses.shape[0] == 0 or poses.shape[1] < 3 * NUM_JOINTS or poses.shape[1] % 3:
        raise SkeletonFormatError(path, f"'{where}' must be shaped (T, 3 x joints) with at least the 22 SMPL body "
                                  f"joints (66 values per frame), got {poses.shape}")
    poses = poses.astype(np.float64)
    first_nonfinite(path, poses, ("frame", "value"), f"'{where}'")
    return poses


def _trans(path: Path, trans, T: int, where: str) -> np.ndarray:
    if not isinstance(trans, np.ndarray) or trans.shape != (T, 3) or not np.issubdtype(trans.dtype, np.number):
        raise SkeletonFormatError(path, f"'{where}' must be a numeric array shaped ({T}, 3), got "
                                  f"{getattr(trans, 'shape', type(trans).__name__)}")
    trans = trans.astype(np.float64)
    first_nonfinite(path, trans, ("frame", "axis"), f"'{where}'")
    return trans


def read_amass(path, body_model=None, body_model_type: str | None = None,
               fps: float | None = None) -> list[SkeletonSequence]:
    """An AMASS ``.npz`` -> ``[SkeletonSequence]`` (``smpl22``)."""
    path = Path(check_file(path))
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except ValueError as exc:
        raise SkeletonFormatError(path, f"cannot read the .npz without running pickled code ({exc})") from None
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise SkeletonFormatError(path, f"not a readable .npz file ({type(exc).__name__}: {exc})") from None
    if "poses" in data:
        poses = _poses(path, data["poses"], "poses")
    elif "root_orient" in data and "pose_body" in data:
        poses = _poses(path, np.concatenate([data["root_orient"], data["pose_body"]], axis=-1), "root_orient+pose_body")
    else:
        raise SkeletonFormatError(path, f"no 'poses' (or 'root_orient' + 'pose_body') array; keys: {sorted(data)}")
    if "trans" not in data:
        raise SkeletonFormatError(path, "no 'trans' array (T, 3)")
    trans = _trans(path, data["trans"], poses.shape[0], "trans")
    rate = fps
    if rate is None:
        key = next((k for k in ("mocap_framerate", "mocap_frame_rate") if k in data), None)
        if key is None:
            raise SkeletonFormatError(path, "no 'mocap_framerate' (pass fps=)")
        rate = float(np.asarray(data[key]).reshape(-1)[0])
        if not rate > 0:
            raise SkeletonFormatError(path, f"'{key}' must be positive, got {rate}")
    betas = data.get("betas")
    gender = data.get("gender")
    gender = gender.item().decode() if isinstance(gender, np.ndarray) and gender.dtype.kind == "S" else \
        (str(gender.item()) if isinstance(gender, np.ndarray) else "neutral")
    kind = body_model_type or ("smplh" if poses.shape[1] == 156 else "smplx" if poses.shape[1] == 165 else "smpl")
    extra = {"betas": None if betas is None else np.asarray(betas, np.float64).round(6).tolist()}
    return [_sequence(path, "amass", poses, trans, round(rate, 3), betas, gender, body_model, kind, True, extra)]


def read_aistpp(path, body_model=None, body_model_type: str = "smpl",
                fps: float = AISTPP_FPS) -> list[SkeletonSequence]:
    """An AIST++ motion ``.pkl`` -> ``[SkeletonSequence]`` (``smpl22``), read by the restricted unpickler."""
    path = Path(check_file(path))
    obj = load_pickle_bytes(path.read_bytes(), path)
    if not isinstance(obj, dict) or "smpl_poses" not in obj or "smpl_trans" not in obj:
        raise SkeletonFormatError(path, "expected a dict with 'smpl_poses', 'smpl_trans' and 'smpl_scaling' (AIST++)")
    poses = _poses(path, obj["smpl_poses"], "smpl_poses")
    trans = _trans(path, obj["smpl_trans"], poses.shape[0], "smpl_trans")
    scaling = np.asarray(obj.get("smpl_scaling", [1.0]), dtype=np.float64).reshape(-1)
    if scaling.size != 1 or not np.isfinite(scaling).all() or not scaling[0] > 0:
        raise SkeletonFormatError(path, f"'smpl_scaling' must be one positive number, got {obj.get('smpl_scaling')!r}")
    extra = {"smpl_scaling": float(scaling[0])}
    m = _AISTPP_NAME.match(path.stem)
    if m:
        extra.update(m.groupdict())
    return [_sequence(path, "aistpp", poses, trans / scaling[0], fps, None, "neutral", body_model, body_model_type,
                      False, extra)]


def sniff_amass(path: Path, head: bytes) -> bool:
    names = npz_members(path, head)
    return "trans.npy" in names and ("poses.npy" in names or "pose_body.npy" in names)


def sniff_aistpp(path: Path, head: bytes) -> bool:
    return head[:1] == b"\x80" and b"smpl_poses" in head
