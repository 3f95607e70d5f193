"""The weighted sum of a run's objectives on one batch (DESIGN §1).

Every objective corrupts the batch in turn (:meth:`Objective.corrupt`, :func:`corrupted`),
on the CPU as data preparation, before the batch moves to the model's device (so a run's
masks and samples are the same on every device); then each computes its loss. Objectives that read the same encoder pass share it through
:func:`lmlab.objectives.base.shared_forward` — the way BERT computes MLM and NSP from one
forward pass; those that need their own (a recurrent CLM carrying state, ELECTRA's
generator and discriminator) run the model themselves.
"""

from __future__ import annotations

from lmlab.objectives.base import LossOutput


def corrupted(objectives, batch: dict) -> dict:
    """The batch after each objective's corruption, in order."""
    for objective in objectives:
        batch = objective.corrupt(batch)
    return batch


def combined_loss(model, objectives, batch: dict) -> LossOutput:
    """(weighted loss tensor, metrics dict with objective-name prefixes) of a batch that
    :func:`corrupted` has prepared."""
    total, metrics = 0.0, {}
    for objective in objectives:
        output = objective.loss(model, batch)
        total = total + objective.config.weight * output.loss
        metrics.update({f"{objective.config.name}_{key}": value
                        for key, value in output.metrics.items()})
    return LossOutput(total, metrics)
