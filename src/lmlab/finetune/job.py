"""One fine-tuning seed as a :class:`lmlab.training.loop.Job`: the task head's loss on
length-sorted batches, dev-set evaluation, and model selection on the dev score.

BERT's recipe (Devlin et al. 2019, §4 and A.3): AdamW with linear warmup and decay, a few
epochs, model selection on dev. The best weights so far are written atomically to
``<seed folder>/best`` whenever the dev score improves, and the best score, the patience
count and the evaluation history are part of the trainer state, so a killed run resumes
exactly, model selection included.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch

from lmlab.data.batching import Shard
from lmlab.evaluation.metrics import compute, headline
from lmlab.finetune import task_data
from lmlab.finetune.batching import evaluation_batches, training_batches
from lmlab.finetune.features import collate
from lmlab.finetune.generate import generate_features
from lmlab.finetune.seq2seq_features import collate_seq2seq
from lmlab.objectives.base import LossOutput
from lmlab.training.checkpoint import save_checkpoint

BEST = "best"
"""The seed folder's sub-folder holding the best weights by dev score."""


@torch.no_grad()
def predict_features(model, features: list[dict], kind: str, batch_size: int, pad_id: int) -> list:
    """Head predictions for every feature, in the features' order."""
    model.eval()
    device = next(model.parameters()).device
    outputs: list = [None] * len(features)
    for indices in evaluation_batches([len(f["ids"]) for f in features], batch_size):
        batch = collate([features[i] for i in indices], kind, pad_id)
        batch = {k: v.to(device) if torch.is_tensor(v) else v for k, v in batch.items()}
        for index, prediction in zip(indices, model.head.predict(model(batch), batch)):
            outputs[index] = prediction
    return outputs


def predict(model, kind: str, features: list[dict], config, tokenizer) -> list:
    """Head predictions, or generated texts (generation), for every feature."""
    if kind == "generation":
        return generate_features(model.backbone, features, config, tokenizer)
    return predict_features(model, features, kind, config.options.eval_batch_size,
                            tokenizer.pad_id)


def score(model, spec, examples, features, config, tokenizer) -> tuple[dict, list]:
    """The task metric of ``model`` on ``examples`` (``config``: a FinetuneRunConfig)."""
    raw = predict(model, spec.kind, features, config, tokenizer)
    predictions = task_data.decode(spec, examples, features, raw, config.labels, config.options)
    return compute(spec.metric, predictions, task_data.golds(spec, examples)), predictions


class FinetuneJob:
    def __init__(self, model, config, tokenizer, spec, train_features: list[dict], dev,
                 seed: int, folder: Path, log, objective=None):
        """``objective(model, batch) -> LossOutput`` replaces the head's own loss (a
        distillation loss that reads a teacher, lmlab.compression.distillation)."""
        self.model, self.config, self.tokenizer = model, config, tokenizer
        self.objective = objective
        self.spec, self.options, self.labels = spec, config.options, config.labels
        self.train_features, self.dev, self.seed, self.folder = train_features, dev, seed, folder
        self.log = log
        self.lengths = [len(f["ids"]) for f in train_features]
        self.per_epoch = math.ceil(len(train_features) / self.options.batch_size)
        self._epoch, self._order = -1, None
        self.best, self.waited, self.history = None, 0, []
        self.started, self.last_loss = time.perf_counter(), float("nan")

    def batch(self, index: int, shard: Shard = Shard()) -> dict:
        """``shard``'s rows of batch ``index``: epoch ``index // per_epoch`` has its own
        seeded order."""
        epoch, position = divmod(index, self.per_epoch)
        if epoch != self._epoch:
            self._order = training_batches(self.lengths, self.options.batch_size,
                                           self.seed + 1000 * epoch)
            self._epoch = epoch
        chosen = [self.train_features[i] for i in self._order[position]]
        if self.spec.kind == "generation":  # UniLM's target masks: seeded by the batch
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + index)
            return shard.rows(collate_seq2seq(chosen, self.config.generation_mode,
                                              self.tokenizer, self.options.target_mask_rate,
                                              generator))
        return shard.rows(collate(chosen, self.spec.kind, self.tokenizer.pad_id))

    def loss(self, batch: dict) -> LossOutput:
        if self.objective is not None:
            out = self.objective(self.model, batch)
        else:
            out = LossOutput(self.model.head.loss(self.model(batch), batch), {})
        self.last_loss = out.loss.item()
        return out

    def evaluate(self) -> dict:
        scores, _ = score(self.model, self.spec, *self.dev, self.config, self.tokenizer)
        return scores

    def on_evaluation(self, step: int, result: dict) -> bool:
        """Keep the best weights by dev score; True once ``patience`` evaluations passed
        without a better one (early stopping)."""
        self.history.append({"step": step, "epoch": round(step / self.per_epoch, 2),
                             "loss": round(self.last_loss, 4), **result,
                             "seconds": round(time.perf_counter() - self.started, 1)})
        self.log(f"seed {self.seed} step {step} loss {self.last_loss:.4f} dev {result}")
        if self.best is None or headline(result) > headline(self.best):
            self.best, self.waited = result, 0
            save_checkpoint(self.folder / BEST, self.model, self.config, self.tokenizer,
                            {"step": step, "dev": result})
            return False
        self.waited += 1
        return bool(self.options.patience) and self.waited >= self.options.patience

    def state_dict(self) -> dict:
        state = {"best": self.best, "waited": self.waited, "history": self.history}
        if hasattr(self.objective, "state_dict"):  # e.g. Theseus' step count
            state["objective"] = self.objective.state_dict()
        return state

    def load_state_dict(self, state: dict) -> None:
        self.best, self.waited = state.get("best"), state.get("waited", 0)
        self.history = list(state.get("history", []))
        if hasattr(self.objective, "load_state_dict") and "objective" in state:
            self.objective.load_state_dict(state["objective"])
