"""lmlab's generation equals HF ``generate`` on the same weights and settings: random-weight
GPT-2, BART and T5 imported into lmlab; greedy, beam search (length penalty, n-gram
blocking, early stopping) and sampling (temperature, top-k, top-p; batch 1, since HF keeps
finished rows in its random draws and lmlab drops them)."""

import pytest
import torch

from lmlab.config import ModelConfig, from_dict
from lmlab.generation import GenerationOptions, SpecialIds, generate_ids
from lmlab.interop.hf import gpt2_to_lmlab, model_config_from_hf
from lmlab.interop.hf_seq2seq import seq2seq_model_config_from_hf, seq2seq_to_lmlab
from lmlab.registry import build_model

transformers = pytest.importorskip("transformers")

VOCAB = 60
GPT2_EOS = 10  # a token this random GPT-2 picks now and then: outputs stop at varied lengths


def _randomised(reference, eos: int, std: float = 0.3, eos_scale: float = 2.0):
    """Random weights; the EOS row of the tied embedding is scaled up so that sequences
    often stop early and the per-sequence stopping and beam bookkeeping are exercised."""
    torch.manual_seed(0)
    for parameter in reference.parameters():  # HF zero-initialises some; make all count
        parameter.data.normal_(0.0, std)
    reference.get_input_embeddings().weight.data[eos] *= eos_scale
    return reference.eval()


def _gpt2():
    config = transformers.GPT2Config(vocab_size=VOCAB, n_positions=64, n_embd=32, n_layer=2,
                                     n_head=2, n_inner=64, activation_function="gelu_new",
                                     bos_token_id=GPT2_EOS, eos_token_id=GPT2_EOS, pad_token_id=0)
    reference = _randomised(transformers.GPT2LMHeadModel(config), GPT2_EOS, std=0.1, eos_scale=1.0)
    ours = build_model(from_dict(ModelConfig, model_config_from_hf(config.to_dict()), "model"))
    ours.load_state_dict(gpt2_to_lmlab(reference.state_dict(), 2), strict=True)
    return reference, ours.eval(), SpecialIds((GPT2_EOS,), 0)


def _seq2seq(config, reference_class, start):
    reference = _randomised(reference_class(config), config.eos_token_id)
    hf = config.to_dict()
    ours = build_model(from_dict(ModelConfig, seq2seq_model_config_from_hf(hf), "model"))
    ours.load_state_dict(seq2seq_to_lmlab(reference.state_dict(), hf), strict=True)
    return reference, ours.eval(), SpecialIds((config.eos_token_id,), config.pad_token_id, start)


def _bart():
    config = transformers.BartConfig(
        vocab_size=VOCAB, d_model=32, encoder_layers=2, decoder_layers=2,
        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=64,
        decoder_ffn_dim=64, max_position_embeddings=64, pad_token_id=1, bos_token_id=0,
        eos_token_id=2, decoder_start_token_id=2, forced_eos_token_id=None)
    return _seq2seq(config, transformers.BartForConditionalGeneration, 2)


def _t5():
    config = transformers.T5Config(
        vocab_size=VOCAB, d_model=32, d_kv=16, d_ff=64, num_layers=2, num_decoder_layers=2,
        num_heads=2, relative_attention_num_buckets=8, relative_attention_max_distance=20,
        feed_forward_proj="relu", tie_word_embeddings=True, pad_token_id=0, eos_token_id=1,
        decoder_start_token_id=0)
    return _seq2seq(config, transformers.T5ForConditionalGeneration, 0)


MODELS = {"gpt2": _gpt2, "bart": _bart, "t5": _t5}
PROMPTS = [[5, 17, 9, 33, 21, 8], [40, 11, 7], [12, 30, 30, 4, 19, 25, 6, 50, 44]]


def _hf_generate(reference, special: SpecialIds, prompts, options: GenerationOptions):
    """HF's new tokens per prompt, cut after the first stop token."""
    decoder_only = special.decoder_start_id is None
    width = max(len(p) for p in prompts)
    pad = special.pad_id
    ids = torch.full((len(prompts), width), pad)
    mask = torch.zeros(len(prompts), width, dtype=torch.long)
    for row, prompt in enumerate(prompts):
        where = slice(width - len(prompt), width) if decoder_only else slice(0, len(prompt))
        ids[row, where], mask[row, where] = torch.tensor(prompt), 1
    torch.manual_seed(options.seed)
    output = reference.generate(
        input_ids=ids, attention_mask=mask, max_new_tokens=options.max_new_tokens,
        min_new_tokens=options.min_new_tokens, do_sample=options.do_sample,
        temperature=options.temperature, top_k=options.top_k, top_p=options.top_p,
        num_beams=options.num_beams, length_penalty=options.length_penalty,
        early_stopping=options.early_stopping, no_repeat_ngram_size=options.no_repeat_ngram_size,
        eos_token_id=list(special.stop_ids), pad_token_id=pad,
        forced_eos_token_id=options.forced_eos_id, forced_bos_token_id=options.forced_bos_id)
    new = output[:, width:] if decoder_only else output[:, 1:]
    results = []
    for row in new.tolist():
        cut = next((i + 1 for i, t in enumerate(row) if t in special.stop_ids), len(row))
        results.append(row[:cut])
    return results


CASES = {
    "greedy": GenerationOptions(max_new_tokens=12),
    "greedy_min_len_no_repeat": GenerationOptions(max_new_tokens=12, min_new_tokens=4,
                                                  no_repeat_ngram_size=2),
    "beam4": GenerationOptions(max_new_tokens=10, num_beams=4),
    "beam3_length_penalty": GenerationOptions(max_new_tokens=10, num_beams=3,
                                              length_penalty=2.0),
    "beam4_early_no_repeat": GenerationOptions(max_new_tokens=10, num_beams=4,
                                               early_stopping=True, no_repeat_ngram_size=3),
    "beam2_never": GenerationOptions(max_new_tokens=8, num_beams=2, early_stopping="never",
                                     length_penalty=0.5),
}


@pytest.mark.parametrize("family", list(MODELS))
@pytest.mark.parametrize("case", list(CASES))
def test_batched_search_equals_hf(family, case):
    reference, ours, special = MODELS[family]()
    options = CASES[case]
    expected = _hf_generate(reference, special, PROMPTS, options)
    assert generate_ids(ours, PROMPTS, options, special) == expected


SAMPLING = {
    "temperature": GenerationOptions(max_new_tokens=12, do_sample=True, temperature=0.7, seed=3),
    "top_k": GenerationOptions(max_new_tokens=12, do_sample=True, top_k=5, seed=4),
    "top_p": GenerationOptions(max_new_tokens=12, do_sample=True, top_p=0.8, temperature=1.3,
                               seed=5),
}


@pytest.mark.parametrize("family", list(MODELS))
@pytest.mark.parametrize("case", list(SAMPLING))
def test_sampling_equals_hf_at_batch_1(family, case):
    reference, ours, special = MODELS[family]()
    options = SAMPLING[case]
    for prompt in PROMPTS:
        expected = _hf_generate(reference, special, [prompt], options)
        assert generate_ids(ours, [prompt], options, special) == expected


def test_forced_first_and_last_tokens_equal_hf():
    reference, ours, special = _bart()
    options = GenerationOptions(max_new_tokens=6, forced_bos_id=0, forced_eos_id=2,
                                num_beams=2)
    got = generate_ids(ours, PROMPTS, options, special)
    assert got == _hf_generate(reference, special, PROMPTS, options)
    assert all(output[0] == 0 and output[-1] == 2 for output in got)
