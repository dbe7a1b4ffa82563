"""Helpers shared by the format readers: reading files, parsing number rows with line
numbers, and the Kinect camera-space -> canonical conversion.

Kinect convention (NTU RGB+D, PKU-MMD: Kinect v2; NW-UCLA: Kinect v1). Kinect camera
space is right-handed: x grows to the sensor's left, y up, z forward (metres). Our
canonical frame is x = viewer's right, y up, z away from the camera, so x is negated.
Checked on the real files (tests/test_formats.py): the NTU A001 subject faces the camera
(hands held in front of the chest, feet pointing at the camera) and, after the flip,
their right shoulder is on the viewer's left, as in a photograph of someone facing you.
The ``colorX`` column of the NTU files correlates *negatively* with x/z after the flip
(+0.999 before): Kinect v2 colour frames are mirror images, so colorX cannot decide the
sign of x. A reflection acts on orientation quaternions (w, x, y, z) as (w, x, -y, -z)
(``R' = S R S`` with ``S = diag(-1, 1, 1)``); the result is still a proper rotation.
"""
from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np

from ...errors import SkeletonFormatError
from ..reads import note_file

PathLike = str | os.PathLike


def check_file(path: PathLike) -> Path:
    """The path as a ``Path``; a clear error if it is missing, a folder, or empty. Every file a
    reader opens passes here, which reports it to the dataset cache (:mod:`..reads`)."""
    path = Path(path)
    note_file(path)
    if not path.exists():
        raise SkeletonFormatError(path, "file not found")
    if path.is_dir():
        raise SkeletonFormatError(path, "is a folder, expected a skeleton file or an OpenPose output folder of "
                                  "*_keypoints.json (use SkeletonDataset or `skeletonllm convert` for folders of files)")
    if path.stat().st_size == 0:
        raise SkeletonFormatError(path, "file is empty")
    return path


def read_text(path: PathLike) -> str:
    """Whole file as text (UTF-8, LF or CRLF); errors name the file."""
    path = check_file(path)
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise SkeletonFormatError(path, "not a text file (bytes that are not UTF-8)", f"line {line}") from None
    if not text.strip():
        raise SkeletonFormatError(path, "file holds only whitespace")
    return text


def read_json(path: PathLike):
    """A JSON file's content; a syntax error names the line and column."""
    try:
        return json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise SkeletonFormatError(path, f"not valid JSON ({exc.msg})", f"line {exc.lineno}, column {exc.colno}") from None


def npz_members(path: PathLike, head: bytes) -> set[str]:
    """Member names of an ``.npz`` (zip) file from its directory, without reading arrays; empty if not a zip."""
    if head[:4] != b"PK\x03\x04":
        return set()
    try:
        with zipfile.ZipFile(path) as zf:
            return set(zf.namelist())
    except (zipfile.BadZipFile, OSError):
        return set()


def parse_row(path: PathLike, line: str, lineno: int, ncols: int | None, what: str) -> np.ndarray:
    """One whitespace-separated row of finite numbers; ``ncols=None`` accepts any count."""
    parts = line.replace(",", " ").split()
    if ncols is not None and len(parts) != ncols:
        raise SkeletonFormatError(path, f"expected {ncols} numbers ({what}), found {len(parts)}", f"line {lineno}")
    try:
        row = np.array([float(p) for p in parts], dtype=np.float64)
    except ValueError:
        bad = next(p for p in parts if not _is_float(p))
        raise SkeletonFormatError(path, f"'{bad[:40]}' is not a number ({what})", f"line {lineno}") from None
    if not np.isfinite(row).all():
        raise SkeletonFormatError(path, f"NaN or infinite value ({what})", f"line {lineno}")
    return row


def parse_rows(path: PathLike, lines: list[str], first_lineno: int, ncols: int, what: str) -> np.ndarray:
    """``(len(lines), ncols)`` float64 from text rows; errors name the offending line.

    Fast path: one bulk conversion of all tokens. Only if that fails (or the count is off,
    or a value is not finite) are the rows re-read one by one to find the bad line.
    """
    try:
        flat = np.array(" ".join(lines).split(), dtype=np.float64)
        if flat.size == len(lines) * ncols and np.isfinite(flat).all():
            return flat.reshape(len(lines), ncols)
    except ValueError:
        pass
    rows = [parse_row(path, line, first_lineno + k, ncols, what) for k, line in enumerate(lines)]
    return np.stack(rows) if rows else np.zeros((0, ncols))


def parse_int(path: PathLike, line: str | None, lineno: int, what: str) -> int:
    """A line holding one non-negative integer (a count)."""
    if line is None:
        raise SkeletonFormatError(path, f"file ends early: expected {what}", f"line {lineno}")
    token = line.strip()
    if not token.isdigit():
        raise SkeletonFormatError(path, f"expected {what} (one non-negative integer), found '{token[:40]}'",
                                  f"line {lineno}")
    return int(token)


def _is_float(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def kinect_to_canonical(xyz: np.ndarray) -> np.ndarray:
    """Kinect camera space ``(..., 3)`` -> canonical (x negated; see module docstring)."""
    out = np.array(xyz, dtype=np.float32, copy=True)
    out[..., 0] *= -1.0
    return out


def kinect_quat_to_canonical(q: np.ndarray) -> np.ndarray:
    """Kinect orientation quaternions ``(..., 4)`` (w, x, y, z) -> canonical frame.

    Mirroring x maps a rotation R to S R S, i.e. (w, x, y, z) -> (w, x, -y, -z).
    """
    out = np.array(q, dtype=np.float32, copy=True)
    out[..., 2:] *= -1.0
    return out


def values_array(path: PathLike, value, shape_desc: str, where: str | None = None,
                 ndim: int | None = None) -> np.ndarray:
    """A float array from json-like nested lists / arrays, with a clear error if ragged or non-numeric."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise SkeletonFormatError(path, f"expected numbers shaped {shape_desc} (ragged or non-numeric values)",
                                  where) from None
    if ndim is not None and arr.ndim != ndim:
        raise SkeletonFormatError(path, f"expected an array shaped {shape_desc}, got shape {arr.shape}", where)
    return arr


def first_nonfinite(path: PathLike, arr: np.ndarray, axis_names: tuple[str, ...], what: str) -> None:
    """Raise naming the first non-finite element's position (e.g. frame 3, joint 7)."""
    bad = np.argwhere(~np.isfinite(arr))
    if bad.size:
        where = ", ".join(f"{n} {i}" for n, i in zip(axis_names, bad[0]))
        raise SkeletonFormatError(path, f"NaN or infinite value in {what}", where)
