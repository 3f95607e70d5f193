"""Atomic file writes: a temporary sibling renamed over the target, so a reader (or a run
killed half-way) sees the old file or the new one, never a torn one."""

from __future__ import annotations

import json
import os
from pathlib import Path


def write_json(path: Path, data: dict) -> None:
    """Atomic: write a temporary sibling, then rename over the target."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    os.replace(temporary, temporary.with_name(path.name))
