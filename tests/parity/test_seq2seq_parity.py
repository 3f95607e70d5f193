"""Parity with HF transformers for the encoder–decoders: a random-weight
``BartForConditionalGeneration`` / ``T5ForConditionalGeneration`` imported into lmlab's
parts gives the same logits (to 1e-5), and the KV-cached decoder the same steps."""

import pytest
import torch

from lmlab.config import ModelConfig, from_dict
from lmlab.interop.hf_seq2seq import load_hf_seq2seq, seq2seq_model_config_from_hf, seq2seq_to_lmlab
from lmlab.registry import build_model

transformers = pytest.importorskip("transformers")


def _bart():
    return transformers.BartConfig(
        vocab_size=300, d_model=64, encoder_layers=2, decoder_layers=2,
        encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=128,
        decoder_ffn_dim=128, max_position_embeddings=64, activation_function="gelu",
        pad_token_id=1, bos_token_id=0, eos_token_id=2, decoder_start_token_id=2)


def _t5():
    return transformers.T5Config(
        vocab_size=300, d_model=64, d_kv=16, d_ff=128, num_layers=2, num_decoder_layers=2,
        num_heads=4, relative_attention_num_buckets=8, relative_attention_max_distance=20,
        feed_forward_proj="relu", tie_word_embeddings=True, pad_token_id=0,
        eos_token_id=1, decoder_start_token_id=0)


def _pair(hf_config, reference_class):
    torch.manual_seed(0)
    reference = reference_class(hf_config).eval()
    for parameter in reference.parameters():  # HF zero-initialises some; make all count
        parameter.data.normal_(0.0, 0.2)
    hf = hf_config.to_dict()
    model = build_model(from_dict(ModelConfig, seq2seq_model_config_from_hf(hf), "model"))
    model.load_state_dict(seq2seq_to_lmlab(reference.state_dict(), hf), strict=True)
    return reference, model.eval()


def _inputs():
    generator = torch.Generator().manual_seed(1)
    source = torch.randint(3, 300, (2, 13), generator=generator)
    mask = torch.ones(2, 13, dtype=torch.long)
    mask[1, 9:] = 0
    target = torch.randint(3, 300, (2, 9), generator=generator)
    return source, mask, target


CASES = {"bart": (_bart, "BartForConditionalGeneration"),
         "t5": (_t5, "T5ForConditionalGeneration")}


@pytest.mark.parametrize("family", list(CASES))
def test_forward_logits_match_hf(family):
    make_config, class_name = CASES[family]
    reference, ours = _pair(make_config(), getattr(transformers, class_name))
    source, mask, target = _inputs()
    with torch.no_grad():
        expected = reference(input_ids=source, attention_mask=mask, decoder_input_ids=target).logits
        got = ours.lm_head(ours.decode(target, ours.encode(source, mask), mask))
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("family", list(CASES))
def test_cached_steps_match_hf(family):
    make_config, class_name = CASES[family]
    reference, ours = _pair(make_config(), getattr(transformers, class_name))
    source, mask, target = _inputs()
    with torch.no_grad():
        expected = reference(input_ids=source, attention_mask=mask, decoder_input_ids=target).logits
        memory = ours.encode(source, mask)
        cache = ours.decoder.new_cache()
        steps = torch.cat([ours.lm_head(ours.decode(target[:, t:t + 1], memory, mask, cache=cache))
                           for t in range(target.shape[1])], dim=1)
    torch.testing.assert_close(steps, expected, atol=1e-5, rtol=1e-5)


def test_import_from_an_hf_folder(tmp_path):
    reference, _ = _pair(_bart(), transformers.BartForConditionalGeneration)
    reference.save_pretrained(tmp_path)
    config, model = load_hf_seq2seq(tmp_path)
    assert config.decoder.embedding == "shared_tokens" and config.encoder.norm == "post"
    source, mask, target = _inputs()
    with torch.no_grad():
        expected = reference(input_ids=source, attention_mask=mask, decoder_input_ids=target).logits
        got = model.lm_head(model.decode(target, model.encode(source, mask), mask))
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
