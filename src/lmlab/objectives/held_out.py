"""A run's held-out measure: its first objective that defines one (DESIGN §5).

Causal LMs give token-level perplexity, masked LMs masked-token perplexity on fixed
static masks, ELECTRA its generator's masked-token perplexity and the discriminator's
accuracy (see each objective's ``evaluate``). Auxiliary objectives (NSP, SOP, SBO, WSO)
leave the measure to the objective they accompany.
"""

from __future__ import annotations

import numpy as np
import torch

from lmlab.errors import ConfigError
from lmlab.objectives.base import EvaluationSettings


def measuring_objective(objectives: list):
    """The first objective with a held-out measure; a run with none is refused by name."""
    for objective in objectives:
        if objective.evaluation_kind is not None:
            return objective
    names = [objective.config.name for objective in objectives]
    raise ConfigError(f"objectives {names}: none defines a held-out measure (perplexity); "
                      f"add clm, mlm, unilm or rtd")


@torch.no_grad()
def evaluate_held_out(model, objectives: list, ids: np.ndarray,
                      settings: EvaluationSettings) -> dict:
    """Sum the measuring objective's statistics over its evaluation batches of ``ids``."""
    objective = measuring_objective(objectives)
    model.eval()
    device = next(model.parameters()).device
    totals: dict = {}
    for batch in objective.evaluation_batches(model, ids, settings):
        if device.type != "cpu":
            batch = {key: value.to(device) if torch.is_tensor(value) else value
                     for key, value in batch.items()}
        for key, value in objective.evaluate(model, batch).items():
            totals[key] = totals.get(key, 0) + value
    return objective.summarize(totals)
