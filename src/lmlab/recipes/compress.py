"""``lmlab compress``: a fine-tuned run in, a compressed fine-tuned run out (issue 20).

The output is a run folder like any other fine-tuned run (``checkpoint/`` written by
:func:`~lmlab.finetune.run_folder.save_finetuned`), so ``lmlab evaluate`` and ``lmlab
predict`` load it, plus ``compression.json`` (method, settings, parameter counts, size
estimate). k-means and magnitude results are ordinary fp32 weights (the codebook values,
the zeros); a magnitude run also keeps its masks in ``masks.safetensors``. A dynamic-int8
run keeps the fp32 weights and ``quantization: dynamic_int8`` in its config, and the loader
quantizes on load (safetensors holds no quantized tensors).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from lmlab.atomic import write_json
from lmlab.compression.matrices import FLOAT_BITS, parameter_counts
from lmlab.compression.pruning import magnitude
from lmlab.compression.quantization import dynamic, kmeans
from lmlab.errors import CheckpointError, ConfigError
from lmlab.finetune.run_folder import load_finetuned, save_finetuned
from lmlab.outputs import prepare_output_folder

METHODS = (dynamic.METHOD, kmeans.METHOD, magnitude.METHOD)
SUMMARY_FILE = "compression.json"
MASKS_FILE = "masks.safetensors"
DEFAULT_BITS = 4
DEFAULT_SPARSITY = 0.5
DEFAULT_SCOPE = "global"


def check_settings(method: str, bits, sparsity, scope) -> dict:
    """The settings of ``method`` with defaults filled; a one-line ConfigError for a bad
    value or a setting that belongs to another method."""
    if method not in METHODS:
        raise ConfigError(f"--method: bad value {method!r}; expected one of {', '.join(METHODS)}")
    if bits is not None and method != kmeans.METHOD:
        raise ConfigError(f"--bits: only with --method {kmeans.METHOD} (dynamic_int8 is 8-bit)")
    if (sparsity is not None or scope is not None) and method != magnitude.METHOD:
        raise ConfigError(f"--sparsity/--scope: only with --method {magnitude.METHOD}")
    if method == kmeans.METHOD:
        bits = DEFAULT_BITS if bits is None else bits
        kmeans.check_bits(bits)
        return {"bits": bits}
    if method == magnitude.METHOD:
        settings = {"sparsity": DEFAULT_SPARSITY if sparsity is None else sparsity,
                    "scope": scope or DEFAULT_SCOPE}
        magnitude.check_sparsity(settings["sparsity"], settings["scope"])
        return settings
    return {}


def compress_run(source: str, method: str, out: str, bits=None, sparsity=None, scope=None,
                 overwrite: bool = False, command: str = "") -> dict:
    """Compress the fine-tuned run ``source`` into ``out``; returns compression.json's dict."""
    settings = check_settings(method, bits, sparsity, scope)
    config, tokenizer, model = load_finetuned(source)  # a pre-training run: one-line error
    if config.quantization:
        raise CheckpointError(f"{source}: already quantized ({config.quantization}); "
                              f"compress the fine-tuned run it came from")
    if Path(out).resolve() == Path(source).resolve():
        raise ConfigError(f"--out {out}: the run being compressed; choose another folder")
    folder = prepare_output_folder(out, "compress", overwrite)  # checked before the work
    before = parameter_counts(model)
    fp32_bits = before["params"] * FLOAT_BITS
    masks = None
    if method == kmeans.METHOD:
        kmeans.quantize_kmeans(model, settings["bits"])
        size_bits = kmeans.kmeans_bits(model, settings["bits"])
    elif method == magnitude.METHOD:
        masks = magnitude.prune_magnitude(model, settings["sparsity"], settings["scope"])
        size_bits = magnitude.sparse_bits(model, masks)
    else:
        size_bits = dynamic.dynamic_int8_bits(model)
        config = dataclasses.replace(config, quantization=dynamic.METHOD)
    save_finetuned(folder, model, config, tokenizer, {})
    if masks is not None:
        from safetensors.torch import save_file

        save_file({name: mask.to(torch.uint8) for name, mask in masks.items()},
                  str(folder / MASKS_FILE))
    summary = {"method": method, "settings": settings, "source": str(source),
               "task": config.task, **parameter_counts(model),
               "params_before": before["params"], "nonzero_params_before": before["nonzero_params"],
               "size_bytes_fp32": fp32_bits // 8, "size_bytes_estimate": -(-size_bits // 8),
               "size_ratio": round(fp32_bits / size_bits, 3), "command": command}
    write_json(folder / SUMMARY_FILE, summary)
    return summary
