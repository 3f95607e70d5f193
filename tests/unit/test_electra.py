"""ELECTRA replaced-token detection (Clark et al. 2020)."""

import torch

from lmlab.config import load_config
from lmlab.data.batching import IGNORE
from lmlab.objectives.electra import ElectraObjective
from lmlab.presets import preset_path
from lmlab.registry import build_model, build_objectives


class _Tok:
    mask_id, num_special, vocab_size, cls_id, sep_id, pad_id = 5, 6, 40, 3, 4, 0


def _setup():
    config = load_config(preset_path("electra/tiny"))
    (objective,) = build_objectives(config.objectives, _Tok())
    model = build_model(config.model, vocab_size=40, seed=0, objectives=[objective])
    ids = torch.randint(6, 40, (3, 20))
    ids[:, 0], ids[:, -1] = 3, 4
    return config, model, objective, {"input_ids": ids, "example_ids": torch.arange(3), "step": 0}


def test_generator_shares_the_token_embedding_and_is_a_quarter_wide():
    config, model, _, _ = _setup()
    modules = model.heads["rtd"]
    assert modules.generator_head.decoder.weight is model.embedding.tokens.weight
    assert modules.generator_in.out_features == 32  # 128 / 4
    assert modules.generator.layers[0].ffn.up.out_features == 128  # 512 / 4


def test_discriminator_labels_mark_exactly_the_replaced_positions(monkeypatch):
    config, model, objective, batch = _setup()
    captured = {}
    real_discriminate = model.heads["rtd"].discriminate

    def spy(hidden):
        captured["hidden"] = hidden
        return real_discriminate(hidden)

    monkeypatch.setattr(model.heads["rtd"], "discriminate", spy)
    import torch.nn.functional as F
    real_bce = F.binary_cross_entropy_with_logits
    monkeypatch.setattr(F, "binary_cross_entropy_with_logits",
                        lambda scores, targets: captured.setdefault("targets", targets) is not None
                        and real_bce(scores, targets))
    real_forward = type(model).forward

    def record_inputs(self, ids, *args, **kwargs):
        captured.setdefault("inputs", []).append(ids.clone())
        return real_forward(self, ids, *args, **kwargs)

    monkeypatch.setattr(type(model), "forward", record_inputs)
    output = objective.loss(model, objective.corrupt(batch))
    replaced_input = captured["inputs"][-1]  # what the discriminator saw
    expected = (replaced_input != batch["input_ids"]).float().flatten()
    assert torch.equal(captured["targets"], expected)
    corrupted, labels = objective.masker.choose(batch)
    chosen = labels != -100
    assert torch.equal(replaced_input[~chosen], batch["input_ids"][~chosen])  # only chosen change
    assert output.loss.requires_grad


def test_a_generator_that_samples_the_original_gives_label_original(monkeypatch):
    config, model, objective, batch = _setup()
    import lmlab.objectives.electra as electra

    corrupted = objective.corrupt(batch)
    chosen = corrupted["rtd_labels"] != IGNORE

    def sample_originals(logits, uniform):
        return batch["input_ids"][chosen]

    monkeypatch.setattr(electra, "_sample_rows", sample_originals)
    output = objective.loss(model, corrupted)
    assert output.metrics["replaced_fraction"] == 0.0


def test_factorised_embedding_is_refused_before_training():
    import pytest

    from lmlab.errors import ConfigError

    with pytest.raises(ConfigError, match=r"objectives\[0\]: rtd with a factorised embedding"):
        load_config(preset_path("electra/tiny"), ["model.embedding.embedding_size=64",
                                                  "model.lm_head.transform=true"])


def test_sampled_replacements_follow_the_generator_distribution():
    from lmlab.objectives.electra import _sample_rows, _sampling_uniforms
    probabilities = torch.tensor([[0.5, 0.3, 0.2, 0.0], [0.0, 0.0, 0.1, 0.9]])
    logits = probabilities.log().repeat(50_000, 1)  # (100000, 4): rows alternate the two laws
    chosen = torch.ones(1000, 100, dtype=torch.bool)  # 1000 examples x 100 positions
    samples = _sample_rows(logits, _sampling_uniforms(chosen, {"step": 3}, seed=1))
    for law, drawn in ((probabilities[0], samples[0::2]), (probabilities[1], samples[1::2])):
        observed = torch.bincount(drawn, minlength=4).float() / len(drawn)
        assert torch.allclose(observed, law, atol=0.01)  # 0.01 is > 4.5 standard errors
        assert not bool((law[drawn] == 0).any())  # never a zero-probability token
    again = _sample_rows(logits, _sampling_uniforms(chosen, {"step": 3}, seed=1))
    assert torch.equal(samples, again)  # seeded per (seed, step, example): resume is exact
    assert not torch.equal(samples, _sample_rows(logits, _sampling_uniforms(chosen, {"step": 4}, 1)))
