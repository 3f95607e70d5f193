"""ELMo's task-specific scalar mix of a biLM's layers (Peters et al. 2018, §3.2):

    ELMo_k^task = γ^task · Σ_{j=0..L} s_j^task · h_{k,j}^LM,   s^task = softmax(w^task)

with L+1 layer representations h_{k,j} (for the bilstm encoder: ``layer_states``, layer 0
= [x_k ; x_k], layer j = [h→_{k,j} ; h←_{k,j}]). ``layer_norm: true`` normalises each
layer before weighting it (the paper's footnote 1: "in some cases, applying layer
normalization to each biLM layer before weighting"; allennlp's ``do_layer_norm``),
over the unpadded positions when a mask is given. The top layer alone is not an option
here: it is ``layer_states[-1]``.
"""

from __future__ import annotations

import torch
from torch import nn


class ScalarMix(nn.Module):
    def __init__(self, num_layers: int, layer_norm: bool = False, initial_gamma: float = 1.0):
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"a scalar mix needs at least one layer, got {num_layers}")
        self.num_layers = num_layers
        self.layer_norm = layer_norm
        self.scalars = nn.Parameter(torch.zeros(num_layers))  # w: equal weights at the start
        self.gamma = nn.Parameter(torch.tensor(float(initial_gamma)))  # γ

    def penalty(self) -> torch.Tensor:
        """‖w‖², the regulariser ELMo adds to the task loss as λ‖w‖² (§3.3: "in some cases
        to regularize the ELMo weights"); large λ pulls the mix to the layers' average."""
        return self.scalars.pow(2).sum()

    def weights(self) -> torch.Tensor:
        """s = softmax(w), (L+1,): non-negative, summing to one."""
        return torch.softmax(self.scalars, dim=0)

    def forward(self, layers, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``layers``: L+1 tensors (B, T, D); ``mask`` (B, T), 1 = a real token (used by
        the layer norm only). Returns (B, T, D)."""
        if len(layers) != self.num_layers:
            raise ValueError(f"this scalar mix weighs {self.num_layers} layers, got {len(layers)}")
        weights = self.weights()
        mixed = 0
        for weight, layer in zip(weights, layers):
            if self.layer_norm:
                layer = _masked_layer_norm(layer, mask)
            mixed = mixed + weight * layer  # (B, T, D)
        return self.gamma * mixed


def _masked_layer_norm(x: torch.Tensor, mask: torch.Tensor | None, eps: float = 1e-12):
    """(x - mean) / std over all real positions and features of the batch, as allennlp's
    ``_do_layer_norm`` (one mean and variance per layer, not per position)."""
    if mask is None:
        mask = torch.ones(x.shape[:2], device=x.device)
    weight = mask.to(x.dtype).unsqueeze(-1)  # (B, T, 1)
    count = weight.sum() * x.shape[-1]
    mean = (x * weight).sum() / count
    variance = (((x - mean) * weight) ** 2).sum() / count
    return (x - mean) / torch.sqrt(variance + eps)
