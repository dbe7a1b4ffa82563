"""Acclaim ASF/AMC motion capture (the CMU mocap database's native format).

``.asf`` (skeleton): ``:units`` (``length`` scale, ``angle deg|rad``), ``:root`` (``order``
of the root's six AMC values, ``axis`` order, rest ``position`` and ``orientation``),
``:bonedata`` (per bone between ``begin``/``end``: ``name``, unit ``direction`` and
``length`` in the rest pose, ``axis a b c XYZ`` = the bone's local frame as Euler angles,
``dof`` = its rotational degrees of freedom in AMC order, ``limits``) and ``:hierarchy``
(``parent child child ...`` lines). ``.amc`` (motion): ``:FULLY-SPECIFIED``,
``:DEGREES`` (or ``:RADIANS``), then per frame its number on a line of its own and one
line ``bone value ...`` per bone with degrees of freedom. ``#`` starts a comment; LF or
CRLF line endings.

``load("x.amc", skeleton="x.asf")``, or ``load("x.amc")`` with the ``.asf`` found beside
it: ``<subject>.asf`` for CMU names ``<subject>_<trial>.amc``, else ``x.asf``, else the only
``.asf`` in the folder.

Kinematics (Acclaim convention). Euler angles listed in an order such as ``XYZ`` are
applied in that order about fixed axes (``Rz @ Ry @ Rx``). A bone's local frame is
``C`` = its ``axis`` angles; its rotation in a frame is ``L = C @ M @ C^-1`` with ``M`` from
its AMC values; world rotations chain from the root (``rot = rot_parent @ L``) and a bone
ends at ``end_parent + rot @ (direction * length)``. The root is at ``position`` plus the
AMC translation, rotated by ``C_root @ M_root @ C_root^-1``. This is fed to the forward
kinematics shared with BVH (:func:`._kinematics.chain`, offsets pre-rotated by ``L``).

Topology: joint 0 is the root; joint k is the far end of bone k (e.g. ``lfemur`` is the
knee), named after the bone, in ``:hierarchy`` order. Body parts come from CMU's bone
names (``lhumerus`` ends at the elbow: left_arm; ``lradius`` at the wrist: left_hand ...),
other names by :func:`.bvh.guess_part`.

Frames are taken as 120 fps (the CMU capture rate; AMC files do not record it; ``fps=``
changes it). Units and axes as BVH (:mod:`.bvh`): ``units="auto"`` picks the unit that makes the rest
pose's extent closest to 1.7 m (CMU files: ``cmu``, 1 unit = 1/0.45 inch, matching their
``length 0.45``); the y-up world is turned to face the camera in the first frame and the
first frame's root is moved to x = z = 0.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...errors import SkeletonFormatError
from ..normalize import center_on_root
from ..sequence import SkeletonSequence
from ..topology import Topology
from ..reads import note_file, note_folder
from ._common import check_file, parse_rows, read_text
from ._kinematics import axis_rotation, chain, face_camera, resolve_units, side_joints
from .bvh import guess_part

_ROT = {"rx": "X", "ry": "Y", "rz": "Z"}
_TRANS = {"tx": 0, "ty": 1, "tz": 2}
# Where a CMU bone ends, as a body part (side added from the bone's l/r prefix).
_CMU_PARTS = {"hipjoint": "leg", "femur": "leg", "tibia": "foot", "foot": "foot", "toes": "foot",
              "clavicle": "arm", "humerus": "arm", "radius": "hand", "wrist": "hand", "hand": "hand",
              "fingers": "hand", "thumb": "hand"}
_CMU_CENTRE = {"root": "torso", "lowerback": "torso", "upperback": "torso", "thorax": "torso",
               "lowerneck": "head", "upperneck": "head", "head": "head"}


@dataclass
class Bone:
    name: str
    direction: np.ndarray  # (3,) unit vector, rest pose, world axes
    length: float
    axis: np.ndarray  # (3,) Euler angles (ASF angle unit) of the local frame
    axis_order: str  # e.g. "XYZ"
    dof: list[str] = field(default_factory=list)  # e.g. ["rx", "ry", "rz"]
    line: int = 0


@dataclass
class ASFSkeleton:
    bones: dict[str, Bone]
    children: dict[str, list[str]]
    root_order: list[str]  # AMC columns of the root, e.g. ["tx", "ty", "tz", "rx", "ry", "rz"]
    root_axis: str
    root_position: np.ndarray
    root_orientation: np.ndarray
    length_unit: float
    degrees: bool

    def order(self) -> list[str]:
        """Bone names, parents before children (depth-first from the root)."""
        out, stack = [], list(reversed(self.children.get("root", [])))
        while stack:
            name = stack.pop()
            out.append(name)
            stack.extend(reversed(self.children.get(name, [])))
        return out


def _lines(path) -> list[tuple[int, str]]:
    """(line number, text) of the non-empty, non-comment lines."""
    out = []
    for n, line in enumerate(read_text(path).splitlines(), 1):
        text = line.split("#", 1)[0].strip()
        if text:
            out.append((n, text))
    return out


def _floats(path, tokens: list[str], n: int, what: str, lineno: int) -> np.ndarray:
    if len(tokens) < n:
        raise SkeletonFormatError(path, f"expected {n} numbers ({what}), found {len(tokens)}", f"line {lineno}")
    try:
        vals = np.array([float(t) for t in tokens[:n]])
    except ValueError:
        raise SkeletonFormatError(path, f"expected {n} numbers ({what}), found '{' '.join(tokens)[:60]}'",
                                  f"line {lineno}") from None
    if not np.isfinite(vals).all():
        raise SkeletonFormatError(path, f"NaN or infinite value ({what})", f"line {lineno}")
    return vals


def _axis_order(path, token: str, lineno: int) -> str:
    order = token.upper()
    if len(order) != 3 or set(order) != set("XYZ"):
        raise SkeletonFormatError(path, f"expected an axis order such as XYZ, found '{token[:20]}'", f"line {lineno}")
    return order


def parse_asf(path) -> ASFSkeleton:
    """Read an ``.asf`` skeleton; errors name the line."""
    path = Path(path)
    lines = _lines(path)
    section, bones, children, cur = None, {}, {}, None
    root = {"order": ["tx", "ty", "tz", "rx", "ry", "rz"], "axis": "XYZ", "position": np.zeros(3),
            "orientation": np.zeros(3)}
    length_unit, degrees = 1.0, True
    for n, text in lines:
        tok = text.split()
        key = tok[0].lower()
        if key.startswith(":"):
            section = key
            tok = tok[1:]  # ":units mass 1 length 0.45" may sit on one line
            if not tok:
                continue
            key = tok[0].lower()
        if section == ":units":
            for k in range(0, len(tok) - 1, 2):
                if tok[k].lower() == "length":
                    length_unit = float(_floats(path, tok[k + 1:k + 2], 1, "the length unit", n)[0])
                elif tok[k].lower() == "angle":
                    degrees = not tok[k + 1].lower().startswith("rad")
        elif section == ":root":
            if key == "order":
                root["order"] = [t.lower() for t in tok[1:]]
                bad = [t for t in root["order"] if t not in _ROT and t not in _TRANS]
                if bad or len(root["order"]) != 6:
                    raise SkeletonFormatError(path, f"root order must list TX TY TZ RX RY RZ, found {tok[1:]}",
                                              f"line {n}")
            elif key == "axis":
                root["axis"] = _axis_order(path, tok[1] if len(tok) > 1 else "", n)
            elif key in ("position", "orientation"):
                root[key] = _floats(path, tok[1:], 3, f"root {key}", n)
        elif section == ":bonedata":
            if key == "begin":
                cur = Bone("", np.zeros(3), 0.0, np.zeros(3), "XYZ", line=n)
            elif key == "end":
                if cur is None or not cur.name:
                    raise SkeletonFormatError(path, "a bone block without a name", f"line {n}")
                bones[cur.name] = cur
                cur = None
            elif cur is None:
                raise SkeletonFormatError(path, f"'{tok[0][:30]}' outside a begin/end bone block", f"line {n}")
            elif key == "name":
                cur.name = tok[1] if len(tok) > 1 else ""
            elif key == "direction":
                d = _floats(path, tok[1:], 3, "bone direction", n)
                norm = np.linalg.norm(d)
                cur.direction = d / norm if norm > 0 else d
            elif key == "length":
                cur.length = float(_floats(path, tok[1:], 1, "bone length", n)[0])
            elif key == "axis":
                cur.axis = _floats(path, tok[1:], 3, "bone axis", n)
                cur.axis_order = _axis_order(path, tok[4] if len(tok) > 4 else "XYZ", n)
            elif key == "dof":
                cur.dof = [t.lower() for t in tok[1:]]
                bad = [t for t in cur.dof if t not in _ROT]
                if bad:
                    raise SkeletonFormatError(path, f"unsupported degree of freedom {bad} (rx, ry, rz only)",
                                              f"line {n}")
        elif section == ":hierarchy":
            if key in ("begin", "end"):
                continue
            children.setdefault(tok[0], []).extend(tok[1:])
    if not bones:
        raise SkeletonFormatError(path, "no bones (:bonedata begin ... end blocks)")
    if "root" not in children:
        raise SkeletonFormatError(path, "no :hierarchy line for 'root'")
    named = {c for cs in children.values() for c in cs}
    unknown = sorted((named | set(children)) - set(bones) - {"root"})
    if unknown:
        raise SkeletonFormatError(path, f"the hierarchy names bones with no :bonedata block: {unknown}")
    skel = ASFSkeleton(bones, children, root["order"], root["axis"], root["position"], root["orientation"],
                       length_unit, degrees)
    order = skel.order()
    if len(order) != len(set(order)):
        raise SkeletonFormatError(path, "the hierarchy lists a bone under two parents")
    return skel


def parse_amc(path, skel: ASFSkeleton) -> tuple[np.ndarray, dict[str, np.ndarray], bool]:
    """Read an ``.amc`` motion for ``skel``: root values ``(T, 6)``, per-bone ``(T, dof)``, degrees?"""
    path = Path(path)
    lines = _lines(path)
    degrees = skel.degrees
    frames: list[dict[str, tuple[int, str]]] = []
    for n, text in lines:
        if text.startswith(":"):
            word = text.upper()
            if word.startswith(":RADIANS"):
                degrees = False
            elif word.startswith(":DEGREES"):
                degrees = True
            continue
        tok = text.split(None, 1)
        if tok[0].isdigit() and len(tok) == 1:
            if int(tok[0]) != len(frames) + 1:
                raise SkeletonFormatError(path, f"frame {tok[0]} follows frame {len(frames)}: frames must be numbered "
                                          "1, 2, 3, ...", f"line {n}")
            frames.append({})
            continue
        if not frames:
            raise SkeletonFormatError(path, f"'{tok[0][:30]}' before the first frame number", f"line {n}")
        name = tok[0]
        if name != "root" and name not in skel.bones:
            raise SkeletonFormatError(path, f"unknown bone '{name[:30]}' (not in the skeleton file)", f"line {n}")
        frames[-1][name] = (n, tok[1] if len(tok) > 1 else "")
    if not frames:
        raise SkeletonFormatError(path, "no frames (expected a frame number line followed by bone lines)")
    columns = {"root": len(skel.root_order), **{b.name: len(b.dof) for b in skel.bones.values() if b.dof}}
    values = {}
    for name, ncols in columns.items():
        rows, first = [], 1
        for t, fr in enumerate(frames):
            if name not in fr:
                raise SkeletonFormatError(path, f"frame {t + 1} has no line for bone '{name}' (a truncated file?)")
            rows.append(fr[name][1])
        first = frames[0][name][0]
        try:
            values[name] = parse_rows(path, rows, first, ncols, f"{ncols} values of bone '{name}'")
        except SkeletonFormatError as exc:  # parse_rows numbers rows from `first`; give the real line
            k = int(exc.location.split()[-1]) - first if exc.location else 0
            k = min(max(k, 0), len(frames) - 1)
            raise SkeletonFormatError(path, exc.problem + f" in frame {k + 1}", f"line {frames[k][name][0]}") from None
    return values.pop("root"), values, degrees


def _euler(angles: np.ndarray, order: str, degrees: bool) -> np.ndarray:
    """``(..., k)`` angles about the axes of ``order`` (applied first to last) -> ``(..., 3, 3)``."""
    R = np.broadcast_to(np.eye(3), angles.shape[:-1] + (3, 3)).copy()
    for k, axis in enumerate(order):
        R = axis_rotation(axis, angles[..., k], degrees=degrees) @ R
    return R


def forward_kinematics(skel: ASFSkeleton, root: np.ndarray, motion: dict[str, np.ndarray],
                       degrees: bool) -> tuple[list[str], list[int], np.ndarray]:
    """Joint names (root, then bone ends), their parents and ``(T, J, 3)`` positions (file units and axes)."""
    T = root.shape[0]
    names = ["root"] + skel.order()
    index = {n: k for k, n in enumerate(names)}
    parent_of = {c: p for p, cs in skel.children.items() for c in cs}
    parents = [-1] + [index[parent_of[n]] for n in names[1:]]
    local = np.zeros((T, len(names), 3, 3))
    offsets = np.zeros((T, len(names), 3))
    rot_cols = [k for k, c in enumerate(skel.root_order) if c in _ROT]
    C = _euler(skel.root_orientation, skel.root_axis, skel.degrees)
    M = _euler(root[:, rot_cols], "".join(_ROT[skel.root_order[k]] for k in rot_cols), degrees)
    local[:, 0] = C @ M @ C.T
    root_pos = np.tile(skel.root_position, (T, 1))
    for k, c in enumerate(skel.root_order):
        if c in _TRANS:
            root_pos[:, _TRANS[c]] += root[:, k]
    for j, name in enumerate(names[1:], start=1):
        bone = skel.bones[name]
        C = _euler(bone.axis, bone.axis_order, skel.degrees)
        if bone.dof:
            M = _euler(motion[name], "".join(_ROT[d] for d in bone.dof), degrees)
        else:
            M = np.broadcast_to(np.eye(3), (T, 3, 3))
        local[:, j] = C @ M @ C.T
        # The bone's own rotation turns its segment: pre-rotate the offset (see module docstring).
        offsets[:, j] = local[:, j] @ (bone.direction * bone.length)
    pos, _ = chain(parents, offsets, local, root_pos)
    return names, parents, pos


def _part(name: str) -> str:
    low = name.lower()
    if low in _CMU_CENTRE:
        return _CMU_CENTRE[low]
    if low[:1] in ("l", "r") and low[1:] in _CMU_PARTS:
        return f"{'left' if low[0] == 'l' else 'right'}_{_CMU_PARTS[low[1:]]}"
    return guess_part(name)


def build_topology(names: list[str], parents: list[int]) -> Topology:
    bones = [(p, k) for k, p in enumerate(parents) if p >= 0]
    digest = hashlib.sha1(repr((names, bones)).encode()).hexdigest()[:8]
    return Topology(name=f"asf{len(names)}_{digest}", joint_names=tuple(names), bones=tuple(bones),
                    parts=tuple(_part(n) for n in names), dims=3)


def find_skeleton(amc: Path) -> Path | None:
    """The ``.asf`` that goes with an ``.amc`` (module docstring), or None."""
    for stem in (re.split(r"_", amc.stem, maxsplit=1)[0], amc.stem):
        for ext in (".asf", ".ASF"):
            cand = amc.with_name(stem + ext)
            note_file(cand)          # looked for: one that appears later changes the result
            if cand.is_file():
                return cand
    note_folder(amc.parent)
    found = [p for p in amc.parent.iterdir() if p.suffix.lower() == ".asf" and p.is_file()]
    return found[0] if len(found) == 1 else None


def read(path, skeleton=None, units="auto", fps: float = 120.0) -> list[SkeletonSequence]:
    """An ``.amc`` motion (+ its ``.asf``) -> ``[SkeletonSequence]`` in canonical metres."""
    path = Path(check_file(path))
    asf = Path(skeleton) if skeleton is not None else find_skeleton(path)
    if asf is None:
        raise SkeletonFormatError(path, "no .asf skeleton file found beside it: pass skeleton='subject.asf'")
    skel = parse_asf(check_file(asf))
    root, motion, degrees = parse_amc(path, skel)
    names, parents, pos = forward_kinematics(skel, root, motion, degrees)
    topo = build_topology(names, parents)

    def rest_size() -> float:
        zeros = {n: np.zeros((1, len(b.dof))) for n, b in skel.bones.items()}
        _, _, p = forward_kinematics(skel, np.zeros((1, 6)), zeros, degrees)
        return float(np.ptp(p[0], axis=0).max())

    scale, unit = resolve_units(units, rest_size)
    if scale == 0.0:
        raise SkeletonFormatError(asf, "all bone lengths are zero: cannot tell the figure's size (pass units=)")
    pos, turned = face_camera(pos * scale, *side_joints(topo.parts))
    meta = {"source": str(path), "format": "asf_amc", "skeleton_file": str(asf), "units": unit,
            "metres_per_unit": scale, "asf_length_unit": skel.length_unit, "turned_deg": turned}
    T = pos.shape[0]
    seq = SkeletonSequence(joints=pos[:, None].astype(np.float32), present=np.ones((T, 1), bool), topology=topo,
                           fps=fps, metadata=meta)
    return [center_on_root(seq, axes="xz")]


def sniff(path: Path, head: bytes) -> bool:
    h = head.upper()
    return b":FULLY-SPECIFIED" in h or (b":DEGREES" in h and b"\nROOT " in h)
