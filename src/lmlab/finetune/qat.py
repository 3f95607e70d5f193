"""Q8BERT as a ``lmlab compress`` method (Zafrir et al. 2019): the fine-tuned run is wrapped
for 8-bit quantization-aware training (:mod:`lmlab.compression.quantization.fake_quant`:
fake-quantized Linear inputs and weights, Embedding weights, straight-through gradients)
and fine-tuned further on its task by the one training loop, model selection on the dev
score measured *with* fake quantization (the int8 model's accuracy, §3). The run saved is
the stripped model (weights on their int8 grid, plain modules) plus ``int8.safetensors``
with the integers and the weight and input scales a deployment needs.
"""

from __future__ import annotations

import copy
import dataclasses
import time

from lmlab.compression.method import Compressed, Method, Source
from lmlab.compression.quantization.fake_quant import (check_bits, fake_quant_bits,
                                                       int8_export, quantization_aware,
                                                       strip_fake_quant)
from lmlab.evaluation.metrics import headline
from lmlab.finetune.distill import COMMON, check, run_options, task_features, train_stage
from lmlab.finetune.job import score

INT8_FILE = "int8.safetensors"


def q8bert(source: Source, settings: dict) -> Compressed:
    started = time.perf_counter()
    config = dataclasses.replace(source.config, options=run_options(source.config, settings),
                                 base=f"q8bert:{source.path}")
    data = task_features(source, config, settings["max_train_examples"])
    fp32_dev, _ = score(source.model, data[0], *data[2], source.config, source.tokenizer)
    model = quantization_aware(copy.deepcopy(source.model), settings["bits"])
    stage = train_stage("qat", model, config, source, data, None, settings["epochs"], settings)
    size_bits = fake_quant_bits(model)
    integers = int8_export(model)
    model = strip_fake_quant(model.cpu())
    return Compressed(model, config, size_bits, files={INT8_FILE: integers}, summary={
        "teacher": {"dev": fp32_dev},
        "student": {"dev": stage["best"], "dev_is": "with fake quantization (simulated int8)"},
        "score_vs_teacher": round(100 * headline(stage["best"]) / headline(fp32_dev), 2),
        "stages": [stage], "seconds": round(time.perf_counter() - started, 1)})


def _check_q8bert(settings: dict) -> None:
    check_bits(settings["bits"])
    check(settings)


Q8BERT = Method("q8bert", "Q8BERT 8-bit quantization-aware fine-tuning, fake quantization with a "
                "straight-through estimator (Zafrir et al. 2019)",
                {**{k: v for k, v in COMMON.items() if k not in ("student_layers", "init",
                                                                 "layer_map")},
                 "bits": 8, "epochs": 1.0, "lr": 2e-5}, q8bert, _check_q8bert)
