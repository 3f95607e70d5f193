"""Character-CNN token encoder: ELMo's context-independent token representation x_k
(Peters et al. 2018, §3.1 and §3.4; Kim et al. 2016, §2.2-2.3; bilm-tf's
``_build_word_char_embeddings``).

Each word is spelled as bytes of its UTF-8 text between a begin-of-word and an end-of-word
mark, padded to ``max_word_length`` characters W; characters are embedded (``char_dim``,
16 in ELMo), convolved with filters of several widths, max-pooled over the word (Kim et
al. eq. 3: y^k = max_t f^k[t]), passed through ``highway_layers`` highway layers and
projected to the model width:

    f^k = act(conv_k(C))                                # Kim et al. eq. 2, act = relu (ELMo)
    y   = [max_t f^1[t] ; ... ; max_t f^n[t]]           # (F,) with F = sum of filter counts
    z   = g * relu(W_H y + b_H) + (1 - g) * y,
    g   = sigmoid(W_T y + b_T),  b_T initialised negative (Srivastava et al. 2015 §2;
                                  Kim et al. §2.3 and bilm-tf use -2: start by carrying y)
    x   = W_P z + b_P                                   # ELMo: 2048 -> 512

Character vocabulary (``CHAR_VOCAB`` = 259 ids): 0 = padding, 1..256 = byte value + 1,
257 = begin of word, 258 = end of word. A word longer than W - 2 bytes keeps its first
W - 2 bytes (it is truncated, never an error) and is counted: :meth:`spell_vocabulary`
returns the count and warns with it; :func:`spell_sentences` returns it too. Special tokens
(``<pad>``, ``<eos>``, ...) are spelled like any other word, by their text.

Input: word ids (B, T), looked up in the persistent buffer ``word_chars`` (V, W) of
character ids per vocabulary word (saved in checkpoints, so a run reloads without its
tokenizer), or character ids (B, T, W) directly (e.g. from :func:`spell_sentences`), which
embeds words outside the vocabulary by their spelling. Output: x (B, T, D).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import nn

from lmlab.errors import ConfigError
from lmlab.manifest import warn

PAD_CHAR, BEGIN_WORD, END_WORD = 0, 257, 258
CHAR_VOCAB = 259


def _elmo_filters() -> list[list[int]]:
    # Peters et al. 2018 / bilm-tf options: widths 1..7 with 32..1024 filters (2048 in all).
    return [[1, 32], [2, 32], [3, 64], [4, 128], [5, 256], [6, 512], [7, 1024]]


@dataclass
class CharCNNConfig:
    char_dim: int = 16
    """Width of a character embedding (ELMo: 16)."""
    filters: list[list[int]] = field(default_factory=_elmo_filters)
    """[width, count] per convolution; the word vector has sum(count) features."""
    highway_layers: int = 2
    """Highway layers after the max-pool (ELMo: 2; Kim et al.: 1-2)."""
    max_word_length: int = 50
    """Characters per word W, begin/end-of-word marks included (ELMo: 50); longer words
    keep their first W - 2 bytes and are counted."""
    activation: Literal["relu", "tanh"] = "relu"
    """Non-linearity after each convolution: relu (ELMo, bilm-tf) or tanh (Kim et al.)."""
    gate_bias: float = -2.0
    """Initial bias b_T of each highway gate: negative, so the layer starts near the
    identity (Srivastava et al. 2015 §2; -2 in Kim et al. and bilm-tf)."""

    def validate(self, path: str) -> None:
        if self.char_dim <= 0:
            raise ConfigError(f"{path}.char_dim: must be > 0")
        if not self.filters or any(len(pair) != 2 or min(pair) <= 0 for pair in self.filters):
            raise ConfigError(f"{path}.filters: expected a non-empty list of [width, count] "
                              f"pairs of positive integers, got {self.filters}")
        widest = max(width for width, _ in self.filters)
        if self.max_word_length < max(3, widest):
            raise ConfigError(f"{path}.max_word_length: must be >= 3 (the two word marks and "
                              f"a character) and >= the widest filter ({widest}), got "
                              f"{self.max_word_length}")
        if self.highway_layers < 0:
            raise ConfigError(f"{path}.highway_layers: must be >= 0")


def spell(word: str, max_word_length: int) -> tuple[list[int], bool]:
    """(W character ids of ``word``, whether it was truncated): [BOW, bytes+1..., EOW, PAD...]."""
    data = word.encode("utf-8")
    kept = data[: max_word_length - 2]
    ids = [BEGIN_WORD, *(byte + 1 for byte in kept), END_WORD]
    return ids + [PAD_CHAR] * (max_word_length - len(ids)), len(kept) < len(data)


def spell_sentences(sentences: list[list[str]], max_word_length: int) -> tuple[torch.Tensor, int]:
    """(character ids (B, T, W) of word lists, padded with all-padding words to the longest
    list; the number of words truncated to W - 2 bytes). Feed the ids to
    :class:`CharCNNEmbedding` in place of word ids; a padding word's positions are those
    whose ids are all 0 (give the encoder the matching attention mask)."""
    length = max((len(words) for words in sentences), default=0)
    chars = torch.zeros(len(sentences), length, max_word_length, dtype=torch.long)  # (B, T, W)
    truncated = 0
    for row, words in enumerate(sentences):
        for column, word in enumerate(words):
            ids, cut = spell(word, max_word_length)
            chars[row, column] = torch.tensor(ids)
            truncated += cut
    return chars, truncated


class Highway(nn.Module):
    """Srivastava et al. (2015) eq. 3 with C = 1 - T: z = g * relu(W_H y) + (1 - g) * y."""

    def __init__(self, width: int, num_layers: int, gate_bias: float):
        super().__init__()
        self.gate_bias = gate_bias
        self.transforms = nn.ModuleList(nn.Linear(width, width) for _ in range(num_layers))
        self.gates = nn.ModuleList(nn.Linear(width, width) for _ in range(num_layers))
        self.initialise_gates()

    def initialise_gates(self) -> None:
        """The negative gate bias (after any model-wide initialisation, which resets it)."""
        with torch.no_grad():
            for gate in self.gates:
                gate.bias.fill_(self.gate_bias)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        for transform, gate in zip(self.transforms, self.gates):
            g = torch.sigmoid(gate(y))  # (N, F), the transform gate T
            y = g * torch.relu(transform(y)) + (1 - g) * y
        return y


class CharCNNEmbedding(nn.Module):
    """Signature (DESIGN §1): ``(ids, segments=None, positions=None) -> x (B, T, D)``;
    ``ids`` are word ids (B, T) or character ids (B, T, W). No positions, no segments
    (ELMo has neither); ``tokens`` is None: there is no token table to tie an LM head to."""

    tokens = None

    def __init__(self, config):
        """``config``: the :class:`~lmlab.embeddings.token_embedding.EmbeddingConfig` whose
        ``char_cnn`` is set."""
        super().__init__()
        self.config = config
        cnn: CharCNNConfig = config.char_cnn
        self.max_word_length = cnn.max_word_length
        # Character ids of each vocabulary word, filled by spell_vocabulary (zeros until then).
        self.register_buffer("word_chars", torch.zeros(config.vocab_size, cnn.max_word_length,
                                                       dtype=torch.long))
        self.characters = nn.Embedding(CHAR_VOCAB, cnn.char_dim)
        self.convolutions = nn.ModuleList(nn.Conv1d(cnn.char_dim, count, width)
                                          for width, count in cnn.filters)
        self.activation = torch.relu if cnn.activation == "relu" else torch.tanh
        features = sum(count for _, count in cnn.filters)  # F
        self.highway = Highway(features, cnn.highway_layers, cnn.gate_bias)
        self.projection = nn.Linear(features, config.hidden_size)
        self.dropout = nn.Dropout(config.dropout)

    def spell_vocabulary(self, tokens: list[str]) -> int:
        """Fill ``word_chars`` with the spelling of each vocabulary entry (id order); returns
        (and warns with) the number of words truncated to W - 2 bytes."""
        if len(tokens) != self.word_chars.shape[0]:
            raise ValueError(f"{len(tokens)} vocabulary entries for a table of "
                             f"{self.word_chars.shape[0]} words")
        chars, truncated = spell_sentences([tokens], self.max_word_length)
        self.word_chars.copy_(chars[0])  # (V, W)
        if truncated:
            warn(f"char-CNN: {truncated} of {len(tokens)} vocabulary words are longer than "
                 f"{self.max_word_length - 2} bytes (model.embedding.char_cnn.max_word_length="
                 f"{self.max_word_length} with the two word marks) and were truncated")
        return truncated

    def spell(self, sentences: list[list[str]]) -> torch.Tensor:
        """Character ids (B, T, W) of word lists at this embedding's W (see
        :func:`spell_sentences`; the truncated words are counted in a warning)."""
        chars, truncated = spell_sentences(sentences, self.max_word_length)
        if truncated:
            warn(f"char-CNN: {truncated} words longer than {self.max_word_length - 2} bytes "
                 f"were truncated")
        return chars.to(self.word_chars.device)

    def words(self, chars: torch.Tensor) -> torch.Tensor:
        """Word vectors (N, D) of character ids (N, W)."""
        x = self.characters(chars).transpose(1, 2)  # (N, C, W): channels first for Conv1d
        pooled = [self.activation(conv(x)).max(dim=-1).values  # (N, count): Kim eq. 3
                  for conv in self.convolutions]
        return self.projection(self.highway(torch.cat(pooled, dim=-1)))  # (N, F) -> (N, D)

    def forward(self, ids: torch.Tensor, segments: torch.Tensor | None = None,
                positions: torch.Tensor | None = None) -> torch.Tensor:
        if ids.dim() == 3:  # (B, T, W) character ids
            batch, length, width = ids.shape
            if width != self.max_word_length:
                raise ValueError(f"character ids of {width} per word; this char-CNN reads "
                                 f"{self.max_word_length} (model.embedding.char_cnn."
                                 f"max_word_length)")
            x = self.words(ids.reshape(-1, width)).view(batch, length, -1)  # (B, T, D)
        else:
            # Each distinct word of the batch goes through the CNN once (Zipf: far fewer
            # than B*T); the vectors are then gathered back to their positions.
            unique, inverse = torch.unique(ids, return_inverse=True)  # (U,), (B, T)
            x = self.words(self.word_chars[unique])[inverse]  # (U, D) -> (B, T, D)
        return self.dropout(x)
