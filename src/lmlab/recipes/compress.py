"""``lmlab compress``: a fine-tuned run in, a compressed fine-tuned run out (issue 20).

The output is a run folder like any other fine-tuned run (``checkpoint/`` written by
:func:`~lmlab.finetune.run_folder.save_finetuned`), so ``lmlab evaluate`` and ``lmlab
predict`` load it, plus ``compression.json`` (method, settings, parameter counts, size
estimate) and any files the method keeps (a magnitude run's ``masks.safetensors``). Each
method is a :class:`~lmlab.compression.method.Method` in :data:`METHODS`; adding one is one
line there.
"""

from __future__ import annotations

import json
from pathlib import Path

from lmlab.atomic import write_json
from lmlab.compression.matrices import FLOAT_BITS, parameter_counts
from lmlab.compression.method import Source
from lmlab.compression.pruning.magnitude import MAGNITUDE
from lmlab.compression.quantization.dynamic import DYNAMIC_INT8
from lmlab.compression.quantization.kmeans import KMEANS
from lmlab.errors import CheckpointError, ConfigError
from lmlab.finetune import bilstm_student, distill, post_training, qat
from lmlab.finetune.bnn_student import BNN
from lmlab.finetune.l0_heads import L0_HEADS
from lmlab.finetune.rpp import RPP
from lmlab.finetune.sharing import ALBERT_SHARE
from lmlab.finetune.retrain import retrain
from lmlab.finetune.run_folder import load_finetuned, save_finetuned
from lmlab.outputs import prepare_output_folder

# --method name -> Method; read here only (DESIGN §6.2).
METHODS = {method.name: method for method in (DYNAMIC_INT8, KMEANS, MAGNITUDE, *distill.METHODS,
                                               *post_training.METHODS, qat.Q8BERT,
                                               bilstm_student.TANG, L0_HEADS, RPP,
                                               ALBERT_SHARE, BNN)}
SUMMARY_FILE = "compression.json"


def method_settings(method: str, given: dict) -> dict:
    """The settings of ``method``: ``given`` over its defaults, checked (one-line errors)."""
    if method not in METHODS:
        raise ConfigError(f"--method: bad value {method!r}; expected one of "
                          f"{', '.join(METHODS)}")
    return METHODS[method].settings(given)


def compress_run(source: str, method: str, out: str, given: dict | None = None,
                 overwrite: bool = False, command: str = "", log=lambda message: None,
                 resume: bool = False) -> dict:
    """Compress the fine-tuned run ``source`` into ``out`` by ``method`` with the settings
    ``given`` (the rest default); returns compression.json's dict. ``resume`` continues
    an interrupted compression in ``out`` (a training method from its last checkpoint)
    with the same method and settings; a finished one is returned as it is."""
    settings = method_settings(method, given or {})
    config, tokenizer, model = load_finetuned(source)  # a pre-training run: one-line error
    if config.quantization:
        raise CheckpointError(f"{source}: already quantized ({config.quantization}); "
                              f"compress the fine-tuned run it came from")
    if Path(out).resolve() == Path(source).resolve():
        raise ConfigError(f"--out {out}: the run being compressed; choose another folder")
    folder = prepare_output_folder(out, "compress", overwrite, resume)  # before the work
    finished = _started(folder, method, settings, source)  # a fresh folder: None
    if finished is not None:
        return finished
    before = parameter_counts(model)
    fp32_bits = before["params"] * FLOAT_BITS
    loaded = Source(Path(source), config, tokenizer, model, folder, log)
    result = retrain(loaded, METHODS[method].compress(loaded, settings), settings)
    save_finetuned(folder, result.model, result.config, tokenizer, {})
    if result.files:
        from safetensors.torch import save_file

        for name, tensors in result.files.items():
            save_file(tensors, str(folder / name))
    summary = {"method": method, "settings": settings, "source": str(source),
               "task": config.task, **parameter_counts(result.model),
               "params_before": before["params"], "nonzero_params_before": before["nonzero_params"],
               "size_bytes_fp32": fp32_bits // 8, "size_bytes_estimate": -(-result.size_bits // 8),
               "size_ratio": round(fp32_bits / result.size_bits, 3), **result.summary,
               "command": command}
    write_json(folder / SUMMARY_FILE, summary)
    return summary


STARTED_FILE = "compress.json"


def _started(folder: Path, method: str, settings: dict, source: str) -> dict | None:
    """The finished summary in ``folder`` (resumed), or None to (re)start; the method,
    settings and source must be those the folder was started with (one-line error)."""
    wanted = {"method": method, "settings": settings, "source": str(Path(source).resolve())}
    started = folder / STARTED_FILE
    if started.exists():
        if json.loads(started.read_text()) != json.loads(json.dumps(wanted)):
            raise CheckpointError(f"{folder} was compressed with another method, settings or "
                                  f"source; resume with the same ones or choose another --out")
    else:
        write_json(started, wanted)
    summary = folder / SUMMARY_FILE
    return json.loads(summary.read_text()) if summary.exists() else None
