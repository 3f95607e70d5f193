"""ALBERT parts (Lan et al. 2020): factorised embedding and cross-layer sharing."""

import pytest
import torch

from lmlab.config import load_config
from lmlab.interop.hf import albert_to_lmlab
from lmlab.presets import preset_path
from lmlab.registry import build_model


def _albert(overrides=()):
    return load_config(preset_path("albert/tiny"), list(overrides)).model


@pytest.mark.parametrize("share", ["all", "attention", "ffn", "none"])
def test_parameter_count_equals_the_closed_form(share):
    config = _albert([f"model.encoder.share_layers={share}"])
    V, E, H, F, P, S, L = 1000, 64, 128, 512, 512, 2, 4
    model = build_model(config, vocab_size=V)
    embedding = V * E + P * E + S * E + 2 * E + (E * H + H)
    attention = 4 * (H * H + H)
    ffn = H * F + F + F * H + H
    norms = 2 * 2 * H
    layers = {"all": attention + ffn + norms, "attention": attention + L * (ffn + norms),
              "ffn": ffn + L * (attention + norms), "none": L * (attention + ffn + norms)}[share]
    head = H * E + E + 2 * E + V  # transform, LayerNorm, decoder bias (weight tied)
    assert model.num_parameters() == embedding + layers + head


def test_albert_preset_matches_hf_albert_for_masked_lm():
    transformers = pytest.importorskip("transformers")
    config = _albert()
    hf_config = transformers.AlbertConfig(
        vocab_size=300, embedding_size=64, hidden_size=128, num_hidden_layers=4,
        num_attention_heads=2, intermediate_size=512, hidden_act="gelu_new",
        max_position_embeddings=512, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    torch.manual_seed(0)
    reference = transformers.AlbertForMaskedLM(hf_config).eval()
    with torch.no_grad():
        for parameter in reference.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.02)
    ours = build_model(config, vocab_size=300).eval()
    ours.load_state_dict(albert_to_lmlab(reference.state_dict(), 4), strict=True)
    ids = torch.randint(0, 300, (2, 20))
    segments = torch.randint(0, 2, (2, 20))
    with torch.no_grad():
        expected = reference(ids, token_type_ids=segments).logits
        got = ours.lm_head(ours(ids, None, segments).hidden)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
