"""MASS: masked sequence-to-sequence pre-training (Song et al. 2019, eq. 1; the review's
eq. 28): L(θ; X) = 1/|X| Σ_x log P(x^{u:v} | x^{\\u:v}; θ).

For a text x of n tokens, one contiguous fragment x^{u:v} of m = round(fragment_rate · n)
tokens (50% by default, §3.1 "k is set to 50% of the sentence length") is replaced by
``[MASK]`` in the encoder input; the decoder predicts the fragment and sees only the
fragment's shifted tokens ``[MASK] x_u … x_{v-1}`` (Figure 1: the tokens that are not masked
in the encoder are masked in the decoder, so here they are left out), at the fragment's
own positions in the source. The start u is uniform over the places a fragment fits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from lmlab.errors import ConfigError
from lmlab.objectives.base import ConfigDefaults
from lmlab.objectives.seq2seq_pairs import DenoisingObjective, DenoisingPairs, check_seq2seq_run


@dataclass
class MassConfig(ConfigDefaults):
    name: Literal["mass"] = "mass"
    weight: float = 1.0
    fragment_rate: float = 0.5
    """The fragment's share of the text (MASS's k / m; 0.5 in the paper)."""

    def validate(self, path: str) -> None:
        if self.weight <= 0:
            raise ConfigError(f"{path}.weight: must be > 0")
        if not 0.0 < self.fragment_rate <= 1.0:
            raise ConfigError(f"{path}.fragment_rate: must be in (0, 1], got {self.fragment_rate}")

    def check_compatible(self, run_config, path: str) -> None:
        check_seq2seq_run(run_config, path, "mass")

    def describe(self) -> str:
        return f"mass (fragment {self.fragment_rate:g})"


def mass_pair(text: torch.Tensor, fragment_rate: float, cls_id: int, sep_id: int,
              mask_id: int, generator: torch.Generator):
    """(source ``[CLS] x with x^{u:v} masked [SEP]``, target x^{u:v}, target positions
    in the source). text: (n,)."""
    length = text.numel()
    fragment = max(1, min(length, int(round(fragment_rate * length))))  # m
    start = int(torch.randint(0, length - fragment + 1, (1,), generator=generator))  # u
    masked = text.clone()
    masked[start: start + fragment] = mask_id
    source = torch.cat([torch.tensor([cls_id]), masked, torch.tensor([sep_id])])
    positions = torch.arange(start, start + fragment) + 1  # +1: [CLS] is source position 0
    return source, text[start: start + fragment].clone(), positions


class MassObjective(DenoisingObjective):

    def __init__(self, config: MassConfig, tokenizer, seed: int = 0):
        super().__init__(config, tokenizer, seed)

        def make_pair(text, generator):
            return mass_pair(text, config.fragment_rate, tokenizer.cls_id, tokenizer.sep_id,
                             tokenizer.mask_id, generator)

        # The decoder's first input is [MASK], as in the paper's Figure 1.
        self.pairs = DenoisingPairs(config.name, make_pair, seed, tokenizer, tokenizer.mask_id)
