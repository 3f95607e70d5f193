"""Fine-tuning after a post-training compression (``--set finetune_epochs=E``, the settings
:data:`~lmlab.compression.method.RETRAIN`): the
compressed model trains on its task again by the one training loop, model selection on
dev, as Gordon et al. 2020 (§3) do after magnitude pruning and Michel et al. 2019 (§5)
after head pruning. A magnitude run's pruned weights stay 0 throughout
(:func:`~lmlab.compression.pruning.magnitude.keep_pruned` on its masks).
"""

from __future__ import annotations

import dataclasses

from lmlab.compression.method import Compressed, Source
from lmlab.compression.pruning.magnitude import MASKS_FILE, keep_pruned
from lmlab.finetune.distill import run_options, task_features, train_stage


def retrain(source: Source, result: Compressed, settings: dict) -> Compressed:
    """``result`` fine-tuned for ``finetune_epochs`` (unchanged when 0)."""
    if not settings.get("finetune_epochs"):
        return result
    plan = {"lr": settings["finetune_lr"], "batch_size": 32, "seed": 0,
            "max_train_examples": int(settings["finetune_examples"]), "evals_per_epoch": 2}
    config = dataclasses.replace(result.config, options=run_options(result.config, plan))
    data = task_features(source, config, plan["max_train_examples"])
    masks = result.files.get(MASKS_FILE, {})
    hooks = keep_pruned(result.model, {name: mask.bool() for name, mask in masks.items()})
    try:
        stage = train_stage("finetune", result.model, config, source, data, None,
                            settings["finetune_epochs"], plan)
    finally:
        for hook in hooks:
            hook.remove()
    result.model.cpu()
    return dataclasses.replace(result, config=config,
                               summary={**result.summary, "finetune": stage})
