"""The parts of a pre-training run built from its config: model (with the objectives'
heads), objectives, the train token store and its batch source. One builder for the
training loop and for what measures a step of it (:mod:`lmlab.training.step_cost`), so
both see the same model, masking units and batches."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from lmlab.config import RunConfig
from lmlab.data.batching import BlockBatches, StreamBatches
from lmlab.data.lm_data import token_languages, token_store, unit_marks
from lmlab.data.pairs import PAIR_TASKS, PairBatches
from lmlab.data.tokenizers import TextTokenizer
from lmlab.errors import ConfigError
from lmlab.registry import build_model, build_objectives


@dataclass
class TrainingParts:
    tokenizer: TextTokenizer
    model: torch.nn.Module
    objectives: list
    train_store: object
    batches: object


def tokenizer_vocabulary(tokenizer: TextTokenizer) -> list[str]:
    """The tokenizer's tokens in id order (what a char-CNN embedding spells)."""
    return [tokenizer.id_to_token(index) or "" for index in range(tokenizer.vocab_size)]


def run_languages(config: RunConfig, split: str, store):
    """(N,) language ids of ``store``'s tokens when the model has XLM language embeddings
    (``model.embedding.num_languages`` > 0) and reads a mix (``data.dataset: mix``), so its
    MLM/CLM batches carry them (Lample & Conneau 2019, §3.1); else None."""
    count = getattr(config.model.embedding, "num_languages", 0)
    if not count or config.data.dataset != "mix":
        return None
    for i, corpus in enumerate(config.data.datasets):
        if corpus.language >= count:
            raise ConfigError(f"data.datasets.{i}.language: language id {corpus.language} "
                              f"is not in the config (model.embedding.num_languages={count})")
    return token_languages(config.data, split, store)


def make_batches(config: RunConfig, store, tokenizer: TextTokenizer, causal: bool,
                 marks=None, languages=None):
    data = config.data
    if data.batching == "pairs":
        # A run with no pair objective (XLNet's two segments, Yang et al. 2019 §3.1: B
        # follows A or comes from elsewhere) pairs as NSP does and reads no pair label.
        task = next((o.name for o in config.objectives if o.name in PAIR_TASKS), "nsp")
        return PairBatches(store, data.batch_size, data.seq_len, config.train.seed, task,
                           tokenizer.cls_id, tokenizer.sep_id, tokenizer.pad_id, marks)
    if data.batching == "stream":
        return StreamBatches(store.ids, data.batch_size, data.seq_len)
    return BlockBatches(store.ids, data.batch_size, data.seq_len, config.train.seed, causal,
                        tokenizer.cls_id, tokenizer.sep_id, marks, languages)


def build_parts(config: RunConfig, tokenizer: TextTokenizer) -> TrainingParts:
    seed = config.train.seed
    objectives = build_objectives(config.objectives, tokenizer, seed)
    model = build_model(config.model, tokenizer.vocab_size, seed=seed, objectives=objectives,
                        vocabulary=tokenizer_vocabulary(tokenizer))
    store = token_store(config.data, tokenizer, "train")
    for objective in objectives:  # train-split statistics, e.g. unigram counts
        objective.prepare(model, store.ids)
    causal = all(objective.causal for objective in objectives)
    # Text-derived masking units (jieba words, ERNIE spans): built once beside the store.
    marks = unit_marks(config.data, config.objectives, tokenizer, "train", store)
    return TrainingParts(tokenizer, model, objectives, store,
                         make_batches(config, store, tokenizer, causal, marks,
                                      run_languages(config, "train", store)))
