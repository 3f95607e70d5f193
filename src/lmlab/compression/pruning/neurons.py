"""Structured pruning of feed-forward neurons (McCarley 2019, "Structured Pruning of a
BERT-based Question Answering Model", §3: remove whole dimensions of each layer's FFN
hidden size, i.e. a row of the up-projection W_1 and the matching column of the
down-projection W_2, so the matrices shrink and the model runs faster).

McCarley learns the keep/remove decision with L0-regularised gates during fine-tuning; this
is the post-training variant: a gate ξ_i on each neuron's activation,
FFN(x) = W_2 (ξ ⊙ gelu(W_1 x + b_1)) + b_2, scored by the first-order importance
I_i = E_x |∂L(x)/∂ξ_i| (Michel et al. 2019 eq. 2 applied to neurons; Molchanov et al.
2017), normalised per layer, masked iteratively (:mod:`lmlab.compression.pruning.gates`),
then removed for real. Each layer's new width goes to ``ffn_per_layer`` of the encoder
config so the pruned model rebuilds from its config.yaml.
"""

from __future__ import annotations

from typing import Callable, Iterable

import torch
from torch import nn

from lmlab.compression.pruning.gates import (check_fraction, gate_importance, iterative_masks,
                                             take_linear)
from lmlab.compression.pruning.heads import encoder_of
from lmlab.errors import ConfigError
from lmlab.layers.feed_forward import FeedForward


def check_neurons(fraction, step) -> None:
    check_fraction(fraction, step, "FFN neurons")


def feed_forwards(model: nn.Module) -> list[FeedForward]:
    """Each encoder layer's feed-forward block, bottom to top."""
    return [layer.ffn for layer in encoder_of(model).layers]


def neuron_importance(model: nn.Module, batches: Iterable, loss_of: Callable,
                      masks: list[torch.Tensor] | None = None,
                      normalize: bool = True) -> list[torch.Tensor]:
    """Per layer an (F_l,) tensor of I_i over ``batches``; ``masks`` kept applied."""
    modules = feed_forwards(model)
    return gate_importance(model, modules, "neuron_gate",
                           [m.up.out_features for m in modules], batches, loss_of, masks,
                           normalize)


def iterative_neuron_masks(model: nn.Module, batches: list, loss_of: Callable,
                           fraction: float, step: float = 0.1,
                           log=lambda message: None) -> list[torch.Tensor]:
    """Per layer an (F_l,) bool mask (True = kept), floor(fraction · total) neurons masked
    over all layers, ceil(step · total) a round."""
    sizes = [m.up.out_features for m in feed_forwards(model)]
    return iterative_masks(lambda masks: neuron_importance(model, batches, loss_of, masks),
                           sizes, fraction, step, "FFN neurons", log)


def remove_neurons(model: nn.Module, keep: list[torch.Tensor]) -> list[int]:
    """Remove the neurons whose ``keep`` entry is False, in place: W_1 (F, D) loses rows
    (and b_1 entries), W_2 (D, F) columns. Returns each layer's new FFN width."""
    modules = feed_forwards(model)
    if len(keep) != len(modules) or \
            any(len(k) != m.up.out_features for k, m in zip(keep, modules)):
        raise ConfigError(f"FFN pruning: expected one mask per layer of "
                          f"{[m.up.out_features for m in modules]} neurons")
    for module, kept in zip(modules, keep):
        if bool(kept.all()):
            continue
        rows = kept.nonzero().flatten()
        module.up = take_linear(module.up, rows, None)
        module.down = take_linear(module.down, None, rows)
    return [m.up.out_features for m in modules]
