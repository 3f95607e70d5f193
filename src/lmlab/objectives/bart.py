"""BART: a denoising autoencoder (Lewis et al. 2020 §2.2): corrupt a document with any
combination of the five noising functions of :mod:`lmlab.objectives.bart_noise`, then
reconstruct the original with the decoder, L = -log P(x | noise(x)).

Applied in this order (fairseq's ``DenoisingDataset`` order, token masking and deletion
placed before the spans): sentence permutation, token masking, token deletion, text
infilling, document rotation. The source is ``[CLS] noised [SEP]`` (cut to the block's
length, should 0-length spans make it longer); the target is the whole original block
``[CLS] text [SEP]`` and the decoder starts from ``<eos>`` (as BART's ``</s>``).
The paper's final model (§5.1) uses text infilling (30% of the tokens) with sentence
permutation; these are the defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from lmlab.data.tokenizers import sentence_end_table
from lmlab.errors import ConfigError
from lmlab.objectives.bart_noise import (delete_random_tokens, infill_spans, mask_random_tokens,
                                         permute_sentences, rotate_document)
from lmlab.objectives.base import ConfigDefaults
from lmlab.objectives.seq2seq_pairs import DenoisingObjective, DenoisingPairs, check_seq2seq_run


@dataclass
class BartConfig(ConfigDefaults):
    name: Literal["bart"] = "bart"
    weight: float = 1.0
    token_masking: float = 0.0
    """Share of tokens replaced by [MASK] (0 = off)."""
    token_deletion: float = 0.0
    """Share of tokens deleted (0 = off)."""
    text_infilling: float = 0.3
    """Share of tokens covered by Poisson spans, one [MASK] per span (0 = off)."""
    poisson_lambda: float = 3.0
    """Mean span length of text infilling (λ = 3 in the paper)."""
    sentence_permutation: bool = True
    document_rotation: bool = False

    def validate(self, path: str) -> None:
        if self.weight <= 0:
            raise ConfigError(f"{path}.weight: must be > 0")
        for name in ("token_masking", "token_deletion", "text_infilling"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ConfigError(f"{path}.{name}: must be in [0, 1), got {getattr(self, name)}")
        if self.poisson_lambda <= 0:
            raise ConfigError(f"{path}.poisson_lambda: must be > 0")
        if not self.noises():
            raise ConfigError(f"{path}: no noising function is on; set token_masking, "
                              f"token_deletion or text_infilling > 0, or sentence_permutation "
                              f"or document_rotation: true")

    def noises(self) -> list[str]:
        return [name for name in ("sentence_permutation", "token_masking", "token_deletion",
                                  "text_infilling", "document_rotation") if getattr(self, name)]

    def check_compatible(self, run_config, path: str) -> None:
        check_seq2seq_run(run_config, path, "bart")

    def describe(self) -> str:
        return f"bart ({' + '.join(name.replace('_', ' ') for name in self.noises())})"


def bart_noise(text: torch.Tensor, config: BartConfig, mask_id: int,
               ends_sentence: torch.Tensor | None, generator: torch.Generator) -> torch.Tensor:
    """The configured noising functions applied to ``text`` (n,), in the module's order."""
    if config.sentence_permutation:
        text = permute_sentences(text, ends_sentence, generator)
    if config.token_masking:
        text = mask_random_tokens(text, config.token_masking, mask_id, generator)
    if config.token_deletion:
        text = delete_random_tokens(text, config.token_deletion, generator)
    if config.text_infilling:
        text = infill_spans(text, config.text_infilling, config.poisson_lambda, mask_id, generator)
    if config.document_rotation and text.numel():
        text = rotate_document(text, generator)
    return text


class BartObjective(DenoisingObjective):

    def __init__(self, config: BartConfig, tokenizer, seed: int = 0):
        super().__init__(config, tokenizer, seed)
        ends = sentence_end_table(tokenizer) if config.sentence_permutation else None
        cls, sep = torch.tensor([tokenizer.cls_id]), torch.tensor([tokenizer.sep_id])

        def make_pair(text, generator):
            noised = bart_noise(text, config, tokenizer.mask_id, ends, generator)
            source = torch.cat([cls, noised[: text.numel()], sep])
            return source, torch.cat([cls, text, sep]), None

        self.pairs = DenoisingPairs(config.name, make_pair, seed, tokenizer, tokenizer.eos_id)
