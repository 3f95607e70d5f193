"""Post-training dynamic int8 quantization of the nn.Linear layers (the engineering
baseline of issue 20; PyTorch ``torch.ao.quantization.quantize_dynamic``).

Jacob et al. 2018 ("Quantization and Training of Neural Networks for Efficient
Integer-Arithmetic-Only Inference", eq. 1: r = S (q - Z)) define the affine map; PyTorch's
dynamic scheme stores each Linear weight as int8 with one scale (symmetric, per tensor),
and quantizes the activations at run time with a scale measured on each batch, so no
calibration data is needed. The quantized Linear runs on CPU only (fbgemm / x86 kernels).

safetensors holds no quantized tensors: a dynamic-int8 run folder keeps the fp32 weights
and ``quantization: dynamic_int8`` in its config.yaml, and the loader
(:func:`lmlab.finetune.run_folder.load_finetuned`) applies :func:`quantize_dynamic_int8`
on load. The transform is deterministic (min/max of each weight), so every load gives the
same int8 weights.
"""

from __future__ import annotations

import dataclasses
import warnings

import torch
from torch import nn
from torch.ao.quantization import quantize_dynamic

from lmlab.compression.matrices import FLOAT_BITS
from lmlab.compression.method import Compressed, Method, Source

METHOD = "dynamic_int8"
SCALE_BITS = 2 * 32  # per matrix: an fp32 scale and a zero point


def quantize_dynamic_int8(model: nn.Module) -> nn.Module:
    """A copy of ``model`` whose nn.Linear layers are
    ``torch.ao.nn.quantized.dynamic.Linear`` (int8 weights, fp32 bias); eval mode, CPU."""
    model = model.to("cpu").eval()
    with warnings.catch_warnings():  # torch.ao.quantization's deprecation notices, per call
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*quantize_per_tensor.*")
        return quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)


def dynamic_int8_bits(model: nn.Module) -> int:
    """Size estimate of ``model`` (fp32, before quantization) once quantized: 8 bits a
    Linear weight plus scale and zero point per Linear; every other parameter 32 bits."""
    linear = {id(m.weight) for m in model.modules() if isinstance(m, nn.Linear)}
    bits = 0
    for parameter in {id(p): p for p in model.parameters()}.values():
        if id(parameter) in linear:
            bits += 8 * parameter.numel() + SCALE_BITS
        else:
            bits += FLOAT_BITS * parameter.numel()
    return bits


def _compress(source: Source, settings: dict) -> Compressed:
    """fp32 weights kept; the run's config says ``quantization: dynamic_int8`` and the
    loader quantizes on load."""
    return Compressed(source.model, dataclasses.replace(source.config, quantization=METHOD),
                      dynamic_int8_bits(source.model))


DYNAMIC_INT8 = Method(METHOD, "PyTorch post-training dynamic int8 of every nn.Linear "
                      "(quantized on load; CPU)", {}, _compress)
