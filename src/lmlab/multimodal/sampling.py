"""What the multimodal objectives share (issue 22): per-row random generators (exact
resume), the model call on a batch view, and ITM's negative pairs (also WRA's)."""

from __future__ import annotations

import torch

from lmlab.errors import ConfigError
from lmlab.objectives.base import row_generator


def row_generators(batch: dict, seed: int, stream: int) -> list[torch.Generator]:
    """One generator per row, seeded by (seed, step, example id, stream)."""
    examples = batch.get("example_ids", torch.arange(batch["input_ids"].shape[0]))
    return [row_generator(seed, int(batch.get("step", 0)), int(e), stream) for e in examples]


def forward_batch(model, batch: dict):
    return model(batch["input_ids"], batch["attention_mask"], batch["features"])


def check_rate(value: float, path: str, name: str) -> None:
    if not 0.0 < value <= 1.0:
        raise ConfigError(f"{path}.{name}: must be in (0, 1], got {value}")


def draw_negatives(image_ids: torch.Tensor, caption_ids: torch.Tensor, rate: float,
                   generators: list[torch.Generator]) -> torch.Tensor:
    """(B,) the row whose picture each row shows after corruption: itself (a match) or,
    with probability ``rate``, a row with another image *and* another caption text. A row
    with no such partner in the batch stays a match."""
    source = torch.arange(image_ids.shape[0])
    for row, generator in enumerate(generators):
        draw = torch.rand(1, generator=generator).item()
        allowed = ((image_ids != image_ids[row]) & (caption_ids != caption_ids[row])).nonzero()
        pick = torch.randint(max(1, allowed.numel()), (1,), generator=generator).item()
        if draw < rate and allowed.numel():
            source[row] = allowed[pick, 0]
    return source


def needs_visual_outputs(run_config, path: str, what: str) -> None:
    """An objective that reads the visual outputs refuses B2T2's early fusion (none)."""
    if getattr(run_config.model, "fusion", "joint") == "early":
        raise ConfigError(f"{path}: {what} reads the visual tokens' outputs; model.fusion: "
                          f"early (B2T2) has none, use fusion: joint or leave it out")
