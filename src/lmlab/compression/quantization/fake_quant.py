"""Q8BERT: 8-bit quantization-aware training (Zafrir, Boudoukh, Izsak & Wasserblat 2019,
"Q8BERT: Quantized 8Bit BERT", §2-3).

Symmetric linear quantization (§2.1, eq. 1-2), M = 2^(b-1) - 1 (127 at 8 bits):

    Quantize(x | S_x, M) = Clamp(⌊x · S_x⌉, -M, M),   S_W = M / max|W|,   S_x = M / EMA(max|x|),

weights scaled by their current max, the inputs of each Linear by an exponential moving
average of their max over training batches (§2.2; decay 0.9999 as in the authors'
nlp-architect code; the first batch sets it). Fake quantization, x̂ = Quantize(x)/S_x, puts
the int8 rounding in the forward pass of fp32 training, and the straight-through estimator
(Bengio et al. 2013; §2.2) passes the gradient through the rounding unchanged:
∂x̂/∂x = 1 (identity, as the authors' ``FakeLinearQuantizationWithSTE``).

Every ``nn.Linear`` (weights and inputs) and ``nn.Embedding`` (weights) is wrapped; biases
(int32 at scale S_x·S_W in deployment, a negligible rounding), LayerNorm, softmax and GELU
stay fp32 (§3). The wrappers hold the same Parameters under the same names, so a wrapped
model's state_dict has the original keys plus one ``activation_max`` buffer per Linear.
:func:`int8_export` gives the int8 integers and scales of every wrapped matrix.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from lmlab.compression.matrices import FLOAT_BITS
from lmlab.errors import ConfigError

METHOD = "q8bert"
EMA_DECAY = 0.9999


def levels(bits: int) -> int:
    """M = 2^(b-1) - 1: the largest integer of the symmetric range [-M, M]."""
    return 2 ** (bits - 1) - 1


def quantize(x: torch.Tensor, scale: torch.Tensor | float, bits: int = 8) -> torch.Tensor:
    """Clamp(⌊x · S⌉, -M, M) as integers (in x's float dtype); ⌊·⌉ rounds half to even."""
    most = levels(bits)
    return torch.clamp(torch.round(x * scale), -most, most)


class _StraightThrough(torch.autograd.Function):
    """x̂ = Quantize(x | S)/S forward; the gradient passes unchanged (STE)."""

    @staticmethod
    def forward(ctx, x, scale, bits):
        return quantize(x, scale, bits) / scale

    @staticmethod
    def backward(ctx, grad):
        return grad, None, None


def fake_quantize(x: torch.Tensor, maximum: torch.Tensor | float, bits: int = 8) -> torch.Tensor:
    """x on the b-bit grid of [-maximum, maximum], gradient straight through."""
    scale = levels(bits) / torch.clamp(torch.as_tensor(maximum, dtype=x.dtype,
                                                       device=x.device), min=1e-8)
    return _StraightThrough.apply(x, scale, bits)


class FakeQuantLinear(nn.Module):
    """A Linear whose weight and input are fake-quantized; same ``weight``/``bias``."""

    def __init__(self, linear: nn.Linear, bits: int = 8, ema_decay: float = EMA_DECAY):
        super().__init__()
        self.weight, self.bias = linear.weight, linear.bias
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.bits, self.ema_decay = bits, ema_decay
        self.register_buffer("activation_max", torch.zeros(()))  # EMA of max|x|; 0 = unset

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            with torch.no_grad():
                current = x.detach().abs().max().to(self.activation_max.dtype)
                first = bool(self.activation_max == 0)
                self.activation_max.copy_(current if first else
                                          self.ema_decay * self.activation_max
                                          + (1 - self.ema_decay) * current)
        # Never trained (EMA unset): the batch's own max, as dynamic quantization would.
        maximum = self.activation_max if bool(self.activation_max > 0) else x.detach().abs().max()
        weight = fake_quantize(self.weight, self.weight.detach().abs().max(), self.bits)
        return F.linear(fake_quantize(x, maximum, self.bits), weight, self.bias)


class FakeQuantEmbedding(nn.Module):
    """An Embedding whose table is fake-quantized (its output is not: it feeds a sum and
    LayerNorm, §3); same ``weight``."""

    def __init__(self, embedding: nn.Embedding, bits: int = 8):
        super().__init__()
        self.weight, self.padding_idx = embedding.weight, embedding.padding_idx
        self.num_embeddings, self.embedding_dim = embedding.num_embeddings, embedding.embedding_dim
        self.bits = bits

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        table = fake_quantize(self.weight, self.weight.detach().abs().max(), self.bits)
        return F.embedding(ids, table, self.padding_idx)


WRAPPERS = (FakeQuantLinear, FakeQuantEmbedding)


def check_bits(bits) -> None:
    if isinstance(bits, bool) or not isinstance(bits, int) or not 2 <= bits <= 8:
        raise ConfigError(f"--set bits: bad value {bits!r}; expected an integer 2..8")


def quantization_aware(model: nn.Module, bits: int = 8, ema_decay: float = EMA_DECAY) -> nn.Module:
    """Wrap every nn.Linear and nn.Embedding of ``model`` in place for quantization-aware
    training; returns ``model``. A model already wrapped is a one-line error."""
    check_bits(bits)
    if any(isinstance(m, WRAPPERS) for m in model.modules()):
        raise ConfigError("quantization-aware training: the model is already fake-quantized")
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.Linear):
                setattr(parent, name, FakeQuantLinear(child, bits, ema_decay))
            elif isinstance(child, nn.Embedding):
                setattr(parent, name, FakeQuantEmbedding(child, bits))
    return model


def int8_export(model: nn.Module) -> dict[str, torch.Tensor]:
    """{``<module>.weight_int``: int8 integers of the matrix, ``<module>.weight_scale``:
    1/S_W (so W ≈ integers · scale), and for a Linear ``<module>.input_scale``: 1/S_x}."""
    tensors = {}
    for name, module in model.named_modules():
        if not isinstance(module, WRAPPERS):
            continue
        most = levels(module.bits)
        maximum = module.weight.detach().abs().max().clamp(min=1e-8)
        tensors[f"{name}.weight_int"] = quantize(module.weight.detach(), most / maximum,
                                                 module.bits).to(torch.int8)
        tensors[f"{name}.weight_scale"] = (maximum / most).reshape(1)
        if isinstance(module, FakeQuantLinear):
            tensors[f"{name}.input_scale"] = (module.activation_max.clamp(min=1e-8) / most).reshape(1)
    return tensors


def fake_quant_bits(model: nn.Module) -> int:
    """Size estimate: b bits a wrapped weight plus an fp32 weight scale per matrix (and an
    input scale per Linear); every other parameter 32 bits."""
    wrapped = {id(m.weight): m for m in model.modules() if isinstance(m, WRAPPERS)}
    total = 0
    for parameter in {id(p): p for p in model.parameters()}.values():
        module = wrapped.get(id(parameter))
        total += parameter.numel() * FLOAT_BITS if module is None else \
            parameter.numel() * module.bits + FLOAT_BITS * (1 + isinstance(module, FakeQuantLinear))
    return total


def strip_fake_quant(model: nn.Module) -> nn.Module:
    """Replace every wrapper of ``model`` in place by a plain nn.Linear / nn.Embedding
    holding its weights rounded to the int8 grid (what :func:`int8_export` stores), so the
    model saves and loads as an ordinary fp32 run; the inputs are then no longer quantized
    (their scales are in :func:`int8_export`). Returns ``model``."""
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if not isinstance(child, WRAPPERS):
                continue
            maximum = child.weight.detach().abs().max().clamp(min=1e-8)
            scale = levels(child.bits) / maximum
            with torch.no_grad():
                child.weight.copy_(quantize(child.weight, scale, child.bits) / scale)
            if isinstance(child, FakeQuantLinear):
                plain = nn.Linear(child.in_features, child.out_features, bias=child.bias is not None,
                                  device=child.weight.device, dtype=child.weight.dtype)
                plain.bias = child.bias
            else:
                plain = nn.Embedding(child.num_embeddings, child.embedding_dim, child.padding_idx,
                                     device=child.weight.device, dtype=child.weight.dtype)
            plain.weight = child.weight
            setattr(parent, name, plain)
    return model
