"""SpanBERT's span-boundary objective, SBO (Joshi et al. 2020, §3.2).

Every token ``x_i`` of a masked span ``(x_s, …, x_e)`` is predicted from the encoder
outputs at the span's two boundaries and the token's position inside the span::

    y_i = f(x_{s-1}, x_{e+1}, p_{i-s+1})                                  (§3.2)
    h_0 = [x_{s-1}; x_{e+1}; p_{i-s+1}]
    h_1 = LayerNorm(GeLU(W_1 h_0))
    y_i = LayerNorm(GeLU(W_2 h_1))

and ``y_i`` is decoded through the output (token) embedding, tied as in the paper's
code, with its own bias. The loss is the cross-entropy of the original token, averaged
over span tokens; the run's total is ``L_MLM + L_SBO`` (§3.2, both weights 1).

The spans are the ones the ``mlm`` objective chose (``unit: span``; its
``prepare_inputs`` returns ``mlm_units``, the span index of every chosen position), so
both losses share one corruption and one forward pass (:mod:`lmlab.training.objective_step`).
Boundaries always exist: spans cover ordinary tokens only, and every sequence starts
with ``[CLS]`` and ends with ``[SEP]``. Relative positions beyond
``max_relative_positions`` share the last embedding (a span of 10 words may hold more
than 10 sub-word tokens).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from lmlab.errors import ConfigError
from lmlab.layers.feed_forward import activation_fn
from lmlab.layers.linear_cross_entropy import linear_cross_entropy
from lmlab.objectives.base import ConfigDefaults, LossOutput, StatelessObjective, shared_forward


@dataclass
class SpanBoundaryConfig(ConfigDefaults):
    name: Literal["sbo"] = "sbo"
    weight: float = 1.0
    max_relative_positions: int = 32
    """Rows of the relative-position table p (index i - s, clamped)."""
    layer_norm_eps: float = 1e-12

    def validate(self, path: str) -> None:
        if self.weight <= 0:
            raise ConfigError(f"{path}.weight: must be > 0")
        if self.max_relative_positions < 1:
            raise ConfigError(f"{path}.max_relative_positions: must be >= 1")

    def check_compatible(self, run_config, path: str) -> None:
        masked = [o for o in run_config.objectives if o.name == "mlm"]
        if not masked or masked[0].unit != "span":
            raise ConfigError(f"{path}: sbo predicts the spans of an mlm objective with "
                              f"unit: span; add {{name: mlm, unit: span}} to objectives")



class SpanBoundaryHead(nn.Module):
    """The 2-layer FFN f of §3.2 plus the tied decoder; output width E = token embedding."""

    def __init__(self, hidden_size: int, token_embedding: nn.Embedding,
                 max_relative_positions: int, layer_norm_eps: float = 1e-12):
        super().__init__()
        width = token_embedding.embedding_dim  # E (= H unless the embedding is factorised)
        self.positions = nn.Embedding(max_relative_positions, hidden_size)
        self.dense1 = nn.Linear(3 * hidden_size, hidden_size)
        self.norm1 = nn.LayerNorm(hidden_size, eps=layer_norm_eps)
        self.dense2 = nn.Linear(hidden_size, width)
        self.norm2 = nn.LayerNorm(width, eps=layer_norm_eps)
        self.activation = activation_fn("gelu")
        # The tied output matrix (as the LM head ties it), with the SBO's own bias.
        self.decoder = nn.Linear(width, token_embedding.num_embeddings)
        self.decoder.weight = token_embedding.weight

    def features(self, left: torch.Tensor, right: torch.Tensor,
                 relative: torch.Tensor) -> torch.Tensor:
        """left, right: (N, H) boundary outputs; relative: (N,) i - s -> y: (N, E)."""
        relative = relative.clamp(max=self.positions.num_embeddings - 1)
        h0 = torch.cat([left, right, self.positions(relative)], dim=-1)  # (N, 3H)
        h1 = self.norm1(self.activation(self.dense1(h0)))  # (N, H)
        return self.norm2(self.activation(self.dense2(h1)))  # (N, E)

    def forward(self, left, right, relative) -> torch.Tensor:
        return self.decoder(self.features(left, right, relative))  # (N, V)


def span_targets(units: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """For every chosen position of ``units`` (B, T; -1 = not chosen): its row, position,
    left boundary s-1, right boundary e+1 and relative position i-s, each (N,)."""
    rows, positions = (units >= 0).nonzero(as_tuple=True)  # (N,), (N,)
    keys = rows * (int(units.max()) + 1) + units[rows, positions]  # one key per (row, span)
    _, span_index = torch.unique(keys, return_inverse=True)  # (N,)
    count = int(span_index.max()) + 1 if span_index.numel() else 0
    start = torch.full((count,), units.shape[1], dtype=torch.long, device=units.device).scatter_reduce(
        0, span_index, positions, reduce="amin")  # (S,) first position of each span
    end = torch.full((count,), -1, dtype=torch.long, device=units.device).scatter_reduce(
        0, span_index, positions, reduce="amax")  # (S,) last position
    return (rows, positions, start[span_index] - 1, end[span_index] + 1,
            positions - start[span_index])


class SpanBoundaryObjective(StatelessObjective):
    """No corruption of its own: the spans are the mlm objective's (``mlm_units``)."""

    def heads(self, model_config, embedding) -> dict:
        config = self.config
        return {config.name: SpanBoundaryHead(model_config.embedding.hidden_size,
                                              embedding.tokens, config.max_relative_positions,
                                              config.layer_norm_eps)}

    def loss(self, model, batch: dict) -> LossOutput:
        output = shared_forward(model, batch)
        head: SpanBoundaryHead = model.heads[self.config.name]
        rows, positions, left, right, relative = span_targets(batch["mlm_units"])
        if rows.numel() == 0:  # nothing masked in the batch: a zero that keeps the graph
            return LossOutput(output.hidden.sum() * 0.0, {"loss": 0.0, "tokens": 0})
        hidden = output.hidden  # (B, T, H)
        targets = batch["mlm_labels"][rows, positions]  # (N,) the original tokens
        features = head.features(hidden[rows, left], hidden[rows, right], relative)  # (N, E)
        loss = linear_cross_entropy(features, head.decoder.weight, head.decoder.bias, targets)
        return LossOutput(loss, {"loss": loss.item(), "tokens": int(rows.numel())})
