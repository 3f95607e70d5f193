"""Smoke runs and resume exactness for the neural-LM presets and the softmax options."""

import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

sys.path.insert(0, str(Path(__file__).parents[1] / "training"))
from helpers import tiny_overrides  # noqa: E402

from lmlab.config import load_config
from lmlab.presets import preset_path
from lmlab.recipes.evaluate import perplexity_of_run
from lmlab.training import checkpoint as ckpt
from lmlab.training.trainer import train

SMALL = ["data.seq_len=8", "data.batch_size=4", "model.embedding.hidden_size=16"]
CASES = {
    "nnlm/ptb": [],
    "rnnlm/ptb": [],
    "attention_rnn/ptb": ["model.encoder.span=12"],
    "gpt/tiny+nce": ["objectives.0.output={kind: nce, samples: 16}",
                     "model.embedding.max_positions=64"],
    "lstm/small+adaptive_importance": ["objectives.0.output={kind: adaptive_importance, samples: 16}"],
    "lstm/small+hierarchical": ["objectives.0.output={kind: hierarchical}"],
    "gpt/tiny+class": ["objectives.0.output={kind: class}", "model.lm_head.tie_weights=false",
                       "model.embedding.max_positions=64"],
}


def _config(case, corpus, steps, every):
    preset = case.split("+")[0]
    overrides = tiny_overrides(preset, corpus, steps, every) + SMALL + CASES[case]
    return load_config(preset_path(preset), overrides)


class _Interrupted(Exception):
    pass


@pytest.mark.parametrize("case", sorted(CASES))
def test_trains_resumes_exactly_and_evaluates(case, tiny_corpus, tmp_path, monkeypatch):
    steps = 6
    full = train(_config(case, tiny_corpus, steps, 2), tmp_path / "full", log=lambda *_: None)
    assert full.steps == steps and full.valid["perplexity"] > 1

    real_save = ckpt.save_checkpoint

    def save_then_die(run_dir, model, config, tokenizer, state):
        real_save(run_dir, model, config, tokenizer, state)
        if state["step"] == steps // 2 + 1:
            raise _Interrupted

    monkeypatch.setattr(ckpt, "save_checkpoint", save_then_die)
    with pytest.raises(_Interrupted):
        train(_config(case, tiny_corpus, steps, 2), tmp_path / "cut", log=lambda *_: None)
    monkeypatch.setattr(ckpt, "save_checkpoint", real_save)
    train(None, tmp_path / "cut", resume=True, log=lambda *_: None)
    a = load_file(str(tmp_path / "full" / "checkpoint" / "model.safetensors"))
    b = load_file(str(tmp_path / "cut" / "checkpoint" / "model.safetensors"))
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key

    # Evaluation from the run folder uses the exact distribution of the saved model.
    scored = perplexity_of_run(str(tmp_path / "full"), None, "valid", max_tokens=200)
    assert 1 < scored["perplexity"] < 1e6
