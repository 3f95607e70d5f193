"""Class-factorised softmax (Goodman 2001; Mikolov et al. 2011, "Extensions of recurrent
neural network language model", eq. 6):

    P(w | h) = P(c(w) | h) · P(w | c(w), h)
    P(c | h) = softmax_c(h·k_c + a_c),   P(w | c, h) = softmax_{w' in c}(h·u_w' + b_w')

Words are put into C classes by frequency binning: sorted by train frequency, a new class
starts each time the cumulative unigram mass passes another 1/C (Mikolov's rnnlm), with
every class non-empty. Training costs O(C + |c(y)|) per token instead of O(V). The word
vectors u_w, b_w are the LM head's decoder; the class layer is new. ``forward`` returns
the exact log-probabilities of all V words (normalised by construction).

The within-class term is a fused autograd function (one class at a time, gradients
accumulated into one buffer, as :mod:`lmlab.layers.linear_cross_entropy` does): plain
autograd would allocate a V x D gradient for every class touched by the batch.
:meth:`ClassSoftmaxHead.reference_loss` is its simple twin (DESIGN §6.9).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

IGNORE_INDEX = -100


def frequency_classes(counts: np.ndarray, num_classes: int) -> np.ndarray:
    """Class id per word (V,), classes 0..C-1 all non-empty, frequent words first."""
    vocab = len(counts)
    num_classes = min(num_classes, vocab)
    order = np.argsort(-np.asarray(counts, dtype=np.float64), kind="stable")
    mass = np.asarray(counts, dtype=np.float64)[order]
    mass = mass / mass.sum() if mass.sum() > 0 else np.full(vocab, 1.0 / vocab)
    classes = np.zeros(vocab, dtype=np.int64)
    current, cumulative = 0, 0.0
    for rank, word in enumerate(order):
        classes[word] = current
        cumulative += mass[rank]
        words_left, classes_left = vocab - rank - 1, num_classes - current - 1
        if classes_left > 0 and (cumulative > (current + 1) / num_classes
                                 or words_left == classes_left):
            current += 1
    return classes


def _class_groups(target_class: torch.Tensor):
    """Rows grouped by class: [(class id, row indices)]."""
    order = torch.argsort(target_class, stable=True)
    present, sizes = torch.unique_consecutive(target_class[order], return_counts=True)
    return list(zip(present.tolist(), torch.split(order, sizes.tolist())))


class _WithinClassNLL(torch.autograd.Function):
    """sum_rows -log softmax_{w in c(y)}(h·u_w + b_w)[y], gradients computed in forward."""

    @staticmethod
    def forward(ctx, features, weight, bias, targets, target_class, members, starts, slot):
        # features (N, D), weight (V, D), bias (V,) or None, targets/target_class (N,)
        needs = ctx.needs_input_grad
        grad_features = torch.zeros_like(features) if needs[0] else None
        grad_weight = torch.zeros_like(weight) if needs[1] else None
        grad_bias = torch.zeros_like(bias) if (bias is not None and needs[2]) else None
        total = features.new_zeros(())
        for cls, rows in _class_groups(target_class):
            words = members[starts[cls]: starts[cls + 1]]  # (m,)
            vectors, inputs = weight[words], features[rows]  # (m, D), (n, D)
            logits = inputs @ vectors.t()  # (n, m)
            if bias is not None:
                logits += bias[words]
            position = slot[targets[rows]]  # (n,)
            log_norm = torch.logsumexp(logits, dim=-1)  # (n,)
            total += (log_norm - logits.gather(1, position[:, None]).squeeze(1)).sum()
            grad_logits = logits.sub_(log_norm[:, None]).exp_()  # softmax, in place
            grad_logits[torch.arange(len(rows), device=rows.device), position] -= 1.0
            if grad_features is not None:
                grad_features[rows] = grad_logits @ vectors
            if grad_weight is not None:
                grad_weight.index_add_(0, words, grad_logits.t() @ inputs)
            if grad_bias is not None:
                grad_bias.index_add_(0, words, grad_logits.sum(0))
        ctx.save_for_backward(grad_features, grad_weight, grad_bias)
        return total

    @staticmethod
    def backward(ctx, grad_output):
        scale = lambda g: None if g is None else g * grad_output  # noqa: E731
        grad_features, grad_weight, grad_bias = ctx.saved_tensors
        return (scale(grad_features), scale(grad_weight), scale(grad_bias),
                None, None, None, None, None)


def default_num_classes(vocab_size: int) -> int:
    return max(1, round(math.sqrt(vocab_size)))


class ClassSoftmaxHead(nn.Module):
    def __init__(self, base: nn.Module, hidden_size: int, vocab_size: int, num_classes: int):
        super().__init__()
        self.base = base
        self.vocab_size = vocab_size
        self.num_classes = min(num_classes or default_num_classes(vocab_size), vocab_size)
        self.classes = nn.Linear(hidden_size, self.num_classes)  # k_c, a_c
        uniform = frequency_classes(np.ones(vocab_size), self.num_classes)
        self.register_buffer("word_class", torch.from_numpy(uniform))
        self._derive()
        self.register_load_state_dict_post_hook(lambda module, keys: module._derive())

    def set_counts(self, counts: torch.Tensor) -> None:
        self.word_class.copy_(torch.from_numpy(
            frequency_classes(counts.double().numpy(), self.num_classes)))
        self._derive()

    def _derive(self) -> None:
        self.members = torch.argsort(self.word_class, stable=True)  # (V,) words grouped by class
        sizes = torch.bincount(self.word_class, minlength=self.num_classes)  # (C,)
        self.starts = torch.cat([sizes.new_zeros(1), sizes.cumsum(0)])  # (C+1,)
        self.slot = torch.empty_like(self.members)  # word -> position inside its class
        self.slot[self.members] = torch.arange(self.vocab_size) - self.starts[self.word_class[self.members]]

    def features(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.base.features(hidden)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """Exact log P(w|h) for every word: (..., D) -> (..., V)."""
        features = self.features(hidden)
        flat = features.reshape(-1, features.shape[-1])  # (N, D)
        logits = self.base.decoder(flat)  # (N, V)
        index = self.word_class.expand_as(logits)  # (N, V)
        peak = torch.full((flat.shape[0], self.num_classes), float("-inf"), dtype=logits.dtype,
                          device=logits.device)
        peak = peak.scatter_reduce(1, index, logits.detach(), "amax")  # (N, C), for stability
        total = torch.zeros_like(peak).scatter_add(1, index, (logits - peak.gather(1, index)).exp())
        log_norm = peak + total.log()  # (N, C) logsumexp of the words of each class
        class_log_prob = F.log_softmax(self.classes(flat), dim=-1)  # (N, C)
        log_prob = class_log_prob.gather(1, index) + logits - log_norm.gather(1, index)
        return log_prob.reshape(*features.shape[:-1], self.vocab_size)

    def loss(self, hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean -log P(y|h), scoring only the classes and the target's class members."""
        keep = targets != IGNORE_INDEX
        features, targets = self.features(hidden[keep]), targets[keep]
        target_class = self.word_class[targets]  # (N,)
        class_log_prob = F.log_softmax(self.classes(features), dim=-1)  # (N, C)
        total = -class_log_prob.gather(1, target_class[:, None]).sum()
        weight = self.base.decoder.weight
        with torch.autocast(features.device.type, enabled=False):  # the sum runs in fp32
            total = total + _WithinClassNLL.apply(features.to(weight.dtype), weight,
                                                  self.base.decoder.bias, targets, target_class,
                                                  self.members, self.starts, self.slot)
        return total / max(1, int(keep.sum()))

    def reference_loss(self, hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """The same loss with plain autograd, one class at a time (the simple twin)."""
        keep = targets != IGNORE_INDEX
        features, targets = self.features(hidden[keep]), targets[keep]
        target_class = self.word_class[targets]  # (N,)
        class_log_prob = F.log_softmax(self.classes(features), dim=-1)  # (N, C)
        total = -class_log_prob.gather(1, target_class[:, None]).sum()
        weight, bias = self.base.decoder.weight, self.base.decoder.bias
        for cls, rows in _class_groups(target_class):
            words = self.members[self.starts[cls]: self.starts[cls + 1]]  # (m,)
            logits = features[rows] @ weight[words].t()  # (n, m)
            if bias is not None:
                logits = logits + bias[words]
            picked = logits.gather(1, self.slot[targets[rows]][:, None]).squeeze(1)
            total = total - (picked - torch.logsumexp(logits, dim=-1)).sum()
        return total / max(1, int(keep.sum()))
