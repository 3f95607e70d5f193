"""The held-out evaluation each objective gets (DESIGN §5): UniLM is scored by its
bidirectional cloze, exactly BERT's masked-token perplexity, never by next-token loss."""

import dataclasses

import pytest
from helpers import tiny_config

from lmlab.data.lm_data import prepare_tokenizer, token_store
from lmlab.evaluation.perplexity import evaluate_perplexity, masked_perplexity
from lmlab.objectives.mlm import MaskedLMConfig
from lmlab.registry import build_model


def _model_and_ids(config):
    tokenizer = prepare_tokenizer(config.data)
    model = build_model(config.model, tokenizer.vocab_size, seed=0, objectives=config.objectives)
    return model.eval(), tokenizer, token_store(config.data, tokenizer, "valid").ids


def test_unilm_is_scored_by_its_bidirectional_cloze(tiny_corpus):
    config = tiny_config("unilm/tiny", tiny_corpus)
    config.objectives[0].mask_rate = 0.25
    model, tokenizer, ids = _model_and_ids(config)
    got = evaluate_perplexity(model, config, tokenizer, ids, max_tokens=300)
    want = masked_perplexity(model, ids, config.data.seq_len, tokenizer,
                             MaskedLMConfig(mask_rate=0.25), config.data.eval_batch_size,
                             max_blocks=300 // (config.data.seq_len - 2))
    assert got["kind"] == "masked"
    assert got["loss"] == want["loss"] and got["tokens"] == want["tokens"] > 0


def test_an_objective_without_a_perplexity_is_refused(tiny_corpus):
    config = tiny_config("bert/tiny", tiny_corpus)
    model, tokenizer, ids = _model_and_ids(config)
    config.objectives = [dataclasses.replace(config.objectives[1])]  # nsp alone
    with pytest.raises(ValueError, match="'nsp'"):
        evaluate_perplexity(model, config, tokenizer, ids, max_tokens=300)
