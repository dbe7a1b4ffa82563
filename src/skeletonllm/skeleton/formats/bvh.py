"""BVH motion capture files: a small parser and forward kinematics in numpy.

Parsing: ``HIERARCHY`` with one or more ``ROOT`` trees of ``JOINT`` / ``End Site``
blocks, each with ``OFFSET x y z`` and (not End Sites) ``CHANNELS n ...`` in any order of
``X/Y/Zposition`` and ``X/Y/Zrotation``; then ``MOTION``, ``Frames: N``,
``Frame Time: dt`` and N lines of channel values. fps = 1 / dt (rounded to 0.001).

Kinematics: a joint's local transform is a translation by ``OFFSET`` (plus its position
channels, if it has any) and a rotation that is the product of its rotation channels in
the order listed (``Zrotation Yrotation Xrotation`` -> ``Rz @ Ry @ Rx``, degrees); world
transforms chain from the root.

Topology: one joint per ``ROOT``/``JOINT``; End Sites are dropped (they carry no channels
and only mark the tip of a chain, e.g. the top of the head), but they are used to estimate
the figure's size. Body parts come from joint names by keyword (see :func:`guess_part`).

Units (``units=``): ``"m"``, ``"cm"``, ``"mm"``, ``"inch"``, ``"cmu"`` (CMU mocap BVH:
1 unit = 1/0.45 inch = 0.05644 m, from the ASF ``length 0.45`` convention), a number
(metres per unit), or ``"auto"`` (default): the figure's height is estimated in file units
as the largest extent of the rest pose (all channels zero; in practice a standing T-pose,
whose arm span is close to its height) including End Sites, and the unit among m, cm, mm,
inch and cmu that puts that height closest to 1.7 m is chosen. For the CMU sample
(``cmu_01_01.bvh``) this picks ``cmu``: its thigh is then 0.40 m and its first frame
spans 1.40 m from toe joint to head joint, 1.50 m to the head's End Site (the CMU
skeleton's head chain stops well below the crown, so joint extents understate stature).

Axes: BVH is y-up and right-handed. The figure is turned about y so that in its first
frame it faces +z (the direction from its right hip to its left hip, crossed with up),
then mapped to the canonical camera frame by ``(x, y, z) -> (x, y, -z)``, so it faces
the camera with its right side on the viewer's left (as HumanML3D); finally the first
frame's root is moved to x = z = 0 (height kept). With no left/right joints to go by, the
turn is skipped.
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
from ._common import parse_rows, read_text
from ._kinematics import axis_rotation, chain, face_camera, resolve_units, side_joints

_CHANNELS = ("Xposition", "Yposition", "Zposition", "Xrotation", "Yrotation", "Zrotation")


@dataclass
class BVHJoint:
    name: str
    parent: int  # -1 for a root
    offset: np.ndarray  # (3,)
    channels: list[str] = field(default_factory=list)
    end_sites: list[np.ndarray] = field(default_factory=list)  # offsets of End Sites below it


@dataclass
class BVHData:
    joints: list[BVHJoint]
    motion: np.ndarray  # (T, total channels) as in the file
    frame_time: float


class _Tokens:
    """Whitespace tokens with their line numbers."""

    def __init__(self, path, lines: list[str]):
        self.path = path
        self.items = [(tok, n) for n, line in enumerate(lines, 1) for tok in line.split()]
        self.k = 0

    def peek(self) -> str | None:
        return self.items[self.k][0] if self.k < len(self.items) else None

    def line(self) -> int:
        return self.items[min(self.k, len(self.items) - 1)][1] if self.items else 1

    def next(self, what: str) -> str:
        if self.k >= len(self.items):
            raise SkeletonFormatError(self.path, f"file ends early: expected {what}", f"line {self.line()}")
        tok = self.items[self.k][0]
        self.k += 1
        return tok

    def expect(self, word: str) -> None:
        line = self.line()
        tok = self.next(f"'{word}'")
        if tok != word:
            raise SkeletonFormatError(self.path, f"expected '{word}', found '{tok[:40]}'", f"line {line}")

    def number(self, what: str) -> float:
        line = self.line()
        tok = self.next(what)
        try:
            val = float(tok)
        except ValueError:
            raise SkeletonFormatError(self.path, f"expected a number ({what}), found '{tok[:40]}'", f"line {line}") from None
        if not np.isfinite(val):
            raise SkeletonFormatError(self.path, f"NaN or infinite value ({what})", f"line {line}")
        return val


def parse(path) -> BVHData:
    """Read a BVH file's hierarchy and motion; errors name the line."""
    lines = read_text(path).splitlines()
    try:
        motion_at = next(n for n, line in enumerate(lines) if line.strip().upper() == "MOTION")
    except StopIteration:
        raise SkeletonFormatError(path, "no MOTION section (expected HIERARCHY ... MOTION ...)") from None
    tok = _Tokens(path, lines[:motion_at])
    tok.expect("HIERARCHY")
    joints: list[BVHJoint] = []

    def block(name: str, parent: int) -> None:
        me = len(joints)
        tok.expect("{")
        tok.expect("OFFSET")
        offset = np.array([tok.number(f"OFFSET of {name}") for _ in range(3)])
        tok.expect("CHANNELS")
        line = tok.line()
        n = tok.number(f"channel count of {name}")
        if n != int(n) or not 0 <= n <= 6:
            raise SkeletonFormatError(path, f"channel count of {name} must be 0..6, found {n}", f"line {line}")
        chans = []
        for _ in range(int(n)):
            line = tok.line()
            c = tok.next(f"a channel name of {name}")
            if c not in _CHANNELS:
                raise SkeletonFormatError(path, f"unknown channel '{c[:40]}' (expected one of {list(_CHANNELS)})",
                                          f"line {line}")
            chans.append(c)
        joints.append(BVHJoint(name, parent, offset, chans))
        while True:
            line = tok.line()
            word = tok.next(f"JOINT, End Site or '}}' in {name}")
            if word == "}":
                return
            if word == "JOINT":
                block(tok.next("a joint name"), me)
            elif word == "End":
                tok.expect("Site")
                tok.expect("{")
                tok.expect("OFFSET")
                joints[me].end_sites.append(np.array([tok.number(f"End Site OFFSET of {name}") for _ in range(3)]))
                tok.expect("}")
            else:
                raise SkeletonFormatError(path, f"expected JOINT, End Site or '}}', found '{word[:40]}'", f"line {line}")

    while tok.peek() == "ROOT":
        tok.next("ROOT")
        block(tok.next("the root's name"), -1)
    if not joints:
        raise SkeletonFormatError(path, "no ROOT joint in the HIERARCHY", f"line {tok.line()}")
    if tok.peek() is not None:
        raise SkeletonFormatError(path, f"unexpected '{tok.peek()[:40]}' after the hierarchy", f"line {tok.line()}")

    # MOTION header, then one line of channel values per frame.
    hdr = _Tokens(path, [""] * (motion_at + 1) + lines[motion_at + 1:motion_at + 3])
    hdr.expect("Frames:")
    line = hdr.line()
    frames = hdr.number("the frame count")
    if frames != int(frames) or frames < 1:
        raise SkeletonFormatError(path, f"frame count must be a positive integer, found {frames}", f"line {line}")
    hdr.expect("Frame")
    hdr.expect("Time:")
    line = hdr.line()
    dt = hdr.number("the frame time")
    if dt <= 0:
        raise SkeletonFormatError(path, f"frame time must be positive, found {dt}", f"line {line}")
    first = motion_at + 3  # 0-based index of the first motion line
    rows = [r for r in lines[first:]]
    while rows and not rows[-1].strip():
        rows.pop()
    nframes, nchan = int(frames), sum(len(j.channels) for j in joints)
    if len(rows) < nframes:
        raise SkeletonFormatError(path, f"truncated: the header says {nframes} frames, the file has {len(rows)}",
                                  f"line {first + len(rows)}")
    if len(rows) > nframes:
        raise SkeletonFormatError(path, f"more motion lines than the {nframes} frames the header says",
                                  f"line {first + nframes + 1}")
    motion = parse_rows(path, rows, first + 1, nchan, f"{nchan} channel values per frame")
    return BVHData(joints, motion, dt)


def forward_kinematics(data: BVHData) -> tuple[np.ndarray, np.ndarray]:
    """World positions: ``(T, J, 3)`` joints and ``(T, E, 3)`` End Sites, in file units and axes."""
    T = data.motion.shape[0]
    J = len(data.joints)
    local = np.broadcast_to(np.eye(3), (T, J, 3, 3)).copy()
    offsets = np.zeros((T, J, 3))
    col = 0
    for j, joint in enumerate(data.joints):
        offsets[:, j] = joint.offset
        for ch in joint.channels:
            v = data.motion[:, col]
            col += 1
            if ch.endswith("position"):
                offsets[:, j, "XYZ".index(ch[0])] += v
            else:
                local[:, j] = local[:, j] @ axis_rotation(ch[0], v)
    pos, rot = chain([j.parent for j in data.joints], offsets, local, np.zeros((T, 3)))
    ends = [pos[:, j] + rot[:, j] @ off for j, joint in enumerate(data.joints) for off in joint.end_sites]
    return pos, (np.stack(ends, axis=1) if ends else np.zeros((T, 0, 3)))


# -- topology from names -------------------------------------------------------------------
_LEFT = re.compile(r"(?i:left)|^[lL](?=[A-Z_.\-])|(?<=[a-z0-9])L$|[_.\-][lL]$", re.ASCII)
_RIGHT = re.compile(r"(?i:right)|^[rR](?=[A-Z_.\-])|(?<=[a-z0-9])R$|[_.\-][rR]$", re.ASCII)
_KEYWORDS = (  # first match wins: hands before arms, feet before legs
    ("hand", ("hand", "wrist", "finger", "thumb", "index", "middle", "ring", "pinky", "palm")),
    ("foot", ("foot", "toe", "ankle", "heel")),
    ("arm", ("shoulder", "arm", "elbow")),
    ("leg", ("leg", "thigh", "knee", "hip", "shin", "calf")),
    ("head", ("head", "neck", "nose", "eye", "jaw", "skull", "ear")),
)


def _side(name: str) -> str | None:
    base = name.split(":")[-1]  # drop namespaces such as "mixamorig:"
    if _LEFT.search(base):
        return "left"
    if _RIGHT.search(base):
        return "right"
    return None


def guess_part(name: str, inherited_side: str | None = None) -> str:
    """Body part of a joint from its name (one of ``BODY_PARTS``).

    Side from ``left``/``right`` anywhere, an ``L``/``R`` prefix before a capital or
    separator (``LHipJoint``, ``l_knee``) or suffix (``hand.L``, ``arm_r``); a limb joint
    whose name has no side takes its parent's. Limb from keywords (hand, wrist, finger,
    thumb -> hand; foot, toe, ankle -> foot; shoulder, arm, elbow -> arm; leg, thigh,
    knee, hip -> leg); head and neck -> head. A limb with no side anywhere, and
    everything else, is torso.
    """
    low = name.split(":")[-1].lower()
    side = _side(name) or inherited_side
    for part, words in _KEYWORDS:
        if any(w in low for w in words):
            if part == "head":
                return "head"
            return f"{side}_{part}" if side else "torso"
    return "torso"


def build_topology(data: BVHData) -> Topology:
    names, parts, sides = [], [], []
    seen: dict[str, int] = {}
    for j in data.joints:
        n = j.name
        if n in seen:  # duplicate names are legal in sloppy files; keep them distinct
            seen[n] += 1
            n = f"{n}_{seen[n]}"
        else:
            seen[n] = 1
        names.append(n)
        inherited = sides[j.parent] if j.parent >= 0 else None
        side = _side(j.name) or inherited
        sides.append(side)
        parts.append(guess_part(j.name, inherited))
    bones = [(j.parent, k) for k, j in enumerate(data.joints) if j.parent >= 0]
    digest = hashlib.sha1(repr((names, bones)).encode()).hexdigest()[:8]
    return Topology(name=f"bvh{len(names)}_{digest}", joint_names=tuple(names), bones=tuple(bones),
                    parts=tuple(parts), dims=3)


def _rest_size(data: BVHData) -> float:
    """Largest extent of the rest pose (all channels zero), End Sites included, in file units."""
    p, e = forward_kinematics(BVHData(data.joints, np.zeros((1, data.motion.shape[1])), data.frame_time))
    return float(np.ptp(np.concatenate([p[0], e[0]]), axis=0).max())


def _unit_scale(path, data: BVHData, units) -> tuple[float, str]:
    scale, unit = resolve_units(units, lambda: _rest_size(data))
    if scale == 0.0:
        raise SkeletonFormatError(path, "all OFFSETs are zero: cannot tell the figure's size (pass units=)")
    return scale, unit


def read(path, units="auto") -> list[SkeletonSequence]:
    """A BVH file -> ``[SkeletonSequence]`` in canonical metres (module docstring)."""
    path = Path(path)
    data = parse(path)
    topo = build_topology(data)
    scale, unit = _unit_scale(path, data, units)
    pos, _ = forward_kinematics(data)
    pos = pos * scale
    # Turn about y so the first frame faces +z, then reflect z (right-handed -> camera frame).
    pos, turned = face_camera(pos, *side_joints(topo.parts))
    meta = {"source": str(path), "format": "bvh", "units": unit, "metres_per_unit": scale,
            "turned_deg": turned, "frame_time": data.frame_time}
    T = pos.shape[0]
    seq = SkeletonSequence(joints=pos[:, None].astype(np.float32), present=np.ones((T, 1), bool), topology=topo,
                           fps=round(1.0 / data.frame_time, 3), metadata=meta)
    return [center_on_root(seq, axes="xz")]


def sniff(path: Path, head: bytes) -> bool:
    return head.lstrip()[:9].upper() == b"HIERARCHY"
