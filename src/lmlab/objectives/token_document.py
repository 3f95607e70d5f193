"""ERNIE 2.0's token–document relation prediction (Sun et al. 2020, §4.2.1).

"Predict whether the token in a segment appears in other segments of the original
document" — words that recur across a document tend to be its key words. lmlab's
sentence-pair batches give each row two segments; with ERNIE 2.0's sentence distance
(``sd``) in the run, B is from A's document when the distance class is 0 (adjacent) or
1 (same document), and from another document when it is 2. So: every ordinary token of
segment A in a same-document row is labelled 1 when its (uncorrupted) id occurs in B and
0 when not; rows whose B comes from another document, and every other position, are
``IGNORE``. The document is thus represented by its other segment in the batch, not by
all of it. Loss: cross-entropy of a linear layer over the final hidden states (B, T, 2);
it shares the run's forward pass.
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

OTHER_DOCUMENT = 2  # sd's class: B from another document


@dataclass
class TokenDocumentConfig(ConfigDefaults):
    name: Literal["tdr"] = "tdr"
    weight: float = 1.0

    def validate(self, path: str) -> None:
        if self.weight <= 0:
            raise ConfigError(f"{path}.weight: must be > 0")

    def check_compatible(self, run_config, path: str) -> None:
        if "sd" not in [o.name for o in run_config.objectives]:
            raise ConfigError(f"{path}: tdr reads the sentence-distance pairs; add "
                              f"{{name: sd}} to the objectives (with data.batching: pairs)")
        names = [o.name for o in run_config.objectives]
        if "cap" in names and names.index("cap") < names.index("tdr"):
            raise ConfigError(f"{path}: tdr compares the words before cap lower-cases "
                              f"them; list {{name: tdr}} before {{name: cap}}")


def token_document_labels(original: torch.Tensor, segments: torch.Tensor,
                          pair_labels: torch.Tensor, num_special: int) -> torch.Tensor:
    """original, segments: (B, T) uncorrupted ids and segment ids; pair_labels: (B,) sd
    classes -> (B, T) labels: 1/0 on A's ordinary tokens of same-document rows."""
    labels = torch.full_like(original, IGNORE)
    for row in range(original.shape[0]):
        if int(pair_labels[row]) == OTHER_DOCUMENT:
            continue
        ordinary = original[row] >= num_special  # (T,)
        in_a = ordinary & (segments[row] == 0)
        in_b = ordinary & (segments[row] == 1)
        appears = torch.isin(original[row], original[row][in_b])  # (T,)
        labels[row] = torch.where(in_a, appears.long(), torch.full_like(labels[row], IGNORE))
    return labels


class TokenDocumentObjective(StatelessObjective):
    def __init__(self, config: TokenDocumentConfig, tokenizer, seed: int = 0):
        super().__init__(config, tokenizer, seed)
        self.num_special = tokenizer.num_special

    def heads(self, model_config, embedding) -> dict:
        return {"tdr": nn.Linear(model_config.embedding.hidden_size, 2)}

    def corrupt(self, batch: dict) -> dict:
        ids = batch["input_ids"]
        if "mlm_labels" in batch:  # undo the masking: the relation is about the real words
            ids = torch.where(batch["mlm_labels"] != IGNORE, batch["mlm_labels"], ids)
        labels = token_document_labels(ids, batch["segments"], batch["pair_labels"],
                                       self.num_special)
        return {**batch, "tdr_labels": labels}

    def loss(self, model, batch: dict) -> LossOutput:
        output = shared_forward(model, batch)
        labels = batch["tdr_labels"]
        chosen = labels != IGNORE  # (B, T)
        if not chosen.any():
            return LossOutput(output.hidden.sum() * 0.0, {"loss": 0.0, "tokens": 0})
        logits = model.heads["tdr"](output.hidden[chosen])  # (N, 2)
        loss = F.cross_entropy(logits, labels[chosen])
        accuracy = (logits.argmax(-1) == labels[chosen]).float().mean().item()
        return LossOutput(loss, {"loss": loss.item(), "accuracy": accuracy,
                                 "tokens": int(chosen.sum())})
