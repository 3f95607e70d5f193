"""Counted FLOPs of a training step match the closed form of a transformer MLM step."""

from __future__ import annotations

from lmlab.config import load_config
from lmlab.objectives.mlm import IGNORE
from lmlab.presets import preset_path
from lmlab.training.step_cost import flops_per_step, time_steps, training_parts


def test_mlm_step_flops_match_the_closed_form(tiny_corpus):
    config = load_config(preset_path("roberta/tiny"), [
        f"data.dataset={tiny_corpus}", "data.seq_len=16", "data.batch_size=4"])
    parts = training_parts(config)
    batch = parts.batches.batch(0)
    _, labels = parts.objectives[0].choose(batch)
    masked = int((labels != IGNORE).sum())
    encoder, hidden = config.model.encoder, config.model.embedding.hidden_size
    batch_size, length = batch["input_ids"].shape
    tokens = batch_size * length
    per_layer = tokens * 2 * (4 * hidden * hidden + 2 * hidden * encoder.ffn_size)  # projections, FFN
    per_layer += 2 * 2 * batch_size * length * length * hidden  # QK^T and AV, all heads
    head = masked * 2 * (hidden * hidden + hidden * parts.tokenizer.vocab_size)  # transform, decoder
    forward = encoder.num_layers * per_layer + head
    assert flops_per_step(parts, config) == 3 * forward  # backward = 2 x forward for matmuls
    assert all(p.grad is None for p in parts.model.parameters())  # counting leaves no gradients


def test_time_steps_reports_positive_rates(tiny_corpus):
    config = load_config(preset_path("electra/tiny"), [
        f"data.dataset={tiny_corpus}", "data.seq_len=16", "data.batch_size=2"])
    timing = time_steps(training_parts(config), config, steps=1, warmup=1)
    assert timing["seconds_per_step"] > 0 and timing["tokens_per_s"] > 0
