"""Attention-augmented RNN LM (review §3.1, eqs. 20–24; the attentive RNN LMs of
Mei et al. 2016 and Salton et al. 2017): the prediction at step t attends over the
RNN's previous hidden states.

    h_t      = LSTM(x_t, h_{t-1})                                  (20)
    u_{t,i}  = v^T tanh(W_1 h_i + W_2 h_t),    t-S < i <= t         (21)
    a_{t,i}  = softmax_i(u_{t,i})                                  (22)
    c_t      = sum_i a_{t,i} h_i                                   (23)
    h~_t     = tanh(W_c [c_t ; h_t]),   P(w_{t+1}) = softmax(U h~_t + b)   (24)

The softmax of (24) is the LM head. Attention is causal: step t sees h_i for i <= t only
(h_t itself included, so the first step of a stream is defined). The last ``span``
hidden states are carried across truncated-BPTT segments in ``memory`` together with the
LSTM state, so a segment boundary does not cut the attention window.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from lmlab.encoders.output import EncoderOutput
from lmlab.errors import ConfigError


@dataclass
class AttentionRNNConfig:
    name: Literal["attention_rnn"] = "attention_rnn"
    span: int = 35
    """S: how many previous hidden states (including earlier segments) can be attended."""
    attention_size: int = 0
    """Width of the additive-attention layer (v, W_1, W_2); 0 = the hidden width."""
    dropout: float = 0.0
    """Dropout on the LSTM output and on h~ (Zaremba-style, non-recurrent only)."""

    def validate(self, path: str) -> None:
        if self.span < 1:
            raise ConfigError(f"{path}.span: must be >= 1")
        if self.attention_size < 0:
            raise ConfigError(f"{path}.attention_size: must be >= 0 (0 = hidden width)")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"{path}.dropout: must be in [0, 1)")


class AttentionRNNEncoder(nn.Module):
    recurrent = True
    memory_batch_dims = (1, 1, 0)  # (h (1, B, D), c (1, B, D), kept states (B, P, D))

    def __init__(self, hidden_size: int, config: AttentionRNNConfig):
        super().__init__()
        size = config.attention_size or hidden_size
        self.span = config.span
        self.rnn = nn.LSTM(hidden_size, hidden_size, batch_first=True)
        self.key = nn.Linear(hidden_size, size, bias=False)  # W_1
        self.query = nn.Linear(hidden_size, size, bias=False)  # W_2
        self.score = nn.Linear(size, 1, bias=False)  # v
        self.combine = nn.Linear(2 * hidden_size, hidden_size, bias=False)  # W_c
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, attention_mask: torch.Tensor | None = None,
                memory: tuple | None = None, return_layers: bool = False) -> EncoderOutput:
        batch, length, width = x.shape
        state, past = (None, x.new_zeros(batch, 0, width)) if memory is None else (
            (memory[0], memory[1]), memory[2])
        hidden, state = self.rnn(x, state)  # (B, T, D), eq. 20
        hidden = self.dropout(hidden)
        keys_states = torch.cat([past, hidden], dim=1)  # (B, P+T, D), P = carried states
        carried = past.shape[1]
        keys = self.key(keys_states)  # (B, P+T, A)
        queries = self.query(hidden)  # (B, T, A)
        scores = self.score(torch.tanh(keys[:, None] + queries[:, :, None])).squeeze(-1)  # (B, T, P+T), eq. 21
        # Step t (absolute position carried+t) sees i in (carried+t-S, carried+t].
        position = torch.arange(length, device=x.device)[:, None] + carried  # (T, 1)
        index = torch.arange(carried + length, device=x.device)[None]  # (1, P+T)
        visible = (index <= position) & (index > position - self.span)  # (T, P+T)
        scores = scores.masked_fill(~visible, float("-inf"))
        weights = torch.softmax(scores, dim=-1)  # (B, T, P+T), eq. 22
        context = weights @ keys_states  # (B, T, D), eq. 23
        output = torch.tanh(self.combine(torch.cat([context, hidden], dim=-1)))  # (B, T, D), eq. 24
        kept = keys_states[:, max(0, keys_states.shape[1] - (self.span - 1)):]  # last S-1 states
        return EncoderOutput(self.dropout(output), (state[0], state[1], kept), None)


def build_attention_rnn(hidden_size: int, config: AttentionRNNConfig) -> AttentionRNNEncoder:
    return AttentionRNNEncoder(hidden_size, config)
