"""The multimodal runs as :class:`lmlab.training.loop.Job` s (modelled on
:mod:`lmlab.finetune.job`): pre-training with the weighted objectives, and easy-VQA
fine-tuning (Antol et al. 2015's task as classification over the 13 answers, the VQA
head of ViLBERT §3.3 / UNITER §4: an MLP on the pooled output).

Batches are pure functions of the step: epoch ``e`` visits the examples in the order of
a permutation seeded by (seed, e), so resume is exact. Each objective corrupts its own copy
of the batch; the copies ride in one flat dict under ``<objective>.<key>``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lmlab.data.batching import Shard
from lmlab.multimodal.corpus import Corpus
from lmlab.multimodal.visual import cell_features
from lmlab.objectives.base import EVALUATION_SEED, LossOutput


def epoch_rows(count: int, batch_size: int, seed: int, index: int) -> np.ndarray:
    """The example rows of batch ``index``: epoch = index // batches per epoch, each with
    its own seeded permutation; the last batch of an epoch may be short."""
    per_epoch = math.ceil(count / batch_size)
    epoch, position = divmod(index, per_epoch)
    order = np.random.default_rng([seed, epoch]).permutation(count)
    return order[position * batch_size:(position + 1) * batch_size]


def collate(corpus: Corpus, rows: np.ndarray, cell_size: int, step: int,
            blank_images: bool = False, blank_questions: bool = False) -> dict:
    """The model's inputs for ``rows`` of ``corpus``; ``blank_images``: every picture
    replaced by a white one (the question-only baseline); ``blank_questions``: every text
    cut to ``[CLS] [SEP]`` (the image-only baseline)."""
    images = torch.from_numpy(corpus.images[corpus.image_rows[rows]])  # (B, S, S, 3)
    if blank_images:
        images = torch.full_like(images, 255)
    ids = torch.from_numpy(corpus.ids[rows])
    if blank_questions:  # (B, L): keep [CLS], put [SEP] (the row's last token) after it
        last = (ids != 0).sum(1) - 1  # (B,) position of [SEP]
        cls, sep = ids[:, 0].clone(), ids[torch.arange(ids.shape[0]), last]
        ids = torch.zeros_like(ids)
        ids[:, 0], ids[:, 1] = cls, sep
    return {"input_ids": ids, "attention_mask": (ids != 0).long(),
            "features": cell_features(images, cell_size),
            "image_ids": torch.from_numpy(corpus.image_rows[rows]),
            "caption_ids": torch.from_numpy(corpus.caption_ids[rows]),
            "example_ids": torch.from_numpy(rows.astype(np.int64)), "step": step}


def to_device(batch: dict, model: nn.Module) -> dict:
    """Evaluation batches are built on the CPU; move them where the model is."""
    device = next(model.parameters()).device
    if device.type == "cpu":
        return batch
    return {key: value.to(device) if torch.is_tensor(value) else value
            for key, value in batch.items()}


def _view(batch: dict, name: str) -> dict:
    prefix = f"{name}."
    return {key[len(prefix):]: value for key, value in batch.items() if key.startswith(prefix)}


class PretrainJob:
    def __init__(self, model, config, tokenizer, objectives: list, train: Corpus,
                 held_out: Corpus, batch_size: int, seed: int, eval_examples: int = 512):
        self.model, self.config, self.tokenizer = model, config, tokenizer
        self.objectives, self.train, self.held_out = objectives, train, held_out
        self.batch_size, self.seed = batch_size, seed
        self.cell_size = model.backbone.config.visual.cell_size
        self.eval_examples = eval_examples

    def batch(self, index: int, shard: Shard = Shard()) -> dict:
        rows = epoch_rows(len(self.train), self.batch_size, self.seed, index)
        clean = collate(self.train, rows, self.cell_size, index)
        batch = {"input_ids": clean["input_ids"]}  # counted by the loop as tokens
        for objective in self.objectives:
            view = objective.corrupt(dict(clean))
            batch.update({f"{objective.config.name}.{k}": v for k, v in view.items()})
        return shard.rows(batch)

    def loss(self, batch: dict) -> LossOutput:
        total, metrics = 0.0, {}
        for objective in self.objectives:
            output = objective.loss(self.model, _view(batch, objective.config.name))
            total = total + objective.config.weight * output.loss
            metrics.update(output.metrics)
        return LossOutput(total, metrics)

    def evaluate(self) -> dict:
        """Held-out (emoji test + easy-VQA dev) losses of every objective under a fixed
        corruption (step = EVALUATION_SEED), and masked-token / matching accuracy."""
        count = min(self.eval_examples, len(self.held_out))
        rows_all = np.random.default_rng(EVALUATION_SEED).permutation(len(self.held_out))[:count]
        totals: dict[str, float] = {}
        for start in range(0, count, self.batch_size):
            rows = rows_all[start:start + self.batch_size]
            clean = collate(self.held_out, rows, self.cell_size, EVALUATION_SEED)
            for objective in self.objectives:
                view = to_device(objective.corrupt(dict(clean)), self.model)
                output = objective.loss(self.model, view)
                for key, value in output.metrics.items():
                    totals[key] = totals.get(key, 0.0) + value * len(rows)
        return {key: value / count for key, value in totals.items()}

    def on_evaluation(self, step: int, result: dict) -> bool:
        return False

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        return None


class VQAModel(nn.Module):
    """A backbone plus the VQA head: MLP(pooled) -> answer logits (ViLBERT §3.3)."""

    def __init__(self, backbone: nn.Module, num_answers: int):
        super().__init__()
        self.backbone = backbone
        self.config = backbone.config
        hidden = backbone.config.hidden_size
        self.head = nn.Sequential(nn.Linear(hidden, 2 * hidden), nn.GELU(),
                                  nn.LayerNorm(2 * hidden), nn.Linear(2 * hidden, num_answers))

    def forward(self, input_ids, attention_mask, features) -> torch.Tensor:
        return self.head(self.backbone(input_ids, attention_mask, features).pooled)


class VQAJob:
    def __init__(self, model: VQAModel, config, tokenizer, train: Corpus, train_labels,
                 dev: Corpus, dev_labels, answers: list[str], batch_size: int, seed: int,
                 blank_images: bool = False, blank_questions: bool = False):
        self.model, self.config, self.tokenizer = model, config, tokenizer
        self.train, self.dev = train, dev
        self.blank_questions = blank_questions
        self.train_labels = torch.from_numpy(train_labels)
        self.dev_labels = torch.from_numpy(dev_labels)
        self.answers = answers
        self.batch_size, self.seed, self.blank_images = batch_size, seed, blank_images
        self.cell_size = model.backbone.config.visual.cell_size
        self.history: list[dict] = []

    def batch(self, index: int, shard: Shard = Shard()) -> dict:
        rows = epoch_rows(len(self.train), self.batch_size, self.seed, index)
        batch = collate(self.train, rows, self.cell_size, index, self.blank_images,
                        self.blank_questions)
        batch["labels"] = self.train_labels[rows]
        return shard.rows(batch)

    def loss(self, batch: dict) -> LossOutput:
        logits = self.model(batch["input_ids"], batch["attention_mask"], batch["features"])
        loss = F.cross_entropy(logits, batch["labels"])
        return LossOutput(loss, {"vqa_loss": loss.item()})

    @torch.no_grad()
    def predict(self, corpus: Corpus) -> np.ndarray:
        outputs = []
        for start in range(0, len(corpus), 256):
            rows = np.arange(start, min(start + 256, len(corpus)))
            batch = to_device(collate(corpus, rows, self.cell_size, 0, self.blank_images,
                                      self.blank_questions), self.model)
            logits = self.model(batch["input_ids"], batch["attention_mask"], batch["features"])
            outputs.append(logits.argmax(-1).cpu().numpy())
        return np.concatenate(outputs)

    def evaluate(self) -> dict:
        return vqa_scores(self.predict(self.dev), self.dev_labels.numpy(), self.answers)

    def on_evaluation(self, step: int, result: dict) -> bool:
        self.history.append({"step": step, **result})
        return False

    def state_dict(self) -> dict:
        return {"history": self.history}

    def load_state_dict(self, state: dict) -> None:
        self.history = list(state.get("history", []))


def vqa_scores(predicted: np.ndarray, gold: np.ndarray, answers: list[str]) -> dict:
    """Accuracy overall and on yes/no vs other questions (by the gold answer)."""
    yes_no = np.isin(gold, [answers.index("yes"), answers.index("no")])
    correct = predicted == gold
    return {"accuracy": float(correct.mean()),
            "yes_no_accuracy": float(correct[yes_no].mean()) if yes_no.any() else float("nan"),
            "other_accuracy": float(correct[~yes_no].mean()) if (~yes_no).any() else float("nan")}
