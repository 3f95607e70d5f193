"""Attention-head pruning by gradient importance (Michel, Levy & Neubig 2019, "Are Sixteen
Heads Really Better than One?").

A gate ξ_h multiplies each head's output (eq. 1: MHAtt(x) = Σ_h ξ_h Att_h(x)); the
importance of head h is the expected sensitivity of the loss to its gate (eqs. 2-3):

    I_h = E_x |∂L(x)/∂ξ_h| = E_x |Att_h(x)^T ∂L(x)/∂Att_h(x)|,   at ξ = 1,

normalised per layer by the l2 norm (§4.1); see :mod:`lmlab.compression.pruning.gates`.
Pruning is iterative (§4.2): mask the ``step`` share of all heads with the lowest
importance, recompute the importance with the mask in place, and repeat until the
``fraction`` asked for is masked. The masked heads are then removed for real
(:func:`remove_heads`): their rows of the fused QKV projection and their columns of the
output projection go, so the saved model is smaller and faster; each layer's head count
goes to ``heads_per_layer`` of the encoder config so the pruned model rebuilds from its
config.yaml. A layer may lose every head (its attention block then adds only the output
bias), as in the paper.
"""

from __future__ import annotations

from typing import Callable, Iterable

import torch
from torch import nn

from lmlab.compression.pruning.gates import (check_fraction, gate_importance, iterative_masks,
                                             take_linear)
from lmlab.encoders.transformer import TransformerEncoder
from lmlab.errors import ConfigError
from lmlab.layers.attention import MultiHeadAttention

__all__ = ["check_heads", "encoder_of", "attentions", "head_importance",
           "iterative_head_masks", "remove_heads"]


def check_heads(fraction, step) -> None:
    check_fraction(fraction, step, "heads")


def encoder_of(model: nn.Module) -> TransformerEncoder:
    """The model's one transformer encoder whose layers can be pruned; a one-line error
    otherwise (shared layers, relative attention, no or several transformer encoders)."""
    encoders = [m for m in model.modules() if isinstance(m, TransformerEncoder)]
    if len(encoders) != 1:
        raise ConfigError(f"structured pruning: expected one transformer encoder, found "
                          f"{len(encoders)}")
    config = encoders[0].config
    if config.share_layers != "none" or config.position == "xl" or config.relative_buckets:
        raise ConfigError("model.encoder: structured pruning needs share_layers: none and "
                          "absolute positions (no position: xl, no relative_buckets)")
    return encoders[0]


def attentions(model: nn.Module) -> list[MultiHeadAttention]:
    """Each encoder layer's self-attention, bottom to top."""
    return [layer.attention for layer in encoder_of(model).layers]


def head_importance(model: nn.Module, batches: Iterable, loss_of: Callable,
                    masks: list[torch.Tensor] | None = None,
                    normalize: bool = True) -> list[torch.Tensor]:
    """Per layer a (H_l,) tensor of I_h (eq. 3) of ``loss_of(model, batch)`` over
    ``batches``; ``masks``: per layer (H_l,) 0/1 head gates kept applied."""
    modules = attentions(model)
    return gate_importance(model, modules, "head_gate", [m.num_heads for m in modules],
                           batches, loss_of, masks, normalize)


def iterative_head_masks(model: nn.Module, batches: list, loss_of: Callable, fraction: float,
                         step: float = 0.1, log=lambda message: None) -> list[torch.Tensor]:
    """Per layer a (H_l,) bool mask (True = kept) with floor(fraction · total) heads
    masked, ceil(step · total) a round (§4.2)."""
    sizes = [m.num_heads for m in attentions(model)]
    return iterative_masks(lambda masks: head_importance(model, batches, loss_of, masks),
                           sizes, fraction, step, "heads", log)


def _head_rows(keep: torch.Tensor, head_size: int) -> torch.Tensor:
    """Indices (kept · d,) of the kept heads' features in an (H·d) axis."""
    heads = keep.nonzero().flatten()
    return (heads[:, None] * head_size + torch.arange(head_size)).flatten()


def remove_heads(model: nn.Module, keep: list[torch.Tensor]) -> list[int]:
    """Remove the heads whose ``keep`` entry is False from every encoder layer, in place:
    the QKV projection (3·H·d, D) loses the q, k and v rows of each removed head, the
    output projection (D, H·d) its columns. Returns the new head count of each layer."""
    modules = attentions(model)
    if len(keep) != len(modules) or any(len(k) != m.num_heads for k, m in zip(keep, modules)):
        raise ConfigError(f"head pruning: expected one mask per layer of "
                          f"{[m.num_heads for m in modules]} heads")
    for module, kept in zip(modules, keep):
        if bool(kept.all()):
            continue
        rows = _head_rows(kept, module.head_size)  # (h·d,) within one of q, k, v
        inner = module.num_heads * module.head_size
        module.qkv = take_linear(module.qkv, torch.cat([rows, rows + inner, rows + 2 * inner]),
                                 None)  # the q, k and v blocks
        module.out = take_linear(module.out, None, rows)
        module.num_heads = int(kept.sum())
    return [m.num_heads for m in modules]
