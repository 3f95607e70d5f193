"""The composed model: ``embedding -> encoder -> lm_head`` (DESIGN §1).

A family is a config, never a subclass of this. Objectives and heads read the parts
they need (``model.embedding``, ``model.encoder``, ``model.lm_head``) directly.
"""

from __future__ import annotations

import torch
from torch import nn

from lmlab.encoders.output import EncoderOutput


class LanguageModel(nn.Module):
    def __init__(self, embedding: nn.Module, encoder: nn.Module, lm_head: nn.Module | None,
                 heads: dict[str, nn.Module] | None = None):
        super().__init__()
        self.embedding = embedding
        self.encoder = encoder
        self.lm_head = lm_head
        # Objective-specific heads (NSP/SOP classifier, ...), keyed by objective name.
        self.heads = nn.ModuleDict(heads or {})

    @property
    def recurrent(self) -> bool:
        """Whether the encoder carries state across segments (LSTM) or not (transformer)."""
        return bool(getattr(self.encoder, "recurrent", False))

    def forward(self, ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                segments: torch.Tensor | None = None, memory=None,
                return_layers: bool = False) -> EncoderOutput:
        x = self.embedding(ids, segments)  # (B, T, D)
        return self.encoder(x, attention_mask, memory=memory, return_layers=return_layers)

    def logits(self, ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
               segments: torch.Tensor | None = None, memory=None):
        """Full-vocabulary logits (B, T, V) and the encoder's carried memory."""
        output = self(ids, attention_mask, segments, memory)
        return self.lm_head(output.hidden), output.memory

    def num_parameters(self, exclude_embeddings: bool = False) -> int:
        seen, total = set(), 0
        for name, parameter in self.named_parameters():
            if id(parameter) in seen:  # tied weights count once
                continue
            seen.add(id(parameter))
            if exclude_embeddings and name.startswith("embedding."):
                continue
            total += parameter.numel()
        return total
