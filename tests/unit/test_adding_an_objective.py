"""The objective protocol is enough: a new objective is one class (+ its config) and one
registry line, and the loop trains, evaluates, checkpoints and resumes it with no other
change. The example is the one in README "Adding an objective": uniform replaced-token
detection (ELECTRA's discriminator task with uniform replacements, no generator)."""

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

from lmlab import registry
from lmlab.config import load_config, load_raw
from lmlab.objectives.base import (ConfigDefaults, LossOutput, StatelessObjective, row_generator,
                                   shared_forward)
from lmlab.presets import preset_path
from lmlab.training import checkpoint as ckpt
from lmlab.training.trainer import train

sys.path.insert(0, str(Path(__file__).parents[1] / "training"))
from helpers import tiny_overrides  # noqa: E402


@dataclass
class UniformRTDConfig(ConfigDefaults):
    name: Literal["uniform_rtd"] = "uniform_rtd"
    weight: float = 1.0
    replace_rate: float = 0.15

    def validate(self, path: str) -> None:
        assert 0 < self.replace_rate < 1, path

    def check_compatible(self, run_config, path: str) -> None:
        return None


class UniformRTDObjective(StatelessObjective):
    evaluation_kind = "accuracy"

    def __init__(self, config, tokenizer, seed=0):
        super().__init__(config, tokenizer, seed)
        self.low, self.high = tokenizer.num_special, tokenizer.vocab_size

    def heads(self, model_config, embedding):
        return {self.config.name: nn.Linear(model_config.embedding.hidden_size, 1)}

    def corrupt(self, batch):
        ids, rows = batch["input_ids"].clone(), []
        for row, example in enumerate(batch.get("example_ids", torch.arange(len(ids))).tolist()):
            generator = row_generator(self.seed, batch.get("step", 0), example, 11)
            chosen = torch.rand(ids.shape[1], generator=generator) < self.config.replace_rate
            ids[row, chosen] = torch.randint(self.low, self.high, (int(chosen.sum()),),
                                             generator=generator)
            rows.append(ids[row] != batch["input_ids"][row])
        return {**batch, "input_ids": ids, "replaced": torch.stack(rows).float()}

    def loss(self, model, batch):
        scores = model.heads[self.config.name](shared_forward(model, batch).hidden).squeeze(-1)
        loss = F.binary_cross_entropy_with_logits(scores, batch["replaced"])
        correct = ((scores > 0).float() == batch["replaced"]).float()
        return LossOutput(loss, {"loss": loss.item(), "accuracy": correct.mean().item(),
                                 "correct": correct.sum().item(), "count": correct.numel()})

    def evaluation_batches(self, model, ids, settings):
        block = settings.seq_len
        for first in range(0, min(len(ids), settings.max_tokens or len(ids)) - block, block * 4):
            rows = [torch.as_tensor(ids[s: s + block].astype("int64"))
                    for s in range(first, first + block * 4, block) if s + block <= len(ids)]
            yield {"input_ids": torch.stack(rows), "step": 0}

    def evaluate(self, model, batch):
        metrics = self.loss(model, self.corrupt(batch)).metrics
        return {"correct": metrics["correct"], "count": metrics["count"]}

    def summarize(self, totals):
        return {"accuracy": totals["correct"] / totals["count"], "kind": "accuracy"}


def _config(tiny_corpus, steps, every=2):
    raw = load_raw(preset_path("bert/tiny"))
    raw["objectives"] = [{"name": "uniform_rtd", "replace_rate": 0.2}]
    raw["data"]["batching"] = "blocks"
    return load_config(raw=raw, overrides=tiny_overrides("bert/tiny", tiny_corpus, steps, every))


def test_a_new_objective_is_one_class_and_one_registry_line(tiny_corpus, tmp_path, monkeypatch):
    monkeypatch.setitem(registry.OBJECTIVES, "uniform_rtd", (UniformRTDConfig, UniformRTDObjective))
    result = train(_config(tiny_corpus, 4), tmp_path / "full", log=lambda *_: None)
    assert result.steps == 4 and 0.0 <= result.valid["accuracy"] <= 1.0
    weights = load_file(tmp_path / "full" / "checkpoint" / "model.safetensors")
    assert weights["heads.uniform_rtd.weight"].shape == (1, 128)
    records = [json.loads(line) for line in (tmp_path / "full" / "metrics.jsonl").open()]
    assert [r["step"] for r in records if "eval_accuracy" in r] == [2, 4]
    assert all("uniform_rtd_accuracy" in r for r in records if "loss" in r)
    # ... and resumes exactly, like every built-in objective: stop after step 2's checkpoint.
    real_save = ckpt.save_checkpoint

    def save_then_stop(run_dir, model, config, tokenizer, state):
        real_save(run_dir, model, config, tokenizer, state)
        if state["step"] == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(ckpt, "save_checkpoint", save_then_stop)
    with pytest.raises(KeyboardInterrupt):
        train(_config(tiny_corpus, 4), tmp_path / "cut", log=lambda *_: None)
    monkeypatch.setattr(ckpt, "save_checkpoint", real_save)
    train(None, tmp_path / "cut", resume=True, log=lambda *_: None)
    resumed = load_file(tmp_path / "cut" / "checkpoint" / "model.safetensors")
    assert all(torch.equal(weights[key], resumed[key]) for key in weights)
