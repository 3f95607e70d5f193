"""T5's span corruption (Raffel et al. 2020 §3.1.4 "Unsupervised objective", Figure 2,
§3.3.4): 15% of the tokens are dropped in spans of mean length 3; each dropped span is
replaced in the input by one sentinel token, and the target is the dropped spans, each
after the sentinel that replaced it, followed by a final sentinel.

    text    Thank you for inviting me to your party last week .
    input   Thank you <extra_id_0> me to your party <extra_id_1> week . [SEP]
    target  <extra_id_0> for inviting <extra_id_1> last <extra_id_2>

Which tokens are noise follows T5's ``random_spans_noise_mask``: ``round(n · density)``
noise tokens (at least 1, at most n - 1) in ``round(noise / mean_span_length)`` spans (at
least 1); the noise and the kept tokens are each cut into that many non-empty spans at
uniformly random places, interleaved starting with kept tokens. Sentinels are numbered in
order of appearance, ``<extra_id_0>`` first; the tokenizer must hold them
(``data.tokenizer.sentinels``). The decoder starts from ``<pad>``, as T5's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from lmlab.data.tokenizers import sentinel_ids
from lmlab.errors import ConfigError
from lmlab.objectives.base import ConfigDefaults
from lmlab.objectives.seq2seq_pairs import DenoisingObjective, DenoisingPairs, check_seq2seq_run


def noise_span_counts(length: int, noise_density: float,
                      mean_span_length: float) -> tuple[int, int]:
    """(noise tokens, noise spans) of a text of ``length`` tokens (T5's rounding)."""
    noise = min(max(int(round(length * noise_density)), 1), max(1, length - 1))
    return noise, max(int(round(noise / mean_span_length)), 1)


@dataclass
class SpanCorruptionConfig(ConfigDefaults):
    name: Literal["t5"] = "t5"
    weight: float = 1.0
    noise_density: float = 0.15
    """Share of the tokens dropped (15% in T5)."""
    mean_span_length: float = 3.0
    """Mean length of a dropped span (3 in T5)."""

    def validate(self, path: str) -> None:
        if self.weight <= 0:
            raise ConfigError(f"{path}.weight: must be > 0")
        if not 0.0 < self.noise_density < 1.0:
            raise ConfigError(f"{path}.noise_density: must be in (0, 1), got {self.noise_density}")
        if self.mean_span_length < 1.0:
            raise ConfigError(f"{path}.mean_span_length: must be >= 1")

    def sentinels_needed(self, seq_len: int) -> int:
        """Sentinels for a ``[CLS] text [SEP]`` block of ``seq_len``: one per span + 1."""
        return noise_span_counts(seq_len - 2, self.noise_density, self.mean_span_length)[1] + 1

    def check_compatible(self, run_config, path: str) -> None:
        check_seq2seq_run(run_config, path, "t5")
        needed = self.sentinels_needed(run_config.data.seq_len)
        have = run_config.data.tokenizer.sentinels
        if have < needed:
            raise ConfigError(f"data.tokenizer.sentinels: t5 span corruption of data.seq_len="
                              f"{run_config.data.seq_len} needs at least {needed} sentinel "
                              f"tokens, got {have}")

    def describe(self) -> str:
        return f"t5 (span corruption {self.noise_density:g}, mean span {self.mean_span_length:g})"


def _random_segmentation(items: int, segments: int, generator: torch.Generator) -> torch.Tensor:
    """``items`` cut into ``segments`` non-empty runs at uniformly random places: (segments,)
    lengths (T5's ``_random_segmentation``)."""
    starts_segment = torch.arange(items - 1) < segments - 1  # (items-1,): segments-1 cuts
    starts_segment = starts_segment[torch.randperm(items - 1, generator=generator)]
    segment_id = torch.cat([torch.zeros(1, dtype=torch.long), starts_segment.long().cumsum(0)])
    return torch.bincount(segment_id, minlength=segments)


def span_corruption_pair(text: torch.Tensor, noise_density: float, mean_span_length: float,
                         sentinels: list[int], sep_id: int, generator: torch.Generator):
    """(input with each noise span -> its sentinel, then [SEP]; target: sentinel_i span_i …
    final sentinel). text: (n,), n >= 2."""
    noise, spans = noise_span_counts(text.numel(), noise_density, mean_span_length)
    if spans + 1 > len(sentinels):
        raise ConfigError(f"data.tokenizer.sentinels: a text of {text.numel()} tokens needs "
                          f"{spans + 1} sentinel tokens, the tokenizer has {len(sentinels)}")
    noise_lengths = _random_segmentation(noise, spans, generator).tolist()
    kept_lengths = _random_segmentation(text.numel() - noise, spans, generator).tolist()
    source, target, read = [], [], 0
    for index, (kept, dropped) in enumerate(zip(kept_lengths, noise_lengths)):
        sentinel = torch.tensor([sentinels[index]])
        source += [text[read: read + kept], sentinel]
        target += [sentinel, text[read + kept: read + kept + dropped]]
        read += kept + dropped
    source.append(torch.tensor([sep_id]))
    target.append(torch.tensor([sentinels[spans]]))  # the final sentinel
    return torch.cat(source), torch.cat(target), None


class SpanCorruptionObjective(DenoisingObjective):

    def __init__(self, config: SpanCorruptionConfig, tokenizer, seed: int = 0):
        super().__init__(config, tokenizer, seed)
        sentinels = sentinel_ids(tokenizer)
        if not sentinels:
            raise ConfigError("data.tokenizer.sentinels: t5 span corruption needs sentinel "
                              "tokens <extra_id_0>, <extra_id_1>, …; this tokenizer has none "
                              "(set data.tokenizer.sentinels, e.g. 100)")

        def make_pair(text, generator):
            return span_corruption_pair(text, config.noise_density, config.mean_span_length,
                                        sentinels, tokenizer.sep_id, generator)

        self.pairs = DenoisingPairs(config.name, make_pair, seed, tokenizer, tokenizer.pad_id)
