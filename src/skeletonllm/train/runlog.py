"""A stage's training log: ``log.jsonl`` (one JSON object per line, appended and flushed, so a
killed run keeps every line it wrote) and TensorBoard scalars when the package is installed."""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class RunLogger:
    """JSONL log (one object per line, appended and flushed) plus TensorBoard when available."""

    def __init__(self, path: Path, tensorboard: bool, enabled: bool):
        self.enabled = enabled
        self.path = path
        self.tb = None
        if not enabled:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        if tensorboard:
            try:
                import importlib.util
                if importlib.util.find_spec("tensorboard") is not None:
                    from torch.utils.tensorboard import SummaryWriter
                    self.tb = SummaryWriter(str(path.parent / "tensorboard"))
            except Exception as e:  # TensorBoard is optional; the JSONL log is the record
                log.warning("TensorBoard logging disabled: %s", e)

    def write(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        record = {"time": round(time.time(), 3), **record}
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, default=str) + "\n")
            fh.flush()
        if self.tb is not None and "step" in record:
            for k, v in record.items():
                if k not in ("step", "time") and isinstance(v, (int, float)) and not isinstance(v, bool):
                    self.tb.add_scalar(k, v, record["step"])

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()
