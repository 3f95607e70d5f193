"""JSONL metric log (one object a line) with optional TensorBoard mirroring."""

from __future__ import annotations

import json
from pathlib import Path


class MetricsLog:
    def __init__(self, path: Path, enabled: bool = True):
        """``enabled=False``: a log that writes nothing (ranks other than 0)."""
        self.path, self.enabled = path, enabled
        self._tensorboard = None
        if not enabled:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        try:  # optional, and only when installed
            from torch.utils.tensorboard import SummaryWriter
            self._tensorboard = SummaryWriter(str(path.parent / "tensorboard"))
        except Exception:  # noqa: BLE001 - tensorboard absent or broken: JSONL suffices
            self._tensorboard = None

    def write(self, record: dict) -> None:
        if not self.enabled:
            return
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        if self._tensorboard is not None and "step" in record:
            for key, value in record.items():
                if key != "step" and isinstance(value, (int, float)):
                    self._tensorboard.add_scalar(key, value, record["step"])

    def truncate_after(self, step: int) -> list[str]:
        """On resume, drop records written after the checkpoint we resume from.

        A process killed mid-write leaves a torn last line; it must not block the resume
        (nothing in it is needed: the checkpoint holds the state), so unreadable lines are
        dropped too. Returns one note per dropped unreadable line, for the caller to show."""
        if not self.enabled or not self.path.exists():
            return []
        kept, notes = [], []
        lines = self.path.read_text(encoding="utf-8", errors="replace").splitlines()
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            record = _parse(line)
            if record is None:
                notes.append(f"{self.path}: dropped unreadable line {number} "
                             f"({len(line.encode('utf-8'))} bytes, a write cut short)")
            elif record.get("step", 0) <= step:
                kept.append(line)
        self.path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
        return notes


def _parse(line: str) -> dict | None:
    """The record on ``line``; None for a torn or otherwise unreadable one."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        return None
    return record if isinstance(record, dict) else None
