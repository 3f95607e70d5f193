"""The weighted sum of a run's objectives on one batch (DESIGN §1).

When every objective splits into ``prepare_inputs`` (its corruption) and ``loss`` (from
the encoder output), the corruptions are applied in order and the model runs once — the
way BERT computes MLM and NSP from one forward pass. Otherwise (e.g. a recurrent CLM that
carries state) each objective runs the model itself.
"""

from __future__ import annotations


def _shares_forward(objectives) -> bool:
    return len(objectives) > 1 and all(hasattr(o, "prepare_inputs") and hasattr(o, "loss")
                                       for o in objectives)


def combined_loss(model, objectives, objective_configs, batch: dict):
    """(weighted loss tensor, metrics dict with objective-name prefixes)."""
    if _shares_forward(objectives):
        for objective in objectives:
            batch = objective.prepare_inputs(batch)
        output = model(batch["input_ids"], batch.get("attention_mask"), batch.get("segments"))
        outputs = [objective.loss(model, batch, output) for objective in objectives]
    else:
        outputs = [objective(model, batch) for objective in objectives]
    total, metrics = 0.0, {}
    for output, config in zip(outputs, objective_configs):
        total = total + config.weight * output.loss
        metrics.update({f"{config.name}_{key}": value for key, value in output.metrics.items()})
    return total, metrics
