"""What every ONNX export does after writing a graph: compare onnxruntime with PyTorch, and
write the dynamic int8 twin (``onnxruntime.quantization``) of a graph."""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import nn


def largest_difference(session, graph: nn.Module, inputs: dict) -> float:
    """Largest |onnxruntime - PyTorch| over every output of ``graph`` on ``inputs``."""
    with torch.no_grad():
        expected = graph(**inputs)
    expected = expected if isinstance(expected, tuple) else (expected,)
    got = session.run(None, {k: v.numpy() for k, v in inputs.items()})
    return max(float((torch.from_numpy(g) - e).abs().max()) for g, e in zip(got, expected))


def write_int8(path: Path, quantized: Path):
    """Quantise the graph at ``path`` to int8 weights into ``quantized``; its session."""
    import onnxruntime
    from onnxruntime.quantization import QuantType, quantize_dynamic

    logging.disable(logging.WARNING)  # its advice to pre-process (shape inference)
    try:
        quantize_dynamic(str(path), str(quantized), weight_type=QuantType.QInt8)
    finally:
        logging.disable(logging.NOTSET)
    return onnxruntime.InferenceSession(str(quantized), providers=["CPUExecutionProvider"])
