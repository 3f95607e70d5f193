"""Attention-head pruning by gradient importance (Michel, Levy & Neubig 2019, "Are Sixteen
Heads Really Better than One?").

A gate ξ_h multiplies each head's output (eq. 1: MHAtt(x) = Σ_h ξ_h Att_h(x)); the
importance of head h is the expected sensitivity of the loss to its gate (eq. 2-3):

    I_h = E_x |∂L(x)/∂ξ_h| = E_x |Att_h(x)^T ∂L(x)/∂Att_h(x)|,   at ξ = 1.

As in the authors' released code, the expectation is a sum over batches of |∂L_batch/∂ξ_h|
(the batch loss a mean over its examples), and the scores are normalised per layer by
their l2 norm (§4.1, after Molchanov et al. 2017). Pruning is iterative (§4.2): mask the
``step`` share of all heads with the lowest importance, recompute the importance with the
mask in place, and repeat until the ``fraction`` asked for is masked. The masked heads are
then removed for real (:func:`remove_heads`): their rows of the fused QKV projection and
their columns of the output projection go, so the saved model is smaller and faster; each
layer's head count is written to ``heads_per_layer`` of the encoder config so the pruned
model rebuilds from its config.yaml. A layer may lose every head (its attention block then
adds only the output bias), as in the paper.
"""

from __future__ import annotations

import math
import warnings
from typing import Callable, Iterable

import torch
from torch import nn

from lmlab.encoders.transformer import TransformerEncoder
from lmlab.errors import ConfigError
from lmlab.layers.attention import MultiHeadAttention

METHOD = "heads"


def check_fraction(fraction, step) -> None:
    for name, value in (("fraction", fraction), ("step", step)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                not 0 <= value <= 1:
            raise ConfigError(f"--set {name}: bad value {value!r}; expected a share of the "
                              f"heads, 0 <= {name} <= 1")
    if step == 0 and fraction > 0:
        raise ConfigError("--set step: must be > 0 to prune (a share of the heads per round)")


def encoder_of(model: nn.Module) -> TransformerEncoder:
    """The model's one transformer encoder whose heads can be pruned; a one-line error
    otherwise (shared layers, relative attention, no or several transformer encoders)."""
    encoders = [m for m in model.modules() if isinstance(m, TransformerEncoder)]
    if len(encoders) != 1:
        raise ConfigError(f"head pruning: expected one transformer encoder, found "
                          f"{len(encoders)}")
    encoder = encoders[0]
    config = encoder.config
    if config.share_layers != "none" or config.position == "xl" or config.relative_buckets:
        raise ConfigError("model.encoder: head pruning needs share_layers: none and absolute "
                          "positions (no position: xl, no relative_buckets)")
    return encoder


def attentions(model: nn.Module) -> list[MultiHeadAttention]:
    """Each encoder layer's self-attention, bottom to top."""
    return [layer.attention for layer in encoder_of(model).layers]


def head_importance(model: nn.Module, batches: Iterable, loss_of: Callable,
                    masks: list[torch.Tensor] | None = None,
                    normalize: bool = True) -> list[torch.Tensor]:
    """Per layer a (H_l,) tensor of I_h (eq. 3), the gradient of ``loss_of(model, batch)``
    w.r.t. per-head gates of ones summed in absolute value over ``batches``. ``masks``:
    per layer (H_l,) 0/1 gates already applied (masked heads keep their gate at 0).
    ``normalize``: divide each layer's scores by their l2 norm over its unmasked heads."""
    modules = attentions(model)
    gates = [(torch.ones(m.num_heads) if masks is None else masks[i].float().clone())
             .requires_grad_(True) for i, m in enumerate(modules)]
    scores = [torch.zeros(m.num_heads) for m in modules]
    was_training = model.training
    model.eval()  # no dropout: the importance of the model as it will be used
    try:
        for module, gate in zip(modules, gates):
            module.head_gate = gate
        for batch in batches:
            grads = torch.autograd.grad(loss_of(model, batch), gates, allow_unused=True)
            for score, grad in zip(scores, grads):
                if grad is not None:
                    score += grad.detach().abs()
    finally:
        for module in modules:
            module.head_gate = None
        model.train(was_training)
    if normalize:
        for index, score in enumerate(scores):
            kept = score if masks is None else score * masks[index]
            score /= kept.norm(p=2) + 1e-20
    return scores


def iterative_head_masks(model: nn.Module, batches: list, loss_of: Callable, fraction: float,
                         step: float = 0.1, log=lambda message: None) -> list[torch.Tensor]:
    """Per layer a (H_l,) bool mask (True = kept) with floor(fraction · total) heads masked,
    ``ceil(step · total)`` per round by increasing importance, the importance recomputed
    with the mask in place after each round (Michel et al. §4.2). Ties go by position."""
    check_fraction(fraction, step)
    modules = attentions(model)
    masks = [torch.ones(m.num_heads) for m in modules]
    total = sum(m.num_heads for m in modules)
    target = math.floor(fraction * total)
    per_round = max(1, math.ceil(step * total))
    masked = 0
    while masked < target:
        scores = head_importance(model, batches, loss_of, masks)
        flat = torch.cat([torch.where(m.bool(), s, torch.inf) for m, s in zip(masks, scores)])
        count = min(per_round, target - masked)
        chosen = torch.argsort(flat, stable=True)[:count]  # lowest importance first
        flat_mask = torch.cat(masks)
        flat_mask[chosen] = 0
        masks = list(flat_mask.split([len(m) for m in masks]))
        masked += count
        log(f"head pruning: {masked} of {total} heads masked "
            f"(per layer kept: {[int(m.sum()) for m in masks]})")
    return [m.bool() for m in masks]


def _head_rows(keep: torch.Tensor, head_size: int) -> torch.Tensor:
    """Indices (kept · d,) of the kept heads' features in an (H·d) axis."""
    heads = keep.nonzero().flatten()
    return (heads[:, None] * head_size + torch.arange(head_size)).flatten()


def _take(linear: nn.Linear, rows: torch.Tensor | None, columns: torch.Tensor | None) -> nn.Linear:
    """A new Linear holding ``linear``'s selected output rows / input columns."""
    weight = linear.weight.detach()
    if rows is not None:
        weight = weight[rows]
    if columns is not None:
        weight = weight[:, columns]
    bias = linear.bias is not None
    with warnings.catch_warnings():  # a layer losing every head: zero-element tensors
        warnings.filterwarnings("ignore", message="Initializing zero-element tensors")
        smaller = nn.Linear(weight.shape[1], weight.shape[0], bias=bias,
                            device=weight.device, dtype=weight.dtype)
    with torch.no_grad():
        smaller.weight.copy_(weight)
        if bias:
            smaller.bias.copy_(linear.bias.detach() if rows is None else linear.bias.detach()[rows])
    return smaller


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
        qkv_rows = torch.cat([rows, rows + inner, rows + 2 * inner])  # q, k, v blocks
        module.qkv = _take(module.qkv, qkv_rows, None)
        module.out = _take(module.out, None, rows)
        module.num_heads = int(kept.sum())
    return [m.num_heads for m in modules]


def heads_bits(model: nn.Module) -> int:
    """Size estimate: every parameter of the pruned model in fp32 (nothing is stored
    sparse: the removed heads are gone)."""
    return 32 * sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())
