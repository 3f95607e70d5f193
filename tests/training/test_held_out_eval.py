"""The held-out evaluation each objective gets (DESIGN §5): UniLM is scored by its
bidirectional cloze, exactly BERT's masked-token perplexity, never by next-token loss; a
causal LM's windows score every token exactly once."""

import dataclasses
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import tiny_config

from lmlab.data.lm_data import prepare_tokenizer, token_store
from lmlab.errors import ConfigError
from lmlab.evaluation.perplexity import evaluate_perplexity
from lmlab.objectives.base import EVALUATION_SEED, EvaluationSettings
from lmlab.objectives.held_out import evaluate_held_out
from lmlab.objectives.mlm import MaskedLMConfig, MaskedLMObjective
from lmlab.registry import build_model, build_objectives


def _model_and_ids(config):
    tokenizer = prepare_tokenizer(config.data)
    objectives = build_objectives(config.objectives, tokenizer)
    model = build_model(config.model, tokenizer.vocab_size, seed=0, objectives=objectives)
    return model.eval(), tokenizer, token_store(config.data, tokenizer, "valid").ids


def test_unilm_is_scored_by_its_bidirectional_cloze(tiny_corpus):
    config = tiny_config("unilm/tiny", tiny_corpus)
    config.objectives[0].mask_rate = 0.25
    model, tokenizer, ids = _model_and_ids(config)
    got = evaluate_perplexity(model, config, tokenizer, ids, max_tokens=300)
    cloze = MaskedLMObjective(MaskedLMConfig(mask_rate=0.25), tokenizer, EVALUATION_SEED)
    want = evaluate_held_out(model, [cloze], ids, EvaluationSettings(
        config.data.seq_len, config.data.eval_batch_size, max_tokens=300))
    assert got["kind"] == "masked"
    assert got["loss"] == want["loss"] and got["tokens"] == want["tokens"] > 0


def test_an_objective_without_a_perplexity_is_refused(tiny_corpus):
    config = tiny_config("bert/tiny", tiny_corpus)
    model, tokenizer, ids = _model_and_ids(config)
    config.objectives = [dataclasses.replace(config.objectives[1])]  # nsp alone
    with pytest.raises(ConfigError, match="'nsp'"):
        evaluate_perplexity(model, config, tokenizer, ids, max_tokens=300)


@pytest.mark.parametrize("stride", [3, 8])
def test_causal_windows_score_every_token_once(tiny_corpus, stride):
    config = tiny_config("gpt/tiny", tiny_corpus)
    config.data.seq_len = 8
    model, tokenizer, ids = _model_and_ids(config)
    ids = ids[:45]  # 44 predictable tokens: full windows and a shorter last one
    got = evaluate_perplexity(model, config, tokenizer, ids, stride=stride)
    # By hand: token t (1..44) scored once, by the window that first reaches it.
    stream = torch.tensor(np.asarray(ids), dtype=torch.long)
    total, scored, start = 0.0, 0, 0
    while scored < 44:
        window = stream[start: min(start + 9, 45)]
        with torch.no_grad():
            logits = model.lm_head(model(window[None, :-1]).hidden)[0]
        nll = F.cross_entropy(logits, window[1:], reduction="none")
        first_new = scored - start  # labels before it were scored by an earlier window
        total += nll[first_new:].sum().item()
        scored = start + len(window) - 1
        start += stride
    assert got["tokens"] == 44
    assert math.isclose(got["loss"], total / 44, rel_tol=1e-6)
