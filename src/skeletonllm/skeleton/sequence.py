"""The in-memory skeleton sequence every loader produces and every renderer consumes.

Canonical frame (SPEC §2): metres, x to the viewer's right, y up, z away from the camera
(a point in front of the camera has z > 0 once the renderer has applied its depth shift).
2D formats carry ``dims == 2``, a constant z of 0 and coordinates in nominal metres (see
the loader's docstring for how pixels are scaled). Missing bodies and frames are explicit
in ``present``; their coordinates are zero and must never be drawn.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..errors import SkeletonFormatError
from .topology import Topology


@dataclass
class SkeletonSequence:
    """A skeleton sequence of any topology.

    Attributes:
        joints: ``(T, M, J, 3)`` float32 joint positions in the canonical frame.
        present: ``(T, M)`` bool, whether body m exists at frame t.
        topology: the skeleton format.
        orientations: optional ``(T, M, J, 4)`` float32 joint orientation quaternions
            ``(w, x, y, z)`` in the canonical frame (NTU has them); ``None`` otherwise.
        scores: optional ``(T, M, J)`` float32 per-joint confidences (2D detectors).
        fps: frames per second of the source.
        label: action name, if known.
        label_id: 0-based class index in the source dataset's class list, if known.
        metadata: free-form: ``source`` (file path), ``format``, ``subject``, ``camera``,
            ``captions`` (list of str), ...
    """

    joints: np.ndarray
    present: np.ndarray
    topology: Topology
    orientations: np.ndarray | None = None
    scores: np.ndarray | None = None
    fps: float = 30.0
    label: str | None = None
    label_id: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        src = self.metadata.get("source", "<memory>")
        self.joints = np.asarray(self.joints, dtype=np.float32)
        self.present = np.asarray(self.present, dtype=bool)
        if self.joints.ndim != 4 or self.joints.shape[-1] != 3:
            raise SkeletonFormatError(src, f"joints must have shape (T, M, J, 3), got {self.joints.shape}")
        T, M, J, _ = self.joints.shape
        if T < 1 or M < 1:
            raise SkeletonFormatError(src, f"a sequence needs at least one frame and one body slot, got T={T}, M={M}")
        if J != self.topology.num_joints:
            raise SkeletonFormatError(
                src, f"{J} joints per body but topology '{self.topology.name}' has {self.topology.num_joints}")
        if self.present.shape != (T, M):
            raise SkeletonFormatError(src, f"present must have shape {(T, M)}, got {self.present.shape}")
        if not self.present.any():
            raise SkeletonFormatError(src, "no body is present in any frame")
        bad = ~np.isfinite(self.joints[self.present]).all(axis=(-1, -2))
        if bad.any():
            t, m = np.argwhere(self.present)[np.flatnonzero(bad)[0]]
            raise SkeletonFormatError(src, "non-finite joint coordinate (NaN or Inf)", f"frame {t}, body {m}")
        # Absent bodies are zero, never garbage that a later step could draw.
        self.joints[~self.present] = 0.0
        if self.orientations is not None:
            self.orientations = np.asarray(self.orientations, dtype=np.float32)
            if self.orientations.shape != (T, M, J, 4):
                raise SkeletonFormatError(src, f"orientations must have shape {(T, M, J, 4)}, got {self.orientations.shape}")
            if not np.isfinite(self.orientations[self.present]).all():
                raise SkeletonFormatError(src, "non-finite joint orientation")
        if self.scores is not None:
            self.scores = np.asarray(self.scores, dtype=np.float32)
            if self.scores.shape != (T, M, J):
                raise SkeletonFormatError(src, f"scores must have shape {(T, M, J)}, got {self.scores.shape}")

    # -- sizes -------------------------------------------------------------------------
    @property
    def num_frames(self) -> int:
        return self.joints.shape[0]

    @property
    def num_bodies(self) -> int:
        return self.joints.shape[1]

    @property
    def num_joints(self) -> int:
        return self.joints.shape[2]

    @property
    def dims(self) -> int:
        return self.topology.dims

    @property
    def source(self) -> str:
        return str(self.metadata.get("source", "<memory>"))

    def first_valid_frame(self, body: int | None = None) -> int:
        """Index of the first frame where ``body`` (or any body) is present."""
        mask = self.present.any(axis=1) if body is None else self.present[:, body]
        hits = np.flatnonzero(mask)
        if hits.size == 0:
            raise ValueError(f"{self.source}: body {body} is never present")
        return int(hits[0])

    # -- slicing -----------------------------------------------------------------------
    def select_frames(self, indices) -> "SkeletonSequence":
        """A new sequence holding the given frames (any integer index array)."""
        idx = np.asarray(indices, dtype=np.int64)
        return replace(
            self, joints=self.joints[idx], present=self.present[idx],
            orientations=None if self.orientations is None else self.orientations[idx],
            scores=None if self.scores is None else self.scores[idx],
            metadata=dict(self.metadata))

    def crop(self, start: int, stop: int) -> "SkeletonSequence":
        """Frames ``start..stop-1`` (e.g. one labelled clip of a long recording)."""
        return self.select_frames(np.arange(start, stop))

    def summary(self) -> dict[str, Any]:
        """A JSON-ready description (the ``inspect`` command prints this)."""
        pts = self.joints[self.present]
        lo = pts.reshape(-1, 3).min(axis=0).tolist()
        hi = pts.reshape(-1, 3).max(axis=0).tolist()
        return {
            "format": self.metadata.get("format"),
            "topology": self.topology.name,
            "frames": self.num_frames,
            "bodies": self.num_bodies,
            "joints": self.num_joints,
            "dims": self.dims,
            "fps": self.fps,
            "label": self.label,
            "label_id": self.label_id,
            "frames_with_body": int(self.present.any(axis=1).sum()),
            "has_orientations": self.orientations is not None,
            "min_xyz": lo,
            "max_xyz": hi,
            "source": self.source,
        }
