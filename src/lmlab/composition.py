"""The composed model: ``embedding -> encoder -> lm_head`` (DESIGN §1), and with a
decoder ``embedding -> encoder -> (decoder_embedding -> decoder) -> lm_head``, the
encoder–decoder of MASS, BART and T5.

A family is a config, never a subclass of this. Objectives and heads read the parts
they need (``model.embedding``, ``model.encoder``, ``model.lm_head``) directly; the
seq2seq objectives call :meth:`LanguageModel.encode` and :meth:`LanguageModel.decode`.
"""

from __future__ import annotations

import torch
from torch import nn

from lmlab.encoders.output import EncoderOutput


class LanguageModel(nn.Module):
    def __init__(self, embedding: nn.Module, encoder: nn.Module, lm_head: nn.Module | None,
                 heads: dict[str, nn.Module] | None = None, decoder: nn.Module | None = None,
                 decoder_embedding: nn.Module | None = None):
        """``decoder_embedding``: the decoder's own input embedding, or None to reuse
        ``embedding`` (fully shared)."""
        super().__init__()
        self.embedding = embedding
        self.encoder = encoder
        self.lm_head = lm_head
        # Objective-specific heads (NSP/SOP classifier, ...), keyed by objective name.
        self.heads = nn.ModuleDict(heads or {})
        self.decoder = decoder
        self.decoder_embedding = decoder_embedding

    @property
    def is_seq2seq(self) -> bool:
        return self.decoder is not None

    def encode(self, ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """The encoder output (B, S, D) of source ``ids`` (B, S)."""
        return self(ids, attention_mask).hidden

    def decode(self, ids: torch.Tensor, memory: torch.Tensor,
               memory_mask: torch.Tensor | None = None, positions: torch.Tensor | None = None,
               cache=None) -> torch.Tensor:
        """Decoder hidden states (B, T, D) of target inputs ``ids`` (B, T) reading ``memory``
        (B, S, D). ``positions`` (T,) or (B, T): the targets' position ids (MASS: the
        fragment's places in the source); default: the next T after the cached ones.
        ``cache``: a ``decoder.new_cache()``, filled as it goes (incremental decoding)."""
        if positions is None:
            past = cache.length if cache is not None else 0
            positions = torch.arange(past, past + ids.shape[1], device=ids.device)  # (T,)
        embedding = self.decoder_embedding if self.decoder_embedding is not None else self.embedding
        x = embedding(ids, None, positions)  # (B, T, D)
        return self.decoder(x, memory, memory_mask, cache=cache).hidden

    @property
    def recurrent(self) -> bool:
        """Whether the encoder carries state across segments (LSTM) or not (transformer)."""
        return bool(getattr(self.encoder, "recurrent", False))

    def forward(self, ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                segments: torch.Tensor | None = None, memory=None,
                return_layers: bool = False, positions: torch.Tensor | None = None,
                cache=None, languages: torch.Tensor | None = None,
                tasks: torch.Tensor | None = None, knowledge: dict | None = None) -> EncoderOutput:
        """``positions`` (T,) or (B, T): position ids (default 0..T-1); ``cache``: a causal
        transformer's ``encoder.new_cache()`` for incremental decoding (generation);
        ``languages`` (B, T): XLM language ids, ``tasks`` (B,): ERNIE 2.0 task ids, passed
        to the embedding only when given; ``knowledge``: the batch's entity links, passed
        to an entity-fusion encoder (ERNIE-THU, KnowBERT) only when given."""
        extra = {key: value for key, value in (("languages", languages), ("tasks", tasks))
                 if value is not None}
        x = self.embedding(ids, segments, positions, **extra)  # (B, T, D)
        if getattr(self.encoder, "relative_segments", False):  # XLNet §2.5: read in attention
            return self.encoder(x, attention_mask, memory=memory, return_layers=return_layers,
                                segments=segments)
        if cache is not None:
            return self.encoder(x, attention_mask, memory=memory, return_layers=return_layers,
                                cache=cache)
        if knowledge is not None:
            return self.encoder(x, attention_mask, memory=memory, return_layers=return_layers,
                                knowledge=knowledge)
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
