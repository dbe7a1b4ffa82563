"""What an evaluation has done so far, on disk, so that a killed run resumes where it stopped.

:class:`PredictionLog` is ``predictions.jsonl`` (a header with the settings, then one record
per clip, fsynced batch by batch); :class:`FeatureStore` keeps the hidden-state vectors that
the t-SNE figure is drawn from, one ``.npz`` shard per batch.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from ..atomic import atomic_write_bytes, atomic_write_text
from ..errors import ConfigError


class PredictionLog:
    """``predictions.jsonl``: a header line with the run's settings, then one record per clip.

    Records are appended and fsynced batch by batch. Reopening checks that the header
    matches the current settings (a different candidate list or mode must not mix with
    old answers) and drops a torn last line left by a killed process.
    """

    def __init__(self, path: str | os.PathLike, header: dict, resume: bool = True):
        self.path = Path(path)
        self.header = header
        self.records: dict[str, dict] = {}
        if resume and self.path.is_file():
            self._reopen()
        else:
            atomic_write_text(self.path, json.dumps({"header": header}) + "\n")

    def _reopen(self) -> None:
        lines = self.path.read_text(encoding="utf-8").splitlines()
        parsed = []
        for n, line in enumerate(lines):
            if not line.strip():
                continue
            try:
                parsed.append(json.loads(line))
            except json.JSONDecodeError:
                if n == len(lines) - 1:
                    break  # torn last line of a killed run: that batch is evaluated again
                raise ConfigError(self.path, f"line {n + 1}", "not valid JSON (the file is damaged; "
                                  "delete it or evaluate with resume off)") from None
        if not parsed or "header" not in parsed[0]:
            raise ConfigError(self.path, "header", "first line is not a header; delete the file or turn resume off")
        old = parsed[0]["header"]
        for key, value in self.header.items():
            if old.get(key) != value:
                raise ConfigError(self.path, f"header.{key}",
                                  f"was {old.get(key)!r}, this run has {value!r}: these predictions belong to "
                                  "another evaluation; use another output folder or turn resume off (--no-resume)")
        for rec in parsed[1:]:
            self.records[rec["id"]] = rec
        # Rewrite without the torn line, so that appends start on a clean line.
        atomic_write_text(self.path, "".join(json.dumps(r) + "\n" for r in parsed))

    def append(self, records: Sequence[dict]) -> None:
        with open(self.path, "a", encoding="utf-8") as fh:
            for r in records:
                fh.write(json.dumps(r) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        for r in records:
            self.records[r["id"]] = r


class FeatureStore:
    """Hidden-state vectors per clip in ``features/part-NNNNN.npz`` (ids, labels, roles, features)."""

    def __init__(self, directory: str | os.PathLike, resume: bool = True):
        self.dir = Path(directory)
        self.ids: list[str] = []
        self.labels: list[str] = []
        self.roles: list[str] = []
        self.feats: list[np.ndarray] = []
        self._parts = 0
        if self.dir.is_dir():
            for part in sorted(self.dir.glob("part-*.npz")):
                if not resume:
                    part.unlink()
                    continue
                with np.load(part, allow_pickle=False) as z:
                    self.ids += z["ids"].tolist()
                    self.labels += z["labels"].tolist()
                    self.roles += z["roles"].tolist()
                    self.feats += list(z["features"])
                self._parts = max(self._parts, int(part.stem.split("-")[1]) + 1)
        self.done = set(self.ids)

    def add(self, ids: list[str], labels: list[str], roles: list[str], feats: np.ndarray) -> None:
        import io
        buf = io.BytesIO()
        np.savez(buf, ids=np.array(ids), labels=np.array(labels), roles=np.array(roles),
                 features=np.asarray(feats, np.float32))
        atomic_write_bytes(self.dir / f"part-{self._parts:05d}.npz", buf.getvalue())
        self._parts += 1
        self.ids += ids
        self.labels += labels
        self.roles += roles
        self.feats += list(np.asarray(feats, np.float32))
        self.done.update(ids)
