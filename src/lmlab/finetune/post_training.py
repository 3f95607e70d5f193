"""Post-training compression methods of ``lmlab compress`` that read the task's training
data but train nothing (issue 20): the loss gradients they need come from a fixed subset of
the fine-tuned run's training split (``examples`` of them, the run's ``subset_seed``), in
length-sorted batches. The dev split is never read, so the scores reported on it are clean.

- ``heads``: Michel et al. 2019 head importance, iterative masking, actual removal
  (:mod:`lmlab.compression.pruning.heads`);
- ``ffn``: structured pruning of feed-forward neurons (McCarley 2019;
  :mod:`lmlab.compression.pruning.neurons`);
- ``qbert``: Q-BERT's Hessian-aware mixed-precision group-wise quantization (Shen et al.
  2020; :mod:`lmlab.compression.quantization.hessian`, :mod:`~lmlab.compression.
  quantization.qbert`), without the paper's quantization-aware fine-tuning.
"""

from __future__ import annotations

import dataclasses

from lmlab.compression.matrices import FLOAT_BITS
from lmlab.compression.method import RETRAIN, Compressed, Method, Source, check_retrain
from lmlab.compression.pruning.heads import (check_heads, encoder_of, iterative_head_masks,
                                             remove_heads)
from lmlab.compression.pruning.neurons import (check_neurons, iterative_neuron_masks,
                                               remove_neurons)
from lmlab.compression.quantization.hessian import layer_sensitivities
from lmlab.compression.quantization.qbert import assign_bits, check_qbert, quantize_qbert
from lmlab.errors import ConfigError
from lmlab.finetune import task_data
from lmlab.finetune.batching import evaluation_batches
from lmlab.finetune.features import collate
from lmlab.tasks.catalogue import get_task

DATA = {"examples": 1000, "batch_size": 32}
"""Settings of the data the gradients come from (``examples: 0`` = the whole split)."""


def _check_data(settings: dict) -> None:
    for name in DATA:
        value = settings[name]
        if isinstance(value, bool) or not isinstance(value, int) or value < (name != "examples"):
            raise ConfigError(f"--set {name}={value!r}: expected an integer >= "
                              f"{int(name != 'examples')}")


def task_batches(source: Source, examples: int, batch_size: int) -> list[dict]:
    """Collated batches of ``examples`` training examples of the run's task."""
    config = source.config
    spec = get_task(config.task)
    if spec.kind == "generation":
        raise ConfigError(f"{source.path}: post-training pruning reads a task head's loss; "
                          f"{config.task} is a generation task")
    train = task_data.subset(spec.read(config.options.train_split), examples,
                             config.options.subset_seed)
    features = task_data.encode(spec, source.tokenizer, train, config)
    return [collate([features[i] for i in indices], spec.kind, source.tokenizer.pad_id)
            for indices in evaluation_batches([len(f["ids"]) for f in features], batch_size)]


def head_loss(model, batch: dict):
    """The fine-tuned task head's own loss on ``batch`` (what the run was trained on)."""
    return model.head.loss(model(batch), batch)


def dense_bits(model) -> int:
    """Every parameter in fp32 (a structurally pruned model stores nothing sparse)."""
    return FLOAT_BITS * sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())


def _with_encoder(config, **changes):
    encoder = dataclasses.replace(config.model.encoder, **changes)
    return dataclasses.replace(config, model=dataclasses.replace(config.model, encoder=encoder))


def _prune(source: Source, settings: dict, masks_of, remove, field: str) -> Compressed:
    batches = task_batches(source, settings["examples"], settings["batch_size"])
    model = source.model
    keep = masks_of(model, batches, head_loss, settings["fraction"], settings["step"],
                    source.log)
    counts = remove(model, keep)
    return Compressed(model, _with_encoder(source.config, **{field: counts}), dense_bits(model),
                      summary={field: counts})


def _check_heads(settings: dict) -> None:
    check_heads(settings["fraction"], settings["step"])
    _check_data(settings)
    check_retrain(settings)


def _check_neurons(settings: dict) -> None:
    check_neurons(settings["fraction"], settings["step"])
    _check_data(settings)
    check_retrain(settings)


HEADS = Method("heads", "attention-head pruning by gate-gradient importance, iterative, heads "
               "removed for real (Michel et al. 2019)", {"fraction": 0.5, "step": 0.1, **DATA, **RETRAIN},
               lambda source, settings: _prune(source, settings, iterative_head_masks,
                                               remove_heads, "heads_per_layer"),
               _check_heads)
FFN = Method("ffn", "structured pruning of feed-forward neurons by gate-gradient importance, "
             "removed for real (McCarley 2019)", {"fraction": 0.5, "step": 0.1, **DATA, **RETRAIN},
             lambda source, settings: _prune(source, settings, iterative_neuron_masks,
                                             remove_neurons, "ffn_per_layer"),
             _check_neurons)


def _qbert(source: Source, settings: dict) -> Compressed:
    """Ω per encoder layer on the batches, bits by Ω, then group-wise quantization."""
    model = source.model
    layers = list(encoder_of(model).layers)
    batches = task_batches(source, settings["examples"], settings["batch_size"])
    blocks = [[p for p in layer.parameters() if p.dim() == 2] for layer in layers]
    # Hv differentiates the gradient again; fused SDPA has no double backward on CPU,
    # so the attention runs on its reference path (the same function) meanwhile.
    attention = [m for m in model.modules() if hasattr(m, "use_reference")]
    fused = [m.use_reference for m in attention]
    try:
        for module in attention:
            module.use_reference = True
        sensitivities = layer_sensitivities(model, blocks, batches, head_loss,
                                            settings["iterations"], settings["tolerance"],
                                            settings["seed"])
    finally:
        for module, flag in zip(attention, fused):
            module.use_reference = flag
    omegas = [s["omega"] for s in sensitivities]
    bits = assign_bits(omegas, settings["bits"])
    source.log(f"qbert: omega per layer {[f'{o:.4g}' for o in omegas]} -> bits {bits}")
    size = quantize_qbert(model, layers, bits, model.backbone.embedding,
                          settings["embedding_bits"], settings["groups"])
    return Compressed(model, source.config, size,
                      summary={"layer_bits": bits, "omega": omegas,
                               "eigenvalues": [s["eigenvalues"] for s in sensitivities]})


def _check_qbert(settings: dict) -> None:
    check_qbert(settings["bits"], settings["embedding_bits"], settings["groups"])
    if isinstance(settings["iterations"], bool) or not isinstance(settings["iterations"], int) \
            or settings["iterations"] < 1:
        raise ConfigError(f"--set iterations={settings['iterations']!r}: expected an integer >= 1")
    if not isinstance(settings["tolerance"], (int, float)) or settings["tolerance"] < 0:
        raise ConfigError(f"--set tolerance={settings['tolerance']!r}: expected a number >= 0")
    _check_data(settings)


QBERT = Method("qbert", "Q-BERT mixed-precision group-wise quantization, bits by each layer's "
               "top Hessian eigenvalue (Shen et al. 2020)",
               {"bits": [4, 8], "embedding_bits": 8, "groups": 128, "iterations": 20,
                "tolerance": 1e-3, "seed": 0, "examples": 64, "batch_size": 32}, _qbert,
               _check_qbert)
METHODS = (HEADS, FFN, QBERT)
