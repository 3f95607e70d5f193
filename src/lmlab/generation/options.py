"""What a user can ask of generation, with HF ``GenerationConfig``'s names and meanings
so settings carry over unchanged (``max_new_tokens``, ``num_beams``, ``do_sample``, ...).

Every bad value is a one-line :class:`~lmlab.errors.ConfigError` naming the option.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from lmlab.errors import ConfigError


@dataclass(frozen=True)
class GenerationOptions:
    max_new_tokens: int = 30
    """Tokens generated at most per sequence (the stop token included)."""
    min_new_tokens: int = 0
    """The stop tokens are forbidden before this many new tokens."""
    do_sample: bool = False
    """Sample from the (filtered) distribution instead of taking the best token."""
    temperature: float = 1.0
    """Logits are divided by it before sampling (sampling only)."""
    top_k: int = 0
    """Sample among the k most likely tokens only (Fan et al. 2018); 0 = all."""
    top_p: float = 1.0
    """Nucleus sampling (Holtzman et al. 2020): the smallest set of most likely tokens whose
    mass reaches p; 1.0 = all."""
    num_beams: int = 1
    """Beam search with this many beams; 1 = greedy (or sampling)."""
    length_penalty: float = 1.0
    """A finished beam scores sum(log p) / new_tokens ** length_penalty (Wu et al. 2016's
    simpler form, as fairseq and HF): > 0 favours longer outputs."""
    early_stopping: bool | Literal["never"] = False
    """Beam search stops: True as soon as num_beams outputs are finished; False when no
    running beam can still beat them by HF's heuristic; "never" by the exact bound."""
    no_repeat_ngram_size: int = 0
    """No n-gram of this size occurs twice in an output (Paulus et al. 2018); 0 = off."""
    seed: int = 0
    """Seed of the sampling generator: the same seed gives the same text."""
    suppress_ids: tuple[int, ...] = field(default=())
    """Token ids never generated (lmlab runs: padding and the special tokens)."""
    forced_bos_id: int | None = None
    """Token forced as the first generated one (HF BART's forced_bos_token_id)."""
    forced_eos_id: int | None = None
    """Token forced when max_new_tokens is reached (HF BART's forced_eos_token_id)."""

    def validate(self) -> "GenerationOptions":
        checks = [
            ("max_new_tokens", self.max_new_tokens >= 1, ">= 1"),
            ("min_new_tokens", 0 <= self.min_new_tokens <= self.max_new_tokens,
             f"from 0 to max_new_tokens={self.max_new_tokens}"),
            ("num_beams", self.num_beams >= 1, ">= 1 (1 = greedy or sampling)"),
            ("temperature", self.temperature > 0, "> 0 (use do_sample=False for greedy)"),
            ("top_k", self.top_k >= 0, ">= 0 (0 = off)"),
            ("top_p", 0 < self.top_p <= 1, "in (0, 1] (1 = off)"),
            ("no_repeat_ngram_size", self.no_repeat_ngram_size >= 0, ">= 0 (0 = off)"),
            ("early_stopping", self.early_stopping in (True, False, "never"),
             "true, false or never"),
        ]
        for name, ok, expected in checks:
            if not ok:
                raise ConfigError(f"{name}: must be {expected}, got {getattr(self, name)!r}")
        return self
