"""Input embedding: token + position + segment, optional LayerNorm and dropout.

Signature (DESIGN §1): ``(ids, segments=None, positions=None) -> x (B, T, D)``.
BERT (Devlin et al. 2019, §3) sums token, learned position and segment embeddings and
applies LayerNorm + dropout; GPT-2 (Radford et al. 2019) sums token and learned position
embeddings with no norm; the Transformer (Vaswani et al. 2017, §3.5) uses sinusoids; an
LSTM LM (Zaremba et al. 2014) uses token embeddings only (``position: none``).
ALBERT (Lan et al. 2020, §3.1 "factorized embedding parameterization") embeds into a
smaller width E and projects to the hidden width H: V·E + E·H parameters instead of V·H.
XLM (Lample & Conneau 2019, §3.1 and Fig. 1) adds a language embedding per token, like a
segment: ``num_languages`` > 0 and ``languages`` (B, T) ids; a batch without them (a
monolingual stream) gets none added.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from lmlab.embeddings.char_cnn import CharCNNConfig
from lmlab.errors import ConfigError


@dataclass
class EmbeddingConfig:
    vocab_size: int = 0
    """0: taken from the trained tokenizer."""
    hidden_size: int = 128
    embedding_size: int = 0
    """Width E of the token/position/segment tables; 0 = hidden_size. E != H adds ALBERT's
    E -> H projection after the (optional) LayerNorm."""
    position: Literal["learned", "sinusoidal", "none"] = "learned"
    max_positions: int = 512
    num_segments: int = 0
    """Segment (token-type) embeddings, as BERT's sentence A/B; 0 disables."""
    num_languages: int = 0
    """XLM language embeddings (ids 0..num_languages-1, given per token as ``languages``);
    0 disables."""
    num_tasks: int = 0
    """ERNIE 2.0 task embeddings (Sun et al. 2020, §3.3, Fig. 4): a learned vector per task
    id, added at every position; a forward pass given no ``tasks`` reads task 0 (as
    segments default to 0). 0 disables."""
    layer_norm: bool = False
    layer_norm_eps: float = 1e-12
    dropout: float = 0.1
    token_features: int = 0
    """K fixed 0/1 features per vocabulary id, each with a learned vector summed into the
    input: SenseBERT's supersense embeddings (Levine et al. 2020, §3.2: (W + W_S M) x, M the
    allowed-supersense matrix). The (V, K) table is a buffer that an objective fills
    (``supersense``) and the checkpoint keeps; 0 disables."""
    char_cnn: CharCNNConfig | None = None
    """ELMo's character-CNN token encoder (:mod:`lmlab.embeddings.char_cnn`) in place of
    the token table; None = the ordinary token table."""

    def validate(self, path: str) -> None:
        if self.char_cnn is not None and (self.position != "none" or self.num_segments
                                          or self.embedding_size or self.layer_norm):
            raise ConfigError(f"{path}.char_cnn: a char-CNN embedding has no position, "
                              f"segment or factorised tables and no LayerNorm; set "
                              f"position: none, num_segments: 0, embedding_size: 0, "
                              f"layer_norm: false")
        for name in ("vocab_size", "num_segments", "num_languages", "num_tasks",
                     "token_features"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{path}.{name}: must be >= 0")
        if self.hidden_size <= 0:
            raise ConfigError(f"{path}.hidden_size: must be > 0")
        if self.embedding_size < 0:
            raise ConfigError(f"{path}.embedding_size: must be >= 0 (0 = hidden_size)")
        if self.position != "none" and self.max_positions <= 0:
            raise ConfigError(f"{path}.max_positions: must be > 0")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"{path}.dropout: must be in [0, 1), got {self.dropout}")


def sinusoidal_table(num_positions: int, dim: int) -> torch.Tensor:
    """Vaswani et al. (2017) eq. in §3.5: PE(pos, 2i) = sin(pos / 10000^(2i/d)), cos for 2i+1."""
    position = torch.arange(num_positions, dtype=torch.float32)[:, None]  # (P, 1)
    frequency = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(num_positions, dim)
    table[:, 0::2] = torch.sin(position * frequency)
    table[:, 1::2] = torch.cos(position * frequency[: dim // 2])
    return table  # (P, D)


class TokenEmbedding(nn.Module):
    def __init__(self, config: EmbeddingConfig):
        super().__init__()
        self.config = config
        width = config.embedding_size or config.hidden_size  # E
        self.tokens = nn.Embedding(config.vocab_size, width)
        self.positions = (nn.Embedding(config.max_positions, width)
                          if config.position == "learned" else None)
        if config.position == "sinusoidal":
            self.register_buffer("sinusoids", sinusoidal_table(config.max_positions, width),
                                 persistent=False)
        self.segments = nn.Embedding(config.num_segments, width) if config.num_segments else None
        self.languages = (nn.Embedding(config.num_languages, width)
                          if config.num_languages else None)
        self.tasks = nn.Embedding(config.num_tasks, width) if config.num_tasks else None
        self.features = None
        if config.token_features:  # SenseBERT: (V, K) 0/1 table, (K, E) learned vectors
            self.register_buffer("feature_table",
                                 torch.zeros(config.vocab_size, config.token_features))
            self.features = nn.Embedding(config.token_features, width)
        self.norm = nn.LayerNorm(width, eps=config.layer_norm_eps) if config.layer_norm else None
        self.projection = nn.Linear(width, config.hidden_size) if width != config.hidden_size else None
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, ids: torch.Tensor, segments: torch.Tensor | None = None,
                positions: torch.Tensor | None = None,
                languages: torch.Tensor | None = None,
                tasks: torch.Tensor | None = None) -> torch.Tensor:
        """``languages`` (B, T): XLM language ids, added like segments when given;
        ``tasks`` (B,): ERNIE 2.0 task ids (default task 0 when the model has tasks)."""
        batch, length = ids.shape
        x = self.tokens(ids)  # (B, T, D)
        if self.features is not None:
            x = x + self.feature_table[ids] @ self.features.weight  # (B, T, K) @ (K, D)
        if self.config.position != "none":
            if length > self.config.max_positions and positions is None:
                raise ValueError(f"sequence of {length} tokens is longer than "
                                 f"max_positions={self.config.max_positions}")
            if positions is None:
                positions = torch.arange(length, device=ids.device)  # (T,)
            if self.positions is not None:
                x = x + self.positions(positions)
            else:
                x = x + self.sinusoids[positions]
        if self.segments is not None:
            # BERT adds segment 0 when none is given (HF's token_type_ids default).
            x = x + (self.segments(segments) if segments is not None else self.segments.weight[0])
        if languages is not None:
            x = x + self._language_vectors(languages)  # (B, T, D)
        if self.tasks is not None:
            x = x + (self.tasks(tasks)[:, None] if tasks is not None
                     else self.tasks.weight[0])  # (B, 1, D) or (D,), broadcast over T
        elif tasks is not None:
            raise ValueError("the batch has task ids but model.embedding.num_tasks is 0")
        if self.norm is not None:
            x = self.norm(x)
        x = self.dropout(x)
        if self.projection is not None:
            x = self.projection(x)  # (B, T, E) -> (B, T, H)
        return x

    def _language_vectors(self, languages: torch.Tensor) -> torch.Tensor:
        count = self.config.num_languages
        if self.languages is None:
            raise ValueError("the batch has language ids but model.embedding.num_languages is 0")
        if languages.numel() and (int(languages.min()) < 0 or int(languages.max()) >= count):
            bad = int(languages.max()) if int(languages.max()) >= count else int(languages.min())
            raise ValueError(f"language id {bad} is not in the config: model.embedding."
                             f"num_languages={count} allows 0..{count - 1}")
        return self.languages(languages)
