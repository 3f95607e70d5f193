"""A tiny fine-tuned classifier run for the compression tests: bert/tiny shrunk, random
head, a word tokenizer built from the WNLI dev sentences (so evaluate reads real text)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lmlab.config import load_config
from lmlab.data.tokenizers import TokenizerConfig, train_tokenizer
from lmlab.finetune.config import FinetuneOptions, FinetuneRunConfig
from lmlab.finetune.model import build_finetune_model
from lmlab.presets import preset_path
from lmlab.registry import build_model, build_objectives
from lmlab.training.checkpoint import save_checkpoint

SMALL = ["model.embedding.max_positions=64", "data.seq_len=32"]


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    torch.set_num_threads(1)


def _tokenizer(shared_data: Path):
    rows = (shared_data / "glue" / "WNLI" / "dev.tsv").read_text().splitlines()[1:]
    lines = [" ".join(row.split("\t")[1:3]) for row in rows]
    return train_tokenizer(lines, TokenizerConfig(), "word", None)


@pytest.fixture(scope="session")
def finetuned_run(tmp_path_factory, shared_data) -> Path:
    """glue/wnli fine-tuned run folder (random weights, no training: fast and exact)."""
    config = load_config(preset_path("bert/tiny"), SMALL)
    tokenizer = _tokenizer(shared_data)
    backbone = build_model(config.model, tokenizer.vocab_size, seed=0)
    options = FinetuneOptions(max_seq_len=32, max_unk_rate=1.0)
    model = build_finetune_model(backbone, "classification", 2, options)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():  # every weight random and non-zero-centred: pruning has work to do
        for parameter in model.parameters():
            parameter.add_(torch.randn(parameter.shape, generator=generator) * 0.05)
    run_config = FinetuneRunConfig(task="glue/wnli", kind="classification", base="random",
                                   labels=["0", "1"], model=config.model, options=options)
    folder = tmp_path_factory.mktemp("wnli-tiny")
    save_checkpoint(folder, model, run_config, tokenizer, {})
    return folder


@pytest.fixture(scope="session")
def pretraining_run(tmp_path_factory, shared_data) -> Path:
    config = load_config(preset_path("bert/tiny"), SMALL)
    tokenizer = _tokenizer(shared_data)
    model = build_model(config.model, tokenizer.vocab_size, seed=0,
                        objectives=build_objectives(config.objectives, tokenizer))
    folder = tmp_path_factory.mktemp("bert-tiny-lm")
    save_checkpoint(folder, model, config, tokenizer, {})
    return folder
