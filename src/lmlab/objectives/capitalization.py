"""ERNIE 2.0's capitalization prediction task (Sun et al. 2020, §4.2.1).

"Capitalized words usually have certain specific semantic value in sentences": the model
reads lower-cased text and predicts, for every word, whether it was capitalized — a
binary token classification. lmlab keeps a cased vocabulary and makes the lower-casing
this objective's input corruption: every token whose lower-cased twin is in the
vocabulary is replaced by that twin, and each word-initial token is labelled 1 when its
first letter is upper case, 0 when lower case.

Labels are ``IGNORE`` (-100) on special tokens, ``##`` continuation pieces (the case is a
word's), tokens with no letter first, tokens the MLM masked or replaced (their input is no
longer the word), and capitalized tokens whose lower-cased twin is not in the vocabulary
(their input would show the case). Loss: cross-entropy of a linear layer over the final
hidden states (B, T, 2), on the labelled positions. It shares the run's forward pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from lmlab.data.batching import IGNORE
from lmlab.errors import ConfigError
from lmlab.objectives.base import ConfigDefaults, LossOutput, StatelessObjective, shared_forward


@dataclass
class CapitalizationConfig(ConfigDefaults):
    name: Literal["cap"] = "cap"
    weight: float = 1.0

    def validate(self, path: str) -> None:
        if self.weight <= 0:
            raise ConfigError(f"{path}.weight: must be > 0")

    def check_compatible(self, run_config, path: str) -> None:
        if run_config.data.tokenizer.lowercase:
            raise ConfigError(f"{path}: cap predicts capitalization and needs a cased "
                              f"vocabulary; set data.tokenizer.lowercase: false")
        if getattr(run_config.model.encoder, "mask", None) != "bidirectional":
            raise ConfigError(f"{path}: cap needs a bidirectional encoder")


def case_tables(vocabulary: list[str], num_special: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(V,) lower-cased twin of each id (itself when it has none), (V,) case label of each
    id: 1 capitalized, 0 lower case, IGNORE for the ids that carry no label."""
    index = {token: i for i, token in enumerate(vocabulary)}
    lower_ids = torch.arange(len(vocabulary))
    labels = torch.full((len(vocabulary),), IGNORE, dtype=torch.long)
    for i in range(num_special, len(vocabulary)):
        token = vocabulary[i]
        twin = index.get(token.lower())
        if twin is not None:
            lower_ids[i] = twin
        if token.startswith("##") or not token[:1].isalpha():
            continue
        if token[0].isupper():
            if twin is not None:
                labels[i] = 1
        else:
            labels[i] = 0
    return lower_ids, labels


class CapitalizationObjective(StatelessObjective):
    def __init__(self, config: CapitalizationConfig, tokenizer, seed: int = 0):
        super().__init__(config, tokenizer, seed)
        vocabulary = [tokenizer.id_to_token(i) or "" for i in range(tokenizer.vocab_size)]
        self.lower_ids, self.case_labels = case_tables(vocabulary, tokenizer.num_special)

    def heads(self, model_config, embedding) -> dict:
        return {"cap": nn.Linear(model_config.embedding.hidden_size, 2)}

    def corrupt(self, batch: dict) -> dict:
        ids = batch["input_ids"]  # (B, T), possibly MLM-corrupted
        labels = self.case_labels[ids]  # (B, T)
        if "mlm_labels" in batch:  # a masked or replaced word is not there to read
            labels = labels.masked_fill(batch["mlm_labels"] != IGNORE, IGNORE)
        return {**batch, "input_ids": self.lower_ids[ids], "cap_labels": labels}

    def loss(self, model, batch: dict) -> LossOutput:
        output = shared_forward(model, batch)
        labels = batch["cap_labels"]
        chosen = labels != IGNORE  # (B, T)
        if not chosen.any():
            return LossOutput(output.hidden.sum() * 0.0, {"loss": 0.0, "tokens": 0})
        logits = model.heads["cap"](output.hidden[chosen])  # (N, 2)
        loss = F.cross_entropy(logits, labels[chosen])
        accuracy = (logits.argmax(-1) == labels[chosen]).float().mean().item()
        return LossOutput(loss, {"loss": loss.item(), "accuracy": accuracy,
                                 "tokens": int(chosen.sum())})
