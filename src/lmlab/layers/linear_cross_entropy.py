"""Vocabulary projection fused with cross-entropy, computed in row chunks.

``loss = mean_i CE(h_i W^T + b, y_i)`` over the rows whose target is not ``ignore_index``.

The plain path materialises the (N, V) logits, their log-softmax and their gradient: for
N = 4096 tokens and V = 30k that is three 500 MB tensors per step, allocated and
page-faulted afresh each time, which dominates a small model's step on a CPU. The fused
path walks over chunks of rows and, in the forward pass already, turns each chunk's
logits into its loss and its gradients (softmax − one-hot is the gradient of CE w.r.t.
the logits), so only one chunk of logits ever exists and no logits are recomputed: the
same three matmuls as the plain path, and one exp pass where log-softmax and its backward
take two. Backward then only scales the stored gradients by the incoming scalar. The idea is that of Liger-Kernel's FusedLinearCrossEntropy; this is
a PyTorch-level implementation of it. :func:`reference_linear_cross_entropy` is its
simple twin (DESIGN §6.9).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

IGNORE_INDEX = -100


def reference_linear_cross_entropy(hidden: torch.Tensor, weight: torch.Tensor,
                                   bias: torch.Tensor | None, targets: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(F.linear(hidden, weight, bias), targets, ignore_index=IGNORE_INDEX)


class _LinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hidden, weight, bias, targets, chunk_rows, compute):
        # hidden (N, D), weight (V, D), bias (V,) or None, targets (N,). The matmuls run in
        # `compute` (autocast's dtype, else the weight's); softmax and sums in fp32 or wider.
        valid = targets != IGNORE_INDEX
        count = int(valid.sum())
        needs = ctx.needs_input_grad
        grad_hidden = torch.zeros_like(hidden) if needs[0] else None
        grad_weight = torch.zeros_like(weight) if needs[1] else None
        grad_bias = torch.zeros_like(bias) if (bias is not None and needs[2]) else None
        w = weight.to(compute)  # (V, D), the weight itself when dtypes agree
        b = None if bias is None else bias.to(compute)
        wide = torch.promote_types(compute, torch.float32)
        total = torch.zeros((), dtype=wide, device=hidden.device)
        for start in range(0, hidden.shape[0], chunk_rows):
            h = hidden[start: start + chunk_rows].to(compute)  # (c, D)
            y = targets[start: start + chunk_rows]  # (c,)
            keep = y != IGNORE_INDEX
            logits = (torch.addmm(b, h, w.t()) if b is not None else h @ w.t()).to(wide)  # (c, V)
            safe_y = y.clamp_min(0)
            picked = logits.gather(1, safe_y[:, None]).squeeze(1)  # (c,)
            # One exp pass serves both the loss and the gradient (logsumexp + softmax would
            # take two; exp of 30k × c values costs as much as a matmul on a CPU).
            row_max = logits.amax(dim=-1, keepdim=True)  # (c, 1)
            probabilities = logits.sub_(row_max).exp_()  # (c, V), in place, unnormalised
            row_sum = probabilities.sum(dim=-1)  # (c,)
            log_norm = row_max.squeeze(1) + row_sum.log()
            total += ((log_norm - picked) * keep).sum()
            if grad_hidden is None and grad_weight is None and grad_bias is None:
                continue
            # d CE / d logits = softmax - onehot, for kept rows, averaged over `count`.
            scale = keep.to(probabilities.dtype) / max(count, 1)  # (c,)
            grad_logits = probabilities.mul_((scale / row_sum)[:, None])
            grad_logits[torch.arange(len(y), device=y.device), safe_y] -= scale
            g = grad_logits.to(compute)  # (c, V)
            if grad_hidden is not None:
                grad_hidden[start: start + chunk_rows] = g @ w
            if grad_weight is not None and grad_weight.dtype == compute:
                grad_weight.addmm_(g.t(), h)
            elif grad_weight is not None:  # mixed precision: accumulate in the weight's dtype
                grad_weight += g.t() @ h
            if grad_bias is not None:
                grad_bias += grad_logits.sum(0)
        ctx.save_for_backward(grad_hidden, grad_weight, grad_bias)
        return total / max(count, 1)

    @staticmethod
    def backward(ctx, grad_output):
        grad_hidden, grad_weight, grad_bias = ctx.saved_tensors
        scale = lambda g: None if g is None else g * grad_output  # noqa: E731
        return scale(grad_hidden), scale(grad_weight), scale(grad_bias), None, None, None


# Rows per chunk: at most this many logits (512 MB of fp32) exist at once. Larger chunks
# run the matmuls faster on a CPU (measured: 4096 rows × 30k vocabulary beat 1024 by 15%).
MAX_CHUNK_LOGITS = 1 << 27


def linear_cross_entropy(hidden: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                         targets: torch.Tensor, chunk_rows: int | None = None) -> torch.Tensor:
    """Mean cross-entropy of ``hidden @ weight.T + bias`` against ``targets`` (fused, chunked).

    hidden: (N, D); weight: (V, D); bias: (V,) or None; targets: (N,) with -100 = ignore.
    Under autocast the matmuls run in autocast's dtype and the loss, the softmax and the
    weight's gradient stay in fp32, as ``F.cross_entropy(F.linear(...))`` does there.
    """
    chunk_rows = chunk_rows or max(1, MAX_CHUNK_LOGITS // weight.shape[0])
    device = hidden.device.type
    compute = (torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device)
               else weight.dtype)
    with torch.autocast(device, enabled=False):  # the Function casts for itself
        return _LinearCrossEntropy.apply(hidden, weight, bias, targets, chunk_rows, compute)
