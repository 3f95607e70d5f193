"""SenseBERT's supersense accuracy on held-out text (Levine et al. 2020, §3; issue 21).

The words the run's MLM masks in its fixed held-out masking (static, seed
``EVALUATION_SEED``) are classified by the run's supersense head; a word counts when its
top supersense is in its allowed set A(w) (words with an empty A(w) are left out). Beside
it, the context-free prior: always answer the one supersense allowed most often among
those words.
"""

from __future__ import annotations

import torch

from lmlab.data.batching import IGNORE
from lmlab.data.lm_data import token_store
from lmlab.errors import ConfigError
from lmlab.objectives.base import EvaluationSettings
from lmlab.registry import build_objectives
from lmlab.training.checkpoint import load_run


def supersense_accuracy_of_run(run: str, split: str = "valid", max_tokens: int = 20000,
                               batch_size: int = 16) -> dict:
    """{"accuracy", "prior_accuracy", "words", ...} of ``run`` on ``split`` of its data."""
    config, tokenizer, model = load_run(run)
    objectives = {o.config.name: o for o in build_objectives(config.objectives, tokenizer,
                                                             config.train.seed)}
    if "supersense" not in objectives or "mlm" not in objectives:
        raise ConfigError(f"{run}: not a SenseBERT run (needs the mlm and supersense "
                          f"objectives; it has {sorted(objectives)})")
    mlm, sense = objectives["mlm"], objectives["supersense"]
    store = token_store(config.data, tokenizer, split)
    settings = EvaluationSettings(seq_len=config.data.seq_len, batch_size=batch_size,
                                  max_tokens=max_tokens)
    correct, words = 0, 0
    allowed_counts = torch.zeros(sense.allowed.shape[1])  # (45,)
    with torch.no_grad():
        for batch in mlm.evaluation_batches(model, store.ids, settings):
            labels = batch["masked_labels"]
            chosen = labels != IGNORE  # (B, T)
            allowed = sense.allowed[labels[chosen]]  # (N, 45)
            keep = allowed.any(dim=-1)  # (N,)
            hidden = model(batch["masked_ids"]).hidden[chosen][keep]  # (N', H)
            top = model.heads["supersense"](hidden).argmax(dim=-1)  # (N',)
            correct += int(allowed[keep].gather(1, top[:, None]).sum())
            words += int(keep.sum())
            allowed_counts += allowed[keep].sum(dim=0).float()
    if words == 0:
        raise ConfigError(f"{run}: no masked word of {split} has a WordNet supersense")
    return {"run": str(run), "split": split, "words": words, "accuracy": correct / words,
            "prior_accuracy": float(allowed_counts.max()) / words}
