"""Parity with HF transformers: the same weights give the same logits (to 1e-5)."""

import pytest
import torch

from lmlab.config import from_dict, ModelConfig
from lmlab.interop.hf import bert_to_lmlab, gpt2_to_lmlab, model_config_from_hf
from lmlab.presets import preset_path
from lmlab.config import load_config
from lmlab.registry import build_model

transformers = pytest.importorskip("transformers")


def _lmlab_model_from_hf(hf_config, state, convert):
    model_config = from_dict(ModelConfig, model_config_from_hf(hf_config.to_dict()), "model")
    model = build_model(model_config)
    model.load_state_dict(convert(state, hf_config.to_dict().get("n_layer") or
                                  hf_config.num_hidden_layers), strict=True)
    return model.eval()


def test_gpt_preset_matches_gpt2_lm_head_model():
    preset = load_config(preset_path("gpt/tiny")).model
    hf_config = transformers.GPT2Config(
        vocab_size=500, n_positions=preset.embedding.max_positions,
        n_embd=preset.embedding.hidden_size, n_layer=preset.encoder.num_layers,
        n_head=preset.encoder.num_heads, n_inner=preset.encoder.ffn_size,
        activation_function="gelu_new", layer_norm_epsilon=preset.encoder.layer_norm_eps)
    torch.manual_seed(0)
    reference = transformers.GPT2LMHeadModel(hf_config).eval()
    ours = _lmlab_model_from_hf(hf_config, reference.state_dict(), gpt2_to_lmlab)
    # The preset's structure is what we built from the HF config:
    assert ours.encoder.config.norm == preset.encoder.norm == "pre"
    ids = torch.randint(0, 500, (3, 40))
    with torch.no_grad():
        expected = reference(ids).logits
        got = ours.logits(ids)[0]
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    # Same causal LM loss on the same batch.
    labels = ids.clone()
    with torch.no_grad():
        hf_loss = reference(ids, labels=labels).loss
    our_loss = torch.nn.functional.cross_entropy(got[:, :-1].flatten(0, 1), ids[:, 1:].flatten())
    assert abs(hf_loss.item() - our_loss.item()) < 1e-5


def test_bert_preset_matches_bert_for_masked_lm():
    preset = load_config(preset_path("bert/tiny")).model
    hf_config = transformers.BertConfig(
        vocab_size=500, hidden_size=preset.embedding.hidden_size,
        num_hidden_layers=preset.encoder.num_layers, num_attention_heads=preset.encoder.num_heads,
        intermediate_size=preset.encoder.ffn_size, max_position_embeddings=512,
        layer_norm_eps=preset.encoder.layer_norm_eps)
    torch.manual_seed(0)
    reference = transformers.BertForMaskedLM(hf_config).eval()
    # Random (non-zero) biases and norms so the mapping of every tensor is exercised.
    with torch.no_grad():
        for parameter in reference.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.02)
    ours = _lmlab_model_from_hf(hf_config, reference.state_dict(), bert_to_lmlab)
    assert ours.encoder.config.norm == preset.encoder.norm == "post"
    ids = torch.randint(0, 500, (3, 40))
    segments = torch.randint(0, 2, (3, 40))
    mask = torch.ones(3, 40, dtype=torch.long)
    mask[1, 30:] = 0  # padding in one row
    with torch.no_grad():
        expected = reference(ids, attention_mask=mask, token_type_ids=segments).logits
        got = ours.lm_head(ours(ids, mask, segments).hidden)
    keep = mask.bool()
    torch.testing.assert_close(got[keep], expected[keep], atol=1e-5, rtol=1e-5)
