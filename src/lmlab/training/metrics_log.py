"""JSONL metric log (one object a line) with optional TensorBoard mirroring."""

from __future__ import annotations

import json
from pathlib import Path


class MetricsLog:
    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._tensorboard = None
        try:  # optional, and only when installed
            from torch.utils.tensorboard import SummaryWriter
            self._tensorboard = SummaryWriter(str(path.parent / "tensorboard"))
        except Exception:  # noqa: BLE001 - tensorboard absent or broken: JSONL suffices
            self._tensorboard = None

    def write(self, record: dict) -> None:
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        if self._tensorboard is not None and "step" in record:
            for key, value in record.items():
                if key != "step" and isinstance(value, (int, float)):
                    self._tensorboard.add_scalar(key, value, record["step"])

    def truncate_after(self, step: int) -> None:
        """On resume, drop records written after the checkpoint we resume from."""
        if not self.path.exists():
            return
        kept = [line for line in self.path.read_text(encoding="utf-8").splitlines()
                if line.strip() and json.loads(line).get("step", 0) <= step]
        self.path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
